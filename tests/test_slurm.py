"""Emitted workflows on a real SLURM cluster (one node on loopback, scripts/slurm.sh), through the
engines' own cluster back ends: Snakemake's SLURM executor plugin with the emitted
profiles/slurm, and toil-cwl-runner --batchSystem slurm. They publish what yadage published
(examples/cluster-fanout: a 20-item fromglob fan-out and a scatter over a scattered
sub-workflow), SLURM gets the resources the yadage steps declared, a failed step is reported
with its logs, and running again resumes without redoing finished jobs.

scripts/test.sh starts the cluster; without it these tests skip, but in CI they must run.
"""
from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from pathlib import Path

import pytest

from slurm_support import ROOT, cluster_up, emit_snakemake, load, sacct, snakemake_slurm, toil
from yadage2x import capture
from yadage2x.compare import compare

EXAMPLE = ROOT / "examples" / "cluster-fanout"
FAILING = ROOT / "tests" / "fixtures" / "slurm-failure" / "workflow.yml"
TOIL = Path(os.environ.get("YADAGE2X_TOIL") or ROOT / ".venv-toil" / "bin" / "toil-cwl-runner")


@pytest.fixture(scope="module", autouse=True)
def cluster():
    if cluster_up():
        return
    if os.environ.get("CI") or os.environ.get("YADAGE2X_SLURM"):
        pytest.fail("the SLURM cluster must be up here (scripts/test.sh runs scripts/slurm.sh up): scripts/slurm.sh status fails")
    pytest.skip("no SLURM cluster: scripts/test.sh starts one with scripts/slurm.sh up (needs root, or slurm-wlm installed)")


@pytest.fixture
def toil_installed():
    if not TOIL.exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI: {TOIL} is missing (scripts/setup.sh test makes .venv-toil)")
        pytest.skip("toil-cwl-runner not found: scripts/setup.sh test makes .venv-toil")


def expected() -> dict:
    return json.loads((EXAMPLE / "capture.json").read_text())


def slurm_job_names(since: str) -> list[str]:
    """Names of the SLURM jobs submitted since a time (sacct's format)."""
    import subprocess

    out = subprocess.run(["sacct", "-X", "-n", "-P", "-S", since, "-o", "JobName%200"],
                         capture_output=True, text=True, check=True).stdout
    return out.split()


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


def test_snakemake_slurm_executor_reproduces_yadage(tmp_path):
    loaded, initdata = load(EXAMPLE / "workflow.yml", EXAMPLE / "input.yml")
    emit_snakemake(loaded, initdata, tmp_path / "workflow")
    done = snakemake_slurm(tmp_path / "workflow", tmp_path / "run", tmp_path / "snakemake.log")
    assert done.returncode == 0, done.log[-4000:]
    assert compare(expected(), capture.from_results("snakemake", tmp_path / "run", None, "success")) == []
    jobs = done.slurm_jobs()
    # every step instance was a SLURM job, the 20 of the checkpoint's fan-out included; the
    # bookkeeping (all, yadage2x_results) ran on the submit host
    assert Counter(jobs.values()) == {"split": 1, "square": 20, "groups__draw": 4, "groups__summarize": 2, "reduce": 1}
    accounted = sacct(list(jobs), "ReqMem,TimelimitRaw,State")
    asked = {rule: {tuple(accounted[j]) for j, r in jobs.items() if r == rule} for rule in set(jobs.values())}
    # kubernetes_memory_limit: 256Mi, htcondor_max_runtime: 300 s; reduce: 512Mi and the profile's 60 min
    assert asked["square"] == {("256M", "5", "COMPLETED")}
    assert asked["reduce"] == {("512M", "60", "COMPLETED")}


def test_snakemake_slurm_failure_is_reported_and_rerun_resumes(tmp_path):
    gate = tmp_path / "gate"
    loaded, initdata = load(FAILING, params={"gate": str(gate)})
    source, rundir = tmp_path / "workflow", tmp_path / "run"
    emit_snakemake(loaded, initdata, source)

    first = snakemake_slurm(source, rundir, tmp_path / "first.log")
    assert first.returncode != 0
    # the failed step, with the step's own log and SLURM's log of the job
    failed = re.search(r"Error in rule square:.*?log: (\.yadage2x/logs/(square_\d+)\.log), (\S+\.log) \(check log", first.log, re.S)
    assert failed, first.log[-4000:]
    step_log, instance, job_log = failed[1], failed[2], failed[3]
    assert "item 2 fails until" in (rundir / step_log).read_text()
    assert "slurm_logs" in job_log and Path(job_log).exists()
    # keep-going: the other squares finished
    assert Counter(first.slurm_jobs().values()) == {"split": 1, "square": 3}
    finished = {p: p.stat().st_mtime_ns for p in (rundir / ".yadage2x" / "done").iterdir()}
    assert len(finished) == 3 and rundir / ".yadage2x" / "done" / instance not in finished  # split and two squares

    gate.touch()
    second = snakemake_slurm(source, rundir, tmp_path / "second.log")
    assert second.returncode == 0, second.log[-4000:]
    # only the failed step and what needs it ran again
    assert sorted(second.slurm_jobs().values()) == ["reduce", "square"]
    assert {p: p.stat().st_mtime_ns for p in finished} == finished
    assert (rundir / "reduce" / "total.txt").read_text() == "14\n"


def test_toil_slurm_batch_system_reproduces_yadage(tmp_path, toil_installed):
    loaded, initdata = load(EXAMPLE / "workflow.yml", EXAMPLE / "input.yml")
    since = now()
    done, actual = toil(loaded, initdata, tmp_path)
    assert done.returncode == 0 and actual["status"] == "success", done.log[-4000:]
    assert compare(expected(), actual) == []
    names = slurm_job_names(since)
    # the steps ran as SLURM jobs (toil names them after its jobs; it may chain a few into one)
    assert any("square" in name for name in names) and any("summarize" in name for name in names), names


def test_toil_slurm_failure_is_reported_and_restart_resumes(tmp_path, toil_installed):
    gate, logs = tmp_path / "gate", tmp_path / "logs"
    loaded, initdata = load(FAILING, params={"gate": str(gate)})
    options = ("--retryCount", "0", "--writeLogs", str(logs))

    first, _ = toil(loaded, initdata, tmp_path, extra=options)
    assert first.returncode != 0
    # the SLURM job that failed, and the failed step's log written where --writeLogs points
    failed = re.search(r"Failed job in backing scheduler: (\d+)", first.log)
    assert failed, first.log[-4000:]
    assert sacct([failed[1]], "State")[failed[1]] == ["FAILED"]
    assert [p for p in logs.iterdir() if "item 2 fails until" in p.read_text(errors="replace")]

    gate.touch()
    time.sleep(1)  # sacct -S counts whole seconds
    since = now()
    second, actual = toil(loaded, initdata, tmp_path, extra=("--restart", *options), emit=False)
    assert second.returncode == 0 and actual["status"] == "success", second.log[-4000:]
    # the job store kept what had finished: only the failed step and what needs it ran again
    names = slurm_job_names(since)
    assert sum("square" in n for n in names) == 1 and not any("split" in n for n in names), names
    assert (tmp_path / "run" / "reduce" / "total.txt").read_text() == "14\n"
