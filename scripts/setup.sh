# Sourced by the other scripts: make .venv (once) and install the project into it, editable.
# `source scripts/setup.sh test` also installs the test dependencies.
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
extras=""
if [ "${1:-}" = "test" ]; then extras="[test]"; fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras}"
