"""Mark what is known before anything runs (static) and what only a run tells (dynamic).

yadage plans ahead through prepublishing (yadage-spec §4.3): frompar, constant and non-glob
interpolated/fromparjq publishers give their result before the step runs; fromglob, fromyaml
and glob publishers do not. From that:
- a reference is dynamic when a stage it reads has a dynamic result, or when it crosses a
  sub-workflow stage whose number of instances is dynamic;
- a stage's fan-out is dynamic when it scatters over a dynamic value, chooses a case on one, or
  (jq-stage) binds to a dynamic stage; its result is dynamic when its publisher is not
  prepublishable, its fan-out is dynamic, or it publishes parameters that are dynamic;
- a sub-workflow's init is dynamic when the parameters handed to it are.
Emitters read only these marks: a dynamic fan-out is where Snakemake needs a checkpoint.
"""
from __future__ import annotations

import re
from dataclasses import replace

from .ir import (
    Case, Cases, ConstantPublisher, Dependencies, FromValue, Marks, Parameter, Ref, Stage, Step,
    Workflow, prepublishable,
)
from .scope import select

_JQ_STAGE_NAME = re.compile(r"\.([A-Za-z_][A-Za-z0-9_\-]*)")


def jq_binding_stages(bindings, names: set[str]) -> set[str]:
    """Stage names a jq-stage's $wflowref node selectors read (e.g. '.map[]' reads 'map')."""
    found: set[str] = set()

    def walk(value):
        if isinstance(value, dict):
            ref = value.get("$wflowref")
            if isinstance(ref, tuple) and ref and isinstance(ref[0], str):
                found.update(n for n in _JQ_STAGE_NAME.findall(ref[0]) if n in names)
            for v in value.values():
                walk(v)
        elif isinstance(value, tuple):
            for v in value:
                walk(v)

    walk(bindings)
    return found


class Analyser:
    def __init__(self, top: Workflow):
        self.scope_of: dict[int, Workflow] = {}
        self.parent_of: dict[int, Stage] = {}  # sub-workflow -> the stage that schedules it
        self.marks: dict[int, Marks] = {}
        self.busy: set[int] = set()
        self._index(top)

    def _index(self, wf: Workflow) -> None:
        for stage in wf.stages:
            self.scope_of[id(stage)] = wf
            for inner in stage.sub_workflows():
                self.parent_of[id(inner)] = stage
                self._index(inner)

    # -- values -------------------------------------------------------------------------------

    def init_dynamic(self, wf: Workflow) -> bool:
        parent = self.parent_of.get(id(wf))
        if parent is None:
            return False  # top-level init data are given before the run
        if parent.jq is not None:
            return self.stage_marks(parent).fanout == "dynamic"
        return any(self.value_dynamic(self.scope_of[id(parent)], p.value) for p in parent.parameters)

    def value_dynamic(self, wf: Workflow, value) -> bool:
        if isinstance(value, Ref):
            sel = select(wf, value.selector)
            for target in sel.targets:
                if any(self.stage_marks(v).fanout == "dynamic" for v in target.via):
                    return True
                if target.stage is None:
                    if self.init_dynamic(target.scope):
                        return True
                elif self.stage_marks(target.stage).result == "dynamic":
                    return True
            return False
        if isinstance(value, FromValue):
            scopes = [wf]
            if value.scope:
                scopes = [i for t in select(wf, value.scope).targets if t.stage for i in t.stage.sub_workflows()]
            return any(self.registered_dynamic(s, value.key) for s in scopes)
        return False

    def registered_dynamic(self, wf: Workflow, key: str | None = None) -> bool:
        params = [p for ps in wf.registered.values() for p in ps] if key is None else wf.registered.get(key, ())
        return any(self.value_dynamic(wf, p.value) for p in params)

    # -- stages -------------------------------------------------------------------------------

    def stage_marks(self, stage: Stage) -> Marks:
        known = self.marks.get(id(stage))
        if known is not None:
            return known
        if id(stage) in self.busy:  # a cycle; reported by the checks, treated as static here
            return Marks()
        self.busy.add(id(stage))
        wf = self.scope_of[id(stage)]
        dynamic_params = [p.key for p in stage.parameters if self.value_dynamic(wf, p.value)]
        reasons: list[str] = []
        fanout = False
        if stage.scatter and set(stage.scatter.parameters) & set(dynamic_params):
            fanout = True
            names = ", ".join(k for k in stage.scatter.parameters if k in dynamic_params)
            reasons.append(f"scatters over {names}, known only at run time")
        if isinstance(stage.body, Cases) and dynamic_params:
            fanout = True
            reasons.append("chooses its case on values known only at run time")
        if stage.jq is not None:
            names = {s.name for s in wf.stages}
            bound = jq_binding_stages(stage.jq.bindings, names)
            if any(self.stage_marks(s).dynamic for s in wf.stages if s.name in bound):
                fanout = True
                reasons.append("its jq bindings read results known only at run time")
        result = fanout
        for step in stage.steps():
            if not prepublishable(step.publisher):
                result = True
                reasons.append(f"publishes with {step.publisher.kind}{' (glob)' if getattr(step.publisher, 'glob', False) else ''}: known after it runs")
            elif dynamic_params and not isinstance(step.publisher, ConstantPublisher):
                result = True
                reasons.append(f"publishes parameters known only at run time ({', '.join(dynamic_params)})")
        for inner in stage.sub_workflows():
            if self.registered_dynamic(inner):
                result = True
                reasons.append("its sub-workflow registers values known only at run time")
        marks = Marks(fanout="dynamic" if fanout else "static", result="dynamic" if result else "static", reasons=tuple(dict.fromkeys(reasons)))
        self.busy.discard(id(stage))
        self.marks[id(stage)] = marks
        return marks

    # -- a marked copy of the IR --------------------------------------------------------------

    def mark_value(self, wf: Workflow, value):
        if isinstance(value, (Ref, FromValue)):
            return replace(value, dynamic=self.value_dynamic(wf, value))
        return value

    def mark_params(self, wf, params) -> tuple[Parameter, ...]:
        return tuple(replace(p, value=self.mark_value(wf, p.value)) for p in params)

    def mark_body(self, body):
        if isinstance(body, Workflow):
            return self.mark_workflow(body)
        if isinstance(body, Cases):
            return replace(body, cases=tuple(replace(c, body=self.mark_body(c.body)) for c in body.cases))
        return body

    def mark_stage(self, wf: Workflow, stage: Stage) -> Stage:
        deps = stage.dependencies
        if deps.kind == "expressions_fulfilled":
            deps = replace(deps, expressions=tuple(self.mark_value(wf, e) for e in deps.expressions))
        return replace(
            stage,
            dependencies=deps,
            parameters=self.mark_params(wf, stage.parameters),
            register_values=self.mark_params(wf, stage.register_values),
            body=self.mark_body(stage.body),
            marks=self.stage_marks(stage),
        )

    def mark_workflow(self, wf: Workflow) -> Workflow:
        return replace(wf, stages=tuple(self.mark_stage(wf, s) for s in wf.stages))


def analyse(workflow: Workflow) -> Workflow:
    """The same IR with every stage's Marks and every reference's `dynamic` flag set."""
    return Analyser(workflow).mark_workflow(workflow)
