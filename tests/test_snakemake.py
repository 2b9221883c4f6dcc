"""The Snakemake emitter: emitted workflows run with Snakemake alone and publish what yadage
published (the stored captures); constructs not translated yet are refused with their position."""
from __future__ import annotations

from pathlib import Path

import pytest

import re

from golden_snakemake import CASES
from yadage2x.emit.snakemake import _rules, snakefile, unsupported
from yadage2x.ir import LocalEnvironment
from yadage2x.load import load_workflow

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.parent for p in (ROOT / "examples").glob("*/workflow.yml"))
SUPPORTED = [e for e in EXAMPLES if not unsupported(load_workflow(e / "workflow.yml").workflow)]
FIXTURES = ROOT / "tests" / "fixtures"


def host_steps(workflow):
    """Rules that run on the host by design, where a container lint is expected: localproc
    steps, stages that only publish, and the results bookkeeping."""
    found = [(rule.name, rule.stage) for rule in _rules(workflow)
             if any(isinstance(s.environment, LocalEnvironment) for s in rule.steps) or all(s.pure_publishing for s in rule.steps)]
    return found + [("yadage2x_results", None)]


def test_every_example_is_translated():
    assert SUPPORTED == EXAMPLES


@pytest.mark.parametrize("example", SUPPORTED, ids=[e.name for e in SUPPORTED])
def test_snakemake_reproduces_yadages_capture(example, cli, tmp_path):
    args = ["--inputs", example / "input.yml"]
    if (example / "inputs").is_dir():
        args += ["--initdir", example / "inputs"]
    result = cli("check", example / "workflow.yml", *args, "--engines", "snakemake", "--expected", example / "capture.json", "-w", tmp_path)
    assert result.code == 0, result.out + result.err
    assert "snakemake: same as" in result.out


def test_manual_steps_are_refused_with_positions(cli, tmp_path):
    result = cli("snakemake", FIXTURES / "manual" / "workflow.yml", "-o", tmp_path / "out")
    assert result.code == 2
    assert [line.split(": ", 1)[0].rsplit("/", 1)[-1] for line in result.errors] == ["workflow.yml:10:11", "workflow.yml:16:11"]
    assert "cannot run unattended" in result.errors[0]
    assert not (tmp_path / "out").exists()


def test_predicates_over_run_time_results_are_refused(cli, tmp_path):
    result = cli("snakemake", FIXTURES / "expressions-dynamic" / "workflow.yml", "-o", tmp_path / "out")
    assert result.code == 2 and len(result.errors) == 1
    assert result.errors[0].split(": ", 1)[0].endswith("workflow.yml:19:11") and "expressions_fulfilled" in result.errors[0]


def test_resources_become_snakemake_resources_and_the_rest_is_reported(cli, tmp_path):
    import json

    wf = FIXTURES / "resources" / "workflow.yml"
    result = cli("snakemake", wf, "-o", tmp_path / "out")
    assert result.code == 0, result.err
    text = (tmp_path / "out" / "Snakefile").read_text()
    # the limit (8Gi) wins over the request; 1500m is 2 cores; 3600 s is 60 minutes
    assert "    threads: 2\n    resources: mem_mb=8192, runtime=60\n" in text
    report = json.loads((tmp_path / "out" / "loss-report.json").read_text())
    lost = {(loss["construct"], loss["line"], loss["severity"]) for loss in report["losses"]}
    assert lost == {("resources: CVMFS", 18, "warning"), ("resources: GRIDProxy", 19, "warning"),
                    ("resources: compute_backend", 24, "info"), ("resources: kubernetes_uid", 25, "info")}
    # CVMFS is bound for apptainer by the workflow profile Snakemake reads by itself
    assert 'apptainer-args: "--bind /cvmfs"' in (tmp_path / "out" / "profiles" / "default" / "config.yaml").read_text()
    # warnings on standard error, each at its line
    assert "workflow.yml:18:15: warning: resources: CVMFS" in result.err
    strict = cli("snakemake", wf, "-o", tmp_path / "strict", "--strict")
    assert strict.code == 2 and len(strict.errors) == 4 and not (tmp_path / "strict").exists()


@pytest.mark.parametrize("quantity, mib", [("8Gi", 8192), ("500M", 477), ("1G", 954), (2**30, 1024), ("1.5Gi", 1536), ("64Ki", 1)])
def test_memory_quantities_read_as_kubernetes_reads_them(quantity, mib):
    from yadage2x.emit.resources import memory_mb

    assert memory_mb(quantity) == mib


@pytest.mark.parametrize("text, minutes", [("30", 30), ("10:30", 11), ("2:00:00", 120), ("1-00", 1440), ("1-2:30", 1590)])
def test_slurm_times_read_as_slurm_reads_them(text, minutes):
    from yadage2x.emit.resources import slurm_minutes

    assert slurm_minutes(text) == minutes


def test_emitting_twice_gives_the_same_bytes(cli, tmp_path):
    example = ROOT / "examples" / "nested-mapreduce"
    for out in ("a", "b"):
        assert cli("snakemake", example / "workflow.yml", "--inputs", example / "input.yml", "-o", tmp_path / out).code == 0
    files = sorted(str(f.relative_to(tmp_path / "a")) for f in (tmp_path / "a").rglob("*") if f.is_file())
    assert "profiles/default/config.yaml" in files and "loss-report.json" in files
    assert files == sorted(str(f.relative_to(tmp_path / "b")) for f in (tmp_path / "b").rglob("*") if f.is_file())
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_dynamic_stages_become_checkpoints_static_ones_rules():
    text = snakefile(load_workflow(ROOT / "examples" / "dynamic-mapreduce" / "workflow.yml").workflow, "wf.yml")
    assert "\ncheckpoint split:" in text and "\nrule map:" in text and "\nrule reduce:" in text
    assert 'wildcard_constraints: instance=r"map_\\d+"' in text


def _corpus_supported():
    from corpus_runs import CORPUS, RUNS

    if not CORPUS.is_dir():
        return []
    names = []
    for name, run in sorted(RUNS.items()):
        top = CORPUS / run.toplevel if run.toplevel else None
        if not unsupported(load_workflow(run.workflow if top else CORPUS / run.workflow, top).workflow):
            names.append(name)
    return names


@pytest.mark.parametrize("name", _corpus_supported())
def test_snakemake_reproduces_the_corpus_captures(name, corpus, cli, tmp_path):
    from corpus_runs import CAPTURES, check_args

    result = cli("check", *check_args(name), "--engines", "snakemake", "--expected", CAPTURES / f"{name}.json", "-w", tmp_path)
    assert result.code == 0, result.out + result.err


def test_an_empty_scatter_stalls_as_in_yadage(cli, tmp_path):
    """yadage ends 'successfully' with the reduce never run; the emitted workflow says the same."""
    wf = ROOT / "tests" / "fixtures" / "empty-scatter" / "workflow.yml"
    result = cli("check", wf, "-p", "xs=[]", "--engines", "yadage,snakemake", "-w", tmp_path)
    assert result.code == 0, result.out + result.err
    assert "yadage: stalled (1 instances" in result.out and "snakemake: stalled (1 instances" in result.out


@pytest.mark.parametrize("example", SUPPORTED, ids=[e.name for e in SUPPORTED])
def test_emitted_snakefile_passes_lint_and_a_dry_run(example, cli, tmp_path):
    import subprocess

    from yadage2x.engines import find_tool

    args = ["--inputs", example / "input.yml"]
    if (example / "inputs").is_dir():
        args += ["--initdir", example / "inputs"]
    assert cli("snakemake", example / "workflow.yml", *args, "-o", tmp_path / "wf").code == 0
    # as the README says to run it: the config beside the Snakefile is found without --configfile
    base = [find_tool("snakemake"), "-s", str(tmp_path / "wf" / "Snakefile"), "--directory", str(tmp_path / "run")]
    (tmp_path / "run").mkdir()
    lint = subprocess.run(base + ["--lint"], capture_output=True, text=True)
    text = lint.stdout + lint.stderr
    host_rules = {rule for rule, _ in host_steps(load_workflow(example / "workflow.yml").workflow)}
    linted = re.findall(r"^Lints for (\S+) (\S+)", text, re.M)
    titles = set(re.findall(r"^    \* (.+?):$", text, re.M))
    # the one lint allowed: a localproc-env step runs on the host by definition, it has no image
    assert all(kind == "rule" and name in host_rules for kind, name in linted), text
    assert titles <= {"Specify a conda environment or container for each rule."}, text
    assert lint.returncode == 0 or linted
    dry = subprocess.run(base + ["-n", "--cores", "1", "all"], capture_output=True, text=True)
    assert dry.returncode == 0, dry.stdout + dry.stderr


@pytest.mark.parametrize("case", CASES)
def test_emitted_files_match_the_golden_files(case, tmp_path):
    from golden_snakemake import FILES, GOLDEN, emit_case

    emit_case(case, tmp_path)
    for name in FILES:
        assert (tmp_path / name).read_text() == (GOLDEN / case / name).read_text(), f"{case}/{name}: run python tests/golden_snakemake.py and review the diff"
    assert (tmp_path / "yadage2x_runtime.py").read_text() == (ROOT / "yadage2x" / "runtime.py").read_text()


@pytest.mark.parametrize("name", _corpus_supported())
def test_corpus_snakefiles_pass_lint(name, corpus, cli, tmp_path):
    import subprocess

    from corpus_runs import check_args
    from yadage2x.engines import find_tool

    args = [a for a in check_args(name) if a != "--stub"]
    assert cli("snakemake", *args, "-o", tmp_path / "wf").code == 0
    (tmp_path / "run").mkdir()
    lint = subprocess.run([find_tool("snakemake"), "-s", str(tmp_path / "wf" / "Snakefile"), "--directory", str(tmp_path / "run"), "--lint"],
                          capture_output=True, text=True)
    text = lint.stdout + lint.stderr
    # the one lint allowed, as for the examples: host (localproc) steps have no container
    titles = set(re.findall(r"^    \* (.+?):$", text, re.M))
    assert titles <= {"Specify a conda environment or container for each rule."}, text


# the madminer workflows need MadGraph, Delphes and MLflow: compiled and checked, not run
COMPILE_ONLY = {
    "madminer-ph": ("madminer-tool__madminer-workflow-ph/workflow", ["-p", "input_file=input.yml", "-p", "num_procs_per_job=1"]),
    "madminer-ml": ("madminer-tool__madminer-workflow-ml/workflow", ["-p", "input_file=input.yml", "-p", "data_file=/data/combined.h5",
                    "-p", "mlflow_args_s=''", "-p", "mlflow_args_t=''", "-p", "mlflow_args_e=''", "-p", "mlflow_server=http://mlflow", "-p", "mlflow_username=u"]),
}


@pytest.mark.parametrize("name", sorted(COMPILE_ONLY))
def test_compile_only_corpus_workflows_pass_lint_and_a_dry_run(name, corpus, cli, tmp_path):
    import subprocess

    from yadage2x.engines import find_tool

    folder, params = COMPILE_ONLY[name]
    base = corpus / folder
    assert cli("snakemake", base / "yadage" / "workflow.yml", *params, "--initdir", base, "-o", tmp_path / "wf").code == 0
    (tmp_path / "run").mkdir()
    snakefile = ["-s", str(tmp_path / "wf" / "Snakefile"), "--directory", str(tmp_path / "run")]
    lint = subprocess.run([find_tool("snakemake"), *snakefile, "--lint"], capture_output=True, text=True)
    text = lint.stdout + lint.stderr
    # docker steps all carry their image: the one lint is the host-side bookkeeping rule's
    assert re.findall(r"^Lints for (\S+) (\S+)", text, re.M) == [("rule", "yadage2x_results")], text
    dry = subprocess.run([find_tool("snakemake"), *snakefile, "-n", "--cores", "1", "all"], capture_output=True, text=True)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    # the first stage reads what it publishes from its files: the dry run stops at its checkpoint
    assert "checkpoint " in dry.stdout


SNAKEMAKE8 = ROOT / ".venv-snakemake8" / "bin" / "snakemake"


@pytest.mark.parametrize("name", ["helloworld", "dynamic-mapreduce", "nested-mapreduce", "cases-dynamic", "jq-stage"])
def test_the_emitted_workflow_runs_with_snakemake_8(name, cli, tmp_path, monkeypatch):
    if not SNAKEMAKE8.exists():
        pytest.skip("Snakemake 8 not installed: scripts/setup.sh test makes .venv-snakemake8")
    assert subprocess_version(SNAKEMAKE8).startswith("8.")
    example = ROOT / "examples" / name
    monkeypatch.setenv("YADAGE2X_SNAKEMAKE", str(SNAKEMAKE8))
    result = cli("check", example / "workflow.yml", "--inputs", example / "input.yml", "--engines", "snakemake",
                 "--expected", example / "capture.json", "-w", tmp_path)
    assert result.code == 0, result.out + result.err
    assert "snakemake: same as" in result.out


def subprocess_version(tool) -> str:
    import subprocess

    return subprocess.run([str(tool), "--version"], capture_output=True, text=True).stdout


def test_jq_runs_through_the_jq_program_where_the_module_is_missing(monkeypatch):
    import builtins
    import shutil

    from yadage2x import runtime

    if not shutil.which("jq"):
        pytest.skip("no jq program on this machine")
    real_import = builtins.__import__

    def without_jq_module(name, *args, **kwargs):
        if name == "jq":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    value = {"a": [1, "x", {"b": None}], "n": 2.5}
    with_module = [runtime.jq_outputs(p, value) for p in (".a[]", "{n, c: (.a | length)}", ".n > 2")]
    monkeypatch.setattr(builtins, "__import__", without_jq_module)
    assert [runtime.jq_outputs(p, value) for p in (".a[]", "{n, c: (.a | length)}", ".n > 2")] == with_module
    with pytest.raises(RuntimeError, match="jq"):
        runtime.jq_outputs(".a[", value)


def test_each_scattered_instance_waits_only_for_what_it_reads(tmp_path):
    from yadage2x.emit.snakemake import planner_json
    from yadage2x.runtime import Plan

    workflow = planner_json(load_workflow(FIXTURES / "chained-scatter" / "workflow.yml").workflow)
    plan = Plan(workflow, {"xs": [1, 2, 3]}, None, str(tmp_path), result_of=None)
    assert [plan.step_deps(f"second_{i}") for i in range(3)] == [["first_0"], ["first_1"], ["first_2"]]
    assert plan.step_deps("first_0") == []
    # readdirs too: second_1 reads first_1's folder only
    assert plan.instances["second_1"]["parameters"]["x"] == f"{tmp_path}/first_1/x.txt"


def test_a_lone_step_spec_is_refused_in_one_line(cli, tmp_path):
    step = tmp_path / "step.yml"
    step.write_text("process: {process_type: string-interpolated-cmd, cmd: echo}\n"
                    "environment: {environment_type: localproc-env}\n"
                    "publisher: {publisher_type: constant-pub, publish: {}}\n")
    result = cli("snakemake", step, "-o", tmp_path / "out")
    assert result.code == 2 and len(result.errors) == 1 and "not a workflow" in result.errors[0]
    assert not (tmp_path / "out").exists()
