"""Validation against the project's JSON Schemas (``schemas/``), with errors at source positions.

jsonschema reports where in the data a problem is (a path of keys); `source.position` turns that
into file, line and column, because the data remember where they were read from. Messages are
rewritten into the words a workflow author uses: which key is unknown (and what was probably
meant), which value is not allowed, which key is missing.
"""
from __future__ import annotations

import difflib
import json
from functools import cache
from importlib import resources

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

from ..errors import Problem
from .source import key_pos, position

SCHEMA_FILES = ("workflow.schema.json", "step.schema.json")
BASE = "https://yadage2x.invalid/schemas/"


def schema_text(name: str) -> str:
    return resources.files("yadage2x_schemas").joinpath(name).read_text(encoding="utf-8")


# In the structure pass, a step is only required to be a mapping: real workflows use the same
# step (one $ref target) in many stages, and each distinct step is then validated once.
_STEP_PLACEHOLDER = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"}


@cache
def _registry(steps_shallow: bool) -> Registry:
    pairs = []
    for name in resources.files("yadage2x_schemas").iterdir():
        if name.name.endswith(".schema.json"):
            contents = json.loads(name.read_text(encoding="utf-8"))
            if steps_shallow and name.name == "step.schema.json":
                contents = _STEP_PLACEHOLDER
            pairs.append((BASE + name.name, Resource.from_contents(contents)))
    return Registry().with_resources(pairs)


@cache
def validator(name: str, steps_shallow: bool = False) -> Draft202012Validator:
    schema = json.loads(schema_text(name))
    return Draft202012Validator(schema, registry=_registry(steps_shallow))


def _jsontype(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


def _suggest(word, choices) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _where(error: ValidationError) -> str:
    """The key the error is about, for messages: 'scheduler.step.process'."""
    parts = [str(p) for p in error.absolute_path if not isinstance(p, int)]
    return parts[-1] if parts else "document"


@cache
def fast_validator(name: str):
    """The same schemas in jsonschema_rs (Rust): it only answers valid or not, about a hundred
    times faster than jsonschema, which then explains, with positions, what is wrong."""
    registry = jsonschema_rs.Registry([(BASE + n, json.loads(schema_text(n))) for n in SCHEMA_FILES])
    # offline: a $ref to anything but our own schemas must never become a network request
    return jsonschema_rs.validator_for(json.loads(schema_text(name)), registry=registry, offline=True).is_valid


def problems(root, schema_name: str) -> list[Problem]:
    """Every schema problem in ``root`` (already $ref-resolved), as positioned one-line messages."""
    if fast_validator(schema_name)(root):
        return []
    found = explain(root, schema_name)
    if not found:
        # the two validators disagree: never let that pass silently
        found = [Problem(position(root, []), f"the document does not match {schema_name} (jsonschema_rs), though jsonschema finds no fault")]
    return found


def explain(root, schema_name: str) -> list[Problem]:
    """jsonschema's account of every problem, positioned (slow: only for invalid documents)."""
    found: list[Problem] = []
    if schema_name == "step.schema.json":
        return _errors(root, validator(schema_name))
    found = _errors(root, validator(schema_name, steps_shallow=True))
    step_validator = validator("step.schema.json")
    for step in distinct_steps(root):
        found.extend(_errors(step, step_validator))
    return found


MAX_EXPLAINED = 100  # a 200,000-item list of wrong values is one mistake, not 200,000 lines


def _errors(root, checker: Draft202012Validator) -> list[Problem]:
    found: list[Problem] = []
    for count, error in enumerate(checker.iter_errors(root)):
        if count == MAX_EXPLAINED:
            found.append(Problem(position(root, []), f"only the first {MAX_EXPLAINED} schema problems are listed"))
            break
        found.extend(_describe(root, error))
    return found


def distinct_steps(workflow) -> list:
    """Each step mapping of a workflow once (by identity), wherever the spec puts steps:
    scheduler.step, scheduler.cases[].step, and the same inside nested workflows."""
    steps: dict[int, object] = {}
    todo = [workflow]
    while todo:
        wf = todo.pop()
        stages = wf.get("stages") if isinstance(wf, dict) else None
        for stage in stages if isinstance(stages, list) else ():
            sched = stage.get("scheduler") if isinstance(stage, dict) else None
            if not isinstance(sched, dict):
                continue
            cases = sched.get("cases")
            for holder in [sched] + (cases if isinstance(cases, list) else []):
                if not isinstance(holder, dict):
                    continue
                if isinstance(holder.get("step"), dict):
                    steps.setdefault(id(holder["step"]), holder["step"])
                if isinstance(holder.get("workflow"), dict):
                    todo.append(holder["workflow"])
    return list(steps.values())


def _describe(root, error: ValidationError) -> list[Problem]:
    path = list(error.absolute_path)
    pos = position(root, path)
    instance, schema, kind = error.instance, error.schema, error.validator
    if kind == "additionalProperties":
        allowed = set(schema.get("properties", {}))
        return [
            Problem(key_pos(instance, key), f"unknown key '{key}' in {_where(error)}{_suggest(key, allowed)}")
            for key in instance
            if key not in allowed
        ]
    if kind == "required":
        message = schema.get("x-required-message")
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return [Problem(pos, message or f"missing required key '{missing}' in {_where(error)}")]
    if kind == "enum":
        choices = schema["enum"]
        return [Problem(pos, f"{_where(error)}: '{instance}' is not one of {', '.join(map(str, choices))}{_suggest(instance, choices)}")]
    if kind == "type":
        message = schema.get("x-type-message")
        if message:
            return [Problem(pos, f"{_where(error)}: {message}")]
        wanted = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        return [Problem(pos, f"{_where(error)}: expected {' or '.join(wanted)}, got {_jsontype(instance)}")]
    if kind in ("oneOf", "anyOf", "not") and "x-message" in schema:
        return [Problem(pos, f"{_where(error)}: {schema['x-message']}")]
    return [Problem(pos, f"{_where(error)}: {error.message}")]
