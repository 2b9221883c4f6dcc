"""yadage's run-time rules in plain Python: the one implementation that the emitters inline into
the workflows they write (so it imports nothing but the standard library).

Each rule is yadage's (yadage 0.21 / packtivity 0.17, yadage-spec §2-§3), and
`tests/test_runtime.py` checks it against yadage's own code on generated cases:
- `contextualise`: every string leaf of a step's parameters is formatted with {workdir} and
  {readdirN}; packtivity leaves a value alone when formatting raises AttributeError or IndexError;
- `render`: cmd/script formatting: a top-level list value is joined with spaces, everything else
  is str() (nested lists and dicts as Python reprs, true as True, null as None); list parameters
  fill positional fields, a scalar fills {value};
- `scatter`: multistep instances: each scattered value grouped by batchsize or partitionsize,
  then zip (truncating to the shortest) or cartesian (first parameter slowest);
- `combine`: the list a `stages:` selection gives: flatten splices list results one level,
  unwrap returns the single element;
- `jq_outputs`: jq programs (cases, jq-stage, fromparjq-pub, par_mounts) run with jq itself: the
  Python module `jq` where Snakemake's Python has it, else the `jq` program;
- publishers: `frompar`, `constant`, `interpolated`, `fromparjq`, `fromglob`, `fromyaml`. Glob results come in file-system
  order, as yadage's do: sorting them would number instances differently from yadage (the
  instance that yadage calls map_1 would process another file).
"""
from __future__ import annotations

import copy
import glob
import itertools
import json
import os
import shutil
import subprocess


def map_leaves(value, change):
    """A copy of plain JSON data with every non-container value replaced by ``change(value)``."""
    if isinstance(value, dict):
        return {key: map_leaves(child, change) for key, child in value.items()}
    if isinstance(value, list):
        return [map_leaves(child, change) for child in value]
    return change(value)


def contextualise(parameters, workdir: str | None, readdirs: list[str] = ()):
    """Fill {workdir} and {readdirN} in every string leaf of a step's parameters."""
    names = {f"readdir{i}": d for i, d in enumerate(readdirs)}
    if workdir is not None:
        names["workdir"] = workdir

    def fill(leaf):
        if not isinstance(leaf, str):
            return leaf
        try:
            return leaf.format(**names)
        except IndexError:  # a positional field such as {0}: packtivity leaves the value as it is
            return leaf

    return map_leaves(parameters, fill)


def _argument(value):
    return " ".join(str(item) for item in value) if type(value) is list else value


def render(template: str, parameters) -> str:
    """A cmd or script with the (contextualised) parameters filled in, as packtivity does."""
    if isinstance(parameters, dict):
        return template.format(**{key: _argument(value) for key, value in parameters.items()})
    if isinstance(parameters, list):
        return template.format(*[_argument(value) for value in parameters])
    return template.format(value=parameters)


def group(values, batchsize: int | None = None, partitionsize: int | None = None) -> list:
    """Split a scattered value into the pieces that become instances."""
    if batchsize:
        return [values[i:i + batchsize] for i in range(0, len(values), batchsize)]
    if partitionsize:
        parts = min(partitionsize, len(values))
        out, start = [], 0
        for k in range(parts):
            size = (len(values) + k) // parts
            out.append(values[start:start + size])
            start += size
        return out
    return values


def scatter(parameters: dict, method: str, names: list[str], batchsize=None, partitionsize=None) -> list[dict]:
    """The parameter sets of a multistep stage's instances, in yadage's order."""
    common = dict(parameters)
    pieces = {name: group(common.pop(name), batchsize, partitionsize) for name in names}
    if method == "zip":
        combos = zip(*[pieces[name] for name in names])
    elif method == "cartesian":
        combos = itertools.product(*[pieces[name] for name in names])
    else:
        return []
    return [{**common, **dict(zip(names, combo))} for combo in combos]


def combine(results: list, flatten: bool, unwrap: bool):
    """The value of a `stages:` selection from the selected results."""
    combined = []
    for result in results:
        if type(result) is list and flatten:
            combined.extend(result)
        else:
            combined.append(result)
    if unwrap and len(combined) == 1:
        return combined[0]
    return combined


def publish_frompar(outputmap, parameters: dict):
    """Each leaf of the output map names a parameter; the result has the map's shape."""
    return map_leaves(outputmap, lambda name: parameters[name])


def publish_constant(publish):
    return copy.deepcopy(publish)


def _glob(pattern: str) -> list[str]:
    """Matches in file-system order, as yadage's glob2 gives them (`**` recursing)."""
    return glob.glob(pattern, recursive=True)


def publish_interpolated(publish, parameters, workdir: str, globbed: bool = False, relative_paths: bool = False):
    """Each string leaf formatted with the parameters (lists not joined) and {workdir}."""

    def fill(leaf):
        if not isinstance(leaf, str):
            return leaf
        if isinstance(parameters, dict):
            value = leaf.format(workdir=workdir, **parameters)
        elif isinstance(parameters, list):
            value = leaf.format(*parameters, workdir=workdir)
        else:
            value = leaf.format(workdir=workdir, value=parameters)
        pattern = value
        # packtivity's test for "relative": no common leading characters with the work directory
        if relative_paths and os.path.commonprefix([workdir, pattern]) == "":
            pattern = os.path.join(workdir, value)
        if globbed:
            matches = _glob(pattern)
            return matches if matches else value
        return pattern

    return map_leaves(publish, fill)


def jq_outputs(program: str, value) -> list:
    """Every output of a jq program over a JSON value, computed by jq itself (never by an
    imitation of it): the `jq` Python module where it is installed, else the `jq` program."""
    try:
        import jq
    except ImportError:
        jq = None
    if jq is not None:
        return jq.compile(program).input_value(value).all()
    exe = shutil.which("jq")
    if exe is None:
        raise RuntimeError(f"this workflow runs jq programs ({program!r}): install jq (pip install jq, or the jq program)")
    proc = subprocess.run([exe, "-c", program], input=json.dumps(value), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"jq {program!r}: {proc.stderr.strip()}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def jq_first(program: str, value):
    """What yadage's jq calls give without multiple_output: the first output."""
    outputs = jq_outputs(program, value)
    if not outputs:
        raise RuntimeError(f"jq {program!r} gave no output")
    return outputs[0]


def jq_text(program: str, value) -> str:
    """jq's text output as packtivity writes par_mounts: each output JSON-encoded, one per line."""
    return "\n".join(json.dumps(v) for v in jq_outputs(program, value))


def publish_fromparjq(script: str, parameters, workdir: str, try_exact: bool, globbed: bool, relative_paths: bool):
    """A jq program's result over the parameters; each string leaf that names a path in the work
    directory (relative_paths) or that exists becomes that path, or with glob its matches."""
    def resolve(leaf):
        if not isinstance(leaf, str):
            return leaf
        search = os.path.join(workdir, leaf) if relative_paths and not os.path.isabs(leaf) else leaf
        if try_exact and os.path.exists(search):
            return search
        if globbed:
            return _glob(search) or leaf
        return leaf

    return map_leaves(jq_first(script, parameters), resolve)


def choose_case(cases: list, parameters):
    """The body of the first case whose `if` is Python-truthy on the parameters (yadage tests
    `bool(first jq output)`: 0, "" and [] are false, unlike in jq), or None: no instance."""
    for case in cases:
        if jq_first(case["condition"], parameters):
            return case["body"]
    return None


def pointerize(result, node: str):
    """A node's result with each leaf replaced by a pointer to it, as a jq-stage's stepscript
    sees them (yadage: it can regroup values but not compute on them)."""
    def walk(value, parts):
        if isinstance(value, dict):
            return {k: walk(v, parts + [k]) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, parts + [str(i)]) for i, v in enumerate(value)]
        pointer = "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)
        return {"$wflowpointer": {"step": node, "result": pointer}}

    return walk(result, [])


def resolve_pointer(document, pointer: str):
    value = document
    for part in pointer.split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def publish_fromglob(workdir: str, globexpression: str, outputkey: str) -> dict:
    return {outputkey: _glob(f"{workdir}/{globexpression}")}


# ---------------------------------------------------------------------------------------------
# planning: which step instances a workflow has, with which parameters, reading which others.
# The same walk yadage makes when it applies stages, over the IR's JSON form (schemas/ir.schema.json)
# with each selector already parsed ("path"). Results that yadage prepublishes are computed here;
# the others come from `result_of`, which reads what a finished step wrote.


class NotPlannable(Exception):
    """A construct this planner does not handle (yet): the emitter reports it before writing."""


def init_result(initdata: dict, initdir: str | None, discover: bool = True):
    """What the top-level init publishes: string values naming files in the init directory become
    their absolute paths; with discover, a glob becomes the list of its matches."""
    def resolve(value):
        if not isinstance(value, str) or not initdir:
            return value
        candidate = os.path.join(initdir, value)
        if os.path.exists(candidate):
            return candidate
        if discover:
            matches = _glob(candidate)
            if matches:
                return matches
        return value

    result = map_leaves(initdata, resolve)
    return dict(sorted(result.items())) if isinstance(result, dict) else result


def pick_output(result, output: str):
    """`output` of a result: a key, or a simple jsonpath (a.b, a[0]) with exactly one match."""
    if not output:
        return result
    if isinstance(result, dict) and output in result:
        return result[output]
    value = result
    for part in output.replace("[", ".[").split("."):
        if not part or part == "$":
            continue
        try:
            value = value[int(part[1:-1])] if part.startswith("[") else value[part.strip("'\"")]
        except (KeyError, IndexError, TypeError, ValueError):
            raise RuntimeError(f"no matches found in reference selection: {output}") from None
    return value


class Read:
    """A value read from a step's result, with the step it came from (yadage's reference)."""

    __slots__ = ("node", "value")

    def __init__(self, node: str, value):
        self.node, self.value = node, value


def replace_where(value, found, change):
    """A copy of JSON-like data in which every part that ``found`` picks is ``change(part)``
    (not looked into further); the rest is walked through dicts and lists."""
    if found(value):
        return change(value)
    if isinstance(value, dict):
        return {k: replace_where(v, found, change) for k, v in value.items()}
    if isinstance(value, list):
        return [replace_where(v, found, change) for v in value]
    return value


def has_key(key: str):
    return lambda value: isinstance(value, dict) and key in value


def untag(value, reads: list):
    """The plain value, noting in ``reads`` every step a `Read` leaf came from."""
    def plain(leaf):
        reads.append(leaf.node)
        return leaf.value

    return replace_where(value, lambda v: isinstance(v, Read), plain)


class Plan:
    """``result_of`` gives the result of a step that must run first (it may raise one of
    ``waits``, e.g. Snakemake's IncompleteCheckpointException): the stages that need it are then
    left out, and ``waiting`` holds the exception, to be raised where the whole plan is needed."""

    def __init__(self, workflow: dict, initdata: dict, initdir: str | None, root: str, result_of, waits=()):
        self.root = root
        self.result_of_run = result_of  # instance -> result of a finished dynamic step
        self.waits = tuple(waits)
        self.waiting = None
        self.stalled: list[str] = []  # stages yadage would never apply (it still ends "successfully")
        self.instances: dict[str, dict] = {}
        self.results: dict[str, object] = {}
        # no init data, no init stage (yadage): whatever waits for it never runs
        init = {"name": "init", "stage": None, "deps": [], "result": init_result(initdata, initdir)} if initdata else None
        self.scope("", workflow, init)

    def workdir(self, name: str) -> str:
        return os.path.join(self.root, name)

    def result(self, name: str):
        if name not in self.results:
            self.results[name] = self.result_of_run(self.instances[name])
        return self.results[name]

    def step_deps(self, name: str) -> list[str]:
        """The step instances an instance waits for (an init stands for what its parent read)."""
        out = []
        for dep in self.instances[name]["deps"]:
            out.extend(self.step_deps(dep) if self.instances[dep]["stage"] is None else [dep])
        return sorted(set(out))

    # -- selections ---------------------------------------------------------------------------

    def select(self, scope: dict, path: list) -> list:
        current = [("scope", scope)]
        for seg in path:
            kind = seg[0]
            nxt = []
            for what, obj in current:
                if what == "scope":
                    if kind == "name":
                        nxt.append(("entries", obj["stages"].get(seg[1], [])))
                    elif kind == "any":
                        nxt.extend(("entries", e) for e in obj["stages"].values())
                    elif kind == "descend":
                        nxt.extend(("entries", e) for e in self.descend(obj, seg[1]))
                elif kind == "index":
                    index = seg[1]
                    if index == "*":
                        picked = obj
                    elif isinstance(index, list):
                        picked = obj[index[0]:index[1]]
                    else:
                        picked = obj[index:index + 1] if -len(obj) <= index < len(obj) else []
                    nxt.append(("entries", picked))
                else:
                    # a name after instances steps into their sub-workflow scopes
                    for entry in obj:
                        if "scope" in entry:
                            nxt.append(("entries", self.select(entry["scope"], [seg])))
            current = nxt
        return [entry for what, obj in current if what == "entries" for entry in obj]

    def descend(self, scope: dict, name):
        for stage_name, entries in scope["stages"].items():
            if name is None or stage_name == name:
                yield entries
            for entry in entries:
                if "scope" in entry:
                    yield from self.descend(entry["scope"], name)

    def registered(self, scope: dict, key: str):
        expr = scope["values"].get(key)
        return None if expr is None else self.value(scope, expr)

    def value(self, scope: dict, value: dict):
        """A parameter's value: a literal, a stage-output selection, or a registered value. Every
        leaf taken from a step's result is `Read` (tagged with the step), as yadage's references
        are, so that each instance of a scatter depends on the steps its own values came from."""
        if value["kind"] == "literal":
            return value["value"]
        if value["kind"] == "fromvalue":
            scopes = [scope]
            if value.get("scope_paths"):
                scopes = [e["scope"] for path in value["scope_paths"] for e in self.select(scope, path) if "scope" in e]
            if len(scopes) != 1:
                raise RuntimeError(f"fromvalue scope must match one scope, got {len(scopes)}")
            return self.registered(scopes[0], value["key"])
        entries = [entry for path in value["paths"] for entry in self.select(scope, path)]
        results = []
        for entry in entries:
            if "scope" in entry:
                results.append(self.registered(entry["scope"], value["output"]))
            else:
                node = entry["node"]
                results.append(map_leaves(pick_output(self.result(node), value["output"]), lambda leaf: Read(node, leaf)))
        if value["single"]:
            if len(results) != 1:
                raise RuntimeError(f"step: {value['selector']} matched {len(results)}, needs exactly one")
            return results[0]
        return combine(results, value["flatten"], value["unwrap"])

    # -- stages -------------------------------------------------------------------------------

    def ready(self, scope: dict, stage: dict) -> bool:
        """yadage applies a stage when the stages it reads exist and each of its dependencies
        selects something (a stage with no instances satisfies nothing)."""
        if not all(n in scope["stages"] for n in stage["reads"]):
            return False
        if stage["dependencies"]["kind"] == "expressions_fulfilled":
            return all(self.fulfilled(scope, e) for e in stage["dependencies"]["expressions"])
        return all(
            all(n in scope["stages"] for n in names) and any(self.select(scope, path) for path in paths)
            for names, paths in stage["waits"]
        )

    def fulfilled(self, scope: dict, expression: dict) -> bool:
        """An expressions_fulfilled predicate: yadage tests the truth of the selection made of
        references to the outputs, so any selected output counts, whatever its value; an empty
        selection does not (yadage-spec §2.2)."""
        try:
            selected = self.value(scope, expression)
        except RuntimeError:  # nothing to select yet
            return False
        return not (isinstance(selected, (list, dict)) and not selected)

    def scope(self, directory: str, workflow: dict, init: dict | None, stage_path=()) -> dict:
        scope = {"dir": directory, "stages": {}, "values": {}, "stage_path": list(stage_path)}
        if init is not None:
            scope["stages"]["init"] = [{"node": init["name"]}]
            self.instances[init["name"]] = init
            self.results[init["name"]] = init["result"]
        pending = list(workflow["stages"])
        while pending:  # apply a stage once the stages its selections name have been applied
            ready = [s for s in pending if self.ready(scope, s)]
            if not ready:
                if self.waiting is None:  # nothing will ever make them ready: yadage stalls
                    self.stalled.extend("/".join(filter(None, [directory, s["name"]])) for s in pending)
                break
            for stage in ready:
                try:
                    self.stage(scope, stage)
                except self.waits as exc:
                    self.waiting = self.waiting or exc
                pending.remove(stage)
        return scope

    def complete(self) -> "Plan":
        """The plan, if nothing waits for a step to run; else the waiting exception is raised."""
        if self.waiting is not None:
            raise self.waiting
        return self

    def stage(self, scope: dict, stage: dict) -> None:
        if stage["scheduler"] == "jq-stage":
            sets, instance_deps = self.jq_sets(scope, stage)
            names = [f"{stage['name']}_{i}" for i in range(len(sets))]
        else:
            parameters = {p["key"]: self.value(scope, p["value"]) for p in stage["parameters"]}
            if stage["scheduler"] == "multistep-stage":
                sc = stage["scatter"]
                sets = scatter(parameters, sc["method"], sc["parameters"], sc["batchsize"], sc["partitionsize"])
                names = [f"{stage['name']}_{i}" for i in range(len(sets))]
            else:
                sets, names = [parameters], [stage["name"]]
            instance_deps = []
            for i, tagged in enumerate(sets):
                reads: list[str] = []
                sets[i] = untag(tagged, reads)
                instance_deps.append(sorted(set(reads)))
        entries = []
        for name, pars, needs in zip(names, sets, instance_deps):
            body = stage["body"]
            if body["kind"] == "cases":
                body = choose_case(body["cases"], pars)
                if body is None:  # no case holds: no instance, and the index keeps its gap
                    continue
            path = f"{scope['dir']}/{name}" if scope["dir"] else name
            if body["kind"] == "step":
                readdirs = sorted({self.workdir(d) for d in needs if self.instances[d]["stage"] is not None})
                pars = contextualise(pars, self.workdir(path), readdirs)
                self.instances[path] = {"name": path, "stage": stage["name"], "stage_path": "/".join(scope["stage_path"] + [stage["name"]]),
                                        "step": body, "parameters": pars,
                                        "deps": needs, "dynamic": stage["marks"]["result"] == "dynamic"}
                if prepublishable(body["publisher"]):
                    self.results[path] = publish(body["publisher"], pars, self.workdir(path))
                entries.append({"node": path})
            else:
                init = {"name": f"{path}/init", "stage": None, "deps": needs, "result": pars}
                entries.append({"scope": self.scope(path, body, init, scope["stage_path"] + [stage["name"]])})
        scope["stages"][stage["name"]] = entries
        for reg in stage["register_values"]:
            scope["values"].setdefault(reg["key"], reg["value"])

    def jq_sets(self, scope: dict, stage: dict) -> tuple[list, list]:
        """A jq-stage's parameter sets and what each reads (yadage's jq_stage): each binding
        {$wflowref: [node selector, result script]} becomes the result script's outputs over the
        pointerized results of the nodes the selector picks from the stage index; the stepscript
        turns the bindings into a list of parameter sets; pointers are resolved, then the
        postscript runs on each set."""
        jq = stage["jq"]

        def bind(ref):
            selector, script = ref["$wflowref"]
            return self.noderefs(jq_outputs(selector, self.index(scope)), script)

        sets, needs = [], []
        for pars in jq_first(jq["stepscript"], replace_where(jq["bindings"], has_key("$wflowref"), bind)):
            reads: list[str] = []
            resolved = self.resolve_pointers(pars, reads)
            sets.append(jq_first(jq["postscript"], resolved))
            needs.append(sorted(set(reads)))
        return sets, needs

    def index(self, scope: dict) -> dict:
        """The scope's stage index as yadage's jq programs see it: nodes are {"_nodeid": ...},
        sub-workflow instances are the index of their own scope."""
        return {name: [{"_nodeid": e["node"]} if "node" in e else self.index(e["scope"]) for e in entries]
                for name, entries in scope["stages"].items()}

    def noderefs(self, value, script: str):
        """Each node ({"_nodeid": ...}) replaced by the script's outputs over its pointerized result."""
        return replace_where(value, has_key("_nodeid"),
                             lambda ref: jq_outputs(script, pointerize(self.result(ref["_nodeid"]), ref["_nodeid"])))

    def resolve_pointers(self, value, reads: list):
        """Each {"$wflowpointer": ...} replaced by the value it points at, noting the step in ``reads``."""
        def pointed(ref):
            node, pointer = ref["$wflowpointer"]["step"], ref["$wflowpointer"]["result"]
            reads.append(node)
            return resolve_pointer(self.result(node), pointer)

        return replace_where(value, has_key("$wflowpointer"), pointed)


def prepublishable(publisher: dict) -> bool:
    kind = publisher["kind"]
    return kind in ("frompar-pub", "constant-pub") or (kind in ("interpolated-pub", "fromparjq-pub") and not publisher["glob"])


def publish(publisher: dict, parameters, workdir: str):
    """A step's result from its publisher (yadage-spec §3.3)."""
    kind = publisher["kind"]
    if kind == "frompar-pub":
        return publish_frompar(publisher["outputmap"], parameters)
    if kind == "constant-pub":
        return publish_constant(publisher["publish"])
    if kind == "interpolated-pub":
        return publish_interpolated(publisher["publish"], parameters, workdir, publisher["glob"], publisher["relative_paths"])
    if kind == "fromparjq-pub":
        return publish_fromparjq(publisher["script"], parameters, workdir, publisher["try_exact"],
                                 publisher["glob"], publisher["relative_paths"])
    if kind == "fromglob-pub":
        return publish_fromglob(workdir, publisher["globexpression"], publisher["outputkey"])
    if kind == "fromyaml-pub":
        import yaml  # Snakemake brings PyYAML

        with open(os.path.join(workdir, publisher["yamlfile"])) as handle:
            return yaml.safe_load(handle)
    raise NotPlannable(f"{kind} is not supported yet")


def stub_paths(workdir: str, text: str) -> tuple[list[str], list[str]]:
    """For a step that does not run (stub): the folders and files below ``workdir`` that its
    command or script names (a named path that holds another named path is a folder)."""
    import re

    pattern = re.escape(workdir.rstrip("/")) + r"/[^\s'\";|&<>(){}]+"
    paths = sorted(set(p.rstrip("/") for p in re.findall(pattern, text)))
    folders = [p for p in paths if any(q.startswith(p + "/") for q in paths)]
    return folders, [p for p in paths if p not in folders]


def stub_outputs(workdir: str, text: str) -> list[str]:
    """Create what `stub_paths` names: folders, and small files saying what they stand for.
    For workflows whose software is not at hand: the structure still runs end to end."""
    folders, files = stub_paths(workdir, text)
    for folder in folders:
        if not os.path.isfile(folder):
            os.makedirs(folder, exist_ok=True)
    for path in files:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if not os.path.exists(path):
            with open(path, "w") as out:
                out.write(f"stub for {os.path.relpath(path, workdir)}\n")
    return folders + files


def shell_command(instance: dict, workdir: str, log: str, stub: bool = False) -> str:
    """The shell line that runs one step instance as packtivity would on the host: in its work
    directory (or the environment's workdir), with the envscript sourced, a script fed to its
    interpreter on standard input; output to ``log``. With ``stub``, docker steps only create
    the files their command names."""
    from shlex import quote

    step, pars = instance["step"], instance["parameters"]
    process, environment = step["process"], step["environment"]
    lines = [f"mkdir -p {quote(workdir)}"]
    if process is None:
        return lines[0]
    cwd, prefix = workdir, ""
    if environment and environment["kind"] == "docker-encapsulated":
        if environment.get("workdir"):
            cwd = contextualise(environment["workdir"], workdir)
        if environment.get("envscript"):
            prefix = f"source {environment['envscript']} && "
    text = render(process["cmd"] if process["kind"] == "string-interpolated-cmd" else process["script"], pars)
    for i, mount in enumerate((environment or {}).get("par_mounts") or []):
        # packtivity writes jq's text output to a file and mounts it; on the host (as in
        # yadage2x's host plugin) the command reads the file where the mount would be
        source = os.path.join(workdir, f"_yadage_parmount_{i}.txt")
        lines.append(f"printf '%s' {quote(jq_text(mount['jqscript'], pars))} > {quote(source)}")
        text = text.replace(mount["mountpath"], source)
    if process["kind"] == "string-interpolated-cmd":
        run = f"sh -c {quote(prefix + text)}"
    else:
        run = f"printf '%s' {quote(text)} | sh -c {quote(prefix + process['interpreter'])}"
    if stub and environment and environment["kind"] == "docker-encapsulated":
        folders, files = stub_paths(workdir, text)
        lines += [f"mkdir -p {quote(f)}" for f in folders]
        lines += [f"mkdir -p {quote(os.path.dirname(f))} && printf 'stub for %s\\n' {quote(os.path.relpath(f, workdir))} > {quote(f)}"
                  for f in files]
        return " && ".join(lines)
    lines.append(f"cd {quote(cwd)} && {run} > {quote(log)} 2>&1")
    return " && ".join(lines)
