"""The runnable corpus workflows re-run with yadage and match their stored captures."""
from __future__ import annotations

import pytest

from corpus_runs import CAPTURES, RUNS, check_args


def test_every_run_has_a_capture():
    assert sorted(p.stem for p in CAPTURES.glob("*.json")) == sorted(RUNS)


@pytest.mark.parametrize("name", sorted(RUNS))
def test_corpus_workflow_reproduces_its_capture(name, corpus, cli, tmp_path):
    result = cli("check", *check_args(name), "--expected", CAPTURES / f"{name}.json", "-w", tmp_path)
    assert result.code == 0, result.out + result.err
