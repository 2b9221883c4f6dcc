"""Hostile deposits: what an attacker (or a broken tool) can hand to `recast-archive verify`, `run`
and `pull`, built here from a genuine deposit so that nothing binary is committed.

The base is a real `recast-archive pack` of examples/helloworld. The only stand-in is the registry
that pack asks for image digests: a fixed digest per image (verify, run and pull refuse every case
below before any image is needed). Each case copies the base and breaks it one way; `seal` plays the
careful attacker who rewrites every checksum so that the bag agrees with itself.

Every case is refused by `verify` (exit 1), `run` (exit 2) and, where a portal can hold it, by `pull`
(exit 2), in one line that names the deposit and the file, in bounded time and memory, with nothing
written outside the target folder: tests/test_archive_abuse.py. The table in docs/hardening.md
("Archive abuse") comes from

    .venv/bin/python tests/hostile_deposits.py

which builds every case in a scratch folder, runs the three commands as a user would (pull against
a `recast-archive serve` on loopback) and prints exit status, seconds and peak memory per command.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the project and tests/ importable
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from archive import bag  # noqa: E402
from archive.pack import Request, pack  # noqa: E402

GiB = 1 << 30
GHOST_SHA, SMALL_SHA, CSV_SHA = (hashlib.sha256(b).hexdigest() for b in (b"ghost\n", b"small\n", b"a,b\n"))
MANY = 20_000  # "a huge number of tiny files" for verify and run (pull: PULL_MANY, each an HTTP round trip)
PULL_MANY = 2_000

# The stand-in registry's answer: an image manifest (config + no layers) whose digest every pin carries,
# so that the image-layout case can store exactly what the lock names.
CONFIG_BLOB = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
CONFIG_DIGEST = "sha256:" + hashlib.sha256(CONFIG_BLOB).hexdigest()


def image_manifest(config_digest: str) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
                                  "size": len(CONFIG_BLOB)}, "layers": []}, sort_keys=True).encode()


MANIFEST_BLOB = image_manifest(CONFIG_DIGEST)
IMAGE_DIGEST = "sha256:" + hashlib.sha256(MANIFEST_BLOB).hexdigest()


class FixedDigestRegistry:
    """Stands in for the registry pack asks (`HEAD /v2/<repo>/manifests/<tag>`)."""

    def __init__(self, host: str):
        self.host = host

    def resolve(self, ref):
        return IMAGE_DIGEST, "application/vnd.oci.image.manifest.v1+json"


def base_deposit(target: Path, input_files: list[str] | None = None) -> Path:
    """A genuine deposit of examples/helloworld (verify accepts it)."""
    example = ROOT / "examples" / "helloworld"
    request = Request(str(example / "workflow.yml"), str(example), {"name": "Ada"}, input_files or [])
    with mock.patch("archive.pack.Registry", FixedDigestRegistry):
        return pack(request, target)


# ------------------------------------------------------------------------------------------------
# the attacker's tools

def seal(root: Path) -> None:
    """Rewrite manifest, Payload-Oxum and tag manifest from the regular files now in data/: a bag
    that agrees with itself, whatever it holds."""
    payload = {}
    for path in bag.payload_files(root):
        if not os.path.islink(root / path) and (root / path).is_file():
            payload[path] = bag.hash_file(root / path)
    bag.write_tag_files(root, payload, "hostile")


def retag(root: Path) -> None:
    """Rewrite the tag manifest only (after the manifest or bag-info.txt was edited by hand)."""
    lines = "".join(f"{bag.hash_file(root / name)[1]}  {name}\n" for name in bag.TAG_FILES)
    (root / bag.TAGMANIFEST).write_text(lines, encoding="utf-8")


def add_manifest_lines(root: Path, *lines: str) -> None:
    with open(root / bag.MANIFEST, "a", encoding="utf-8") as handle:
        handle.writelines(line + "\n" for line in lines)
    retag(root)


def set_oxum(root: Path, octets: int, files: int) -> None:
    info = root / "bag-info.txt"
    text = "".join(line if not line.startswith("Payload-Oxum:") else f"Payload-Oxum: {octets}.{files}\n"
                   for line in info.read_text().splitlines(keepends=True))
    info.write_text(text)
    retag(root)


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def edit_manifest(root: Path, change: Callable[[dict], None]) -> None:
    path = root / "data" / "recast-archive.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


# ------------------------------------------------------------------------------------------------
# the cases: each breaks a fresh copy of the base deposit; `outside` is a file beside the deposit
# (in the sandbox) that nothing may read into a deposit or write to

@dataclass(frozen=True)
class Case:
    name: str
    what: str
    build: Callable[[Path, Path], None]
    expect: str                  # in the first line verify prints, and in run's one line
    pull: str | None = ""        # in pull's line; "" = as expect; None = a portal cannot hold it (why: pull_why)
    pull_why: str = ""
    fixed: str = ""              # the hole this case found, and where it was closed ("" = already refused)
    consistent: bool = False     # a bag that agrees with itself: pull fetches it, verify refuses the copy


def dotdot_in_manifest(root, outside):
    add_manifest_lines(root, f"{sha(outside.read_bytes())}  data/../../{outside.name}")


def absolute_in_manifest(root, outside):
    add_manifest_lines(root, f"{sha(outside.read_bytes())}  {outside.resolve()}")


def dotdot_in_tagmanifest(root, outside):
    with open(root / bag.TAGMANIFEST, "a") as handle:
        handle.write(f"{sha(outside.read_bytes())}  ../{outside.name}\n")


def absolute_in_tagmanifest(root, outside):
    with open(root / bag.TAGMANIFEST, "a") as handle:
        handle.write(f"{sha(b'')}  /dev/zero\n")


def symlink_outside(root, outside):
    (root / "data" / "inputs").mkdir()
    (root / "data" / "inputs" / "secret.txt").symlink_to(outside)
    seal(root)  # the link is hashed through (as the attacker's tool would), so every checksum agrees
    add_manifest_lines(root, f"{sha(outside.read_bytes())}  data/inputs/secret.txt")
    set_oxum(root, *_oxum(root, extra=outside.stat().st_size, files=1))


def symlink_inside(root, outside):
    (root / "data" / "alias.json").symlink_to("workflow.json")
    add_manifest_lines(root, f"{sha((root / 'data' / 'workflow.json').read_bytes())}  data/alias.json")
    set_oxum(root, *_oxum(root, extra=(root / "data" / "workflow.json").stat().st_size, files=1))


def symlink_folder_outside(root, outside):
    (root / "data" / "escape").symlink_to(outside.parent)


def tag_file_symlink(root, outside):
    (root / "bag-info.txt").unlink()
    (root / "bag-info.txt").symlink_to(outside)


def fifo_in_payload(root, outside):
    os.mkfifo(root / "data" / "pipe")
    add_manifest_lines(root, f"{sha(b'')}  data/pipe")


def duplicate_entry(root, outside):
    first = (root / bag.MANIFEST).read_text().splitlines()[0]
    add_manifest_lines(root, first)


def duplicate_by_case(root, outside):
    line = next(l for l in (root / bag.MANIFEST).read_text().splitlines() if l.endswith("data/workflow.json"))
    add_manifest_lines(root, line.replace("data/workflow.json", "data/Workflow.json"))


def duplicate_by_dot_prefix(root, outside):
    line = next(l for l in (root / bag.MANIFEST).read_text().splitlines() if l.endswith("data/workflow.json"))
    add_manifest_lines(root, line.replace("data/workflow.json", "./data/workflow.json"))


def duplicate_nfc_nfd(root, outside):
    nfc, nfd = unicodedata.normalize("NFC", "café.txt"), unicodedata.normalize("NFD", "café.txt")
    for name, content in ((nfc, b"one\n"), (nfd, b"two\n")):
        (root / "data" / name).write_bytes(content)
    seal(root)


def nfd_on_disk(root, outside):
    nfc, nfd = unicodedata.normalize("NFC", "café.txt"), unicodedata.normalize("NFD", "café.txt")
    (root / "data" / nfc).write_bytes(b"caf\xc3\xa9\n")
    seal(root)
    (root / "data" / nfc).rename(root / "data" / nfd)  # what a normalising file system does to a name


def missing_file(root, outside):
    add_manifest_lines(root, f"{GHOST_SHA}  data/inputs/ghost.txt")
    set_oxum(root, *_oxum(root, extra=len(b"ghost\n"), files=1))


def zeros_claimed_small(root, outside):
    """1 GiB of zeros (sparse: no disk used) listed with a wrong sha256, Payload-Oxum counting 6 bytes."""
    (root / "data" / "inputs").mkdir()
    zeros = root / "data" / "inputs" / "zeros.bin"
    with open(zeros, "wb") as handle:
        handle.truncate(GiB)
    add_manifest_lines(root, f"{SMALL_SHA}  data/inputs/zeros.bin")
    set_oxum(root, *_oxum(root, extra=len(b"small\n"), files=1))


def manifest_of_zeros(root, outside):
    """The payload manifest replaced by 1 GiB of zeros, the tag manifest rewritten to match."""
    with open(root / bag.MANIFEST, "wb") as handle:
        handle.truncate(GiB)
    retag(root)


def bag_info_tampered(root, outside):
    info = root / "bag-info.txt"
    info.write_text(info.read_text().replace("Bagging-Date:", "Bagging-Date: 1999-01-01\nX-Was:"))


def tagmanifest_tampered(root, outside):
    path = root / bag.TAGMANIFEST
    lines = path.read_text().splitlines()
    lines = [("0" * 64 + l[64:]) if l.endswith(bag.MANIFEST) else l for l in lines]
    path.write_text("\n".join(lines) + "\n")


def many_tiny_files(count: int):
    def build(root, outside):
        folder = root / "data" / "inputs" / "many"
        folder.mkdir(parents=True)
        for i in range(count):
            (folder / f"{i:06d}.txt").write_bytes(b"%d\n" % i)
        seal(root)
        (folder / f"{count - 1:06d}.txt").write_bytes(b"%d\n" % (count + 8))  # same size, one byte changed
    return build


def folder_where_a_file_is_listed(root, outside):
    folder = root / "data" / "inputs" / "table.csv"
    folder.mkdir(parents=True)
    (folder / "part-0.csv").write_bytes(b"a,b\n")
    seal(root)
    add_manifest_lines(root, f"{CSV_SHA}  data/inputs/table.csv")
    set_oxum(root, *_oxum(root, extra=4, files=1))


def ref_outside_the_specs(root, outside):
    """A spec $ref-ing a file beside the deposit; every checksum rewritten."""
    for spec in ("specs", "original/specs"):
        path = root / "data" / spec / "workflow.yml"
        path.write_text(path.read_text().replace("$ref: 'steps.yml#/greet'", f"$ref: '../../../{outside.name}#/greet'"))
    seal(root)


def ref_to_a_device(root, outside):
    for spec in ("specs", "original/specs"):
        path = root / "data" / spec / "workflow.yml"
        path.write_text(path.read_text().replace("$ref: 'steps.yml#/greet'", "$ref: '/dev/zero#/greet'"))
    seal(root)


def workflow_file_outside(root, outside):
    edit_manifest(root, lambda m: m["workflow"].update(file=f"../../{outside.name}"))
    seal(root)


def blob_digest_leaves_the_layout(root, outside):
    """Images promised; the image manifest the lock names is present and genuine in form, but its
    config 'digest' is a path out of the layout (run would stream that file into docker load)."""
    layout = root / "data" / "images"
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    evil = image_manifest(f"sha256:../../../../../{outside.name}")
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}\n')
    manifest = json.loads((root / "data" / "recast-archive.json").read_text())
    digest = "sha256:" + sha(evil)
    reference = manifest["images"][0]["reference"].replace(IMAGE_DIGEST, digest)
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": len(evil),
         "annotations": {"org.opencontainers.image.ref.name": reference}}]}) + "\n")
    (blobs / digest.split(":")[1]).write_bytes(evil)

    def change(m):
        m["images_included"] = True
        m["images"][0].update(reference=reference, digest=digest)
    edit_manifest(root, change)
    for spec in ("specs",):
        path = root / "data" / spec / "steps.yml"
        path.write_text(path.read_text().replace(IMAGE_DIGEST, digest))
    seal(root)


def _oxum(root: Path, extra: int, files: int) -> tuple[int, int]:
    octets, count = bag.payload_oxum(root)
    return octets + extra, count + files


NOT_ON_A_PORTAL = "a portal stores files only: no links, FIFOs or folders of its own"

CASES = [
    Case("dotdot-in-manifest", "manifest lists data/../../outside.txt", dotdot_in_manifest, "leads outside the bag (..)",
         fixed="was reported as 'listed but missing' after a path outside was looked up; now refused by path (bag.path_problem)"),
    Case("absolute-in-manifest", "manifest lists the absolute path of a file outside", absolute_in_manifest, "an absolute path"),
    Case("dotdot-in-tagmanifest", "tag manifest lists ../outside.txt", dotdot_in_tagmanifest, "leads outside the bag (..)",
         fixed="verify and pull hashed the file outside the bag (any size); now refused unread"),
    Case("absolute-in-tagmanifest", "tag manifest lists /dev/zero", absolute_in_tagmanifest, "an absolute path"),
    Case("symlink-outside", "data/inputs/secret.txt -> a file outside, listed with its sha256", symlink_outside, "a symbolic link",
         pull=None, pull_why=NOT_ON_A_PORTAL,
         fixed="verify passed (the link was hashed through) and run read the file outside; now refused (bag.irregular)"),
    Case("symlink-inside", "data/alias.json -> workflow.json, listed", symlink_inside, "a symbolic link",
         pull=None, pull_why=NOT_ON_A_PORTAL, fixed="verify passed; now refused: portals and other machines keep files only"),
    Case("symlink-folder-outside", "data/escape -> the folder outside", symlink_folder_outside, "a symbolic link",
         pull=None, pull_why=NOT_ON_A_PORTAL, fixed="verify passed (os.walk skips a linked folder silently); now refused"),
    Case("tag-file-symlink", "bag-info.txt -> a file outside", tag_file_symlink, "a symbolic link",
         pull=None, pull_why=NOT_ON_A_PORTAL),
    Case("fifo", "a FIFO in data/, listed", fifo_in_payload, "not a regular file", pull=None, pull_why=NOT_ON_A_PORTAL,
         fixed="verify blocked forever opening it; now refused without opening"),
    Case("duplicate", "the same manifest line twice", duplicate_entry, "listed twice"),
    Case("duplicate-case", "data/workflow.json and data/Workflow.json", duplicate_by_case, "differ only in case",
         fixed="reported as 'missing' only; now named as a case collision"),
    Case("duplicate-dot", "data/workflow.json and ./data/workflow.json", duplicate_by_dot_prefix, "not a canonical path",
         fixed="reported as 'missing' only; now refused as a non-canonical name"),
    Case("duplicate-nfc-nfd", "café.txt in NFC and in NFD, two files", duplicate_nfc_nfd, "Unicode normalisation",
         fixed="verify passed: two names one file on macOS; now refused"),
    Case("nfd-on-disk", "manifest says NFC café.txt, the file is NFD", nfd_on_disk, "another case or Unicode normalisation"),
    Case("missing-file", "manifest lists data/inputs/ghost.txt, absent", missing_file, "listed in manifest-sha256.txt but missing",
         pull="listed in manifest-sha256.txt but not on the portal"),
    Case("zeros-1g", "1 GiB of zeros, wrong sha256, Payload-Oxum counting 6 bytes", zeros_claimed_small, "more than the whole payload",
         fixed="verify hashed the whole GiB before refusing and pull downloaded it; both now refuse on sizes, unread"),
    Case("manifest-1g-zeros", "manifest-sha256.txt is 1 GiB of zeros (tag manifest agrees)", manifest_of_zeros, "longer than",
         fixed="verify read the GiB into memory (read_text); now read line by line, a line bounded at 64 KiB"),
    Case("bag-info-tampered", "bag-info.txt edited, tag manifest not", bag_info_tampered, "bag-info.txt: sha256 differs"),
    Case("tagmanifest-tampered", "tag manifest's line for the manifest altered", tagmanifest_tampered, "sha256 differs from tagmanifest"),
    Case("many-tiny-files", f"{MANY} tiny files, one changed (on the portal: {PULL_MANY})", many_tiny_files(MANY),
         "sha256 differs from manifest-sha256.txt", pull="sha256 differs from the bag's manifest"),
    Case("folder-for-file", "manifest lists data/inputs/table.csv, which is a folder", folder_where_a_file_is_listed,
         "is a folder, not a file", pull="listed in manifest-sha256.txt but not on the portal"),
    Case("ref-outside", "a spec $refs a file beside the deposit (checksums rewritten)", ref_outside_the_specs,
         "outside the deposit's specs/", consistent=True, fixed="verify read the spec outside the deposit; now refused"),
    Case("ref-to-device", "a spec $refs /dev/zero (checksums rewritten)", ref_to_a_device, "workflow.yml:11:20: $ref '/dev/zero#/greet': /dev/zero is not a regular file",
         consistent=True, fixed="verify hung reading /dev/zero (the loader, yadage2x validate too); now refused"),
    Case("workflow-file-outside", "recast-archive.json's workflow.file is ../../outside (checksums rewritten)",
         workflow_file_outside, "workflow/file", consistent=True,
         fixed="verify loaded the workflow from outside the deposit; the schema now requires specs/..."),
    Case("blob-digest-outside", "an image manifest's config digest is sha256:../../outside (checksums rewritten)",
         blob_digest_leaves_the_layout, "not a sha256 digest", consistent=True,
         fixed="verify passed and run would stream the file outside into docker load; digests are now checked (images.blob_path)"),
]
# portal-only cases: keys no bag on disk can have (the portal itself refuses keys with '..', '.' or
# empty parts with a 400; pull refuses them too: tests/test_portal.py)
PORTAL_KEYS = {
    "key-file-and-folder": ("data/workflow.json/x", "both a file and the folder of"),
}
CLIMBING_KEYS = ["../outside.txt", "data/../../outside.txt", "data/./x", "data//x"]


# on a portal each file is an HTTP round trip: the many-files case is smaller there
PULL_BUILDS = {"many-tiny-files": many_tiny_files(PULL_MANY)}


def build(case: Case, base: Path, sandbox: Path, for_pull: bool = False) -> tuple[Path, Path]:
    """sandbox/deposit (the case) and sandbox/outside.txt (what must stay untouched and unread)."""
    outside = sandbox / "outside.txt"
    outside.write_text("greet: {process: {process_type: string-interpolated-cmd, cmd: 'echo outside'}}\n")
    deposit = sandbox / "deposit"
    shutil.copytree(base, deposit, symlinks=True)
    (PULL_BUILDS.get(case.name, case.build) if for_pull else case.build)(deposit, outside)
    return deposit, outside


def snapshot(folder: Path, skip: Path | None = None) -> dict[str, tuple]:
    """What is in a folder (names, kinds, sizes, times): compared before and after a command."""
    found = {}
    for base, dirs, names in os.walk(folder):
        if skip is not None:
            dirs[:] = [d for d in dirs if Path(base, d) != skip]
        for name in dirs + names:
            path = Path(base, name)
            if path == skip:
                continue
            st = path.lstat()
            found[path.relative_to(folder).as_posix()] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return found


# ------------------------------------------------------------------------------------------------
# a portal holding a case: plain HTTP, so that nothing on the client side refuses it first

def url_key(key: str) -> str:
    """A key as a URL path, dots escaped too: HTTP clients drop '..' segments, the test wants them sent."""
    from urllib.parse import quote

    return quote(key, safe="/").replace(".", "%2E")


def upload(portal, deposit: Path | None, extra: dict[str, bytes | Path] | None = None) -> str:
    """Create a draft on the portal and put every non-empty regular file of the bag in it (and
    `extra` {key: bytes or file}); returns the deposit id."""
    draft = portal.api("POST", "deposits/", json={"$ana_type": "recast-archive"}).json()
    bucket = draft["links"]["bucket"]
    files = {}
    for base, _, names in os.walk(deposit) if deposit else ():
        for name in names:
            path = Path(base, name)
            if path.is_file() and not path.is_symlink() and path.stat().st_size:
                files[path.relative_to(deposit).as_posix()] = path
    for key, content in {**files, **(extra or {})}.items():
        body = content.open("rb") if isinstance(content, Path) else content
        try:
            response = portal.api("PUT", f"{bucket}/{url_key(key)}", data=body,
                                  headers={"Content-Type": "application/octet-stream"})
        finally:
            if isinstance(content, Path):
                body.close()
        response.raise_for_status()
    return draft["id"]


def packed(deposit: Path, target: Path) -> Path:
    """The deposit as one .tar.gz (push --packed's layout: members under NAME/), links and FIFOs
    stored as they are; 1 GiB of zeros becomes about 1 MB."""
    import tarfile

    with tarfile.open(target, "w:gz", compresslevel=1) as tar:
        tar.add(deposit, arcname=deposit.name)
    return target


# ------------------------------------------------------------------------------------------------
# the figures for docs/hardening.md

# recast-archive as its console script runs it, reporting at exit its own peak memory (VmHWM: the
# wait4/getrusage figure would include the parent's memory at fork, pytest's included)
LAUNCHER = """
import atexit, os, sys
def report():
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(os.environ["HOSTILE_PEAK_FILE"], "w") as out:
        out.write(peak)
atexit.register(report)
from recast_archive.cli import main
sys.argv[0] = "recast-archive"
sys.exit(main())
"""


def run_measured(args: list, env: dict, timeout: float = 300) -> tuple[int, list[str], float, float]:
    """(exit status, stderr lines, seconds, peak RSS in MB) of `recast-archive ARGS` run in a
    process of its own; one still running after `timeout` seconds is killed (status -9)."""
    import subprocess
    import tempfile
    import time

    start = time.monotonic()
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile(prefix="hostile-peak-") as peak:
        process = subprocess.Popen([sys.executable, "-c", LAUNCHER, *map(str, args)], stdout=subprocess.DEVNULL,
                                   stderr=err, env={**env, "HOSTILE_PEAK_FILE": peak.name})
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        err.seek(0)
        lines = err.read().decode(errors="replace").splitlines()
        reported = Path(peak.name).read_text()
    return process.returncode, lines, time.monotonic() - start, int(reported or 0) / 1024


def main() -> None:
    """The table of docs/hardening.md: every case through verify, run and pull."""
    import tempfile

    from portal_support import start_portal, stop_portal

    with tempfile.TemporaryDirectory(prefix="hostile-") as scratch:
        scratch = Path(scratch)
        base = base_deposit(scratch / "base")
        (scratch / "portal").mkdir()
        portal = start_portal(scratch / "portal" / "data", scratch / "portal" / "faults.txt")
        env = {**os.environ, "RECAST_PORTAL_URL": portal.url, "RECAST_PORTAL_TOKEN": portal.token("alice@example.org"),
               "RECAST_PORTAL_RETRIES": "0", "XDG_CACHE_HOME": str(scratch / "cache"),
               "RECAST_ARCHIVE_CONFIG": str(scratch / "none.ini")}
        print("| case | verify: status, s, MB | run | pull |")
        print("|---|---|---|---|")
        try:
            for case in CASES:
                cells = []
                sandbox = scratch / case.name
                sandbox.mkdir()
                deposit, _ = build(case, base, sandbox)
                for argv in (["verify", deposit], ["run", deposit, "-w", sandbox / "work"]):
                    code, _, seconds, rss = run_measured(argv, env)
                    cells.append(f"{code}, {seconds:.1f}, {rss:.0f}")
                shutil.rmtree(sandbox)
                if case.pull is None:
                    cells.append("n/a (links, FIFOs)")
                else:
                    sandbox.mkdir()
                    pid = upload(portal, build(case, base, sandbox, for_pull=True)[0])
                    code, _, seconds, rss = run_measured(["pull", pid, "-o", sandbox / "pulled"], env)
                    cells.append(f"{code}, {seconds:.1f}, {rss:.0f}")
                    portal.api("DELETE", f"deposits/{pid}")
                    shutil.rmtree(sandbox)
                print(f"| {case.name} | " + " | ".join(cells) + " |", flush=True)
        finally:
            stop_portal(portal)


if __name__ == "__main__":
    main()
