"""yadage itself as the reference: run a workflow with the real yadage-run and capture the result.

yadage pins jsonschema<=4.9.1, so it lives in a virtual environment of its own
(`scripts/setup.sh yadage` makes `.venv-yadage`); we only call its `yadage-run`.
Docker-encapsulated steps run on the host through the packtivity plugin beside this file
(`yadage2x_hostexec.py`), or, with ``engine='docker'``, in a real Docker engine.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .. import capture
from ..errors import Yadage2xError

PLUGIN_DIR = Path(__file__).resolve().parent
REPO = PLUGIN_DIR.parents[1]


class YadageNotFound(Yadage2xError):
    pass


def find_yadage_run() -> Path:
    """yadage-run: $YADAGE2X_YADAGE, else the checkout's .venv-yadage, else the PATH."""
    candidates = [os.environ.get("YADAGE2X_YADAGE"), str(REPO / ".venv-yadage" / "bin" / "yadage-run"), shutil.which("yadage-run")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return Path(candidate)
    raise YadageNotFound(
        "yadage-run not found: run scripts/setup.sh yadage (it makes .venv-yadage), "
        "or set YADAGE2X_YADAGE to a yadage-run (yadage 0.21 in a virtual environment of its own)"
    )


@dataclass(frozen=True)
class YadageRun:
    workdir: Path
    returncode: int
    log: Path
    capture: dict


def run(workflow: Path, toplevel: Path, workdir: Path, initdata: dict | None = None,
        initdir: Path | None = None, docker: bool = False, stub: bool = False) -> YadageRun:
    """Run ``workflow`` (a path below ``toplevel``) with yadage into ``workdir`` (must not exist)."""
    yadage_run = find_yadage_run()
    if workdir.exists():
        raise Yadage2xError(f"{workdir}: exists; yadage needs a fresh work directory")
    workdir.parent.mkdir(parents=True, exist_ok=True)
    log = workdir.parent / f"{workdir.name}.yadage.log"
    with tempfile.TemporaryDirectory(prefix="yadage2x-init-") as tmp:
        argv = [str(yadage_run), str(workdir.resolve()), os.path.relpath(workflow.resolve(), toplevel.resolve())]
        if initdata:
            inputs = Path(tmp) / "input.json"
            inputs.write_text(json.dumps(initdata))  # JSON is YAML: yadage reads it as such
            argv.append(str(inputs))
        argv += ["-t", str(toplevel.resolve())]
        if initdir is not None:
            argv += ["-d", f"initdir={initdir.resolve()}"]
        env = dict(os.environ)
        if docker:
            env["PACKTIVITY_DOCKER_NOPULL"] = "1"  # images are built locally; nothing is pulled
        else:
            argv += ["--plugins", "yadage2x_hostexec"]
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PLUGIN_DIR), env.get("PYTHONPATH")]))
            if stub:
                env["YADAGE2X_STUB"] = "1"
                env["YADAGE2X_RUNTIME"] = str(PLUGIN_DIR.parent / "runtime.py")
        with open(log, "wb") as out:
            proc = subprocess.run(argv, cwd=toplevel, env=env, stdout=out, stderr=subprocess.STDOUT)
    if not (workdir / "_yadage" / "yadage_snapshot_workflow.json").exists():
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
        raise Yadage2xError(f"yadage-run failed before it wrote a snapshot (log: {log}): {tail[0]}")
    status = "success" if proc.returncode == 0 else "failed"
    result = capture.from_yadage(workdir, initdir, status)
    return YadageRun(workdir, proc.returncode, log, result)
