"""Differential testing on generated workflows (tests/workflow_generator.py): each one runs under
yadage and under every emitter, and every published output must agree.

The suite runs a small fixed-seed sample; `python tests/fuzz_compilers.py --count 200` is the
nightly-size run (its figures are in docs/hardening.md). Every disagreement found became a fixed
bug with a regression case here."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from workflow_generator import generate

FIXTURES = Path(__file__).parent / "fixtures"
SEEDS = range(int(os.environ.get("YADAGE2X_FUZZ_SEEDS", "6")))


def engines(cli, workflow: Path, inputs: list, tmp_path: Path) -> str:
    """yadage against both emitters; the CWL emitter only where it translates the workflow (the
    constructs it does not translate yet are refused with their position, counted by the
    nightly run)."""
    cwl = cli("cwl", workflow, *inputs, "-o", tmp_path / "cwl-compile")
    return "yadage,snakemake,cwl" if cwl.code == 0 else "yadage,snakemake"


@pytest.mark.parametrize("seed", SEEDS)
def test_generated_workflows_publish_the_same_everywhere(seed, cli, tmp_path):
    text, init = generate(seed)
    (tmp_path / "workflow.yml").write_text(text)
    (tmp_path / "input.yml").write_text(json.dumps(init))
    inputs = ["--inputs", tmp_path / "input.yml"]
    wanted = engines(cli, tmp_path / "workflow.yml", inputs, tmp_path)
    result = cli("check", tmp_path / "workflow.yml", *inputs, "--engines", wanted, "-w", tmp_path / "runs")
    assert result.code == 0, f"seed {seed}:\n{text}\n{result.out}{result.err}"
    assert "yadage: success" in result.out or "yadage: stalled" in result.out, result.out


@pytest.mark.parametrize("fixture, init", [("unread-dynamic", ["-p", "n=7"]), ("two-checkpoints", ["-p", "xs=[3, 1, 2]"])])
def test_regressions_found_by_the_fuzzing(fixture, init, cli, tmp_path):
    wf = FIXTURES / fixture / "workflow.yml"
    result = cli("check", wf, *init, "--engines", engines(cli, wf, init, tmp_path), "-w", tmp_path / "runs")
    assert result.code == 0, result.out + result.err
    assert "snakemake: same as yadage" in result.out
