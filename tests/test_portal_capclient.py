"""The real cap-client 1.4 (PyPI, in .venv-capclient made by scripts/setup.sh test) against
`recast-archive serve`: every command a deposit needs succeeds, and deposits travel both ways
between cap-client and recast-archive push/pull."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess

import pytest
from portal_support import ROOT, SAMPLE, client_env, ids, make_bag, portal, run_archive, tree  # noqa: F401

CAP_CLIENT = ROOT / ".venv-capclient" / "bin" / "cap-client"


@pytest.fixture
def cap(portal, client_env, tmp_path):
    if not CAP_CLIENT.exists():
        if os.environ.get("CI"):
            pytest.fail("CI: .venv-capclient is missing (scripts/setup.sh test makes it)")
        pytest.skip("cap-client is not installed: `source scripts/setup.sh test` makes .venv-capclient")

    def run(*args, user: str = "alice@example.org", ok: bool = True) -> subprocess.CompletedProcess:
        env = {**os.environ, "CAP_SERVER_URL": portal.url, "CAP_ACCESS_TOKEN": portal.token(user)}
        result = subprocess.run([CAP_CLIENT, *map(str, args)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
        if ok:
            assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result

    return run


def md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


def test_cap_client_create_upload_list_get_publish_permissions(cap, portal, tmp_path):
    assert json.loads(cap("analysis", "types").stdout) == ["recast-archive"]
    schema = json.loads(cap("analysis", "schema", "recast-archive").stdout)
    assert "basic_info" in schema["properties"]

    created = json.loads(cap("analysis", "create", "-t", "recast-archive", "--json", '{"basic_info": {"analysis_title": "by cap-client"}}').stdout)
    pid = created["pid"]
    assert created["metadata"] == {"basic_info": {"analysis_title": "by cap-client"}}
    assert pid in [hit["pid"] for hit in json.loads(cap("analysis", "get").stdout)]
    assert json.loads(cap("analysis", "get", "--pid", pid).stdout)["pid"] == pid

    (tmp_path / "notes.txt").write_bytes(b"some notes\n")
    assert "File uploaded successfully." in cap("files", "upload", "--pid", pid, tmp_path / "notes.txt").stdout
    cap("files", "upload", "--pid", pid, tmp_path / "notes.txt", "-o", "data/inputs/notes.txt")
    listed = {f["filename"]: f for f in json.loads(cap("files", "get", "--pid", pid).stdout)}
    assert set(listed) == {"notes.txt", "data/inputs/notes.txt"}
    assert listed["notes.txt"]["checksum"] == md5(b"some notes\n") and listed["notes.txt"]["filesize"] == 11
    cap("files", "download", "--pid", pid, "data/inputs/notes.txt", "-o", tmp_path / "got.txt")
    assert (tmp_path / "got.txt").read_bytes() == b"some notes\n"
    cap("files", "remove", "--pid", pid, "notes.txt")
    assert [f["filename"] for f in json.loads(cap("files", "get", "--pid", pid).stdout)] == ["data/inputs/notes.txt"]

    cap("metadata", "update", "--pid", pid, "--json", '{"basic_info": {"analysis_title": "t", "abstract": "a"}}')
    cap("metadata", "update", "--pid", pid, "--field", "basic_info.analysis_title", "--text", "retitled")
    assert json.loads(cap("metadata", "get", "--pid", pid).stdout) == {"basic_info": {"analysis_title": "retitled", "abstract": "a"}}
    cap("metadata", "remove", "--pid", pid, "--field", "basic_info.abstract")
    assert json.loads(cap("metadata", "get", "--pid", pid, "--field", "basic_info").stdout) == {"analysis_title": "retitled"}
    invalid = cap("metadata", "update", "--pid", pid, "--json", '{"unknown": 1}', ok=False)
    assert invalid.returncode == 1 and "Validation error" in invalid.stdout + invalid.stderr

    bob = "bob@example.org"
    portal.token(bob)
    denied = cap("analysis", "get", "--pid", pid, user=bob, ok=False)
    assert denied.returncode == 1 and "You don't have sufficient permissions." in denied.stdout + denied.stderr
    added = json.loads(cap("permissions", "add", "--pid", pid, "-u", bob, "-r", "read", "-r", "update").stdout)
    assert added["read"]["users"] == ["alice@example.org", bob] and added["update"]["users"] == ["alice@example.org", bob]
    assert json.loads(cap("permissions", "get", "--pid", pid).stdout) == added
    assert json.loads(cap("analysis", "get", "--pid", pid, user=bob).stdout)["pid"] == pid
    cap("files", "upload", "--pid", pid, tmp_path / "notes.txt", "-o", "data/from-bob.txt", user=bob)
    cap("permissions", "remove", "--pid", pid, "-u", bob, "-r", "update")
    assert cap("files", "upload", "--pid", pid, tmp_path / "notes.txt", "-o", "data/again.txt", user=bob, ok=False).returncode == 1

    published = cap("analysis", "publish", "--pid", pid).stdout
    recid = published.strip().rsplit(" ", 1)[1]
    assert recid.startswith("CAP.RECAST.")
    record = json.loads(cap("analysis", "get-published", "--pid", recid).stdout)
    assert record["metadata"]["basic_info"]["analysis_title"] == "retitled"
    assert recid in [hit["pid"] for hit in json.loads(cap("analysis", "get-published").stdout)]
    locked = cap("files", "upload", "--pid", pid, tmp_path / "notes.txt", "-o", "data/late.txt", ok=False)
    assert locked.returncode == 1 and "sufficient permissions" in locked.stdout + locked.stderr

    other = json.loads(cap("analysis", "create", "-t", "recast-archive", "--json", "{}").stdout)["pid"]
    cap("analysis", "delete", "--pid", other)
    assert portal.api("GET", f"deposits/{other}").status_code == 404


def test_a_deposit_made_with_cap_client_is_pulled(cap, tmp_path):
    # cap-client puts file names into URLs unquoted: a '#' or '?' in a name cuts it short (on CAP too)
    files = {("name with spaces.txt" if "#" in name else name): content for name, content in SAMPLE.items()}
    sample = make_bag(tmp_path / "analysis", files)
    pid = json.loads(cap("analysis", "create", "-t", "recast-archive", "--json", "{}").stdout)["pid"]
    for path in sorted(p for p in sample.rglob("*") if p.is_file() and p.stat().st_size):
        cap("files", "upload", "--pid", pid, path, "-o", path.relative_to(sample).as_posix())
    code, _, err = run_archive("pull", pid, "-o", tmp_path / "back")
    assert code == 0, err
    assert tree(tmp_path / "back") == tree(sample)


def test_a_directory_uploaded_by_cap_client_is_pulled(cap, tmp_path):
    sample = make_bag(tmp_path / "analysis", SAMPLE)
    pid = json.loads(cap("analysis", "create", "-t", "recast-archive", "--json", "{}").stdout)["pid"]
    cap("files", "upload", "--pid", pid, sample, "--yes-i-know")  # one analysis.tar.gz
    code, _, err = run_archive("pull", pid, "-o", tmp_path / "back")
    assert code == 0, err
    assert tree(tmp_path / "back") == tree(sample)


def test_a_pushed_deposit_is_read_by_cap_client(cap, tmp_path):
    sample = make_bag(tmp_path / "analysis", SAMPLE)
    code, out, err = run_archive("push", sample, "--publish", "--title", "pushed")
    assert code == 0, err
    pid, recid = ids(out)["deposit"], ids(out)["record"]
    listed = {f["filename"]: f["checksum"] for f in json.loads(cap("files", "get", "--pid", pid).stdout)}
    local = {p.relative_to(sample).as_posix(): md5(p.read_bytes()) for p in sample.rglob("*") if p.is_file() and p.stat().st_size}
    assert listed == local
    cap("files", "download", "--pid", pid, "data/images/blobs/sha256/big", "-o", tmp_path / "big")
    assert (tmp_path / "big").read_bytes() == (sample / "data/images/blobs/sha256/big").read_bytes()
    record = json.loads(cap("analysis", "get-published", "--pid", recid).stdout)
    assert record["metadata"]["basic_info"]["analysis_title"] == "pushed"
    assert json.loads(cap("metadata", "get", "--pid", pid, "--field", "deposit.layout").stdout) == "files"
