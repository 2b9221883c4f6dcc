"""Archive abuse (issue 9): hostile deposits (tests/hostile_deposits.py builds them) handed to
`recast-archive verify`, `run` and `pull`, each run as a user runs it (a separate process).

For every case: verify exits 1 and its first line names the deposit's file and the fault; run exits 2
with one line; pull (from `recast-archive serve` on loopback, the bag uploaded with plain HTTP so that
no client-side check refuses it first) exits 2 with one line naming the deposit on the portal, or, for
a bag that agrees with itself but holds something hostile, fetches it and verify refuses the copy.
Nothing is written outside the target folder: the sandbox (deposit, the file beside it, the folder
above the target) and TMPDIR are compared before and after. Memory is bounded (peak RSS), and a
command that hangs is killed and fails the test (a FIFO once made verify block forever).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

import hostile_deposits as hostile
from portal_support import portal  # noqa: F401  (the session's portal on loopback)

CASES = {case.name: case for case in hostile.CASES}
MEMORY_MB = 200  # the interpreter with the loader and jsonschema is about 60 MB; 1 GiB read in would show
HANG = 300       # seconds after which a command counts as hung (not a speed bound: figures in docs/hardening.md)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return hostile.base_deposit(tmp_path_factory.mktemp("hostile") / "base")


def recast(sandbox: Path, *args, env: dict | None = None) -> tuple[int, list[str], float]:
    """(exit status, stderr lines, peak RSS MB) of recast-archive with TMPDIR inside the sandbox."""
    tmp = sandbox / "tmp"
    tmp.mkdir(exist_ok=True)
    code, lines, _, rss = hostile.run_measured(list(args), {**os.environ, "TMPDIR": str(tmp), **(env or {})}, HANG)
    assert code != -9, f"recast-archive {args[0]} hung (killed after {HANG} s)"
    assert not any("Traceback" in line for line in lines), "\n".join(lines)
    return code, lines, rss


def sandboxed(case, base, sandbox: Path, for_pull: bool = False) -> tuple[Path, dict]:
    deposit, _ = hostile.build(case, base, sandbox, for_pull)
    (sandbox / "tmp").mkdir()
    return deposit, hostile.snapshot(sandbox)


def test_the_base_deposit_is_sound(base, tmp_path):
    code, lines, _ = recast(tmp_path, "verify", base)
    assert code == 0 and lines == []


@pytest.mark.parametrize("name", CASES)
def test_verify_refuses(name, base, tmp_path):
    case = CASES[name]
    deposit, before = sandboxed(case, base, tmp_path)
    code, lines, rss = recast(tmp_path, "verify", deposit)
    assert code == 1, lines
    assert case.expect in lines[0], lines[0]
    assert all(line.startswith(f"{deposit}/") for line in lines), lines  # each names the deposit's file
    assert hostile.snapshot(tmp_path) == before
    assert rss < MEMORY_MB


@pytest.mark.parametrize("name", CASES)
def test_run_refuses(name, base, tmp_path):
    case = CASES[name]
    deposit, before = sandboxed(case, base, tmp_path)
    code, lines, rss = recast(tmp_path, "run", deposit, "-w", tmp_path / "work")
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: {deposit}: refused, it fails verification") and case.expect in lines[0], lines[0]
    assert hostile.snapshot(tmp_path) == before  # no work folder either
    assert rss < MEMORY_MB


@pytest.fixture
def pull_env(portal, tmp_path_factory):  # noqa: F811
    home = tmp_path_factory.mktemp("pull-home")
    return {"RECAST_PORTAL_URL": portal.url, "RECAST_PORTAL_TOKEN": portal.token("alice@example.org"),
            "RECAST_PORTAL_RETRIES": "0", "XDG_CACHE_HOME": str(home / "cache"),
            "RECAST_ARCHIVE_CONFIG": str(home / "none.ini")}


@pytest.mark.parametrize("name", [name for name, case in CASES.items() if case.pull is not None])
def test_pull_refuses(name, base, tmp_path, portal, pull_env):  # noqa: F811
    case = CASES[name]
    deposit, _ = sandboxed(case, base, tmp_path, for_pull=True)
    pid = hostile.upload(portal, deposit)
    try:
        before = hostile.snapshot(tmp_path)
        pulled = tmp_path / "pulled"
        code, lines, rss = recast(tmp_path, "pull", pid, "-o", pulled, env=pull_env)
        assert rss < MEMORY_MB
        if case.consistent:  # the bag agrees with itself: pull fetches it, verify refuses the copy
            assert code == 0, lines
            assert hostile.snapshot(tmp_path, skip=pulled) == before
            code, lines, _ = recast(tmp_path, "verify", pulled)
            assert code == 1 and case.expect in lines[0], lines
            return
        assert code == 2 and len(lines) == 1, lines
        assert lines[0].startswith(f"error: deposit {pid}: ") and (case.pull or case.expect) in lines[0], lines[0]
        assert hostile.snapshot(tmp_path) == before  # neither the target nor a .pulled.partial beside it
    finally:
        portal.api("DELETE", f"deposits/{pid}")


PACKED = {  # a packed deposit (one .tar.gz) can hold what a portal's files cannot: links, FIFOs
    "symlink-outside": "a link or special file",
    "symlink-inside": "a link or special file",
    "fifo": "a link or special file",
    "zeros-1g": "more than the whole payload",  # a 1 MB archive that unpacks to 1 GiB
    "dotdot-in-manifest": "leads outside the bag (..)",
}


@pytest.mark.parametrize("name", PACKED)
def test_pull_refuses_a_packed_deposit(name, base, tmp_path, portal, pull_env):  # noqa: F811
    deposit, _ = hostile.build(CASES[name], base, tmp_path)
    archive = hostile.packed(deposit, tmp_path / "deposit.tar.gz")
    (tmp_path / "tmp").mkdir()
    pid = hostile.upload(portal, None, {"deposit.tar.gz": archive})
    try:
        before = hostile.snapshot(tmp_path)
        code, lines, rss = recast(tmp_path, "pull", pid, "-o", tmp_path / "pulled", env=pull_env)
        assert code == 2 and len(lines) == 1, lines
        assert lines[0].startswith(f"error: deposit {pid}: deposit.tar.gz: ") and PACKED[name] in lines[0], lines[0]
        assert hostile.snapshot(tmp_path) == before  # nothing unpacked, no .pulled.partial
        assert rss < MEMORY_MB
    finally:
        portal.api("DELETE", f"deposits/{pid}")


@pytest.mark.parametrize("name", hostile.PORTAL_KEYS)
def test_pull_refuses_keys_no_bag_can_hold(name, base, tmp_path, portal, pull_env):  # noqa: F811
    key, expect = hostile.PORTAL_KEYS[name]
    (tmp_path / "tmp").mkdir()
    pid = hostile.upload(portal, base, {key: b"hostile\n"})
    try:
        assert key in [f["key"] for f in portal.api("GET", f"deposits/{pid}").json()["files"]]
        before = hostile.snapshot(tmp_path)
        code, lines, _ = recast(tmp_path, "pull", pid, "-o", tmp_path / "pulled", env=pull_env)
        assert code == 2 and len(lines) == 1 and expect in lines[0] and key in lines[0], lines
        assert hostile.snapshot(tmp_path) == before
    finally:
        portal.api("DELETE", f"deposits/{pid}")


@pytest.mark.parametrize("key", hostile.CLIMBING_KEYS)
def test_the_portal_refuses_keys_that_climb(key, portal):  # noqa: F811
    draft = portal.api("POST", "deposits/", json={"$ana_type": "recast-archive"}).json()
    try:
        response = portal.api("PUT", f"{draft['links']['bucket']}/{hostile.url_key(key)}", data=b"hostile\n")
        assert response.status_code == 400 and "'..' parts" in response.json()["message"]
    finally:
        portal.api("DELETE", f"deposits/{draft['id']}")


def test_a_gigabyte_claimed_small_is_refused_unread(base, tmp_path):
    """Refused on sizes: the 1 GiB is not read (bytes read by this process, from /proc)."""
    from archive import bag
    from archive.verify import verify

    deposit, _ = hostile.build(CASES["zeros-1g"], base, tmp_path)
    before = read_bytes()
    problems = verify(deposit)
    assert read_bytes() - before < 16 << 20
    declared = bag.payload_oxum(deposit)[0]  # the base deposit's bytes and the 6 claimed for the GiB
    assert problems[0] == f"{deposit}/data/inputs/zeros.bin: 1073741824 bytes, more than the whole payload in bag-info.txt's Payload-Oxum ({declared} bytes); not read"


def test_pack_refuses_inputs_that_one_file_system_would_merge(tmp_path):
    """What verify refuses, pack does not make: README and readme, café in NFC and NFD."""
    import unicodedata

    from archive.pack import DepositError

    for first, second in (("README", "readme"), (unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café"))):
        inputs = tmp_path / f"inputs-{len(first)}-{first.lower()}"
        inputs.mkdir()
        (inputs / first).write_text("one\n")
        (inputs / second).write_text("two\n")
        with pytest.raises(DepositError, match="differ only in case or Unicode normalisation"):
            hostile.base_deposit(tmp_path / "deposit", [str(inputs)])
        assert not (tmp_path / "deposit").exists()


def read_bytes() -> int:
    with open("/proc/self/io") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith("rchar:"))


if not sys.platform.startswith("linux"):
    pytestmark = pytest.mark.skip("the sandbox checks read /proc and use FIFOs and sparse files (Linux)")
