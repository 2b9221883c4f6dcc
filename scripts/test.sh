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
if scripts/docker.sh up; then
  stop="scripts/docker.sh down; $stop"
  export YADAGE2X_DOCKER=1
elif [ -n "${CI:-}" ]; then
  echo "CI: the Docker engine must start" >&2
  exit 1
else
  echo "Docker could not be started here (root is needed): the tests that run steps in containers are skipped" >&2
fi
# a one-node SLURM cluster on loopback for tests/test_slurm.py (scripts/slurm.sh: Debian's
# slurm-wlm, munge, slurmdbd and MariaDB, needs root; stopped again at the end)
if scripts/slurm.sh up; then
  stop="scripts/slurm.sh down; $stop"
  export YADAGE2X_SLURM=1
elif [ -n "${CI:-}" ]; then
  echo "CI: the SLURM cluster must start" >&2
  exit 1
else
  echo "SLURM could not be started here (root is needed): the cluster tests are skipped" >&2
fi
.venv/bin/python -m pytest "$@"
