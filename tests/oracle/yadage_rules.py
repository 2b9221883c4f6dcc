"""Run inside .venv-yadage: evaluates yadage's and packtivity's own functions on JSON cases read
from standard input, and writes their answers (or the exception's type) as JSON lines.
The differential tests (tests/test_runtime.py) compare yadage2x.runtime with these answers."""
import json
import sys

import packtivity.handlers.process_handlers as processes
import packtivity.handlers.publisher_handlers as publishers
from packtivity.statecontexts.posixfs_context import LocalFSState
from packtivity.typedleafs import TypedLeafs
from yadage.handlers.expression_handlers import combine_outputs
from yadage.handlers.scheduler_handlers import scatter


def state(case):
    return LocalFSState(readwrite=[case["workdir"]] if case.get("workdir") else [], readonly=case.get("readdirs", []))


def answer(case):
    kind = case["kind"]
    if kind == "render":
        job = processes.handlers["string-interpolated-cmd"]["default"]({"cmd": case["template"]}, TypedLeafs(case["parameters"]), None)
        return job["command"]
    if kind == "contextualise":
        return state(case).model(TypedLeafs(case["parameters"])).typed()
    if kind == "scatter":
        spec = {"method": case["method"], "parameters": case["names"]}
        return scatter(case["parameters"], spec, case.get("batchsize"), case.get("partitionsize"))
    if kind == "combine":
        return combine_outputs(case["results"], case["flatten"], case["unwrap"])
    if kind == "case":  # yadage's step_or_stages: Python truth of the first jq output
        return bool(TypedLeafs(case["parameters"]).jq(case["condition"]).json())
    if kind == "jqtext":  # packtivity's par_mounts file
        import jq

        return jq.jq(case["program"]).transform(case["parameters"], text_output=True)
    if kind == "publish":
        handler = publishers.handlers[case["publisher"]["publisher_type"]]["default"]
        result = handler(case["publisher"], TypedLeafs(case["parameters"]), state(case))
        return result.typed() if hasattr(result, "typed") else result
    raise ValueError(kind)


for line in sys.stdin:
    case = json.loads(line)
    try:
        print(json.dumps({"value": answer(case)}, sort_keys=True))
    except Exception as exc:  # the kind of failure is part of the behaviour
        print(json.dumps({"error": type(exc).__name__}))
