"""Golden files of the CWL emitter: what `yadage2x cwl` writes for a few examples.
`python tests/golden_cwl.py` rewrites them (review the diff: it is the emitter's change)."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden" / "cwl"
# (case, example, split): packed and split layouts; scatter, batching, sub-workflows, registered values
CASES = {
    "helloworld": ("helloworld", False),
    "mapreduce-zip": ("mapreduce-zip", False),
    "batching": ("batching", False),
    "nested-mapreduce": ("nested-mapreduce", False),
    "nested-mapreduce-split": ("nested-mapreduce", True),
    "registered-values": ("registered-values", False),
}


def emit_case(name: str, outdir: Path) -> list[Path]:
    from yadage2x.emit.cwl import emit
    from yadage2x.load import load_workflow
    from yadage2x.load.source import read_file

    example, split = CASES[name]
    folder = ROOT / "examples" / example
    initdata = dict(read_file(folder / "input.yml"))
    written, _ = emit(load_workflow(folder / "workflow.yml", None, initdata).workflow, "workflow.yml", outdir, initdata, None, split=split)
    return written


if __name__ == "__main__":
    for case in CASES:
        shutil.rmtree(GOLDEN / case, ignore_errors=True)
        emit_case(case, GOLDEN / case)
        print("wrote", GOLDEN / case, file=sys.stderr)
