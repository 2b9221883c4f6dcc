"""Running emitted workflows on the loopback SLURM cluster (scripts/slurm.sh), for
tests/test_slurm.py and bench/slurm_bench.py: Snakemake through its SLURM executor plugin with
the emitted profiles/slurm, and toil-cwl-runner with `--batchSystem slurm`, exactly as
docs/cluster.md tells users to run them. Nothing here schedules: the engines do.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SLURM_SH = ROOT / "scripts" / "slurm.sh"
# The plugin waits 40 s before its first look at the queue (kind to a busy site's slurmctld);
# on a one-node cluster that is most of a small run. A site needs nothing but the profile.
FAST_POLL = ["--slurm-init-seconds-before-status-checks", "1"]
SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+) \(log: (\S+)\)")


def cluster_up() -> bool:
    """The cluster scripts/slurm.sh started answers and its node is idle or busy."""
    return subprocess.run([str(SLURM_SH), "status"], capture_output=True).returncode == 0


def load(workflow: Path, inputs: Path | None = None, params: dict | None = None):
    from yadage2x.load import load_workflow
    from yadage2x.load.source import read_file

    initdata = dict(read_file(inputs)) if inputs else {}
    initdata.update(params or {})
    return load_workflow(workflow, None, initdata), initdata


@dataclass
class Run:
    returncode: int
    seconds: float
    log: str

    def slurm_jobs(self) -> dict[str, str]:
        """SLURM job id -> the Snakemake rule it ran, or the group (from the plugin's log paths)."""
        return {jobid: re.search(r"/(?:rule|group)_([^/]+)/", path)[1] for jobid, path in SUBMITTED.findall(self.log)}


def run(argv: list[str], cwd: Path, log: Path, timeout: float, env: dict | None = None, stdout: Path | None = None) -> Run:
    """Run a command in its own process group, its output in log (standard output in stdout when
    given); SIGKILL the group after timeout (a Snakemake that lost track of its jobs ignores SIGTERM)."""
    start = time.monotonic()
    with open(log, "wb") as out, open(stdout or os.devnull, "wb") as own:
        proc = subprocess.Popen(argv, cwd=cwd, stdout=own if stdout else out, stderr=out, env=env, start_new_session=True)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            code = proc.wait()
            out.write(f"\nyadage2x tests: killed after {timeout} s\n".encode())
    return Run(code, time.monotonic() - start, log.read_text(errors="replace"))


def emit_snakemake(loaded, initdata: dict, outdir: Path) -> None:
    from yadage2x.emit.snakemake import emit

    emit(loaded.workflow, loaded.path.name, outdir, initdata, None)


def snakemake_slurm(source: Path, rundir: Path, log: Path, timeout: float = 600, extra: tuple = ()) -> Run:
    """snakemake -s SOURCE/Snakefile --directory RUN --profile SOURCE/profiles/slurm (+ FAST_POLL)."""
    from yadage2x.engines import find_tool

    rundir.mkdir(parents=True, exist_ok=True)
    argv = [find_tool("snakemake"), "-s", str(source / "Snakefile"), "--directory", str(rundir),
            "--profile", str(source / "profiles" / "slurm"), *FAST_POLL, *extra]
    return run(argv, rundir, log, timeout)


def snakemake_local(source: Path, rundir: Path, log: Path, cores: int = 2, timeout: float = 600) -> Run:
    from yadage2x.engines import find_tool

    rundir.mkdir(parents=True, exist_ok=True)
    argv = [find_tool("snakemake"), "-s", str(source / "Snakefile"), "--directory", str(rundir), "--cores", str(cores)]
    return run(argv, rundir, log, timeout)


def toil_argv(base: Path, batch_system: str, extra: tuple = ()) -> tuple[list[str], dict]:
    """toil-cwl-runner (.venv-toil) on base/workflow, job store and work folders on local disk
    under base, outputs in base/out; its bin folder first on PATH (the workers are started by
    name, on the nodes too)."""
    from yadage2x.emit.cwl_run import runner_argv

    argv = runner_argv("toil-cwl-runner", base / "workflow", base / "out", base, docker=False)
    argv[1:1] = ["--batchSystem", batch_system, *extra]
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(argv[0]).parent), os.environ.get("PATH", "")]))
    return argv, env


def toil(loaded, initdata: dict, base: Path, batch_system: str = "slurm", timeout: float = 600,
         extra: tuple = (), emit: bool = True) -> tuple[Run, dict]:
    """Emit the CWL into base/workflow (unless emit is False: a restart), run toil; return the run
    and its capture, laid out and checked as `yadage2x check --cwl-runner toil-cwl-runner` does."""
    import json

    from yadage2x import capture
    from yadage2x.emit.cwl import emit as emit_cwl
    from yadage2x.emit.cwl_run import layout

    if emit:
        emit_cwl(loaded.workflow, loaded.path.name, base / "workflow", initdata, None)
    argv, env = toil_argv(base, batch_system, extra)
    printed = base / "outputs.json"
    done = run(argv, base, base / f"toil-{batch_system}.log", timeout, env, stdout=printed)
    try:
        outputs = json.loads(printed.read_text()) if done.returncode == 0 else {}
    except ValueError:
        outputs = {}
    rundir = base / "run"
    rundir.mkdir(exist_ok=True)
    problems = layout(loaded.workflow, outputs, rundir, initdata, None) if outputs else ["toil published nothing"]
    status = "success" if done.returncode == 0 and not problems else "failed"
    done.log += "".join(f"\nyadage2x: {p}" for p in problems)
    return done, capture.from_results("cwl", rundir, None, status)


def sacct(jobids: list[str], fields: str) -> dict[str, list[str]]:
    """SLURM's accounting of jobs: id -> the fields asked for."""
    out = subprocess.run(["sacct", "-X", "-n", "-P", "-j", ",".join(jobids), "-o", "JobID," + fields],
                         capture_output=True, text=True, check=True).stdout
    return {line.split("|")[0]: line.split("|")[1:] for line in out.splitlines() if line}


if __name__ == "__main__":
    sys.exit("a helper module: run tests/test_slurm.py or bench/slurm_bench.py")
