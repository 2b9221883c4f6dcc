"""The intermediate model: a yadage workflow as immutable plain data.

Built from the loaded spec with yadage's defaults filled in explicitly (yadage-spec §1.4), so that
emitters never need to know a default. Every node keeps the source position it came from. The IR
knows nothing of any target engine; `analyse` adds the only derived facts (static or dynamic).

JSON values inside the IR (literal parameters, constant publications, jq bindings) are frozen:
mappings are `FrozenDict`, sequences are tuples. `json.dumps` writes both as JSON as they are.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from functools import cached_property
from typing import Any, ClassVar, Union

from .errors import Pos


class FrozenDict(dict):
    """A dict that refuses changes (and so can sit inside frozen dataclasses).

    Like the loader's Map it remembers where its values were written (``valpos``), so that
    problems found in literal values can still be reported at their line."""

    __slots__ = ("pos", "valpos")

    def _refuse(self, *args, **kwargs):
        raise TypeError("IR values are immutable")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _refuse  # type: ignore[assignment]

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(self.items()))


class FrozenList(tuple):
    """A tuple that remembers where its items were written (``itempos``)."""

    def __new__(cls, items, pos=None, itempos=()):
        self = super().__new__(cls, items)
        self.pos = pos  # a tuple subclass has a __dict__ (it cannot have __slots__ with fields)
        self.itempos = tuple(itempos)
        return self


def freeze(value):
    """Deep-copy plain JSON data (including the loader's Map/Seq) into frozen plain data,
    keeping the loader's source positions."""
    if isinstance(value, dict):
        frozen = FrozenDict((k, freeze(v)) for k, v in value.items())
        frozen.pos = getattr(value, "pos", None)
        frozen.valpos = dict(getattr(value, "valpos", {}))
        return frozen
    if isinstance(value, (list, tuple)):
        return FrozenList((freeze(v) for v in value), getattr(value, "pos", None), getattr(value, "itempos", ()))
    return value


def thaw(value):
    """Frozen data back to ordinary dicts and lists."""
    if isinstance(value, dict):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------------
# values given to a stage: literals and the two expression kinds


@dataclass(frozen=True)
class Literal:
    """A value written in the spec; string leaves may hold {workdir}/{readdirN} placeholders."""

    kind: ClassVar[str] = "literal"
    value: Any
    pos: Pos


@dataclass(frozen=True)
class Ref:
    """stage-output-selector: the published outputs of the stages a selector picks.

    ``single`` is the ``step:`` form (exactly one match, value not wrapped in a list);
    otherwise (``stages:``/``steps:``) the value is a list, shaped by ``flatten`` and ``unwrap``.
    ``output`` is a key or jsonpath into each result ('' = the whole result); for sub-workflow
    scopes it names a registered value.
    """

    kind: ClassVar[str] = "ref"
    selector: str
    output: str
    unwrap: bool
    flatten: bool
    single: bool
    pos: Pos
    dynamic: bool = False  # set by analyse: its value is known only after something runs


@dataclass(frozen=True)
class FromValue:
    """fromvalue: a value registered (register_values) in this scope or the scope ``scope`` picks."""

    kind: ClassVar[str] = "fromvalue"
    key: str
    scope: str | None
    pos: Pos
    dynamic: bool = False


Value = Union[Literal, Ref, FromValue]


@dataclass(frozen=True)
class Parameter:
    key: str
    value: Value
    pos: Pos


# ---------------------------------------------------------------------------------------------
# steps (packtivities)


@dataclass(frozen=True)
class CommandProcess:
    kind: ClassVar[str] = "string-interpolated-cmd"
    cmd: str
    pos: Pos


@dataclass(frozen=True)
class ScriptProcess:
    kind: ClassVar[str] = "interpolated-script-cmd"
    script: str
    interpreter: str
    pos: Pos


@dataclass(frozen=True)
class ManualProcess:
    kind: ClassVar[str] = "manual-instructions-proc"
    instructions: str
    pos: Pos


Process = Union[CommandProcess, ScriptProcess, ManualProcess]


@dataclass(frozen=True)
class ParMount:
    jqscript: str
    mountpath: str


@dataclass(frozen=True)
class DockerEnvironment:
    kind: ClassVar[str] = "docker-encapsulated"
    image: str
    imagetag: str
    resources: tuple
    envscript: str
    env: FrozenDict
    workdir: str | None
    par_mounts: tuple[ParMount, ...]
    pos: Pos


@dataclass(frozen=True)
class LocalEnvironment:
    kind: ClassVar[str] = "localproc-env"
    pos: Pos


@dataclass(frozen=True)
class NoopEnvironment:
    kind: ClassVar[str] = "noop-env"
    pos: Pos


@dataclass(frozen=True)
class ManualEnvironment:
    kind: ClassVar[str] = "manual-instructions-env"
    instructions: str
    pos: Pos


Environment = Union[DockerEnvironment, LocalEnvironment, NoopEnvironment, ManualEnvironment]


@dataclass(frozen=True)
class FromParPublisher:
    """Publishes parameters: each leaf of ``outputmap`` names a parameter."""

    kind: ClassVar[str] = "frompar-pub"
    outputmap: FrozenDict
    pos: Pos


@dataclass(frozen=True)
class ConstantPublisher:
    kind: ClassVar[str] = "constant-pub"
    publish: FrozenDict
    pos: Pos


@dataclass(frozen=True)
class InterpolatedPublisher:
    kind: ClassVar[str] = "interpolated-pub"
    publish: Any
    glob: bool
    relative_paths: bool
    pos: Pos


@dataclass(frozen=True)
class FromParJqPublisher:
    kind: ClassVar[str] = "fromparjq-pub"
    script: str
    try_exact: bool
    glob: bool
    relative_paths: bool
    pos: Pos


@dataclass(frozen=True)
class FromGlobPublisher:
    kind: ClassVar[str] = "fromglob-pub"
    globexpression: str
    outputkey: str
    pos: Pos


@dataclass(frozen=True)
class FromYamlPublisher:
    kind: ClassVar[str] = "fromyaml-pub"
    yamlfile: str
    pos: Pos


@dataclass(frozen=True)
class ManualPublisher:
    kind: ClassVar[str] = "manual-instructions-pub"
    instructions: str
    pos: Pos


Publisher = Union[
    FromParPublisher, ConstantPublisher, InterpolatedPublisher, FromParJqPublisher,
    FromGlobPublisher, FromYamlPublisher, ManualPublisher,
]


def prepublishable(publisher: Publisher) -> bool:
    """yadage knows the result before the step runs (syncbackends.prepublish, yadage-spec §4.3).

    Glob publishers, fromglob and fromyaml need the files the step writes: their results, and
    everything that depends on them, are dynamic.
    """
    if isinstance(publisher, (FromParPublisher, ConstantPublisher)):
        return True
    if isinstance(publisher, (InterpolatedPublisher, FromParJqPublisher)):
        return not publisher.glob
    return False


@dataclass(frozen=True)
class Step:
    kind: ClassVar[str] = "step"
    process: Process | None
    environment: Environment | None
    publisher: Publisher
    pos: Pos

    @property
    def pure_publishing(self) -> bool:
        """Nothing runs; yadage only publishes (used to rename or restructure values)."""
        return self.process is None and self.environment is None


# ---------------------------------------------------------------------------------------------
# stages and workflows


@dataclass(frozen=True)
class Dependencies:
    """When yadage schedules a stage. jsonpath_ready: selectors that must have finished;
    expressions_fulfilled: expressions that must be truthy. Not an ordering by itself (§2.2)."""

    kind: str  # 'jsonpath_ready' | 'expressions_fulfilled'
    expressions: tuple
    pos: Pos


@dataclass(frozen=True)
class Scatter:
    method: str  # 'zip' | 'cartesian'
    parameters: tuple[str, ...]
    batchsize: int | None
    partitionsize: int | None
    pos: Pos


@dataclass(frozen=True)
class JqScheduling:
    """jq-stage: bindings with {$wflowref: [node selector, result script]}, then stepscript
    (the list of parameter sets) and postscript (per set, after resolution)."""

    bindings: FrozenDict
    stepscript: str
    postscript: str
    pos: Pos
    stepscript_pos: Pos
    postscript_pos: Pos


@dataclass(frozen=True)
class WorkflowOpts:
    """How a sub-workflow's init publishes: discover = glob init values, relative = against the dir."""

    discover: bool
    relative: bool


@dataclass(frozen=True)
class Case:
    condition: str  # jq program over the finalised parameters, Python-truthy selects
    body: Union[Step, "Workflow"]
    pos: Pos


@dataclass(frozen=True)
class Cases:
    kind: ClassVar[str] = "cases"
    cases: tuple[Case, ...]
    pos: Pos


@dataclass(frozen=True)
class Marks:
    """Derived by `analyse`: which facts about a stage are known before anything runs.

    fanout: 'static' when the number of instances (and the case chosen) is known at compile
    time, 'dynamic' when it depends on a run-time value. result: 'static' when the published
    values are known at compile time (prepublishable), 'dynamic' otherwise. ``reasons`` says why.
    """

    fanout: str = "static"
    result: str = "static"
    reasons: tuple[str, ...] = ()

    @property
    def dynamic(self) -> bool:
        return self.fanout == "dynamic" or self.result == "dynamic"


@dataclass(frozen=True)
class Stage:
    name: str
    scheduler: str  # 'singlestep-stage' | 'multistep-stage' | 'jq-stage'
    dependencies: Dependencies
    parameters: tuple[Parameter, ...]
    scatter: Scatter | None
    jq: JqScheduling | None
    body: Union[Step, "Workflow", Cases]
    register_values: tuple[Parameter, ...]
    workflow_opts: WorkflowOpts
    pos: Pos
    marks: Marks = field(default_factory=Marks)

    def parameter_keys(self) -> tuple[str, ...]:
        return tuple(p.key for p in self.parameters)

    def sub_workflows(self) -> tuple["Workflow", ...]:
        """The workflows this stage schedules (its own, or those of its cases)."""
        if isinstance(self.body, Workflow):
            return (self.body,)
        if isinstance(self.body, Cases):
            return tuple(c.body for c in self.body.cases if isinstance(c.body, Workflow))
        return ()

    def steps(self) -> tuple[Step, ...]:
        if isinstance(self.body, Step):
            return (self.body,)
        if isinstance(self.body, Cases):
            return tuple(c.body for c in self.body.cases if isinstance(c.body, Step))
        return ()


@dataclass(frozen=True)
class Workflow:
    kind: ClassVar[str] = "workflow"
    stages: tuple[Stage, ...]
    pos: Pos

    def stage(self, name: str) -> Stage | None:
        named = self.by_name.get(name)
        return named[0] if named else None

    @cached_property
    def by_name(self) -> dict[str, tuple[Stage, ...]]:
        """Stages by name (a list: duplicate names are an error the checks report)."""
        index: dict[str, list[Stage]] = {}
        for stage in self.stages:
            index.setdefault(stage.name, []).append(stage)
        return {name: tuple(stages) for name, stages in index.items()}

    @cached_property
    def registered(self) -> dict[str, tuple[Parameter, ...]]:
        """The values this scope's stages register (register_values), by key."""
        index: dict[str, list[Parameter]] = {}
        for stage in self.stages:
            for param in stage.register_values:
                index.setdefault(param.key, []).append(param)
        return {key: tuple(params) for key, params in index.items()}


# ---------------------------------------------------------------------------------------------
# the JSON form (`yadage2x graph --format json`, schemas/ir.schema.json)


def to_json(node):
    """The IR as JSON data: every node an object with its 'kind' where it has one."""
    if isinstance(node, Pos):
        return str(node)
    if is_dataclass(node):
        out = {}
        kind = getattr(type(node), "kind", None)
        if isinstance(kind, str):
            out["kind"] = kind
        for f in fields(node):
            out[f.name] = to_json(getattr(node, f.name))
        if isinstance(node, Marks):
            out["dynamic"] = node.dynamic
        return out
    if isinstance(node, dict):
        return {k: to_json(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [to_json(v) for v in node]
    return node
