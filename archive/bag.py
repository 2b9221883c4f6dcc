"""BagIt 1.0 (RFC 8493) with sha256 manifests: writing the tag files and checking a bag.

Written here rather than with bagit-python: that library writes BagIt 0.97, moves files in place
and hashes in worker processes; a deposit needs 1.0, files hashed once while they are copied in,
and problems reported one per file. The tests check our bags with bagit-python's validator.
Everything streams in fixed-size blocks, so memory stays flat whatever the deposit's size.
"""
from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import stat
import unicodedata
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
MAX_LINE = 64 << 10  # a manifest line names one file: anything longer is not a manifest
MAX_INFO = 1 << 20  # bag-info.txt holds a few fields


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


def path_problem(path: str, payload: bool) -> str | None:
    """Why a path from a manifest may not be used (None: it may). A bag's paths are relative,
    '/'-separated and canonical, so that one file has one name and no name leads out of the bag;
    payload paths lie below data/, tag files outside it."""
    if path.startswith("/") or "\\" in path or re.match(r"[A-Za-z]:", path):
        return "an absolute path (a bag lists paths relative to itself)"
    if "\0" in path:
        return "a NUL character in the name"
    parts = path.split("/")
    if ".." in parts:
        return "leads outside the bag (..)"
    if "" in parts or "." in parts:
        return "not a canonical path (./, // or a trailing /)"
    if payload and (parts[0] != "data" or len(parts) < 2):
        return "a payload path outside data/"
    if not payload and parts[0] == "data":
        return "a tag file inside data/"
    return None


def name_key(path: str) -> str:
    """Names that one file system keeps apart and another merges (case, Unicode NFC/NFD: macOS,
    Windows) share this key: two such names in one bag would become one file on a laptop."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", path).casefold())


def open_regular(path: Path):
    """Open a regular file for reading; a symbolic link, FIFO or device is refused (OSError)
    without blocking or following it."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file")
    return os.fdopen(fd, "rb")


def read_manifest(root: Path, name: str, problems: list[str]) -> dict[str, str]:
    """{path: sha256} from a manifest file; malformed, unsafe and duplicate lines become problems
    (and are left out). Read line by line with a bound on the line, so memory stays small
    whatever the file holds."""
    entries: dict[str, str] = {}
    keys: dict[str, tuple[int, str]] = {}
    payload = name.startswith("manifest-")
    try:
        handle = open_regular(root / name)
    except FileNotFoundError:
        problems.append(f"{root / name}: missing")
        return entries
    except OSError as exc:
        problems.append(f"{root / name}: unreadable ({exc.strerror})")
        return entries
    with handle:
        number = 0
        while raw := handle.readline(MAX_LINE + 1):
            number += 1
            if len(raw) > MAX_LINE:
                problems.append(f"{root / name}:{number}: a line longer than {MAX_LINE} bytes (not a manifest); stopped reading")
                break
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                problems.append(f"{root / name}:{number}: not UTF-8")
                continue
            sha, sep, path = line.partition(" ")
            path = decode_path(path.lstrip(" *"))
            if not sep or len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha.lower()) or not path:
                problems.append(f"{root / name}:{number}: not '<sha256> <path>'")
                continue
            why = path_problem(path, payload)
            if why:
                problems.append(f"{root / name}:{number}: {path!r}: {why}")
                continue
            key = name_key(path)
            if key in keys:
                first, other = keys[key]
                how = "" if other == path else f" (as {other!r}: names that differ only in case or Unicode normalisation are one file on macOS and Windows)"
                problems.append(f"{root / name}:{number}: {path} listed twice, first on line {first}{how}")
                continue
            keys[key] = (number, path)
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


def irregular(root: Path) -> dict[str, str]:
    """{bag-relative path: what it is} for everything in the bag that is neither a regular file nor
    a folder: symbolic links (inside the bag or out: a deposit moves between machines and portals,
    which keep files only), FIFOs (reading one blocks forever), devices, sockets."""
    found = {}
    for base, dirs, names in os.walk(root):
        for name in dirs + names:
            path = Path(base, name)
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                found[path.relative_to(root).as_posix()] = f"a symbolic link (to {os.readlink(path)})"
            elif not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                found[path.relative_to(root).as_posix()] = "not a regular file (a FIFO, device or socket)"
    return found


def payload_oxum(root: Path) -> tuple[int, int] | None:
    """(octets, files) from bag-info.txt's Payload-Oxum; None when absent or malformed."""
    return oxum_of(_info(root))


def oxum_of(info: dict[str, str]) -> tuple[int, int] | None:
    found = re.fullmatch(r"(\d+)\.(\d+)", info.get("Payload-Oxum", ""))
    return (int(found.group(1)), int(found.group(2))) if found else None


def check(root: Path, meter: Meter | None = None) -> tuple[list[str], dict[str, str]]:
    """Check a bag: only regular files, declaration, tag manifest, every payload file against the
    manifest, no file missing or extra, Payload-Oxum. Returns the problems and the manifest
    ({path: sha256}). Sizes are compared with Payload-Oxum before anything is hashed: a file larger
    than the whole payload the bag declares is refused at once, not read."""
    problems: list[str] = []
    declaration = root / "bagit.txt"
    if not declaration.is_file() and not declaration.is_symlink():
        return [f"{declaration}: missing (not a BagIt bag)"], {}
    odd = irregular(root)
    problems += [f"{root / path}: {what}; a deposit holds only regular files and folders" for path, what in odd.items()]
    if "bagit.txt" in odd:
        return problems, {}
    with open_regular(declaration) as handle:
        if handle.read(len(BAGIT_TXT) + 1) != BAGIT_TXT.encode():
            problems.append(f"{declaration}: not the BagIt 1.0 declaration")
    tags = read_manifest(root, TAGMANIFEST, problems)
    for name in TAG_FILES:
        if name not in tags:
            problems.append(f"{root / TAGMANIFEST}: does not list {name}")
    for name, sha in tags.items():
        path = root / name
        if name in odd:
            continue
        if not path.is_file():
            problems.append(f"{path}: listed in {TAGMANIFEST} but missing" + (" (it is a folder, not a file)" if path.is_dir() else ""))
        elif hash_file(path)[1] != sha:
            problems.append(f"{path}: sha256 differs from {TAGMANIFEST}")
    manifest = read_manifest(root, MANIFEST, problems)
    present = [path for path in payload_files(root) if path not in odd]
    by_key = {name_key(path): path for path in present}
    missing = sorted(set(manifest) - set(present) - set(odd))
    for path in missing:
        other = by_key.get(name_key(path))
        hint = f" (the bag has {other!r}: the same name in another case or Unicode normalisation)" if other else ""
        if (root / path).is_dir():
            hint = " (it is a folder, not a file)"
        problems.append(f"{root / path}: listed in {MANIFEST} but missing{hint}")
    for path in sorted(set(present) - set(manifest)):
        problems.append(f"{root / path}: not listed in {MANIFEST} (added after packing?)")
    listed = [path for path in present if path in manifest]
    sizes = {path: os.path.getsize(root / path) for path in listed}
    octets, count = sum(sizes.values()), len(listed)
    oxum = payload_oxum(root)
    if oxum is None:
        problems.append(f"{root / 'bag-info.txt'}: no Payload-Oxum (octets.files); a deposit always records one")
        return problems, manifest
    # a file larger than the whole payload the bag declares is refused unread; the rest is hashed
    # (each within the declared size), so that a changed file is still named
    oversized = [path for path in listed if sizes[path] > oxum[0]]
    for path in oversized:
        problems.append(f"{root / path}: {sizes[path]} bytes, more than the whole payload in bag-info.txt's "
                        f"Payload-Oxum ({oxum[0]} bytes); not read")
    listed = [path for path in listed if path not in oversized]
    if meter:
        meter.total(sum(sizes[path] for path in listed))
    hashed = in_parallel(hash_file, [(root / path, meter) for path in listed])
    for path, (_, sha) in zip(listed, hashed):
        if sha != manifest[path]:
            problems.append(f"{root / path}: sha256 differs from {MANIFEST} (file changed or corrupt)")
    if not missing and oxum != (octets, count):
        problems.append(f"{root / 'bag-info.txt'}: Payload-Oxum says {oxum[0]} bytes in {oxum[1]} files, "
                        f"the payload is {octets} bytes in {count} files")
    return problems, manifest


def _info(root: Path) -> dict[str, str]:
    """bag-info.txt's fields (the first MAX_INFO bytes: it is a few lines)."""
    try:
        with open_regular(root / "bag-info.txt") as handle:
            return parse_info(handle.read(MAX_INFO))
    except OSError:
        return {}


def parse_info(raw: bytes) -> dict[str, str]:
    text = raw.decode("utf-8", errors="replace")
    info = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    return info
