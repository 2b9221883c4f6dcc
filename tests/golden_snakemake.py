"""Golden files of the Snakemake emitter: what `yadage2x snakemake` writes for a few examples.
`python tests/golden_snakemake.py` rewrites them (review the diff: it is the emitter's change)."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden" / "snakemake"
CASES = ["helloworld", "dynamic-mapreduce", "nested-mapreduce", "cases-static", "jq-stage"]
FILES = ["Snakefile", "config.yaml", "workflow.json", "loss-report.json", "profiles/default/config.yaml",
         "profiles/slurm/config.yaml"]  # yadage2x_runtime.py is a copy of runtime.py


def emit_case(name: str, outdir: Path) -> None:
    from yadage2x.emit.snakemake import emit
    from yadage2x.load import load_workflow
    from yadage2x.load.source import read_file

    example = ROOT / "examples" / name
    initdata = dict(read_file(example / "input.yml"))
    emit(load_workflow(example / "workflow.yml", None, initdata).workflow, "workflow.yml", outdir, initdata, None)


if __name__ == "__main__":
    for case in CASES:
        emit_case(case, GOLDEN / case)
        written = {str(p.relative_to(GOLDEN / case)) for p in (GOLDEN / case).rglob("*") if p.is_file()}
        for extra in written - set(FILES):
            (GOLDEN / case / extra).unlink()
        print("wrote", GOLDEN / case, file=sys.stderr)
