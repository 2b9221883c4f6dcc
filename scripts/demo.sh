#!/usr/bin/env bash
# The main job, end to end on an example, from a fresh machine: set up (.venv, and .venv-yadage
# with yadage itself), validate the example, draw its stage graph (Mermaid here, DOT into
# build/), then run it with yadage and compare what it publishes with its stored capture.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh yadage
example=${1:-examples/helloworld}
.venv/bin/yadage2x validate "$example/workflow.yml" --inputs "$example/input.yml"
.venv/bin/yadage2x graph "$example/workflow.yml" --format mermaid
mkdir -p build
rm -rf build/demo-run  # yadage wants a fresh work directory
.venv/bin/yadage2x graph "$example/workflow.yml" --format dot -o build/graph.dot
echo "DOT graph written to build/graph.dot"
.venv/bin/yadage2x check "$example/workflow.yml" --inputs "$example/input.yml" \
  --expected "$example/capture.json" -w build/demo-run
