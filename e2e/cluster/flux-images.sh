#!/usr/bin/env bash
# Builds the images of Flux's source-, notification- and kustomize-controller into the local Docker engine from
# the Go binaries the fast tier already builds (e2e/testenv/build.sh), each tagged by a hash of its inputs so that
# an unchanged tree reuses them. Nothing is pulled: like e2e/cluster/images.sh, each image is a `docker import` of
# a folder holding only what the controller needs at run time, as Flux's own images (alpine + ca-certificates,
# the binary in /usr/local/bin, USER 65534:65534) give it:
#   - the static binary (CGO_ENABLED=0; go-git, so no git binary is needed: source-controller clones in Go);
#   - the host's CA bundle (TLS to Git/Helm/OCI servers over https), at the path Go's crypto/x509 reads first;
#   - /etc/nsswitch.conf `hosts: files dns` (Go's resolver reads it; Flux's images carry it too) and a
#     passwd/group naming 65534 (nobody), the user the image runs as: numeric, so that kubelet can check
#     the manifests' `runAsNonRoot: true` against it;
#   - /tmp, which the manifests mount as an emptyDir (the root filesystem is read-only there).
#
#   e2e/cluster/flux-images.sh BIN   prints {"source-controller": ..., ...} (image names) on its last line
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=${1:?usage: flux-images.sh BIN (the folder e2e/testenv/build.sh prints)}
DOCKER=${DOCKER:-/usr/bin/docker}
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

log() { printf '[flux-images] %s\n' "$*" >&2; }
[[ -f $CA_BUNDLE ]] || { log "no CA bundle at $CA_BUNDLE (Debian's ca-certificates)"; exit 1; }

out=()
for name in source-controller notification-controller kustomize-controller; do
  [[ -x $bin/$name ]] || { log "no $name in $bin: run e2e/testenv/build.sh"; exit 1; }
  key=$(cat "$here/flux-images.sh" "$bin/$name" "$CA_BUNDLE" | sha256sum | cut -c1-16)
  image=gfl-cluster-$name:$key
  if ! "$DOCKER" image inspect "$image" >/dev/null 2>&1; then
    log "$image: importing"
    work=$(mktemp -d /tmp/gfl-cluster-flux.XXXXXX)
    trap 'rm -rf "$work"' EXIT
    mkdir -p "$work/usr/local/bin" "$work/etc/ssl/certs" "$work/tmp"
    chmod 1777 "$work/tmp"
    install -m 0755 "$(readlink -f "$bin/$name")" "$work/usr/local/bin/$name"
    install -m 0644 "$CA_BUNDLE" "$work/etc/ssl/certs/ca-certificates.crt"
    echo 'hosts: files dns' >"$work/etc/nsswitch.conf"
    echo 'nobody:x:65534:65534:nobody:/:/sbin/nologin' >"$work/etc/passwd"
    echo 'nobody:x:65534:' >"$work/etc/group"
    tar -C "$work" --numeric-owner --owner=0 --group=0 -c . |
      "$DOCKER" import --change 'USER 65534:65534' --change "ENTRYPOINT [\"/usr/local/bin/$name\"]" \
        --change "LABEL org.gitlab-flux-link.inputs=$key" - "$image" >/dev/null
    rm -rf "$work"
    trap - EXIT
    # Earlier builds of this image (a new binary or a new version of this script).
    "$DOCKER" images "gfl-cluster-$name" --format '{{.Repository}}:{{.Tag}}' | grep -v ":$key\$" | xargs -r "$DOCKER" rmi >/dev/null || true
  fi
  out+=("\"$name\":\"$image\"")
done
log "ready: ${out[*]}"
(IFS=,; echo "{${out[*]}}")
