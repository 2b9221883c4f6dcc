#!/usr/bin/env python
"""Compile time of `yadage2x snakemake` for 10 ... 10,000 stages, and what Snakemake then needs to
read the result (`snakemake -n`: parse the Snakefile, plan, build the DAG up to the first
checkpoint).

The workflows are load_bench.py's synthetic ones (shaped like reana-demo-bsm-search: a fromglob
discovery stage, fans, merges, nested scattered sub-workflows, steps through $ref). Each
measurement is a fresh process, as a user runs it:

    compile   yadage2x snakemake workflow.yml -o OUT     (load, validate, analyse, emit, write)
    emit      the emit step alone, inside one process    (timed around yadage2x.emit.snakemake.emit)
    dry run   snakemake -s OUT/Snakefile -n              (Snakemake's own start-up included)

    .venv/bin/python bench/compile_bench.py [--sizes 10,100,1000,10000] [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

EMIT_ONLY = """
import sys, time
from pathlib import Path
from yadage2x.load import load_workflow
from yadage2x.emit.snakemake import emit
loaded = load_workflow(sys.argv[1], None, {"seed": 3})
start = time.perf_counter()
emit(loaded.workflow, "workflow.yml", Path(sys.argv[2]), {"seed": 3}, None)
print(time.perf_counter() - start)
"""


def timed(argv, cwd=None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    from load_bench import generate

    from yadage2x.engines import find_tool

    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,100,1000,10000")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    yadage2x, snakemake = find_tool("yadage2x"), find_tool("snakemake")
    rows = {}
    with tempfile.TemporaryDirectory(prefix="yadage2x-compile-") as tmp:
        for n in [int(s) for s in args.sizes.split(",")]:
            folder = Path(tmp) / f"n{n}"
            folder.mkdir()
            generate(folder, n, inline=False)
            wf = str(folder / "workflow.yml")
            runs = {"compile": [], "emit": [], "dry run": []}
            for r in range(args.repeats):
                out = folder / f"out{r}"
                runs["compile"].append(timed([yadage2x, "snakemake", wf, "-p", "seed=3", "-o", str(out)]))
                emit_out = subprocess.run([sys.executable, "-c", EMIT_ONLY, wf, str(folder / f"emit{r}")],
                                          check=True, capture_output=True, text=True).stdout
                runs["emit"].append(float(emit_out))
                run = folder / f"run{r}"
                run.mkdir()
                runs["dry run"].append(timed([snakemake, "-s", str(out / "Snakefile"), "--directory", str(run), "-n", "--cores", "1", "all"]))
            size = sum(f.stat().st_size for f in (folder / "out0").rglob("*") if f.is_file())
            rows[n] = {"runs": runs, "bytes": size, "rules": (folder / "out0" / "Snakefile").read_text().count("\nrule ")
                       + (folder / "out0" / "Snakefile").read_text().count("\ncheckpoint ")}
    print(f"yadage2x snakemake, synthetic workflows (load_bench.py), median of {args.repeats}, fresh processes")
    print("| stages | rules | output (KB) | compile (s) | of it emit (s) | snakemake -n (s) | compile per stage (ms) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n, row in rows.items():
        med = {k: statistics.median(v) for k, v in row["runs"].items()}
        print(f"| {n:,} | {row['rules']:,} | {row['bytes'] / 1024:,.0f} | {med['compile']:.2f} | {med['emit']:.2f} | "
              f"{med['dry run']:.2f} | {1000 * med['compile'] / n:.2f} |")
    (REPO / "bench" / "results").mkdir(exist_ok=True)
    (REPO / "bench" / "results" / "compile.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
