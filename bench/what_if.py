#!/usr/bin/env python
"""What the suggested front-end fixes would buy, measured by monkeypatching yadage2x in a child.

This is an experiment, not a fix: each patch imitates one change proposed in docs/benchmarks.md,
applied from outside (yadage2x/ itself is untouched), so that the gain of each can be measured
before anyone writes it. Patches (combine with commas; 'none' for the code as it is):

    index      yadage2x.scope._stages_named looks names up in a per-scope dict instead of scanning
               every stage of the scope (the quadratic part of check and analyse)
    gc         gc.disable() while loading (the collector re-scans the growing tree again and again)
    resolver   ruamel's VersionedResolver with a constant processing_version (ruamel looks the
               YAML version up through two caught AttributeErrors for every scalar)
    plain      a resolver that does no implicit resolution at all (plain scalars are tagged str,
               '<<' merge): yadage2x re-resolves plain scalars with PyYAML's rules anyway
    freeze     gc.freeze() before the collector is switched back on after loading (otherwise its
               first collection walks every object the load allocated: ~0.3 s at 10,000 stages)
    pathcache  Path.resolve memoised (refs.Documents resolves the same 'steps.yml' path, with
               lstat calls, for every $ref)
    rs         jsonschema_rs decides validity first; jsonschema runs only on an invalid document,
               for its messages (needs `jsonschema_rs` importable, e.g. PYTHONPATH to a scratch
               `pip install --target DIR jsonschema-rs`)

Usage:
    PYTHONPATH=/tmp/altpkgs .venv/bin/python bench/what_if.py --sizes 1000,10000 \\
        --configs none,index,index+gc,index+gc+resolver,index+gc+resolver+pathcache+rs
(`+` also separates patches.)
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import load_bench  # noqa: E402  (the generator and the phase timer)

PATCHES = ("index", "gc", "resolver", "plain", "freeze", "pathcache", "rs")


def apply(patches: set[str]) -> None:
    unknown = patches - set(PATCHES) - {"none"}
    if unknown:
        raise SystemExit(f"unknown patch(es): {', '.join(sorted(unknown))}")
    if "gc" in patches:
        import gc

        gc.disable()
    if "index" in patches:
        import yadage2x.scope as scope

        cache: dict[int, tuple] = {}

        def _stages_named(sc, name):
            if name == scope.INIT:
                return [None]
            entry = cache.get(id(sc))
            if entry is None or entry[0] is not sc:
                by_name: dict = {}
                for stage in sc.stages:
                    by_name.setdefault(stage.name, []).append(stage)
                entry = cache[id(sc)] = (sc, by_name)
            return list(entry[1].get(name, ()))

        scope._stages_named = _stages_named
    if "resolver" in patches:
        from ruamel.yaml.resolver import VersionedResolver

        import yadage2x.load.source as source

        class Resolver11(VersionedResolver):
            @property
            def processing_version(self):
                return (1, 1)

        original = source.YAML

        def YAML(*args, **kwargs):
            yaml = original(*args, **kwargs)
            yaml.Resolver = Resolver11
            return yaml

        source.YAML = YAML
    if "freeze" in patches:
        import gc
        from contextlib import contextmanager

        import yadage2x.load as load

        @contextmanager
        def gc_paused():
            was_enabled = gc.isenabled()
            gc.disable()
            try:
                yield
            finally:
                if was_enabled:
                    gc.freeze()
                    gc.enable()

        load.gc_paused = gc_paused
    if "plain" in patches:
        from ruamel.yaml.nodes import ScalarNode, SequenceNode
        from ruamel.yaml.resolver import VersionedResolver
        from ruamel.yaml.tag import Tag

        import yadage2x.load.source as source

        merge = Tag(suffix="tag:yaml.org,2002:merge")

        class PlainResolver(VersionedResolver):
            def resolve(self, kind, value, implicit):
                if kind is ScalarNode:
                    if implicit[0] and value == "<<":
                        return merge
                    return self.DEFAULT_SCALAR_TAG
                return self.DEFAULT_SEQUENCE_TAG if kind is SequenceNode else self.DEFAULT_MAPPING_TAG

        original_yaml = source.YAML

        def PlainYAML(*args, **kwargs):
            yaml = original_yaml(*args, **kwargs)
            yaml.Resolver = PlainResolver
            return yaml

        source.YAML = PlainYAML
    if "pathcache" in patches:
        import pathlib

        original_resolve = pathlib.Path.resolve
        memo: dict = {}

        def resolve(self, strict=False):
            key = (str(self), strict)
            if key not in memo:
                memo[key] = original_resolve(self, strict)
            return memo[key]

        pathlib.Path.resolve = resolve
    if "rs" in patches:
        import jsonschema_rs

        import yadage2x.load as load
        import yadage2x.load.schema as schema

        sources = {schema.BASE + n: json.loads(schema.schema_text(n)) for n in schema.SCHEMA_FILES}
        registry = jsonschema_rs.Registry(list(sources.items()))
        fast = {n: jsonschema_rs.validator_for(sources[schema.BASE + n], registry=registry) for n in schema.SCHEMA_FILES}
        slow = schema.problems

        def problems(root, schema_name):
            if fast[schema_name].is_valid(root):
                return []
            return slow(root, schema_name)

        schema.problems = problems
        load.schema_problems = problems


def child(argv: list[str]) -> None:
    kind, patches, *rest = argv
    apply(set(patches.split(",")))
    if kind == "total":
        out = load_bench.child_total(rest[0])
    else:
        out = load_bench.child_phases(rest[0], rest[1:])
    print(json.dumps(out))


def run_child(*args: str) -> dict:
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", *args],
                          capture_output=True, text=True, cwd=load_bench.REPO)
    if proc.returncode != 0:
        raise SystemExit(f"child failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--inline", action="store_true")
    parser.add_argument("--configs", default="none,index,index+gc,index+gc+resolver,index+gc+resolver+pathcache,index+gc+resolver+pathcache+rs")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    configs = [c.replace("+", ",") for c in args.configs.split(",") if c]
    # commas separate configs on the command line: within one, patches are joined by '+'
    head = ["patches", "N", "total s"] + [f"{p} s" for p in load_bench.PHASES]
    rows = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    results = []
    with tempfile.TemporaryDirectory(prefix="yadage2x-whatif-") as tmp:
        infos = {n: load_bench.generate(Path(tmp) / f"n{n}", n, args.inline) for n in sizes}
        for config in configs:
            for n in sizes:
                info = infos[n]
                totals, phase_runs = [], []
                for _ in range(args.repeats):
                    totals.append(run_child("total", config, info["workflow"])["total_s"])
                    phase_runs.append(run_child("phases", config, info["workflow"], *info["files"])["phases_s"])
                total = statistics.median(totals)
                phases = {p: statistics.median(r[p] for r in phase_runs) for p in load_bench.PHASES}
                label = config.replace(",", "+")
                print(f"  {label} N={n}: {total:.3f} s", file=sys.stderr)
                results.append({"patches": label, "n": n, "total_s": total, "phases_s": phases, "total_runs_s": totals})
                rows.append("| " + " | ".join([label, f"{n:,}", f"{total:.3f}"] + [f"{phases[p]:.3f}" for p in load_bench.PHASES]) + " |")
    print(f"what-if ({'inline' if args.inline else 'ref'} steps; {args.repeats} repeats, median)")
    print("\n".join(rows))
    load_bench.RESULTS.mkdir(exist_ok=True)
    out = load_bench.RESULTS / f"what-if-{'inline' if args.inline else 'ref'}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"results": results, "machine": load_bench.machine()}, indent=2), encoding="utf-8")
    print(f"JSON: {out.relative_to(load_bench.REPO)}")


if __name__ == "__main__":
    main()
