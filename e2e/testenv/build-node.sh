#!/usr/bin/env bash
# Builds the cluster tier's node set from Go modules: kubelet, kube-proxy, kube-scheduler, CoreDNS and the CNCF
# distribution registry, into the same version-keyed cache as build.sh but from wrappers of their own
# (e2e/testenv/node-tools/<name>/), so that the fast tier's `make testenv` neither grows nor changes key.
#
#   e2e/testenv/build-node.sh            build what is missing, print the bin folder on the last line
#   e2e/testenv/build-node.sh --print    only print the bin folder (no build)
#
# The cache key of each binary is a hash of its wrapper's go.mod, go.sum and this script (build.sh's scheme:
# kept apart from it because build.sh's own hash is in every fast-tier key).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools="$here/node-tools"
cache_root="${FLUXLINK_TESTENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gitlab-flux-link/testenv}"
export GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false

log() { printf '[testenv-node] %s\n' "$*" >&2; }

key() { cat "$tools/$1/go.mod" "$tools/$1/go.sum" "$here/build-node.sh" | sha256sum | cut -c1-16; }
version() { awk -v m="$2" '$1 == "require" && $2 == m {print $3} $1 == m {print $2}' "$tools/$1/go.mod" | head -n1; }
bin_dir() { echo "$cache_root/node-bin-$(for t in "$tools"/*/; do key "$(basename "$t")"; done | sha256sum | cut -c1-16)"; }

# build NAME OUT PACKAGE [LDFLAGS]
build() {
  local name=$1 out=$2 pkg=$3 ldflags=${4:-}
  local dest="$cache_root/node-$name-$(key "$name")"
  if [[ -x "$dest/$out" ]]; then
    log "$out: cached ($dest)"
  else
    mkdir -p "$dest"
    log "$out: building $pkg (cold builds take minutes on 2 cores)"
    local start=$SECONDS
    (cd "$tools/$name" && go build -trimpath -ldflags "-s -w $ldflags" -o "$dest/$out.tmp" "$pkg")
    mv "$dest/$out.tmp" "$dest/$out"
    log "$out: built in $((SECONDS - start)) s"
  fi
  # A hard link, not a symbolic one: the node container sees this folder through a bind mount, where a
  # symbolic link into the cache would dangle.
  ln -f "$dest/$out" "$BIN/$out"
}

BIN=$(bin_dir)
if [[ "${1:-}" == "--print" ]]; then echo "$BIN"; exit 0; fi
mkdir -p "$BIN"

kube=$(version kubernetes k8s.io/kubernetes)
minor=$(echo "$kube" | cut -d. -f2)
kube_ld="-X k8s.io/component-base/version.gitVersion=$kube -X k8s.io/component-base/version.gitMajor=1"
kube_ld+=" -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
kube_ld+=" -X k8s.io/client-go/pkg/version.gitVersion=$kube -X k8s.io/client-go/pkg/version.gitMajor=1"
kube_ld+=" -X k8s.io/client-go/pkg/version.gitMinor=$minor -X k8s.io/client-go/pkg/version.gitTreeState=clean"

build kubernetes kubelet k8s.io/kubernetes/cmd/kubelet "$kube_ld"
build kubernetes kube-proxy k8s.io/kubernetes/cmd/kube-proxy "$kube_ld"
build kubernetes kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler "$kube_ld"
build coredns coredns github.com/coredns/coredns
build distribution registry github.com/distribution/distribution/v3/cmd/registry
log "ready: $BIN"
echo "$BIN"
