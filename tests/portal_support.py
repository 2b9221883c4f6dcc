"""What the portal tests share: a real `recast-archive serve` on a free loopback port (a subprocess,
started once per session, stopped at the end), users with tokens, switchable faults, bags made with
the project's own BagIt writer, and ways to run push and pull."""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from archive import bag
from archive.cli import main as archive_main

ROOT = Path(__file__).resolve().parents[1]
RECAST_ARCHIVE = Path(sys.executable).parent / "recast-archive"


@dataclass
class Portal:
    url: str
    data: Path
    faults_file: Path
    process: subprocess.Popen
    tokens: dict[str, str] = field(default_factory=dict)

    def faults(self, spec: str) -> None:
        # the serial makes each call a change, so the counters start again even for the same spec
        self.faults_file.write_text(f"{spec} # {time.monotonic_ns()}")

    def token(self, email: str) -> str:
        if email not in self.tokens:
            out = subprocess.run([RECAST_ARCHIVE, "serve", "--data", self.data, "token", email],
                                 capture_output=True, text=True, check=True).stdout
            self.tokens[email] = out.strip()
        return self.tokens[email]

    def api(self, method: str, path: str, user: str | None = "alice@example.org", **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if user:
            headers.setdefault("Authorization", f"Bearer {self.token(user)}")
        url = path if path.startswith("http") else f"{self.url}/api/{path}"
        return requests.request(method, url, headers=headers, timeout=30, **kwargs)

    def leftovers(self) -> list[Path]:
        """Half-received uploads the server failed to clean up."""
        return list((self.data / "tmp").iterdir())


def start_portal(data: Path, faults_file: Path, port: int = 0, options: tuple = ()) -> Portal:
    faults_file.write_text("")
    env = {**os.environ, "RECAST_PORTAL_FAULTS": f"@{faults_file}"}
    process = subprocess.Popen([RECAST_ARCHIVE, "serve", "--data", data, "--port", str(port), *options], stdout=subprocess.PIPE,
                               stderr=open(data.parent / "serve.log", "w"), text=True, env=env)
    first = process.stdout.readline()
    if not first.startswith("recast-archive portal at "):
        process.kill()
        raise RuntimeError(f"recast-archive serve did not start: {first!r}; see {data.parent / 'serve.log'}")
    url = first.split()[3]
    for _ in range(100):  # the line is printed just before uvicorn starts accepting
        try:
            requests.get(f"{url}/api/me", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.05)
    return Portal(url, data, faults_file, process)


def stop_portal(portal: Portal) -> None:
    portal.process.send_signal(signal.SIGTERM)
    try:
        portal.process.wait(10)
    except subprocess.TimeoutExpired:
        portal.process.kill()
        portal.process.wait()


@pytest.fixture(scope="session")
def portal(tmp_path_factory):
    base = tmp_path_factory.mktemp("portal")
    server = start_portal(base / "data", base / "faults.txt")
    yield server
    stop_portal(server)


@pytest.fixture
def client_env(portal, tmp_path, monkeypatch):
    """The environment push and pull read: alice's token, tiny backoff, a private cache and no user config."""
    env = {
        "RECAST_PORTAL_URL": portal.url,
        "RECAST_PORTAL_TOKEN": portal.token("alice@example.org"),
        "RECAST_PORTAL_BACKOFF": "0.01",
        "RECAST_PORTAL_RETRIES": "3",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "RECAST_ARCHIVE_CONFIG": str(tmp_path / "no-config.ini"),
    }
    for key in ("RECAST_PORTAL_TOKEN_FILE",):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    yield env
    portal.faults("")


def run_archive(*args, env: dict | None = None) -> tuple[int, str, str]:
    """recast-archive in this process (fast); exceptions other than exit are test failures."""
    result = CliRunner().invoke(archive_main, [str(a) for a in args], env=env)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def run_archive_process(*args, env: dict | None = None) -> subprocess.CompletedProcess:
    """recast-archive as a user runs it: a separate process (to see exactly what it prints)."""
    return subprocess.run([RECAST_ARCHIVE, *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def make_bag(root: Path, files: dict[str, bytes]) -> Path:
    """A BagIt 1.0 bag of `files` ({"a/b.txt": bytes} under data/), written by the project's bag module."""
    payload = {}
    for name, content in files.items():
        path = root / "data" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        payload[f"data/{name}"] = (len(content), hashlib.sha256(content).hexdigest())
    bag.write_tag_files(root, payload, "recast-archive tests")
    assert bag.check(root)[0] == []
    return root


SAMPLE = {
    "specs/workflow.yml": b"stages: []\n",
    "inputs/numbers.txt": b"".join(b"%d\n" % i for i in range(1000)),
    "inputs/empty.txt": b"",
    "images/blobs/sha256/big": os.urandom(3 << 20),
    "odd name with spaces & #hash.txt": b"odd\n",
    "deep/a/b/c/d.json": b'{"x": 1}\n',
}


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def ids(stdout: str) -> dict[str, str]:
    """{'deposit': PID, 'record': RECID} from push's output."""
    return dict(line.split(" ", 1) for line in stdout.splitlines() if line.startswith(("deposit ", "record ")))
