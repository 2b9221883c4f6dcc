"""Two validators read the same schemas: jsonschema_rs (fast, yes/no) decides, jsonschema
explains with positions. They must agree on every document, or a problem could pass unseen."""
from __future__ import annotations

import copy
import random
from pathlib import Path

import pytest

from yadage2x.load.refs import Documents
from yadage2x.load.schema import explain, fast_validator

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*/workflow.yml"))

# values a mutation may put in place of another
REPLACEMENTS = [None, True, 0, 1.5, "", "x", [], ["x"], {}, {"x": 1}, {"stages": "a"}, {"expression_type": "fromvalue"}]


def load(path: Path):
    return Documents(path.parent).load_top(path)


def plain(value):
    """The loader's data as plain dicts and lists, so that mutations do not touch shared objects."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def containers(value, out):
    if isinstance(value, (dict, list)):
        out.append(value)
        for child in value.values() if isinstance(value, dict) else value:
            containers(child, out)
    return out


def mutate(doc, rng: random.Random):
    """One structural mutation: delete a key or item, replace a value, or add a stray key."""
    doc = copy.deepcopy(doc)
    target = rng.choice(containers(doc, []))
    keys = list(target) if isinstance(target, dict) else list(range(len(target)))
    action = rng.choice(["delete", "replace", "add"]) if keys else "add"
    if action == "add":
        if isinstance(target, dict):
            target[rng.choice(["extra", "parameters", "step", "cases", "batchsize", "glob"])] = rng.choice(REPLACEMENTS)
        else:
            target.append(rng.choice(REPLACEMENTS))
    elif action == "delete":
        del target[rng.choice(keys)]
    else:
        target[rng.choice(keys)] = rng.choice(REPLACEMENTS)
    return doc


def fast_ok(doc) -> bool:
    return fast_validator("workflow.schema.json")(doc)


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.parent.name for e in EXAMPLES])
def test_validators_agree_on_mutations_of_the_examples(example):
    original = plain(load(example))
    assert fast_ok(original) and not explain(original, "workflow.schema.json")
    rng = random.Random(f"agreement-{example.parent.name}")
    invalid = 0
    for _ in range(150):
        doc = mutate(original, rng)
        snapshot = copy.deepcopy(doc)
        fast, slow = fast_ok(doc), not explain(doc, "workflow.schema.json")
        assert fast == slow, f"jsonschema_rs says {fast}, jsonschema says {slow} for {doc}"
        assert doc == snapshot  # neither validator changes the data (no default filling)
        invalid += not fast
    assert invalid > 30  # the mutations do reach the schema's rules


def test_validators_agree_on_the_corpus(corpus):
    specs = [p for p in corpus.rglob("*.y*ml") if "stages:" in p.read_text(errors="replace")]
    checked = 0
    for spec in specs:
        try:
            doc = plain(load(spec))
        except Exception:
            continue  # unreadable or broken references: not a schema question
        if isinstance(doc, dict):
            assert fast_ok(doc) == (not explain(doc, "workflow.schema.json")), spec
            checked += 1
    assert checked > 40
