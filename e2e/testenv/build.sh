#!/usr/bin/env bash
# Builds the test ground's binaries from Go modules into a version-keyed cache outside the work tree.
#
#   e2e/testenv/build.sh            build what is missing, print the bin folder on the last line
#   e2e/testenv/build.sh --print    only print the bin folder (no build)
#
# Each wrapper module under e2e/testenv/tools/<name>/ pins one upstream module (go.mod + go.sum are
# committed). The cache key is a hash of the wrapper's go.mod, go.sum and this script, so a version bump
# rebuilds and an unchanged tree reuses the binaries: a warm run only hashes a few files.
# KUBEBUILDER_ASSETS (the envtest convention) may supply etcd and kube-apiserver (and kubectl).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools="$here/tools"
cache_root="${FLUXLINK_TESTENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gitlab-flux-link/testenv}"
export GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false

log() { printf '[testenv] %s\n' "$*" >&2; }

# key NAME -> short hash of everything that decides the wrapper's output
key() {
  cat "$tools/$1/go.mod" "$tools/$1/go.sum" "$here/build.sh" | sha256sum | cut -c1-16
}

# version NAME MODULE -> the version the wrapper requires
version() {
  awk -v m="$2" '$1 == "require" && $2 == m {print $3} $1 == m {print $2}' "$tools/$1/go.mod" | head -n1
}

bin_dir() { echo "$cache_root/bin-$(for t in "$tools"/*/; do key "$(basename "$t")"; done | sha256sum | cut -c1-16)"; }

# build NAME OUT PACKAGE [LDFLAGS]
build() {
  local name=$1 out=$2 pkg=$3 ldflags=${4:-}
  local dest="$cache_root/$name-$(key "$name")"
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
  ln -sfn "$dest/$out" "$BIN/$out"
}

# link_asset NAME: take a binary from KUBEBUILDER_ASSETS instead of building it
link_asset() {
  if [[ -n "${KUBEBUILDER_ASSETS:-}" && -x "$KUBEBUILDER_ASSETS/$1" ]]; then
    ln -sfn "$KUBEBUILDER_ASSETS/$1" "$BIN/$1"
    log "$1: from KUBEBUILDER_ASSETS ($KUBEBUILDER_ASSETS)"
    return 0
  fi
  return 1
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

link_asset etcd || build etcd etcd go.etcd.io/etcd/server/v3
link_asset kube-apiserver || build kubernetes kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$kube_ld"
build kubernetes kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager "$kube_ld"
link_asset kubectl || build kubernetes kubectl k8s.io/kubernetes/cmd/kubectl "$kube_ld"
build source-controller source-controller github.com/fluxcd/source-controller
build notification-controller notification-controller github.com/fluxcd/notification-controller
build kustomize-controller kustomize-controller github.com/fluxcd/kustomize-controller

# The Flux CRDs come from the controller modules themselves, so they always match the binaries.
crds="$BIN/crds"
mkdir -p "$crds"
for name in source-controller notification-controller kustomize-controller; do
  mod=$(awk '$1 == "tool" {print $2; exit}' "$tools/$name/go.mod")
  dir=$(cd "$tools/$name" && go list -m -f '{{.Dir}}' "$mod")
  cp -f "$dir"/config/crd/bases/*.yaml "$crds/"
done
chmod -R u+w "$crds"
log "ready: $BIN"
echo "$BIN"
