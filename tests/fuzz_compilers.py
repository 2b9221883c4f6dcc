#!/usr/bin/env python
"""The nightly-size differential run: COUNT generated workflows (tests/workflow_generator.py),
each run under yadage, the emitted Snakefile and the emitted CWL, compared output by output.

    .venv/bin/python tests/fuzz_compilers.py [--count 200] [--first 0] [--jobs 1]

Prints one line per workflow and a summary table (Markdown); a disagreement keeps its folder
(workflow, init data, every engine's run) under --keep for the bug report.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from workflow_generator import generate  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
YADAGE2X = str(REPO / ".venv" / "bin" / "yadage2x")


def one(seed: int, keep: Path, with_cwl: bool = True) -> dict:
    text, init = generate(seed)
    folder = Path(tempfile.mkdtemp(prefix=f"fuzz-{seed}-"))
    wf, inputs = folder / "workflow.yml", folder / "input.yml"
    wf.write_text(text)
    inputs.write_text(json.dumps(init))
    cwl = subprocess.run([YADAGE2X, "cwl", str(wf), "--inputs", str(inputs), "-o", str(folder / "cwl")], capture_output=True, text=True)
    engines = "yadage,snakemake" + (",cwl" if cwl.returncode == 0 and with_cwl else "")
    start = time.perf_counter()
    check = subprocess.run([YADAGE2X, "check", str(wf), "--inputs", str(inputs), "--engines", engines, "-w", str(folder / "runs")],
                           capture_output=True, text=True)
    row = {"seed": seed, "stages": text.count("\n  - name: "), "engines": engines, "seconds": round(time.perf_counter() - start, 1),
           "cwl_refused": cwl.stderr.strip().splitlines()[:1] if cwl.returncode else [],
           "agree": check.returncode == 0, "yadage": next((l for l in check.stdout.splitlines() if l.startswith("yadage:")), "")}
    if check.returncode:
        row["differences"] = check.stdout.splitlines()[-8:] + check.stderr.splitlines()[-3:]
        shutil.copytree(folder, keep / f"seed-{seed}", dirs_exist_ok=True)
    shutil.rmtree(folder, ignore_errors=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--keep", default="build/fuzz-disagreements")
    parser.add_argument("--no-cwl", action="store_true", help="compare yadage and Snakemake only")
    args = parser.parse_args()
    keep = Path(args.keep)
    keep.mkdir(parents=True, exist_ok=True)
    rows = []
    with ThreadPoolExecutor(args.jobs) as pool:
        for row in pool.map(lambda s: one(s, keep, not args.no_cwl), range(args.first, args.first + args.count)):
            rows.append(row)
            print(json.dumps(row), flush=True)
    agree = sum(r["agree"] for r in rows)
    with_cwl = sum("cwl" in r["engines"] for r in rows)
    stalled = sum("stalled" in r["yadage"] for r in rows)
    print(f"\n| workflows | stages | with CWL | yadage stalled | all engines agree | disagreements |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(f"| {len(rows)} | {sum(r['stages'] for r in rows)} | {with_cwl} | {stalled} | {agree} | {len(rows) - agree} |")
    (REPO / "bench" / "results").mkdir(exist_ok=True)
    (REPO / "bench" / "results" / f"fuzz-compilers-{args.first}-{args.count}.json").write_text(json.dumps(rows, indent=1))
    return 0 if agree == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
