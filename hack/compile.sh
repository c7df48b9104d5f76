#!/usr/bin/env bash
# The decider's hot modules (pyproject.toml's `[tool.suanli] compiled`) compiled with mypyc, in
# place: the .so files sit beside their sources in operator/suanli, and Python imports them
# instead. Run again after editing one of them (the tests refuse a compiled module older than its
# source); `--clean` removes them, for pure Python.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ ${1:-} == --clean ]]; then
  find operator -name '*.so' -delete
  rm -rf operator/build
  exit 0
fi
python=$PWD/.venv/bin/python  # the checkout's virtualenv (hack/test.sh makes it)
mapfile -t modules < <("$python" -c 'import tomllib
print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["tool"]["suanli"]["compiled"]))')
cd operator
log=build/compile.log
mkdir -p build
MYPYC_OPT_LEVEL=3 "$python" -m mypyc "${modules[@]}" >"$log" 2>&1 || { cat "$log"; exit 1; }
