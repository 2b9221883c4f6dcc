#!/usr/bin/env bash
# The whole test suite, from a fresh machine: creates .venv, installs yadage2x with its test
# dependencies, runs pytest. Extra arguments go to pytest (e.g. scripts/test.sh -k corpus).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh test
exec .venv/bin/python -m pytest "$@"
