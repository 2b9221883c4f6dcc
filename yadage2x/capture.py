"""Captures: what a finished run published, in one form for every engine (schemas/capture.schema.json).

A capture maps each step instance, named as yadage names its work directory (`greet`, `map_3`,
`map_0/inner_1`; an init as `init` or `<scope>/init`), to its published result (JSON) and, for
each published path that is a file, its size and sha256. Absolute paths are written relative to
the run: `$WORKDIR/...` below the work directory, `$INITDIR/...` below the init directory, so
that two runs in different places compare equal.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

FORMAT = "yadage2x-capture/1"


# files up to this size are hashed with the run's own absolute paths written as placeholders;
# larger ones (data, not text naming paths) are hashed as they are, streaming
NORMALISE_LIMIT = 64 << 20


def sha256(path: Path, roots: list[tuple[str, str]] = ()) -> tuple[int, str]:
    """Size and sha256 of a file, with occurrences of the run's roots replaced by their markers
    (a step that writes its input's path into a file writes another path in another run)."""
    if roots and os.path.getsize(path) <= NORMALISE_LIMIT:
        data = Path(path).read_bytes()
        for marker, root in roots:
            data = data.replace(root.encode(), marker.encode())
        return len(data), hashlib.sha256(data).hexdigest()
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


class Relativiser:
    """Rewrites absolute paths of one run into its placeholders, and finds the published files."""

    def __init__(self, workdir: Path, initdir: Path | None):
        self.roots = [("$WORKDIR", os.path.realpath(workdir))]
        if initdir is not None:
            self.roots.insert(0, ("$INITDIR", os.path.realpath(initdir)))
        self.files: dict[str, dict] = {}

    def path(self, text: str) -> str:
        for marker, root in self.roots:
            real = os.path.realpath(text) if os.path.isabs(text) else None
            for candidate in (text, real):
                if candidate and (candidate == root or candidate.startswith(root + os.sep)):
                    return marker + candidate[len(root):]
        return text

    def value(self, value):
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, str) and os.path.isabs(value):
            relative = self.path(value)
            if relative != value or os.path.exists(value):
                self.note_file(value, relative)
            return relative
        return value

    def note_file(self, absolute: str, relative: str) -> None:
        if relative in self.files or not os.path.exists(absolute):
            return
        if os.path.isdir(absolute):
            listing = {}
            for base, _, names in os.walk(absolute):
                for name in names:
                    full = os.path.join(base, name)
                    listing[os.path.relpath(full, absolute)] = sha256(Path(full), self.roots)[1]
            self.files[relative] = {"directory": dict(sorted(listing.items()))}
        else:
            size, digest = sha256(Path(absolute), self.roots)
            self.files[relative] = {"size": size, "sha256": digest}


def write(capture: dict, path: Path) -> None:
    """Deterministic text (sorted keys, two-space indent) written atomically."""
    text = json.dumps(capture, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def from_yadage(workdir: Path, initdir: Path | None, status: str) -> dict:
    """The capture of a yadage run, from its snapshot (`_yadage/yadage_snapshot_workflow.json`)."""
    snapshot = json.loads((workdir / "_yadage" / "yadage_snapshot_workflow.json").read_text())
    nodes = snapshot["dag"]["nodes"]
    rel = Relativiser(workdir, initdir)
    real_workdir = os.path.realpath(workdir)
    init_names = {n["task"]["metadata"].get("wflow_offset", ""): n["name"] for n in nodes if n["name"].startswith("init")}

    def scope_dir(offset: str) -> str:
        # '/map/0' is the scope whose init is named 'init_map_0': its directory is 'map_0'
        if not offset:
            return ""
        parts = offset.strip("/").split("/")
        parent = scope_dir("/" + "/".join(parts[:-2]) if len(parts) > 2 else "")
        own = init_names.get(offset, "init_" + parts[-2])[len("init_"):]
        return f"{parent}/{own}" if parent else own

    instances = {}
    for node in nodes:
        state = node["task"].get("state") or {}
        readwrite = state.get("readwrite") or []
        if readwrite:
            name = os.path.relpath(os.path.realpath(readwrite[0]["path"]), real_workdir)
        else:
            scope = scope_dir(node["task"]["metadata"].get("wflow_offset", ""))
            name = f"{scope}/init" if scope else "init"
        instances[name] = {"status": node["state"].lower(), "result": rel.value(node.get("result"))}
    # stages that never became ready (an empty scatter, no case matched, a missing stage): yadage
    # still exits 0; the capture says so
    stalled = sorted(
        "/".join(filter(None, [scope_dir(rule.get("offset", "")), rule["rule"]["name"]]))
        for rule in snapshot.get("rules", [])
    )
    if stalled and status == "success":
        status = "stalled"
    result = {
        "format": FORMAT,
        "engine": "yadage",
        "status": status,
        "instances": dict(sorted(instances.items())),
        "files": dict(sorted(rel.files.items())),
    }
    if stalled:
        result["stalled"] = stalled
    return result


def from_results(engine: str, workdir: Path, initdir: Path | None, status: str) -> dict:
    """The capture of a run by an emitted workflow: `.yadage2x/results.json` holds every
    instance's result (or, after a failure, `.yadage2x/results/<instance>.json` what finished)."""
    rel = Relativiser(workdir, initdir)
    combined = workdir / ".yadage2x" / "results.json"
    stalled = []
    if combined.exists():
        run = json.loads(combined.read_text())
        results, stalled = run["instances"], run["stalled"]
    else:
        folder = workdir / ".yadage2x" / "results"
        results = {str(p.relative_to(folder))[: -len(".json")]: json.loads(p.read_text()) for p in folder.rglob("*.json")} if folder.exists() else {}
    instances = {name: {"status": "success", "result": rel.value(result)} for name, result in results.items()}
    capture = {
        "format": FORMAT,
        "engine": engine,
        "status": "stalled" if stalled and status == "success" else status,
        "instances": dict(sorted(instances.items())),
        "files": dict(sorted(rel.files.items())),
    }
    if stalled:
        capture["stalled"] = sorted(stalled)
    return capture
