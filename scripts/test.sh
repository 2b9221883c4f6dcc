#!/usr/bin/env bash
# The whole test suite, from a fresh machine: creates .venv (yadage2x and its test dependencies)
# and .venv-yadage (yadage, the reference), starts a Docker engine for the tests that run steps
# in containers (scripts/docker.sh; stopped again at the end), runs pytest. Extra arguments go
# to pytest (e.g. scripts/test.sh -k corpus).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh test
scripts/docker.sh up
trap 'scripts/docker.sh down' EXIT
YADAGE2X_DOCKER=1 .venv/bin/python -m pytest "$@"
