#!/usr/bin/env bash
# The main job, end to end on an example, from a fresh machine: set up, then validate the
# example workflow and draw its stage graph (Mermaid, and DOT into build/).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
example=${1:-examples/helloworld}
.venv/bin/yadage2x validate "$example/workflow.yml" --inputs "$example/input.yml"
.venv/bin/yadage2x graph "$example/workflow.yml" --format mermaid
mkdir -p build
.venv/bin/yadage2x graph "$example/workflow.yml" --format dot -o build/graph.dot
echo "DOT graph written to build/graph.dot"
