"""Faults injected by the real server (RECAST_PORTAL_FAULTS, see archive/portal/faults.py): push and
pull either succeed after retrying/resuming or stop with one clear line, and neither side is left
with a corrupt or half-written file."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import pytest
from portal_support import (RECAST_ARCHIVE, SAMPLE, client_env, ids, make_bag, portal, run_archive,  # noqa: F401
                            start_portal, stop_portal, tree)

from archive import bag


@pytest.fixture
def sample(tmp_path):
    return make_bag(tmp_path / "analysis", SAMPLE)


def draft_keys(portal, pid: str) -> dict[str, str]:
    return {f["filename"]: f["checksum"] for f in portal.api("GET", f"deposits/{pid}/files").json()}


def assert_round_trip(sample, pushed_out, tmp_path, name="back"):
    code, _, err = run_archive("pull", ids(pushed_out)["deposit"], "-o", tmp_path / name)
    assert code == 0, err
    assert tree(tmp_path / name) == tree(sample)


@pytest.mark.parametrize("spec", ["upload-500:2", "upload-429:3", "upload-500:1,upload-429:1@1,api-500:1", "upload-drop:2"])
def test_push_retries_through_transient_failures(portal, client_env, sample, tmp_path, spec):
    portal.faults(spec)
    code, out, err = run_archive("push", sample)
    assert code == 0, err
    assert portal.leftovers() == []  # a dropped upload leaves no part file on the server
    assert_round_trip(sample, out, tmp_path)


def test_push_gives_up_with_one_line_when_the_connection_keeps_dropping(portal, client_env, sample, monkeypatch):
    monkeypatch.setenv("RECAST_PORTAL_RETRIES", "2")
    monkeypatch.setenv("RECAST_PORTAL_JOBS", "1")  # here and below: one file at a time, so which one fails is known
    portal.faults("upload-drop:3@1")  # the 2nd file never gets through
    code, out, err = run_archive("push", sample)
    assert code == 2
    (line,) = err.strip().splitlines()
    assert "uploading data/deep/a/b/c/d.json to deposit" in line and "connection failed" in line and line.endswith("(gave up after 3 attempts)")
    assert portal.leftovers() == []
    pid = line.split("to deposit ")[1].split(":")[0]
    assert list(draft_keys(portal, pid)) == ["data/odd name with spaces & #hash.txt"]  # nothing half-stored


def test_a_wrong_checksum_is_uploaded_again_then_refused(portal, client_env, sample, tmp_path, monkeypatch):
    monkeypatch.setenv("RECAST_PORTAL_JOBS", "1")
    portal.faults("upload-bad-checksum:1@4")
    code, out, err = run_archive("push", sample)
    assert code == 0, err
    assert_round_trip(sample, out, tmp_path)

    monkeypatch.setenv("RECAST_PORTAL_RETRIES", "1")
    portal.faults("upload-bad-checksum:5")
    code, out, err = run_archive("push", sample, "--new")
    assert code == 2
    (line,) = err.strip().splitlines()
    assert "uploading data/odd name with spaces & #hash.txt" in line
    assert "the portal reports md5:" in line and "but the file is md5:" in line and line.endswith("(gave up after 2 uploads)")


@pytest.mark.parametrize("spec", ["download-truncate:2", "download-500:2", "download-truncate:1@3,download-500:1@1"])
def test_pull_retries_broken_downloads(portal, client_env, sample, tmp_path, spec):
    code, out, err = run_archive("push", sample)
    portal.faults(spec)
    assert_round_trip(sample, out, tmp_path)


def test_a_failed_pull_leaves_no_deposit_and_resumes(portal, client_env, sample, tmp_path, monkeypatch):
    code, out, err = run_archive("push", sample, "--publish")
    recid = ids(out)["record"]
    monkeypatch.setenv("RECAST_PORTAL_RETRIES", "1")
    monkeypatch.setenv("RECAST_PORTAL_JOBS", "1")
    portal.faults("download-truncate:2@6")  # tag files (4) and two payload files arrive; the 3rd breaks twice
    code, _, err = run_archive("pull", recid, "-o", tmp_path / "back")
    assert code == 2
    (line,) = err.strip().splitlines()
    assert line.startswith(f"error: record {recid}: data/inputs/numbers.txt: the download broke off after ")
    assert line.endswith("(gave up after 2 attempts)")
    assert not (tmp_path / "back").exists()
    partial = tmp_path / ".back.partial"
    assert not list(partial.rglob(".*.part"))  # no half file, even in the hidden folder
    assert bag.check(partial)[0] != []  # and what is there is visibly not a complete bag

    portal.faults("")
    code, _, err = run_archive("pull", recid, "-o", tmp_path / "back")
    assert code == 0, err
    assert "3 files downloaded, 6 already here from an interrupted pull" in err
    assert tree(tmp_path / "back") == tree(sample) and not partial.exists()


def big_part_file(folder) -> bool:
    for path in folder.glob("*.part"):
        try:
            if path.stat().st_size > 8 << 20:  # only the 64 MiB file gets this far
                return True
        except FileNotFoundError:  # renamed into place meanwhile
            pass
    return False


def test_a_server_killed_mid_upload_loses_nothing_and_the_push_resumes(tmp_path, client_env, monkeypatch):
    """SIGKILL while a 64 MiB file streams in: the half file is not an object, the server cleans it
    up when it starts again (on the same port), and the push picks up where it stopped."""
    sample = make_bag(tmp_path / "analysis", {**SAMPLE, "images/blobs/sha256/huge": os.urandom(64 << 20)})
    server = start_portal(tmp_path / "data", tmp_path / "faults.txt")
    port = int(server.url.rsplit(":", 1)[1])
    env = {**os.environ, "RECAST_PORTAL_URL": server.url, "RECAST_PORTAL_TOKEN": server.token("alice@example.org"),
           "RECAST_PORTAL_RETRIES": "1", "RECAST_PORTAL_JOBS": "1"}
    push = subprocess.Popen([RECAST_ARCHIVE, "push", sample, "--quiet"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not big_part_file(tmp_path / "data" / "tmp"):
        assert time.monotonic() < deadline and push.poll() is None, "the upload never started"
        time.sleep(0.005)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    out, err = push.communicate(timeout=60)
    assert push.returncode == 2 and len(err.strip().splitlines()) == 1, err
    assert "uploading data/images/blobs/sha256/huge" in err and "connection failed" in err
    assert list((tmp_path / "data" / "tmp").glob("*.part"))  # what the crash left...

    server = start_portal(tmp_path / "data", tmp_path / "faults.txt", port)
    try:
        assert server.leftovers() == []  # ...is gone once the server is back
        for key in ("RECAST_PORTAL_URL", "RECAST_PORTAL_TOKEN"):
            monkeypatch.setenv(key, env[key])
        code, out, err = run_archive("push", sample, "--publish")
        assert code == 0, err
        uploaded, already = map(int, re.search(r"(\d+) files uploaded, (\d+) already on the portal", err).groups())
        assert already >= 1 and uploaded >= 5  # the huge file, the rest of the payload, the tag files
        code, _, err = run_archive("pull", ids(out)["record"], "-o", tmp_path / "back")
        assert code == 0, err
        assert tree(tmp_path / "back") == tree(sample)
    finally:
        stop_portal(server)
