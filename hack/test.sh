#!/usr/bin/env bash
# The whole test suite on a fresh machine: install, build the pinned control-plane tools (cached),
# run the static checks, then the unit tests and the integration tests against a real control
# plane that the tests start and stop themselves.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source hack/lib.sh

ensure_venv
bash hack/compile.sh  # the decider's hot modules compiled with mypyc (pyproject.toml)
bin_dir=$(ensure_tools)
ensure_chromium
echo "control-plane tools: $bin_dir ($(tr '\n' ' ' < "$bin_dir/versions.txt"))"

echo "== static checks"
ruff check .
ruff format --check .
mypy
lint-imports
bash hack/verify.sh

echo "== unit tests, then integration tests against the local control plane"
exec python -m pytest tests/unit tests/integration "$@"
