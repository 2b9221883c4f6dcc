"""BagIt 1.0 (RFC 8493) with sha256 manifests: writing the tag files and checking a bag.

Written here rather than with bagit-python: that library writes BagIt 0.97, moves files in place
and hashes in worker processes; a deposit needs 1.0, files hashed once while they are copied in,
and problems reported one per file. The tests check our bags with bagit-python's validator.
Everything streams in fixed-size blocks, so memory stays flat whatever the deposit's size.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

from .progress import Meter

BLOCK = 1 << 20
ALGORITHM = "sha256"
BAGIT_TXT = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
MANIFEST = f"manifest-{ALGORITHM}.txt"
TAGMANIFEST = f"tagmanifest-{ALGORITHM}.txt"
TAG_FILES = ("bagit.txt", "bag-info.txt", MANIFEST)


def hash_file(path: Path, meter: Meter | None = None) -> tuple[int, str]:
    """Size and sha256 of a file, read in blocks into one reused buffer."""
    digest, size = hashlib.sha256(), 0
    buffer = bytearray(BLOCK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while n := handle.readinto(buffer):
            digest.update(view[:n])
            size += n
            if meter:
                meter.advance(n)
    return size, digest.hexdigest()


def copy_hashing(source: Path, target: Path, meter: Meter | None = None, link: bool = False) -> tuple[int, str]:
    """Put a copy of ``source`` at ``target`` and hash the copy (what the deposit holds).

    The copy is made in the kernel (copy_file_range: no pass through Python, a reflink where the
    file system can), then hashed from the page cache; with ``link``, a hard link where source and
    target share a file system (no bytes written at all; a later in-place edit of the original
    then changes the deposit, which verify reports)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if link:
        try:
            os.link(source, target)
            return hash_file(target, meter)
        except OSError:
            pass  # another file system: copy
    with open(source, "rb", buffering=0) as src, open(target, "wb", buffering=0) as dst:
        left = os.fstat(src.fileno()).st_size
        try:
            while left > 0:
                done = os.copy_file_range(src.fileno(), dst.fileno(), min(left, 1 << 30))
                if not done:
                    break
                left -= done
        except OSError:  # not supported here: copy through user space
            src.seek(0)
            dst.seek(0)
            dst.truncate()
            shutil.copyfileobj(src, dst, BLOCK)
    return hash_file(target, meter)


def in_parallel(function, jobs: list[tuple], workers: int | None = None) -> list:
    """``function(*job)`` for every job, on a few threads: hashlib and file copies release the
    GIL, so files hash on every core; results in the jobs' order. Memory: one buffer per thread."""
    workers = workers or min(4, os.cpu_count() or 1)
    if workers == 1 or len(jobs) < 2:
        return [function(*job) for job in jobs]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda job: function(*job), jobs))


def encode_path(path: str) -> str:
    """RFC 8493 §2.1.3: CR, LF and % in a manifest path are percent-encoded."""
    return path.replace("%", "%25").replace("\n", "%0A").replace("\r", "%0D")


def decode_path(path: str) -> str:
    return path.replace("%0A", "\n").replace("%0a", "\n").replace("%0D", "\r").replace("%0d", "\r").replace("%25", "%")


def write_tag_files(root: Path, payload: dict[str, tuple[int, str]], agent: str) -> None:
    """Write bagit.txt, bag-info.txt and both manifests for ``payload`` ({"data/...": (size, sha256)})."""
    (root / "bagit.txt").write_text(BAGIT_TXT, encoding="utf-8")
    octets = sum(size for size, _ in payload.values())
    (root / "bag-info.txt").write_text(
        f"Bag-Software-Agent: {agent}\nBagging-Date: {date.today().isoformat()}\n"
        f"Payload-Oxum: {octets}.{len(payload)}\n",
        encoding="utf-8",
    )
    lines = "".join(f"{sha}  {encode_path(path)}\n" for path, (_, sha) in sorted(payload.items()))
    (root / MANIFEST).write_text(lines, encoding="utf-8")
    tags = "".join(f"{hash_file(root / name)[1]}  {name}\n" for name in TAG_FILES)
    (root / TAGMANIFEST).write_text(tags, encoding="utf-8")


def read_manifest(root: Path, name: str, problems: list[str]) -> dict[str, str]:
    """{path: sha256} from a manifest file; malformed lines become problems."""
    entries: dict[str, str] = {}
    try:
        text = (root / name).read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(f"{root / name}: missing")
        return entries
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{root / name}: unreadable ({exc})")
        return entries
    for number, line in enumerate(text.splitlines(), 1):
        sha, sep, path = line.partition(" ")
        path = decode_path(path.lstrip(" *"))
        if not sep or len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha.lower()) or not path:
            problems.append(f"{root / name}:{number}: not '<sha256> <path>'")
            continue
        if path in entries:
            problems.append(f"{root / name}:{number}: {path} listed twice")
        entries[path] = sha.lower()
    return entries


def payload_files(root: Path) -> list[str]:
    """Every file below data/, as bag-relative '/'-separated paths (symbolic links count as files)."""
    found = []
    for base, dirs, names in os.walk(root / "data"):
        dirs.sort()
        for name in sorted(names):
            found.append(Path(base, name).relative_to(root).as_posix())
    return found


def check(root: Path, meter: Meter | None = None) -> tuple[list[str], dict[str, str]]:
    """Check a bag: declaration, tag manifest, every payload file against the manifest, no file
    missing or extra, Payload-Oxum. Returns the problems and the manifest ({path: sha256})."""
    problems: list[str] = []
    declaration = root / "bagit.txt"
    if not declaration.is_file():
        problems.append(f"{declaration}: missing (not a BagIt bag)")
        return problems, {}
    if declaration.read_text(encoding="utf-8", errors="replace") != BAGIT_TXT:
        problems.append(f"{declaration}: not the BagIt 1.0 declaration")
    tags = read_manifest(root, TAGMANIFEST, problems)
    for name in TAG_FILES:
        if name not in tags:
            problems.append(f"{root / TAGMANIFEST}: does not list {name}")
    for name, sha in tags.items():
        path = root / name
        if not path.is_file():
            problems.append(f"{path}: listed in {TAGMANIFEST} but missing")
        elif hash_file(path)[1] != sha:
            problems.append(f"{path}: sha256 differs from {TAGMANIFEST}")
    manifest = read_manifest(root, MANIFEST, problems)
    present = payload_files(root)
    for path in sorted(set(manifest) - set(present)):
        problems.append(f"{root / path}: listed in {MANIFEST} but missing")
    for path in sorted(set(present) - set(manifest)):
        problems.append(f"{root / path}: not listed in {MANIFEST} (added after packing?)")
    if meter:
        meter.total(sum(os.path.getsize(root / p) for p in present if p in manifest))
    listed = [path for path in present if path in manifest]
    hashed = in_parallel(hash_file, [(root / path, meter) for path in listed])
    octets, count = sum(size for size, _ in hashed), len(hashed)
    for path, (_, sha) in zip(listed, hashed):
        if sha != manifest[path]:
            problems.append(f"{root / path}: sha256 differs from {MANIFEST} (file changed or corrupt)")
    oxum = _info(root).get("Payload-Oxum")
    if oxum and not problems and oxum != f"{octets}.{count}":
        problems.append(f"{root / 'bag-info.txt'}: Payload-Oxum {oxum} but the payload is {octets}.{count}")
    return problems, manifest


def _info(root: Path) -> dict[str, str]:
    try:
        text = (root / "bag-info.txt").read_text(encoding="utf-8")
    except OSError:
        return {}
    info = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    return info
