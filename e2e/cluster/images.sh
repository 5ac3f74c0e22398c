#!/usr/bin/env bash
# Builds the cluster tier's images into the local Docker engine, each tagged by a hash of its inputs so that an
# unchanged tree reuses them (a warm run only inspects three tags). Nothing is pulled: every image is made here.
#
#   gfl-cluster-node:<hash>     Debian bookworm (debootstrap --variant=minbase, the host's Debian mirror) with
#                               containerd, runc, the CNI plugins, iptables, iproute2, openssl, curl; the
#                               Kubernetes, CoreDNS and registry binaries are bind-mounted at run time, not copied
#   gfl-cluster-busybox:<hash>  Debian's static busybox (with the NSS modules it loads to resolve names): the
#                               Pods' sandbox (its default command sleeps) and the test workloads (httpd, nslookup, wget)
#   gfl-cluster-coredns:<hash>  the CoreDNS binary built by build-node.sh alone
#
#   e2e/cluster/images.sh NODE_BIN   prints {"node": ..., "busybox": ..., "coredns": ...} on its last line
#
# GFL_DEBIAN_MIRROR overrides the Debian mirror (default: the first one the host's apt sources name).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
node_bin=${1:?usage: images.sh NODE_BIN (the folder build-node.sh prints)}
cache="${FLUXLINK_TESTENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gitlab-flux-link/testenv}/cluster"
# The project's rule for which Docker client (no build here: import, tag, rmi only).
# shellcheck source=hack/docker-cli.sh
source "$here/../../hack/docker-cli.sh"
docker_cli
PACKAGES=containerd,runc,containernetworking-plugins,iptables,iproute2,ca-certificates,openssl,curl,busybox-static,procps,conntrack,kmod

log() { printf '[cluster-images] %s\n' "$*" >&2; }
exists() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

# prune REPOSITORY KEEP_TAG: earlier builds of an image (edits of the node's files would otherwise pile them up)
prune() {
  "$DOCKER" images "$1" --format '{{.Repository}}:{{.Tag}}' | grep -v ":$2\$" | xargs -r "$DOCKER" rmi >/dev/null || true
}

mirror() {
  if [[ -n "${GFL_DEBIAN_MIRROR:-}" ]]; then echo "$GFL_DEBIAN_MIRROR"; return; fi
  local m
  m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '$1 == "URIs:" {print $2; exit}')
  [[ -n $m ]] || m=$(cat /etc/apt/sources.list 2>/dev/null | awk '$1 == "deb" && $2 !~ /^\[/ {print $2; exit}')
  [[ -n $m ]] || { log "no Debian mirror in the host's apt sources: set GFL_DEBIAN_MIRROR"; exit 1; }
  echo "$m"
}

# The Debian rootfs is keyed by what debootstrap is asked for only, so that editing the node's own files
# (node-image/) re-imports in seconds instead of running debootstrap again.
rootfs_key=$(echo "bookworm minbase $PACKAGES" | sha256sum | cut -c1-16)
rootfs_tar=$cache/node-rootfs-$rootfs_key.tar
node_key=$(cat "$here/images.sh" "$here"/node-image/* | sha256sum | cut -c1-16)
node_image=gfl-cluster-node:$node_key
# The busybox image is made from the rootfs by this script: both decide its content.
busybox_key=$(cat "$here/images.sh" <(echo "$rootfs_key") | sha256sum | cut -c1-16)
busybox_image=gfl-cluster-busybox:$busybox_key

if [[ ! -f $rootfs_tar ]]; then
  work=$(mktemp -d /tmp/gfl-cluster-rootfs.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  log "node rootfs: debootstrap bookworm ($PACKAGES), about 3 minutes cold"
  start=$SECONDS
  debootstrap --variant=minbase --include=$PACKAGES bookworm "$work/rootfs" "$(mirror)" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  log "node rootfs: debootstrap done in $((SECONDS - start)) s"
  # The apt caches and lists are of no use in a node that never installs anything.
  rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
  mkdir -p "$cache"
  tar -C "$work/rootfs" --numeric-owner -cf "$rootfs_tar.tmp" . && mv "$rootfs_tar.tmp" "$rootfs_tar"
  rm -rf "$work"
  trap - EXIT
fi

if ! exists "$node_image"; then
  log "node image: importing $node_image"
  work=$(mktemp -d /tmp/gfl-cluster-node.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/root/usr/local/bin" "$work/root/etc/gfl" "$work/root/opt/gfl/bin"
  install -m 0755 "$here/node-image/entrypoint.sh" "$work/root/usr/local/bin/gfl-node-entrypoint"
  install -m 0644 "$here/node-image/containerd.toml" "$here/node-image/cni.conflist" "$here/node-image/registry.yaml" "$work/root/etc/gfl/"
  # The rootfs with the node's own files appended: only paths the rootfs lacks (the engine refuses a tar that
  # names a path twice), hence no recursion and an explicit list.
  cp "$rootfs_tar" "$work/node.tar"
  (cd "$work/root" && tar --numeric-owner --owner=0 --group=0 --no-recursion -rf "$work/node.tar" \
    ./usr/local/bin/gfl-node-entrypoint ./etc/gfl ./etc/gfl/* ./opt/gfl ./opt/gfl/bin)
  "$DOCKER" import --change 'ENTRYPOINT ["/usr/local/bin/gfl-node-entrypoint"]' \
    --change "LABEL org.gitlab-flux-link.inputs=$node_key" "$work/node.tar" "$node_image" >/dev/null
  rm -rf "$work"
  trap - EXIT
  prune gfl-cluster-node "$node_key"
fi

# import_dir IMAGE INSTRUCTION DIR: an image of DIR's files only (INSTRUCTION: its CMD or ENTRYPOINT)
import_dir() {
  mkdir -p "$3/tmp" "$3/etc"
  echo 'nobody:x:65534:65534:nobody:/:/bin/false' >"$3/etc/passwd"
  tar -C "$3" --numeric-owner --owner=0 --group=0 -c . | "$DOCKER" import --change "$2" - "$1" >/dev/null
}

if ! exists "$busybox_image"; then
  log "busybox image: from the node rootfs's static busybox"
  work=$(mktemp -d /tmp/gfl-cluster-busybox.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  # A static glibc program still loads the NSS modules named by nsswitch.conf (and with them libc) at run time to
  # resolve a host name: the modules, libc and the loader come along, at their places in a Debian rootfs.
  tar -C "$work" -xf "$rootfs_tar" ./usr/bin/busybox ./etc/nsswitch.conf ./usr/lib/x86_64-linux-gnu/libc.so.6 \
    ./usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 ./usr/lib/x86_64-linux-gnu/libnss_dns.so.2 \
    ./usr/lib/x86_64-linux-gnu/libnss_files.so.2 ./usr/lib/x86_64-linux-gnu/libresolv.so.2
  mkdir -p "$work/bin"
  for applet in $("$work/usr/bin/busybox" --list); do ln -s ../usr/bin/busybox "$work/bin/$applet"; done
  ln -s usr/lib "$work/lib" && mkdir -p "$work/lib64" && ln -s ../usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$work/lib64/"
  import_dir "$busybox_image" 'CMD ["/bin/sleep", "2147483647"]' "$work"
  rm -rf "$work"
  trap - EXIT
  prune gfl-cluster-busybox "$busybox_key"
fi

coredns_key=$(sha256sum "$node_bin/coredns" | cut -c1-16)
coredns_image=gfl-cluster-coredns:$coredns_key
if ! exists "$coredns_image"; then
  log "coredns image: from $node_bin/coredns"
  work=$(mktemp -d /tmp/gfl-cluster-coredns.XXXXXX)
  install -m 0755 "$node_bin/coredns" "$work/coredns"
  import_dir "$coredns_image" 'ENTRYPOINT ["/coredns"]' "$work"
  rm -rf "$work"
  prune gfl-cluster-coredns "$coredns_key"
fi

log "ready: $node_image $busybox_image $coredns_image"
printf '{"node":"%s","busybox":"%s","coredns":"%s"}\n' "$node_image" "$busybox_image" "$coredns_image"
