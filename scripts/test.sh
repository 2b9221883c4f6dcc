#!/usr/bin/env bash
# The whole test suite, from a fresh machine: creates .venv (yadage2x and its test dependencies)
# and .venv-yadage (yadage, the reference), starts a Docker engine for the tests that run steps
# in containers (scripts/docker.sh: Debian's docker.io, needs root; stopped again at the end)
# and a SLURM cluster for the cluster tests (scripts/slurm.sh), runs pytest. Extra arguments go
# to pytest (e.g. scripts/test.sh -k corpus).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh test
stop=":"  # what the EXIT trap stops, in reverse order of starting
trap 'eval "$stop"' EXIT
# start_service WHAT SCRIPT VARIABLE TESTS: SCRIPT up, stopped at exit; VARIABLE=1 tells the tests.
# In CI it must start; elsewhere (not root) the tests that need it are skipped.
start_service() {
  if "$2" up; then
    stop="$2 down; $stop"
    export "$3=1"
  elif [ -n "${CI:-}" ]; then
    echo "CI: $1 must start" >&2
    exit 1
  else
    echo "$1 could not be started here (root is needed): $4 are skipped" >&2
  fi
}
start_service "the Docker engine" scripts/docker.sh YADAGE2X_DOCKER "the tests that run steps in containers"
# a one-node SLURM cluster on loopback (Debian's slurm-wlm, munge, slurmdbd and MariaDB)
start_service "the SLURM cluster" scripts/slurm.sh YADAGE2X_SLURM "the cluster tests (tests/test_slurm.py)"
.venv/bin/python -m pytest "$@"
