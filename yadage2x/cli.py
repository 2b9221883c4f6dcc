"""The `yadage2x` command line. Errors in user input end here: one line each, exit status 2."""
from __future__ import annotations

import json
import sys
from functools import wraps
from pathlib import Path

import click

from . import __version__
from .errors import Pos, Problem, SpecError, Yadage2xError
from .graph import to_dot, to_mermaid
from .ir import to_json, Workflow
from .load import load_workflow
from .load.source import Map, parse_text, read_file

EXIT_INPUT = 2


def reports_errors(command):
    """Turn our errors into `file:line:col: message` lines on stderr and exit status 2."""

    @wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except SpecError as exc:
            for problem in exc.problems:
                click.echo(f"{problem}", err=True)
            sys.exit(EXIT_INPUT)
        except Yadage2xError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_INPUT)

    return wrapper


def init_data(inputs: str | None, params: tuple[str, ...]) -> dict | None:
    """Init parameters as yadage-run takes them: an inputs file, then -p key=<yaml> on top."""
    if inputs is None and not params:
        return None
    data: dict = {}
    if inputs is not None:
        loaded = read_file(Path(inputs))
        if loaded is not None and not isinstance(loaded, Map):
            raise SpecError(Problem(Pos(inputs, 1, 1), "init data must be a mapping of parameter names to values"))
        data.update(loaded or {})
    for item in params:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise SpecError(Problem(Pos("-p"), f"'{item}': expected key=value"))
        data[key] = parse_text(text, f"-p {key}")
    return data


def _warn(loaded) -> None:
    for warning in loaded.warnings:
        click.echo(f"{warning.pos}: warning: {warning.message}", err=True)


workflow_arg = click.argument("workflow", type=click.Path(dir_okay=False))
toplevel_opt = click.option("-t", "--toplevel", type=click.Path(file_okay=False), help="Folder that top-level $refs resolve against (default: the workflow's folder).")
inputs_opt = click.option("--inputs", type=click.Path(dir_okay=False), help="YAML file of init parameters (checked against init references).")
param_opt = click.option("-p", "--parameter", "params", multiple=True, metavar="KEY=VALUE", help="Init parameter (value read as YAML); repeatable.")


@click.group()
@click.version_option(__version__, prog_name="yadage2x")
def main() -> None:
    """Compile yadage workflows to Snakemake and CWL."""


def count(workflow: Workflow) -> tuple[int, int, int]:
    stages = scopes = dynamic = 0
    for stage in workflow.stages:
        stages += 1
        dynamic += stage.marks.dynamic
        for inner in stage.sub_workflows():
            s, c, d = count(inner)
            stages, scopes, dynamic = stages + s, scopes + c + 1, dynamic + d
    return stages, scopes, dynamic


@main.command()
@workflow_arg
@toplevel_opt
@inputs_opt
@param_opt
@reports_errors
def validate(workflow, toplevel, inputs, params):
    """Check a workflow (or a single step spec): schema, references, placeholders."""
    loaded = load_workflow(workflow, toplevel, init_data(inputs, params))
    _warn(loaded)
    if loaded.workflow is None:
        click.echo(f"{workflow}: valid step ({loaded.step.publisher.kind})")
        return
    stages, scopes, dynamic = count(loaded.workflow)
    click.echo(f"{workflow}: valid ({stages} stages, {scopes} sub-workflows, {dynamic} dynamic)")


@main.command()
@workflow_arg
@toplevel_opt
@inputs_opt
@param_opt
@click.option("--format", "fmt", type=click.Choice(["dot", "mermaid", "json"]), default="dot", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here instead of standard output.")
@reports_errors
def graph(workflow, toplevel, inputs, params, fmt, output):
    """Draw the stage graph: scopes, scatter and dynamic stages, before anything runs.

    `--format json` prints the IR (schemas/ir.schema.json)."""
    loaded = load_workflow(workflow, toplevel, init_data(inputs, params))
    _warn(loaded)
    if loaded.workflow is None:
        raise SpecError(Problem(Pos(workflow), "a single step has no stage graph"))
    if fmt == "dot":
        text = to_dot(loaded.workflow)
    elif fmt == "mermaid":
        text = to_mermaid(loaded.workflow)
    else:
        text = json.dumps(to_json(loaded.workflow), indent=2) + "\n"
    if output:
        write_atomically(Path(output), text)
    else:
        click.echo(text, nl=False)


def write_atomically(path: Path, text: str) -> None:
    """Write to a temporary name beside the target, then rename: never a half-written file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


ENGINES = ("yadage", "snakemake", "cwl")


@main.command()
@workflow_arg
@toplevel_opt
@inputs_opt
@param_opt
@click.option("--initdir", type=click.Path(file_okay=False, exists=True), help="Init directory: init values naming files resolve here (yadage-run -d initdir=).")
@click.option("--engines", default="yadage", show_default=True, help="Comma-separated: yadage, snakemake, cwl.")
@click.option("--expected", type=click.Path(dir_okay=False), help="A stored capture to compare every engine's capture with.")
@click.option("--update", is_flag=True, help="Write yadage's capture to --expected instead of comparing.")
@click.option("-w", "--workdir", type=click.Path(file_okay=False), help="Keep the runs here (one folder per engine); default: a temporary folder.")
@click.option("--docker", is_flag=True, help="Run docker-encapsulated steps in Docker (default: on the host).")
@click.option("--stub", is_flag=True, help="Do not run docker-encapsulated steps: create the files their commands name (for software not installed here).")
@click.option("--strict-order", is_flag=True, help="Count lists with the same items in another order as a difference.")
@click.option("--cwl-runner", type=click.Choice(["cwltool", "toil-cwl-runner"]), default="cwltool", show_default=True, help="The runner of the cwl engine.")
@reports_errors
def check(workflow, toplevel, inputs, params, initdir, engines, expected, update, workdir, docker, stub, strict_order, cwl_runner):
    """Run the workflow on each engine and compare what they publish (exit 0 only if they agree)."""
    import tempfile

    from . import capture
    from .compare import compare
    from .reference import run as run_yadage

    wanted = [e.strip() for e in engines.split(",") if e.strip()]
    unknown = [e for e in wanted if e not in ENGINES]
    if unknown or not wanted:
        raise Yadage2xError(f"--engines: unknown engine {', '.join(unknown) or '(none)'}; choose from {', '.join(ENGINES)}")
    if update and (not expected or wanted != ["yadage"]):
        raise Yadage2xError("--update writes yadage's capture: give --expected FILE and --engines yadage")
    initdata = init_data(inputs, params)
    loaded = load_workflow(workflow, toplevel, initdata)  # refuse a broken workflow before running anything
    _warn(loaded)
    with tempfile.TemporaryDirectory(prefix="yadage2x-check-") as tmp:
        base = Path(workdir) if workdir else Path(tmp)
        if docker and stub:
            raise Yadage2xError("--docker and --stub exclude each other")
        captured = {}
        for engine in wanted:
            if engine == "yadage":
                result = run_yadage(loaded.path, loaded.toplevel, base / "yadage", initdata, Path(initdir) if initdir else None, docker, stub)
                captured[engine], log = result.capture, result.log
            elif engine == "cwl":
                from .engines import run_cwl

                if stub:
                    raise Yadage2xError("--stub is not available for the cwl engine")
                captured[engine], log = run_cwl(loaded, base / engine, initdata, Path(initdir) if initdir else None, docker, cwl_runner)
            else:
                from .engines import run_snakemake

                if docker:
                    raise Yadage2xError("--docker is for the yadage and cwl engines only so far")
                captured[engine], log = run_snakemake(loaded, base / engine, initdata, Path(initdir) if initdir else None, stub)
            click.echo(f"{engine}: {captured[engine]['status']} ({len(captured[engine]['instances'])} instances, log {log if workdir else 'discarded'})")
    if update:
        capture.write(captured["yadage"], Path(expected))
        click.echo(f"wrote {expected}")
        return
    reference = capture.read(Path(expected)) if expected else None
    if reference is None and len(captured) > 1:
        reference = captured[wanted[0]]  # without a stored capture, the first engine is the reference
    differences = 0
    for engine, actual in captured.items():
        if reference is None or actual is reference:
            continue
        found = compare(reference, actual, strict_order)
        differences += len(found)
        for line in found:
            click.echo(f"{engine}: {line}")
        if not found:
            click.echo(f"{engine}: same as {expected or wanted[0]}")
    if differences:
        sys.exit(1)


@main.command()
@workflow_arg
@toplevel_opt
@inputs_opt
@param_opt
@click.option("--initdir", type=click.Path(file_okay=False, exists=True), help="Init directory: init values naming files resolve here.")
@click.option("-o", "--outdir", type=click.Path(file_okay=False), required=True, help="Where to write Snakefile and config.yaml.")
@click.option("--strict", is_flag=True, help="Fail (exit 2, nothing written) if anything cannot be carried over (see loss-report.json).")
@reports_errors
def snakemake(workflow, toplevel, inputs, params, initdir, outdir, strict):
    """Write a self-contained Snakemake workflow (Snakefile, config.yaml) that reproduces yadage."""
    from .emit.snakemake import emit

    initdata, loaded = load_for_emit(workflow, toplevel, inputs, params)
    written, lost = emit(loaded.workflow, loaded.path.name, Path(outdir), initdata,
                         str(Path(initdir).resolve()) if initdir else None, strict)
    report_emitted(written, lost)


def load_for_emit(workflow, toplevel, inputs, params):
    """The init data and the loaded workflow an emitter compiles (a lone step spec is refused)."""
    initdata = init_data(inputs, params)
    loaded = load_workflow(workflow, toplevel, initdata)
    _warn(loaded)
    if loaded.workflow is None:
        raise SpecError(Problem(Pos(workflow), "a single step spec is not a workflow: nothing to emit (give the workflow that uses it)"))
    return initdata, loaded


def report_emitted(written, losses) -> None:
    """What an emitter wrote, and the losses that may change a run as warnings (all of them are
    in loss-report.json)."""
    for loss in losses:
        if loss.severity == "warning":
            click.echo(f"{loss.pos}: warning: {loss.construct}: {loss.reason}", err=True)
    for path in written:
        click.echo(f"wrote {path}")


@main.command("cwl")
@workflow_arg
@toplevel_opt
@inputs_opt
@param_opt
@click.option("--initdir", type=click.Path(file_okay=False, exists=True), help="Init directory: init values naming files become File inputs.")
@click.option("-o", "--outdir", type=click.Path(file_okay=False), required=True, help="Where to write workflow.cwl and inputs.yml.")
@click.option("--split", is_flag=True, help="Write each step's tool beside the workflow (tools/*.cwl) instead of packing them into workflow.cwl.")
@click.option("--strict", is_flag=True, help="Refuse what CWL can only keep as a hint (resources) instead of reporting the loss.")
@reports_errors
def cwl(workflow, toplevel, inputs, params, initdir, outdir, split, strict):
    """Write CWL v1.2 (workflow.cwl, inputs.yml) that any CWL runner executes as yadage would."""
    from .emit.cwl import emit

    initdata, loaded = load_for_emit(workflow, toplevel, inputs, params)
    written, losses = emit(loaded.workflow, loaded.path.name, Path(outdir), initdata,
                           str(Path(initdir).resolve()) if initdir else None, strict=strict, split=split)
    report_emitted(written, losses)
