#!/usr/bin/env python
"""Wall time of a dynamic map-reduce of N items (default 200): native yadage (host processes)
vs the CWL yadage2x emits vs a hand-written CWL workflow doing the same work, in one run.

The work is bench/mapreduce_bench.py's: `split` writes N one-line files chunk_<i>.txt, a
fromglob publisher discovers them (the fan-out is known only at run time), `map` doubles each
with awk, `reduce` sums. Both CWL workflows run with `cwltool --parallel --no-container` on the
2 cores; yadage with its default multiproc backend. The emitted workflow's capture is checked
against yadage's first (`yadage2x check --engines yadage,cwl`).

    .venv/bin/python bench/cwl_mapreduce_bench.py [--items 200] [--repeats 3]
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

from mapreduce_bench import WORKFLOW, timed  # noqa: E402  (the same yadage workflow)

# the same work written by hand in CWL v1.2, as a CWL author would: no work directories kept,
# no yadage rules, a parameter reference for each file
HANDWRITTEN = r"""cwlVersion: v1.2
class: Workflow
requirements: {ScatterFeatureRequirement: {}, ShellCommandRequirement: {}}
inputs: {nitems: int}
outputs:
  total: {type: File, outputSource: reduce/total}
steps:
  split:
    in: {nitems: nitems}
    out: [chunks]
    run:
      class: CommandLineTool
      inputs: {nitems: int}
      baseCommand: [sh, -c]
      arguments: ['for i in `seq 1 $(inputs.nitems)`; do echo $i > chunk_$i.txt; done']
      outputs: {chunks: {type: 'File[]', outputBinding: {glob: 'chunk_*.txt'}}}
  map:
    in: {chunk: split/chunks}
    scatter: chunk
    out: [doubled]
    run:
      class: CommandLineTool
      inputs: {chunk: {type: File, inputBinding: {position: 1}}}
      baseCommand: [awk, '{print $1*2}']
      stdout: doubled.txt
      outputs: {doubled: {type: stdout}}
  reduce:
    in: {parts: map/doubled}
    out: [total]
    run:
      class: CommandLineTool
      inputs: {parts: {type: 'File[]', inputBinding: {position: 1}}}
      arguments: [{valueFrom: "| awk '{s+=$1} END {print s}'", position: 2, shellQuote: false}]
      baseCommand: cat
      stdout: total.txt
      outputs: {total: {type: stdout}}
"""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from yadage2x.engines import find_tool
    from yadage2x.reference import find_yadage_run

    cwltool, yadage2x, yadage_run = find_tool("cwltool"), find_tool("yadage2x"), str(find_yadage_run())
    times: dict[str, list[float]] = {"yadage": [], "emitted CWL": [], "hand-written CWL": []}
    with tempfile.TemporaryDirectory(prefix="yadage2x-cwl-bench-") as tmp:
        tmp = Path(tmp)
        (tmp / "workflow.yml").write_text(WORKFLOW)
        (tmp / "hand.cwl").write_text(HANDWRITTEN)
        (tmp / "hand.yml").write_text(f"nitems: {args.items}\n")
        check = subprocess.run([yadage2x, "check", str(tmp / "workflow.yml"), "-p", f"n={args.items}", "--engines", "yadage,cwl"],
                               capture_output=True, text=True)
        if check.returncode or "cwl: same as yadage" not in check.stdout:
            print(check.stdout + check.stderr, file=sys.stderr)
            return 1
        subprocess.run([yadage2x, "cwl", str(tmp / "workflow.yml"), "-p", f"n={args.items}", "-o", str(tmp / "emitted")], check=True,
                       stdout=subprocess.DEVNULL)
        hand_check = subprocess.run([cwltool, "--no-container", "--outdir", str(tmp / "hand-check"), str(tmp / "hand.cwl"), str(tmp / "hand.yml")],
                                    capture_output=True, text=True)
        expected = sum(2 * i for i in range(1, args.items + 1))
        if hand_check.returncode or (tmp / "hand-check" / "total.txt").read_text().strip() != str(expected):
            print(hand_check.stderr[-2000:], file=sys.stderr)
            return 1
        for r in range(args.repeats):
            times["yadage"].append(timed([yadage_run, str(tmp / f"y{r}"), "workflow.yml", "-t", str(tmp), "-p", f"n={args.items}"], cwd=tmp))
            times["emitted CWL"].append(timed([cwltool, "--parallel", "--no-container", "--outdir", str(tmp / f"c{r}"),
                                               str(tmp / "emitted" / "workflow.cwl"), str(tmp / "emitted" / "inputs.yml")]))
            times["hand-written CWL"].append(timed([cwltool, "--parallel", "--no-container", "--outdir", str(tmp / f"h{r}"),
                                                    str(tmp / "hand.cwl"), str(tmp / "hand.yml")]))
    medians = {k: statistics.median(v) for k, v in times.items()}
    print(f"dynamic map-reduce, {args.items} items, 2 cores, median of {args.repeats} (captures of yadage and the emitted CWL agree)")
    print("| engine | runs (s) | median (s) | vs yadage | vs hand-written |")
    print("|---|---|---:|---:|---:|")
    for name, runs in times.items():
        print(f"| {name} | {' / '.join(f'{t:.1f}' for t in runs)} | {medians[name]:.1f} | {medians[name] / medians['yadage']:.2f} | "
              f"{medians[name] / medians['hand-written CWL']:.2f} |")
    (REPO / "bench" / "results").mkdir(exist_ok=True)
    (REPO / "bench" / "results" / f"cwl-mapreduce-{args.items}.json").write_text(json.dumps(times, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
