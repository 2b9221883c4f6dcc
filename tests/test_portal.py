"""recast-archive push and pull against `recast-archive serve` on loopback: round trips (files and
packed), resuming, the API's access rules, and what users see when something is wrong."""
from __future__ import annotations

import json
import os
import pty
import sqlite3
import subprocess

import pytest
from portal_support import (RECAST_ARCHIVE, SAMPLE, client_env, ids, make_bag, portal, run_archive,  # noqa: F401
                            run_archive_process, tree)

from archive import bag
from archive.portal import transfer


@pytest.fixture
def sample(tmp_path):
    return make_bag(tmp_path / "analysis", SAMPLE)


def test_push_publish_pull_gives_the_same_bag(portal, client_env, sample, tmp_path):
    code, out, err = run_archive("push", sample, "--publish", "--title", "round trip")
    assert code == 0, err
    pushed = ids(out)
    assert pushed["record"].startswith("CAP.RECAST.")
    assert "9 files uploaded, 0 already" in err  # 5 payload files (not the empty one), 4 tag files

    record = portal.api("GET", f"records/{pushed['record']}").json()
    keys = sorted(f["key"] for f in record["files"])
    assert "data/inputs/empty.txt" not in keys  # CAP refuses empty files: the manifest brings it back
    assert "bagit.txt" in keys and "data/odd name with spaces & #hash.txt" in keys
    assert record["metadata"]["basic_info"]["analysis_title"] == "round trip"
    assert record["metadata"]["deposit"]["layout"] == "files"
    sha_tags = {f["key"]: f["tags"].get("sha256") for f in record["files"]}
    assert sha_tags["data/specs/workflow.yml"] == bag.hash_file(sample / "data/specs/workflow.yml")[1]

    for ident, name in ((pushed["record"], "by-record"), (pushed["deposit"], "by-deposit")):
        code, out, err = run_archive("pull", ident, "-o", tmp_path / name)
        assert code == 0, err
        assert tree(tmp_path / name) == tree(sample)
        assert bag.check(tmp_path / name)[0] == []
        assert not (tmp_path / f".{name}.partial").exists()


def test_files_upload_in_order_payload_then_tag_files_bagit_last(sample):
    keys = [f.key for f in transfer.bag_files(sample)]
    assert keys[-2:] == ["tagmanifest-sha256.txt", "bagit.txt"]
    assert all(k.startswith("data/") for k in keys[:5]) and "manifest-sha256.txt" in keys[5:]


def test_packed_push_is_one_object_and_pulls_back(portal, client_env, sample, tmp_path):
    code, out, err = run_archive("push", sample, "--packed", "--publish")
    assert code == 0, err
    record = portal.api("GET", f"records/{ids(out)['record']}").json()
    assert [f["key"] for f in record["files"]] == ["analysis.bag.tar"]
    code, _, err = run_archive("pull", ids(out)["record"], "-o", tmp_path / "back")
    assert code == 0, err
    assert tree(tmp_path / "back") == tree(sample)
    assert not (tmp_path / ".back.partial").exists()


def test_an_interrupted_push_resumes_with_what_is_missing(portal, client_env, sample, tmp_path, monkeypatch):
    monkeypatch.setenv("RECAST_PORTAL_RETRIES", "0")
    monkeypatch.setenv("RECAST_PORTAL_JOBS", "1")  # one file after the other, so which one fails is known
    portal.faults("upload-500:1@3")  # the portal fails on the 4th file
    code, out, err = run_archive("push", sample)
    assert code == 2
    (line,) = err.strip().splitlines()
    assert line.startswith(f"error: {sample}: uploading data/inputs/numbers.txt to deposit ")
    assert line.endswith(": HTTP 500: Internal server error (injected fault). (gave up after 1 attempt)")
    drafts = portal.api("GET", "deposits/?by_me=True").json()["hits"]["hits"]
    draft = next(d for d in drafts if d["metadata"]["deposit"]["payload_sha256"] == transfer.payload_fingerprint(sample))
    assert len(draft["files"]) == 3

    code, out, err = run_archive("push", sample, "--publish", "--jobs", "2")
    assert code == 0, err
    assert "6 files uploaded, 3 already on the portal" in err
    assert ids(out)["deposit"] == draft["id"]
    # the same bag again: nothing to do, same record
    code, out2, err = run_archive("push", sample, "--publish")
    assert code == 0 and ids(out2) == ids(out)
    code, _, err = run_archive("pull", ids(out)["record"], "-o", tmp_path / "back")
    assert code == 0, err
    assert tree(tmp_path / "back") == tree(sample)


def test_two_pushes_at_once(portal, client_env, tmp_path):
    bags = [make_bag(tmp_path / name, {**SAMPLE, "who.txt": name.encode()}) for name in ("one", "two")]
    pushes = [subprocess.Popen([RECAST_ARCHIVE, "push", bag_, "--publish", "--quiet"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for bag_ in bags]
    results = [p.communicate(timeout=120) + (p.returncode,) for p in pushes]
    assert [code for _, _, code in results] == [0, 0], results
    for bag_, (out, _, _) in zip(bags, results):
        code, _, err = run_archive("pull", ids(out)["record"], "-o", tmp_path / f"{bag_.name}-back")
        assert code == 0, err
        assert tree(tmp_path / f"{bag_.name}-back") == tree(bag_)


def test_a_changed_bag_is_a_new_deposit(portal, client_env, sample):
    code, out, _ = run_archive("push", sample)
    first = ids(out)["deposit"]
    make_bag(sample.parent / "analysis2", {**SAMPLE, "inputs/numbers.txt": b"changed\n"})
    code, out, err = run_archive("push", sample.parent / "analysis2")
    assert code == 0, err
    assert ids(out)["deposit"] != first


def test_a_file_changed_after_packing_is_refused_and_not_left_on_the_portal(portal, client_env, sample):
    (sample / "data" / "deep" / "a" / "b" / "c" / "d.json").write_bytes(b'{"x": 2}\n')
    code, out, err = run_archive("push", sample)
    assert code == 2
    assert err.strip() == f"error: {sample / 'data/deep/a/b/c/d.json'}: sha256 differs from the bag's manifest (changed while pushing, or corrupt)"
    drafts = portal.api("GET", "deposits/?by_me=True").json()["hits"]["hits"]
    draft = next(d for d in drafts if d["metadata"]["deposit"]["payload_sha256"] == transfer.payload_fingerprint(sample))
    assert "data/deep/a/b/c/d.json" not in [f["key"] for f in draft["files"]]


def test_a_deposit_corrupted_on_the_portal_is_not_pulled(portal, client_env, sample, tmp_path):
    code, out, err = run_archive("push", sample, "--publish")
    record = portal.api("GET", f"records/{ids(out)['record']}").json()
    with sqlite3.connect(portal.data / "portal.sqlite3") as db:
        (name,) = db.execute("SELECT blob FROM objects WHERE bucket = ? AND key = ?",
                             (record["links"]["bucket"].rsplit("/", 1)[1], "data/inputs/numbers.txt")).fetchone()
    blob = portal.data / "objects" / name[:2] / name
    original = blob.read_bytes()
    blob.write_bytes(original.replace(b"999", b"998"))
    try:
        code, out2, err = run_archive("pull", ids(out)["record"], "-o", tmp_path / "back")
    finally:
        blob.write_bytes(original)
    assert code == 2
    assert "data/inputs/numbers.txt: got md5:" in err and "the portal lists md5:" in err
    assert not (tmp_path / "back").exists()


def test_user_errors_are_one_line_exit_2_and_never_show_the_token(portal, client_env, sample, tmp_path):
    token = client_env["RECAST_PORTAL_TOKEN"]
    cases = [
        (["push", tmp_path / "nothing"], f"error: {tmp_path / 'nothing'}: no such deposit folder"),
        (["push", tmp_path], f"error: {tmp_path}: not a BagIt bag (no bagit.txt)"),
        (["pull", "0123456789abcdef0123456789abcdef", "-o", tmp_path / "x"], "error: deposit 0123456789abcdef0123456789abcdef: HTTP 404: PID does not exist."),
        (["pull", "CAP.NOPE", "-o", sample], f"error: {sample}: already exists (pull writes a new folder; remove it or choose another -o)"),
        (["push", sample, "--portal", "http://127.0.0.1:9"], None),
        (["push", sample, "--token", "wrong"], None),
        (["push", sample, "--type", "atlas-analysis"], f"error: {sample}: creating the deposit: HTTP 400: Schema with name atlas-analysis doesnt exist."),
    ]
    for args, expected in cases:
        result = run_archive_process(*args, "--quiet", env={"RECAST_PORTAL_RETRIES": "1"})
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2, (args, result.stderr)
        assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
        assert token not in result.stdout + result.stderr
        if expected:
            assert lines[0] == expected
    refused = run_archive_process("push", sample, "--portal", "http://127.0.0.1:9", "--quiet", env={"RECAST_PORTAL_RETRIES": "1"})
    assert "connection failed (Connection refused) (gave up after 2 attempts)" in refused.stderr
    wrong = run_archive_process("push", sample, "--token", "wrong", "--quiet")
    assert wrong.stderr.strip().endswith("HTTP 401: The server could not verify that you are authorized to access the URL requested. (is the token right?)")


def test_the_token_is_stored_nowhere_but_where_the_user_put_it(portal, client_env, sample, tmp_path):
    token = client_env["RECAST_PORTAL_TOKEN"]
    code, out, err = run_archive("push", sample, "--publish")
    code, _, _ = run_archive("pull", ids(out)["record"], "-o", tmp_path / "back")
    assert code == 0
    for path in [*tmp_path.rglob("*"), *portal.data.rglob("*")]:
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path
    (state,) = (tmp_path / "cache" / "recast-archive" / "push").iterdir()
    assert set(json.loads(state.read_text())) == {"portal", "pid", "bag"}


def test_settings_come_from_flag_environment_or_config_file(portal, client_env, sample, tmp_path, monkeypatch):
    token_file = tmp_path / "token"
    token_file.write_text(client_env["RECAST_PORTAL_TOKEN"] + "\n")
    config = tmp_path / "config.ini"
    config.write_text(f"[portal]\nurl = {portal.url}\ntoken_file = {token_file}\n")
    monkeypatch.delenv("RECAST_PORTAL_URL")
    monkeypatch.delenv("RECAST_PORTAL_TOKEN")
    monkeypatch.setenv("RECAST_ARCHIVE_CONFIG", str(config))
    code, out, err = run_archive("push", sample)
    assert code == 0, err
    monkeypatch.setenv("RECAST_PORTAL_TOKEN", "not-a-token")  # the environment beats the config file
    code, out, err = run_archive("push", sample)
    assert code == 2 and "HTTP 401" in err
    code, out, err = run_archive("push", sample, "--token-file", token_file)  # and a flag beats both
    assert code == 0, err
    config.write_text("[portal]\n")
    code, out, err = run_archive("push", sample)
    assert code == 2 and err.startswith("error: no portal URL: give --portal, set RECAST_PORTAL_URL")
    monkeypatch.setenv("RECAST_PORTAL_URL", portal.url)
    monkeypatch.setenv("RECAST_PORTAL_JOBS", "two")
    code, out, err = run_archive("push", sample)
    assert code == 2 and err.strip() == ("error: RECAST_PORTAL_RETRIES and RECAST_PORTAL_JOBS must be whole numbers, "
                                         "RECAST_PORTAL_BACKOFF a number")


# -- the API's rules -----------------------------------------------------------------------------

@pytest.fixture
def alices_draft(portal, client_env, sample):
    code, out, err = run_archive("push", sample)
    assert code == 0, err
    return portal.api("GET", f"deposits/{ids(out)['deposit']}").json()


def test_no_token_or_a_wrong_one_is_401(portal, alices_draft):
    for user, headers in ((None, {}), (None, {"Authorization": "Bearer nope"}), (None, {"Authorization": "Basic abc"})):
        response = portal.api("GET", f"deposits/{alices_draft['id']}", user=user, headers=headers)
        assert response.status_code == 401 and response.json()["status"] == 401
    assert portal.api("POST", "deposits/", user=None, json={"$ana_type": "recast-archive"}).status_code == 401


def test_both_token_forms_cap_uses_are_accepted(portal, alices_draft):
    token = portal.token("alice@example.org")
    assert portal.api("GET", f"deposits/{alices_draft['id']}", user=None, headers={"Authorization": f"OAuth2 {token}"}).status_code == 200
    assert portal.api("GET", f"deposits/{alices_draft['id']}?access_token={token}", user=None).status_code == 200


def test_other_users_do_not_see_a_draft_until_granted(portal, alices_draft):
    bob = "bob@example.org"
    pid, bucket = alices_draft["id"], alices_draft["links"]["bucket"]
    assert portal.api("GET", f"deposits/{pid}", user=bob).status_code == 403
    assert portal.api("GET", f"deposits/{pid}/files", user=bob).status_code == 403
    assert portal.api("GET", f"{bucket}/bagit.txt", user=bob).status_code == 404
    assert portal.api("PUT", f"{bucket}/data/x", user=bob, data=b"x").status_code == 404
    assert portal.api("DELETE", f"deposits/{pid}", user=bob).status_code == 403
    assert portal.api("POST", f"deposits/{pid}/actions/publish", user=bob).status_code == 403
    assert pid not in [h["id"] for h in portal.api("GET", "deposits/", user=bob).json()["hits"]["hits"]]

    grant = [{"email": bob, "type": "user", "op": "add", "action": "deposit-read"}]
    response = portal.api("POST", f"deposits/{pid}/actions/permissions", json=grant, headers={"Accept": "application/permissions+json"})
    assert response.status_code == 201
    assert response.json()["permissions"]["read"]["users"] == ["alice@example.org", bob]
    assert portal.api("POST", f"deposits/{pid}/actions/permissions", json=grant).json()["message"] == "Permission already exist."
    assert portal.api("GET", f"deposits/{pid}", user=bob).status_code == 200
    assert portal.api("GET", f"{bucket}/bagit.txt", user=bob).content.startswith(b"BagIt-Version: 1.0")
    assert portal.api("PUT", f"{bucket}/data/x", user=bob, data=b"x").status_code == 403  # read is not update
    assert portal.api("GET", "deposits/?by_me=True", user=bob).json()["hits"]["total"] == 0  # only her own drafts
    assert pid in [h["id"] for h in portal.api("GET", "deposits/", user=bob).json()["hits"]["hits"]]


def test_a_published_record_is_read_only(portal, alices_draft):
    pid, draft_bucket = alices_draft["id"], alices_draft["links"]["bucket"]
    published = portal.api("POST", f"deposits/{pid}/actions/publish", headers={"Accept": "application/basic+json"})
    assert published.status_code == 202
    recid = published.json()["recid"]
    record = portal.api("GET", f"records/{recid}").json()
    assert record["links"]["bucket"] != draft_bucket and record["draft_id"] == pid
    for bucket in (draft_bucket, record["links"]["bucket"]):
        assert portal.api("PUT", f"{bucket}/bagit.txt", data=b"x").status_code == 403
        assert portal.api("DELETE", f"{bucket}/bagit.txt").status_code == 403
    assert portal.api("PUT", f"deposits/{pid}", json={"basic_info": {}}).status_code == 403
    assert portal.api("DELETE", f"deposits/{pid}").status_code == 403
    assert portal.api("POST", f"deposits/{pid}/actions/publish").json() == {"status": 403, "message": "Invalid action"}
    # every user of the portal may read the record
    assert portal.api("GET", f"records/{recid}", user="bob@example.org").status_code == 200
    assert portal.api("GET", f"{record['links']['bucket']}/bagit.txt", user="bob@example.org").status_code == 200


def test_files_store_rules(portal, alices_draft):
    bucket = alices_draft["links"]["bucket"]
    assert portal.api("PUT", f"{bucket}/data/empty", data=b"").json()["message"] == "Files must be at least 1 byte long."
    chunked = portal.api("PUT", f"{bucket}/data/chunked", data=iter([b"ab", b"c"]))
    assert chunked.status_code == 400 and "Content-Length" in chunked.json()["message"]
    assert portal.api("PUT", f"{bucket}/{'k' * 256}", data=b"x").status_code == 400
    put = portal.api("PUT", f"{bucket}/data/new.txt", data=b"hello\n", headers={"X-CAP-File-Tags": "sha256=abc&kind=test"})
    assert put.status_code == 200 and put.headers["ETag"] == '"md5:b1946ac92492d2347c6235b4d2611184"'
    assert put.json()["tags"] == {"sha256": "abc", "kind": "test"}
    got = portal.api("GET", f"{bucket}/data/new.txt")
    assert got.content == b"hello\n" and got.headers["Content-MD5"] == "b1946ac92492d2347c6235b4d2611184"
    assert portal.api("DELETE", f"{bucket}/data/new.txt").status_code == 204
    assert portal.api("GET", f"{bucket}/data/new.txt").status_code == 404
    listing = portal.api("GET", bucket).json()
    assert listing["locked"] is False and len(listing["contents"]) == len(alices_draft["files"])


def test_metadata_is_validated_and_patched(portal, alices_draft):
    pid = alices_draft["id"]
    bad = portal.api("PUT", f"deposits/{pid}", json={"basic_info": {"analysis_title": 7}, "nonsense": 1})
    assert bad.status_code == 422
    assert sorted(e["field"] for e in bad.json()["errors"]) == [[], ["basic_info", "analysis_title"]]
    patch = [{"op": "replace", "path": "/basic_info/analysis_title", "value": "patched"},
             {"op": "add", "path": "/basic_info/abstract", "value": "why"}]
    response = portal.api("PATCH", f"deposits/{pid}", data=json.dumps(patch), headers={"Content-Type": "application/json-patch+json"})
    assert response.status_code == 200
    assert response.json()["metadata"]["basic_info"] == {"analysis_title": "patched", "abstract": "why"}
    assert portal.api("POST", "deposits/", json={}).json()["message"] == "You have to specify either $schema or $ana_type"


def test_deleting_a_draft_removes_its_files(portal, alices_draft):
    blobs_before = sum(1 for p in (portal.data / "objects").rglob("*") if p.is_file())
    assert portal.api("DELETE", f"deposits/{alices_draft['id']}").status_code == 204
    assert portal.api("GET", f"deposits/{alices_draft['id']}").status_code == 404
    blobs_after = sum(1 for p in (portal.data / "objects").rglob("*") if p.is_file())
    assert blobs_before - blobs_after == len(alices_draft["files"])


def test_pull_refuses_file_names_that_leave_the_folder():
    for key in ("../outside", "/etc/passwd", "data/../../x", "a\\b"):
        with pytest.raises(transfer.PortalError, match="refusing unsafe file name"):
            transfer.safe_key(key, "record R")
    transfer.safe_key("data/a b/c..d.txt", "record R")


def test_serve_errors_are_one_line(portal, tmp_path):
    port = portal.url.rsplit(":", 1)[1]
    busy = run_archive_process("serve", "--data", tmp_path / "d", "--port", port)
    assert busy.returncode == 2 and busy.stderr.strip() == f"error: cannot listen on 127.0.0.1:{port} (Address already in use)"
    typo = run_archive_process("serve", "--data", tmp_path / "d", "--port", "0", env={"RECAST_PORTAL_FAULTS": "upload-5OO"})
    assert typo.returncode == 2 and typo.stderr.strip().startswith("error: RECAST_PORTAL_FAULTS: unknown fault 'upload-5OO'")
    bad = run_archive_process("serve", "--data", tmp_path / "d", "token", "not an email")
    assert bad.returncode == 2 and bad.stderr.strip() == "error: not an email address: 'not an email'"


def test_progress_bars_show_on_a_terminal_only(portal, client_env, sample, tmp_path):
    """On a terminal (a pseudo-terminal here) push draws a byte-counting bar on standard error;
    into a pipe or file it prints only its summary line."""
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "120"}
    process = subprocess.Popen([RECAST_ARCHIVE, "push", sample], stdout=subprocess.PIPE, stderr=follower, env=env)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process has gone
            break
        if not chunk:
            break
        seen += chunk
    process.wait(60)
    os.close(leader)
    assert process.returncode == 0
    assert b"push analysis" in seen and "━".encode() in seen and b"MB" in seen
    piped = run_archive_process("push", sample, "--new")
    assert piped.returncode == 0 and "━" not in piped.stderr and len(piped.stderr.strip().splitlines()) == 1


def test_pulling_something_that_is_not_a_bag(portal, client_env, tmp_path):
    draft = portal.api("POST", "deposits/", json={"$ana_type": "recast-archive"}).json()
    portal.api("PUT", f"{draft['links']['bucket']}/notes.txt", data=b"just notes\n")
    code, _, err = run_archive("pull", draft["id"], "-o", tmp_path / "back")
    assert code == 2
    assert err.strip() == f"error: deposit {draft['id']}: not a bag: no bagit.txt among its 1 files, nor one .tar or .tar.gz"
    assert list(tmp_path.iterdir()) == []  # not even a partial folder


def test_a_file_name_of_250_bytes_travels_both_ways(portal, client_env, tmp_path):
    """Found by the portal load tests: pull wrote `.<name>.part`, past the 255-byte limit for a
    name of 250 bytes, and crashed with OSError."""
    long_names = {'n' * 250: b"long\n", 'é' * 125: b"accented\n"}  # make_bag puts them in data/
    sample = make_bag(tmp_path / "long", long_names)
    code, out, err = run_archive("push", sample)
    assert code == 0, err
    code, _, err = run_archive("pull", ids(out)["deposit"], "-o", tmp_path / "back")
    assert code == 0, err
    assert tree(tmp_path / "back") == tree(sample)
