"""Faults injected by the real server (RECAST_PORTAL_FAULTS, see archive/portal/faults.py): push and
pull either succeed after retrying/resuming or stop with one clear line, and neither side is left
with a corrupt or half-written file."""
from __future__ import annotations

import pytest
from portal_support import SAMPLE, client_env, ids, make_bag, portal, run_archive, tree  # noqa: F401

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
    portal.faults("upload-drop:3@1")  # the 2nd file never gets through
    code, out, err = run_archive("push", sample)
    assert code == 2
    (line,) = err.strip().splitlines()
    assert "uploading data/deep/a/b/c/d.json to deposit" in line and "connection failed" in line and line.endswith("(gave up after 3 attempts)")
    assert portal.leftovers() == []
    pid = line.split("to deposit ")[1].split(":")[0]
    assert list(draft_keys(portal, pid)) == ["data/odd name with spaces & #hash.txt"]  # nothing half-stored


def test_a_wrong_checksum_is_uploaded_again_then_refused(portal, client_env, sample, tmp_path, monkeypatch):
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
