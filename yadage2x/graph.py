"""The stage graph, before anything runs: DOT and Mermaid text.

Every scope (the workflow, each sub-workflow) is a cluster holding its init and its stages.
Data edges come from references (solid), scheduling-only dependencies from `dependencies`
(dotted: yadage does not order execution by them). Scattered stages say how they scatter;
stages whose fan-out or result is dynamic are drawn dashed and marked, with the reason in DOT's
tooltip, so that what will need a checkpoint is visible before running.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .ir import Cases, FromValue, Ref, Stage, Workflow
from .scope import select

@dataclass
class Node:
    id: str
    label: str
    dynamic: bool = False
    tooltip: str = ""


@dataclass
class Cluster:
    id: str
    label: str
    nodes: list[Node] = field(default_factory=list)
    clusters: list["Cluster"] = field(default_factory=list)


@dataclass
class Graph:
    root: Cluster
    edges: list[tuple[str, str, str]] = field(default_factory=list)  # (from, to, 'data'|'order')


def _node_id(path: tuple[str, ...]) -> str:
    return "n_" + "__".join("".join(c if c.isalnum() else "_" for c in p) for p in path)


def stage_label(stage: Stage) -> str:
    lines = [stage.name]
    if stage.scatter:
        how = f"{stage.scatter.method} over {', '.join(stage.scatter.parameters)}"
        if stage.scatter.batchsize:
            how += f", batches of {stage.scatter.batchsize}"
        if stage.scatter.partitionsize:
            how += f", {stage.scatter.partitionsize} parts"
        lines.append(how)
    elif stage.jq:
        lines.append("jq-stage")
    if isinstance(stage.body, Cases):
        lines.append(f"{len(stage.body.cases)} cases")
    if stage.marks.dynamic:
        lines.append("dynamic " + ("fan-out" if stage.marks.fanout == "dynamic" else "result"))
    return "\n".join(lines)


def build_graph(workflow: Workflow) -> Graph:
    graph = Graph(Cluster(_node_id(("workflow",)), "workflow"))
    ids: dict[int, str] = {}

    def add_scope(wf: Workflow, path: tuple[str, ...], cluster: Cluster) -> None:
        init_id = _node_id(path + ("init",))
        ids[id(wf)] = init_id
        cluster.nodes.append(Node(init_id, "init"))
        for stage in wf.stages:
            sid = _node_id(path + (stage.name,))
            ids[id(stage)] = sid
            inner = stage.sub_workflows()
            if inner:
                sub = Cluster(sid, stage_label(stage))
                cluster.clusters.append(sub)
                for k, wf_inner in enumerate(inner):
                    add_scope(wf_inner, path + (stage.name,) + ((f"case{k}",) if len(inner) > 1 else ()), sub)
            else:
                cluster.nodes.append(Node(sid, stage_label(stage), stage.marks.dynamic, "; ".join(stage.marks.reasons)))

    def target_id(target) -> str:
        return ids[id(target.scope)] if target.stage is None else ids[id(target.stage)]

    def add_edges(wf: Workflow) -> None:
        for stage in wf.stages:
            inner = stage.sub_workflows()
            # data flows into a sub-workflow through its init
            sinks = [ids[id(i)] for i in inner] or [ids[id(stage)]]
            for param in stage.parameters:
                value = param.value
                if isinstance(value, Ref):
                    for target in select(wf, value.selector).targets:
                        for sink in sinks:
                            graph.edges.append((target_id(target), sink, "data"))
                elif isinstance(value, FromValue):
                    for sink in sinks:
                        graph.edges.append((ids[id(wf)], sink, "data"))
            if stage.dependencies.kind == "jsonpath_ready":
                for expr in stage.dependencies.expressions:
                    for target in select(wf, expr).targets:
                        edge = (target_id(target), sinks[0])
                        if edge + ("data",) not in graph.edges:
                            graph.edges.append(edge + ("order",))
            for wf_inner in inner:
                add_edges(wf_inner)

    add_scope(workflow, (), graph.root)
    add_edges(workflow)
    graph.edges = list(dict.fromkeys(graph.edges))
    return graph


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(workflow: Workflow) -> str:
    graph = build_graph(workflow)
    out = ["digraph workflow {", "  rankdir=TB;", "  compound=true;", '  node [shape=box, style="rounded"];']

    def cluster(c: Cluster, indent: str) -> None:
        for node in c.nodes:
            attrs = [f"label={_dot_quote(node.label)}"]
            if node.label == "init":
                attrs.append("shape=ellipse")
            if node.dynamic:
                attrs += ['style="rounded,dashed"', "color=firebrick", f"tooltip={_dot_quote(node.tooltip)}"]
            out.append(f"{indent}{node.id} [{', '.join(attrs)}];")
        for sub in c.clusters:
            out.append(f"{indent}subgraph cluster_{sub.id} {{")
            out.append(f"{indent}  label={_dot_quote(sub.label)};")
            cluster(sub, indent + "  ")
            out.append(f"{indent}}}")

    cluster(graph.root, "  ")
    # DOT edges join nodes: an edge to or from a sub-workflow is drawn from its init node,
    # clipped at the cluster's border (compound=true with ltail/lhead)
    inits: dict[str, str] = {}

    def index(c: Cluster) -> None:
        for sub in c.clusters:
            inits[sub.id] = sub.nodes[0].id if sub.nodes else sub.id
            index(sub)

    index(graph.root)
    for src, dst, kind in graph.edges:
        attrs = ["style=dotted"] if kind == "order" else []
        if src in inits:
            attrs.append(f"ltail=cluster_{src}")
            src = inits[src]
        out.append(f"  {src} -> {dst}{' [' + ', '.join(attrs) + ']' if attrs else ''};")
    out.append("}")
    return "\n".join(out) + "\n"


def _mermaid_text(text: str) -> str:
    return '"' + text.replace('"', "#quot;").replace("\n", "<br/>") + '"'


def to_mermaid(workflow: Workflow) -> str:
    graph = build_graph(workflow)
    out = ["flowchart TB"]
    dynamic: list[str] = []

    def cluster(c: Cluster, indent: str) -> None:
        for node in c.nodes:
            shape = ("([", "])") if node.label == "init" else ("[", "]")
            out.append(f"{indent}{node.id}{shape[0]}{_mermaid_text(node.label)}{shape[1]}")
            if node.dynamic:
                dynamic.append(node.id)
        for sub in c.clusters:
            out.append(f"{indent}subgraph {sub.id} [{_mermaid_text(sub.label)}]")
            cluster(sub, indent + "  ")
            out.append(f"{indent}end")

    cluster(graph.root, "  ")
    for src, dst, kind in graph.edges:
        out.append(f"  {src} {'-.->' if kind == 'order' else '-->'} {dst}")
    if dynamic:
        out.append("  classDef dynamic stroke:#b22222,stroke-dasharray:5 5")
        out.append(f"  class {','.join(dynamic)} dynamic")
    return "\n".join(out) + "\n"
