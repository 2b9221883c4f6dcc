#!/usr/bin/env bash
# Regenerate tests/captures/*.json: the runnable corpus workflows run with yadage itself.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh test
exec .venv/bin/python tests/corpus_runs.py
