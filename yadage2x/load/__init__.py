"""Loading: files → $ref-resolved data with positions → schema validation → IR → checks → marks.

`load_workflow` is the front end every command uses. It raises `SpecError` holding every
problem found (as many as can be found in one go), and returns warnings separately.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import build
from ..analyse import analyse
from ..check import check
from ..errors import Pos, Problem, Problems, SpecError
from ..ir import Step, Workflow
from .refs import REMOTE_PREFIXES, Documents
from .schema import problems as schema_problems
from .source import Map, display_name


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
        return given.resolve(), given.resolve().parent
    top = Path(toplevel).resolve()
    if not top.is_dir():
        raise SpecError(Problem(Pos(display_name(top)), "toplevel is not a folder"))
    inside = top / text
    return (inside if inside.exists() or not given.exists() else given).resolve(), top


def load_workflow(workflow: str | Path, toplevel: str | Path | None = None, initdata: dict | None = None) -> Loaded:
    """Load, validate, build and analyse a workflow (or a single step spec). Raises SpecError.

    ``initdata``: the init parameters when known; references to init outputs are then checked
    against its keys.
    """
    path, top = locate(workflow, toplevel)
    docs = Documents(top)
    data = docs.load_top(path)
    name = display_name(path)
    if not isinstance(data, Map):
        raise SpecError(Problem(Pos(name, 1, 1), "not a yadage workflow: expected a mapping with 'stages'"))
    if "stages" not in data and {"process", "environment", "publisher"} & set(data):
        found = schema_problems(data, "step.schema.json")
        if found:
            raise SpecError(found)
        return Loaded(None, build.step(data), path, top, docs.warnings)
    found = schema_problems(data, "workflow.schema.json")
    if found:
        raise SpecError(found)
    ir = build.workflow(data)
    problems: Problems = check(ir, set(initdata) if initdata is not None else None)
    problems.raise_if_any()
    return Loaded(analyse(ir), None, path, top, docs.warnings)
