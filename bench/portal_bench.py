#!/usr/bin/env python
"""Push and pull of a 1 GB deposit through `recast-archive serve` on loopback, against a plain
streaming upload and download of the same bytes to and from the same server, in the same run.

One server (a child process) serves all four phases; each client is a child process too, timed
from start to exit (interpreter start-up included) with its peak RSS from wait4:
  1. plain upload:   requests.put(bucket/key, data=open(file)) for each payload file: no hashing,
                     no checks, one session (the baseline);
  2. push:           recast-archive push BAG (md5 + sha256 of every byte, checked against the server
                     and the manifest, plus the tag files and the deposit's creation), with the
                     default two files at a time and with --jobs 1;
  3. plain download: requests.get(stream=True) of each payload file into a file (the baseline);
  4. pull:           recast-archive pull ID -o OUT (md5 + sha256 checks, atomic rename, bag checks),
                     with two files at a time and with --jobs 1.
The phases alternate for --repeats rounds (medians reported; peak memory is the maximum); the
server's peak RSS is its VmHWM after all rounds. The bag's files are in the page cache (written
just before), as they would be right after `pack`.

    .venv/bin/python bench/portal_bench.py [--size-mb 1024] [--files 8] [--repeats 3]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
BIN = Path(sys.executable).parent

PLAIN_UPLOAD = """
import sys, requests
url, token, *files = sys.argv[1:]
session = requests.Session()
session.headers["Authorization"] = "Bearer " + token
for name in files:
    with open(name, "rb") as body:
        response = session.put(url + "/plain/" + name.rsplit("/", 1)[1], data=body)
        response.raise_for_status()
"""

PLAIN_DOWNLOAD = """
import sys, requests
url, token, out, *keys = sys.argv[1:]
session = requests.Session()
session.headers["Authorization"] = "Bearer " + token
for key in keys:
    with session.get(url + "/" + key, stream=True) as response, open(out + "/" + key.rsplit("/", 1)[1], "wb") as handle:
        response.raise_for_status()
        for chunk in response.iter_content(1 << 20):
            handle.write(chunk)
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(args: list, server: int, env: dict | None = None) -> tuple[float, float, float, float]:
    """Wall seconds, peak RSS (MB) and CPU seconds of a child process, and the server's CPU seconds meanwhile."""
    server_before = cpu_seconds(server)
    started = time.perf_counter()
    process = subprocess.Popen(args, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{args[:3]} failed with status {status}")
    return elapsed, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, cpu_seconds(server) - server_before


def make_bag(root: Path, size: int, files: int) -> int:
    from archive import bag

    payload, each = {}, size // files
    block = os.urandom(1 << 20)
    for i in range(files):
        path = root / "data" / "images" / f"layer{i}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with open(path, "wb") as handle:
            for j in range(each >> 20):
                chunk = bytes([i, j & 255]) + block[2:]  # every MiB different, cheap to make
                handle.write(chunk)
                digest.update(chunk)
        payload[f"data/images/layer{i}.bin"] = (each, digest.hexdigest())
    (root / "data" / "workflow.yml").write_text("stages: []\n")
    payload["data/workflow.yml"] = (11, hashlib.sha256(b"stages: []\n").hexdigest())
    bag.write_tag_files(root, payload, "portal_bench")
    return sum(s for s, _ in payload.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3, help="rounds of the four phases; medians are reported")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="portal-bench-", dir=os.environ.get("BENCH_TMP")) as tmp:
        tmp = Path(tmp)
        total = make_bag(tmp / "bag", args.size_mb << 20, args.files)
        payload = sorted(str(p) for p in (tmp / "bag" / "data" / "images").iterdir())
        data = tmp / "portal"
        token = subprocess.run([BIN / "recast-archive", "serve", "--data", data, "token", "bench@example.org"],
                               capture_output=True, text=True, check=True).stdout.strip()
        server = subprocess.Popen([BIN / "recast-archive", "serve", "--data", data, "--port", "0"], stdout=subprocess.PIPE, text=True)
        url = server.stdout.readline().split()[3]
        time.sleep(1)
        env = {"RECAST_PORTAL_URL": url, "RECAST_PORTAL_TOKEN": token, "XDG_CACHE_HOME": str(tmp / "cache"),
               "RECAST_ARCHIVE_CONFIG": str(tmp / "none.ini")}
        try:
            import requests

            auth = {"Authorization": f"Bearer {token}"}
            draft = requests.post(f"{url}/api/deposits/", json={"$ana_type": "recast-archive"}, headers=auth).json()
            bucket = draft["links"]["bucket"]
            runs: dict[str, list] = {"plain upload": [], "push": [], "push --jobs 1": [], "plain download": [],
                                     "pull": [], "pull --jobs 1": []}
            keys = [f"plain/{Path(p).name}" for p in payload]
            for round_ in range(args.repeats):  # phases alternate, so a busy moment hits both sides of a ratio
                runs["plain upload"].append(timed([sys.executable, "-c", PLAIN_UPLOAD, bucket, token, *payload], server.pid))
                runs["push --jobs 1"].append(timed([BIN / "recast-archive", "push", tmp / "bag", "--quiet", "--new", "--jobs", "1"], server.pid, env))
                runs["push"].append(timed([BIN / "recast-archive", "push", tmp / "bag", "--quiet", "--new"], server.pid, env))
                pid = json.loads((next((tmp / "cache" / "recast-archive" / "push").iterdir())).read_text())["pid"]
                shutil.rmtree(tmp / "plain", ignore_errors=True)
                shutil.rmtree(tmp / "pulled", ignore_errors=True)
                (tmp / "plain").mkdir()
                runs["plain download"].append(timed([sys.executable, "-c", PLAIN_DOWNLOAD, bucket, token, str(tmp / "plain"), *keys], server.pid))
                runs["pull --jobs 1"].append(timed([BIN / "recast-archive", "pull", pid, "-o", tmp / "pulled", "--quiet", "--jobs", "1"], server.pid, env))
                shutil.rmtree(tmp / "pulled")
                runs["pull"].append(timed([BIN / "recast-archive", "pull", pid, "-o", tmp / "pulled", "--quiet"], server.pid, env))
                requests.delete(f"{url}/api/deposits/{pid}", headers=auth)  # keep the disk use to one copy
            rows = {name: (statistics.median(x[0] for x in r), max(x[1] for x in r), statistics.median(x[2] for x in r),
                           statistics.median(x[3] for x in r)) for name, r in runs.items()}
            server_peak = next(int(line.split()[1]) / 1024 for line in Path(f"/proc/{server.pid}/status").read_text().splitlines()
                               if line.startswith("VmHWM"))
        finally:
            server.terminate()
            server.wait()
        from archive import bag

        assert bag.check(tmp / "pulled")[0] == [], "the pulled bag does not check out"

    mb = total / 1e6
    load = (round(load_before, 2), round(os.getloadavg()[0], 2))
    result = {"bytes": total, "files": args.files + 1, "repeats": args.repeats, "load_average_before_after": load, "server_peak_rss_mb": round(server_peak, 1), "phases": {}}
    print(f"{mb:.0f} MB in {args.files + 1} payload files (+4 tag files), loopback, 2 cores, median of {args.repeats}; "
          f"load average {load[0]} before, {load[1]} after (other users of the machine)")
    print(f"{'phase':<16}{'seconds':>9}{'MB/s':>8}{'client peak MB':>16}{'client CPU s':>14}{'server CPU s':>14}")
    for name, (seconds, peak, cpu, server_cpu) in rows.items():
        result["phases"][name] = {"seconds": round(seconds, 2), "mb_per_s": round(mb / seconds), "client_peak_rss_mb": round(peak, 1),
                                  "client_cpu_s": round(cpu, 2), "server_cpu_s": round(server_cpu, 2)}
        print(f"{name:<16}{seconds:>9.2f}{mb / seconds:>8.0f}{peak:>16.1f}{cpu:>14.2f}{server_cpu:>14.2f}")
    ratios = {name: rows[f"plain {kind}"][0] / rows[name][0]
              for name, kind in (("push", "upload"), ("push --jobs 1", "upload"), ("pull", "download"), ("pull --jobs 1", "download"))}
    result["vs_plain"] = {name: round(ratio, 2) for name, ratio in ratios.items()}
    print("; ".join(f"{name} at {ratio:.0%} of the plain transfer" for name, ratio in ratios.items())
          + f"; server peak RSS {server_peak:.0f} MB")
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "portal.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
