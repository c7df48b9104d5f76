#!/usr/bin/env bash
# Generated files must match their sources: regenerate into a scratch copy and compare.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
py=${PYTHON:-.venv/bin/python}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
stale=0
check() {  # check FILE COMMAND...: FILE must equal what COMMAND prints
  local file=$1
  shift
  "$@" > "$scratch/out"
  if ! cmp -s "$scratch/out" "$file"; then
    echo "out of date: $file (run: make generate)" >&2
    diff -u "$file" "$scratch/out" | head -20 >&2 || true
    stale=1
  fi
}
check crds/suanli.dev_computejobs.yaml "$py" -m suanli.api.crd
check crds/suanli.dev_computequeues.yaml "$py" -m suanli.api.crd computequeues
check charts/suanli/templates/crd-computejobs.yaml "$py" -m tests.unit.chart.crd_template
check charts/suanli/templates/crd-computequeues.yaml "$py" -m tests.unit.chart.crd_template computequeues
check docs/api.md "$py" -m suanli.api.reference
cp docs/configuration.md "$scratch/configuration.md"
"$py" -m tests.unit.chart.configdoc --write
if ! cmp -s docs/configuration.md "$scratch/configuration.md"; then
  echo "out of date: docs/configuration.md (run: make generate)" >&2
  cp "$scratch/configuration.md" docs/configuration.md
  stale=1
fi
exit $stale
