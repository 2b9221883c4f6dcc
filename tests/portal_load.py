"""The portal under load and after a crash, shared by tests/test_portal_load.py (which checks every
byte) and bench/portal_load_bench.py (which also reports the figures in docs/hardening.md).

Clients are threads of this process calling the real `transfer.push` / `transfer.pull` (one
process per client would spend the two shared cores starting interpreters); the server is a real
`recast-archive serve` subprocess (tests/portal_support.py). `Requests` records every HTTP request
the clients send, with its latency to the response's headers.
"""
from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests
from portal_support import Portal, make_bag, start_portal, tree

from archive import bag
from archive.portal import transfer
from archive.portal.config import PortalError, Settings


def settings(portal: Portal, user: str = "alice@example.org", retries: int = 5, backoff: float = 0.2,
             jobs: int = 2) -> Settings:
    return Settings(portal.url, portal.token(user), retries, backoff, progress=False, jobs=jobs)


def small_deposits(folder: Path, count: int, big: int = 64 << 10) -> list[Path]:
    """`count` different bags: a few small files, one of `big` random bytes, one empty."""
    bags = []
    for i in range(count):
        files = {
            "specs/workflow.yml": f"stages: []  # deposit {i}\n".encode(),
            "inputs/numbers.txt": b"".join(b"%d\n" % (i * 1000 + n) for n in range(500)),
            "inputs/empty.txt": b"",
            f"outputs/result-{i}.bin": os.urandom(big),
            "images/blobs/sha256/layer": os.urandom(big // 4 + i),
        }
        bags.append(make_bag(folder / f"deposit-{i:02d}", files))
    return bags


@dataclass
class Requests:
    """While recording, every request this process sends: `seen` has (method, kind, status, seconds
    to the response's headers), `committed` the (url, md5 checksum) of every upload the portal
    answered 200, i.e. promised to keep."""
    seen: list = field(default_factory=list)
    committed: list = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> "Requests":
        original = self._original = requests.Session.send

        def send(session, request, **kwargs):
            started = time.monotonic()
            try:
                response = original(session, request, **kwargs)
            except Exception:
                self._add(request, None, time.monotonic() - started)
                raise
            self._add(request, response, time.monotonic() - started)
            return response

        requests.Session.send = send
        return self

    def __exit__(self, *exc) -> None:
        requests.Session.send = self._original

    def _add(self, request, response, seconds: float) -> None:
        kind = "object" if "/" in request.url.partition("/api/files/")[2] else "api"
        status = response.status_code if response is not None else "broken"
        with self._lock:
            self.seen.append((request.method, kind, status, seconds))
            if kind == "object" and request.method == "PUT" and status == 200:
                self.committed.append((request.url, response.headers["ETag"].strip('"')))


def push_all(config: Settings, bags: list[Path], publish: bool = True) -> list:
    """Push every bag at once, one thread each; each result is a PushResult or the PortalError."""
    def one(root: Path):
        try:
            return transfer.push(config, root, publish=publish)
        except PortalError as exc:
            return exc

    with ThreadPoolExecutor(len(bags)) as pool:
        return list(pool.map(one, bags))


def pull_all(config: Settings, idents: list[str], folder: Path) -> list:
    """Pull every ident at once into folder/pull-NN; each result is the folder or the PortalError."""
    def one(numbered):
        n, ident = numbered
        out = folder / f"pull-{n:02d}"
        try:
            transfer.pull(config, ident, out)
            return out
        except PortalError as exc:
            return exc

    with ThreadPoolExecutor(len(idents)) as pool:
        return list(pool.map(one, enumerate(idents)))


def same_bag(pulled: Path, original: Path) -> bool:
    """Byte for byte the same files, and a bag that checks against its own manifests."""
    return tree(pulled) == tree(original) and bag.check(pulled)[0] == []


def uploads_in_flight(data: Path, at_least: int) -> bool:
    """Whether `at_least` uploads are streaming into the server's tmp/ right now."""
    busy = 0
    for part in (data / "tmp").glob("*.part"):
        try:
            busy += part.stat().st_size > 0
        except FileNotFoundError:  # renamed into place meanwhile
            pass
    return busy >= at_least


def push_and_kill(portal: Portal, bags: list[Path], at_least: int = 2, timeout: float = 120) -> tuple[list, Requests]:
    """Push `bags` at once as drafts, without retries, and SIGKILL the server once `at_least`
    uploads are half-received; the pushes' results and what they sent."""
    with Requests() as sent:
        results: list = []
        pushing = threading.Thread(target=lambda: results.extend(
            push_all(settings(portal, retries=0), bags, publish=False)))
        pushing.start()
        deadline = time.monotonic() + timeout
        while not uploads_in_flight(portal.data, at_least):
            if time.monotonic() > deadline or not pushing.is_alive():
                raise AssertionError("the uploads never overlapped: nothing to interrupt")
            time.sleep(0.002)
        portal.process.send_signal(signal.SIGKILL)
        portal.process.wait()
        pushing.join(300)
    if pushing.is_alive():
        raise AssertionError("the pushes did not stop after the server died")
    return results, sent


def restart(portal: Portal) -> tuple[Portal, float]:
    """The server again, on the same data folder and port; and the seconds from starting it to its
    first answer (start-up, crash clean-up, first request)."""
    started = time.monotonic()
    port = int(portal.url.rsplit(":", 1)[1])
    again = start_portal(portal.data, portal.faults_file, port)
    again.tokens = portal.tokens
    requests.get(f"{again.url}/api/me", timeout=30)
    return again, time.monotonic() - started


def served_objects(portal: Portal) -> list[tuple[str, str, int, str]]:
    """Every object of every bucket (drafts and records), as (bucket, key, size, checksum), from
    the portal's own listings, after downloading each and checking size and md5 against them."""
    found = []
    drafts = portal.api("GET", "deposits/?by_me=True&size=10000").json()["hits"]["hits"]
    records = portal.api("GET", "records/?by_me=True&size=10000").json()["hits"]["hits"]
    for item in drafts + records:
        bucket = item["links"]["bucket"]
        for obj in portal.api("GET", bucket).json()["contents"]:
            body = portal.api("GET", f"{bucket}/{requests.utils.quote(obj['key'])}").content
            assert len(body) == obj["size"] and f"md5:{hashlib.md5(body).hexdigest()}" == obj["checksum"], obj
            found.append((bucket, obj["key"], obj["size"], obj["checksum"]))
    return found


def blobs_on_disk(data: Path) -> set[str]:
    return {p.name for p in (data / "objects").glob("*/*")}


def server_peak_rss_mb(portal: Portal) -> float:
    """The server's peak resident memory so far (VmHWM)."""
    for line in Path(f"/proc/{portal.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")
