#!/usr/bin/env bash
# Builds the pinned Kueue manager (hack/peers/kueue) for the side-by-side queue benchmark into a
# cache folder keyed by its pin, and prints the binary's path. Not needed by the tests, so it
# has its own key: changing it never rebuilds the control-plane tools.
#
#   hack/build-kueue.sh            build if needed, print the binary
#   hack/build-kueue.sh --print    print the binary's path without building
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
module="$here/peers/kueue"
cache_root=${SUANLI_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/suanli}
pin_hash=$(cat "$0" "$module/go.mod" "$module/go.sum" | sha256sum | cut -c1-16)
bin="$cache_root/peers/$pin_hash/kueue"

if [[ "${1:-}" == "--print" || -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi
mkdir -p "$(dirname "$bin")"
exec 9> "$cache_root/peers/build.lock"
flock 9
if [[ ! -x "$bin" ]]; then
  echo "building kueue ..." >&2
  start=$SECONDS
  (cd "$module" && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod \
    go build -trimpath -ldflags "-s -w" -o "$bin.partial" sigs.k8s.io/kueue/cmd/kueue) >&2
  mv "$bin.partial" "$bin"
  echo "built kueue in $((SECONDS - start)) s" >&2
fi
echo "$bin"
