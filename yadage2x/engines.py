"""Running an emitted workflow with its engine, for `yadage2x check`."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from . import capture
from .errors import Yadage2xError


def find_tool(name: str) -> str:
    """An engine's command: $YADAGE2X_<NAME> if set (e.g. another Snakemake release), else beside
    this Python (the same virtual environment), else PATH."""
    chosen = os.environ.get(f"YADAGE2X_{name.upper().replace('-', '_')}")
    if chosen:
        return chosen
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise Yadage2xError(f"{name} not found: install it (pip install {name}) to run the emitted workflow")
    return found


def run_snakemake(loaded, base: Path, initdata: dict | None, initdir: Path | None, stub: bool = False) -> tuple[dict, Path]:
    """Emit the Snakefile into base/workflow, run it in base/run; return the capture and the log."""
    from .emit.snakemake import emit

    source, run = base / "workflow", base / "run"
    emit(loaded.workflow, loaded.path.name, source, initdata, str(initdir.resolve()) if initdir else None)
    run.mkdir(parents=True, exist_ok=True)
    log = base / "snakemake.log"
    argv = [find_tool("snakemake"), "-s", str(source / "Snakefile"), "--configfile", str(source / "config.yaml"),
            "--directory", str(run), "--cores", "2", "--quiet", "all"]
    if stub:
        argv += ["--config", "stub=true"]
    with open(log, "wb") as out:
        proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT)
    status = "success" if proc.returncode == 0 else "failed"
    return capture.from_results("snakemake", run, initdir, status), log


def run_cwl(loaded, base: Path, initdata: dict | None, initdir: Path | None, docker: bool = False, runner: str = "cwltool") -> tuple[dict, Path]:
    """Emit workflow.cwl into base/workflow and run it with a CWL runner; return the capture and the log."""
    from .emit.cwl_run import run_cwl as run

    return run(loaded, base, initdata, initdir, docker, runner)
