"""The corpus workflows that run here with yadage, how to run them, and their stored captures.

Run `python tests/corpus_runs.py` (scripts/capture-corpus.sh) to regenerate tests/captures/*.json
with yadage itself; the test suite re-runs each and compares. Paths are relative to
../shared/corpus. Workflows that need software this machine lacks (ROOT, MadGraph, Delphes) are
listed in docs/examples.md instead.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
CAPTURES = ROOT / "tests" / "captures"
SPECS = "yadage__yadage/tests/testspecs"

# name: (workflow, toplevel, init parameters, inputs file, init directory: corpus-relative, or a Path of ours)
RUNS: dict[str, tuple] = {
    "testspecs-local-helloworld": (f"{SPECS}/local-helloworld/workflow.yml", None, {"par": "World"}, None, None),
    "testspecs-mapreduce": (f"{SPECS}/mapreduce/workflow.yml", None, None, f"{SPECS}/mapreduce/input.yml", None),
    "testspecs-mapreduce_batched": (f"{SPECS}/mapreduce_batched/workflow.yml", None, None, f"{SPECS}/mapreduce_batched/input.yml", None),
    "testspecs-cartesian_mapreduce": (f"{SPECS}/cartesian_mapreduce/workflow.yml", None, None, f"{SPECS}/cartesian_mapreduce/input.yml", None),
    "testspecs-nested": (f"{SPECS}/nested/workflow.yml", None, None, f"{SPECS}/nested/input.yml", None),
    "testspecs-nestedmapreduce": (f"{SPECS}/nestedmapreduce/workflow.yml", None, None, f"{SPECS}/nestedmapreduce/input.yml", None),
    "testspecs-nestedmapreduce_regval": (f"{SPECS}/nestedmapreduce_regval/workflow.yml", None, None, f"{SPECS}/nestedmapreduce_regval/input.yml", None),
    "testspecs-registering_values": (f"{SPECS}/registering_values/workflow.yml", None, {"msg": "hello"}, None, None),
    "testspecs-jqwflow": (f"{SPECS}/jqwflow/workflow.yml", None, {"parone": ["a", "b", "c"]}, None, None),
    "testspecs-jqnodestruct": (f"{SPECS}/jqnodestruct/workflow.yml", None, None, f"{SPECS}/jqnodestruct/input.yml", None),
    # its init dir is ours: the testspec expects one with *.txt files and ships none
    "testspecs-stackednestings": (f"{SPECS}/stackednestings/workflow.yml", None, None, f"{SPECS}/stackednestings/input.yml", ROOT / "tests" / "fixtures" / "stackednestings-init"),
    "testspecs-mapreduce_parmount": (f"{SPECS}/mapreduce_parmount/workflow.yml", None, None, f"{SPECS}/mapreduce_parmount/input.yml", None),
    "yadage-schemas-mapreduce": ("yadage__yadage-schemas/tests/testspecs/mapreduce/workflow.yml", None, None, "yadage__yadage-schemas/tests/testspecs/mapreduce/input.yml", None),
    "yadage-schemas-local-helloworld-jsonref": ("yadage__yadage-schemas/tests/testspecs/local-helloworld-jsonref/workflow.yml", None, {"par": "World"}, None, None),
    "recast-atlas-helloworld-template": ("recast-hep__recast-atlas/src/recastatlas/data/templates/helloworld/specs/workflow.yml", None, {"name": "hello"}, None, None),
    "reana-demo-helloworld": (
        "reanahub__reana-demo-helloworld/workflow/yadage/workflow.yaml", None,
        {"sleeptime": 0, "inputfile": "data/names.txt", "helloworld": "code/helloworld.py"}, None,
        "reanahub__reana-demo-helloworld",
    ),
}


def check_args(name: str) -> list[str]:
    """The arguments of `yadage2x check` that run one corpus workflow."""
    workflow, toplevel, params, inputs, initdir = RUNS[name]
    args = [str(CORPUS / workflow)]
    if toplevel:
        args += ["-t", str(CORPUS / toplevel)]
    if inputs:
        args += ["--inputs", str(CORPUS / inputs)]
    for key, value in (params or {}).items():
        args += ["-p", f"{key}={value!r}" if not isinstance(value, str) else f"{key}={value}"]
    if initdir:
        args += ["--initdir", str(initdir if isinstance(initdir, Path) else CORPUS / initdir)]
    return args


def main() -> int:
    from click.testing import CliRunner

    from yadage2x.cli import main as cli

    CAPTURES.mkdir(exist_ok=True)
    for name in RUNS:
        result = CliRunner().invoke(cli, ["check", *check_args(name), "--expected", str(CAPTURES / f"{name}.json"), "--update"])
        print(name, result.output.strip().splitlines()[-1] if result.output.strip() else result.stderr, file=sys.stderr)
        if result.exit_code:
            return result.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
