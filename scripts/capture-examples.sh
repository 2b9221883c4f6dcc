#!/usr/bin/env bash
# Regenerate every example's expected result (examples/<name>/capture.json) by running it with
# yadage itself. The only way these files are made: never edit them by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh test
for dir in examples/*/; do
  name=$(basename "$dir")
  args=(--inputs "$dir/input.yml")
  if [ -d "$dir/inputs" ]; then args+=(--initdir "$dir/inputs"); fi
  .venv/bin/yadage2x check "$dir/workflow.yml" "${args[@]}" --expected "$dir/capture.json" --update
done
