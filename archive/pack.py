"""`recast-archive pack`: build a deposit (layout: docs/archive.md).

The deposit is built under a temporary name beside the target and renamed at the very end, so a
pack that fails leaves nothing that looks like a deposit. Files are hashed as they are copied in
(inputs) or as they are written; image blobs are named by their sha256, checked while they
streamed in, so they are not read again.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from yadage2x import __version__
from yadage2x.errors import Pos, Problem, SpecError, Yadage2xError
from yadage2x.load import load_workflow, locate
from yadage2x.load.refs import Documents

from . import bag, describe, images as oci
from .pin import pin_text, uses
from .progress import meter
from .registry import Reference, Registry, parse_reference

FORMAT = "recast-archive/1"
AGENT = f"recast-archive/{__version__}"
MANIFEST_NAME = "recast-archive.json"


class DepositError(Yadage2xError):
    pass


@dataclass
class Request:
    workflow: str
    toplevel: str | None
    initdata: dict
    input_files: list[str] = field(default_factory=list)
    with_images: bool = False
    platform: str = "linux/amd64"
    title: str | None = None
    link_inputs: bool = False


def files_read(workflow: str | Path, toplevel: str | Path | None) -> tuple[Path, Path, list[Path]]:
    """The workflow file, its toplevel, and every file the workflow reads (through $ref)."""
    path, top = locate(workflow, toplevel)
    docs = Documents(top)
    docs.load_top(path)
    return path, top, sorted(docs.files)


def spec_files(workflow: str, toplevel: str | None) -> tuple[Path, Path, list[Path]]:
    """files_read, all of them below the toplevel (a deposit must hold every spec it reads)."""
    path, top, files = files_read(workflow, toplevel)
    outside = [f for f in files if not f.is_relative_to(top)]
    if outside:
        raise SpecError(Problem(Pos(str(outside[0])), f"read by the workflow but outside its toplevel {top}: pass a toplevel that holds every spec file"))
    return path, top, files


def resolve_images(texts: dict[str, str]) -> tuple[dict[tuple[str, str], str], list[dict]]:
    """Digest of every (image, imagetag) the specs use, by HEAD on the registry. Returns the pins
    ({(image, imagetag): "tag@sha256:..."}) and the image lock."""
    found: dict[tuple[str, str], list[str]] = {}
    for name, text in texts.items():
        for use in uses(name, text):
            found.setdefault((use.image, use.reference_tag), []).append(f"{name}:{use.line}")
    registries: dict[str, Registry] = {}
    pins, lock = {}, []
    for (image, imagetag), places in sorted(found.items()):
        try:
            ref = parse_reference(image, imagetag)
        except Yadage2xError as exc:
            raise DepositError(f"{places[0]}: {exc}") from None
        registry = registries.setdefault(ref.registry, Registry(ref.registry))
        try:
            digest, media = registry.resolve(ref)
        except Yadage2xError as exc:
            raise DepositError(f"{places[0]}: image {image}:{imagetag}: {exc}") from None
        tag = imagetag.split("@")[0]
        pins[(image, imagetag)] = f"{tag}@{digest}"
        pinned = Reference(ref.registry, ref.repository, ref.tag, digest)
        lock.append({"reference": str(pinned), "image": image, "imagetag": tag, "registry": ref.registry,
                     "repository": ref.repository, "tag": ref.tag, "digest": digest, "media_type": media, "used_in": places})
    return pins, lock


def pack(request: Request, target: Path) -> Path:
    target = Path(target)
    if target.exists():
        raise DepositError(f"{target}: exists; pack writes a new deposit")
    workflow_path, top, files = spec_files(request.workflow, request.toplevel)
    load_workflow(workflow_path, top, request.initdata)  # refuse an invalid workflow before anything is fetched
    names = {f: f.relative_to(top).as_posix() for f in files}
    texts = {names[f]: f.read_text(encoding="utf-8") for f in files}
    placed: dict[str, Path] = {}
    keys: dict[str, str] = {}  # bag.name_key -> the path below inputs/
    for item in request.input_files:
        if not Path(item).exists():
            raise DepositError(f"{item}: no such input file")
        for file, rel in _walk(Path(item)):
            if rel in placed:
                raise DepositError(f"{file}: would land on inputs/{rel}, as {placed[rel]} does")
            twin = keys.get(bag.name_key(rel))
            if twin:  # verify refuses such a pair: one file on macOS and Windows
                raise DepositError(f"{file}: inputs/{rel} and inputs/{twin} differ only in case or Unicode normalisation")
            placed[rel], keys[bag.name_key(rel)] = file, rel
    pins, lock = resolve_images(texts)

    target.parent.mkdir(parents=True, exist_ok=True)
    work = target.with_name(f".{target.name}.partial-{os.getpid()}")
    if work.exists():
        shutil.rmtree(work)
    try:
        _build(request, work, target.name, workflow_path, names, texts, pins, lock)
        work.rename(target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return target


def _build(request, work, name, workflow_path, names, texts, pins, lock) -> None:
    data = work / "data"
    payload: dict[str, tuple[int, str]] = {}  # "data/..." -> (size, sha256)

    def write(rel: str, content: str | bytes) -> None:
        path = data / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        raw = content.encode("utf-8") if isinstance(content, str) else content
        path.write_bytes(raw)
        payload[f"data/{rel}"] = bag.hash_file(path)

    entry = names[workflow_path]
    for path, spec in names.items():
        write(f"original/specs/{spec}", path.read_bytes())  # byte-identical
        write(f"specs/{spec}", pin_text(spec, texts[spec], pins))

    has_inputs = bool(request.input_files)
    if has_inputs:
        sources = [Path(p) for p in request.input_files]
        total = sum(_size(p) for p in sources)
        with meter("copying inputs", total) as bar:
            jobs = [(file, data / "inputs" / rel, bar, request.link_inputs) for source in sources for file, rel in _walk(source)]
            for job, result in zip(jobs, bag.in_parallel(bag.copy_hashing, jobs)):
                payload[job[1].relative_to(work).as_posix()] = result

    initdir = str((data / "inputs").resolve()) if has_inputs else None
    pinned = load_workflow(data / "specs" / entry, data / "specs", request.initdata)
    resolved = Documents(data / "specs").load_top(data / "specs" / entry)
    write("workflow.json", json.dumps(resolved, indent=2, sort_keys=True) + "\n")
    engines = _emit(pinned, entry, data, request.initdata, initdir, payload)

    title = request.title or f"{Path(entry).stem} ({workflow_path.parent.name})"
    if request.with_images and lock:
        refs = [parse_reference(image["reference"], None) for image in lock]
        stored = oci.fetch(refs, data / "images", request.platform)
        for image in lock:
            image.update({k: v for k, v in stored[image["reference"]].items() if k in ("platform_digest", "size")})
        for path in sorted((data / "images").rglob("*")):
            if path.is_file():
                rel = path.relative_to(work).as_posix()
                # a blob's name is its sha256, checked as it streamed in: not read again
                payload[rel] = (path.stat().st_size, path.name) if "/blobs/sha256/" in rel else bag.hash_file(path)

    describe.write_yaml(data / "recast.yml", describe.recast_entry(name, title, entry, request.initdata))
    payload["data/recast.yml"] = bag.hash_file(data / "recast.yml")
    describe.write_yaml(data / "reana.yaml", describe.reana_spec(request.initdata, has_inputs))
    payload["data/reana.yaml"] = bag.hash_file(data / "reana.yaml")

    manifest = {
        "format": FORMAT, "created_by": AGENT, "title": title,
        "workflow": {"type": "yadage", "file": f"specs/{entry}", "toplevel": "specs", "original": "original/specs", "resolved": "workflow.json"},
        "specs": sorted(names.values()), "parameters": request.initdata, "inputs": "inputs" if has_inputs else None,
        "images": lock, "images_included": bool(request.with_images and lock), "engines": engines,
        "empty_files": sorted(p[len("data/"):] for p, (size, _) in payload.items() if size == 0),
    }
    write(MANIFEST_NAME, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    rel_files = sorted(p[len("data/"):] for p in payload)
    describe.write_crate(data, title, entry, rel_files, lock, engines)
    payload["data/ro-crate-metadata.json"] = bag.hash_file(data / "ro-crate-metadata.json")
    bag.write_tag_files(work, payload, AGENT)


def _emit(loaded, entry: str, data: Path, initdata: dict, initdir: str | None, payload: dict) -> dict:
    """The workflow compiled for each engine whose emitter exists; what could not be emitted is
    recorded with the reason instead."""
    engines = {}
    from yadage2x.emit.snakemake import emit as emit_snakemake

    try:
        emit_snakemake(loaded.workflow, Path(entry).name, data / "snakemake", initdata, None)
        engines["snakemake"] = {"file": "snakemake/Snakefile"}
    except SpecError as exc:
        shutil.rmtree(data / "snakemake", ignore_errors=True)
        engines["snakemake"] = {"error": "; ".join(p.message for p in exc.problems)}
    except Exception as exc:  # an emitter's bug must not stop the yadage workflow being preserved
        shutil.rmtree(data / "snakemake", ignore_errors=True)
        engines["snakemake"] = {"error": f"the emitter failed: {type(exc).__name__}: {exc}".splitlines()[0]}
    try:
        from yadage2x.emit import cwl as cwl_emitter  # being written (issue 6): included once it exists
    except ImportError:
        engines["cwl"] = {"error": "cwl emitter not available"}
    else:
        try:
            written = cwl_emitter.emit(loaded.workflow, Path(entry).name, data / "cwl", initdata, None)
            files = written[0] if isinstance(written, tuple) else written
            main = next((p for p in files if Path(p).name == "workflow.cwl"), None)
            engines["cwl"] = {"file": f"cwl/{Path(main).name}"} if main else {"error": "cwl emitter wrote no workflow.cwl"}
        except SpecError as exc:
            shutil.rmtree(data / "cwl", ignore_errors=True)
            engines["cwl"] = {"error": "; ".join(p.message for p in exc.problems)}
        except Exception as exc:  # as above: the deposit is still worth having without its CWL form
            shutil.rmtree(data / "cwl", ignore_errors=True)
            engines["cwl"] = {"error": f"the emitter failed: {type(exc).__name__}: {exc}".splitlines()[0]}
    for engine in ("snakemake", "cwl"):
        folder = data / engine
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    payload[f"data/{path.relative_to(data).as_posix()}"] = bag.hash_file(path)
    return engines


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f, _ in _walk(path))


def _walk(source: Path):
    """(file, path below inputs/): a folder is an init directory, its contents go to inputs/ as
    they are (yadage-run -d initdir=FOLDER); a file goes to inputs/<its name>."""
    if source.is_dir():
        for base, dirs, names in os.walk(source):
            dirs.sort()
            for name in sorted(names):
                file = Path(base, name)
                yield file, file.relative_to(source).as_posix()
    else:
        yield source, source.name
