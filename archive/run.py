"""`recast-archive run`: restore a deposit and execute it, with new parameters where given.

The deposit is verified first and never written to: the specs (and the emitted workflow) are
copied into the work directory, where image references may be pointed at the restored images;
inputs are read in place. The run's capture (yadage2x's `check` format) is written beside the
results, so a re-run can be compared with the original run.

Engines:
- yadage (the reference, in .venv-yadage) with every step in Docker; images come from the deposit
  when it holds them (`docker load`, or pushed to `--registry`), else Docker pulls them by digest;
- snakemake: the deposit's emitted Snakefile (Snakemake runs `container:` steps only through
  apptainer; without it, it runs them on the host, and says so);
- cwl: cwltool with Docker, when the deposit holds a CWL workflow (the CWL emitter existed when it
  was packed).
"""
from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from yadage2x import capture
from yadage2x.engines import find_tool

from . import images as oci
from .pack import MANIFEST_NAME, DepositError
from .pin import rewrite
from .progress import say
from .registry import parse_reference
from .verify import verify


@dataclass(frozen=True)
class RunResult:
    status: str
    results: Path
    capture: Path
    log: Path


def run(deposit: Path, engine: str, overrides: dict, workdir: Path, registry: str | None = None) -> RunResult:
    problems = verify(deposit)
    if problems:
        raise DepositError(f"{deposit}: refused, it fails verification ({len(problems)} problem(s), first: {problems[0]}); see recast-archive verify")
    data = deposit / "data"
    manifest = json.loads((data / MANIFEST_NAME).read_text())
    if workdir.exists():
        raise DepositError(f"{workdir}: exists; run needs a fresh work directory")
    parameters = {**manifest["parameters"], **overrides}
    initdir = (data / manifest["inputs"]).resolve() if manifest["inputs"] else None
    entry = manifest["engines"].get(engine)
    if engine != "yadage" and (entry is None or "file" not in entry):
        reason = entry["error"] if entry else f"the deposit holds no {engine} workflow"
        raise DepositError(f"{deposit}: cannot run with {engine}: {reason}")
    workdir.mkdir(parents=True)
    if engine == "yadage":
        return _run_yadage(data, manifest, parameters, initdir, workdir, registry)
    if engine == "snakemake":
        return _run_snakemake(data, parameters, initdir, workdir)
    return _run_cwl(data, manifest, parameters, initdir, workdir, registry)


def _restore_images(data: Path, manifest: dict, registry: str | None) -> dict[tuple[str, str], tuple[str, str]]:
    """Restore the deposit's images; returns {(image, pinned imagetag): (image, imagetag) to run}."""
    targets = {}
    for image in manifest["images"]:
        ref = parse_reference(image["reference"], None)
        pinned_tag = f"{image['imagetag']}@{image['digest']}"
        if registry:
            targets[(image["image"], pinned_tag)] = (oci.push(data / "images", ref, registry), pinned_tag)
            say(f"restored {image['reference']} into {registry}")
        else:
            targets[(image["image"], pinned_tag)] = oci.docker_load(data / "images", ref)
            say(f"restored {image['reference']} into the Docker engine as {':'.join(targets[(image['image'], pinned_tag)])}")
    return targets


def _restored_specs(data: Path, manifest: dict, workdir: Path, registry: str | None) -> Path:
    """The pinned specs copied to workdir/specs, their images pointed at the restored copies when
    the deposit holds the images; returns the workflow file there."""
    specs = workdir / "specs"
    shutil.copytree(data / "specs", specs)
    if manifest["images_included"]:
        targets = _restore_images(data, manifest, registry)
        for name in manifest["specs"]:
            path = specs / name
            path.write_text(rewrite(name, path.read_text(encoding="utf-8"), lambda image, tag: targets.get((image, tag), (None, tag))), encoding="utf-8")
    return specs / Path(manifest["workflow"]["file"]).relative_to("specs")


def _run_yadage(data: Path, manifest: dict, parameters: dict, initdir: Path | None, workdir: Path, registry: str | None) -> RunResult:
    from yadage2x.reference import run as run_yadage

    workflow = _restored_specs(data, manifest, workdir, registry)
    result = run_yadage(workflow, workflow.parent, workdir / "yadage", parameters, initdir, docker=True)
    return _finish(result.capture, workdir / "yadage", workdir, result.log)


def _run_cwl(data: Path, manifest: dict, parameters: dict, initdir: Path | None, workdir: Path, registry: str | None) -> RunResult:
    """cwltool with Docker, on the CWL compiled from the (restored) pinned specs: the runner lays
    the CWL outputs out as yadage's work directories to take the capture, which needs the
    workflow's IR, so the CWL is emitted again here; the same emitter wrote the deposit's cwl/."""
    try:
        from yadage2x.engines import run_cwl
    except ImportError:
        raise DepositError("cwl emitter not available in this installation of yadage2x") from None
    from yadage2x.load import load_workflow

    workflow = _restored_specs(data, manifest, workdir, registry)
    loaded = load_workflow(workflow, workflow.parent, parameters)
    captured, log = run_cwl(loaded, workdir / "cwl", parameters, initdir, docker=True)
    return _finish(captured, workdir / "cwl" / "run", workdir, log)


def _run_snakemake(data: Path, parameters: dict, initdir: Path | None, workdir: Path) -> RunResult:
    say("snakemake: steps with container: run on the host here (Snakemake runs containers only through apptainer)")
    source = workdir / "workflow"
    shutil.copytree(data / "snakemake", source)  # Snakemake writes beside the Snakefile (caches): never into the deposit
    config = workdir / "config.yaml"
    config.write_text(json.dumps({"init": parameters, "initdir": str(initdir) if initdir else None}, indent=2, sort_keys=True) + "\n")
    results, log = workdir / "run", workdir / "snakemake.log"
    results.mkdir()
    argv = [find_tool("snakemake"), "-s", str(source / "Snakefile"), "--configfile", str(config),
            "--directory", str(results), "--cores", "2", "--quiet", "all"]
    with open(log, "wb") as out:
        proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT)
    status = "success" if proc.returncode == 0 else "failed"
    return _finish(capture.from_results("snakemake", results, initdir, status), results, workdir, log)


def _finish(captured: dict, results: Path, workdir: Path, log: Path) -> RunResult:
    path = workdir / "capture.json"
    capture.write(captured, path)
    return RunResult(captured["status"], results, path, log)
