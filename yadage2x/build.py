"""Build the IR from a loaded, schema-valid spec, filling in yadage's defaults explicitly.

The normalisation is yadage-schemas' (yadage-spec §1.4), re-implemented here on purpose:
- a dependency list [a, b] is {dependency_type: jsonpath_ready, expressions: [a, b]};
- a top-level parameter value that is a mapping with a 'stages', 'steps' or 'step' key is an
  output selector (also when its author meant a literal: yadage reads it so, §1.4 (b));
  mappings nested deeper are literals, references inside them are not resolved (§1.4 (a));
- every default of the schemas (interpreter sh, imagetag latest, publishers' glob false, ...).
"""
from __future__ import annotations

from .errors import Pos
from .ir import (
    Case, Cases, CommandProcess, ConstantPublisher, Dependencies, DockerEnvironment, FromGlobPublisher,
    FromParJqPublisher, FromParPublisher, FromValue, FromYamlPublisher, InterpolatedPublisher,
    JqScheduling, Literal, LocalEnvironment, ManualEnvironment, ManualProcess, ManualPublisher,
    NoopEnvironment, ParMount, Parameter, Ref, Scatter, ScriptProcess, Stage, Step, Workflow,
    WorkflowOpts, freeze,
)
from .load.source import value_pos

SELECTOR_KEYS = ("stages", "steps", "step")


def _pos(node) -> Pos:
    return getattr(node, "pos", Pos("<unknown>"))


def workflow(spec) -> Workflow:
    return Workflow(stages=tuple(stage(s) for s in spec["stages"]), pos=_pos(spec))


def dependencies(stage_spec) -> Dependencies:
    deps = stage_spec.get("dependencies")
    pos = value_pos(stage_spec, "dependencies")
    if deps is None:
        return Dependencies("jsonpath_ready", (), _pos(stage_spec))
    if isinstance(deps, list):
        return Dependencies("jsonpath_ready", freeze(deps), pos)
    kind = deps["dependency_type"]
    exprs = deps.get("expressions", [])
    if kind == "expressions_fulfilled":
        return Dependencies(kind, tuple(expression(e, value_pos(exprs, i)) for i, e in enumerate(exprs)), pos)
    return Dependencies(kind, freeze(exprs), pos)


def is_expression(value) -> bool:
    return isinstance(value, dict) and ("expression_type" in value or any(k in value for k in SELECTOR_KEYS))


def expression(value, pos: Pos):
    """An expression object (already known to be one) as Ref or FromValue."""
    if value.get("expression_type") == "fromvalue":
        return FromValue(key=value["key"], scope=value.get("scope"), pos=pos)
    single = "step" in value
    selector = value.get("step") if single else value.get("stages", value.get("steps"))
    return Ref(
        selector=selector,
        output=value.get("output", "") or "",
        unwrap=bool(value.get("unwrap", False)),
        flatten=bool(value.get("flatten", False)),
        single=single,
        pos=pos,
    )


def parameters(mapping) -> tuple[Parameter, ...]:
    out = []
    for key, value in (mapping or {}).items():
        pos = value_pos(mapping, key)
        val = expression(value, pos) if is_expression(value) else Literal(freeze(value), pos)
        out.append(Parameter(key=str(key), value=val, pos=pos))
    return tuple(out)


def body(spec):
    """The one thing a scheduler (or a case) runs: a step, a sub-workflow or cases."""
    if "step" in spec:
        return step(spec["step"])
    if "workflow" in spec:
        return workflow(spec["workflow"])
    cases = spec["cases"]
    return Cases(
        cases=tuple(
            Case(condition=c["if"], body=body(c), pos=value_pos(cases, i)) for i, c in enumerate(cases)
        ),
        pos=value_pos(spec, "cases"),
    )


def stage(spec) -> Stage:
    sched = spec["scheduler"]
    kind = sched["scheduler_type"]
    opts = sched.get("workflow_opts") or {}
    scatter = None
    if kind == "multistep-stage":
        sc = sched["scatter"]
        scatter = Scatter(
            method=sc["method"],
            parameters=tuple(sc["parameters"]),
            batchsize=sched.get("batchsize"),
            partitionsize=sched.get("partitionsize"),
            pos=value_pos(sched["scatter"], "parameters"),
        )
    jq = None
    if kind == "jq-stage":
        jq = JqScheduling(
            bindings=freeze(sched.get("bindings", {})),
            stepscript=sched.get("stepscript", "[.]"),
            postscript=sched.get("postscript", "."),
            pos=value_pos(sched, "bindings"),
            stepscript_pos=value_pos(sched, "stepscript"),
            postscript_pos=value_pos(sched, "postscript"),
        )
    return Stage(
        name=spec["name"],
        scheduler=kind,
        dependencies=dependencies(spec),
        parameters=parameters(sched.get("parameters")) if kind != "jq-stage" else (),
        scatter=scatter,
        jq=jq,
        body=body(sched),
        register_values=parameters(sched.get("register_values")),
        workflow_opts=WorkflowOpts(discover=bool(opts.get("discover", False)), relative=bool(opts.get("relative", True))),
        pos=_pos(spec),
    )


def step(spec) -> Step:
    return Step(
        process=process(spec["process"]),
        environment=environment(spec["environment"]),
        publisher=publisher(spec["publisher"]),
        pos=_pos(spec),
    )


def process(spec):
    if spec is None:
        return None
    kind, pos = spec["process_type"], _pos(spec)
    # a process is positioned at its template, where problems with it are
    if kind == "string-interpolated-cmd":
        return CommandProcess(cmd=spec["cmd"], pos=value_pos(spec, "cmd"))
    if kind == "interpolated-script-cmd":
        return ScriptProcess(script=spec["script"], interpreter=spec.get("interpreter", "sh"), pos=value_pos(spec, "script"))
    return ManualProcess(instructions=spec["instructions"], pos=pos)


def environment(spec):
    if spec is None:
        return None
    kind, pos = spec["environment_type"], _pos(spec)
    if kind == "docker-encapsulated":
        return DockerEnvironment(
            image=spec["image"],
            imagetag=str(spec.get("imagetag", "latest")),
            resources=freeze(spec.get("resources", [])),
            envscript=spec.get("envscript", ""),
            env=freeze(spec.get("env", {})),
            workdir=spec.get("workdir"),
            par_mounts=tuple(ParMount(m["jqscript"], m["mountpath"]) for m in spec.get("par_mounts", [])),
            pos=pos,
        )
    if kind == "localproc-env":
        return LocalEnvironment(pos=pos)
    if kind == "noop-env":
        return NoopEnvironment(pos=pos)
    return ManualEnvironment(instructions=spec["instructions"], pos=pos)


def publisher(spec):
    kind, pos = spec["publisher_type"], _pos(spec)
    # positioned at the field that says what is published, where problems with it are
    if kind == "frompar-pub":
        return FromParPublisher(outputmap=freeze(spec["outputmap"]), pos=value_pos(spec, "outputmap"))
    if kind == "constant-pub":
        return ConstantPublisher(publish=freeze(spec["publish"]), pos=pos)
    if kind == "interpolated-pub":
        return InterpolatedPublisher(
            publish=freeze(spec["publish"]), glob=spec.get("glob", False),
            relative_paths=spec.get("relative_paths", False), pos=value_pos(spec, "publish"),
        )
    if kind == "fromparjq-pub":
        return FromParJqPublisher(
            script=spec.get("script", "."), try_exact=spec.get("tryExact", True), glob=spec.get("glob", False),
            relative_paths=spec.get("relative_paths", False), pos=value_pos(spec, "script") if "script" in spec else pos,
        )
    if kind == "fromglob-pub":
        return FromGlobPublisher(globexpression=spec["globexpression"], outputkey=spec["outputkey"], pos=pos)
    if kind == "fromyaml-pub":
        return FromYamlPublisher(yamlfile=spec["yamlfile"], pos=pos)
    return ManualPublisher(instructions=spec["instructions"], pos=pos)
