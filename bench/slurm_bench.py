#!/usr/bin/env python
"""A wide scatter on the loopback SLURM cluster (scripts/slurm.sh) against local execution, with
both engines, in one run; per SLURM job overhead for Snakemake and for toil.

The workflow is examples/cluster-fanout with nitems=N (default 500): `split` writes N files, a
fromglob publisher discovers them, `square` runs once per file (N jobs known only at run time),
plus a scattered sub-workflow (6 jobs) and `reduce`. Runs:
- Snakemake, local (`--cores 2`), then on SLURM with the emitted profiles/slurm: one SLURM job per
  step instance (with --group G, the squares go G to a SLURM job: `--groups square=fan
  --group-components fan=G --cores 2`);
- toil-cwl-runner on the same N: `--batchSystem single_machine`, then `--batchSystem slurm`.
Each SLURM run's capture is compared with the local run's of the same engine. The overhead per
SLURM job is (SLURM wall - local wall) / SLURM jobs.

    scripts/slurm.sh up && .venv/bin/python bench/slurm_bench.py [--items 500] [--group G] [--skip toil]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from slurm_support import cluster_up, emit_snakemake, load, snakemake_local, snakemake_slurm, toil  # noqa: E402
from yadage2x import capture  # noqa: E402
from yadage2x.compare import compare  # noqa: E402

EXAMPLE = REPO / "examples" / "cluster-fanout"
TIMEOUT = 3 * 3600


def slurm_jobs_since(since: str) -> int:
    out = subprocess.run(["sacct", "-X", "-n", "-P", "-S", since, "-o", "JobID"], capture_output=True, text=True, check=True).stdout
    return len(out.split())


def load_average() -> float:
    return os.getloadavg()[0]


def snakemake_runs(base: Path, items: int, group: int | None) -> dict:
    loaded, initdata = load(EXAMPLE / "workflow.yml", EXAMPLE / "input.yml", {"nitems": items})
    source = base / "workflow"
    emit_snakemake(loaded, initdata, source)
    done = snakemake_local(source, base / "local", base / "local.log", timeout=TIMEOUT)
    assert done.returncode == 0, done.log[-3000:]
    row = {"items": items, "local_s": round(done.seconds, 1)}
    extra = ("--groups", "square=fan", "--group-components", f"fan={group}", "--cores", "2") if group else ()
    since = time.strftime("%Y-%m-%dT%H:%M:%S")
    done = snakemake_slurm(source, base / "slurm", base / "slurm.log", timeout=TIMEOUT, extra=extra)
    assert done.returncode == 0, done.log[-3000:]
    row.update(slurm_s=round(done.seconds, 1), slurm_jobs=slurm_jobs_since(since), group=group, load=round(load_average(), 1))
    diffs = compare(capture.from_results("snakemake", base / "local", None, "success"),
                    capture.from_results("snakemake", base / "slurm", None, "success"))
    assert diffs == [], diffs[:5]
    return row


def toil_runs(base: Path, items: int) -> dict:
    loaded, initdata = load(EXAMPLE / "workflow.yml", EXAMPLE / "input.yml", {"nitems": items})
    local, local_capture = toil(loaded, initdata, base / "local", batch_system="single_machine", timeout=TIMEOUT)
    assert local.returncode == 0 and local_capture["status"] == "success", local.log[-3000:]
    since = time.strftime("%Y-%m-%dT%H:%M:%S")
    done, slurm_capture = toil(loaded, initdata, base / "slurm", batch_system="slurm", timeout=TIMEOUT)
    assert done.returncode == 0 and slurm_capture["status"] == "success", done.log[-3000:]
    assert compare(local_capture, slurm_capture) == []
    return {"items": items, "local_s": round(local.seconds, 1), "slurm_s": round(done.seconds, 1),
            "slurm_jobs": slurm_jobs_since(since), "load": round(load_average(), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--group", type=int, default=0, help="Snakemake: this many squares per SLURM job (0: one job each)")
    parser.add_argument("--skip", default="", help="comma-separated: snakemake, toil")
    args = parser.parse_args()
    if not cluster_up():
        sys.exit("no SLURM cluster: run scripts/slurm.sh up first")
    skip = set(filter(None, args.skip.split(",")))
    results = {"load_before": round(load_average(), 1)}
    with tempfile.TemporaryDirectory(prefix="slurm-bench-") as tmp:
        tmp = Path(tmp)
        if "snakemake" not in skip:
            results["snakemake"] = snakemake_runs(tmp / "smk", args.items, args.group or None)
            print("snakemake", results["snakemake"], flush=True)
        if "toil" not in skip:
            results["toil"] = toil_runs(tmp / "toil", args.items)
            print("toil", results["toil"], flush=True)
    for name, row in results.items():
        if isinstance(row, dict):
            # what SLURM adds per job it ran, over the same work run locally
            row["overhead_per_job_s"] = round((row["slurm_s"] - row["local_s"]) / row["slurm_jobs"], 2)
    out = REPO / "bench" / "results" / "slurm_bench.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print(f"| run | items | local (s) | SLURM (s) | SLURM / local | SLURM jobs | overhead per job (s) | load |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, row in results.items():
        if isinstance(row, dict):
            print(f"| {name} | {row['items']} | {row['local_s']} | {row['slurm_s']} | {row['slurm_s'] / row['local_s']:.1f} | "
                  f"{row['slurm_jobs']} | {row['overhead_per_job_s']} | {row['load']} |")


if __name__ == "__main__":
    main()
