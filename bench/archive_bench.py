"""Pack and verify a deposit holding SIZE of inputs; compare with plain sha256 of the same bytes in
the same run, and report each command's peak memory (max RSS of the child process).

    .venv/bin/python bench/archive_bench.py [--gib 2] [--files 8]

Baseline: hashlib sha256 over the input files (1 MiB readinto, warm page cache), the ceiling for
anything that must read and hash every byte. pack also writes every byte into the deposit (copy +
hash); `cp -r` of the same files, timed too, is the file system's write limit that a copying pack
cannot beat; --link-inputs hard-links instead. verify reads and hashes every byte. Goal (issue 7): at least 70% of the baseline,
under 150 MB of memory. Results go to bench/results/archive-<date>.json.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE = Path(sys.executable).parent / "recast-archive"

WORKFLOW = """\
stages:
  - name: count
    dependencies: [init]
    scheduler:
      scheduler_type: singlestep-stage
      parameters:
        data: {step: init, output: data}
        outputfile: '{workdir}/sizes.txt'
      step:
        process: {process_type: string-interpolated-cmd, cmd: 'ls -l {data} > {outputfile}'}
        environment: {environment_type: localproc-env}
        publisher: {publisher_type: frompar-pub, outputmap: {sizes: outputfile}}
"""


def make_inputs(folder: Path, total: int, files: int) -> None:
    """``files`` files of ``total`` bytes in all: one random 64 MiB block repeated (sha256 cost
    does not depend on the content; writing random bytes afresh would dominate the set-up)."""
    block = os.urandom(64 << 20)
    folder.mkdir(parents=True)
    each = total // files
    for i in range(files):
        with open(folder / f"part_{i:02d}.bin", "wb") as out:
            left = each
            while left:
                n = min(left, len(block))
                out.write(block[:n])
                left -= n


def plain_sha256(folder: Path) -> float:
    start = time.perf_counter()
    buffer = bytearray(1 << 20)
    view = memoryview(buffer)
    for path in sorted(folder.iterdir()):
        digest = hashlib.sha256()
        with open(path, "rb", buffering=0) as handle:
            while n := handle.readinto(buffer):
                digest.update(view[:n])
    return time.perf_counter() - start


def timed(argv: list[str]) -> tuple[float, int]:
    """Wall time and peak RSS (bytes) of a command, the RSS from GNU time (a forked child's own
    rusage would count the benchmark's memory from before the exec)."""
    with tempfile.NamedTemporaryFile("r") as rss:
        start = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *argv], stdout=subprocess.DEVNULL)
        elapsed = time.perf_counter() - start
        if proc.returncode:
            raise SystemExit(f"{' '.join(argv)} failed")
        return elapsed, int(rss.read().split()[-1]) * 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gib", type=float, default=2.0)
    parser.add_argument("--files", type=int, default=8)
    args = parser.parse_args()
    total = int(args.gib * (1 << 30))
    with tempfile.TemporaryDirectory(prefix="archive-bench-", dir=os.environ.get("BENCH_TMP")) as tmp:
        tmp = Path(tmp)
        (tmp / "wf").mkdir()
        (tmp / "wf" / "workflow.yml").write_text(WORKFLOW)
        make_inputs(tmp / "inputs", total, args.files)
        plain_sha256(tmp / "inputs")  # warm the page cache, as pack will find it
        os.sync()
        baseline = plain_sha256(tmp / "inputs")
        copy_s, _ = timed(["cp", "-r", str(tmp / "inputs"), str(tmp / "copied")])  # the file system's write limit
        os.sync()
        shutil.rmtree(tmp / "copied")
        os.sync()
        pack = [str(ARCHIVE), "pack", str(tmp / "wf" / "workflow.yml"), "-p", "data=inputs", "--input-files", str(tmp / "inputs")]
        pack_s, pack_rss = timed(pack + ["-o", str(tmp / "deposit")])
        os.sync()
        verify_s, verify_rss = timed([str(ARCHIVE), "verify", str(tmp / "deposit")])
        link_s, link_rss = timed(pack + ["--link-inputs", "-o", str(tmp / "linked")])
        startup_s, startup_rss = timed([str(ARCHIVE), "--help"])
        shutil.rmtree(tmp / "deposit")
        shutil.rmtree(tmp / "linked")
    gb = total / 1e9
    result = {
        "date": datetime.now().isoformat(timespec="seconds"), "bytes": total, "files": args.files,
        "plain_sha256_s": round(baseline, 3), "plain_sha256_GBps": round(gb / baseline, 3),
        "cp_s": round(copy_s, 3), "cp_GBps": round(gb / copy_s, 3),
        "copy_then_sha256_s": round(copy_s + baseline, 3),
        "pack_vs_copy_then_sha256": round((copy_s + baseline) / pack_s, 3),
        "pack_link_inputs_s": round(link_s, 3), "pack_link_inputs_vs_sha256": round(baseline / link_s, 3),
        "pack_link_inputs_peak_rss_MB": round(link_rss / 1e6, 1),
        "pack_s": round(pack_s, 3), "pack_GBps": round(gb / pack_s, 3), "pack_vs_sha256": round(baseline / pack_s, 3),
        "pack_peak_rss_MB": round(pack_rss / 1e6, 1),
        "verify_s": round(verify_s, 3), "verify_GBps": round(gb / verify_s, 3), "verify_vs_sha256": round(baseline / verify_s, 3),
        "verify_peak_rss_MB": round(verify_rss / 1e6, 1),
        "cli_startup_s": round(startup_s, 3), "cli_startup_rss_MB": round(startup_rss / 1e6, 1),
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / f"archive-{datetime.now():%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
