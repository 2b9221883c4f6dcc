"""The command line, the graph output and the IR's JSON form, on the project's own examples."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from yadage2x.load import load_workflow

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.parent for p in (ROOT / "examples").glob("*/workflow.yml"))
LINE = re.compile(r"^.+:\d+:\d+: \S.*$")


def schema(name: str) -> dict:
    return json.loads((ROOT / "schemas" / name).read_text())


@pytest.mark.parametrize("name", ["workflow.schema.json", "step.schema.json", "ir.schema.json"])
def test_schemas_are_valid_json_schemas(name):
    Draft202012Validator.check_schema(schema(name))


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_example_validates_and_its_ir_matches_the_schema(example, cli):
    args = ["--inputs", example / "input.yml"] if (example / "input.yml").exists() else []
    result = cli("validate", example / "workflow.yml", *args)
    assert result.code == 0, result.err
    assert "valid (" in result.out
    out = cli("graph", example / "workflow.yml", "--format", "json")
    errors = list(Draft202012Validator(schema("ir.schema.json")).iter_errors(json.loads(out.out)))
    assert not errors, [e.message for e in errors[:3]]


def test_examples_cover_static_and_dynamic_stages():
    marks = [s.marks for e in EXAMPLES for s in load_workflow(e / "workflow.yml").workflow.stages]
    assert any(m.fanout == "dynamic" for m in marks) and any(not m.dynamic for m in marks)


def test_dynamic_fanout_is_marked_with_its_reason(write, cli):
    write("steps.yml", """
        split:
          process: {process_type: string-interpolated-cmd, cmd: 'seq {n} | split -l 1 - {outdir}/part_'}
          environment: {environment_type: localproc-env}
          publisher: {publisher_type: fromglob-pub, globexpression: 'part_*', outputkey: parts}
        count:
          process: {process_type: string-interpolated-cmd, cmd: 'wc -l {part} > {out}'}
          environment: {environment_type: localproc-env}
          publisher: {publisher_type: frompar-pub, outputmap: {out: out}}
        """)
    wf = write("workflow.yml", """
        stages:
          - name: split
            dependencies: [init]
            scheduler:
              scheduler_type: singlestep-stage
              parameters: {n: {step: init, output: n}, outdir: '{workdir}'}
              step: {$ref: 'steps.yml#/split'}
          - name: count
            dependencies: [split]
            scheduler:
              scheduler_type: multistep-stage
              parameters: {part: {stages: split, output: parts, unwrap: true}, out: '{workdir}/n.txt'}
              scatter: {method: zip, parameters: [part]}
              step: {$ref: 'steps.yml#/count'}
          - name: total
            dependencies: [count]
            scheduler:
              scheduler_type: singlestep-stage
              parameters: {part: {stages: count, output: out}, out: '{workdir}/total.txt'}
              step: {$ref: 'steps.yml#/count'}
        """)
    stages = {s.name: s for s in load_workflow(wf).workflow.stages}
    assert (stages["split"].marks.fanout, stages["split"].marks.result) == ("static", "dynamic")
    assert stages["count"].marks.fanout == "dynamic" and "scatters over part" in stages["count"].marks.reasons[0]
    assert stages["count"].parameters[0].value.dynamic is True
    assert stages["total"].marks.result == "dynamic" and stages["total"].marks.fanout == "static"
    dot = cli("graph", wf).out
    assert 'n_count [label="count\\nzip over part\\ndynamic fan-out", style="rounded,dashed"' in dot
    assert "n_split -> n_count;" in dot and "n_init -> n_split;" in dot
    mermaid = cli("graph", wf, "--format", "mermaid").out
    assert "class n_split,n_count,n_total dynamic" in mermaid


def test_errors_are_one_line_each_with_exit_status_2(write, cli):
    wf = write("workflow.yml", """
        stages:
          - name: a
            dependencies: [nothere]
            scheduler:
              scheduler_type: singlestep-stage
              parameters: {x: {step: ghost, output: y}}
              step:
                process: {process_type: string-interpolated-cmd, cmd: 'echo {x} {z}'}
                environment: {environment_type: localproc-env}
                publisher: {publisher_type: constant-pub, publish: {}}
        """)
    result = cli("validate", wf)
    assert result.code == 2 and result.out == ""
    assert len(result.errors) == 3 and all(LINE.match(line) for line in result.errors)
    joined = "\n".join(result.errors)
    assert "workflow.yml:3:20: stage 'a' depends on 'nothere': no stage 'nothere'" in joined
    assert "workflow.yml:6:23: selector 'ghost': no stage 'ghost'" in joined
    assert "workflow.yml:8:63: '{z}' in cmd: stage 'a' has no parameter 'z'" in joined


def test_missing_file_and_bad_parameters_are_clean_errors(tmp_path, cli):
    result = cli("validate", tmp_path / "nope.yml")
    assert result.code == 2 and result.errors == [f"{tmp_path / 'nope.yml'}: no such file"]
    result = cli("validate", tmp_path / "nope.yml", "-p", "novalue")
    assert result.code == 2 and "expected key=value" in result.err


def test_graph_output_file_is_written_whole(tmp_path, cli):
    example = EXAMPLES[0]
    target = tmp_path / "g.dot"
    assert cli("graph", example / "workflow.yml", "-o", target).code == 0
    assert target.read_text().startswith("digraph workflow {") and not list(tmp_path.glob(".*tmp"))
