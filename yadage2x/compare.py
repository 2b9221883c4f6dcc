"""Compare two captures: equal, or a readable list of differences.

Paths are already relative to each run ($WORKDIR/...), so where a run happened is no difference.
Lists that hold the same items in another order, and the instances of a multistep stage that are
the same instances numbered in another order, are a difference only with ``strict_order``:
yadage publishes glob matches in file-system order, which differs from one machine to the next.
"""
from __future__ import annotations

import json
import re


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


_INSTANCE = re.compile(r"^(?P<stage>.*?)_(?P<index>\d+)(?P<rest>/.*)?$")


def _fingerprint(capture: dict, name: str) -> str:
    """What an instance published and wrote, with its own name taken out of every path."""
    result = capture["instances"][name]
    files = {path: info for path, info in capture.get("files", {}).items() if path.startswith(f"$WORKDIR/{name}/")}
    text = json.dumps({"result": result, "files": files}, sort_keys=True)
    return text.replace(f"$WORKDIR/{name}/", "$WORKDIR/<instance>/")


def _renumbered(expected: dict, actual: dict) -> dict:
    """``actual`` with the instances of each multistep stage renumbered to match ``expected``
    where they are the same instances in another order: yadage numbers instances in the order a
    glob lists files, which is the file system's order and differs from one machine to another."""
    groups: dict[str, list[str]] = {}
    for name in actual["instances"]:
        match = _INSTANCE.match(name)
        if match and not match.group("rest"):
            groups.setdefault(match.group("stage"), []).append(name)
    renames = {}
    for names in groups.values():
        if any(n not in expected["instances"] for n in names):
            continue
        want = {_fingerprint(expected, n): n for n in names}
        have = {_fingerprint(actual, n): n for n in names}
        if set(want) == set(have) and len(want) == len(names):
            renames.update({have[key]: want[key] for key in want if have[key] != want[key]})
    if not renames:
        return actual

    def rename(text: str) -> str:
        for old, new in renames.items():
            text = text.replace(f"$WORKDIR/{old}/", f"$WORKDIR/\0{new}/")
        return text.replace("\0", "")

    moved = json.loads(rename(json.dumps(actual)))
    moved["instances"] = {renames.get(k, k): v for k, v in moved["instances"].items()}
    return moved


def compare(expected: dict, actual: dict, strict_order: bool = False) -> list[str]:
    """Differences between two captures, one line each; [] when they agree."""
    out: list[str] = []
    if not strict_order:
        actual = _renumbered(expected, actual)
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
