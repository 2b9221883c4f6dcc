"""Emit CWL v1.2 that any CWL runner executes with yadage's results: `workflow.cwl` (tools packed
into it, or beside it in `tools/`), `inputs.yml` (the init data) and `loss-report.json`, built
from cwl_utils' typed v1.2 objects. docs/cwl.md has the whole mapping; in short:
- a stage is a workflow step named after it; a step body is a CommandLineTool running
  `sh -c <command>` (a script is written by InitialWorkDirRequirement and fed to its
  interpreter on standard input); a sub-workflow is a nested Workflow; multistep stages scatter
  (zip: dotproduct, cartesian: flat_crossproduct; truncation and batching in an ExpressionTool
  before); cases are one step per case run `when` chosen, merged with pickValue (cwl_jq.py);
- `{workdir}` is `$(runtime.outdir)`; literal parameters are formatted into the command when
  emitting, as packtivity formats them; values from other stages are parameter references
  (`$(inputs.x.path)` for files), or `yadage.*` JavaScript (cwl_js.py) where packtivity's
  Python formatting or yadage's selection rules have no CWL equivalent;
- each published value is an output port named by its key (`files__main` for `files.main`):
  paths in the work directory are `glob`s typed File or Directory, parameters are passed
  through with `outputEval`; each tool also outputs its work directory (`workdir`) so that a
  run can be laid out as yadage lays it out (cwl_run.py); a sub-workflow's ports reach its
  parent as `<stage>__<port>`, registered values as `<key>__registered`;
- docker environments are DockerRequirement hints (so `--no-container` runs them on the host);
  resources become ResourceRequirement/ToolTimeLimit hints where CWL can say them, namespaced
  hints and the loss report where it cannot.
Constructs that cannot be expressed faithfully are refused with their position (`unsupported`).
"""
from __future__ import annotations

import io
import json
import os
import re
import string
from dataclasses import dataclass, field
from pathlib import Path

from cwl_utils.parser import cwl_v1_2 as cwl
from ruamel.yaml import YAML

from .. import __version__
from ..errors import Problem, SpecError
from ..ir import (
    Cases, ConstantPublisher, DockerEnvironment, FromGlobPublisher, FromParJqPublisher, FromParPublisher, FromValue,
    FromYamlPublisher,
    InterpolatedPublisher, Literal, ManualProcess, Ref, ScriptProcess, Stage, Step, Workflow, thaw,
)
from ..runtime import contextualise, init_result
from ..selectors import SelectorError, parse
from .cwl_jq import NotTranslated, condition_js, construction_js, stream_js, when
from .cwl_js import LIBRARY
from .output import loss_report, write_files
from .resources import Loss, read_step

NAMESPACE = "https://yadage2x.invalid/cwl#"  # our hints (resources); runners ignore unknown hints
REANA = "https://www.reana.io"  # REANA's hints, as its own CWL workflows write them
PATH = ["null", "File", "Directory"]  # a path published from the work directory (may be missing)
ANY = "Any"
WORKDIR = "\0workdir\0"  # stands for {workdir} until the text becomes CWL
SCRIPT = ".yadage2x-script"  # where a script process is written in the work directory
ROOT = "\x01"  # the work directory in a publisher's path, which becomes relative to it


def array(t):
    return {"type": "array", "items": t}


def is_array(t) -> bool:
    return isinstance(t, dict) and t.get("type") == "array"


def is_path(t) -> bool:
    return t in ("File", "Directory") or (isinstance(t, list) and set(t) <= set(PATH) and t != ["null"])


def value_type(value):
    """The CWL type of a JSON value known when emitting (init data, literals)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "int" if -2**31 <= value < 2**31 else "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)) and value:
        items = {json.dumps(value_type(v), sort_keys=True) for v in value}
        if len(items) == 1 and json.loads(items.pop()) not in (ANY, ["null", ANY]):
            return array(value_type(value[0]))
        return array(ANY)
    if isinstance(value, (list, tuple)):
        return array(ANY)
    if value is None:
        return ["null", ANY]  # Any itself excludes null
    return ANY


def nullable(t):
    if isinstance(t, list):
        return t if "null" in t else ["null", *t]
    return ["null", t]


def cwl_id(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def js_get(key: str) -> str:
    return f"inputs.{key}" if re.fullmatch(r"[A-Za-z_]\w*", key) else f"inputs[{json.dumps(key)}]"


def escape(text: str) -> str:
    """Literal text inside a CWL string that also holds parameter references."""
    return text.replace("\\", "\\\\").replace("$(", "\\$(").replace("${", "\\${")


class Refused(Exception):
    def __init__(self, pos, message):
        super().__init__(message)
        self.problem = Problem(pos, f"cwl: {message}")


# ---------------------------------------------------------------------------------------------
# values as seen inside a tool: a literal known now, or an input port


@dataclass
class Binding:
    """A parameter of a step as the tool sees it."""

    literal: bool
    value: object = None  # the literal (contextualised with WORKDIR)
    type: object = ANY  # the input's CWL type
    id: str = ""  # the tool's input (a parameter's key, renamed where an output has that name)


@dataclass
class Source:
    """Where a step input comes from: a source port, or a default, shaped by optional JS."""

    source: str | None
    type: object
    value_from: str | None = None
    default: object = None


@dataclass
class Scope:
    """A workflow being compiled: its stages' ports (id -> type) and its init inputs."""

    workflow: Workflow
    inputs: dict
    ports: dict = field(default_factory=dict)  # stage name -> {port id: type}
    path: tuple = ()


class Compiler:
    def __init__(self, split: bool = False):
        self.uses_js = False
        self.features: set[str] = set()
        self.losses: list[Loss] = []
        self.split = split  # tools in files of their own (tools/<stage path>.cwl)
        self.tools: dict[str, cwl.Process] = {}  # file name -> tool, when split

    # -- templates ---------------------------------------------------------------------------

    def template(self, text: str, bindings: dict, pos, command: bool, workdir: str = "$(runtime.outdir)") -> str:
        """A yadage template (str.format over the parameters) as a CWL string: literal values
        formatted now as packtivity formats them, inputs as parameter references."""
        pieces, dynamic = [], False
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError as exc:
            raise Refused(pos, f"cannot read the template: {exc}") from None
        for literal_text, name, spec, conversion in parsed:
            pieces.append(("text", literal_text))
            if name is None:
                continue
            if spec or conversion:
                raise Refused(pos, f"'{{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}}': format specs and conversions are not translated")
            if name == "workdir" and not command and name not in bindings:
                pieces.append(("text", WORKDIR))
                continue
            if name not in bindings:
                raise Refused(pos, f"'{{{name}}}' is not a parameter of this step (fields with indices or attributes are not translated)")
            binding = bindings[name]
            if binding.literal:
                value = binding.value
                if command and isinstance(value, list):
                    formatted = " ".join(py_str(v) for v in value)
                else:
                    formatted = py_str(value)
                pieces.append(("text", formatted))
            else:
                dynamic = True
                pieces.append(("ref", self.reference(binding.id, binding.type, command)))
        needs_parsing = dynamic or any(kind == "text" and ("$(" in t or "${" in t or WORKDIR in t) for kind, t in pieces)
        out = []
        for kind, t in pieces:
            if kind == "ref":
                out.append(t)
            else:
                t = escape(t) if needs_parsing else t
                out.append(t.replace(WORKDIR, workdir))
        return "".join(out)

    def reference(self, input_id: str, t, command: bool) -> str:
        get = js_get(input_id)
        if is_path(t):
            return f"$({get}.path)"
        if t in ("string", "int", "long"):
            return f"$({get})"
        self.uses_js = True
        return f"$(yadage.{'arg' if command else 'str'}({get}))"

    # -- selections --------------------------------------------------------------------------

    def resolve(self, scope: Scope, value, pos) -> Source:
        """A Ref or FromValue as a step input."""
        if isinstance(value, FromValue):
            if value.scope:
                raise Refused(pos, "fromvalue with a scope is not translated yet")
            registered = scope.workflow.registered.get(value.key)
            if not registered:
                raise Refused(pos, f"no value '{value.key}' is registered in this scope")
            value = registered[0].value
            if not isinstance(value, Ref):
                return Source(None, value_type(thaw(value.value)) if isinstance(value, Literal) else ANY,
                              default=thaw(value.value) if isinstance(value, Literal) else None)
        try:
            alternatives = parse(value.selector)
        except SelectorError as exc:
            raise Refused(pos, f"selector '{value.selector}': {exc}") from None
        if len(alternatives) > 1:
            return self.union(scope, alternatives, value, pos)
        source, t, depth, picks, keys = self.walk(scope, alternatives[0], value, pos)
        if value.single and depth:
            raise Refused(pos, f"step: '{value.selector}' selects the instances of a multistep stage; use stages:")
        if not keys and (value.single or (depth == 1 and not value.flatten and not value.unwrap and not picks)
                         or (depth == 0 and value.unwrap and not value.flatten)):
            return Source(source, t)
        self.uses_js = True
        shaped = self.shaped("self", depth, picks, keys)
        if value.single:
            return Source(source, t, f"$({shaped})")
        item = t
        for _ in range(depth):
            item = item["items"] if is_array(item) else ANY
        result = ANY if (value.unwrap or value.flatten) else array(item)
        return Source(source, result, f"$(yadage.select({shaped}, {depth}, {str(value.flatten).lower()}, {str(value.unwrap).lower()}))")

    def union(self, scope: Scope, alternatives, value: Ref, pos) -> Source:
        """`a,b`: the entries of each alternative in turn, then flatten and unwrap."""
        if value.single:
            raise Refused(pos, f"step: '{value.selector}' must select exactly one step, not a union")
        sources, parts, depths = [], [], []
        for i, path in enumerate(self.walk(scope, alt, value, pos) for alt in alternatives):
            source, _, depth, picks, keys = path
            sources.append(source)
            parts.append(self.shaped(f"self[{i}]", depth, picks, keys))
            depths.append(depth)
        self.uses_js = True
        self.features.add("MultipleInputFeatureRequirement")
        expression = f"$(yadage.union([{', '.join(parts)}], {json.dumps(depths)}, {str(value.flatten).lower()}, {str(value.unwrap).lower()}))"
        return Source(sources, ANY, expression)

    @staticmethod
    def shaped(value: str, depth: int, picks: list, keys: list) -> str:
        """JavaScript for a selected value: instances picked by index, keys of a YAML result."""
        if picks:
            value = f"yadage.pick({value}, {json.dumps(picks)})"
        if keys:
            value = f"yadage.at({value}, {depth}, {json.dumps(keys)})"
        return value

    def walk(self, scope: Scope, path, ref: Ref, pos):
        """(source id, type, scattered levels, index picks, keys into a YAML result) of a
        selector path in ``scope``."""
        here, crossed, picks, depth = scope, [], [], 0
        target: Stage | None = None
        init = False
        for i, seg in enumerate(path):
            if seg[0] == "name":
                if target is not None:
                    if not target.sub_workflows() or not isinstance(target.body, Workflow):
                        raise Refused(pos, f"selector '{ref.selector}': '{target.name}' has no sub-workflow to select in")
                    crossed.append(target)
                    here = Scope(target.body, {}, path=here.path + (target.name,))
                if seg[1] == "init" and not crossed:
                    init = True
                    target = None
                    continue
                stage = here.workflow.stage(seg[1])
                if stage is None:
                    raise Refused(pos, f"selector '{ref.selector}': no stage '{seg[1]}'")
                target = stage
                if stage.scheduler == "multistep-stage":
                    depth += 1
                    picks.append("*")
            elif seg[0] == "index" and target is not None:
                index = seg[1]
                if isinstance(index, tuple):
                    raise Refused(pos, f"selector '{ref.selector}': slices are not translated yet")
                if target.scheduler == "multistep-stage":
                    picks[-1] = index
                elif index not in ("*", 0, -1):
                    raise Refused(pos, f"selector '{ref.selector}': a singlestep stage has only instance 0")
            else:
                raise Refused(pos, f"selector '{ref.selector}': '*' and '..' are not translated yet")
        if init:
            if crossed or target is not None:
                raise Refused(pos, f"selector '{ref.selector}' is not translated")
            key = ref.output
            if key not in scope.inputs:
                raise Refused(pos, f"init has no value '{key}' here (jsonpaths into init values are not translated)")
            return cwl_id(key), scope.inputs[key], 0, [], []
        if target is None:
            raise Refused(pos, f"selector '{ref.selector}' selects nothing")
        keys = []
        if isinstance(target.body, Workflow):
            port = f"{cwl_id(ref.output)}__registered"
        elif isinstance(target.body, Step) and isinstance(target.body.publisher, FromYamlPublisher):
            # the keys of a YAML file are known only when it is read: one port, picked at run time
            port, keys = "result", output_keys(ref.output)
        else:
            port = port_name(ref.output)
        names = [s.name for s in crossed] + [target.name]
        first = names[0]
        inner = "__".join([cwl_id(n) for n in names[1:]] + [port])
        ports = self.ports_of(scope, first, pos)
        if inner not in ports:
            raise Refused(pos, f"'{ref.output}' of '{'/'.join(names)}' is not a published value the CWL translation knows (nested values and whole results are not translated yet)")
        if not any(p != "*" for p in picks):
            picks = []
        return f"{cwl_id(first)}/{inner}", (ANY if keys else ports[inner]), depth, picks, keys

    def ports_of(self, scope: Scope, name: str, pos) -> dict:
        if name not in scope.ports:
            raise Refused(pos, f"stage '{name}' is read before it is compiled (a dependency cycle?)")
        return scope.ports[name]

    # -- workflows and stages ----------------------------------------------------------------

    def workflow(self, wf: Workflow, inputs: dict, path: tuple = ()) -> tuple[cwl.Workflow, dict]:
        """A yadage workflow (scope) as a CWL Workflow; its outputs as {id: type}."""
        scope = Scope(wf, inputs, path=path)
        steps, outputs = [], {}
        for stage in order(wf):
            new_steps, ports = self.stage(scope, stage)
            steps.extend(new_steps)
            scope.ports[stage.name] = ports
            for port, t in ports.items():
                outputs[f"{cwl_id(stage.name)}__{port}"] = (f"{cwl_id(stage.name)}/{port}", t)
        for key, params in wf.registered.items():
            param = params[0]
            if not isinstance(param.value, Ref):
                raise Refused(param.pos, "only stage-output selections can be registered in the CWL translation")
            source = self.resolve(scope, param.value, param.pos)
            if source.value_from or isinstance(source.source, list):
                # a workflow output cannot shape a value: a small step does it
                steps.append(self.register_step(key, source))
                source = Source(f"{cwl_id(key)}__register/value", nullable(ANY))
            outputs[f"{cwl_id(key)}__registered"] = (source.source, source.type)
        cwl_inputs = [cwl.WorkflowInputParameter(id=cwl_id(k), type_=t) for k, t in inputs.items()]
        cwl_outputs = [cwl.WorkflowOutputParameter(id=k, type_=t, outputSource=src) for k, (src, t) in outputs.items()]
        doc = cwl.Workflow(inputs=cwl_inputs, outputs=cwl_outputs, steps=steps, id=cwl_id("_".join(path)) or "main",
                           label=f"yadage workflow {'/'.join(path) or '(top level)'}")
        return doc, {k: t for k, (_, t) in outputs.items()}

    def register_step(self, key: str, source: Source) -> cwl.WorkflowStep:
        """A registered value whose selection needs shaping (flatten, unwrap of a list, a union),
        computed by a step so that the scope can export it."""
        self.uses_js = True
        tool = cwl.ExpressionTool(
            id=f"{cwl_id(key)}__register_tool", label=f"registered value '{key}'",
            inputs=[cwl.WorkflowInputParameter(id="value", type_=nullable(ANY))],
            outputs=[cwl.ExpressionToolOutputParameter(id="value", type_=nullable(ANY))],
            expression="${ return {value: inputs.value}; }",
        )
        return cwl.WorkflowStep(id=f"{cwl_id(key)}__register", in_=[self.step_input("value", source)], out=["value"], run=tool,
                                label=f"registered value '{key}'")

    def stage(self, scope: Scope, stage: Stage) -> tuple[list, dict]:
        if stage.jq is not None:
            raise Refused(stage.pos, f"stage '{stage.name}' is a jq-stage, not translated yet")
        if stage.dependencies.kind == "expressions_fulfilled":
            raise Refused(stage.dependencies.pos, "expressions_fulfilled dependencies are not translated yet")
        scattered = set(stage.scatter.parameters) if stage.scatter else set()
        sources: dict[str, Source] = {}
        literals: dict[str, object] = {}
        for param in stage.parameters:
            if isinstance(param.value, Literal):
                value = thaw(param.value.value)
                if param.key in scattered:
                    sources[param.key] = Source(None, value_type(value), default=value)
                else:
                    literals[param.key] = value
            else:
                sources[param.key] = self.resolve(scope, param.value, param.pos)
        steps = []
        name = cwl_id(stage.name)
        scatter_method = None
        if stage.scatter:
            missing = [k for k in stage.scatter.parameters if k not in sources]
            if missing:
                raise Refused(stage.scatter.pos, f"scatter over '{missing[0]}', which is not a parameter")
            self.features.add("ScatterFeatureRequirement")
            sc = stage.scatter
            grouped = bool(sc.batchsize or sc.partitionsize)
            prepare = grouped or (sc.method == "zip" and len(sc.parameters) > 1) or any(sources[k].value_from or sources[k].source is None for k in sc.parameters)
            if prepare:
                steps.append(self.prepare_step(stage, {k: sources[k] for k in sc.parameters}))
                for k in sc.parameters:
                    item = sources[k].type["items"] if is_array(sources[k].type) else ANY
                    sources[k] = Source(f"{name}__scatter/{cwl_id(k)}__instances", array(array(item) if grouped else item))
            if len(sc.parameters) > 1:
                scatter_method = "dotproduct" if sc.method == "zip" else "flat_crossproduct"
        inner_types = {}
        for key, src in sources.items():
            t = src.type
            if key in scattered:
                t = t["items"] if is_array(t) else ANY
            inner_types[key] = t
        label = f"stage '{stage.name}', {os.path.basename(stage.pos.file)} line {stage.pos.line}"
        if not isinstance(stage.body, Cases):
            step, outputs = self.body_step(scope, stage, stage.body, name, sources, literals, inner_types, scatter_method, label)
            steps.append(step)
            return steps, {k: (array(t) if stage.scatter else t) for k, t in outputs.items()}
        # cases: a step per case, run when chosen; a step named after the stage merges them
        conditions, case_steps = [], []
        for i, case in enumerate(stage.body.cases):
            step, outputs = self.body_step(scope, stage, case.body, f"{name}__case{i}", sources, literals, inner_types,
                                           scatter_method, f"{label}, case {i}: {case.condition}")
            ids = {s.id: s.id for s in step.in_}

            def value_of(key, ids=ids):
                if key in literals:
                    return json.dumps(literals[key])
                if key not in sources:
                    raise NotTranslated(f"'.{key}' is not a parameter of the stage")
                return js_get(cwl_id(key) + ("_in" if cwl_id(key) + "_in" in ids else ""))

            try:
                conditions.append(condition_js(case.condition, value_of))
            except NotTranslated as exc:
                raise Refused(case.pos, f"case condition '{case.condition}': {exc} (comparisons of parameters with values, arithmetic and and/or/not are translated)") from None
            step.when = when(conditions, i)
            case_steps.append((step, outputs, isinstance(case.body, Workflow)))
        self.uses_js = True
        steps += [step for step, _, _ in case_steps]
        merge, ports = self.merge_cases(stage, name, case_steps)
        steps.append(merge)
        return steps, ports

    def body_step(self, scope: Scope, stage: Stage, body, step_id: str, sources: dict, literals: dict, inner_types: dict,
                  scatter_method, label: str) -> tuple[cwl.WorkflowStep, dict]:
        """The workflow step that runs a stage's step or sub-workflow (or one case of it)."""
        inner_types = dict(inner_types)
        if isinstance(body, Workflow):
            step_in = [self.step_input(cwl_id(key), src) for key, src in sources.items()]
            for key, value in literals.items():
                step_in.append(cwl.WorkflowStepInput(id=cwl_id(key), default=value))
                inner_types[key] = value_type(value)
            self.features.add("SubworkflowFeatureRequirement")
            run, outputs = self.workflow(body, {k: inner_types[k] for k in stage.parameter_keys()}, scope.path + (stage.name,))
            ids = {k: cwl_id(k) for k in stage.parameter_keys()}
        else:
            taken = set(publisher_ports(body.publisher)) | {"workdir"}
            ids = {k: cwl_id(k) + ("_in" if cwl_id(k) in taken else "") for k in stage.parameter_keys()}
            bindings = {k: Binding(False, type=t, id=ids[k]) for k, t in inner_types.items()}
            for key, value in literals.items():
                bindings[key] = Binding(True, contextualise(value, WORKDIR), id=ids[key])
            uses_js, self.uses_js = self.uses_js, False
            run, outputs = self.tool(stage, body, bindings, step_id)
            if self.split:
                if self.uses_js:  # a tool file must stand alone: it brings the library
                    run.requirements = [cwl.InlineJavascriptRequirement(expressionLib=[LIBRARY]), *(run.requirements or [])]
                run.cwlVersion = "v1.2"
                file = "__".join([cwl_id(p) for p in scope.path] + [step_id]) + ".cwl"
                self.tools[file] = run
                run = f"tools/{file}"
            self.uses_js = self.uses_js or uses_js
            step_in = [self.step_input(ids[key], src) for key, src in sources.items()]
        scatter = [ids[k] for k in stage.scatter.parameters] if stage.scatter else None
        step = cwl.WorkflowStep(
            id=step_id, in_=step_in, out=list(outputs), run=run,
            scatter=scatter[0] if scatter and len(scatter) == 1 else scatter,
            scatterMethod=scatter_method, label=label,
        )
        return step, outputs

    def merge_cases(self, stage: Stage, name: str, case_steps: list) -> tuple[cwl.WorkflowStep, dict]:
        """The step named after a stage with cases: each port holds what the chosen case
        published (a sub-workflow case's registered values under their own names)."""
        sources: dict[str, list] = {}
        types: dict[str, list] = {}
        for step, outputs, is_workflow in case_steps:
            for port, t in outputs.items():
                merged = port[:-len("__registered")] if is_workflow and port.endswith("__registered") else port
                sources.setdefault(merged, []).append(f"{step.id}/{port}")
                types.setdefault(merged, []).append(t)
        scattered = stage.scatter is not None
        ins, outs, ports, body = [], [], {}, []
        for port, srcs in sources.items():
            kinds = {json.dumps(t, sort_keys=True) for t in types[port]}
            t = nullable(types[port][0] if len(kinds) == 1 else ANY)
            if scattered:
                # one list per case, null where the case was not chosen: pick per instance
                ins.append(cwl.WorkflowStepInput(id=f"{port}__cases", source=srcs, linkMerge="merge_nested"))
                body.append(f"{json.dumps(port)}: yadage.chosen(inputs.{port}__cases)")
                ports[port] = array(t)
            else:
                ins.append(cwl.WorkflowStepInput(id=f"{port}__cases", source=srcs, linkMerge="merge_nested", pickValue="all_non_null"))
                body.append(f"{json.dumps(port)}: inputs.{port}__cases.length ? inputs.{port}__cases[0] : null")
                ports[port] = t
            outs.append(cwl.ExpressionToolOutputParameter(id=port, type_=ports[port]))
        self.features.add("MultipleInputFeatureRequirement")
        tool = cwl.ExpressionTool(
            id=f"{name}_tool", label=f"what the chosen case of stage '{stage.name}' published",
            inputs=[cwl.WorkflowInputParameter(id=f"{port}__cases", type_=array(ANY)) for port in sources],
            outputs=outs, expression="${ return {" + ", ".join(body) + "}; }",
        )
        step = cwl.WorkflowStep(id=name, in_=ins, out=list(ports), run=tool, label=f"stage '{stage.name}': the chosen case")
        return step, ports

    def step_input(self, input_id: str, src: Source):
        if src.value_from:
            self.features.add("StepInputExpressionRequirement")
        if src.source is None:
            return cwl.WorkflowStepInput(id=input_id, default=src.default)
        if isinstance(src.source, list):
            return cwl.WorkflowStepInput(id=input_id, source=src.source, linkMerge="merge_nested", valueFrom=src.value_from)
        return cwl.WorkflowStepInput(id=input_id, source=src.source, valueFrom=src.value_from)

    def prepare_step(self, stage: Stage, sources: dict) -> cwl.WorkflowStep:
        """An ExpressionTool that groups (batchsize, partitionsize) and truncates (zip) the
        scattered values as yadage does, before CWL scatters them."""
        self.uses_js = True
        sc = stage.scatter
        values = "{" + ", ".join(f"{json.dumps(k)}: {js_get(cwl_id(k))}" for k in sc.parameters) + "}"
        names = {k: cwl_id(k) for k in sc.parameters}
        call = f"yadage.scatter({values}, {json.dumps(sc.method)}, {json.dumps(sc.batchsize)}, {json.dumps(sc.partitionsize)})"
        expression = "${ var pieces = " + call + "; return {" + ", ".join(f"{json.dumps(n + '__instances')}: pieces[{json.dumps(k)}]" for k, n in names.items()) + "}; }"
        outputs = []
        for k in sc.parameters:
            item = sources[k].type["items"] if is_array(sources[k].type) else ANY
            outputs.append(cwl.ExpressionToolOutputParameter(id=f"{names[k]}__instances", type_=array(array(item) if (sc.batchsize or sc.partitionsize) else item)))
        tool = cwl.ExpressionTool(
            id=f"{cwl_id(stage.name)}__scatter_tool", label=f"yadage's {sc.method} scatter of '{stage.name}'",
            inputs=[cwl.WorkflowInputParameter(id=names[k], type_=sources[k].type if sources[k].type != ANY else ANY) for k in sc.parameters],
            outputs=outputs, expression=expression,
        )
        return cwl.WorkflowStep(
            id=f"{cwl_id(stage.name)}__scatter", in_=[self.step_input(names[k], sources[k]) for k in sc.parameters],
            out=[f"{names[k]}__instances" for k in sc.parameters], run=tool, label=f"instances of stage '{stage.name}'",
        )

    # -- tools ------------------------------------------------------------------------------

    def tool(self, stage: Stage, step: Step, bindings: dict, name: str) -> tuple[cwl.CommandLineTool, dict]:
        process, env = step.process, step.environment
        if isinstance(process, ManualProcess):
            raise Refused(process.pos, "manual processes cannot run unattended")
        outputs, published = self.publisher(step, bindings)
        inputs = [cwl.CommandInputParameter(id=b.id, type_=b.type) for b in bindings.values() if not b.literal]
        # literals published as values reach the tool as inputs with the literal as default
        inputs += [cwl.CommandInputParameter(id=b.id, type_=value_type(b.value), default=b.value) for b in published]
        requirements, hints = [], []
        arguments, base = None, ["true"]  # a pure-publishing step runs nothing
        if process is not None:
            prefix = ""
            mounts = []  # (mountpath, file written in the work directory)
            if isinstance(env, DockerEnvironment):
                for i, mount in enumerate(env.par_mounts):
                    mounts.append(self.par_mount(mount, i, bindings, env.pos))
                if env.workdir and contextualise(env.workdir, WORKDIR) != WORKDIR:
                    prefix += f"cd {contextualise(env.workdir, WORKDIR)} && "
                if env.envscript:
                    prefix += f"source {env.envscript} && "
                hints.append(cwl.DockerRequirement(dockerPull=image_of(env)))
                if env.env:
                    requirements.append(cwl.EnvVarRequirement(envDef=[cwl.EnvironmentDef(envName=k, envValue=str(v)) for k, v in env.env.items()]))
                hints += self.resources(stage, step)
            prefix = prefix.replace("{", "{{").replace("}", "}}")
            base = ["sh", "-c"]
            listing = [dirent for _, dirent in mounts]
            source = process.script if isinstance(process, ScriptProcess) else process.cmd
            for mountpath, dirent in mounts:
                # the command reads the file where it is written, not where packtivity mounts it
                source = source.replace(mountpath, f"{WORKDIR}/{dirent.entryname}")
            if isinstance(process, ScriptProcess):
                # packtivity feeds the script to the interpreter on standard input (cwltool's
                # `stdin:` takes only staged inputs, so the shell redirects it)
                text = self.template(source, bindings, process.pos, command=True)
                listing.append(cwl.Dirent(entryname=SCRIPT, entry=text))
                interpreter = process.interpreter.replace("{", "{{").replace("}", "}}")
                command = self.template(f"{prefix}{interpreter} < {{workdir}}/{SCRIPT}", {}, process.pos, command=False)
            else:
                command = self.template(prefix + source, bindings, process.pos, command=True)
            if listing:
                requirements.append(cwl.InitialWorkDirRequirement(listing=listing))
            arguments = [cwl.CommandLineBinding(valueFrom=command)]
        outputs["workdir"] = ("Directory", cwl.CommandOutputBinding(glob="$(runtime.outdir)"))
        tool = cwl.CommandLineTool(
            id=f"{name}_tool", label=f"step of stage '{stage.name}'",
            inputs=inputs,
            outputs=[cwl.CommandOutputParameter(id=k, type_=t, outputBinding=b) for k, (t, b) in outputs.items()],
            requirements=requirements or None, hints=hints or None, baseCommand=base, arguments=arguments,
        )
        return tool, {k: t for k, (t, _) in outputs.items()}

    def resources(self, stage: Stage, step: Step) -> list:
        """What a step's `resources` ask for (read as every emitter reads them, resources.py):
        memory, cores and run time as CWL's ResourceRequirement and ToolTimeLimit hints; REANA's
        entries also verbatim under REANA's own `reana:resources` hint (as REANA's hand-written
        CWL has them); packtivity's strings (CVMFS, GRIDProxy, KRB5Auth) and kerberos under
        `yadage2x:resources`. What only a hint carries is in the loss report."""
        env = step.environment
        demand, _ = read_step(step)
        hints, reana, other = [], {}, []
        for entry in thaw(env.resources):
            if isinstance(entry, dict) and "kerberos" not in entry:
                reana.update(entry)
            else:
                other.append(entry)
        if demand.mem_mb or demand.cores:
            hints.append(cwl.ResourceRequirement(ramMin=demand.mem_mb, coresMin=demand.cores))
        if demand.runtime_min:
            hints.append(cwl.ToolTimeLimit(timelimit=demand.runtime_min * 60))
        if reana:
            hints.append({"class": "reana:resources", **reana})
            expressed = {"kubernetes_memory_limit", "kubernetes_memory_request", "kubernetes_cpu_limit", "kubernetes_cpu_request",
                         "kubernetes_job_timeout", "htcondor_max_runtime", "slurm_time"}
            rest = sorted(set(reana) - expressed)
            if rest:
                self.losses.append(Loss(env.pos, f"resources: {', '.join(rest)}", f"stage '{stage.name}': read by REANA only (kept as a reana:resources hint)", "info"))
        if other:
            hints.append({"class": "yadage2x:resources", "resources": other})
            self.losses.append(Loss(env.pos, f"resources: {json.dumps(other)}", f"stage '{stage.name}': no CWL equivalent (kept as a yadage2x:resources hint)", "warning"))
        return hints

    def par_mount(self, mount, index: int, bindings: dict, pos):
        """A par_mount: its jq script's text output, written into the work directory."""
        def value_of(key):
            if key not in bindings:
                raise NotTranslated(f"'.{key}' is not a parameter of the step")
            binding = bindings[key]
            if binding.literal:
                if contains_workdir(binding.value):
                    raise NotTranslated(f"'.{key}' holds {{workdir}}")
                return json.dumps(binding.value)
            return js_get(binding.id)

        try:
            outputs = stream_js(mount.jqscript, value_of)
        except NotTranslated as exc:
            raise Refused(pos, f"par_mounts script '{mount.jqscript}': {exc}") from None
        self.uses_js = True
        return mount.mountpath, cwl.Dirent(entryname=f"_yadage_parmount_{index}.txt", entry=f"$(yadage.jqtext({outputs}))")

    def publisher(self, step: Step, bindings: dict) -> tuple[dict, list]:
        """Output ports {id: (type, binding)}, and the literal bindings the tool receives as
        inputs to publish them."""
        pub = step.publisher
        outputs, published = {}, []
        if isinstance(pub, FromParPublisher):
            for path, key in leaves(thaw(pub.outputmap)):
                if key not in bindings:
                    raise Refused(pub.pos, f"outputmap names '{key}', which is not a parameter")
                outputs[port_name(path)] = self.pass_value(bindings[key], published, pub.pos)
        elif isinstance(pub, ConstantPublisher):
            for path, value in leaves(thaw(pub.publish), lists=False):
                port = port_name(path)
                outputs[port] = self.pass_value(Binding(True, value, id=f"{port}__constant"), published, pub.pos)
        elif isinstance(pub, InterpolatedPublisher):
            if pub.relative_paths:
                raise Refused(pub.pos, "interpolated-pub with relative_paths is not translated yet")
            for path, leaf in leaves(thaw(pub.publish), lists=False):
                if isinstance(leaf, list) and not pub.glob:
                    outputs[port_name(path)] = self.path_list(leaf, bindings, pub)
                elif not isinstance(leaf, str):
                    raise Refused(pub.pos, "interpolated-pub with values other than text is not translated yet")
                else:
                    outputs[port_name(path)] = self.interpolated(leaf, bindings, pub, published, port_name(path))
        elif isinstance(pub, FromGlobPublisher):
            outputs[port_name(pub.outputkey)] = (array(["File", "Directory"]), cwl.CommandOutputBinding(glob=pub.globexpression))
        elif isinstance(pub, FromParJqPublisher):
            outputs.update(self.fromparjq(pub, bindings, published))
        elif isinstance(pub, FromYamlPublisher):
            # CWL reads no YAML: the file's text (loadContents, up to 64 KiB) is parsed by the
            # library's parser of block mappings, lists and scalars, which refuses anything else
            self.uses_js = True
            outputs["result"] = (ANY, cwl.CommandOutputBinding(glob=pub.yamlfile, loadContents=True,
                                                                outputEval="$(yadage.yaml(self[0].contents))"))
        else:
            raise Refused(pub.pos, f"{pub.kind} is not translated yet")
        return outputs, published

    def fromparjq(self, pub: FromParJqPublisher, bindings: dict, published: list) -> dict:
        """A jq script that builds an object over the parameters: a parameter published as it is
        (a path in the work directory a glob; with glob + relative_paths, a pattern globbed there),
        any other value computed in JavaScript."""
        def value_of(key):
            if key not in bindings:
                raise NotTranslated(f"'.{key}' is not a parameter of the step")
            binding = bindings[key]
            if binding.literal:
                return WORKDIR if contains_workdir(binding.value) else json.dumps(binding.value)
            return f"yadage.plain({js_get(binding.id)})"

        outputs = {}
        for key, js, param in self.jq_entries(pub, value_of):
            binding = bindings.get(param) if param else None
            if binding is None and WORKDIR in js:
                raise Refused(pub.pos, f"fromparjq-pub: '{key}' computes with a value that holds {{workdir}}, which is not translated")
            if binding is not None and pub.glob:
                if not pub.relative_paths:
                    raise Refused(pub.pos, "fromparjq-pub with glob is translated only with relative_paths (patterns in the work directory)")
                pattern = (escape(binding.value) if binding.literal and isinstance(binding.value, str)
                           else self.reference(binding.id, binding.type, False))
                outputs[port_name(key)] = (array(["File", "Directory"]), cwl.CommandOutputBinding(glob=pattern))
            elif binding is not None:
                outputs[port_name(key)] = self.pass_value(binding, published, pub.pos)
            elif pub.glob:
                raise Refused(pub.pos, f"fromparjq-pub: '{key}' is computed, and globbing computed values is not translated")
            else:
                self.uses_js = True
                outputs[port_name(key)] = (ANY, cwl.CommandOutputBinding(outputEval=f"$({js})"))
        return outputs

    @staticmethod
    def jq_entries(pub: FromParJqPublisher, value_of):
        try:
            return construction_js(pub.script, value_of)
        except NotTranslated as exc:
            raise Refused(pub.pos, f"fromparjq-pub script '{pub.script}': {exc} (scripts that build an object from parameters are translated)") from None

    def pass_value(self, binding: Binding, published: list, pos):
        """A parameter published as it is: a path in the work directory becomes a glob (File
        or Directory), an input is passed through, another literal is given to the tool."""
        if not binding.literal:
            return binding.type, cwl.CommandOutputBinding(outputEval=f"$({js_get(binding.id)})")
        value = binding.value
        if isinstance(value, str) and value.startswith(WORKDIR) and WORKDIR not in value[len(WORKDIR):]:
            rel = value[len(WORKDIR):].lstrip("/")
            return PATH, cwl.CommandOutputBinding(glob=self.template(rel.replace("{", "{{").replace("}", "}}"), {}, pos, False) if rel else "$(runtime.outdir)")
        if contains_workdir(value):
            raise Refused(pos, "publishing a value that holds {workdir} inside other text is not translated yet")
        if binding not in published:
            published.append(binding)
        return value_type(value), cwl.CommandOutputBinding(outputEval=f"$({js_get(binding.id)})")

    def path_list(self, items: list, bindings: dict, pub: InterpolatedPublisher):
        """A published list of work-directory paths: one port, globbing each in turn."""
        patterns = []
        for item in items:
            port = self.interpolated(item, bindings, pub, [], "") if isinstance(item, str) else None
            if port is None or port[0] != PATH or port[1].glob == "$(runtime.outdir)":
                raise Refused(pub.pos, "a published list is translated only when it lists files in the work directory")
            patterns.append(port[1].glob)
        return array(["File", "Directory"]), cwl.CommandOutputBinding(glob=patterns)

    def interpolated(self, leaf: str, bindings: dict, pub: InterpolatedPublisher, published: list, port: str):
        """One template of an interpolated publisher: a path in the work directory becomes a
        glob (glob: true gives the list of matches), anything else a formatted string."""
        fields = [f for _, f, _, _ in string.Formatter().parse(leaf) if f is not None]
        if not pub.glob and fields == [leaf[1:-1]] and leaf[1:-1] in bindings and not bindings[leaf[1:-1]].literal:
            return self.pass_value(bindings[leaf[1:-1]], published, pub.pos)
        if not pub.glob and port and all(f in bindings and bindings[f].literal for f in fields):
            # known now: the tool publishes it as the default of an input
            text = leaf.format(**{f: bindings[f].value for f in fields})
            if WORKDIR not in text:
                return self.pass_value(Binding(True, text, id=f"{port}__text"), published, pub.pos)
        text = self.template(leaf, bindings, pub.pos, False, workdir=ROOT)
        rest = text[len(ROOT):].lstrip("/") if text.startswith(ROOT) else None
        if rest is None or ROOT in rest:
            if pub.glob or ROOT in text:
                raise Refused(pub.pos, "only paths that start in the work directory are translated in publishers")
            return "string", cwl.CommandOutputBinding(outputEval=text)
        if pub.glob:
            return array(["File", "Directory"]), cwl.CommandOutputBinding(glob=rest)
        return PATH, cwl.CommandOutputBinding(glob=rest or "$(runtime.outdir)")


def publisher_ports(pub) -> list[str]:
    """The output ports a publisher gives (its result's leaves)."""
    if isinstance(pub, FromParPublisher):
        return [port_name(path) for path, _ in leaves(thaw(pub.outputmap))]
    if isinstance(pub, (ConstantPublisher, InterpolatedPublisher)):
        return [port_name(path) for path, _ in leaves(thaw(pub.publish), lists=False)]
    if isinstance(pub, FromGlobPublisher):
        return [port_name(pub.outputkey)]
    if isinstance(pub, FromYamlPublisher):
        return ["result"]
    if isinstance(pub, FromParJqPublisher):
        try:
            return [port_name(key) for key, _, _ in construction_js(pub.script, lambda key: "null")]
        except NotTranslated:
            return []
    return []


def contains_workdir(value) -> bool:
    if isinstance(value, str):
        return WORKDIR in value
    if isinstance(value, dict):
        return any(contains_workdir(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_workdir(v) for v in value)
    return False


def py_str(value) -> str:
    """Python's str() of a JSON value, as packtivity formats it; {workdir} stays a marker."""
    return str(value)


def leaves(value, path=(), lists=True):
    """(path, leaf) for every leaf of a JSON value (lists kept whole unless ``lists``)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, path + (str(k),), lists)
    elif isinstance(value, list) and lists:
        for i, v in enumerate(value):
            yield from leaves(v, path + (str(i),), lists)
    else:
        yield path, value


def output_keys(output: str) -> list:
    """The keys (and list indices) of a simple jsonpath: 'a.b[0]' -> ['a', 'b', 0]."""
    keys = []
    for part in output.replace("[", ".[").split("."):
        if part and part != "$":
            keys.append(int(part[1:-1]) if part.startswith("[") and part[1:-1].isdigit() else part.strip("[]'\""))
    return keys


def port_name(output) -> str:
    """The port of a published value: its key, or its jsonpath's keys joined by '__'."""
    if isinstance(output, tuple):
        parts = list(output)
    else:
        parts = [p.strip("[]'\"") for p in output.replace("[", ".[").split(".") if p and p != "$"]
    return "__".join(cwl_id(p) for p in parts)


def image_of(env: DockerEnvironment) -> str:
    """The image as the spec names it: a digest-pinned spec stays pinned."""
    if env.imagetag.startswith("sha256:") or "@" in env.imagetag:
        return f"{env.image}@{env.imagetag.lstrip('@')}"
    return f"{env.image}:{env.imagetag}"


def order(wf: Workflow) -> list[Stage]:
    """Stages in an order where every stage comes after the stages its parameters read."""
    from ..selectors import first_names

    placed, out = set(), []
    pending = list(wf.stages)
    while pending:
        progress = False
        for stage in list(pending):
            reads = set()
            for param in stage.parameters:
                value = param.value
                if isinstance(value, FromValue) and not value.scope:
                    regs = wf.registered.get(value.key, ())
                    value = regs[0].value if regs else None
                if isinstance(value, Ref):
                    try:
                        reads |= first_names(value.selector)
                    except SelectorError:
                        pass
            reads = {r for r in reads if r != "init" and wf.stage(r) is not None and r != stage.name}
            if reads <= placed:
                out.append(stage)
                placed.add(stage.name)
                pending.remove(stage)
                progress = True
        if not progress:
            out.extend(pending)
            break
    return out


# ---------------------------------------------------------------------------------------------
# init data and the files written


def init_inputs(initdata: dict | None, initdir: str | None, outdir: Path) -> tuple[dict, dict]:
    """The top-level workflow inputs (key -> type) and inputs.yml's values: init values that
    name files in the init directory become File inputs (a glob: File[]), as yadage resolves them."""
    resolved = init_result(initdata or {}, initdir)
    types, values = {}, {}
    for key in (initdata or {}):
        value, original = resolved[key], initdata[key]
        if isinstance(original, str) and value != original:
            if isinstance(value, list):
                types[key] = array("File")
                values[key] = [file_object(v, outdir) for v in value]
            else:
                types[key] = "Directory" if os.path.isdir(value) else "File"
                values[key] = file_object(value, outdir)
        else:
            types[key] = value_type(value)
            values[key] = value
    return types, values


def file_object(path: str, outdir: Path) -> dict:
    kind = "Directory" if os.path.isdir(path) else "File"
    return {"class": kind, "location": os.path.relpath(path, outdir.resolve())}


def unsupported(workflow: Workflow, initdata: dict | None = None) -> list[Problem]:
    """What this emitter refuses, each at its position (empty: the workflow translates)."""
    types, _ = init_inputs(initdata, None, Path(".")) if initdata else ({k: ANY for k in init_keys(workflow)}, None)
    try:
        Compiler().workflow(workflow, types)
    except Refused as exc:
        return [exc.problem]
    return []


def init_keys(workflow: Workflow) -> list[str]:
    """The init outputs the top-level stages read (for compiling without init data)."""
    keys = []
    for stage in workflow.stages:
        for param in stage.parameters:
            value = param.value
            if isinstance(value, Ref) and value.selector.strip() == "init" and value.output not in keys:
                keys.append(value.output)
    return keys


def compile_workflow(workflow: Workflow, source: str, initdata: dict | None, initdir: str | None, outdir: Path, split: bool = False):
    """(workflow document, inputs, losses, {tool file: tool document}), documents as plain data."""
    types, values = init_inputs(initdata, initdir, outdir)
    if initdata is None:  # no init data given: the inputs the stages read, of any type
        types = {key: ANY for key in init_keys(workflow)}
    compiler = Compiler(split)
    try:
        main, _ = compiler.workflow(workflow, types)
    except Refused as exc:
        raise SpecError(exc.problem) from None
    requirements = [getattr(cwl, name)() for name in sorted(compiler.features)]
    if compiler.uses_js:
        requirements.insert(0, cwl.InlineJavascriptRequirement(expressionLib=[LIBRARY]))
    main.requirements = requirements or None
    main.doc = f"Generated by yadage2x {__version__} from {source}: edit the yadage workflow and emit again."
    main.cwlVersion = "v1.2"
    tools = {name: document(tool) for name, tool in sorted(compiler.tools.items())}
    return document(main), values, compiler.losses, tools


def document(process) -> dict:
    """A process as a CWL file's content: cwlVersion first, our namespace where hints use it."""
    saved = process.save(top=True)
    head = {"cwlVersion": saved.pop("cwlVersion", "v1.2")}
    text = json.dumps(saved)
    namespaces = {name: uri for name, uri in (("reana", REANA), ("yadage2x", NAMESPACE)) if f'"{name}:' in text}
    if namespaces:
        head["$namespaces"] = namespaces
    return {**head, **saved}


def blocks(data):
    """Multi-line strings (scripts, the JavaScript library) as YAML literal blocks, to read them."""
    from ruamel.yaml.scalarstring import LiteralScalarString

    if isinstance(data, dict):
        return {k: blocks(v) for k, v in data.items()}
    if isinstance(data, list):
        return [blocks(v) for v in data]
    if isinstance(data, str) and "\n" in data.rstrip("\n") and not any(line != line.rstrip() for line in data.split("\n")):
        return LiteralScalarString(data)
    return data


def to_yaml(data) -> str:
    data = blocks(data)
    yaml = YAML()
    yaml.width = 4096
    yaml.default_flow_style = False
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def emit(workflow: Workflow, source: str, outdir: Path, initdata: dict | None, initdir: str | None,
         strict: bool = False, split: bool = False) -> tuple[list[Path], list[Loss]]:
    """Write workflow.cwl (tools packed in, or in tools/ with ``split``), inputs.yml and
    loss-report.json; return the files written and the losses. With ``strict`` a loss is an
    error and nothing is written."""
    main, values, losses, tools = compile_workflow(workflow, source, initdata, initdir, outdir, split)
    if strict and losses:
        raise SpecError([Problem(loss.pos, f"cwl --strict: {loss.construct}: {loss.reason}") for loss in losses])
    files = {"workflow.cwl": "#!/usr/bin/env cwl-runner\n" + to_yaml(main)}
    files.update({f"tools/{name}": to_yaml(tool) for name, tool in tools.items()})
    files["inputs.yml"] = to_yaml(values) if values else "{}\n"
    files["loss-report.json"] = loss_report("cwl", losses)
    return write_files(outdir, files), losses
