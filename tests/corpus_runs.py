"""The corpus workflows that run here with yadage, how to run them, and their stored captures.

Run `python tests/corpus_runs.py` (scripts/capture-corpus.sh) to regenerate tests/captures/*.json
with yadage itself; the test suite re-runs each and compares. Paths are relative to
../shared/corpus. Workflows that need software this machine lacks (ROOT, MadGraph, Delphes) are
listed in docs/examples.md instead.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
CAPTURES = ROOT / "tests" / "captures"
SPECS = "yadage__yadage/tests/testspecs"

@dataclass(frozen=True)
class Run:
    workflow: str  # relative to the corpus
    toplevel: str | None = None
    params: dict | None = None
    inputs: str | None = None
    initdir: str | Path | None = None  # relative to the corpus, or a Path of ours
    stub: bool = False  # software not here: steps create the files they name instead of running


RUNS: dict[str, Run] = {
    "testspecs-local-helloworld": Run(f"{SPECS}/local-helloworld/workflow.yml", params={"par": "World"}),
    "testspecs-mapreduce": Run(f"{SPECS}/mapreduce/workflow.yml", inputs=f"{SPECS}/mapreduce/input.yml"),
    "testspecs-mapreduce_batched": Run(f"{SPECS}/mapreduce_batched/workflow.yml", inputs=f"{SPECS}/mapreduce_batched/input.yml"),
    "testspecs-cartesian_mapreduce": Run(f"{SPECS}/cartesian_mapreduce/workflow.yml", inputs=f"{SPECS}/cartesian_mapreduce/input.yml"),
    "testspecs-nested": Run(f"{SPECS}/nested/workflow.yml", inputs=f"{SPECS}/nested/input.yml"),
    "testspecs-nestedmapreduce": Run(f"{SPECS}/nestedmapreduce/workflow.yml", inputs=f"{SPECS}/nestedmapreduce/input.yml"),
    "testspecs-nestedmapreduce_regval": Run(f"{SPECS}/nestedmapreduce_regval/workflow.yml", inputs=f"{SPECS}/nestedmapreduce_regval/input.yml"),
    "testspecs-registering_values": Run(f"{SPECS}/registering_values/workflow.yml", params={"msg": "hello"}),
    "testspecs-jqwflow": Run(f"{SPECS}/jqwflow/workflow.yml", params={"parone": ["a", "b", "c"]}),
    "testspecs-jqnodestruct": Run(f"{SPECS}/jqnodestruct/workflow.yml", inputs=f"{SPECS}/jqnodestruct/input.yml"),
    # its init dir is ours: the testspec expects one with *.txt files and ships none
    "testspecs-stackednestings": Run(f"{SPECS}/stackednestings/workflow.yml", inputs=f"{SPECS}/stackednestings/input.yml",
                                     initdir=ROOT / "tests" / "fixtures" / "stackednestings-init"),
    "testspecs-mapreduce_parmount": Run(f"{SPECS}/mapreduce_parmount/workflow.yml", inputs=f"{SPECS}/mapreduce_parmount/input.yml"),
    "yadage-schemas-mapreduce": Run("yadage__yadage-schemas/tests/testspecs/mapreduce/workflow.yml",
                                    inputs="yadage__yadage-schemas/tests/testspecs/mapreduce/input.yml"),
    "yadage-schemas-local-helloworld-jsonref": Run("yadage__yadage-schemas/tests/testspecs/local-helloworld-jsonref/workflow.yml", params={"par": "World"}),
    "recast-atlas-helloworld-template": Run("recast-hep__recast-atlas/src/recastatlas/data/templates/helloworld/specs/workflow.yml", params={"name": "hello"}),
    "reana-demo-helloworld": Run("reanahub__reana-demo-helloworld/workflow/yadage/workflow.yaml",
                                 params={"sleeptime": 0, "inputfile": "data/names.txt", "helloworld": "code/helloworld.py"},
                                 initdir="reanahub__reana-demo-helloworld"),
    # ROOT and ATLAS software are not here: the structure runs end to end with stub steps
    "reana-demo-root6-roofit-stub": Run("reanahub__reana-demo-root6-roofit/workflow/yadage/workflow.yaml",
                                        params={"events": 20000, "gendata": "code/gendata.C", "fitdata": "code/fitdata.C"},
                                        initdir="reanahub__reana-demo-root6-roofit", stub=True),
    "reana-demo-bsm-search-stub": Run("workflow/databkgmc.yml", toplevel="reanahub__reana-demo-bsm-search", stub=True),
    "reana-demo-atlas-recast-stub": Run("workflow/workflow.yml", toplevel="reanahub__reana-demo-atlas-recast",
                                        inputs="reanahub__reana-demo-atlas-recast/workflow/test_inputs/inp1.yml", stub=True),
}


def check_args(name: str) -> list[str]:
    """The arguments of `yadage2x check` that run one corpus workflow."""
    run = RUNS[name]
    args = [run.workflow if run.toplevel else str(CORPUS / run.workflow)]
    if run.toplevel:
        args += ["-t", str(CORPUS / run.toplevel)]
    if run.inputs:
        args += ["--inputs", str(CORPUS / run.inputs)]
    for key, value in (run.params or {}).items():
        args += ["-p", f"{key}={json.dumps(value)}"]
    if run.initdir:
        args += ["--initdir", str(run.initdir if isinstance(run.initdir, Path) else CORPUS / run.initdir)]
    if run.stub:
        args.append("--stub")
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
