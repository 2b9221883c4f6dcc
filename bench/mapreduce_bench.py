#!/usr/bin/env python
"""Wall time of a dynamic map-reduce of N items (default 200): native yadage (host processes)
vs the Snakefile yadage2x emits vs a hand-written Snakefile doing the same work, in one run.

The work: `split` writes N one-line files chunk_<i>.txt; a fromglob publisher discovers them
(so the fan-out is known only at run time); `map` doubles each with awk; `reduce` sums. Every
engine runs with 2 cores. The emitted workflow's capture is checked against yadage's first.

    .venv/bin/python bench/mapreduce_bench.py [--items 200] [--repeats 3]
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

WORKFLOW = """
stages:
  - name: split
    dependencies: [init]
    scheduler:
      scheduler_type: singlestep-stage
      parameters: {n: {step: init, output: n}, outdir: '{workdir}'}
      step:
        process: {process_type: string-interpolated-cmd, cmd: 'for i in $(seq 1 {n}); do echo $i > {outdir}/chunk_$i.txt; done'}
        environment: {environment_type: localproc-env}
        publisher: {publisher_type: fromglob-pub, globexpression: 'chunk_*.txt', outputkey: chunks}
  - name: map
    dependencies: [split]
    scheduler:
      scheduler_type: multistep-stage
      parameters: {chunk: {stages: split, output: chunks, unwrap: true}, out: '{workdir}/doubled.txt'}
      scatter: {method: zip, parameters: [chunk]}
      step:
        process: {process_type: string-interpolated-cmd, cmd: "awk '{{print $1*2}}' {chunk} > {out}"}
        environment: {environment_type: localproc-env}
        publisher: {publisher_type: frompar-pub, outputmap: {out: out}}
  - name: reduce
    dependencies: [map]
    scheduler:
      scheduler_type: singlestep-stage
      parameters: {parts: {stages: map, output: out}, total: '{workdir}/total.txt'}
      step:
        process: {process_type: string-interpolated-cmd, cmd: "cat {parts} | awk '{{s+=$1}} END {{print s}}' > {total}"}
        environment: {environment_type: localproc-env}
        publisher: {publisher_type: frompar-pub, outputmap: {total: total}}
"""

HANDWRITTEN = r'''
import os
N = int(config["nitems"])  # Snakemake refuses one-letter config keys

rule all:
    input: "reduce/total.txt"

checkpoint split:
    output: directory("split")
    shell: "mkdir -p {output} && for i in $(seq 1 %s); do echo $i > {output}/chunk_$i.txt; done" % N

rule map:
    input: "split/chunk_{i}.txt"
    output: "map/{i}/doubled.txt"
    shell: "awk '{{print $1*2}}' {input} > {output}"

def doubled(wildcards):
    folder = checkpoints.split.get().output[0]
    return expand("map/{i}/doubled.txt", i=glob_wildcards(os.path.join(folder, "chunk_{i}.txt")).i)

rule reduce:
    input: doubled
    output: "reduce/total.txt"
    shell: "cat {input} | awk '{{s+=$1}} END {{print s}}' > {output}"
'''


def timed(argv, cwd=None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from yadage2x.engines import find_tool
    from yadage2x.reference import find_yadage_run

    snakemake, yadage2x, yadage_run = find_tool("snakemake"), find_tool("yadage2x"), str(find_yadage_run())
    # the emitted workflow's profile picks the greedy scheduler; the hand-written Snakefile is run
    # both with Snakemake's default (ILP) and with --scheduler greedy, so the ratio is like for like
    times: dict[str, list[float]] = {"yadage": [], "emitted Snakefile": [], "hand-written Snakefile": [], "hand-written, --scheduler greedy": []}
    with tempfile.TemporaryDirectory(prefix="yadage2x-bench-") as tmp:
        tmp = Path(tmp)
        (tmp / "workflow.yml").write_text(WORKFLOW)
        (tmp / "hand.smk").write_text(HANDWRITTEN)
        check = subprocess.run([yadage2x, "check", str(tmp / "workflow.yml"), "-p", f"n={args.items}", "--engines", "yadage,snakemake"],
                               capture_output=True, text=True)
        if check.returncode:
            print(check.stdout + check.stderr, file=sys.stderr)
            return 1
        subprocess.run([yadage2x, "snakemake", str(tmp / "workflow.yml"), "-p", f"n={args.items}", "-o", str(tmp / "emitted")], check=True,
                       stdout=subprocess.DEVNULL)
        for r in range(args.repeats):
            times["yadage"].append(timed([yadage_run, str(tmp / f"y{r}"), "workflow.yml", "-t", str(tmp), "-p", f"n={args.items}"], cwd=tmp))
            run = tmp / f"s{r}"
            run.mkdir()
            times["emitted Snakefile"].append(timed([snakemake, "-s", str(tmp / "emitted" / "Snakefile"), "--configfile",
                                                     str(tmp / "emitted" / "config.yaml"), "--directory", str(run), "--cores", "2", "-q", "all"]))
            hand = tmp / f"h{r}"
            hand.mkdir()
            times["hand-written Snakefile"].append(timed([snakemake, "-s", str(tmp / "hand.smk"), "--directory", str(hand), "--cores", "2",
                                                          "-q", "all", "--config", f"nitems={args.items}"]))
            greedy = tmp / f"g{r}"
            greedy.mkdir()
            times["hand-written, --scheduler greedy"].append(timed([snakemake, "-s", str(tmp / "hand.smk"), "--directory", str(greedy), "--cores", "2",
                                                                   "-q", "all", "--config", f"nitems={args.items}", "--scheduler", "greedy"]))
    medians = {k: statistics.median(v) for k, v in times.items()}
    print(f"dynamic map-reduce, {args.items} items, 2 cores, median of {args.repeats} (captures of yadage and the emitted Snakefile agree)")
    print("| engine | runs (s) | median (s) | vs yadage | vs hand-written | vs hand-written greedy |")
    print("|---|---|---:|---:|---:|---:|")
    for name, runs in times.items():
        print(f"| {name} | {' / '.join(f'{t:.1f}' for t in runs)} | {medians[name]:.1f} | {medians[name] / medians['yadage']:.2f} | "
              f"{medians[name] / medians['hand-written Snakefile']:.2f} | {medians[name] / medians['hand-written, --scheduler greedy']:.2f} |")
    (REPO / "bench" / "results").mkdir(exist_ok=True)
    (REPO / "bench" / "results" / f"mapreduce-{args.items}.json").write_text(json.dumps(times, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
