"""push: a BagIt bag to a portal deposit, file by file (or packed as one tar); pull: back again.

Both check every byte twice: md5 against the checksum the portal reports (CAP's files store computes
md5 while it receives), sha256 against the bag's own manifests. Both are computed while the bytes
stream past, so each file is read once.

push resumes: the draft it creates is remembered (in the user's cache directory, keyed by portal and
payload manifest; never the token), and a re-run uploads only the files the portal does not already
hold with the right md5. pull writes into a hidden `.NAME.partial` folder beside the target, keeps
what it verified when it fails (a re-run resumes from there) and renames the folder to NAME only
once the whole bag checks out: nothing that looks like a complete deposit appears before that.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .. import bag
from ..progress import Meter, meter
from .client import Client, attempts, reason
from .config import PortalError, Settings
from .streams import BLOCK, HashingReader, HashingWriter, hashes

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
PACKED_SUFFIXES = (".tar", ".tar.gz", ".tgz")
TAG_ORDER_LAST = ("tagmanifest-", "bagit.txt")  # uploaded last: a bag without them is visibly incomplete


class Refused(PortalError):
    """The deposit on the portal is itself bad (unsafe names, sizes or checksums that disagree with
    its manifests): pull keeps nothing of it, since a re-run would fetch the same."""


@dataclass
class LocalFile:
    key: str            # bag-relative path, '/'-separated: the object key on the portal
    path: Path
    size: int
    sha256: str | None  # from the bag's manifests (None for a tag file no tag manifest lists)


@dataclass
class PushResult:
    pid: str
    recid: str | None
    uploaded: int
    skipped: int


def in_parallel(settings: Settings, work, items: list) -> None:
    """work(client, item) for every item, `settings.jobs` at a time, each thread with an HTTP session
    of its own. After a failure no new item starts (those under way finish); the failure is raised.
    Why: on two cores shared with the server, two files at a time keep both cores busy with the
    hashing that one stream leaves to a single core."""
    if settings.jobs == 1 or len(items) < 2:
        client = Client(settings)
        for item in items:
            work(client, item)
        return
    local, failed = threading.local(), threading.Event()

    def run(item):
        if failed.is_set():
            return
        if not hasattr(local, "client"):
            local.client = Client(settings)
        try:
            work(local.client, item)
        except BaseException:
            failed.set()
            raise

    with ThreadPoolExecutor(settings.jobs) as pool:
        futures = [pool.submit(run, item) for item in items]
    for future in futures:
        future.result()


# ------------------------------------------------------------------------------------------------
# push

def bag_files(root: Path) -> list[LocalFile]:
    """Every file of the bag in upload order (payload, other tag files, tag manifest, bagit.txt),
    after the cheap checks: a BagIt declaration, readable manifests, payload == manifest."""
    if not (root / "bagit.txt").is_file():
        raise PortalError(f"{root}: not a BagIt bag (no bagit.txt)")
    problems: list[str] = []
    manifest = bag.read_manifest(root, bag.MANIFEST, problems)
    tags = bag.read_manifest(root, bag.TAGMANIFEST, problems) if (root / bag.TAGMANIFEST).exists() else {}
    present = bag.payload_files(root)
    problems += [f"{root / p}: listed in {bag.MANIFEST} but missing" for p in sorted(set(manifest) - set(present))]
    problems += [f"{root / p}: not listed in {bag.MANIFEST}" for p in sorted(set(present) - set(manifest))]
    if problems:
        raise PortalError(f"{problems[0]}" + (f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""))
    payload = [LocalFile(p, root / p, (root / p).stat().st_size, manifest[p]) for p in present]
    others = []
    for base, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not (base == str(root) and d == "data"))
        for name in sorted(names):
            key = Path(base, name).relative_to(root).as_posix()
            others.append(LocalFile(key, Path(base, name), Path(base, name).stat().st_size, tags.get(key)))
    others.sort(key=lambda f: (any(f.key.startswith(t) for t in TAG_ORDER_LAST), f.key == "bagit.txt", f.key))
    return payload + others


def payload_fingerprint(root: Path) -> str:
    return hashlib.sha256((root / bag.MANIFEST).read_bytes()).hexdigest()


def state_file(settings: Settings, root: Path, layout: str) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    key = hashlib.sha256(f"{settings.portal}\n{layout}\n{payload_fingerprint(root)}".encode()).hexdigest()[:32]
    return base / "recast-archive" / "push" / f"{key}.json"


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def deposit_metadata(root: Path, schema: str, title: str, layout: str, files: list[LocalFile]) -> dict:
    """basic_info and workflows[] are fields CAP's analysis schemas have (atlas-analysis among
    them); `deposit`, what push knows of the bag, only our own deposit type has."""
    metadata: dict = {"basic_info": {"analysis_title": title}}
    if schema == "recast-archive":
        metadata["deposit"] = {
            "format": "bagit-1.0", "layout": layout, "payload_sha256": payload_fingerprint(root),
            "files": len(files), "bytes": sum(f.size for f in files),
        }
    workflow = root / "data" / "workflow.json"  # docs/archive.md: what CAP's workflows[].workflow takes
    if workflow.is_file() and workflow.stat().st_size < 4 << 20:
        try:
            metadata["workflows"] = [{"workflow_title": title, "workflow": json.loads(workflow.read_text("utf-8"))}]
        except ValueError:
            pass
    return metadata


def push(settings: Settings, root: Path, *, publish: bool = False, packed: bool = False, schema: str = "recast-archive",
         title: str | None = None, deposit_id: str | None = None, new: bool = False) -> PushResult:
    client = Client(settings)
    root = Path(root)
    files = bag_files(root)
    layout = "packed" if packed else "files"
    state = state_file(settings, root, layout)
    draft = None
    pid = deposit_id or (None if new else remembered_draft(state))
    if pid:
        draft = find_draft(client, pid, explicit=bool(deposit_id))
        if draft is not None and draft.get("status") == "published":
            return PushResult(draft["id"], draft.get("recid"), 0, len(files))
    if draft is None:
        metadata = deposit_metadata(root, schema, title or root.resolve().name, layout, files)
        draft = client.json("POST", client.api("deposits/"), f"{root}: creating the deposit", (201,),
                            payload={"$ana_type": schema, **metadata})
        write_atomically(state, json.dumps({"portal": settings.portal, "pid": draft["id"], "bag": str(root.resolve())}))
    pid, bucket = draft["id"], draft["links"]["bucket"]
    with tempfile.TemporaryDirectory(prefix="recast-archive-push-") as scratch:
        if packed:
            files = [pack(root, files, Path(scratch))]
        else:
            files = [f for f in files if f.size > 0]  # CAP refuses empty files; pull recreates them from the manifest
        uploaded, skipped = upload_all(client, settings, root, pid, bucket, files, remote_files(draft))
    recid = None
    if publish:
        published = client.json("POST", client.api(f"deposits/{pid}/actions/publish"), f"{root}: publishing deposit {pid}", (202,))
        recid = published.get("recid")
    return PushResult(pid, recid, uploaded, skipped)


def remembered_draft(state: Path) -> str | None:
    try:
        return json.loads(state.read_text("utf-8"))["pid"]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # none, or unreadable: a new draft is the safe answer


def find_draft(client: Client, pid: str, explicit: bool) -> dict | None:
    if not re.fullmatch(r"[\w.-]+", pid):
        raise PortalError(f"not a deposit id: {pid!r}")
    response = client.request("GET", client.api(f"deposits/{pid}"), f"deposit {pid}", (200, 403, 404),
                              headers={"Accept": "application/json"})
    if response.status_code == 200:
        return response.json()
    if explicit:
        raise PortalError(f"deposit {pid}: {client.explain(response)}")
    return None  # the remembered draft is gone (deleted on the portal): start a new one


def remote_files(deposit: dict) -> dict[str, tuple[int, str]]:
    return {f["key"]: (f["size"], f["checksum"]) for f in deposit.get("files", [])}


def upload_all(client: Client, settings: Settings, root: Path, pid: str, bucket: str, files: list[LocalFile],
               remote: dict[str, tuple[int, str]]) -> tuple[int, int]:
    wanted = {f.key for f in files}
    strangers = sorted(set(remote) - wanted)
    if strangers:
        raise PortalError(f"deposit {pid} holds files that are not in {root}: {', '.join(strangers[:5])}")
    todo = []
    for item in files:
        if item.key in remote and remote[item.key][0] == item.size:
            md5, sha = hashes(item.path)
            if remote[item.key][1] == f"md5:{md5}" and item.sha256 in (None, sha):
                continue  # already there: this is a resumed push
        todo.append(item)
    total = sum(f.size for f in todo)
    last = [f for f in todo if f.key.startswith(TAG_ORDER_LAST)]  # one after the other, after everything else
    with meter(f"push {root.name}", total) if settings.progress else nullcontext(Meter(None, None)) as progress:
        in_parallel(settings, lambda c, item: upload_one(c, settings, root, pid, bucket, item, progress),
                    [f for f in todo if f not in last])
        for item in last:
            upload_one(client, settings, root, pid, bucket, item, progress)
    return len(todo), len(files) - len(todo)


def upload_one(client: Client, settings: Settings, root: Path, pid: str, bucket: str, item: LocalFile, progress: Meter) -> None:
    what = f"{root}: uploading {item.key} to deposit {pid}"
    url = client.object_url(bucket, item.key)
    headers = {"Content-Type": "application/octet-stream"}
    if item.sha256:
        headers["X-CAP-File-Tags"] = f"sha256={item.sha256}"
    for attempt in range(settings.retries + 1):
        reader: list[HashingReader] = []

        def body():
            reader[:] = [HashingReader(item.path, item.size, progress.advance)]
            return reader[0]

        response = client.request("PUT", url, what, (200,), body=body, headers=headers)
        sent = reader[-1]
        if item.sha256 and sent.sha256.hexdigest() != item.sha256:
            client.request("DELETE", url, f"{what} (removing it again)", (204, 404))
            raise PortalError(f"{item.path}: sha256 differs from the bag's manifest (changed while pushing, or corrupt)")
        reported = response.json().get("checksum")
        if reported == f"md5:{sent.md5.hexdigest()}":
            return
        if attempt == settings.retries:
            raise PortalError(f"{what}: the portal reports {reported} but the file is md5:{sent.md5.hexdigest()} "
                              f"(gave up after {attempt + 1} upload{'s' if attempt else ''})")


def pack(root: Path, files: list[LocalFile], scratch: Path) -> LocalFile:
    """The whole bag as one deterministic tar (same bag, same bytes: a resumed push finds it
    already uploaded), its members under NAME/. Payload sha256 is checked while packing."""
    name = root.resolve().name
    target = scratch / f"{name}.bag.tar"

    def clean(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = 0
        info.mode = 0o644
        return info

    with tarfile.open(target, "w", format=tarfile.PAX_FORMAT) as tar:
        for item in sorted(files, key=lambda f: f.key):
            info = clean(tar.gettarinfo(item.path, f"{name}/{item.key}"))
            reader = HashingReader(item.path, item.size, lambda n: None)
            try:
                tar.addfile(info, reader)
            finally:
                reader.close()
            if item.sha256 and reader.sha256.hexdigest() != item.sha256:
                raise PortalError(f"{item.path}: sha256 differs from the bag's manifest (changed while pushing, or corrupt)")
    return LocalFile(target.name, target, target.stat().st_size, None)


# ------------------------------------------------------------------------------------------------
# pull

def pull(settings: Settings, ident: str, out: Path) -> tuple[int, int]:
    """Fetch deposit (32 hex digits) or record `ident` into the bag folder `out`; returns how many
    files were downloaded and how many an earlier, interrupted pull had already verified."""
    client = Client(settings)
    out = Path(out)
    if out.exists():
        raise PortalError(f"{out}: already exists (pull writes a new folder; remove it or choose another -o)")
    if not re.fullmatch(r"[\w.-]+", ident):
        raise PortalError(f"not a deposit or record id: {ident!r}")
    kind = "deposits" if re.fullmatch(r"[0-9a-f]{32}", ident) else "records"
    what = f"{kind[:-1]} {ident}"
    source = client.json("GET", client.api(f"{kind}/{ident}"), what)
    bucket = source["links"]["bucket"]
    remote = remote_files(source)
    for key in remote:
        safe_key(key, what)
    for key in remote:  # "data/x" and "data/x/y": one cannot be written beside the other
        folder = next((str(p) for p in PurePosixPath(key).parents if str(p) in remote), None)
        if folder:
            raise PortalError(f"{what}: {folder} is both a file and the folder of {key}")
    archives = [k for k in remote if k.endswith(PACKED_SUFFIXES)]
    if "bagit.txt" not in remote and len(archives) != 1:
        raise PortalError(f"{what}: not a bag: no bagit.txt among its {len(remote)} files, nor one .tar or .tar.gz")
    partial = out.parent / f".{out.name}.partial"
    partial.mkdir(parents=True, exist_ok=True)
    if "bagit.txt" in remote:
        try:
            downloaded = fetch_bag(settings, what, bucket, remote, partial)
            check_bag(partial, what)
        except Refused:  # the bag itself is bad: nothing fetched helps a re-run, so nothing is kept
            shutil.rmtree(partial, ignore_errors=True)
            raise
        os.replace(partial, out)
        return downloaded, len(remote) - downloaded
    downloaded = fetch_all(settings, what, bucket, {archives[0]: remote[archives[0]]}, partial, {})
    try:
        unpack(partial, archives[0], out, what)
    except Refused:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return downloaded, 1 - downloaded


def safe_key(key: str, what: str) -> None:
    """A portal names the files we write: refuse any key that would land outside the target."""
    path = PurePosixPath(key)
    if not key or path.is_absolute() or ".." in path.parts or "\\" in key or "\0" in key:
        raise PortalError(f"{what}: refusing unsafe file name {key!r}")


def fetch_bag(settings: Settings, what: str, bucket: str, remote: dict, partial: Path) -> int:
    # the manifests first, so each payload file is checked against its sha256 as it arrives
    tags = {k: v for k, v in remote.items() if "/" not in k}
    downloaded = fetch_all(settings, what, bucket, tags, partial, {})
    problems: list[str] = []
    expected = bag.read_manifest(partial, bag.MANIFEST, problems)
    payload = len(expected)
    if (partial / bag.TAGMANIFEST).exists():
        expected.update(bag.read_manifest(partial, bag.TAGMANIFEST, problems))
    if problems:
        raise Refused(f"{what}: {problems[0]}")
    absent = sorted(k for k, sha in expected.items() if k not in remote and sha != EMPTY_SHA256)
    if absent:  # said before anything else is fetched
        listing = bag.MANIFEST if absent[0].startswith("data/") else bag.TAGMANIFEST
        other = {bag.name_key(k): k for k in remote}.get(bag.name_key(absent[0]))
        hint = f" (it has {other!r}: the same name in another case or Unicode normalisation)" if other else ""
        raise Refused(f"{what}: {absent[0]}: listed in {listing} but not on the portal{hint}")
    rest = {k: v for k, v in remote.items() if k not in tags}
    check_sizes(partial, what, {k: v for k, v in rest.items() if k.startswith("data/")}, payload)
    downloaded += fetch_all(settings, what, bucket, rest, partial, expected)
    for key, sha in expected.items():
        safe_key(key, what)
        if sha == EMPTY_SHA256 and not (partial / key).exists():
            (partial / key).parent.mkdir(parents=True, exist_ok=True)
            (partial / key).touch()  # empty files never travel (CAP refuses them): the manifest brings them back
    return downloaded


def check_sizes(partial: Path, what: str, payload_files: dict, listed: int) -> None:
    """Before any payload byte is fetched: the portal's sizes must add up to the bag's
    Payload-Oxum (a file far larger than the bag claims is refused here, not downloaded).
    Empty files do not travel, so only the bytes are compared with what the portal holds."""
    oxum = bag.payload_oxum(partial)
    if oxum is None:
        raise Refused(f"{what}: bag-info.txt: no Payload-Oxum (octets.files)")
    octets = sum(size for size, _ in payload_files.values())
    largest = max(payload_files, key=lambda k: payload_files[k][0], default=None)
    if largest and payload_files[largest][0] > oxum[0]:
        raise Refused(f"{what}: {largest}: {payload_files[largest][0]} bytes on the portal, more than the whole payload in "
                      f"bag-info.txt's Payload-Oxum ({oxum[0]} bytes); not downloaded")
    if largest and oxum != (octets, listed):
        raise Refused(f"{what}: bag-info.txt's Payload-Oxum says {oxum[0]} bytes in {oxum[1]} files, the portal holds "
                      f"{octets} bytes for the {listed} files listed; not downloaded")


def fetch_all(settings: Settings, what: str, bucket: str, remote: dict, partial: Path,
              expected: dict[str, str]) -> int:
    todo = {}
    for key, (size, checksum) in sorted(remote.items()):
        target = partial / key
        if target.is_file() and target.stat().st_size == size:
            md5, sha = hashes(target)
            if checksum == f"md5:{md5}" and expected.get(key, sha) == sha:
                continue  # verified by an earlier, interrupted pull
        todo[key] = (size, checksum)
    with meter(f"pull {what}", sum(s for s, _ in todo.values())) if settings.progress else nullcontext(Meter(None, None)) as progress:
        in_parallel(settings, lambda c, key: download_one(c, settings, what, bucket, key, *todo[key], partial / key,
                                                          expected.get(key), progress), list(todo))
    return len(todo)


def download_one(client: Client, settings: Settings, what: str, bucket: str, key: str, size: int, checksum: str,
                 target: Path, sha256: str | None, progress: Meter) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # a short temporary name: `.<name>.part` passes the 255-byte limit for names of 250 bytes
    temporary = target.with_name(f".part-{hashlib.sha256(target.name.encode()).hexdigest()[:16]}")
    problem = ""
    for attempt in range(settings.retries + 1):
        received = 0
        response = client.request("GET", client.object_url(bucket, key), f"{what}: downloading {key}", (200,), stream=True)
        try:
            with HashingWriter(temporary) as sink:
                for chunk in response.iter_content(BLOCK):
                    received += len(chunk)
                    if received > size:  # never more than the portal listed
                        raise Refused(f"{what}: {key}: the portal sends more than the {size} bytes it lists")
                    sink.write(chunk)
                    progress.advance(len(chunk))
            md5, sha = sink.md5, sink.sha256
            problem = ""
        except PortalError:
            temporary.unlink(missing_ok=True)
            raise
        except Exception as exc:  # a connection broken mid-body: requests raises several kinds
            problem = f"the download broke off after {received} of {size} bytes ({reason(exc)})"
        finally:
            response.close()
        if not problem and f"md5:{md5.hexdigest()}" != checksum:
            problem = f"got md5:{md5.hexdigest()} ({received} bytes), the portal lists {checksum} ({size} bytes)"
        if not problem and sha256 and sha.hexdigest() != sha256:
            temporary.unlink(missing_ok=True)
            raise Refused(f"{what}: {key}: sha256 differs from the bag's manifest (the deposit on the portal is corrupt)")
        if not problem:
            os.replace(temporary, target)
            return
        temporary.unlink(missing_ok=True)
        if attempt < settings.retries:
            client.sleep(settings.backoff * 2 ** attempt)
    raise PortalError(f"{what}: {key}: {problem} (gave up after {attempts(settings.retries + 1)})")


def check_bag(root: Path, what: str) -> None:
    """The complete-bag checks that streaming could not make: nothing missing, nothing extra,
    tag files as the tag manifest says. Payload sha256 was checked on arrival."""
    problems: list[str] = []
    manifest = bag.read_manifest(root, bag.MANIFEST, problems)
    present = set(bag.payload_files(root))
    problems += [f"{p}: listed in {bag.MANIFEST} but not in the deposit" for p in sorted(set(manifest) - present)]
    problems += [f"{p}: in the deposit but not listed in {bag.MANIFEST}" for p in sorted(present - set(manifest))]
    if (root / bag.TAGMANIFEST).exists():
        for name, sha in bag.read_manifest(root, bag.TAGMANIFEST, problems).items():
            if not (root / name).is_file():
                problems.append(f"{name}: listed in {bag.TAGMANIFEST} but not in the deposit")
            elif bag.hash_file(root / name)[1] != sha:
                problems.append(f"{name}: sha256 differs from {bag.TAGMANIFEST}")
    if problems:
        raise Refused(f"{what}: {problems[0]}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))


def check_members(tar: tarfile.TarFile, members: list[tarfile.TarInfo], what: str) -> None:
    """Before anything is unpacked: only files and folders (a deposit holds no links or devices),
    and no more bytes than the bag's own Payload-Oxum declares (a small archive can unpack to
    gigabytes of zeros)."""
    for member in members:
        if not (member.isfile() or member.isdir()):
            raise Refused(f"{what}: {member.name}: a link or special file; a deposit holds only regular files and folders")
    infos = [m for m in members if m.isfile() and PurePosixPath(m.name).parts[1:] == ("bag-info.txt",)]
    if len(infos) != 1:
        return  # not one bag: said after unpacking, with the count
    oxum = bag.oxum_of(bag.parse_info(tar.extractfile(infos[0]).read(bag.MAX_INFO)))
    if oxum is None:
        raise Refused(f"{what}: {infos[0].name}: no Payload-Oxum (octets.files)")
    payload = [m for m in members if m.isfile() and PurePosixPath(m.name).parts[1:2] == ("data",)]
    largest = max(payload, key=lambda m: m.size, default=None)
    if largest and largest.size > oxum[0]:
        raise Refused(f"{what}: {largest.name}: {largest.size} bytes, more than the whole payload in "
                      f"bag-info.txt's Payload-Oxum ({oxum[0]} bytes); not unpacked")
    if sum(m.size for m in payload) > oxum[0]:
        raise Refused(f"{what}: the payload unpacks to {sum(m.size for m in payload)} bytes, more than bag-info.txt's "
                      f"Payload-Oxum ({oxum[0]} bytes); not unpacked")


def unpack(partial: Path, archive: str, out: Path, what: str) -> None:
    """A packed deposit: extract (tarfile's 'data' filter refuses links out, devices, absolute
    paths), find the one bag inside, check it in full, move it into place."""
    extracted = partial / ".extracted"
    shutil.rmtree(extracted, ignore_errors=True)
    try:
        with tarfile.open(partial / archive) as tar:
            members = tar.getmembers()  # headers only: nothing is written before check_members
            check_members(tar, members, f"{what}: {archive}")
            tar.extractall(extracted, members=members, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise Refused(f"{what}: {archive}: cannot unpack ({exc})") from None
    roots = sorted(p.parent for p in extracted.rglob("bagit.txt"))
    if len(roots) != 1:
        raise Refused(f"{what}: {archive} holds {len(roots)} bags, not one")
    problems, _ = bag.check(roots[0])
    if problems:
        rel = problems[0].replace(str(roots[0]) + "/", "")
        raise Refused(f"{what}: {archive}: {rel}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
    os.replace(roots[0], out)
    shutil.rmtree(partial)
