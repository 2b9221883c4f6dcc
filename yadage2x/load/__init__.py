"""Loading: files → $ref-resolved data with positions → schema validation → IR → checks → marks.

`load_workflow` is the front end every command uses. It raises `SpecError` holding every
problem found (as many as can be found in one go), and returns warnings separately.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .. import build
from ..analyse import analyse
from ..check import check
from ..errors import Pos, Problem, SpecError
from ..ir import Step, Workflow
from .refs import REMOTE_PREFIXES, Documents
from .schema import distinct_steps, problems as schema_problems
from .source import Map, absolute, display_name


@dataclass(frozen=True)
class Loaded:
    workflow: Workflow | None  # None when the file is a single step (packtivity) spec
    step: Step | None
    path: Path
    toplevel: Path
    warnings: list[Problem] = field(default_factory=list)


def locate(workflow: str | Path, toplevel: str | Path | None) -> tuple[Path, Path]:
    """Where the workflow file is, and the folder its top-level references resolve against.

    yadage reads WORKFLOW relative to the toplevel (default: the current directory). We accept
    that, and also a WORKFLOW path that exists as given; without -t the toplevel is the
    workflow's own folder, which is what a reader of the file expects.
    """
    text = str(workflow)
    if toplevel is not None and str(toplevel).startswith(REMOTE_PREFIXES):
        raise SpecError(Problem(Pos(str(toplevel)), "remote toplevels are not fetched: yadage2x reads local files only (clone the repository and pass its folder)"))
    given = Path(text)
    if toplevel is None:
        return absolute(given), absolute(given).parent
    top = absolute(Path(toplevel))
    if not top.is_dir():
        raise SpecError(Problem(Pos(display_name(top)), "toplevel is not a folder"))
    inside = top / text
    return absolute(inside if inside.exists() or not given.exists() else given), top


# the docker-environment fields packtivity reads without a default of its own
DOCKER_DEFAULTED = ("imagetag", "resources", "envscript", "workdir", "par_mounts")


def environments_without_defaults(data, ref_targets: set[int]) -> list[Problem]:
    """A docker environment that is itself the target of a $ref gets no defaults in yadage
    (yadage-schemas fills defaults only into plain dicts, not into jsonref proxies): the step then
    fails with KeyError 'par_mounts'. Found by running yadage; see docs/language.md."""
    found = []
    steps = distinct_steps(data) if "stages" in data else [data]
    for step in steps:
        env = step.get("environment")
        if isinstance(env, dict) and id(env) in ref_targets and env.get("environment_type") == "docker-encapsulated":
            missing = [k for k in DOCKER_DEFAULTED if k not in env]
            if missing:
                found.append(Problem(
                    getattr(env, "pos", Pos("<unknown>")),
                    f"this environment is used through $ref, and yadage fills no defaults into it (the step fails with KeyError '{missing[-1]}'): "
                    f"write {', '.join(missing)} explicitly, or share it with a YAML anchor",
                ))
    return found


@contextmanager
def gc_paused():
    """Pause the cyclic garbage collector: loading allocates many small containers and no
    cycles, and collections over a growing heap made parsing grow faster than linearly."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            # the loaded data hold no cycles (reference counting frees them): keep the next
            # collection from walking all of them once more
            gc.freeze()
            gc.enable()


def load_workflow(workflow: str | Path, toplevel: str | Path | None = None, initdata: dict | None = None) -> Loaded:
    """Load, validate, build and analyse a workflow (or a single step spec). Raises SpecError.

    ``initdata``: the init parameters when known; references to init outputs are then checked
    against its keys.
    """
    with gc_paused():
        return _load(workflow, toplevel, initdata)


def _load(workflow, toplevel, initdata) -> Loaded:
    path, top = locate(workflow, toplevel)
    docs = Documents(top)
    data = docs.load_top(path)
    name = display_name(path)
    if not isinstance(data, Map):
        raise SpecError(Problem(Pos(name, 1, 1), "not a yadage workflow: expected a mapping with 'stages'"))
    if "stages" not in data and {"process", "environment", "publisher"} & set(data):
        found = schema_problems(data, "step.schema.json") + environments_without_defaults(data, docs.ref_targets)
        if found:
            raise SpecError(found)
        return Loaded(None, build.step(data), path, top, docs.warnings)
    found = schema_problems(data, "workflow.schema.json") + environments_without_defaults(data, docs.ref_targets)
    if found:
        raise SpecError(found)
    ir = build.workflow(data)
    checked = check(ir, set(initdata) if initdata is not None else None)
    checked.problems.raise_if_any()
    return Loaded(analyse(ir), None, path, top, docs.warnings + checked.warnings.items)
