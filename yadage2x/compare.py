"""Compare two captures: equal, or a readable list of differences.

Paths are already relative to each run ($WORKDIR/...), so where a run happened is no difference.
Lists that hold the same items in another order are a difference only with ``strict_order``:
yadage publishes glob matches in file-system order, which is not stable from one machine to the
next, and yadage2x's engines sort them (docs/language.md).
"""
from __future__ import annotations

import json


def _show(value) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."


def _same_items(a: list, b: list) -> bool:
    key = lambda v: json.dumps(v, sort_keys=True)  # noqa: E731
    return sorted(map(key, a)) == sorted(map(key, b))


def values(expected, actual, where: str, strict_order: bool, out: list[str]) -> None:
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual), key=str):
            if key not in actual:
                out.append(f"{where}: output '{key}' missing (expected {_show(expected[key])})")
            elif key not in expected:
                out.append(f"{where}: unexpected output '{key}' = {_show(actual[key])}")
            else:
                values(expected[key], actual[key], f"{where}.{key}", strict_order, out)
        return
    if isinstance(expected, list) and isinstance(actual, list):
        if expected == actual:
            return
        if not strict_order and _same_items(expected, actual):
            return
        if len(expected) != len(actual):
            out.append(f"{where}: {len(actual)} items, expected {len(expected)}: {_show(actual)} != {_show(expected)}")
            return
        for i, (e, a) in enumerate(zip(expected, actual)):
            values(e, a, f"{where}[{i}]", strict_order, out)
        return
    if expected != actual or type(expected) is not type(actual):
        out.append(f"{where}: {_show(actual)}, expected {_show(expected)}")


def _pairs(expected: dict, actual: dict, what: str, out: list[str]):
    """The names both sides have, as (name, expected, actual); the others reported."""
    for name in sorted(set(expected) | set(actual)):
        if name not in actual:
            out.append(f"{name}: {what} missing")
        elif name not in expected:
            out.append(f"{name}: unexpected {what}")
        else:
            yield name, expected[name], actual[name]


def _file(path: str, e: dict, a: dict) -> str:
    if "directory" in e or "directory" in a:
        return f"{path}: directory contents differ"
    return f"{path}: {a['size']} bytes sha256 {a['sha256'][:12]}…, expected {e['size']} bytes sha256 {e['sha256'][:12]}…"


def compare(expected: dict, actual: dict, strict_order: bool = False) -> list[str]:
    """Differences between two captures, one line each; [] when they agree."""
    out: list[str] = []
    if expected.get("status") != actual.get("status"):
        out.append(f"run: {actual.get('status')}, expected {expected.get('status')}")
    for name, e, a in _pairs(expected.get("instances", {}), actual.get("instances", {}), "instance", out):
        if e.get("status") != a.get("status"):
            out.append(f"{name}: {a.get('status')}, expected {e.get('status')}")
        values(e.get("result"), a.get("result"), name, strict_order, out)
    if expected.get("stalled", []) != actual.get("stalled", []):
        out.append(f"stalled stages: {actual.get('stalled', [])}, expected {expected.get('stalled', [])}")
    for path, e, a in _pairs(expected.get("files", {}), actual.get("files", {}), "file", out):
        if e != a:
            out.append(_file(path, e, a))
    return out
