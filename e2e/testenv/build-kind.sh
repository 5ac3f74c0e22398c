#!/usr/bin/env bash
# Builds kind (sigs.k8s.io/kind, the cluster tier's `kind` provider) from its Go module, with build-node.sh's
# scheme: a wrapper of its own (e2e/testenv/node-tools/kind/), cached under a key that hashes the wrapper's go.mod,
# go.sum and this script. A script of its own because the hashes of build.sh and build-node.sh are in the fast
# tier's and the node set's keys: adding kind to either would rebuild them everywhere.
#
#   e2e/testenv/build-kind.sh            build kind when missing, print its path on the last line
#   e2e/testenv/build-kind.sh --print    only print the path (no build)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
wrapper="$here/node-tools/kind"
cache_root="${FLUXLINK_TESTENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gitlab-flux-link/testenv}"
export GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false

log() { printf '[testenv-kind] %s\n' "$*" >&2; }

key=$(cat "$wrapper/go.mod" "$wrapper/go.sum" "$here/build-kind.sh" | sha256sum | cut -c1-16)
dest="$cache_root/node-kind-$key"
if [[ "${1:-}" == "--print" ]]; then echo "$dest/kind"; exit 0; fi

if [[ -x "$dest/kind" ]]; then
  log "kind: cached ($dest)"
else
  mkdir -p "$dest"
  log "kind: building sigs.k8s.io/kind"
  start=$SECONDS
  (cd "$wrapper" && go build -trimpath -ldflags "-s -w" -o "$dest/kind.tmp" sigs.k8s.io/kind)
  mv "$dest/kind.tmp" "$dest/kind"
  log "kind: built in $((SECONDS - start)) s"
fi
echo "$dest/kind"
