"""Negative tests: real corpus workflows, each broken by one small text mutation.

Every case copies a corpus folder to a temporary directory, applies exact text edits (each
`old` must occur exactly once), runs `yadage2x validate` as a user would, and checks that

- the exit status is 2 and no traceback is printed;
- every stderr line reads `file:line:col: message`;
- the first stderr line names the expected file (basename) and line, and holds a key word of
  the expected message; further expectations must each match some stderr line.

Expected lines are computed from the mutated text (the line where a needle now is), never
hard-coded. The corpus is read from ../shared/corpus (relative to the repository root) and is
never copied into the repository.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
SPECS = "yadage__yadage/tests/testspecs"
LINE_RE = re.compile(r"^.+:\d+:\d+: \S.*$")
PARSE_RE = re.compile(r"^(?P<file>.+):(?P<line>\d+):(?P<col>\d+): (?P<msg>.*)$")


# -- helpers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    """Replace the one occurrence of ``old`` in ``file`` (relative to the copied folder) by ``new``."""

    file: str
    old: str
    new: str


@dataclass(frozen=True)
class At:
    """An expected problem: in ``file``, on the line where ``needle`` starts (its ``nth``
    occurrence in the mutated text), with ``word`` in the message (case-insensitive)."""

    file: str
    needle: str
    word: str
    nth: int | None = None  # None: the needle must occur exactly once


@dataclass(frozen=True)
class Case:
    id: str
    folder: str  # corpus folder copied to tmp
    workflow: str  # the workflow file, relative to the folder
    edits: tuple[Edit, ...]
    expect: tuple[At, ...]  # expect[0] is the first stderr line
    toplevel: bool = False  # pass -t <folder> and the workflow relative to it
    inputs: str | None = None  # --inputs file, relative to the folder
    xfail: str | None = None
    marks: tuple = field(default_factory=tuple)


def corpus_or_skip() -> Path:
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus not found: corpus tests need the shared corpus")
    return CORPUS


def yadage2x_exe() -> str:
    beside = Path(sys.executable).parent / "yadage2x"
    if beside.exists():
        return str(beside)
    found = shutil.which("yadage2x")
    if found is None:
        pytest.skip("the yadage2x command is not installed (pip install -e .)")
    return found


def copy_folder(folder: str, tmp_path: Path) -> Path:
    source = corpus_or_skip() / folder
    assert source.is_dir(), f"corpus folder missing: {source}"
    dest = tmp_path / "wf"
    shutil.copytree(source, dest)
    return dest


def apply_edit(root: Path, edit: Edit) -> None:
    path = root / edit.file
    text = path.read_text(encoding="utf-8")
    found = text.count(edit.old)
    assert found == 1, f"mutation of {edit.file}: {edit.old!r} occurs {found} times, expected exactly once"
    path.write_text(text.replace(edit.old, edit.new, 1), encoding="utf-8")


def line_of(root: Path, at: At) -> int:
    text = (root / at.file).read_text(encoding="utf-8")
    found = text.count(at.needle)
    if at.nth is None:
        assert found == 1, f"expectation needle {at.needle!r} occurs {found} times in mutated {at.file}"
        index = text.index(at.needle)
    else:
        assert found >= at.nth, f"expectation needle {at.needle!r} occurs {found} times in mutated {at.file}"
        index = -1
        for _ in range(at.nth):
            index = text.index(at.needle, index + 1)
    return text.count("\n", 0, index) + 1


def run_validate(root: Path, case: Case, cwd: Path) -> subprocess.CompletedProcess:
    args = [yadage2x_exe(), "validate"]
    if case.toplevel:
        args += [case.workflow, "-t", str(root)]
    else:
        args += [str(root / case.workflow)]
    if case.inputs:
        args += ["--inputs", str(root / case.inputs)]
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120)


def parse_line(line: str) -> tuple[str, int, str]:
    match = PARSE_RE.match(line)
    assert match, f"not a file:line:col: message line: {line!r}"
    return Path(match["file"]).name, int(match["line"]), match["msg"]


def matches(line: str, file: str, lineno: int, word: str) -> bool:
    name, got_line, msg = parse_line(line)
    return name == Path(file).name and got_line == lineno and word.lower() in msg.lower()


def check_failure(result: subprocess.CompletedProcess) -> list[str]:
    """The common contract of every failure: exit 2, no traceback, one well-formed line each."""
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert result.returncode == 2, f"exit status {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    lines = result.stderr.splitlines()
    assert lines, "no problem reported on stderr"
    for line in lines:
        assert LINE_RE.match(line), f"malformed stderr line: {line!r}\nstderr:\n{result.stderr}"
    return lines


def wf(name: str) -> str:
    return f"{SPECS}/{name}"


MAPREDUCE = wf("mapreduce")
NESTEDMR = wf("nestedmapreduce")
JQWFLOW = wf("jqwflow")
REGVAL = wf("registering_values")
BSM = "reanahub__reana-demo-bsm-search"
ATLAS = "reanahub__reana-demo-atlas-recast"
JSONREF = "yadage__yadage-schemas/tests/testspecs/local-helloworld-jsonref"
PACKTIVITY = "yadage__packtivity/tests/testspecs"

# -- the cases --------------------------------------------------------------------------------

CASES = [
    # --- schema: misspelled keys and values -------------------------------------------------
    Case(
        "key-typo-schedular", MAPREDUCE, "workflow.yml",
        (Edit("workflow.yml", "  - name: reduce\n    dependencies: [map]\n    scheduler:", "  - name: reduce\n    dependencies: [map]\n    schedular:"),),
        (At("workflow.yml", "name: reduce", "scheduler"), At("workflow.yml", "schedular:", "unknown key")),
    ),
    Case(
        "scatter-method-zipp", MAPREDUCE, "workflow.yml",
        (Edit("workflow.yml", "method: zip", "method: zipp"),),
        (At("workflow.yml", "method: zipp", "is not one of"),),
    ),
    Case(
        "process-type-typo-in-steps", MAPREDUCE, "workflow.yml",
        (Edit("steps.yml", "process_type: string-interpolated-cmd", "process_type: string-interpolated-cmmd"),),
        (At("steps.yml", "string-interpolated-cmmd", "process_type"),),
    ),
    Case(
        "publisher-type-typo-in-steps", JQWFLOW, "workflow.yml",
        (Edit("steps.yml", "publisher_type: 'frompar-pub'", "publisher_type: 'from-par-pub'"),),
        (At("steps.yml", "'from-par-pub'", "publisher_type"),),
    ),
    Case(
        "environment-type-tarball", JSONREF, "workflow.yml",
        (Edit("steps.yml", "environment_type: 'localproc-env'", "environment_type: 'tarball'"),),
        (At("steps.yml", "'tarball'", "environment_type"),),
    ),
    Case(
        "unknown-key-in-steps-via-toplevel-ref", ATLAS, "workflow/workflow.yml",
        (Edit("workflow/steps.yml", "    interpreter: bash\n    script: |\n      source /home/atlas/release_setup.sh\n\n      python",
              "    interpretr: bash\n    script: |\n      source /home/atlas/release_setup.sh\n\n      python"),),
        (At("workflow/steps.yml", "interpretr: bash", "unknown key 'interpretr'"),),
        toplevel=True,
    ),
    # --- schema: wrong types ----------------------------------------------------------------
    Case(
        "batchsize-string", BSM, "workflow/workflow_sig.yml",
        (Edit("workflow/workflow_sig.yml", "      batchsize: 2\n      parameters:\n        inputs: {stages: 'read'",
              "      batchsize: 'two'\n      parameters:\n        inputs: {stages: 'read'"),),
        (At("workflow/workflow_sig.yml", "batchsize: 'two'", "batchsize"),),
    ),
    Case(
        "parameters-as-list", MAPREDUCE, "workflow.yml",
        (Edit("workflow.yml", "        input: {stages: 'map', output: outputA}", "        - {stages: 'map', output: outputA}"),),
        (At("workflow.yml", "- {stages: 'map'", "parameters"),),
    ),
    # --- schema: missing required keys ------------------------------------------------------
    Case(
        "missing-name", MAPREDUCE, "workflow.yml",
        (Edit("workflow.yml", "  - name: reduce\n    dependencies: [map]", "  - dependencies: [map]"),),
        (At("workflow.yml", "- dependencies: [map]", "'name'"),),
    ),
    Case(
        "missing-scheduler-type", MAPREDUCE, "workflow.yml",
        (Edit("workflow.yml", "      scheduler_type: singlestep-stage\n", ""),),
        (At("workflow.yml", "      parameters:\n        input: {stages: 'map'", "scheduler_type"),),
    ),
    Case(
        "missing-scatter", MAPREDUCE, "workflow.yml",
        (Edit("workflow.yml", "      scatter:\n        method: zip\n        parameters: [input]\n", ""),),
        (At("workflow.yml", "scheduler_type: multistep-stage", "scatter"),),
    ),
    Case(
        "missing-cmd-in-steps", MAPREDUCE, "workflow.yml",
        (Edit("steps.yml", "    cmd: echo hello > {input} \n", ""),),
        (At("steps.yml", "process_type: string-interpolated-cmd", "cmd"),),
    ),
    Case(
        "missing-image-in-steps", wf("mapreduce_parmount"), "workflow.yml",
        (Edit("steps.yml", "    image: busybox\n  publisher:", "  publisher:"),),
        (At("steps.yml", "environment_type: docker-encapsulated\n  publisher", "image"),),
    ),
    Case(
        "missing-outputmap-in-steps", JQWFLOW, "workflow.yml",
        (Edit("steps.yml", "    outputmap:\n      outputfile: outputfile\n", ""),),
        (At("steps.yml", "publisher_type: 'frompar-pub'", "outputmap"),),
    ),
    # --- schema: literals and exclusive keys ------------------------------------------------
    Case(
        "literal-true-parameter", wf("cartesian_mapreduce"), "workflow.yml",
        (Edit("workflow.yml", "avalue: 'ok'", "avalue: true"),),
        (At("workflow.yml", "avalue: true", "literal true"),),
    ),
    Case(
        "literal-null-parameter", BSM, "workflow/workflow_sig.yml",
        (Edit("workflow/workflow_sig.yml", "type: 'sig'", "type: null"),),
        (At("workflow/workflow_sig.yml", "type: null", "literal"),),
    ),
    Case(
        "literal-yes-is-yaml11-boolean", BSM, "workflow/workflow_sig.yml",
        (Edit("workflow/workflow_sig.yml", "region: signal", "region: yes"),),
        (At("workflow/workflow_sig.yml", "region: yes", "literal"),),
    ),
    Case(
        "batchsize-and-partitionsize", BSM, "workflow/workflow_sig.yml",
        (Edit("workflow/workflow_sig.yml", "      batchsize: 2\n      parameters:\n        inputs: {stages: 'read'",
              "      batchsize: 2\n      partitionsize: 3\n      parameters:\n        inputs: {stages: 'read'"),),
        (At("workflow/workflow_sig.yml", "scheduler_type: multistep-stage\n      batchsize: 2\n      partitionsize", "batchsize or partitionsize"),),
    ),
    Case(
        "step-and-workflow", NESTEDMR, "workflow.yml",
        (Edit("workflow.yml", "      step: {$ref: steps.yml#/stepA}", "      step: {$ref: steps.yml#/stepA}\n      workflow: {$ref: subflow.yml}"),),
        (At("workflow.yml", "scheduler_type: singlestep-stage", "exactly one of"),),
    ),
    # --- references between stages ----------------------------------------------------------
    Case(
        "selector-missing-stage", MAPREDUCE, "workflow.yml",
        (Edit("workflow.yml", "{stages: 'map', output: outputA}", "{stages: 'mapp', output: outputA}"),),
        (At("workflow.yml", "'mapp'", "mapp"),),
    ),
    Case(
        "output-not-published", MAPREDUCE, "workflow.yml",
        (Edit("workflow.yml", "output: outputA}", "output: outputB}"),),
        (At("workflow.yml", "outputB", "has no output 'outputB'"),),
    ),
    Case(
        "init-parameter-not-given", MAPREDUCE, "workflow.yml",
        (Edit("workflow.yml", "output: input, unwrap", "output: inputs, unwrap"),),
        (At("workflow.yml", "output: inputs", "not given"),),
        inputs="input.yml",
    ),
    Case(
        "dependency-missing-stage", MAPREDUCE, "workflow.yml",
        (Edit("workflow.yml", "dependencies: [map]", "dependencies: [mapp]"),),
        (At("workflow.yml", "dependencies: [mapp]", "mapp"),),
    ),
    Case(
        "duplicate-stage-name", JQWFLOW, "workflow.yml",
        (Edit("workflow.yml", "  - name: further", "  - name: reduce"),),
        (At("workflow.yml", "  - name: reduce", "duplicate stage name", nth=2),),
    ),
    Case(
        "stage-named-init", wf("bsm_grid_scaffold"), "workflow/workflow.yml",
        (Edit("workflow/workflow.yml", "- name: inference", "- name: init"),),
        (At("workflow/workflow.yml", "- name: init", "named 'init'"),),
    ),
    Case(
        "scatter-over-missing-parameter", MAPREDUCE, "workflow.yml",
        (Edit("workflow.yml", "parameters: [input]", "parameters: [inputs]"),),
        (At("workflow.yml", "parameters: [inputs]", "not one of its parameters"),),
    ),
    Case(
        "fromvalue-key-not-registered", REGVAL, "workflow.yml",
        (Edit("workflow.yml", "key: ascopedfile}", "key: ascopedfil}"),),
        (At("workflow.yml", "key: ascopedfil}", "registered"),),
    ),
    Case(
        "subworkflow-ref-without-index", NESTEDMR, "workflow.yml",
        (Edit("workflow.yml", "'map.[*].stage1'", "'map.stage1'"),),
        (At("workflow.yml", "'map.stage1'", "map.stage1"),),
    ),
    Case(
        "dependency-map0-on-subworkflow-crashes-yadage", NESTEDMR, "workflow.yml",
        (Edit("workflow.yml", "    dependencies: [map]", "    dependencies: ['map[0]']"),),
        (At("workflow.yml", "dependencies: ['map[0]']", "crashes yadage"),),
    ),
    Case(
        "stage-cycle-via-dependencies", MAPREDUCE, "workflow.yml",
        (Edit("workflow.yml", "dependencies: [init]", "dependencies: [reduce]"),),
        (At("workflow.yml", "- name: map", "cycle"),),
    ),
    Case(
        "stage-depends-on-itself", REGVAL, "workflow.yml",
        (Edit("workflow.yml", "  dependencies: [init]", "  dependencies: [hello]"),),
        (At("workflow.yml", "dependencies: [hello]\n  scheduler:\n    scheduler_type: singlestep-stage\n    parameters:\n      msg", "itself"),),
    ),
    # --- templates: placeholders and braces -------------------------------------------------
    Case(
        "cmd-placeholder-without-parameter", MAPREDUCE, "workflow.yml",
        (Edit("steps.yml", "> {input} ", "> {inputt} "),),
        (At("steps.yml", "{inputt}", "no parameter 'inputt'"),),
    ),
    Case(
        "cmd-workdir-placeholder", JSONREF, "workflow.yml",
        (Edit("steps.yml", "tee {outputfile}'", "tee {workdir}/out.txt'"),),
        (At("steps.yml", "{workdir}/out.txt", "workdir"),),
    ),
    Case(
        "cmd-unbalanced-braces", JSONREF, "workflow.yml",
        (Edit("steps.yml", "'echo Hello {parone} |", "'echo Hello {parone |"),),
        (At("steps.yml", "{parone |", "unbalanced"),),
    ),
    Case(
        "parameter-unbalanced-braces", REGVAL, "workflow.yml",
        (Edit("workflow.yml", '"{workdir}/hello.txt"', '"{workdir/hello.txt"'),),
        (At("workflow.yml", "{workdir/hello.txt", "unbalanced"),),
    ),
    Case(
        "publisher-placeholder-without-parameter", REGVAL, "workflow.yml",
        (Edit("workflow.yml", "          output: '{outputfile}'\n\n", "          output: '{outputfil}'\n\n"),),
        (At("workflow.yml", "'{outputfil}'", "no parameter 'outputfil'"),),
    ),
    Case(
        "frompar-pub-unknown-parameter", JSONREF, "workflow.yml",
        (Edit("steps.yml", "outputfile: outputfile", "outputfile: outfile"),),
        (At("steps.yml", "outputfile: outfile", "outfile"),),
    ),
    Case(
        "workdir-in-params-of-subworkflow-stage", NESTEDMR, "workflow.yml",
        (Edit("workflow.yml", "        inputpar: {stages: init, output: input, unwrap: true}\n      workflow:",
              "        inputpar: {stages: init, output: input, unwrap: true}\n        outdir: '{workdir}/sub'\n      workflow:"),),
        (At("workflow.yml", "outdir: '{workdir}/sub'", "workdir"),),
    ),
    # --- $ref ---------------------------------------------------------------------------------
    Case(
        "ref-missing-file", MAPREDUCE, "workflow.yml",
        (Edit("workflow.yml", "{$ref: steps.yml#/stepA}\n      scatter", "{$ref: stepz.yml#/stepA}\n      scatter"),),
        (At("workflow.yml", "stepz.yml", "$ref"),),
    ),
    Case(
        "ref-bad-fragment", ATLAS, "workflow/workflow.yml",
        (Edit("workflow/workflow.yml", "workflow/steps.yml#/statanalysis", "workflow/steps.yml#/statanalyses"),),
        (At("workflow/workflow.yml", "#/statanalyses", "$ref"),),
        toplevel=True,
    ),
    Case(
        "ref-cycle", JSONREF, "workflow.yml",
        (Edit("workflow.yml", "steps.yml#/astep", "steps.yml#/loop"),
         Edit("steps.yml", "astep:\n", "loop: {$ref: '#/loop2'}\nloop2: {$ref: '#/loop'}\nastep:\n")),
        (At("steps.yml", "loop2: {$ref: '#/loop'}", "$ref cycle"),),
    ),
    # --- jq and selector syntax ---------------------------------------------------------------
    Case(
        "case-if-invalid-jq", wf("casesflow/single"), "workflow.yml",
        (Edit("workflow.yml", "    - if: 4 <= .parone\n      workflow: {$ref: 'subflow.yml'}", ""),
         Edit("workflow.yml", "if: .parone==0", "if: .parone==0)")),
        (At("workflow.yml", "if: .parone==0)", "jq"),),
    ),
    Case(
        "jq-stage-stepscript-invalid", JQWFLOW, "workflow.yml",
        (Edit("workflow.yml", ".parone[0][0] | map({parone", ".parone[0][0] | map(({parone"),),
        (At("workflow.yml", "stepscript: >\n        .parone[0][0]", "jq"),),
    ),
    Case(
        "selector-starts-with-digit", MAPREDUCE, "workflow.yml",
        (Edit("workflow.yml", "{stages: 'map', output: outputA}", "{stages: '1abc', output: outputA}"),),
        (At("workflow.yml", "'1abc'", "selector"),),
    ),
    Case(
        "selector-trailing-double-dot", MAPREDUCE, "workflow.yml",
        (Edit("workflow.yml", "{stages: 'map', output: outputA}", "{stages: 'map..', output: outputA}"),),
        (At("workflow.yml", "'map..'", "selector"),),
    ),
    # --- YAML ---------------------------------------------------------------------------------
    Case(
        "yaml-bad-indentation", MAPREDUCE, "workflow.yml",
        (Edit("workflow.yml", "      scheduler_type: singlestep-stage\n      parameters:", "      scheduler_type: singlestep-stage\n       parameters:"),),
        (At("workflow.yml", "       parameters:\n        input: {stages: 'map'", "YAML syntax"),),
    ),
    Case(
        "yaml-tab-indented-line", MAPREDUCE, "workflow.yml",
        (Edit("workflow.yml", "        input: {stages: 'map', output: outputA}", "\tinput: {stages: 'map', output: outputA}"),),
        (At("workflow.yml", "\tinput:", "YAML syntax"),),
    ),
    Case(
        "yaml-tab-indented-line-in-steps", MAPREDUCE, "workflow.yml",
        (Edit("steps.yml", "    environment_type: localproc-env", "\tenvironment_type: localproc-env"),),
        (At("steps.yml", "\tenvironment_type", "YAML syntax"),),
    ),
    Case(
        "yaml-duplicate-key", MAPREDUCE, "workflow.yml",
        (Edit("workflow.yml", "  - name: reduce\n    dependencies: [map]\n", "  - name: reduce\n    dependencies: [map]\n    dependencies: [map]\n"),),
        (At("workflow.yml", "    dependencies: [map]", "duplicate key", nth=2),),
    ),
    # --- step-only specs (packtivity) -----------------------------------------------------------
    Case(
        "packtivity-image-key-typo", PACKTIVITY, "dockertouchfile.yml",
        (Edit("dockertouchfile.yml", "  image: busybox", "  imag: busybox"),),
        (At("dockertouchfile.yml", "environment_type: 'docker-encapsulated'", "image"),
         At("dockertouchfile.yml", "imag: busybox", "unknown key 'imag'")),
    ),
    Case(
        "packtivity-publisher-type-typo", PACKTIVITY, "localtouchfile.yml",
        (Edit("localtouchfile.yml", "publisher_type: 'frompar-pub'", "publisher_type: 'frompar'"),),
        (At("localtouchfile.yml", "'frompar'", "publisher_type"),),
    ),
    # --- problems inside nested sub-workflow files ------------------------------------------
    Case(
        "subsubflow-init-parameter-not-given", wf("nested"), "workflow.yml",
        (Edit("subsubflow.yml", "output: inputpar", "output: inputparr"),),
        (At("subsubflow.yml", "output: inputparr", "not given"),),
    ),
    Case(
        "subflow-dependency-missing-stage", wf("nested"), "workflow.yml",
        (Edit("subflow.yml", "dependencies: ['morenested']", "dependencies: ['morenestd']"),),
        (At("subflow.yml", "'morenestd'", "morenestd"),),
    ),
    Case(
        "bsm-flagship-deep-subworkflow-init-not-given", BSM, "workflow/databkgmc.yml",
        (Edit("workflow/workflow_select_shape.yml", "shapevar: {stages: init, output: shapevar,", "shapevar: {stages: init, output: shapevars,"),),
        (At("workflow/workflow_select_shape.yml", "output: shapevars", "not given"),),
        toplevel=True,
    ),
    Case(
        "bsm-grid-subworkflow-scatter-typo", wf("bsm_grid_scaffold"), "workflow/workflow.yml",
        (Edit("workflow/signals_flow.yml", "method: zip", "method: zipped"),),
        (At("workflow/signals_flow.yml", "method: zipped", "is not one of"),),
    ),
]

# Cases where the validator misses the problem or reports it elsewhere: strict xfail, so a fix
# turns them into failures that ask for the mark to be removed. Filled in from test runs.
XFAIL: dict[str, str] = {}


def _param(case: Case):
    marks = list(case.marks)
    reason = case.xfail or XFAIL.get(case.id)
    if reason:
        marks.append(pytest.mark.xfail(strict=True, reason=reason))
    return pytest.param(case, id=case.id, marks=marks)


def test_enough_cases():
    assert len(CASES) >= 35
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_negative(case: Case, tmp_path: Path):
    root = copy_folder(case.folder, tmp_path)
    for edit in case.edits:
        apply_edit(root, edit)
    expected = [(at, line_of(root, at)) for at in case.expect]
    result = run_validate(root, case, tmp_path)
    lines = check_failure(result)
    first_at, first_line = expected[0]
    name, got_line, msg = parse_line(lines[0])
    assert (name, got_line) == (Path(first_at.file).name, first_line), (
        f"first problem at {name}:{got_line}, expected {Path(first_at.file).name}:{first_line}\nstderr:\n{result.stderr}"
    )
    assert first_at.word.lower() in msg.lower(), f"{first_at.word!r} not in first message {msg!r}\nstderr:\n{result.stderr}"
    for at, lineno in expected[1:]:
        assert any(matches(line, at.file, lineno, at.word) for line in lines), (
            f"no problem at {Path(at.file).name}:{lineno} mentioning {at.word!r}\nstderr:\n{result.stderr}"
        )


def test_unmutated_sources_are_valid(tmp_path: Path):
    """The mutations must be what breaks the workflows: every source folder validates as is
    (except casesflow/single, whose mutation removes a case the validator already rejects)."""
    seen = set()
    for case in CASES:
        key = (case.folder, case.workflow, case.toplevel)
        if key in seen or case.folder == wf("casesflow/single"):
            continue
        seen.add(key)
        root = tmp_path / f"src{len(seen)}"
        shutil.copytree(corpus_or_skip() / case.folder, root)
        result = run_validate(root, case, tmp_path)
        assert result.returncode == 0, f"{case.folder}/{case.workflow} is not valid before mutation:\n{result.stderr}"


def _expect_exactly(root: Path, result, wanted: list[tuple[Edit, At]]) -> None:
    """stderr holds exactly one line per wanted problem, each at its file:line with its word."""
    lines = check_failure(result)
    assert len(lines) == len(wanted), f"expected {len(wanted)} problems, got {len(lines)}:\n{result.stderr}"
    for _, at in wanted:
        lineno = line_of(root, at)
        assert any(matches(line, at.file, lineno, at.word) for line in lines), (
            f"no problem at {Path(at.file).name}:{lineno} mentioning {at.word!r}\nstderr:\n{result.stderr}"
        )


def test_all_problems_reported_at_once(tmp_path: Path):
    """Three independent mistakes in one workflow give three lines, not just the first."""
    root = copy_folder(BSM, tmp_path)
    name = "workflow/workflow_sig.yml"
    wanted = [
        # a selector naming no stage
        (Edit(name, "inputs: {stages: 'read', output: outputfile}", "inputs: {stages: 'reed', output: outputfile}"),
         At(name, "'reed'", "no stage 'reed'")),
        # an output the stage does not publish
        (Edit(name, "inputfile: {stages: 'merge', output: mergedfile}", "inputfile: {stages: 'merge', output: mergedfil}"),
         At(name, "output: mergedfil}", "has no output 'mergedfil'")),
        # unbalanced braces in a parameter value
        (Edit(name, "outputfile: '{workdir}/hist.root'", "outputfile: '{workdir/hist.root'"),
         At(name, "{workdir/hist.root", "unbalanced")),
    ]
    for edit, _ in wanted:
        apply_edit(root, edit)
    result = run_validate(root, Case("three", BSM, name, (), ()), tmp_path)
    _expect_exactly(root, result, wanted)


def test_all_schema_problems_reported_across_files(tmp_path: Path):
    """Three schema mistakes in two files (the workflow and the steps it $refs) give three lines."""
    root = copy_folder(MAPREDUCE, tmp_path)
    wanted = [
        (Edit("workflow.yml", "method: zip", "method: zipp"), At("workflow.yml", "method: zipp", "is not one of")),
        (Edit("steps.yml", "process_type: string-interpolated-cmd", "process_type: string-cmd"),
         At("steps.yml", "string-cmd", "process_type")),
        (Edit("steps.yml", "publisher_type: 'constant-pub'", "publisher_type: 'const-pub'"),
         At("steps.yml", "'const-pub'", "publisher_type")),
    ]
    for edit, _ in wanted:
        apply_edit(root, edit)
    result = run_validate(root, Case("three-schema", MAPREDUCE, "workflow.yml", (), ()), tmp_path)
    _expect_exactly(root, result, wanted)
