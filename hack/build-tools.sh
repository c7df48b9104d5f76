#!/usr/bin/env bash
# Builds the pinned control-plane tools (kube-apiserver, kube-controller-manager, kube-scheduler,
# kubectl, etcd, kwok, helm) from the Go module proxy into a cache folder keyed by the pins, and
# prints that folder. A second run with unchanged pins returns at once.
#
#   hack/build-tools.sh            build if needed, print the bin folder
#   hack/build-tools.sh --print    print the bin folder without building
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools="$here/tools"
cache_root=${SUANLI_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/suanli}

# The key covers every pin and this script, so changing either rebuilds.
pins_hash=$(cat "$0" "$tools"/*/go.mod "$tools"/*/go.sum | sha256sum | cut -c1-16)
bin="$cache_root/bin/$pins_hash"

if [[ "${1:-}" == "--print" ]]; then
  echo "$bin"
  exit 0
fi
if [[ -f "$bin/.complete" ]]; then
  echo "$bin"
  exit 0
fi

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
mkdir -p "$bin.partial"
log="$cache_root/build-$pins_hash.log"
: > "$log"

module_version() {  # module_version DIR MODULE -> the pinned version of MODULE in DIR/go.mod
  (cd "$tools/$1" && go list -m -f '{{.Version}}' "$2")
}

timed_build() {  # timed_build NAME DIR OUTPUT LDFLAGS PACKAGE...
  local name=$1 dir=$2 output=$3 ldflags=$4
  shift 4
  local start=$SECONDS
  echo "building $name ..." >&2
  (cd "$tools/$dir" && /usr/bin/time -f "$name: %e s wall, %M KiB peak RSS" -a -o "$log" \
    go build -trimpath -ldflags "-s -w $ldflags" -o "$output" "$@") >&2
  echo "built $name in $((SECONDS - start)) s" >&2
}

k8s_version=$(module_version kubernetes k8s.io/kubernetes)
k8s_minor=$(echo "$k8s_version" | cut -d. -f2)
k8s_ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor"
  k8s_ldflags+=" -X $pkg.gitTreeState=clean"
done

etcd_version=$(module_version etcd go.etcd.io/etcd/server/v3)
kwok_version=$(module_version kwok sigs.k8s.io/kwok)
helm_version=$(module_version helm helm.sh/helm/v3)

timed_build kubernetes kubernetes "$bin.partial/" "$k8s_ldflags" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
timed_build etcd etcd "$bin.partial/etcd" "" go.etcd.io/etcd/server/v3
timed_build kwok kwok "$bin.partial/kwok" "-X sigs.k8s.io/kwok/pkg/consts.Version=$kwok_version" sigs.k8s.io/kwok/cmd/kwok
timed_build helm helm "$bin.partial/helm" "-X helm.sh/helm/v3/internal/version.version=$helm_version" helm.sh/helm/v3/cmd/helm

cat > "$bin.partial/versions.txt" <<EOF
kubernetes $k8s_version
etcd $etcd_version
kwok $kwok_version
helm $helm_version
EOF
cat "$log" >&2
touch "$bin.partial/.complete"
rm -rf "$bin"
mv "$bin.partial" "$bin"
echo "$bin"
