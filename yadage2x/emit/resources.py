"""What a step's `resources` ask for, in terms an engine understands, and what no engine flag
can give: the one reading of yadage's resource entries that every emitter shares.

packtivity honours the strings `CVMFS` (mount /cvmfs), `GRIDProxy`, `KRB5Auth` and the dict
`{kerberos: true}` (mount the credentials folder); REANA reads the other dict entries
(`kubernetes_memory_limit`, `htcondor_max_runtime`, `slurm_partition`, ...) and ignores strings
(yadage-spec §3.4). Each entry becomes either a `Demand` (memory, run time, cores, partition) or
a `Loss`: a place in the source, what is lost, and how much it matters.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from ..errors import Pos
from ..ir import DockerEnvironment, Step

_UNITS = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}


@dataclass(frozen=True)
class Loss:
    pos: Pos
    construct: str
    reason: str
    severity: str  # 'warning': the run may differ or fail; 'info': nothing a result depends on

    def to_json(self) -> dict:
        return {"file": self.pos.file, "line": self.pos.line, "column": self.pos.col,
                "construct": self.construct, "reason": self.reason, "severity": self.severity}


@dataclass
class Demand:
    """What the scheduler needs to know about one step; None: not asked for."""

    mem_mb: int | None = None
    runtime_min: int | None = None
    cores: int | None = None
    partition: str | None = None
    mounts: list[str] = field(default_factory=list)  # host paths the step expects (/cvmfs)


def memory_mb(quantity) -> int:
    """A Kubernetes quantity ('8Gi', '500M', 2e9) in MiB, rounded up."""
    match = re.fullmatch(r"\s*([0-9.eE+]+)\s*([KMGTkmgt]i?)?\s*", str(quantity))
    if not match:
        raise ValueError(f"not a memory quantity: {quantity!r}")
    return math.ceil(float(match[1]) * _UNITS[(match[2] or "").lower()] / 2**20)


def cores(quantity) -> int:
    """A Kubernetes CPU quantity ('500m', '2', 1.5) as whole cores, rounded up."""
    text = str(quantity).strip()
    value = float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    return max(1, math.ceil(value))


def minutes(seconds) -> int:
    return max(1, math.ceil(float(seconds) / 60))


def slurm_minutes(text) -> int:
    """SLURM's time formats: minutes, MM:SS, HH:MM:SS, D-HH[:MM[:SS]]."""
    text = str(text).strip()
    days, _, rest = text.rpartition("-") if "-" in text else ("0", "", text)
    parts = [float(p) for p in rest.split(":")]
    if "-" in text:
        h, m, s = (parts + [0, 0])[:3]
    elif len(parts) == 3:
        h, m, s = parts
    elif len(parts) == 2:
        h, m, s = 0, parts[0], parts[1]
    else:
        h, m, s = 0, parts[0], 0
    return max(1, math.ceil(float(days or 0) * 1440 + h * 60 + m + s / 60))


# REANA's dict entries: key -> (what it sets, how the value reads)
_DEMANDS = {
    "kubernetes_memory_limit": ("mem_mb", memory_mb),
    "kubernetes_memory_request": ("mem_mb", memory_mb),
    "kubernetes_cpu_limit": ("cores", cores),
    "kubernetes_cpu_request": ("cores", cores),
    "kubernetes_job_timeout": ("runtime_min", minutes),
    "htcondor_max_runtime": ("runtime_min", minutes),
    "slurm_time": ("runtime_min", slurm_minutes),
    "slurm_partition": ("partition", str),
}
# the limit wins over the request when a step gives both
_PREFERRED = ("kubernetes_memory_limit", "kubernetes_cpu_limit")

_CREDENTIALS = "credentials are not mounted into jobs: provide them on the execution hosts (the image's own getmyproxy.sh/getkrb.sh expect /recast_auth)"


def read_step(step: Step) -> tuple[Demand, list[Loss]]:
    """The demands and losses of one step's environment resources."""
    demand, losses = Demand(), []
    env = step.environment
    if not isinstance(env, DockerEnvironment):
        return demand, losses
    def where(i: int) -> Pos:
        itempos = getattr(env.resources, "itempos", ())
        return itempos[i] if i < len(itempos) and itempos[i] else env.pos

    entries = [(i, k, v) for i, entry in enumerate(env.resources) if isinstance(entry, dict) for k, v in entry.items()]
    entries.sort(key=lambda e: e[1] in _PREFERRED)  # preferred keys last, so they win
    for i, entry in enumerate(env.resources):
        if entry == "CVMFS":
            demand.mounts.append("/cvmfs")
            losses.append(Loss(where(i), "resources: CVMFS", "needs /cvmfs on every execution host; containers see it only where the emitted workflow can bind it (Snakemake: the workflow profile, for apptainer)", "warning"))
        elif entry in ("GRIDProxy", "KRB5Auth"):
            losses.append(Loss(where(i), f"resources: {entry}", _CREDENTIALS, "warning"))
        elif isinstance(entry, str):
            losses.append(Loss(where(i), f"resources: {entry}", "not a resource packtivity or REANA knows: ignored, as they ignore it", "info"))
    for i, key, value in entries:
        if key in _DEMANDS:
            what, read = _DEMANDS[key]
            try:
                setattr(demand, what, read(value))
            except ValueError:
                losses.append(Loss(where(i), f"resources: {key}", f"cannot read {value!r}: ignored", "warning"))
        elif key == "kerberos" and value:
            losses.append(Loss(where(i), "resources: kerberos", _CREDENTIALS, "warning"))
        elif key == "compute_backend":
            losses.append(Loss(where(i), "resources: compute_backend", f"the back end ({value}) is chosen when running (an executor plugin, a toil batch system), not in the workflow", "info"))
        else:
            losses.append(Loss(where(i), f"resources: {key}", "REANA-specific, no equivalent here: ignored", "info"))
    return demand, losses


def merge(demands: list[Demand]) -> Demand:
    """One rule serving several steps (the cases of a stage) asks for the most any of them asks."""
    out = Demand()
    for d in demands:
        for what in ("mem_mb", "runtime_min", "cores"):
            mine, theirs = getattr(out, what), getattr(d, what)
            if theirs is not None:
                setattr(out, what, theirs if mine is None else max(mine, theirs))
        out.partition = out.partition or d.partition
        out.mounts = sorted(set(out.mounts) | set(d.mounts))
    return out
