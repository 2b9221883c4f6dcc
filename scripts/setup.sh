# Sourced by the other scripts: make .venv (once) and install the project into it, editable.
# `source scripts/setup.sh demo` adds the engines (Snakemake, cwltool) and yadage itself;
# `source scripts/setup.sh test` also installs the test dependencies and yadage itself, in a
# virtual environment of its own (.venv-yadage: yadage pins jsonschema<=4.9.1, which would break
# snakemake), as the reference that tests compare against.
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
extras=""
if [ "${1:-}" = "test" ]; then extras="[test]"; fi
if [ "${1:-}" = "demo" ]; then extras="[engines]"; fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras}"
if [ "${1:-}" = "test" ] || [ "${1:-}" = "yadage" ] || [ "${1:-}" = "demo" ]; then
  if [ ! -x .venv-yadage/bin/yadage-run ]; then
    "$python" -m venv .venv-yadage
  fi
  # the versions the captures were made with (yadage-spec.md: PyPI releases read and verified)
  .venv-yadage/bin/python -m pip install --quiet --disable-pip-version-check \
    "yadage==0.21.2" "packtivity==0.17.1" "yadage-schemas==0.11.1" "adage==0.11.0"
fi
if [ "${1:-}" = "test" ]; then
  # reana-client and recast-atlas validate the deposits' reana.yaml and recast.yml (tests/test_archive.py);
  # they pin old jsonschema/yadage-schemas, so they get a virtual environment of their own
  if [ ! -x .venv-validators/bin/recast ]; then
    "$python" -m venv .venv-validators
  fi
  .venv-validators/bin/python -m pip install --quiet --disable-pip-version-check "reana-client==0.9.6" "recast-atlas==0.4.2"
fi
if [ "${1:-}" = "test" ]; then
  # the real CAP command-line client, run against `recast-archive serve` (tests/test_portal_capclient.py);
  # kept apart so its pins can never move ours
  if [ ! -x .venv-capclient/bin/cap-client ]; then
    "$python" -m venv .venv-capclient
  fi
  .venv-capclient/bin/python -m pip install --quiet --disable-pip-version-check "cap-client==1.4"
fi
if [ "${1:-}" = "test" ]; then
  # the emitted Snakefiles must run with Snakemake 8 too (tests/test_snakemake.py runs a few there)
  if [ ! -x .venv-snakemake8/bin/snakemake ]; then
    "$python" -m venv .venv-snakemake8
  fi
  .venv-snakemake8/bin/python -m pip install --quiet --disable-pip-version-check "snakemake>=8,<9" "jq>=1.6"
fi
if [ "${1:-}" = "test" ]; then
  # toil-cwl-runner runs the emitted CWL (tests/test_cwl.py); toil pins cwltool exactly and caps
  # requests and ruamel.yaml, so it gets a virtual environment of its own
  if [ ! -x .venv-toil/bin/toil-cwl-runner ]; then
    "$python" -m venv .venv-toil
  fi
  .venv-toil/bin/python -m pip install --quiet --disable-pip-version-check "toil[cwl]==9.6.0"
  # cwltool and toil evaluate the emitted workflows' JavaScript with node.js (else they would pull
  # a node image): Debian's nodejs where it is missing and we may install it
  if ! command -v node >/dev/null && ! command -v nodejs >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs >/dev/null
  fi
fi
