#!/usr/bin/env python
"""Benchmark yadage2x's front end (`yadage2x.load.load_workflow`) on synthetic workflows.

For each size N (default 10, 100, 1000, 10000 stages) a workflow is generated in a temporary
folder, shaped like real yadage workflows (reana-demo-bsm-search, yadage's mapreduce test spec):

- stage s0 reads the init data; s1 is a fromglob-pub "discover" stage, whose result is known only
  at run time, so the analysis has dynamic marks to propagate downstream;
- then a chain/fan of stages: most are singlestep stages reading an earlier stage
  ({stages: sK, output: out, unwrap: true}) with '{workdir}/out.txt' output templates;
  every 7th a multistep-stage scattering over an earlier stage's outputs; every 10th a merge
  reading four earlier stages through a union selector; every 50th a multistep-stage scheduling a
  small nested sub-workflow (sub.yml, two stages), whose results the next stage reads with
  'sK[*].inner_b';
- steps are `$ref: 'steps.yml#/<name>'` into a small steps library (or, with --inline, written
  out in full in every stage, to show what YAML size costs).

Each measurement runs in a fresh interpreter, so caches are cold and peak memory (ru_maxrss)
belongs to one size; a baseline child that only imports yadage2x is subtracted. Per repeat two
children run: one times `load_workflow` as a whole (and records the peak memory), one times the
phases separately, chained as `load_workflow` chains them:

    parse     yadage2x.load.source.read_file       (every file of the workflow)
    refs      yadage2x.load.refs.Documents.load_top (with the parsed files already cached)
    schema    yadage2x.load.schema.problems(data, 'workflow.schema.json')
    build     yadage2x.build.workflow
    check     yadage2x.check.check(ir, None)
    analyse   yadage2x.analyse.analyse(ir)

Usage:
    .venv/bin/python bench/load_bench.py                       # all sizes, 3 repeats
    .venv/bin/python bench/load_bench.py --sizes 10,100 --repeats 1
    .venv/bin/python bench/load_bench.py --inline              # steps written inline
    .venv/bin/python bench/load_bench.py --gc-off              # children run with gc.disable()
    .venv/bin/python bench/load_bench.py --profile 10000       # cProfile of one load, top 15
    .venv/bin/python bench/load_bench.py --keep DIR --sizes 100 # write the workflow to DIR and stop

Results (Markdown table on stdout) are also written as JSON to bench/results/.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
PHASES = ("parse", "refs", "schema", "build", "check", "analyse")

# ---------------------------------------------------------------------------------------------
# the synthetic workflow
# ---------------------------------------------------------------------------------------------

DOCKER = """\
  environment:
    environment_type: docker-encapsulated
    image: docker.io/reanahub/reana-demo-bsm-search
    imagetag: 1.0.0
"""

STEPS = {
    "generate": """\
  process:
    process_type: string-interpolated-cmd
    cmd: python /code/generate.py --seed {input} --output {outputfile}
""" + DOCKER + """\
  publisher:
    publisher_type: frompar-pub
    outputmap:
      out: outputfile
""",
    "discover": """\
  process:
    process_type: interpolated-script-cmd
    interpreter: bash
    script: |
      mkdir -p {outdir}
      split -l 100 {input} {outdir}/part_
""" + DOCKER + """\
  publisher:
    publisher_type: fromglob-pub
    globexpression: 'parts/part_*'
    outputkey: out
""",
    "select": """\
  process:
    process_type: interpolated-script-cmd
    interpreter: bash
    script: |
      source /usr/local/bin/thisroot.sh
      python /code/select.py {input} {outputfile} signal nominal
""" + DOCKER + """\
  publisher:
    publisher_type: frompar-pub
    outputmap:
      out: outputfile
""",
    "histogram": """\
  process:
    process_type: string-interpolated-cmd
    cmd: python /code/histogram.py {input} {outputfile} nominal
""" + DOCKER + """\
  publisher:
    publisher_type: interpolated-pub
    publish:
      out: '{outputfile}'
""",
    "merge": """\
  process:
    process_type: interpolated-script-cmd
    interpreter: bash
    script: |
      source /usr/local/bin/thisroot.sh
      hadd {outputfile} {inputs}
""" + DOCKER + """\
  publisher:
    publisher_type: frompar-pub
    outputmap:
      out: outputfile
""",
}

SUB_EVERY = 50  # a multistep-stage over the nested workflow
MERGE_EVERY = 10  # (i % 10 == 5) a merge of four earlier stages
SCATTER_EVERY = 7  # (i % 7 == 3) a multistep-stage over a step


def indent(text: str, spaces: int) -> str:
    pad = " " * spaces
    return "".join(pad + line if line.strip() else line for line in text.splitlines(keepends=True))


def step_text(name: str, inline: bool, depth: int) -> str:
    """The `step:` entry of a scheduler, at ``depth`` spaces of indentation."""
    pad = " " * depth
    if not inline:
        return f"{pad}step: {{$ref: 'steps.yml#/{name}'}}\n"
    return f"{pad}step:\n" + indent(STEPS[name], depth)


def sub_workflow_text(inline: bool) -> str:
    """The nested workflow: two stages, reading the init parameter 'input'."""
    return (
        "stages:\n"
        "  - name: inner_a\n"
        "    dependencies: [init]\n"
        "    scheduler:\n"
        "      scheduler_type: singlestep-stage\n"
        "      parameters:\n"
        "        input: {step: init, output: input}\n"
        "        outputfile: '{workdir}/selected.root'\n"
        + step_text("select", inline, 6)
        + "  - name: inner_b\n"
        "    dependencies: [inner_a]\n"
        "    scheduler:\n"
        "      scheduler_type: singlestep-stage\n"
        "      parameters:\n"
        "        input: {stages: inner_a, output: out, unwrap: true}\n"
        "        outputfile: '{workdir}/hist.root'\n"
        + step_text("histogram", inline, 6)
    )


def is_sub(j: int) -> bool:
    return j > 0 and j % SUB_EVERY == 0


def ref_to(j: int) -> str:
    """The selector reading stage j's outputs (into its sub-workflow when it schedules one)."""
    return f"s{j}[*].inner_b" if is_sub(j) else f"s{j}"


def stage_text(i: int, inline: bool) -> str:
    head = f"  - name: s{i}\n"
    if i == 0:
        return (
            head
            + "    dependencies: [init]\n"
            "    scheduler:\n"
            "      scheduler_type: singlestep-stage\n"
            "      parameters:\n"
            "        input: {stages: init, output: seed, unwrap: true}\n"
            "        outputfile: '{workdir}/out.txt'\n"
            + step_text("generate", inline, 6)
        )
    if i == 1:  # results known only after it runs: dynamic marks downstream
        return (
            head
            + "    dependencies: [s0]\n"
            "    scheduler:\n"
            "      scheduler_type: singlestep-stage\n"
            "      parameters:\n"
            "        input: {stages: s0, output: out, unwrap: true}\n"
            "        outdir: '{workdir}/parts'\n"
            + step_text("discover", inline, 6)
        )
    if is_sub(i):
        src = ref_to(i - 1)
        workflow = (
            "      workflow: {$ref: 'sub.yml'}\n"
            if not inline
            else "      workflow:\n" + indent(sub_workflow_text(True), 8)
        )
        return (
            head
            + f"    dependencies: ['{src}']\n"
            "    scheduler:\n"
            "      scheduler_type: multistep-stage\n"
            "      parameters:\n"
            f"        input: {{stages: '{src}', output: out}}\n"
            + workflow
            + "      scatter:\n"
            "        method: zip\n"
            "        parameters: [input]\n"
        )
    if i % MERGE_EVERY == 5:
        srcs = [ref_to(j) for j in range(i - 1, max(i - 5, -1), -1)]
        union = ",".join(srcs)
        return (
            head
            + f"    dependencies: [{', '.join(repr(s) for s in srcs)}]\n"
            "    scheduler:\n"
            "      scheduler_type: singlestep-stage\n"
            "      parameters:\n"
            f"        inputs: {{stages: '{union}', output: out}}\n"
            "        outputfile: '{workdir}/merged.root'\n"
            + step_text("merge", inline, 6)
        )
    # chain/fan: read one of the last three stages
    src = ref_to(i - 1 - (i * 7) % 3 if i >= 4 else i - 1)
    if i % SCATTER_EVERY == 3:
        return (
            head
            + f"    dependencies: ['{src}']\n"
            "    scheduler:\n"
            "      scheduler_type: multistep-stage\n"
            "      parameters:\n"
            f"        input: {{stages: '{src}', output: out}}\n"
            "        outputfile: '{workdir}/selected.root'\n"
            + step_text("select", inline, 6)
            + "      scatter:\n"
            "        method: zip\n"
            "        parameters: [input]\n"
        )
    step = "histogram" if i % 2 else "select"
    return (
        head
        + f"    dependencies: ['{src}']\n"
        "    scheduler:\n"
        "      scheduler_type: singlestep-stage\n"
        "      parameters:\n"
        f"        input: {{stages: '{src}', output: out, unwrap: true}}\n"
        "        outputfile: '{workdir}/out.txt'\n"
        + step_text(step, inline, 6)
    )


def generate(folder: Path, n: int, inline: bool) -> dict:
    """Write workflow.yml (and steps.yml, sub.yml) for ``n`` stages; return file statistics."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"workflow.yml": f"# synthetic workflow: {n} stages\nstages:\n" + "".join(stage_text(i, inline) for i in range(n))}
    if not inline:
        files["steps.yml"] = "\n".join(f"{name}:\n{body}" for name, body in STEPS.items())
        files["sub.yml"] = sub_workflow_text(False)
    files["input.yml"] = "seed: [1, 2, 3]\n"
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    spec_files = [name for name in files if name != "input.yml"]
    return {
        "workflow": str(folder / "workflow.yml"),
        "files": [str(folder / name) for name in spec_files],
        "bytes": sum(len(files[name].encode()) for name in spec_files),
        "lines": sum(files[name].count("\n") for name in spec_files),
    }


# ---------------------------------------------------------------------------------------------
# children: each measurement runs in a fresh interpreter
# ---------------------------------------------------------------------------------------------

def maxrss_mb() -> float:
    import resource

    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kb / 1024


def child_baseline() -> dict:
    import yadage2x.load  # (what every measuring child imports before it starts)

    return {"maxrss_mb": maxrss_mb(), "yadage2x": str(Path(yadage2x.load.__file__).parent.parent)}


def child_total(workflow: str) -> dict:
    from yadage2x.load import load_workflow

    start = time.perf_counter()
    loaded = load_workflow(workflow)
    total = time.perf_counter() - start
    assert loaded.workflow is not None
    return {"total_s": total, "maxrss_mb": maxrss_mb(), "warnings": len(loaded.warnings), "stages": count_stages(loaded.workflow)}


def child_phases(workflow: str, files: list[str]) -> dict:
    try:  # load_workflow may run its phases with the garbage collector paused: so do we
        from yadage2x.load import gc_paused
    except ImportError:
        from contextlib import nullcontext as gc_paused
    with gc_paused():
        return _phases(workflow, files)


def _phases(workflow: str, files: list[str]) -> dict:
    from yadage2x import build
    from yadage2x.analyse import analyse
    from yadage2x.check import check
    from yadage2x.load import locate
    from yadage2x.load.refs import Documents
    from yadage2x.load.schema import problems as schema_problems
    from yadage2x.load.source import read_file

    try:
        from yadage2x.load import environments_without_defaults
    except ImportError:
        environments_without_defaults = None

    times = {}
    path, top = locate(workflow, None)

    docs = Documents(top)
    start = time.perf_counter()
    with_refs = getattr(docs, "with_refs", None)  # newer loaders note which containers hold a $ref
    extra = () if with_refs is None else (with_refs,)
    parsed = {Path(f).resolve(): read_file(Path(f), *extra) for f in files}
    times["parse"] = time.perf_counter() - start

    docs.files.update(parsed)  # already parsed: load_top now only resolves the references
    start = time.perf_counter()
    data = docs.load_top(path)
    times["refs"] = time.perf_counter() - start
    assert len(docs.files) == len(parsed), "a file was read during resolution: the parse phase missed it"

    start = time.perf_counter()
    found = schema_problems(data, "workflow.schema.json")
    if environments_without_defaults is not None:  # load_workflow's companion check of the same step
        found = found + environments_without_defaults(data, docs.ref_targets)
    times["schema"] = time.perf_counter() - start
    assert not found, found[:3]

    start = time.perf_counter()
    ir = build.workflow(data)
    times["build"] = time.perf_counter() - start

    start = time.perf_counter()
    checked = check(ir, None)
    times["check"] = time.perf_counter() - start
    getattr(checked, "problems", checked).raise_if_any()  # a Checker (with .problems) or Problems

    start = time.perf_counter()
    marked = analyse(ir)
    times["analyse"] = time.perf_counter() - start

    dynamic = sum(1 for s in marked.stages if s.marks.result == "dynamic")
    return {"phases_s": times, "dynamic_stages": dynamic}


def count_stages(wf) -> int:
    return sum(1 + sum(count_stages(inner) for inner in s.sub_workflows()) for s in wf.stages)


GC_OFF = False


def run_child(*args: str) -> dict:
    env = dict(os.environ)
    env.pop("LOAD_BENCH_GC_OFF", None)
    if GC_OFF:
        env["LOAD_BENCH_GC_OFF"] = "1"
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", *args],
        capture_output=True, text=True, cwd=REPO, env=env,
    )
    if proc.returncode != 0:
        raise SystemExit(f"child {args[0]} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------
# the parent
# ---------------------------------------------------------------------------------------------

def machine() -> dict:
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    except OSError:
        nproc = str(os.cpu_count())
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import ruamel.yaml
    import jsonschema  # noqa: F401
    from importlib.metadata import version

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=REPO).stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty_yadage2x": bool(git("status", "--porcelain", "--", "yadage2x")),
        "nproc": nproc,
        "cpu": cpu,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "ruamel.yaml": ruamel.yaml.__version__,
        "jsonschema": version("jsonschema"),
    }


def bench(sizes: list[int], repeats: int, inline: bool) -> dict:
    base_runs = [run_child("baseline") for _ in range(repeats)]
    baseline = statistics.median(b["maxrss_mb"] for b in base_runs)
    print(f"  measuring yadage2x from {base_runs[0]['yadage2x']}", file=sys.stderr)
    rows = []
    with tempfile.TemporaryDirectory(prefix="yadage2x-bench-") as tmp:
        for n in sizes:
            info = generate(Path(tmp) / f"n{n}", n, inline)
            totals, rss, phase_runs = [], [], []
            stages = dynamic = None
            for r in range(repeats):
                t = run_child("total", info["workflow"])
                totals.append(t["total_s"])
                rss.append(t["maxrss_mb"])
                stages = t["stages"]
                p = run_child("phases", info["workflow"], *info["files"])
                phase_runs.append(p["phases_s"])
                dynamic = p["dynamic_stages"]
                print(f"  N={n} repeat {r + 1}/{repeats}: total {t['total_s']:.3f} s, phases {sum(p['phases_s'].values()):.3f} s", file=sys.stderr)
            total = statistics.median(totals)
            phases = {ph: statistics.median(run[ph] for run in phase_runs) for ph in PHASES}
            rows.append({
                "n": n,
                "stages_in_ir": stages,
                "dynamic_top_stages": dynamic,
                "bytes": info["bytes"],
                "lines": info["lines"],
                "total_s": total,
                "total_runs_s": totals,
                "phases_s": phases,
                "phase_runs_s": phase_runs,
                "peak_mb": statistics.median(rss) - baseline,
                "peak_runs_mb": rss,
                "us_per_stage": total / n * 1e6,
            })
    return {"baseline_mb": baseline, "yadage2x": base_runs[0]["yadage2x"], "rows": rows}


def markdown(result: dict) -> str:
    head = ["N", "file size", "lines", "total s"] + [f"{p} s" for p in PHASES] + ["peak MB", "µs/stage"]
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" for _ in head) + "|"]
    for row in result["rows"]:
        size = row["bytes"]
        size_text = f"{size / 1024:.1f} KiB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.2f} MiB"
        cells = [f"{row['n']:,}", size_text, f"{row['lines']:,}", f"{row['total_s']:.3f}"]
        cells += [f"{row['phases_s'][p]:.3f}" for p in PHASES]
        cells += [f"{row['peak_mb']:.1f}", f"{row['us_per_stage']:,.0f}"]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def growth(result: dict) -> list[str]:
    rows = {r["n"]: r for r in result["rows"]}
    lines = []
    for small, big in ((10, 100), (100, 1000), (1000, 10000)):
        if small in rows and big in rows:
            a, b = rows[small], rows[big]
            parts = ", ".join(f"{p} {b['phases_s'][p] / a['phases_s'][p]:.1f}x" for p in PHASES if a["phases_s"][p] > 0)
            lines.append(f"growth time({big})/time({small}) = {b['total_s'] / a['total_s']:.1f} (linear: {big // small}); per phase: {parts}")
    return lines


def profile(n: int, inline: bool, top: int = 15) -> None:
    import cProfile
    import io
    import pstats

    from yadage2x.load import load_workflow

    with tempfile.TemporaryDirectory(prefix="yadage2x-prof-") as tmp:
        info = generate(Path(tmp), n, inline)
        prof = cProfile.Profile()
        prof.enable()
        load_workflow(info["workflow"])
        prof.disable()
    for key in ("cumulative", "tottime"):
        buf = io.StringIO()
        stats = pstats.Stats(prof, stream=buf)
        stats.strip_dirs().sort_stats(key).print_stats(top)
        print(f"## top {top} by {key} (N={n}{', inline' if inline else ''})")
        print(buf.getvalue())


def main(argv=None) -> None:
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "--child":
        kind, *rest = argv[1:]
        if os.environ.get("LOAD_BENCH_GC_OFF"):
            import gc

            gc.disable()  # --gc-off: what the cyclic garbage collector costs during loading
        if kind == "baseline":
            out = child_baseline()
        elif kind == "total":
            out = child_total(rest[0])
        else:
            out = child_phases(rest[0], rest[1:])
        print(json.dumps(out))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,100,1000,10000", help="comma-separated stage counts")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--inline", action="store_true", help="write steps and sub-workflows inline instead of $ref")
    parser.add_argument("--label", default="", help="a note stored with the results (e.g. which code was measured)")
    parser.add_argument("--gc-off", action="store_true", help="disable the cyclic garbage collector in the children (to show its cost)")
    parser.add_argument("--profile", type=int, metavar="N", help="cProfile one load of N stages and print the top entries")
    parser.add_argument("--keep", metavar="DIR", help="only write the workflow(s) to DIR")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if args.keep:
        for n in sizes:
            info = generate(Path(args.keep) / f"n{n}", n, args.inline)
            print(f"{info['workflow']}: {info['bytes']:,} bytes, {info['lines']:,} lines")
        return
    if args.profile:
        profile(args.profile, args.inline)
        return
    global GC_OFF
    GC_OFF = args.gc_off
    result = bench(sizes, args.repeats, args.inline)
    result["machine"] = machine()
    result["variant"] = ("inline" if args.inline else "ref") + ("-gc-off" if args.gc_off else "")
    result["repeats"] = args.repeats
    result["label"] = args.label
    result["command"] = " ".join([Path(sys.executable).name, "bench/load_bench.py", *argv])
    table = markdown(result)
    if Path(result["yadage2x"]).resolve() == REPO:
        state = f"commit {result['machine']['commit']}{', yadage2x/ modified in the work tree' if result['machine']['dirty_yadage2x'] else ''}"
    else:
        state = "not this checkout: PYTHONPATH points elsewhere"
    print(f"yadage2x measured: {result['yadage2x']} ({state}){' -- ' + args.label if args.label else ''}")
    print(f"variant: {result['variant']}; {args.repeats} repeats, median; peak MB = child ru_maxrss minus baseline {result['baseline_mb']:.1f} MB (import only)")
    print(table)
    for line in growth(result):
        print(line)
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = RESULTS / f"load-{result['variant']}-{stamp}.json"
    out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"JSON: {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
