"""The CWL emitter: emitted workflows pass `cwltool --validate`, run with cwltool (on the host,
and in Docker with YADAGE2X_DOCKER=1) and with toil-cwl-runner, and publish what yadage
published (the stored captures); constructs not translated are refused with their position."""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from yadage2x.emit.cwl import unsupported
from yadage2x.engines import find_tool
from yadage2x.load import load_workflow
from yadage2x.load.source import read_file

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.parent for p in (ROOT / "examples").glob("*/workflow.yml"))


def _initdata(example: Path) -> dict:
    return dict(read_file(example / "input.yml"))


SUPPORTED = [e for e in EXAMPLES if not unsupported(load_workflow(e / "workflow.yml").workflow, _initdata(e))]
NOT_YET = [e for e in EXAMPLES if e not in SUPPORTED]
TOIL = Path(os.environ.get("YADAGE2X_TOIL") or ROOT / ".venv-toil" / "bin" / "toil-cwl-runner")
# toil costs about 25 s a workflow here: a representative subset (scatter, batching, sub-workflows
# two levels deep, registered values, cases with pickValue, init files) runs in the normal suite
TOIL_SUBSET = ["batching", "nested-mapreduce", "registered-values", "cases-static", "init-files"]


def example_args(example: Path) -> list:
    args = ["--inputs", example / "input.yml"]
    if (example / "inputs").is_dir():
        args += ["--initdir", example / "inputs"]
    return args


def validate(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([find_tool("cwltool"), "--validate", str(path)], capture_output=True, text=True)


def test_most_examples_are_translated():
    assert len(SUPPORTED) >= 9, [e.name for e in SUPPORTED]


@pytest.mark.parametrize("example", SUPPORTED, ids=[e.name for e in SUPPORTED])
def test_cwl_reproduces_yadages_capture(example, cli, tmp_path):
    result = cli("check", example / "workflow.yml", *example_args(example), "--engines", "cwl",
                 "--expected", example / "capture.json", "-w", tmp_path)
    assert result.code == 0, result.out + result.err + (tmp_path / "cwl" / "cwltool.log").read_text()
    assert "cwl: same as" in result.out


# packed for every example; split (each tool file validated on its own, about 1 s each) for two
LAYOUTS = [(e, "packed") for e in SUPPORTED] + [(e, "split") for e in SUPPORTED if e.name in ("batching", "nested-mapreduce")]


@pytest.mark.parametrize("example,layout", LAYOUTS, ids=[f"{e.name}-{layout}" for e, layout in LAYOUTS])
def test_emitted_cwl_is_valid(example, layout, cli, tmp_path):
    out = tmp_path / "wf"
    assert cli("cwl", example / "workflow.yml", *example_args(example), "-o", out, *(["--split"] if layout == "split" else [])).code == 0
    checked = validate(out / "workflow.cwl")
    assert checked.returncode == 0 and "is valid CWL" in checked.stdout, checked.stdout + checked.stderr
    for tool in sorted((out / "tools").glob("*.cwl")):  # a tool file stands alone too
        checked = validate(tool)
        assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.skipif(os.environ.get("YADAGE2X_DOCKER") != "1", reason="Docker tests run with YADAGE2X_DOCKER=1 (scripts/test.sh starts the engine)")
@pytest.mark.parametrize("example", SUPPORTED, ids=[e.name for e in SUPPORTED])
def test_cwl_in_docker_reproduces_yadages_capture(example, cli, tmp_path):
    result = cli("check", example / "workflow.yml", *example_args(example), "--engines", "cwl", "--docker",
                 "--expected", example / "capture.json", "-w", tmp_path)
    assert result.code == 0, result.out + result.err + (tmp_path / "cwl" / "cwltool.log").read_text()


@pytest.mark.skipif(not TOIL.exists(), reason="toil-cwl-runner not found: scripts/setup.sh test makes .venv-toil")
@pytest.mark.parametrize("name", TOIL_SUBSET)
def test_toil_reproduces_yadages_capture(name, cli, tmp_path):
    example = ROOT / "examples" / name
    result = cli("check", example / "workflow.yml", *example_args(example), "--engines", "cwl", "--cwl-runner", "toil-cwl-runner",
                 "--expected", example / "capture.json", "-w", tmp_path)
    assert result.code == 0, result.out + result.err + (tmp_path / "cwl" / "toil-cwl-runner.log").read_text()


@pytest.mark.parametrize("example", NOT_YET, ids=[e.name for e in NOT_YET])
def test_constructs_not_translated_are_refused_with_positions(example, cli, tmp_path):
    result = cli("cwl", example / "workflow.yml", *example_args(example), "-o", tmp_path / "out")
    assert result.code == 2 and result.errors
    assert all(line.count(":") >= 3 and ": cwl: " in line for line in result.errors), result.errors
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("case", ["helloworld", "mapreduce-zip", "batching", "nested-mapreduce", "nested-mapreduce-split", "registered-values"])
def test_emitted_files_match_the_golden_files(case, tmp_path):
    from golden_cwl import GOLDEN, emit_case

    written = emit_case(case, tmp_path)
    names = sorted(str(p.relative_to(tmp_path)) for p in written)
    assert names == sorted(str(p.relative_to(GOLDEN / case)) for p in (GOLDEN / case).rglob("*") if p.is_file())
    for name in names:
        assert (tmp_path / name).read_text() == (GOLDEN / case / name).read_text(), f"{case}/{name}: run python tests/golden_cwl.py and review the diff"


def test_emitting_twice_gives_the_same_bytes(cli, tmp_path):
    example = ROOT / "examples" / "nested-mapreduce"
    for out in ("a", "b"):
        assert cli("cwl", example / "workflow.yml", *example_args(example), "-o", tmp_path / out, "--split").code == 0
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


# -- construct families, each run with yadage and the emitted CWL side by side ---------------


def same_as_yadage(cli, wf: Path, params: list[str], tmp_path: Path):
    """Run ``wf`` with yadage and with the emitted CWL; both must publish the same."""
    args = [a for key_value in params for a in ("-p", key_value)]
    result = cli("check", wf, *args, "--engines", "yadage,cwl", "-w", tmp_path)
    assert result.code == 0, result.out + result.err
    assert "cwl: same as yadage" in result.out
    return result


def test_zip_truncates_unequal_lists_as_yadage_does(cli, write, tmp_path):
    """yadage zips [a, b, c] with [1, 2] into two instances; CWL's dotproduct would refuse."""
    wf = write("zip.yml", """
        stages:
          - name: pair
            dependencies: [init]
            scheduler:
              scheduler_type: multistep-stage
              parameters:
                word: {step: init, output: words}
                n: {step: init, output: ns}
                outputfile: '{workdir}/pair.txt'
              scatter: {method: zip, parameters: [word, n]}
              step:
                process: {process_type: string-interpolated-cmd, cmd: 'echo {word} {n} > {outputfile}'}
                environment: {environment_type: localproc-env}
                publisher: {publisher_type: frompar-pub, outputmap: {pair: outputfile, word: word}}
    """)
    result = same_as_yadage(cli, wf, ["words=[a, b, c]", "ns=[1, 2]"], tmp_path)
    assert "cwl: success (3 instances" in result.out


def test_values_are_formatted_as_packtivity_formats_them(cli, write, tmp_path):
    """Booleans, null, floats, nested lists and mappings in commands and interpolated publishers:
    Python's str(), a top-level list joined with spaces."""
    wf = write("fmt.yml", """
        stages:
          - name: show
            dependencies: [init]
            scheduler:
              scheduler_type: singlestep-stage
              parameters:
                flag: {step: init, output: flag}
                nothing: {step: init, output: nothing}
                ratio: {step: init, output: ratio}
                nested: {step: init, output: nested}
                mapping: {step: init, output: mapping}
                words: {step: init, output: words}
                fixed: [x, 1, true]
                outputfile: '{workdir}/shown.txt'
              step:
                process:
                  process_type: string-interpolated-cmd
                  cmd: |
                    cat > {outputfile} <<'END'
                    {flag}|{nothing}|{ratio}|{nested}|{mapping}|{words}|{fixed}
                    END
                environment: {environment_type: localproc-env}
                publisher:
                  publisher_type: interpolated-pub
                  publish: {shown: '{outputfile}', label: 'flag={flag} words={words} ratio={ratio}'}
    """)
    same_as_yadage(cli, wf, ["flag=true", "nothing=null", "ratio=2.5", "nested=[[a, 1], [b, 2]]",
                             "mapping={k: v, \"it's\": [1]}", "words=[alpha, beta]"], tmp_path)


def test_script_process_reads_its_script_on_stdin(cli, write, tmp_path):
    wf = write("script.yml", """
        stages:
          - name: count
            dependencies: [init]
            scheduler:
              scheduler_type: singlestep-stage
              parameters:
                items: {step: init, output: items}
                outputfile: '{workdir}/count.txt'
              step:
                process:
                  process_type: interpolated-script-cmd
                  interpreter: sh
                  script: |
                    n=0
                    for i in {items}; do n=$((n + 1)); done
                    echo "$n items: {items}" > {outputfile}
                environment: {environment_type: docker-encapsulated, image: busybox, imagetag: latest, workdir: '{workdir}'}
                publisher: {publisher_type: frompar-pub, outputmap: {count: outputfile}}
    """)
    same_as_yadage(cli, wf, ["items=[a, b, c]"], tmp_path)


def test_resources_become_a_hint_and_a_loss(cli, write, tmp_path):
    wf = write("res.yml", """
        stages:
          - name: heavy
            dependencies: [init]
            scheduler:
              scheduler_type: singlestep-stage
              parameters: {outputfile: '{workdir}/out.txt'}
              step:
                process: {process_type: string-interpolated-cmd, cmd: 'echo done > {outputfile}'}
                environment:
                  environment_type: docker-encapsulated
                  image: busybox
                  imagetag: latest
                  resources: [CVMFS, {kubernetes_memory_limit: 8Gi}]
                publisher: {publisher_type: frompar-pub, outputmap: {out: outputfile}}
    """)
    result = cli("cwl", wf, "-o", tmp_path / "out")
    assert result.code == 0, result.err
    assert any("warning:" in line and "resources" in line and "res.yml:" in line for line in result.errors), result.errors
    report = json.loads((tmp_path / "out" / "loss-report.json").read_text())
    assert report["target"] == "cwl" and len(report["losses"]) == 1
    text = (tmp_path / "out" / "workflow.cwl").read_text()
    assert "class: yadage2x:resources" in text and "$namespaces" in text
    # memory is expressible: CWL's ResourceRequirement (MiB), and REANA's own hint as REANA's CWL has it
    assert "- class: ResourceRequirement\n      ramMin: 8192" in text and "class: reana:resources" in text
    assert "CVMFS" in report["losses"][0]["construct"] and report["losses"][0]["severity"] == "warning"
    assert validate(tmp_path / "out" / "workflow.cwl").returncode == 0
    strict = cli("cwl", wf, "-o", tmp_path / "strict", "--strict")
    assert strict.code == 2 and "cwl --strict" in strict.err and not (tmp_path / "strict").exists()


def test_digest_pinned_images_stay_pinned(cli, write, tmp_path):
    digest = "sha256:" + "ab" * 32
    wf = write("pin.yml", f"""
        stages:
          - name: pinned
            dependencies: [init]
            scheduler:
              scheduler_type: singlestep-stage
              parameters: {{outputfile: '{{workdir}}/out.txt'}}
              step:
                process: {{process_type: string-interpolated-cmd, cmd: 'echo > {{outputfile}}'}}
                environment: {{environment_type: docker-encapsulated, image: busybox, imagetag: '{digest}'}}
                publisher: {{publisher_type: frompar-pub, outputmap: {{out: outputfile}}}}
    """)
    assert cli("cwl", wf, "-o", tmp_path / "out").code == 0
    text = (tmp_path / "out" / "workflow.cwl").read_text()
    assert f"dockerPull: busybox@{digest}" in text
    assert "hints:\n    - class: DockerRequirement" in text  # a hint: --no-container still runs it


# -- the corpus --------------------------------------------------------------------------------


def _corpus_supported():
    from corpus_runs import CORPUS, RUNS

    if not CORPUS.is_dir():
        return []
    names = []
    for name, run in sorted(RUNS.items()):
        if run.stub:
            continue
        top = CORPUS / run.toplevel if run.toplevel else None
        initdata = dict(read_file(CORPUS / run.inputs)) if run.inputs else dict(run.params or {})
        if not unsupported(load_workflow(run.workflow if top else CORPUS / run.workflow, top).workflow, initdata):
            names.append(name)
    return names


# runs whose steps write the path of an input into a file they publish: a CWL runner stages
# inputs in folders of its own, so those files differ, and only those (results agree)
WRITES_INPUT_PATHS = {"testspecs-mapreduce_parmount"}


@pytest.mark.parametrize("name", _corpus_supported())
def test_cwl_reproduces_the_corpus_captures(name, corpus, cli, tmp_path):
    from corpus_runs import CAPTURES, check_args

    result = cli("check", *check_args(name), "--engines", "cwl", "--expected", CAPTURES / f"{name}.json", "-w", tmp_path)
    log = (tmp_path / "cwl" / "cwltool.log").read_text()
    if name in WRITES_INPUT_PATHS:
        differences = [line for line in result.out.splitlines() if line.startswith("cwl: ") and not line.startswith("cwl: success")]
        assert result.code == 1 and differences, result.out + result.err + log
        assert all(re.match(r"cwl: \$WORKDIR/\S+: \d+ bytes sha256", line) for line in differences), result.out
        return
    assert result.code == 0, result.out + result.err + log


# workflows whose software is not here: emitted, and validated by cwltool (workflow, -t, init data)
COMPILE_ONLY = {
    "reana-demo-bsm-search": ("workflow/databkgmc.yml", "reanahub__reana-demo-bsm-search", {}),
    "reana-demo-root6-roofit": ("reanahub__reana-demo-root6-roofit/workflow/yadage/workflow.yaml", None,
                                {"events": 20000, "gendata": "code/gendata.C", "fitdata": "code/fitdata.C"}),
    "reana-demo-atlas-recast": ("workflow/workflow.yml", "reanahub__reana-demo-atlas-recast", {}),
    # no init data: the inputs the stages read, typed Any
    "madminer-workflow-ph": ("madminer-tool__madminer-workflow-ph/workflow/yadage/workflow.yml", None, None),
    "madminer-workflow-ml": ("madminer-tool__madminer-workflow-ml/workflow/yadage/workflow.yml", None, None),
}


@pytest.mark.parametrize("name", sorted(COMPILE_ONLY))
def test_corpus_workflows_compile_to_valid_cwl(name, corpus, cli, tmp_path):
    workflow, toplevel, params = COMPILE_ONLY[name]
    args = [workflow, "-t", corpus / toplevel] if toplevel else [corpus / workflow]
    for key, value in (params or {}).items():
        args += ["-p", f"{key}={json.dumps(value)}"]
    result = cli("cwl", *args, "-o", tmp_path / "wf")
    assert result.code == 0, result.err
    checked = validate(tmp_path / "wf" / "workflow.cwl")
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("mode", ["lower", "words"])
def test_every_case_branch_runs_as_in_yadage(mode, cli, tmp_path):
    """cases-static's other branches: a step case, and a sub-workflow case whose registered
    value the next stage reads (the stored capture covers mode=upper)."""
    example = ROOT / "examples" / "cases-static"
    result = cli("check", example / "workflow.yml", *example_args(example), "-p", f"mode={mode}",
                 "--engines", "yadage,cwl", "-w", tmp_path)
    assert result.code == 0, result.out + result.err
    assert "cwl: same as yadage" in result.out


def test_case_conditions_become_javascript_or_are_refused():
    from yadage2x.emit.cwl_jq import NotTranslated, condition_js

    def value_of(key):
        return f"inputs.{key}"

    assert condition_js('.mode == "upper"', value_of) == 'yadage.pytrue((yadage.eq(inputs.mode, "upper")))'
    assert condition_js(".n % 2 == 1 and (.x.y | not)", value_of) == (
        'yadage.pytrue((yadage.jqtrue((yadage.eq((inputs.n % 2), 1))) && yadage.jqtrue(((!yadage.jqtrue(yadage.key(inputs.x, "y")))))))')
    for program in ['.items | length > 2', '.[0]', 'map(.x)', '.a == "b" | ascii_downcase', '.']:
        with pytest.raises(NotTranslated):
            condition_js(program, value_of)


def test_an_untranslatable_case_condition_is_refused_at_its_position(cli, write, tmp_path):
    wf = write("cases.yml", """
        stages:
          - name: pick
            dependencies: [init]
            scheduler:
              scheduler_type: singlestep-stage
              parameters: {items: {step: init, output: items}, outputfile: '{workdir}/out.txt'}
              cases:
                - if: '.items | length > 2'
                  step:
                    process: {process_type: string-interpolated-cmd, cmd: 'echo many > {outputfile}'}
                    environment: {environment_type: localproc-env}
                    publisher: {publisher_type: frompar-pub, outputmap: {out: outputfile}}
    """)
    result = cli("cwl", wf, "-p", "items=[1, 2, 3]", "-o", tmp_path / "out")
    assert result.code == 2
    assert result.errors[0].startswith(f"{wf}:8:") and "cwl: case condition '.items | length > 2'" in result.errors[0], result.errors
    assert not (tmp_path / "out").exists()


def test_the_other_branch_of_a_dynamic_case_runs_as_in_yadage(cli, tmp_path):
    """cases-dynamic with the verdict flipped: a case chosen on a value read from a YAML file."""
    example = ROOT / "examples" / "cases-dynamic"
    result = cli("check", example / "workflow.yml", *example_args(example), "-p", "threshold=100",
                 "--engines", "yadage,cwl", "-w", tmp_path)
    assert result.code == 0, result.out + result.err
    assert "cwl: same as yadage" in result.out


YAML_TEXTS = [
    "total: 14\nverdict: big\n",
    "label: hi\nsize: 2\nitems:\n  - apple\n  - pear\n",
    "# a comment\na:\n  b: [1, x]\n  c: 'it''s'\n  d: \"q\\n\"\nl:\n- k: 1\n  j: 2.5\n- ~\nflag: yes\n",
    "- 1\n- two\n",
]


def test_the_yaml_reader_in_the_emitted_javascript_reads_as_pyyaml():
    """fromyaml-pub runs in CWL through the library's small YAML reader: it must read what steps
    write as PyYAML (yadage's reader) does, and refuse what it does not know."""
    import shutil

    import yaml

    from yadage2x.emit.cwl_js import LIBRARY

    node = shutil.which("node") or shutil.which("nodejs")
    assert node, "node.js runs cwltool's JavaScript: scripts/setup.sh installs it"
    script = LIBRARY + "\nvar out = [];\nJSON.parse(process.argv[1]).forEach(function (t) {\n" \
        "  try { out.push(yadage.yaml(t)); } catch (e) { out.push('refused'); }\n});\nconsole.log(JSON.stringify(out));"
    texts = YAML_TEXTS + ["a: &x 1\nb: *x\n", "text: |\n  block\n"]
    proc = subprocess.run([node, "-e", script, json.dumps(texts)], capture_output=True, text=True, check=True)
    read = json.loads(proc.stdout)
    assert read[:len(YAML_TEXTS)] == [yaml.safe_load(t) for t in YAML_TEXTS]
    assert read[len(YAML_TEXTS):] == ["refused", "refused"]


def test_an_empty_scatter_is_reported_not_hidden(cli, tmp_path):
    """yadage stalls the reduce after an empty scatter and ends 'successfully'; CWL runs the
    reduce over an empty list. check says so instead of calling the runs equal."""
    wf = ROOT / "tests" / "fixtures" / "empty-scatter" / "workflow.yml"
    result = cli("check", wf, "-p", "xs=[]", "--engines", "yadage,cwl", "-w", tmp_path)
    assert result.code == 1, result.out + result.err
    assert "yadage: stalled" in result.out and "cwl: failed" in result.out
    assert "reduce: the CWL run has 1 instances, yadage plans 0" in (tmp_path / "cwl" / "cwltool.log").read_text()


def test_a_single_step_spec_is_refused_in_one_line(cli, write, tmp_path):
    step = write("step.yml", """
        process: {process_type: string-interpolated-cmd, cmd: 'echo hi > {outputfile}'}
        environment: {environment_type: localproc-env}
        publisher: {publisher_type: frompar-pub, outputmap: {out: outputfile}}
    """)
    result = cli("cwl", step, "-o", tmp_path / "out")
    assert result.code == 2 and result.errors == [f"{step}: a single step spec is not a workflow: nothing to emit (give the workflow that uses it)"]
    assert not (tmp_path / "out").exists()


def test_a_registered_value_that_needs_shaping_is_computed_by_a_step(cli, write, tmp_path):
    """register_values with a `stages:` selection (a list of one): a workflow output cannot
    shape it, so a small step does; the parent reads it from every scope."""
    write("item.yml", """
        stages:
          - name: describe
            dependencies: [init]
            scheduler:
              scheduler_type: singlestep-stage
              parameters: {item: {step: init, output: item}, outputfile: '{workdir}/item.txt'}
              register_values:
                listed: {expression_type: stage-output-selector, stages: describe, output: described}
              step:
                process: {process_type: string-interpolated-cmd, cmd: 'echo {item} > {outputfile}'}
                environment: {environment_type: localproc-env}
                publisher: {publisher_type: frompar-pub, outputmap: {described: outputfile}}
    """)
    wf = write("workflow.yml", """
        stages:
          - name: map
            dependencies: [init]
            scheduler:
              scheduler_type: multistep-stage
              parameters: {item: {stages: init, output: items, unwrap: true}}
              scatter: {method: zip, parameters: [item]}
              workflow: {$ref: 'item.yml'}
          - name: reduce
            dependencies: [map]
            scheduler:
              scheduler_type: singlestep-stage
              parameters: {inputs: {stages: 'map[*]', output: listed, flatten: true}, outputfile: '{workdir}/merged.txt'}
              step:
                process: {process_type: string-interpolated-cmd, cmd: 'cat {inputs} > {outputfile}'}
                environment: {environment_type: localproc-env}
                publisher: {publisher_type: frompar-pub, outputmap: {merged: outputfile, inputs: inputs}}
    """)
    emitted = cli("cwl", wf, "-p", "items=[a, b]", "-o", tmp_path / "out")
    assert emitted.code == 0, emitted.err
    assert "id: listed__register" in (tmp_path / "out" / "workflow.cwl").read_text()
    same_as_yadage(cli, wf, ["items=[a, b]"], tmp_path / "runs")


def test_jq_pipes_bind_loosest_in_case_conditions():
    """`.v == "a" | not` is `(.v == "a") | not` in jq (found by tests/fuzz_compilers.py)."""
    from yadage2x.emit.cwl_jq import condition_js

    assert condition_js('.v == "a" | not', lambda key: f"inputs.{key}") == 'yadage.pytrue((!yadage.jqtrue((yadage.eq(inputs.v, "a")))))'
