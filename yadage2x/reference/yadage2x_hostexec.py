"""A packtivity plugin that runs docker-encapsulated steps on the host (no container engine).

Loaded into yadage's own environment by `yadage-run --plugins yadage2x_hostexec` (it imports
nothing of yadage2x). packtivity renders the step exactly as for docker (argv, stdin, envscript,
mounts); we run that argv on the host in the step's work directory. par_mounts cannot be mounted
at their absolute path without a container, so their mount path is replaced by the file packtivity
wrote, wherever it appears in the command or script.

With YADAGE2X_STUB=1 a step does not run at all: every path below its work directory that its
command or script names is created as a small file saying what it stands for. Workflows whose
software is not here (ROOT, MadGraph) then still run end to end, so their structure is checked.
"""
import functools
import importlib.util
import os
import subprocess

import packtivity.handlers.execution_handlers as handlers
import packtivity.logutils as logutils


def run_on_host(config, environment, state, job, metadata):
    with logutils.setup_logging_topic(config, metadata, state, "step", return_logger=True) as log:
        spec = handlers.race_spec(config, state, environment, log, job)
        # docker runs in environment.workdir when set, else in the image's WORKDIR, which a
        # host has not: the step's own directory is the closest
        cwd = spec["workdir"] or (state.readwrite[0] if state and state.readwrite else os.getcwd())
        os.makedirs(cwd, exist_ok=True)
        argv, stdin = list(spec["argv"]), spec["stdin"]
        for mount in spec.get("mounts", []):
            source, target = mount.get("source"), mount.get("destination")
            if source and target and source != target and os.path.isfile(source):
                argv = [a.replace(target, source) for a in argv]
                stdin = stdin.replace(target, source) if stdin else stdin
        env = dict(os.environ)
        for item in spec.get("env", []):
            env[item["name"]] = item["value"]
        log.info("on the host (image %s not used): %s", spec["image"], argv)
        if config.dry_run():
            return
        if os.environ.get("YADAGE2X_STUB"):
            workdir = state.readwrite[0] if state and state.readwrite else cwd
            for path in _runtime().stub_outputs(workdir, " ".join(argv) + " " + (stdin or "")):
                log.info("stub wrote %s", path)
            return
        proc = subprocess.run(
            argv, input=stdin.encode() if stdin else None, cwd=cwd, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        with logutils.setup_logging_topic(config, metadata, state, "run", return_logger=True) as runlog:
            for line in proc.stdout.decode(errors="replace").splitlines():
                runlog.info(line)
        if proc.returncode:
            raise RuntimeError(f"step failed with exit status {proc.returncode}: {argv}")


@functools.cache
def _runtime():
    """yadage2x's runtime module (standard library only), from the path the runner gives: the one
    implementation of the stub rule, shared with the emitted workflows."""
    spec = importlib.util.spec_from_file_location("yadage2x_runtime", os.environ["YADAGE2X_RUNTIME"])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


handlers.handlers["docker-encapsulated"]["default"] = run_on_host
