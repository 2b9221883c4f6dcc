"""Mutation fuzzing of the loader on the project's examples (a fixed-seed sample: the large runs
belong to the hardening issue): whatever the text, the result is a model or positioned one-line
errors, never a traceback."""
from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from yadage2x.errors import SpecError
from yadage2x.load import load_workflow

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.parent for p in (ROOT / "examples").glob("*/workflow.yml"))
# fragments that tend to break YAML, references, selectors, templates and jq
TOKENS = ["{", "}", "{{", "[*]", "..", "init", "$ref", ":", "- ", "\t", "&a", "*a", '"', "'", "#", "\n",
          "[", "]", ",", "{workdir}", "{x}", "map[0]", ".[]", "|", ">", "!!int", "<<: *a", "é", "1abc", "null", "1"]


def mutate(text: str, rng: random.Random) -> str:
    for _ in range(rng.randint(1, 3)):
        pos = rng.randrange(len(text) + 1)
        roll = rng.random()
        if roll < 0.4:
            text = text[:pos] + rng.choice(TOKENS) + text[pos:]
        elif roll < 0.7:
            text = text[:pos] + text[pos + rng.randint(1, 10):]
        else:
            lines = text.split("\n")
            lines.insert(rng.randrange(len(lines)), rng.choice(lines))
            text = "\n".join(lines)
    return text


@pytest.mark.parametrize("seed", range(4))
def test_mutated_specs_never_crash_the_loader(seed, tmp_path):
    rng = random.Random(seed)
    outcomes = {"model": 0, "errors": 0}
    for case in range(100):
        work = tmp_path / str(case)
        shutil.copytree(rng.choice(EXAMPLES), work)
        target = rng.choice(sorted(work.glob("*.yml")))
        target.write_text(mutate(target.read_text(), rng))
        try:
            load_workflow(work / "workflow.yml")
            outcomes["model"] += 1
        except SpecError as error:
            assert error.problems
            for problem in error.problems:
                assert "\n" not in str(problem) and problem.message
            outcomes["errors"] += 1
    assert outcomes["errors"] > 20  # the mutations do break things
