"""Emit a self-contained Snakemake workflow, nothing of yadage2x needed to run it: `Snakefile`,
`config.yaml` (the init data), `workflow.json` (the workflow as the IR's JSON form) and
`yadage2x_runtime.py` (yadage's run-time rules, a copy of yadage2x/runtime.py).

At parse time the runtime's planner walks the stages as yadage would, knowing every result that
yadage prepublishes; a stage whose result is known only after it runs is a
checkpoint, and the planner asks for its result through `checkpoints.<rule>.get()`, which makes
Snakemake run it and re-plan. One rule per stage (named after it, with its source line), whose
wildcard `instance` is yadage's name for the instance (`map_3`, `outer_0/inner`), so work
directories line up with yadage's. A step's rule runs its shell line (`shell_command`) and marks
it done in `.yadage2x/done/`; results are published by the planner, as yadage publishes them, and
`.yadage2x/results.json` holds every instance's result at the end.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .. import __version__
from ..errors import Problem, SpecError
from ..ir import Cases, DockerEnvironment, FromParJqPublisher, FromValue, ManualProcess, ManualPublisher, Ref, Stage, Step, Workflow, prepublishable, to_json
from ..selectors import first_names, parse
from .cluster import slurm_profile
from .output import loss_report, write_files
from .resources import Demand, Loss, merge, read_step


def unsupported(workflow: Workflow) -> list[Problem]:
    """Constructs this emitter refuses, each at its source position."""
    found = []
    for stage in workflow.stages:
        for step in stage.steps():
            if isinstance(step.publisher, ManualPublisher):
                found.append(Problem(step.publisher.pos, "snakemake: manual-instructions-pub needs a person to publish: cannot run unattended"))
            if isinstance(step.process, ManualProcess):
                found.append(Problem(step.process.pos, "snakemake: manual processes cannot run unattended"))
        if stage.dependencies.kind == "expressions_fulfilled":
            for expr in stage.dependencies.expressions:
                if expr.dynamic:  # yadage reads the result before the step ran: it crashes
                    found.append(Problem(expr.pos, "snakemake: expressions_fulfilled over a result known only after its step ran "
                                                   "(yadage itself fails on it: 'NoneType' object has no attribute 'asrefs'); "
                                                   "use dependencies: [stage] instead"))
        for inner in stage.sub_workflows():
            found.extend(unsupported(inner))
    return found


def uses_jq(workflow: Workflow) -> list[str]:
    """Where the emitted workflow runs jq programs (it then needs jq where Snakemake runs)."""
    found = []
    for stage in workflow.stages:
        if isinstance(stage.body, Cases):
            found.append(f"cases of '{stage.name}'")
        if stage.jq is not None:
            found.append(f"jq-stage '{stage.name}'")
        for step in stage.steps():
            if isinstance(step.publisher, FromParJqPublisher):
                found.append(f"fromparjq-pub of '{stage.name}'")
            if getattr(step.environment, "par_mounts", ()):
                found.append(f"par_mounts of '{stage.name}'")
        for inner in stage.sub_workflows():
            found.extend(uses_jq(inner))
    return found


def _plain(node):
    """The IR's JSON form without source positions, with each selector parsed for the planner."""
    if isinstance(node, dict):
        out = {k: _plain(v) for k, v in node.items() if not k.endswith("pos")}
        if node.get("kind") == "ref":
            out["paths"] = [[list(map(_listify, seg)) for seg in alternative] for alternative in parse(node["selector"])]
        return out
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _listify(value):
    return list(value) if isinstance(value, tuple) else value


def planner_json(workflow: Workflow) -> dict:
    data = _plain(to_json(workflow))

    def annotate(wf_json, wf: Workflow):
        for stage_json, stage in zip(wf_json["stages"], wf.stages):
            reads = set()
            for param in stage.parameters:
                if isinstance(param.value, Ref):
                    reads |= first_names(param.value.selector)
            stage_json["reads"] = sorted(reads)
            # dependencies (jsonpath_ready): (stage names, parsed selector) that must select something
            stage_json["waits"] = [
                [sorted(first_names(expr)), [[list(map(_listify, seg)) for seg in alt] for alt in parse(expr)]]
                for expr in (stage.dependencies.expressions if stage.dependencies.kind == "jsonpath_ready" else ())
            ]
            for param_json, param in zip(stage_json["parameters"] + stage_json["register_values"], stage.parameters + stage.register_values):
                if isinstance(param.value, FromValue) and param.value.scope:
                    param_json["value"]["scope_paths"] = [[list(map(_listify, seg)) for seg in alt] for alt in parse(param.value.scope)]
            if isinstance(stage.body, Workflow):
                annotate(stage_json["body"], stage.body)
            elif isinstance(stage.body, Cases):
                for case_json, case in zip(stage_json["body"]["cases"], stage.body.cases):
                    if isinstance(case.body, Workflow):
                        annotate(case_json["body"], case.body)

    annotate(data, workflow)
    return data


def _rule_name(path: tuple[str, ...]) -> str:
    return "__".join(re.sub(r"\W", "_", p) for p in path)


@dataclass
class RuleSpec:
    """One rule: every step a stage can run at one place (the steps of its cases share it, as
    they share yadage's instance names), and the regex of those instance names."""

    name: str
    stage: Stage
    regex: str
    steps: list[Step] = field(default_factory=list)


def _rules(workflow: Workflow, prefix: tuple[str, ...] = (), pattern: str = "", into: dict | None = None) -> list[RuleSpec]:
    """A rule for every stage that runs a step, nested ones (and those of case workflows) too."""
    rules = {} if into is None else into
    for stage in workflow.stages:
        own = re.escape(stage.name) + (r"_\d+" if stage.scheduler != "singlestep-stage" else "")
        regex = f"{pattern}/{own}" if pattern else own
        name = _rule_name(prefix + (stage.name,))
        if stage.steps():
            rules.setdefault(name, RuleSpec(name, stage, regex)).steps.extend(stage.steps())
        for inner in stage.sub_workflows():
            _rules(inner, prefix + (stage.name,), regex, rules)
    return list(rules.values())


SNAKEFILE_HELPERS = '''
PLAN_DATA = json.loads(Path(workflow.basedir, "workflow.json").read_text())
ROOT = os.path.abspath(".")
DONE = ".yadage2x/done"


def done_file(name):
    return f"{DONE}/{name}"


def read_result(instance):
    """The result of a step whose publisher needs the files it wrote: run it first (a
    checkpoint), then publish here, as yadage does after the step."""
    # checkpoints.get() works only while Snakemake builds the DAG (input functions). Elsewhere (a
    # job's command, the results at the end, a job on a cluster node, whose DAG has no
    # checkpoint jobs) the step has run and its files are read.
    done = done_file(instance["name"])
    if (PLANNED["in_dag"] and workflow.is_main_process) or not os.path.exists(done):
        PLANNED["waits_for"] = done
        getattr(checkpoints, PLAN_DATA["rules"][instance["stage_path"]]).get(instance=instance["name"])
    return publish(instance["step"]["publisher"], instance["parameters"], os.path.join(ROOT, instance["name"]))


PLANNED = {"plan": None, "waits_for": None, "in_dag": True}


def plan(in_dag=True):
    """The plan, made again only when the checkpoint it waited for has finished: Snakemake calls
    the input functions for every job, and planning each time would cost O(jobs) each time.
    in_dag: called from an input function, while Snakemake builds the DAG."""
    PLANNED["in_dag"] = in_dag
    cached = PLANNED["plan"]
    if cached is not None and (cached.waiting is None or not Path(PLANNED["waits_for"]).exists()):
        return cached
    PLANNED["plan"] = Plan(PLAN_DATA["workflow"], config.get("init") or {}, config.get("initdir"), ROOT,
                           read_result, waits=(IncompleteCheckpointException,))
    return PLANNED["plan"]


def inputs_of(wildcards):
    partial = plan()
    if wildcards.instance not in partial.instances:
        partial.complete()  # planned only once a checkpoint ran
    return [done_file(dep) for dep in partial.step_deps(wildcards.instance)]


def log_file(name):
    return f".yadage2x/logs/{name}.log"


def command_of(wildcards):
    instance = plan(in_dag=False).instances[wildcards.instance]
    log = os.path.join(ROOT, log_file(wildcards.instance))
    return shell_command(instance, os.path.join(ROOT, wildcards.instance), log, bool(config.get("stub")))


def write_results(path):
    """Every step has run: results nothing read yet (a fromyaml step no stage reads) are read
    from their files now."""
    final = plan(in_dag=False).complete()
    results = {name: final.result(name) for name in final.instances}
    Path(path).write_text(json.dumps({"instances": results, "stalled": final.stalled}, indent=2, sort_keys=True))


def step_done_files(planned):
    return [done_file(name) for name, instance in planned.instances.items() if instance["stage"] is not None]


def planned_steps(wildcards):
    """Every step instance planned so far, so that Snakemake knows each one, the checkpoints
    no input function has reached yet among them (it only schedules the checkpoint an input
    function waits for, one at a time)."""
    return step_done_files(plan())


def every_step(wildcards):
    """Every step instance of the whole run: waits (raises) while a checkpoint must run first."""
    return step_done_files(plan().complete())


localrules: all, yadage2x_results


rule all:
    input: ".yadage2x/results.json"


rule yadage2x_results:
    """Every instance's result in one file (what `yadage2x check` compares). The job only marks
    that every step ran; the main Snakemake process writes the results when the run succeeds (a
    `run:` job would start a Snakemake of its own, re-reading the Snakefile, just for this)."""
    input: planned_steps, every_step
    output: ".yadage2x/results.json"
    log: ".yadage2x/logs/results.log"
    shell: "touch {output:q}"


onsuccess:
    write_results(".yadage2x/results.json")
'''


def container_lines(steps: list[Step]) -> list[str]:
    """`container:` for a docker-encapsulated step (used with --sdm apptainer; the image as the
    spec names it, so a digest-pinned spec stays pinned). A localproc step runs on the host."""
    images = {f"{env.image}{'' if '@' in env.imagetag else ':'}{env.imagetag}".replace(":@", "@")
              for step in steps if isinstance((env := step.environment), DockerEnvironment)}
    return [f'    container: "docker://{image}"' for image in sorted(images)][:1]


def resource_lines(demand: Demand) -> list[str]:
    """`threads:` and `resources:` from what the steps ask of the scheduler (executor plugins
    read mem_mb, runtime in minutes and slurm_partition)."""
    lines = [f"    threads: {demand.cores}"] if demand.cores else []
    asks = [f"mem_mb={demand.mem_mb}"] * bool(demand.mem_mb) + [f"runtime={demand.runtime_min}"] * bool(demand.runtime_min)
    if demand.partition:
        asks.append(f"slurm_partition={json.dumps(demand.partition)}")
    return lines + ([f"    resources: {', '.join(asks)}"] if asks else [])


def rule_names(data: dict) -> dict[str, str]:
    """Stage path ('map/inner') -> rule name, for every stage that runs a step."""
    names = {}

    def index(wf_json, prefix):
        for stage in wf_json["stages"]:
            path = prefix + (stage["name"],)
            body = stage["body"]
            for case_body in [c["body"] for c in body["cases"]] if body["kind"] == "cases" else [body]:
                if case_body["kind"] == "workflow":
                    index(case_body, path)
                else:
                    names["/".join(path)] = _rule_name(path)

    index(data, ())
    return names


def snakefile(workflow: Workflow, source: str) -> str:
    jq_users = uses_jq(workflow)
    lines = [
        f"# Generated by yadage2x {__version__} from {source}: edit the yadage workflow and emit again.",
        "# Runs with Snakemake alone: snakemake --cores N [--config init='{...}' initdir=DIR]",
        "# --config stub=true: docker steps create the files their commands name instead of running.",
        "# Beside it: workflow.json (the workflow, yadage2x IR) and yadage2x_runtime.py (yadage's rules).",
        *(["# Runs jq programs (" + ", ".join(jq_users) + "): needs jq beside Snakemake (pip install jq, or the jq program)."] if jq_users else []),
        "import json",
        "import os",
        "import sys",
        "from pathlib import Path",
        "",
        "from snakemake.exceptions import IncompleteCheckpointException",
        "",
        "sys.path.insert(0, workflow.basedir)",
        "from yadage2x_runtime import Plan, publish, shell_command  # noqa: E402",
        "",
        '# the config beside the Snakefile, wherever snakemake --directory points',
        'configfile: os.path.join(workflow.basedir, "config.yaml")',
        SNAKEFILE_HELPERS,
    ]
    for rule in _rules(workflow):
        name, stage, steps = rule.name, rule.stage, rule.steps
        # a checkpoint only where the planner must read what the step wrote: a publisher that
        # yadage cannot prepublish; values that merely flow from such a stage are planned after it
        kind = "rule" if all(prepublishable(step.publisher) for step in steps) else "checkpoint"
        head = [
            f"{kind} {name}:  # stage '{stage.name}', {os.path.basename(stage.pos.file)} line {stage.pos.line}",
            *container_lines(steps),
            "    input: inputs_of",
            '    output: touch(done_file("{instance}"))',
            '    log: log_file("{instance}")',
            *resource_lines(merge([read_step(step)[0] for step in steps])),
        ]
        if all(step.pure_publishing for step in steps):
            # nothing runs: yadage only publishes (the planner does); a local rule marks it done
            lines += [f"localrules: {name}", "", *head, f'    wildcard_constraints: instance=r"{rule.regex}"',
                      '    shell: "mkdir -p {wildcards.instance:q}"', ""]
        else:
            lines += [*head, "    params: command=command_of", f'    wildcard_constraints: instance=r"{rule.regex}"',
                      '    shell: "{params.command}"', ""]
    return "\n".join(lines)


def workflow_profile(workflow: Workflow) -> str:
    """profiles/default/config.yaml: settings Snakemake reads by itself from beside the Snakefile."""
    lines = [
        "# Settings Snakemake reads by itself from beside the Snakefile (its workflow profile).",
        "# The jobs write no temp() files, which is all the default ILP scheduler optimises; the greedy",
        "# scheduler picks the same jobs without solving an ILP at every step (much faster on wide fans).",
        "scheduler: greedy",
    ]
    mounts = merge([read_step(step)[0] for rule in _rules(workflow) for step in rule.steps]).mounts
    if mounts:
        lines += ["# steps expect these host folders (CVMFS): bound into containers under --sdm apptainer",
                  f"apptainer-args: {json.dumps(' '.join(f'--bind {m}' for m in mounts))}"]
    return "\n".join(lines) + "\n"


def losses(workflow: Workflow) -> list[Loss]:
    """What the Snakefile cannot carry over, for the loss report (and --strict)."""
    found = []
    for rule in _rules(workflow):
        for step in rule.steps:
            found.extend(read_step(step)[1])
            if isinstance(step.environment, DockerEnvironment) and step.environment.env:
                found.append(Loss(step.environment.pos, "environment: env", "ignored, as packtivity's docker executor and REANA ignore it", "info"))
    return sorted(set(found), key=lambda loss: (loss.pos, loss.construct))


def emit(workflow: Workflow, source: str, outdir: Path, initdata: dict | None, initdir: str | None, strict: bool = False) -> tuple[list[Path], list[Loss]]:
    """Write the workflow into outdir; return the files written and the losses (also written to
    loss-report.json). With strict, any loss is an error and nothing is written."""
    problems = unsupported(workflow)
    lost = losses(workflow)
    if strict:
        problems += [Problem(loss.pos, f"snakemake --strict: {loss.construct}: {loss.reason}") for loss in lost]
    if problems:
        raise SpecError(problems)
    outdir.mkdir(parents=True, exist_ok=True)
    data = planner_json(workflow)
    files = {
        "Snakefile": snakefile(workflow, source),
        "config.yaml": json.dumps({"init": initdata or {}, "initdir": initdir}, indent=2, sort_keys=True) + "\n",
        "workflow.json": json.dumps({"workflow": data, "rules": rule_names(data)}, indent=1, sort_keys=True) + "\n",
        "yadage2x_runtime.py": resources.files("yadage2x").joinpath("runtime.py").read_text(encoding="utf-8"),
        "loss-report.json": loss_report("snakemake", lost),
        "profiles/default/config.yaml": workflow_profile(workflow),
        "profiles/slurm/config.yaml": slurm_profile(),
    }
    return write_files(outdir, files), lost
