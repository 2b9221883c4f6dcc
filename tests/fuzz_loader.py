#!/usr/bin/env python
"""Mutation fuzzing of the loader at scale: every example and corpus workflow, mutated in its
structure (keys deleted or misspelt, values of the wrong type, broken $refs, deep nesting, huge
scatter lists, unicode, alias bombs) and in its text. For each case: a model or one-line errors
with a position, never a traceback, never past the time bound; peak memory reported.

    .venv/bin/python tests/fuzz_loader.py [--cases 10000] [--seed 0] [--bound 10]

Prints a Markdown table (cases, outcomes, slowest case, peak memory) and exits 1 on any failure;
failing cases are kept under build/fuzz-loader/ to reproduce.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import threading
import sys
import tempfile
import time
import traceback
from pathlib import Path

import yaml  # PyYAML: a plain reader/writer for the structural mutations (not what is tested)

sys.path.insert(0, str(Path(__file__).parent))
from test_fuzz_loader import mutate  # noqa: E402  (the text mutations)

from yadage2x.errors import SpecError  # noqa: E402
from yadage2x.load import load_workflow  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
WRONG = [0, -1, 3.5, True, None, "", "x", [], {}, ["a"], {"k": "v"}, "{workdir}", "é" * 3, "\u202e", "0x1F"]


class Hang(Exception):
    pass


def seeds() -> list[tuple[Path, Path | None]]:
    """(workflow, toplevel) pairs: the examples, and the corpus workflows that load."""
    found = [(p, None) for p in sorted((ROOT / "examples").glob("*/workflow.yml"))]
    if CORPUS.is_dir():
        for path in sorted(CORPUS.glob("*/**/workflow.y*ml")):
            try:
                load_workflow(path)
                found.append((path, None))
            except Exception:
                continue
    return found


def nodes(data, path=()):
    """The (path, value) pairs of a tree, containers included (not below depth 60, nor past the
    50th item of a list: earlier mutations make such trees)."""
    yield path, data
    if len(path) > 60:
        return
    if isinstance(data, dict):
        for k, v in list(data.items()):
            yield from nodes(v, path + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data[:50]):
            yield from nodes(v, path + (i,))


def parent_of(data, path):
    for part in path[:-1]:
        data = data[part]
    return data


def mutate_tree(data, rng: random.Random):
    """One structural mutation of a parsed spec, in place (returns the new root if replaced)."""
    candidates = [(p, v) for p, v in nodes(data) if p]
    if not candidates:
        return data
    path, value = rng.choice(candidates)
    parent, key = parent_of(data, path), path[-1]
    op = rng.choice(["delete", "rename", "retype", "ref", "deep", "huge", "unicode", "dup"])
    if op == "delete":
        del parent[key]
    elif op == "rename" and isinstance(parent, dict) and isinstance(key, str):
        parent[key[:-1] + rng.choice("xyz_") if key else "x"] = parent.pop(key)
    elif op == "retype":
        parent[key] = rng.choice(WRONG)
    elif op == "ref":
        parent[key] = {"$ref": rng.choice(["missing.yml", "steps.yml#/nope", "#/stages/99", "../../etc/passwd", "workflow.yml#/", "#"])}
    elif op == "deep":
        for _ in range(rng.choice([50, 300, 1000])):
            value = [value]
        parent[key] = value
    elif op == "huge":
        parent[key] = list(range(rng.choice([10_000, 200_000])))
    elif op == "unicode":
        parent[key] = rng.choice(["ü∂∫", "\x00", "\ud7ff", "名前", "{名前}", "😀" * 50])
    elif op == "dup" and isinstance(parent, list):
        parent.extend([value] * rng.randint(1, 5))
    return data


BOMB = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
                                                for p, c in zip("abcdefgh", "bcdefghi")) + "stages: *i\n"


def dump(data) -> str:
    """YAML text of a mutated tree; deep nesting needs more recursion than the default allows
    (only while writing the case: the loader is tested with Python's default limit)."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)
    try:
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    finally:
        sys.setrecursionlimit(limit)


def make_case(rng: random.Random, work: Path, seed_wf: Path) -> Path:
    shutil.copytree(seed_wf.parent, work, symlinks=True)
    wf = work / seed_wf.name
    targets = sorted(p for p in work.rglob("*.y*ml") if p.is_file())
    target = rng.choice(targets) if rng.random() < 0.4 else wf
    roll = rng.random()
    if roll < 0.02:
        target.write_text(BOMB)
    elif roll < 0.45:
        target.write_text(mutate(target.read_text(errors="replace"), rng))
    else:
        try:
            data = yaml.safe_load(target.read_text())
        except Exception:
            data = None
        if data is None:
            target.write_text(mutate(target.read_text(errors="replace"), rng))
        else:
            for _ in range(rng.randint(1, 3)):
                data = mutate_tree(data, rng)
            target.write_text(dump(data))
    return wf


CHILD = """
import atexit, sys
def peak():  # this process's own high-water mark (wait4's figure also counts the parent's at fork)
    hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]
    sys.stderr.write(f'\\nVmHWM-kB {hwm}\\n')
atexit.register(peak)
from yadage2x.cli import main
main(sys.argv[1:], prog_name='yadage2x')
"""


def load_in_child(wf: Path, top, bound: float) -> tuple[int, float, str]:
    """`yadage2x validate` on one case in a process of its own: exit status, that process's own
    peak memory (MB, VmHWM at exit), and its standard error."""
    argv = [str(ROOT / ".venv" / "bin" / "python"), "-c", CHILD, "validate", str(wf)] + (["-t", str(top)] if top else [])
    try:
        child = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=bound)
    except subprocess.TimeoutExpired:
        return -9, 0.0, "past the time bound"
    err = child.stderr.decode(errors="replace")
    kb = [line.split()[1] for line in err.splitlines() if line.startswith("VmHWM-kB ")]
    return child.returncode, int(kb[-1]) / 1024 if kb else 0.0, err


def run_isolated(cases: int, seed: int, bound: float) -> dict:
    """The same cases as `run`, each loaded by the command line in a process of its own, so that
    each case's memory is its own (`run` reports the peak of one long process)."""
    rng = random.Random(seed)
    pool = seeds()
    stats = {"cases": 0, "exit 0": 0, "exit 2": 0, "other exit or traceback": 0, "peak MB (one case)": 0.0, "median MB": 0.0}
    peaks = []
    with tempfile.TemporaryDirectory(prefix="fuzz-loader-") as tmp:
        for i in range(cases):
            seed_wf, top = rng.choice(pool)
            work = Path(tmp) / str(i)
            wf = make_case(rng, work, seed_wf)
            code, mb, err = load_in_child(wf, top, bound)
            peaks.append(mb)
            key = {0: "exit 0", 2: "exit 2"}.get(code) if "Traceback" not in err else None
            stats[key or "other exit or traceback"] += 1
            stats["cases"] += 1
            shutil.rmtree(work, ignore_errors=True)
    stats["peak MB (one case)"] = round(max(peaks))
    stats["median MB"] = round(sorted(peaks)[len(peaks) // 2])
    return stats


def run(cases: int, seed: int, bound: float, keep: Path) -> dict:
    rng = random.Random(seed)
    pool = seeds()
    stats = {"cases": 0, "model": 0, "errors": 0, "error lines": 0, "without line": 0, "tracebacks": 0, "hangs": 0,
             "slowest (s)": 0.0, "seed workflows": len(pool)}
    failures = []

    def alarm(*_):
        raise Hang()

    signal.signal(signal.SIGALRM, alarm)
    with tempfile.TemporaryDirectory(prefix="fuzz-loader-") as tmp:
        for i in range(cases):
            seed_wf, top = rng.choice(pool)
            work = Path(tmp) / str(i)
            wf = make_case(rng, work, seed_wf)
            start = time.perf_counter()
            signal.setitimer(signal.ITIMER_REAL, bound)
            outcome = None
            try:
                load_workflow(wf, top)
                stats["model"] += 1
            except SpecError as error:
                stats["errors"] += 1
                stats["error lines"] += len(error.problems)
                for problem in error.problems:
                    if "\n" in str(problem) or not problem.message:
                        outcome = f"multi-line or empty error: {problem!r}"
                    if not problem.pos.line:
                        stats["without line"] += 1
            except Hang:
                stats["hangs"] += 1
                outcome = f"past the {bound} s bound"
            except Exception:
                stats["tracebacks"] += 1
                outcome = traceback.format_exc(limit=-3)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            stats["slowest (s)"] = max(stats["slowest (s)"], round(time.perf_counter() - start, 2))
            stats["cases"] += 1
            if outcome:
                failures.append({"case": i, "seed workflow": str(seed_wf), "problem": outcome})
                shutil.copytree(work, keep / f"case-{seed}-{i}", dirs_exist_ok=True)
            shutil.rmtree(work, ignore_errors=True)
    stats["peak memory (MB)"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    stats["failures"] = failures
    return stats


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bound", type=float, default=10.0, help="seconds one load may take")
    parser.add_argument("--isolate", action="store_true", help="each case in a process of its own, with its own peak memory")
    args = parser.parse_args()
    if args.isolate:
        stats = run_isolated(args.cases, args.seed, args.bound)
        print("| " + " | ".join(stats) + " |")
        print("|" + "---:|" * len(stats))
        print("| " + " | ".join(str(v) for v in stats.values()) + " |")
        return 0 if stats["other exit or traceback"] == 0 else 1
    keep = ROOT / "build" / "fuzz-loader"
    keep.mkdir(parents=True, exist_ok=True)
    stats = run(args.cases, args.seed, args.bound, keep)
    failures = stats.pop("failures")
    print("| " + " | ".join(stats) + " |")
    print("|" + "---:|" * len(stats))
    print("| " + " | ".join(str(v) for v in stats.values()) + " |")
    for failure in failures[:20]:
        print(json.dumps(failure))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
