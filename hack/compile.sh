#!/usr/bin/env bash
# The decider's hot modules (pyproject.toml's `[tool.suanli] compiled`) compiled with mypyc, in
# place: the .so files sit beside their sources in operator/suanli, and Python imports them
# instead. Run again after editing one of them (the tests refuse a compiled module older than its
# source); `--clean` removes them, for pure Python.
#
#   hack/compile.sh [--clean]               the checkout's operator/, with its .venv
#   PYTHON=T hack/compile.sh --in DIR --for P
#       suanli as installed under DIR (the site-packages of the interpreter P), compiled by the
#       mypy of the interpreter T, kept apart from P's (say, an image's build stage; needs a C
#       compiler and P's Python headers)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=operator
case ${1:-} in
  --clean)
    find operator -name '*.so' -delete
    rm -rf operator/build
    exit 0
    ;;
  --in) root=$2 ;;
esac
flags=()
if [[ ${3:-} == --for ]]; then
  flags=(--python-executable "$4")  # whose installed packages the modules import
fi
python=${PYTHON:-$PWD/.venv/bin/python}  # the checkout's virtualenv (hack/test.sh makes it)
mapfile -t modules < <("$python" -c 'import tomllib
print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["tool"]["suanli"]["compiled"]))')
if [[ $root == operator ]]; then
  cd operator
else
  # Compiled in a copy of the package: mypy would take the other modules of site-packages for
  # the project's own. The extensions (and mypyc's shared library) are copied back.
  into=$root
  root=$(mktemp -d)
  cp -r "$into/suanli" "$root/"
  cd "$root"
fi
log=build/compile.log
mkdir -p build
MYPYC_OPT_LEVEL=3 "$python" -m mypyc "${flags[@]}" "${modules[@]}" >"$log" 2>&1 || { cat "$log"; exit 1; }
if [[ -n ${into:-} ]]; then
  cp ./*.so "$into/"
  (cd suanli && find . -name '*.so' -exec cp --parents {} "$into/suanli/" \;)
  rm -rf "$root"
fi
