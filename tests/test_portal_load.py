"""The portal under load and faults (issue 9): many pushes and pulls at once, a server killed in the
middle of uploads, tokens that must not work, object keys that must not be paths. The figures
(requests/s, latency, memory, recovery time) come from bench/portal_load_bench.py; these tests check
behaviour only and assert nothing about time, so a slow, shared machine only makes them slower.

What tests/test_portal.py and tests/test_portal_faults.py already cover is not repeated here: no
token or a wrong one (401), another user's draft before and after a read grant, read-only records,
one SIGKILL during one 64 MiB upload, two pushes at once.
"""
from __future__ import annotations

import hashlib
import http.client
import secrets
import socket
import sqlite3
import subprocess
import time
from urllib.parse import quote, urlsplit

import pytest
from portal_load import (blobs_on_disk, pull_all, push_all, push_and_kill, restart, same_bag, served_objects,
                         server_peak_rss_mb, settings, small_deposits)
from portal_support import RECAST_ARCHIVE, make_bag, portal, run_archive_process, start_portal, stop_portal  # noqa: F401

from archive.portal import transfer
from archive.portal.config import PortalError
from archive.portal.storage import Storage

ALICE, BOB = "alice@example.org", "bob@example.org"


@pytest.fixture(scope="module")
def server(portal):
    """The suite's one portal (tests/portal_support.py)."""
    return portal


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """push remembers its drafts in the user's cache: a fresh one for each test, and no user config."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("RECAST_ARCHIVE_CONFIG", str(tmp_path / "no-config.ini"))


def database_blobs(data) -> set[str]:
    with sqlite3.connect(data / "portal.sqlite3") as db:
        return {blob for (blob,) in db.execute("SELECT DISTINCT blob FROM objects")}


def bucket_of(object_url: str) -> str:
    head, _, rest = object_url.partition("/api/files/")
    return f"{head}/api/files/{rest.split('/', 1)[0]}"


# -- load ------------------------------------------------------------------------------------------

def test_20_concurrent_pushes_and_50_concurrent_pulls_all_arrive_intact(server, tmp_path):
    bags = small_deposits(tmp_path / "bags", 20)
    pushed = push_all(settings(server), bags)
    failures = [str(r) for r in pushed if isinstance(r, Exception)]
    assert failures == []
    assert len({r.recid for r in pushed}) == 20 and all(r.recid and r.skipped == 0 for r in pushed)
    for root, result in zip(bags, pushed):  # what the portal holds is what the bag's manifest says
        record = server.api("GET", f"records/{result.recid}").json()
        manifest = dict(line.split()[::-1] for line in (root / "manifest-sha256.txt").read_text().splitlines())
        held = {f["key"]: f for f in record["files"]}
        assert set(held) == {k for k in manifest if (root / k).stat().st_size} | {
            p.name for p in root.iterdir() if p.is_file()}
        for key, sha in manifest.items():
            if key in held:
                assert held[key]["tags"]["sha256"] == sha
                assert held[key]["checksum"] == f"md5:{hashlib.md5((root / key).read_bytes()).hexdigest()}"

    idents = [pushed[n % 20].recid if n % 2 else pushed[n % 20].pid for n in range(50)]  # records and drafts
    pulled = pull_all(settings(server), idents, tmp_path / "pulled")
    assert [str(p) for p in pulled if isinstance(p, Exception)] == []
    for n, out in enumerate(pulled):
        assert same_bag(out, bags[n % 20]), out
    assert server.leftovers() == []


# -- a crash in the middle of uploads ----------------------------------------------------------------

def test_a_server_killed_during_many_uploads_keeps_what_it_committed_and_pushes_resume(tmp_path):
    portal = start_portal(tmp_path / "data", tmp_path / "faults.txt")
    try:
        before = small_deposits(tmp_path / "published", 2)
        published = push_all(settings(portal), before)
        bags = small_deposits(tmp_path / "bags", 10, big=4 << 20)
        results, first = push_and_kill(portal, bags)
        interrupted = [r for r in results if isinstance(r, PortalError)]
        assert interrupted and all("connection failed" in str(r) for r in interrupted), results
        (portal.data / "objects" / "00").mkdir(exist_ok=True)  # what a kill between rename and insert leaves
        (portal.data / "objects" / "00" / "00f1e2d3c4b5a697887766554433221").write_bytes(b"orphan")
        assert portal.leftovers()  # uploads the kill cut short

        portal, _ = restart(portal)
        assert portal.leftovers() == []
        assert blobs_on_disk(portal.data) == database_blobs(portal.data)  # no orphan, nothing missing
        objects = served_objects(portal)  # each one downloaded and checked against its listing
        served = {f"{bucket}/{quote(key)}": checksum for bucket, key, _, checksum in objects}
        assert first.committed and {url: served.get(url) for url, _ in first.committed} == dict(first.committed)
        for result, root in zip(published, before):
            (out,) = pull_all(settings(portal), [result.recid], tmp_path / f"again-{root.name}")
            assert same_bag(out, root)

        resumed = push_all(settings(portal), bags)
        assert [str(r) for r in resumed if isinstance(r, Exception)] == []
        held = {}  # bucket -> how many files it held after the restart (some committed just as the kill came)
        for bucket, *_ in objects:
            held[bucket] = held.get(bucket, 0) + 1
        continued = set()
        for result in resumed:
            bucket = portal.api("GET", f"deposits/{result.pid}").json()["links"]["bucket"]
            assert result.skipped == held.get(bucket, 0)  # nothing the portal holds is sent twice
            continued.add(bucket)
        assert {bucket_of(url) for url, _ in first.committed} <= continued  # drafts with files were continued
        pulled = pull_all(settings(portal), [r.recid for r in resumed], tmp_path / "pulled")
        assert all(same_bag(out, root) for out, root in zip(pulled, bags))
    finally:
        stop_portal(portal)


# -- tokens ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def alices_draft(server, tmp_path_factory):
    root = make_bag(tmp_path_factory.mktemp("alice") / "analysis", {"a.txt": b"alice's\n", "b/c.txt": b"c\n"})
    result = transfer.push(settings(server), root)
    return server.api("GET", f"deposits/{result.pid}").json()


def refused_everywhere(server, draft, headers: dict) -> set[int]:
    bucket = draft["links"]["bucket"]
    answers = [
        server.api("GET", "deposits/", user=None, headers=dict(headers)),
        server.api("POST", "deposits/", user=None, headers=dict(headers), json={"$ana_type": "recast-archive"}),
        server.api("GET", f"deposits/{draft['id']}", user=None, headers=dict(headers)),
        server.api("GET", bucket, user=None, headers=dict(headers)),
        server.api("GET", f"{bucket}/data/a.txt", user=None, headers=dict(headers)),
        server.api("PUT", f"{bucket}/data/forged.txt", user=None, headers=dict(headers), data=b"x"),
        server.api("DELETE", f"{bucket}/data/a.txt", user=None, headers=dict(headers)),
    ]
    return {a.status_code for a in answers}


def test_forged_tokens_are_refused(server, alices_draft, tmp_path):
    real = server.token(ALICE)
    other_server = subprocess.run([RECAST_ARCHIVE, "serve", "--data", tmp_path / "elsewhere", "token", ALICE],
                                  capture_output=True, text=True, check=True).stdout.strip()
    stored_hash = hashlib.sha256(real.encode()).hexdigest()  # what a stolen copy of the database holds
    forged = [secrets.token_urlsafe(32), real[:-1], real[: len(real) // 2], real + "A", real.upper(),
              other_server, stored_hash, "", " " * 3, "x" * 20000]
    blobs = blobs_on_disk(server.data)
    for token in forged:
        assert refused_everywhere(server, alices_draft, {"Authorization": f"Bearer {token}"}) == {401}, token[:40]
    assert refused_everywhere(server, alices_draft, {"Authorization": f"Token {real}"}) == {401}  # not a scheme CAP uses
    assert blobs_on_disk(server.data) == blobs
    assert [f["key"] for f in server.api("GET", alices_draft["links"]["bucket"]).json()["contents"]] == \
        [f["key"] for f in alices_draft["files"]]


def test_expired_tokens_are_refused_with_a_message_that_says_so(server, alices_draft, tmp_path):
    def issue(*args):
        done = subprocess.run([RECAST_ARCHIVE, "serve", "--data", server.data, "token", ALICE, *args],
                              capture_output=True, text=True, check=True)
        return done.stdout.strip(), done.stderr

    lasting, note = issue("--expires-in", "3600")
    assert note.startswith("expires ") and note.strip().endswith(" UTC") and "\n" not in lasting
    short, _ = issue("--expires-in", "1")
    time.sleep(1.5)
    ok = server.api("GET", f"deposits/{alices_draft['id']}", user=None, headers={"Authorization": f"Bearer {lasting}"})
    assert ok.status_code == 200
    assert refused_everywhere(server, alices_draft, {"Authorization": f"Bearer {short}"}) == {401}
    expired = server.api("GET", "me", user=None, params={"access_token": short})
    assert expired.json() == {"status": 401, "message": "The token has expired: ask for a new one."}

    root = make_bag(tmp_path / "analysis", {"x.txt": b"x\n"})
    push = run_archive_process("push", root, "--portal", server.url, "--token", short, "--quiet")
    assert push.returncode == 2 and push.stderr.strip().endswith(
        "HTTP 401: The token has expired: ask for a new one. (is the token right?)")
    bad = run_archive_process("serve", "--data", server.data, "token", ALICE, "--expires-in", "0")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_tokens_issued_before_expiry_existed_keep_working(tmp_path):
    """A data folder from before `--expires-in`: its tokens table gains the column, its tokens never expire."""
    (tmp_path / "objects").mkdir()
    with sqlite3.connect(tmp_path / "portal.sqlite3") as db:
        db.execute("CREATE TABLE tokens (hash TEXT PRIMARY KEY, email TEXT NOT NULL, created TEXT NOT NULL)")
        db.execute("INSERT INTO tokens VALUES (?, ?, 'then')", (hashlib.sha256(b"old-token").hexdigest(), ALICE))
    storage = Storage(tmp_path)
    try:
        assert storage.user_for_token("old-token") == (ALICE, False)
        token, expires = storage.issue_token(BOB, 60)
        assert storage.user_for_token(token) == (BOB, False) and expires > time.time()
    finally:
        storage.close()


def test_another_users_token_changes_nothing_of_alices(server, alices_draft):
    pid, bucket = alices_draft["id"], alices_draft["links"]["bucket"]
    listing = server.api("GET", bucket).json()["contents"]
    metadata = server.api("GET", f"deposits/{pid}").json()["metadata"]
    patch = [{"op": "replace", "path": "/basic_info/analysis_title", "value": "bob's"}]
    patch_headers = {"Content-Type": "application/json-patch+json"}
    steal = [{"email": BOB, "type": "user", "op": "add", "action": "deposit-admin"}]

    def bob_tries() -> list[int]:
        return [
            server.api("PUT", f"deposits/{pid}", user=BOB, json={"basic_info": {"analysis_title": "bob's"}}).status_code,
            server.api("PATCH", f"deposits/{pid}", user=BOB, json=patch, headers=dict(patch_headers)).status_code,
            server.api("POST", f"deposits/{pid}/actions/permissions", user=BOB, json=steal).status_code,
            server.api("POST", f"deposits/{pid}/actions/publish", user=BOB).status_code,
            server.api("DELETE", f"deposits/{pid}", user=BOB).status_code,
            server.api("DELETE", f"{bucket}/data/a.txt", user=BOB).status_code,
            server.api("PUT", f"{bucket}/data/a.txt", user=BOB, data=b"bob was here").status_code,
        ]

    assert bob_tries() == [403, 403, 403, 403, 403, 404, 404]  # the bucket is not even shown to him
    assert server.api("GET", bucket, user=BOB).status_code == 404
    grant = [{"email": BOB, "type": "user", "op": "add", "action": "deposit-read"}]
    assert server.api("POST", f"deposits/{pid}/actions/permissions", json=grant).status_code == 201
    try:
        assert bob_tries() == [403, 403, 403, 403, 403, 403, 403]  # reading is all he may do
        assert server.api("GET", bucket, user=BOB).status_code == 200
    finally:
        grant[0]["op"] = "remove"
        server.api("POST", f"deposits/{pid}/actions/permissions", json=grant)
    assert server.api("GET", bucket).json()["contents"] == listing
    assert server.api("GET", f"deposits/{pid}").json()["metadata"] == metadata


# -- object keys that would be paths ------------------------------------------------------------------

UNSAFE_KEYS = [  # as they appear in the request line: some percent-encoded, some raw
    "../x", "%2e%2e/x", "..%2fx", "data/../../x", "data/%2E%2E/%2E%2E/x", "..", "./x", "data/./x",
    "/etc/passwd", "%2fetc%2fpasswd", "//x", "data//x", "data/", "a\\b", "a%5cb", "..%5c..%5cx", "C:%5cx",
    "a%00b", "%00", "a%0ab", "a%0d%0ab", "a%7fb", "k" * 256, "data/" + "%2e" * 300, "k" * 100000,
]


def raw_request(url: str, method: str, path: str, token: str, body: bytes | None = None):
    """A request whose path goes out exactly as written (requests would normalise `..` away)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.request(method, path, body=body, headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def outside(data) -> dict:
    """Every file beside and above the data folder (the test's own folders), with its size."""
    base = data.parent
    return {p: p.stat().st_size for p in base.rglob("*") if p.is_file() and data not in p.parents and p.name != "serve.log"}


@pytest.mark.parametrize("method", ["PUT", "GET", "DELETE"])
def test_object_keys_that_are_not_plain_relative_paths_are_refused(server, alices_draft, method):
    bucket_path = urlsplit(alices_draft["links"]["bucket"]).path
    token = server.token(ALICE)
    listing = server.api("GET", alices_draft["links"]["bucket"]).json()["contents"]
    around, blobs = outside(server.data), blobs_on_disk(server.data)
    for key in UNSAFE_KEYS:
        status, body = raw_request(server.url, method, f"{bucket_path}/{key}", token, b"evil" if method == "PUT" else None)
        assert status == 400, (key[:60], status, body[:200])
    assert server.api("GET", alices_draft["links"]["bucket"]).json()["contents"] == listing
    assert blobs_on_disk(server.data) == blobs and outside(server.data) == around
    assert server.leftovers() == []
    # and a name that merely looks odd is still a name
    status, _ = raw_request(server.url, "PUT", f"{bucket_path}/data/a%20b/c..d.txt", token, b"fine")
    assert status == 200
    assert raw_request(server.url, "DELETE", f"{bucket_path}/data/a%20b/c..d.txt", token)[0] == 204


# -- an upload that outlives its bucket's draft ----------------------------------------------------

def slow_upload(server, bucket_url: str, key: str, size: int = 4):
    """Start an upload of `size` bytes, send 2 ("ab"), and wait until the server is receiving it."""
    parts = urlsplit(bucket_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    connection.putrequest("PUT", f"{parts.path}/{key}")
    connection.putheader("Authorization", f"Bearer {server.token(ALICE)}")
    connection.putheader("Content-Length", str(size))
    connection.endheaders(b"ab")
    deadline = time.monotonic() + 60
    while not server.leftovers():  # its part file: the server has checked the bucket and is writing
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return connection


@pytest.mark.parametrize("action", ["publish", "delete"])
def test_an_upload_finishing_after_publish_or_delete_is_refused(server, action):
    draft = server.api("POST", "deposits/", json={"$ana_type": "recast-archive"}).json()
    bucket = draft["links"]["bucket"]
    assert server.api("PUT", f"{bucket}/first.txt", data=b"1").status_code == 200
    blobs = blobs_on_disk(server.data)
    connection = slow_upload(server, bucket, "late.txt")
    try:
        if action == "publish":
            recid = server.api("POST", f"deposits/{draft['id']}/actions/publish").json()["recid"]
        else:
            assert server.api("DELETE", f"deposits/{draft['id']}").status_code == 204
        connection.send(b"cd")
        response = connection.getresponse()
        assert response.status == (403 if action == "publish" else 404), response.read()
    finally:
        connection.close()
    assert server.leftovers() == []
    with sqlite3.connect(server.data / "portal.sqlite3") as db:
        keys = [key for (key,) in db.execute("SELECT key FROM objects WHERE bucket = ?", (bucket.rsplit("/", 1)[1],))]
    if action == "publish":  # the draft's bucket is exactly what the record snapshotted
        assert keys == ["first.txt"]
        assert [o["key"] for o in server.api("GET", f"records/{recid}").json()["files"]] == ["first.txt"]
    else:  # nothing is left of the deleted draft
        assert keys == []
    assert blobs_on_disk(server.data) <= blobs  # the late file's blob is not kept either


# -- requests too large to hold --------------------------------------------------------------------

def test_a_huge_json_body_is_refused_before_it_is_read(server):
    peak = server_peak_rss_mb(server)
    body = b"[" + b"1," * (32 << 20) + b"1]"  # 64 MiB: the server would hold it several times over, parsing it
    sized = server.api("POST", "deposits/", data=body, headers={"Content-Type": "application/json"})
    assert sized.status_code == 413 and sized.json()["message"] == "The request body is larger than 16 MiB."
    chunked = server.api("POST", "deposits/", data=iter([body[i:i + (1 << 20)] for i in range(0, len(body), 1 << 20)]),
                         headers={"Content-Type": "application/json"})
    assert chunked.status_code == 413
    assert server_peak_rss_mb(server) - peak < 48  # at most the 16 MiB it read, not the 64 it was sent
    assert server.api("GET", "me").status_code == 200


@pytest.mark.parametrize("shape", ["many headers", "one endless header"])
def test_a_huge_request_head_is_refused_before_it_is_held(server, shape):
    peak = server_peak_rss_mb(server)
    parts = urlsplit(server.url)
    connection = socket.create_connection((parts.hostname, parts.port), timeout=60)
    answer = b""
    try:
        connection.sendall(f"GET /api/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {server.token(ALICE)}\r\n".encode())
        line = b"X-Padding: " + b"a" * (1 << 20) + b"\r\n" if shape == "many headers" else b"a" * (1 << 20)
        for _ in range(64):  # 64 MiB
            connection.sendall(line)
        connection.sendall(b"\r\n\r\n")
        answer = connection.recv(1000)
    except OSError:  # refused and closed while we were still sending: what should happen
        pass
    finally:
        connection.close()
    assert answer == b"" or answer.startswith(b"HTTP/1.1 400 "), answer
    assert server_peak_rss_mb(server) - peak < 32  # not the 64 MiB it was sent
    assert server.api("GET", "me").status_code == 200


# -- clients that stop in the middle of a request --------------------------------------------------

def closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(60)  # far longer than the idle timeout: waiting, not timing
    try:
        return sock.recv(100) == b""
    except ConnectionResetError:
        return True


def test_a_client_that_stalls_mid_request_is_disconnected_and_its_half_upload_removed(tmp_path):
    portal = start_portal(tmp_path / "data", tmp_path / "faults.txt", options=("--idle-timeout", "2"))
    try:
        bucket = portal.api("POST", "deposits/", json={"$ana_type": "recast-archive"}).json()["links"]["bucket"]
        stalled = slow_upload(portal, bucket, "stalled.bin")  # 2 of its 4 bytes, then nothing
        assert closed_by_server(stalled.sock)
        deadline = time.monotonic() + 60
        while portal.leftovers():  # the upload learns of the disconnect, and removes its part file
            assert time.monotonic() < deadline, portal.leftovers()
            time.sleep(0.05)
        assert portal.api("GET", bucket).json()["contents"] == []

        parts = urlsplit(portal.url)
        head_only = socket.create_connection((parts.hostname, parts.port))
        head_only.sendall(b"GET /api/me HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        assert closed_by_server(head_only)

        steady = slow_upload(portal, bucket, "steady.bin", 17)  # slow but never idle for long: it completes
        for _ in range(15):  # 3 s in all, longer than the idle timeout
            time.sleep(0.2)
            steady.send(b"x")
        assert steady.getresponse().status == 200
        assert portal.api("GET", f"{bucket}/steady.bin").content == b"ab" + b"x" * 15
    finally:
        stop_portal(portal)
