#!/usr/bin/env bash
# The whole test suite, from a fresh machine: creates .venv (yadage2x and its test dependencies)
# and .venv-yadage (yadage, the reference), starts a Docker engine for the tests that run steps
# in containers (scripts/docker.sh: Debian's docker.io, needs root; stopped again at the end),
# runs pytest. Extra arguments go to pytest (e.g. scripts/test.sh -k corpus).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh test
if scripts/docker.sh up; then
  trap 'scripts/docker.sh down' EXIT
  export YADAGE2X_DOCKER=1
elif [ -n "${CI:-}" ]; then
  echo "CI: the Docker engine must start" >&2
  exit 1
else
  echo "Docker could not be started here (root is needed): the tests that run steps in containers are skipped" >&2
fi
.venv/bin/python -m pytest "$@"
