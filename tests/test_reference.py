"""yadage as the oracle: every example re-runs with the real yadage and matches its stored capture;
the comparer reports differences precisely and ignores where a run happened."""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from yadage2x.capture import read
from yadage2x.ir import DockerEnvironment
from yadage2x.load import load_workflow
from yadage2x.compare import compare

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.parent for p in (ROOT / "examples").glob("*/workflow.yml"))
CAPTURE_SCHEMA = Draft202012Validator(json.loads((ROOT / "schemas" / "capture.schema.json").read_text()))


def test_every_example_has_a_stored_capture_that_matches_the_schema():
    assert len(EXAMPLES) >= 12
    for example in EXAMPLES:
        stored = read(example / "capture.json")
        assert not list(CAPTURE_SCHEMA.iter_errors(stored)), example.name
        assert stored["status"] == "success" and stored["instances"], example.name


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_yadage_reproduces_the_stored_capture(example, cli, tmp_path):
    args = ["--inputs", example / "input.yml"]
    if (example / "inputs").is_dir():
        args += ["--initdir", example / "inputs"]
    result = cli("check", example / "workflow.yml", *args, "--expected", example / "capture.json", "-w", tmp_path)
    assert result.code == 0, result.out + result.err
    assert "yadage: same as" in result.out


def test_the_comparer_reports_each_difference(tmp_path):
    stored = read(ROOT / "examples" / "helloworld" / "capture.json")
    changed = copy.deepcopy(stored)
    changed["instances"]["greet"]["result"]["greeting"] = "$WORKDIR/greet/other.txt"
    del changed["instances"]["shout"]
    changed["instances"]["extra"] = {"status": "success", "result": {}}
    path = "$WORKDIR/count/count.txt"
    changed["files"][path] = {"size": 1, "sha256": "0" * 64}
    assert compare(stored, changed) == [
        "extra: unexpected instance",
        'greet.greeting: "$WORKDIR/greet/other.txt", expected "$WORKDIR/greet/greeting.txt"',
        "shout: instance missing",
        f"{path}: 1 bytes sha256 000000000000…, expected 27 bytes sha256 {stored['files'][path]['sha256'][:12]}…",
    ]
    assert compare(stored, copy.deepcopy(stored)) == []


def test_list_order_counts_only_when_asked():
    a = {"status": "success", "instances": {"s": {"status": "success", "result": {"x": ["a", "b"]}}}, "files": {}}
    b = copy.deepcopy(a)
    b["instances"]["s"]["result"]["x"] = ["b", "a"]
    assert compare(a, b) == []
    assert compare(a, b, strict_order=True) == ['s.x[0]: "b", expected "a"', 's.x[1]: "a", expected "b"']
    b["instances"]["s"]["result"]["x"] = ["a", "b", "c"]
    assert compare(a, b) == ['s.x: 3 items, expected 2: ["a", "b", "c"] != ["a", "b"]']


def test_check_reports_differences_with_exit_status_1(cli, tmp_path):
    example = ROOT / "examples" / "helloworld"
    stored = read(example / "capture.json")
    stored["instances"]["init"]["result"]["name"] = "Moon"
    expected = tmp_path / "capture.json"
    expected.write_text(json.dumps(stored))
    result = cli("check", example / "workflow.yml", "--inputs", example / "input.yml", "--expected", expected)
    assert result.code == 1
    assert 'yadage: init.name: "World", expected "Moon"' in result.out


def test_check_refuses_unknown_engines(cli):
    example = ROOT / "examples" / "helloworld"
    result = cli("check", example / "workflow.yml", "--engines", "yadage,nextflow")
    assert result.code == 2 and "unknown engine nextflow" in result.err


def test_a_silent_stall_of_yadage_is_visible_in_the_capture(tmp_path):
    """An empty scatter: yadage runs nothing downstream and still exits 0; the capture says 'stalled'."""
    from yadage2x.reference import run

    wf = ROOT / "tests" / "fixtures" / "empty-scatter" / "workflow.yml"
    result = run(wf, wf.parent, tmp_path / "run", {"xs": []})
    assert result.returncode == 0  # yadage calls it a success
    assert result.capture["status"] == "stalled" and result.capture["stalled"] == ["reduce"]
    assert list(result.capture["instances"]) == ["init"]
    assert not list(CAPTURE_SCHEMA.iter_errors(result.capture))


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_yadage_in_real_docker_reproduces_the_stored_capture(example, cli, tmp_path):
    """The same runs with every docker step in a container (images built by scripts/docker.sh):
    host execution and Docker give the same captures."""
    if not os.environ.get("YADAGE2X_DOCKER"):
        pytest.skip("no Docker engine: scripts/test.sh starts one (scripts/docker.sh up) and sets YADAGE2X_DOCKER=1")
    args = ["--inputs", example / "input.yml"]
    if (example / "inputs").is_dir():
        args += ["--initdir", example / "inputs"]
    result = cli("check", example / "workflow.yml", *args, "--docker", "--expected", example / "capture.json", "-w", tmp_path)
    assert result.code == 0, result.out + result.err
    if uses_docker(load_workflow(example / "workflow.yml").workflow):
        logs = "".join(p.read_text() for p in tmp_path.glob("yadage/**/_packtivity/*.step.log"))
        assert "docker run" in logs


def uses_docker(workflow) -> bool:
    return any(
        isinstance(step.environment, DockerEnvironment) for stage in workflow.stages for step in stage.steps()
    ) or any(uses_docker(inner) for stage in workflow.stages for inner in stage.sub_workflows())


def test_instances_numbered_in_another_order_are_the_same_run():
    """yadage numbers a fan-out's instances in the order a glob lists files, which is the file
    system's: the same instances under other numbers compare equal (unless --strict-order)."""
    stored = read(ROOT / "examples" / "dynamic-mapreduce" / "capture.json")
    text = json.dumps(stored)
    for old, new in (("map_1", "TMP"), ("map_2", "map_1"), ("TMP", "map_2")):
        text = text.replace(f"$WORKDIR/{old}/", f"$WORKDIR/{new}/")
    other = json.loads(text)
    other["instances"]["map_1"], other["instances"]["map_2"] = other["instances"]["map_2"], other["instances"]["map_1"]
    assert compare(stored, other) == []
    assert compare(stored, other, strict_order=True)
