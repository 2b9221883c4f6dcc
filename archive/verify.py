"""`recast-archive verify`: is this deposit intact and still usable?

Checks, each problem one line naming the deposit's file:
1. the bag: every checksum, every file listed, nothing added (archive/bag.py);
2. our manifest against schemas/deposit-manifest.schema.json;
3. the pinned specs still validate (the project's loader) and differ from the originals only in
   image digests, and every digest they carry is the one in the image lock;
4. the images, when the deposit promises them: each in the OCI layout's index, every blob present
   and named by its sha256 (the bag's manifest holds the sha256 of each blob: name and hash must agree).
"""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema

from yadage2x.errors import SpecError, Yadage2xError
from yadage2x.load import load_workflow
from yadage2x.load.source import parse_text

from . import bag, images as oci
from .pack import MANIFEST_NAME, files_read
from .pin import DIGEST, unpinned, uses
from .progress import meter


def manifest_schema() -> dict:
    return json.loads(resources.files("yadage2x_schemas").joinpath("deposit-manifest.schema.json").read_text())


def verify(deposit: Path) -> list[str]:
    """Every problem found, one line each; empty when the deposit is good."""
    deposit = Path(deposit)
    if not deposit.is_dir():
        return [f"{deposit}: not a deposit folder"]
    with meter("verifying checksums") as bar:
        problems, listed = bag.check(deposit, bar)
    if problems and (not (deposit / "bagit.txt").is_file() or bag.irregular(deposit)):
        return problems  # links, FIFOs: the files below are not read through them
    data = deposit / "data"
    manifest_path = data / MANIFEST_NAME
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return problems + [f"{manifest_path}: unreadable ({exc.__class__.__name__})"]
    invalid = sorted(jsonschema.Draft202012Validator(manifest_schema()).iter_errors(manifest), key=str)
    if invalid:  # the checks below rely on the manifest's shape
        return problems + [f"{manifest_path}: {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in invalid]
    problems += _specs(data, manifest)
    if manifest["images_included"]:
        problems += _images(deposit, manifest, listed)
    return problems


def _specs(data: Path, manifest: dict) -> list[str]:
    problems = []
    lock = {(i["image"], i["imagetag"]): i["digest"] for i in manifest["images"]}
    for name in manifest["specs"]:
        pinned_path, original_path = data / "specs" / name, data / "original" / "specs" / name
        try:
            pinned_text = pinned_path.read_text(encoding="utf-8")
            original_text = original_path.read_text(encoding="utf-8")
            same = unpinned(parse_text(pinned_text, str(pinned_path))) == unpinned(parse_text(original_text, str(original_path)))
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{exc.filename or pinned_path}: unreadable")
            continue
        except SpecError as exc:
            problems.extend(str(p) for p in exc.problems)
            continue
        if not same:
            problems.append(f"{pinned_path}: differs from {original_path} in more than image digests")
        for use in uses(str(pinned_path), pinned_text):
            tag = use.imagetag or ""
            found = DIGEST.search(tag)
            if not found:
                problems.append(f"{pinned_path}:{use.line}: image {use.image} is not pinned by digest")
            elif lock.get((use.image, DIGEST.sub("", tag))) != found.group(0)[1:]:
                problems.append(f"{pinned_path}:{use.line}: digest of {use.image} differs from the image lock in {MANIFEST_NAME}")
    entry = data / manifest["workflow"]["file"]
    try:
        _, top, files = files_read(entry, data / "specs")
        outside = [f for f in files if not f.is_relative_to(top)]
        if outside:  # a deposit holds every spec it reads
            return problems + [f"{entry}: reads {outside[0]}, outside the deposit's specs/"]
        load_workflow(entry, data / "specs", manifest["parameters"])
    except SpecError as exc:
        problems.extend(str(p) for p in exc.problems)
    except Yadage2xError as exc:
        problems.append(f"{entry}: {exc}")
    return problems


def _images(deposit: Path, manifest: dict, listed: dict[str, str]) -> list[str]:
    layout = deposit / "data" / "images"
    index_path = layout / "index.json"
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError):
        return [f"{index_path}: missing or unreadable, but the deposit promises its images"]
    problems = []
    named = {d.get("annotations", {}).get(oci.REF_NAME): d.get("digest") for d in index.get("manifests", [])}
    for image in manifest["images"]:
        if named.get(image["reference"]) != image["digest"]:
            problems.append(f"{index_path}: no entry for {image['reference']}")
            continue
        try:
            missing = oci.missing_blobs(layout, image["digest"])
        except (OSError, ValueError, KeyError, Yadage2xError) as exc:
            problems.append(f"{layout}: image {image['reference']} unreadable ({exc})")
            continue
        for digest in missing:
            problems.append(f"{oci.blob_path(layout, digest)}: missing (needed by {image['reference']})")
    for path, sha in listed.items():
        if path.startswith("data/images/blobs/sha256/") and Path(path).name != sha:
            problems.append(f"{deposit / path}: blob name is not its sha256 (tampered digest?)")
    return problems
