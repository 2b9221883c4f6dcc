"""What a stage selector picks, decided from the spec alone (no run needed).

yadage evaluates selectors over its stage index at run time (yadage-spec §4.2): a stage name
gives the stage's entries, an index picks instances, a name after an index steps into the
instances' sub-workflow scopes. Here the same walk runs over the IR's scopes, so we know before
anything runs which stages a reference reads and whether it reads step results or sub-workflow
scopes (registered values). Indices pick among instances, which do not change which stage is
meant, so they are kept only to tell `map` from `map[*]`.
"""
from __future__ import annotations

from dataclasses import dataclass

from .ir import Stage, Workflow
from .selectors import parse

INIT = "init"  # every scope has an implicit init stage publishing its parameters


@dataclass(frozen=True)
class Target:
    """One stage a selector reaches: ``stage`` is None for the scope's init stage."""

    stage: Stage | None
    scope: Workflow
    via: tuple[Stage, ...]  # the sub-workflow stages crossed to get there (outermost first)
    indexed: bool  # an index followed the stage name (`map[*]`, `map[0]`)

    @property
    def name(self) -> str:
        return self.stage.name if self.stage else INIT

    @property
    def reads_scopes(self) -> bool:
        """The selection holds sub-workflow scopes: `output` then names a registered value."""
        return self.stage is not None and bool(self.stage.sub_workflows())


@dataclass
class Selection:
    targets: list[Target]
    problems: list[str]


def _stages_named(scope: Workflow, name: str) -> list[Stage | None]:
    if name == INIT:
        return [None]
    return list(scope.by_name.get(name, ()))


def _descend(scope: Workflow, name: str | None, via: tuple) -> list[Target]:
    found = []
    for candidate in ([None] if name in (None, INIT) else []) + list(scope.stages):
        if candidate is None or name is None or candidate.name == name:
            found.append(Target(candidate, scope, via, False))
        if candidate is not None:
            for inner in candidate.sub_workflows():
                found.extend(_descend(inner, name, via + (candidate,)))
    return found


def _in_scope(scope: Workflow, seg: tuple, via: tuple, problems: list[str], where: str) -> list[Target]:
    """Apply a name, '*' or '..name' step to a scope."""
    if seg[0] == "name":
        stages = _stages_named(scope, seg[1])
        if not stages:
            here = ", ".join(sorted({INIT} | {s.name for s in scope.stages}))
            problems.append(f"no stage '{seg[1]}' in {where} (stages there: {here})")
        return [Target(s, scope, via, False) for s in stages]
    if seg[0] == "any":
        return [Target(s, scope, via, False) for s in [None, *scope.stages]]
    if seg[0] == "descend":
        return _descend(scope, seg[1], via)
    problems.append("an index must follow a stage name")
    return []


def select(scope: Workflow, selector: str) -> Selection:
    """Statically evaluate ``selector`` in ``scope``. Raises selectors.SelectorError."""
    targets: list[Target] = []
    problems: list[str] = []
    for path in parse(selector):
        current = _in_scope(scope, path[0], (), problems, "this scope")
        for seg in path[1:]:
            nxt: list[Target] = []
            for item in current:
                if seg[0] == "index":
                    if item.indexed:
                        problems.append(f"'{item.name}' is indexed twice")
                    nxt.append(Target(item.stage, item.scope, item.via, True))
                    continue
                inner = item.stage.sub_workflows() if item.stage else ()
                if not inner:
                    problems.append(f"stage '{item.name}' runs a step, not a sub-workflow: nothing is inside it to select")
                elif not item.indexed and seg[0] != "descend":
                    problems.append(f"select inside the sub-workflow with '{item.name}[*]' (yadage finds nothing without the index)")
                for wf in inner:
                    nxt.extend(_in_scope(wf, seg, item.via + (item.stage,), problems, f"the sub-workflow of '{item.name}'"))
            current = nxt
        targets.extend(current)
    return Selection(targets, problems)
