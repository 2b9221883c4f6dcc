"""Checks for what yadage only finds at run time (or never: it stalls and reports success).

Each finding is an error with the position of the value at fault:
- a reference to a stage, a sub-workflow stage, an output or a registered value that does not
  exist; an init parameter that the init data (or the parent stage) does not give;
- a {placeholder} in a command, script or publisher that no parameter fills, and unbalanced
  braces (yadage runs every template through str.format);
- {workdir} in a parameter of a stage that schedules a sub-workflow (yadage: KeyError 'workdir');
- duplicate stage names, a stage named 'init', dependencies on missing stages, the dependency
  forms that crash yadage (`map[0]`, `map[*]` on a sub-workflow stage), stages that wait on
  each other in a cycle;
- scatter over a parameter the stage does not have; jq programs that do not compile.
"""
from __future__ import annotations

import re
import string
from functools import lru_cache

import jq

from .errors import Problems
from .ir import (
    Cases, CommandProcess, ConstantPublisher, DockerEnvironment, FromGlobPublisher, FromParPublisher,
    FromValue, InterpolatedPublisher, Literal, Ref, ScriptProcess, Stage, Step, Workflow,
    FromParJqPublisher, LocalEnvironment,
)
from .load.source import value_pos
from .scope import INIT, Selection, select
from .selectors import SelectorError, first_names

# placeholders yadage fills in parameter values (packtivity contextualise, yadage-spec §2.5)
_DIR_PLACEHOLDER = re.compile(r"^(workdir|readdir\d+)$")
_FIELD_ROOT = re.compile(r"^([^.\[]*)")


def template_fields(text: str) -> list[str]:
    """The root names of str.format fields in ``text``; raises ValueError when braces are unbalanced."""
    roots = []
    for _, field, spec, _ in string.Formatter().parse(text):
        if field is not None:
            roots.append(_FIELD_ROOT.match(field).group(1))
            if spec and "{" in spec:
                roots.extend(template_fields(spec))
    return roots


def leaves(value, pos):
    """(leaf, position) for every scalar inside a (frozen) JSON value."""
    if isinstance(value, (dict, tuple)):
        for key, child in (value.items() if isinstance(value, dict) else enumerate(value)):
            yield from leaves(child, value_pos(value, key))
    else:
        yield value, pos


@lru_cache(maxsize=4096)
def jq_error(program: str) -> str | None:
    try:
        jq.compile(program)
    except ValueError as exc:
        return " ".join(str(exc).split())
    return None


def published_keys(step: Step) -> set[str] | None:
    """Top-level keys a step publishes, when the spec says; None when only a run can tell."""
    pub = step.publisher
    if isinstance(pub, FromParPublisher):
        return set(pub.outputmap)
    if isinstance(pub, ConstantPublisher):
        return set(pub.publish)
    if isinstance(pub, InterpolatedPublisher) and isinstance(pub.publish, dict):
        return set(pub.publish)
    if isinstance(pub, FromGlobPublisher):
        return {pub.outputkey}
    return None


def registered_keys(workflow: Workflow) -> set[str]:
    return set(workflow.registered)


def _output_root(output: str) -> str:
    match = re.match(r"^\s*(?:\$\.)?(\"[^\"]*\"|'[^']*'|[^.\[]+)", output)
    return match.group(1).strip("\"'") if match else output


class Checker:
    def __init__(self, initdata_keys: set[str] | None):
        self.problems = Problems()
        self.warnings = Problems()  # what fails in yadage only on some inputs
        self.top_init_keys = initdata_keys

    def run(self, workflow: Workflow) -> Problems:
        self.workflow_(workflow, self.top_init_keys, "the init data")
        return self.problems

    # -- scopes and stages --------------------------------------------------------------------

    def workflow_(self, wf: Workflow, init_keys: set[str] | None, init_source: str) -> None:
        seen: dict[str, Stage] = {}
        for stage in wf.stages:
            if stage.name == INIT:
                self.problems.add(stage.pos, "a stage may not be named 'init': yadage adds the init stage itself")
            elif stage.name in seen:
                first = seen[stage.name].pos
                self.problems.add(stage.pos, f"duplicate stage name '{stage.name}' (first at line {first.line}); yadage would run both in one work directory")
            seen.setdefault(stage.name, stage)
            self.stage_(wf, stage, init_keys, init_source)
        self.cycles(wf)

    def stage_(self, wf: Workflow, stage: Stage, init_keys, init_source: str) -> None:
        deps = stage.dependencies
        if deps.kind == "jsonpath_ready":
            for i, expr in enumerate(deps.expressions):
                self.dependency(wf, stage, expr, value_pos(deps.expressions, i))
        else:
            for expr in deps.expressions:
                self.value(wf, stage, expr, init_keys, init_source)
        keys = set(stage.parameter_keys())
        # 'always' when every instance schedules a sub-workflow, 'maybe' when only some cases do
        schedules_workflow = None
        if stage.sub_workflows():
            schedules_workflow = "maybe" if stage.steps() else "always"
        for param in stage.parameters:
            self.value(wf, stage, param.value, init_keys, init_source, schedules_workflow)
        for param in stage.register_values:
            # registered values are evaluated lazily, after the stage ran: they may read it
            self.value(wf, stage, param.value, init_keys, init_source, registered=True)
        if stage.scatter:
            for name in stage.scatter.parameters:
                if name not in keys:
                    self.problems.add(stage.scatter.pos, f"stage '{stage.name}' scatters over '{name}', which is not one of its parameters ({', '.join(sorted(keys)) or 'none'})")
        if stage.jq:
            self.jq_program(stage.jq.stepscript_pos, "jq-stage stepscript", stage.jq.stepscript)
            self.jq_program(stage.jq.postscript_pos, "jq-stage postscript", stage.jq.postscript)
            self.bindings(stage, stage.jq.bindings)
        if isinstance(stage.body, Cases):
            for case in stage.body.cases:
                self.jq_program(case.pos, "case 'if'", case.condition)
        # a jq-stage's parameters are whatever its scripts compute: their names are unknown here
        param_keys = None if stage.scheduler == "jq-stage" else keys
        for step in stage.steps():
            self.step_(stage, step, param_keys)
        for inner in stage.sub_workflows():
            self.workflow_(inner, param_keys, f"the parameters of stage '{stage.name}'")

    def dependency(self, wf: Workflow, stage: Stage, expr, pos) -> None:
        if not isinstance(expr, str):
            self.problems.add(pos, "a jsonpath_ready dependency must be a selector string")
            return
        sel = self.selection(wf, expr, pos, f"stage '{stage.name}' depends on '{expr}'")
        if sel is None:
            return
        for target in sel.targets:
            if target.indexed and target.reads_scopes and len(sel.targets) == 1:
                self.problems.add(pos, f"stage '{stage.name}' depends on '{expr}', which crashes yadage (KeyError); depend on '{target.name}'")
            if target.stage is stage:
                self.problems.add(pos, f"stage '{stage.name}' depends on itself")

    def bindings(self, stage: Stage, value) -> None:
        if isinstance(value, dict):
            ref = value.get("$wflowref")
            if ref is not None:
                if not (isinstance(ref, tuple) and len(ref) == 2 and all(isinstance(x, str) for x in ref)):
                    self.problems.add(stage.jq.pos, "$wflowref must be [node selector, result script], two jq programs")
                else:
                    for program in ref:
                        self.jq_program(stage.jq.pos, "$wflowref", program)
            for v in value.values():
                self.bindings(stage, v)
        elif isinstance(value, tuple):
            for v in value:
                self.bindings(stage, v)

    def jq_program(self, pos, what: str, program: str) -> None:
        error = jq_error(program)
        if error:
            self.problems.add(pos, f"{what} '{program}' is not a valid jq program: {error}")

    # -- values -------------------------------------------------------------------------------

    def value(self, wf, stage, value, init_keys, init_source, schedules_workflow=None, registered=False) -> None:
        if isinstance(value, Ref):
            self.ref(wf, stage, value, init_keys, init_source, registered)
        elif isinstance(value, FromValue):
            self.fromvalue(wf, stage, value)
        elif isinstance(value, Literal):
            self.literal(stage, value.value, value.pos, schedules_workflow)

    def literal(self, stage, value, pos, schedules_workflow) -> None:
        """Every string leaf of a parameter goes through str.format(workdir=..., readdirN=...)."""
        for leaf, leaf_pos in leaves(value, pos):
            if not isinstance(leaf, str):
                continue
            try:
                names = template_fields(leaf)
            except ValueError as exc:
                self.problems.add(leaf_pos, f"unbalanced braces in '{leaf}' ({exc}); write literal braces as {{{{ and }}}}")
                continue
            for name in names:
                if name.isdigit() or name == "":
                    continue  # yadage leaves positional fields alone (IndexError is swallowed)
                if not _DIR_PLACEHOLDER.match(name):
                    self.problems.add(leaf_pos, f"'{{{name}}}' in a parameter value: yadage fills only {{workdir}} and {{readdirN}} there; write literal braces as {{{{ and }}}}")
                elif schedules_workflow == "always" and name == "workdir":
                    self.problems.add(leaf_pos, f"stage '{stage.name}' schedules a sub-workflow, whose init has no {{workdir}}: yadage fails with KeyError 'workdir'")
                elif schedules_workflow == "maybe" and name == "workdir":
                    self.warnings.add(leaf_pos, f"stage '{stage.name}' has a case that schedules a sub-workflow, whose init has no {{workdir}}: yadage fails with KeyError 'workdir' when that case is chosen")

    def selection(self, wf: Workflow, selector: str, pos, what: str) -> Selection | None:
        """Evaluate a selector, reporting what is wrong with it as '<what>: <problem>'."""
        try:
            sel = select(wf, selector)
        except SelectorError as exc:
            self.problems.add(pos, f"{what}: {exc}")
            return None
        for message in sel.problems:
            self.problems.add(pos, f"{what}: {message}")
        return sel

    def ref(self, wf, stage, ref: Ref, init_keys, init_source, registered=False) -> None:
        sel = self.selection(wf, ref.selector, ref.pos, f"selector '{ref.selector}'")
        if sel is None:
            return
        if ref.single and len(sel.targets) == 1:
            target = sel.targets[0]
            if target.stage is not None and target.stage.scheduler != "singlestep-stage" and not target.indexed:
                self.problems.add(ref.pos, f"'step: {ref.selector}' needs exactly one match, but '{target.name}' has one per instance; use 'stages:' or an index")
        if not ref.output:
            return
        root = _output_root(ref.output)
        for target in sel.targets:
            if target.stage is stage and not registered:
                self.problems.add(ref.pos, f"stage '{stage.name}' reads its own output: yadage would wait forever")
                continue
            known, what = self.outputs_of(target, init_keys, init_source)
            if known is not None and ref.output not in known and root not in known:
                listed = ", ".join(sorted(known)) or "nothing"
                if target.stage is None:
                    self.problems.add(ref.pos, f"init parameter '{root}' is not given by {what} (it gives: {listed})")
                else:
                    self.problems.add(ref.pos, f"stage '{target.name}' has no {what} '{root}' (it has: {listed})")

    def outputs_of(self, target, init_keys, init_source):
        if target.stage is None:
            # init of this scope, or of a sub-workflow reached through the selector
            if target.via:
                parent = target.via[-1]
                return (None if parent.scheduler == "jq-stage" else set(parent.parameter_keys())), f"stage '{parent.name}'"
            return init_keys, init_source
        if target.reads_scopes:
            keys: set[str] = set()
            for inner in target.stage.sub_workflows():
                keys |= registered_keys(inner)
            return keys, "registered value"
        keys = set()
        for step in target.stage.steps():
            step_keys = published_keys(step)
            if step_keys is None:
                return None, ""
            keys |= step_keys
        return keys, "output"

    def fromvalue(self, wf, stage, fv: FromValue) -> None:
        scopes = [wf]
        if fv.scope:
            sel = self.selection(wf, fv.scope, fv.pos, f"fromvalue scope '{fv.scope}'")
            if sel is None:
                return
            scopes = [inner for t in sel.targets if t.stage for inner in t.stage.sub_workflows()]
        known = set().union(*(registered_keys(s) for s in scopes)) if scopes else set()
        if scopes and fv.key not in known:
            self.problems.add(fv.pos, f"no value '{fv.key}' is registered in that scope (registered: {', '.join(sorted(known)) or 'none'})")

    # -- steps --------------------------------------------------------------------------------

    def template(self, pos, what: str, text: str, allowed: set[str] | None, stage: Stage) -> None:
        try:
            names = template_fields(text)
        except ValueError as exc:
            self.problems.add(pos, f"unbalanced braces in {what} ({exc}); write literal braces as {{{{ and }}}}")
            return
        if allowed is None:
            return
        for name in names:
            if name == "" or name.isdigit():
                self.problems.add(pos, f"positional '{{{name}}}' in {what}: stage '{stage.name}' gives named parameters")
            elif name not in allowed:
                hint = " ({workdir} is not filled in commands: pass it through a parameter)" if name == "workdir" else ""
                self.problems.add(pos, f"'{{{name}}}' in {what}: stage '{stage.name}' has no parameter '{name}'{hint}")

    def step_(self, stage: Stage, step: Step, keys: set[str] | None) -> None:
        proc, env, pub = step.process, step.environment, step.publisher
        if (proc is None) != (env is None):
            self.problems.add(step.pos, "process and environment must both be null (a pure-publishing step) or both be given")
        if isinstance(proc, CommandProcess):
            self.template(proc.pos, "cmd", proc.cmd, keys, stage)
        elif isinstance(proc, ScriptProcess):
            self.template(proc.pos, "script", proc.script, keys, stage)
            if isinstance(env, LocalEnvironment):
                self.problems.add(proc.pos, "a script process cannot run in localproc-env (yadage: KeyError 'command'); use a cmd or a docker environment")
        if isinstance(env, DockerEnvironment):
            if env.workdir:
                self.template(env.pos, "environment workdir", env.workdir, {"workdir"} | (keys or set()), stage)
            for mount in env.par_mounts:
                self.jq_program(env.pos, "par_mounts jqscript", mount.jqscript)
        with_workdir = None if keys is None else keys | {"workdir"}
        if isinstance(pub, FromParPublisher):
            self.outputmap(stage, pub, keys)
        elif isinstance(pub, InterpolatedPublisher):
            self.publish_templates(stage, pub, with_workdir)
        elif isinstance(pub, FromParJqPublisher):
            self.jq_program(pub.pos, "fromparjq-pub script", pub.script)

    def outputmap(self, stage, pub, keys) -> None:
        """Each leaf of a frompar-pub outputmap names a parameter of the stage."""
        for leaf, pos in leaves(pub.outputmap, pub.pos):
            if keys is not None and leaf not in keys:
                self.problems.add(pos, f"frompar-pub publishes parameter '{leaf}', which stage '{stage.name}' does not have ({', '.join(sorted(keys)) or 'none'})")

    def publish_templates(self, stage, pub, allowed) -> None:
        """interpolated-pub formats each string leaf with the parameters and {workdir}."""
        for leaf, pos in leaves(pub.publish, pub.pos):
            if isinstance(leaf, str):
                self.template(pos, "interpolated-pub", leaf, allowed, stage)

    # -- stages waiting on each other ---------------------------------------------------------

    def cycles(self, wf: Workflow) -> None:
        names = {s.name for s in wf.stages}
        edges: dict[str, set[str]] = {s.name: set() for s in wf.stages}
        for stage in wf.stages:
            for selector in _selectors_of(stage):
                try:
                    edges[stage.name] |= first_names(selector) & names
                except SelectorError:
                    pass
        state: dict[str, int] = {}
        for start in edges:
            stack = [(start, iter(sorted(edges[start])))]
            path = [start]
            if state.get(start):
                continue
            state[start] = 1
            while stack:
                node, children = stack[-1]
                child = next(children, None)
                if child is None:
                    state[node] = 2
                    stack.pop()
                    path.pop()
                elif state.get(child) == 1 and child != node:
                    cycle = path[path.index(child):] + [child]
                    stage = wf.stage(child)
                    self.problems.add(stage.pos, f"stages wait on each other in a cycle: {' -> '.join(cycle)}; yadage would never run them")
                elif not state.get(child):
                    state[child] = 1
                    stack.append((child, iter(sorted(edges[child]))))
                    path.append(child)


def _selectors_of(stage: Stage):
    if stage.dependencies.kind == "jsonpath_ready":
        yield from (e for e in stage.dependencies.expressions if isinstance(e, str))
    for param in stage.parameters:  # not register_values: evaluated lazily, they order nothing
        if isinstance(param.value, Ref):
            yield param.value.selector


def check(workflow: Workflow, initdata_keys: set[str] | None) -> Checker:
    """Run every check; the result holds `problems` (errors) and `warnings`."""
    checker = Checker(initdata_keys)
    checker.run(workflow)
    return checker
