#!/usr/bin/env python
"""The portal under load and after SIGKILL: the figures of docs/hardening.md ("Portal under load and
faults"). tests/test_portal_load.py checks the same scenarios byte for byte; this reports numbers.

One `recast-archive serve` (a child process, fresh data folder); the clients are threads of this
process running the real push and pull (tests/portal_load.py):
  1. 20 different small deposits pushed (and published) at once, then another 20 one after the
     other (the baseline: the same work without concurrency);
  2. 50 pulls at once (records and drafts of the first 20), then 50 one after the other;
  3. the server's peak memory (VmHWM) after 1 and 2;
  4. 10 deposits of ~5 MB pushed at once, the server SIGKILLed once two uploads are half-received,
     restarted on the same folder and port: the seconds from restart to its first answer, what it
     kept, and the pushes run again to completion (seconds, files skipped as already there).
Every pulled deposit is compared byte for byte with its original. Latency is to the response's
headers (an upload's includes sending its body), per request.

    .venv/bin/python bench/portal_load_bench.py [--pushes 20] [--pulls 50]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from portal_load import (Requests, pull_all, push_all, push_and_kill, restart, same_bag, served_objects,  # noqa: E402
                         server_peak_rss_mb, settings, small_deposits)
from portal_support import start_portal, stop_portal  # noqa: E402


def summary(label: str, recorded: Requests, seconds: float) -> None:
    seen = recorded.seen
    print(f"{label}: {len(seen)} requests in {seconds:.1f} s = {len(seen) / seconds:.0f} requests/s; "
          f"statuses {sorted({s for _, _, s, _ in seen}, key=str)}")
    for method, kind in sorted({(m, k) for m, k, _, _ in seen}):
        times = sorted(t for m, k, _, t in seen if (m, k) == (method, kind))
        p95 = statistics.quantiles(times, n=20, method="inclusive")[-1] if len(times) > 1 else times[0]
        print(f"    {method:6} {kind:6} n={len(times):4}  median {1000 * statistics.median(times):6.0f} ms  "
              f"p95 {1000 * p95:6.0f} ms  max {1000 * times[-1]:6.0f} ms")


def timed(label: str, work):
    with Requests() as recorded:
        started = time.monotonic()
        result = work()
        seconds = time.monotonic() - started
    summary(label, recorded, seconds)
    return result, seconds, recorded


def errors(results) -> list[str]:
    return [str(r) for r in results if isinstance(r, Exception)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pushes", type=int, default=20)
    parser.add_argument("--pulls", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="portal-load-") as scratch:
        base = Path(scratch)
        os.environ["XDG_CACHE_HOME"] = str(base / "cache")
        os.environ["RECAST_ARCHIVE_CONFIG"] = str(base / "no-config.ini")
        portal = start_portal(base / "data", base / "faults.txt")
        try:
            config = settings(portal)
            bags = small_deposits(base / "bags", args.pushes)
            pushed, together, _ = timed(f"{args.pushes} pushes at once", lambda: push_all(config, bags))
            assert errors(pushed) == [], errors(pushed)
            more = small_deposits(base / "more", args.pushes)
            _, apart, _ = timed(f"{args.pushes} pushes one after the other",
                                lambda: [push_all(config, [b]) for b in more])
            print(f"    concurrent / sequential wall time: {together / apart:.2f}")

            idents = [pushed[n % len(bags)].recid if n % 2 else pushed[n % len(bags)].pid for n in range(args.pulls)]
            pulled, together, _ = timed(f"{args.pulls} pulls at once", lambda: pull_all(config, idents, base / "pulled"))
            assert errors(pulled) == [] and all(same_bag(out, bags[n % len(bags)]) for n, out in enumerate(pulled))
            _, apart, _ = timed(f"{args.pulls} pulls one after the other",
                                lambda: [pull_all(config, [i], base / f"pulled-{n}") for n, i in enumerate(idents)])
            print(f"    concurrent / sequential wall time: {together / apart:.2f}")
            print(f"server peak memory (VmHWM) after the load: {server_peak_rss_mb(portal):.0f} MB")

            crash = small_deposits(base / "crash", 10, big=4 << 20)
            results, first = push_and_kill(portal, crash)
            halves = len(list((portal.data / "tmp").glob("*.part")))
            portal, recovery = restart(portal)
            kept = served_objects(portal)
            print(f"SIGKILL during uploads: {len(errors(results))} of {len(crash)} pushes interrupted, "
                  f"{len(first.committed)} uploads answered 200 before the kill, {halves} half-received; "
                  f"restart to first answer {recovery:.2f} s; after it {len(kept)} objects, each served intact, "
                  f"{len(list((portal.data / 'tmp').iterdir()))} half files left")
            resumed, seconds, _ = timed("the interrupted pushes again", lambda: push_all(settings(portal), crash))
            assert errors(resumed) == []
            print(f"    all complete in {seconds:.1f} s, {sum(r.skipped for r in resumed)} files already there, "
                  f"{sum(r.uploaded for r in resumed)} uploaded")
            back = pull_all(settings(portal), [r.recid for r in resumed], base / "crash-pulled")
            assert all(same_bag(out, root) for out, root in zip(back, crash))
        finally:
            stop_portal(portal)


if __name__ == "__main__":
    main()
