#!/usr/bin/env bash
# The main job, end to end on an example, from a fresh machine: set up (.venv with the engines,
# and .venv-yadage with yadage itself), validate the example, draw its stage graph (Mermaid here,
# DOT into build/), compile it to Snakemake (build/demo-snakemake/), then run it with yadage and
# with the emitted Snakefile and compare what each publishes with the example's stored capture.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh demo
example=${1:-examples/helloworld}
.venv/bin/yadage2x validate "$example/workflow.yml" --inputs "$example/input.yml"
.venv/bin/yadage2x graph "$example/workflow.yml" --format mermaid
mkdir -p build
rm -rf build/demo-run  # yadage wants a fresh work directory
.venv/bin/yadage2x graph "$example/workflow.yml" --format dot -o build/graph.dot
echo "DOT graph written to build/graph.dot"
.venv/bin/yadage2x snakemake "$example/workflow.yml" --inputs "$example/input.yml" -o build/demo-snakemake
echo "Snakefile written to build/demo-snakemake/ (run it: snakemake -s build/demo-snakemake/Snakefile --directory RUNDIR --cores 2)"
.venv/bin/yadage2x check "$example/workflow.yml" --inputs "$example/input.yml" --engines yadage,snakemake \
  --expected "$example/capture.json" -w build/demo-run
