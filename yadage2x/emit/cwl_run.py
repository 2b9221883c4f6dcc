"""Running emitted CWL for `yadage2x check`, and turning the run into a capture.

A CWL runner puts outputs in one folder; yadage keeps one work directory per step instance
(`map_3`, `map_0/inner_1/draw`). Every emitted tool outputs its work directory (`workdir`), so
the run is laid out again as yadage lays it out (`<run>/<instance>/`). yadage's planner
(yadage2x/runtime.py `Plan`, the rules tested against yadage) then names the instances and
publishes their results from those directories, as yadage publishes them, and the capture is
taken as for every emitted workflow (`capture.from_results`).

The CWL run is checked, not trusted: each instance the planner expects must have run, no
other may have, and every value the CWL ports published must agree with yadage's result
(files by name and content, other values exactly). A disagreement fails the run, and the log
says where.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from .. import capture
from ..engines import find_tool
from ..runtime import Plan, map_leaves, publish
from .cwl import cwl_id, emit, port_name
from .snakemake import planner_json

RUNNERS = ("cwltool", "toil-cwl-runner")


class Missing(Exception):
    pass


def runner_argv(runner: str, source: Path, out: Path, base: Path, docker: bool, parallel: bool = True) -> list[str]:
    wf, inputs = str(source / "workflow.cwl"), str(source / "inputs.yml")
    if runner == "cwltool":
        argv = [find_tool("cwltool"), "--outdir", str(out), "--disable-color"]
        if parallel:
            argv.append("--parallel")
    else:
        # toil pins cwltool exactly: it lives in a virtual environment of its own (.venv-toil)
        toil = os.environ.get("YADAGE2X_TOIL") or str(Path(__file__).resolve().parents[2] / ".venv-toil" / "bin" / "toil-cwl-runner")
        if not Path(toil).exists():
            toil = find_tool("toil-cwl-runner")
        argv = [toil, "--jobStore", f"file:{base / 'jobstore'}", "--outdir", str(out), "--workDir", str(base), "--logWarning"]
        if docker:
            argv.append("--no-prepull")  # images are local builds: nothing to pull
    if not docker:
        argv.append("--no-container")
    return argv + [wf, inputs]


def run_cwl(loaded, base: Path, initdata: dict | None, initdir: Path | None, docker: bool = False,
            runner: str = "cwltool") -> tuple[dict, Path]:
    """Emit the workflow into base/workflow, run it (outputs in base/out), lay it out as yadage
    would in base/run; return the capture and the log."""
    source, out, run = base / "workflow", base / "out", base / "run"
    initdir_text = str(initdir.resolve()) if initdir else None
    emit(loaded.workflow, loaded.path.name, source, initdata, initdir_text)
    run.mkdir(parents=True, exist_ok=True)
    log = base / f"{runner}.log"
    argv = runner_argv(runner, source, out, base, docker)
    env = dict(os.environ)
    # toil starts its workers (_toil_worker) by name: its own bin folder goes first on PATH
    env["PATH"] = os.pathsep.join([str(Path(argv[0]).parent), env.get("PATH", "")])
    with open(log, "wb") as err:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=err, env=env)
    outputs = {}
    if proc.stdout.strip():
        try:
            outputs = json.loads(proc.stdout)
        except ValueError:
            pass
    status = "success" if proc.returncode == 0 else "failed"
    problems = layout(loaded.workflow, outputs, run, initdata, initdir_text) if outputs else ["the runner published nothing"]
    if problems:
        with open(log, "a") as err:
            err.write("\n".join(f"yadage2x: {p}" for p in problems) + "\n")
        status = "failed"
    return capture.from_results("cwl", run, initdir, status), log


def layout(workflow, outputs: dict, run: Path, initdata: dict | None, initdir: str | None) -> list[str]:
    """Lay the CWL outputs out as yadage's work directories, write .yadage2x/results.json;
    return the disagreements found between the CWL run and yadage's rules."""
    problems: list[str] = []
    placed: set[str] = set()

    def instance_value(instance: dict, port: str):
        """The value a CWL output port holds for one instance (None: it has none)."""
        stages = instance["stage_path"].split("/")
        value = outputs.get("__".join(cwl_id(s) for s in stages) + f"__{port}")
        for part, stage in zip(instance["name"].split("/"), stages):
            if part != stage:  # 'map_3': the instance of a scattered stage
                index = int(part[len(stage) + 1:])
                if not isinstance(value, list) or index >= len(value):
                    return None
                value = value[index]
        return value

    def place(instance: dict) -> Path:
        name = instance["name"]
        target = run / name
        if name not in placed:
            directory = instance_value(instance, "workdir")
            if not isinstance(directory, dict) or not directory.get("path"):
                raise Missing(name)
            shutil.copytree(directory["path"], target, dirs_exist_ok=True, symlinks=True)
            placed.add(name)
        return target

    def result_of(instance: dict):
        result = publish(instance["step"]["publisher"], instance["parameters"], str(place(instance)))
        # CWL lists glob matches by name, yadage in file-system order (which differs from one
        # machine to the next): the instances fanned out over them follow the CWL order here
        return sort_lists(result) if globs(instance["step"]["publisher"]) else result

    plan = Plan(planner_json(workflow), initdata or {}, initdir, str(run), result_of)
    results = {}
    for name, instance in plan.instances.items():
        try:
            if instance["stage"] is not None:
                place(instance)
            results[name] = plan.result(name)
        except Missing as exc:
            problems.append(f"{exc}: yadage runs this instance, the CWL run has no work directory for it")
            continue
        if instance["stage"] is not None:
            port_value = lambda port, i=instance: instance_value(i, port)  # noqa: E731
            whole = instance["step"]["publisher"]["kind"] == "fromyaml-pub"  # one port holds the whole result
            problems += agree(name, [(("result",), results[name])] if whole else published_values(results[name]), port_value)
    problems += extra_instances(plan, outputs)
    (run / ".yadage2x").mkdir(exist_ok=True)
    (run / ".yadage2x" / "results.json").write_text(json.dumps({"instances": results, "stalled": plan.stalled}, indent=2, sort_keys=True))
    return problems


def globs(publisher: dict) -> bool:
    return publisher["kind"] == "fromglob-pub" or bool(publisher.get("glob"))


def sort_lists(value):
    if isinstance(value, dict):
        return {k: sort_lists(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((sort_lists(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return value


def agree(name: str, values, port_value) -> list[str]:
    """Differences between yadage's result for an instance ((key path, value) pairs) and what
    its CWL ports hold."""
    found = []
    for path, leaf in values:
        value = port_value(port_name(path))
        if describe(value) != describe(leaf):
            found.append(f"{name}: CWL published {'.'.join(path)} = {json.dumps(describe(value))}, yadage's rules give {json.dumps(describe(leaf))}")
    return found


def published_values(result, path=()):
    """(key path, value) for each value a port holds: mappings are walked, lists are values."""
    if isinstance(result, dict):
        for key, value in result.items():
            yield from published_values(value, path + (str(key),))
    elif path:
        yield path, result


def describe(value):
    """A value in a form both sides share: a file is its name and size, a folder its name."""
    if isinstance(value, dict) and value.get("class") in ("File", "Directory"):
        if value["class"] == "File":
            return ["file", value["basename"], value.get("size")]
        return ["directory", value["basename"].rstrip("/")]
    if isinstance(value, list):
        return [describe(v) for v in value]
    if isinstance(value, str) and os.path.isabs(value) and os.path.exists(value):
        if os.path.isdir(value):
            return ["directory", os.path.basename(value.rstrip("/"))]
        return ["file", os.path.basename(value), os.path.getsize(value)]
    return map_leaves(value, lambda leaf: leaf)


def extra_instances(plan: Plan, outputs: dict) -> list[str]:
    """Stages where the CWL run made more instances than yadage plans."""
    planned: dict[str, int] = {}
    for instance in plan.instances.values():
        if instance["stage"] is not None:
            key = "__".join(cwl_id(s) for s in instance["stage_path"].split("/")) + "__workdir"
            planned[key] = planned.get(key, 0) + 1

    def count(value):
        if isinstance(value, list):
            return sum(count(v) for v in value)
        return 1 if isinstance(value, dict) else 0

    return [f"{key[:-len('__workdir')]}: the CWL run has {count(value)} instances, yadage plans {planned.get(key, 0)}"
            for key, value in sorted(outputs.items()) if key.endswith("__workdir") and count(value) > planned.get(key, 0)]
