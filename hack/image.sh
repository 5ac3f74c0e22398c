#!/usr/bin/env bash
# `make image`: builds the operator's image from Dockerfile and prints its name, size and build time.
#
#   IMG         the image's name (default gitlab-flux-link:dev)
#   BASE        the Node base of the build stages (NODE_IMAGE):
#                 official  node:<pinned>-bookworm-slim (pulled by the build if absent: for hosts that can pull)
#                 local     gitlab-flux-link/node-base:<pinned>-bookworm, built here by hack/node-base-image.sh
#                           from Debian's packages and the npm registry's Node binary (no registry of images needed)
#                 auto      (default) official if the engine already has it, else local. auto never pulls: on a
#                           host that cannot pull, a pull attempt only fails slowly; `docker pull` it once, or say
#                           BASE=official, to use the official image.
#   NODE_IMAGE  any other base (same layout as the official image); overrides BASE
#
# The build's `npm ci` uses the registry this host's npm uses and trusts the CA bundle it trusts: both are handed
# to the build as BuildKit secrets from a private temporary folder (never in the build context, never in a layer).
# The build's RUN steps use the host's network (`--network host`): an engine with NAT turned off (the one
# hack/docker-engine.sh starts) gives build containers no other way out.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=hack/docker-cli.sh
source hack/docker-cli.sh

log() { echo "[image] $*" >&2; }

IMG=${IMG:-gitlab-flux-link:dev}
BASE=${BASE:-auto}
started=$SECONDS

./hack/docker-engine.sh up
docker_build_cli
log "building with: ${DOCKER_BUILD[*]}"

node_version=$(awk '$1 == "runtime" { print $2 }' hack/node-versions)
official="node:${node_version}-bookworm-slim"
if [[ -z ${NODE_IMAGE:-} ]]; then
  case $BASE in
    official) NODE_IMAGE=$official ;;
    local) NODE_IMAGE=$(DOCKER=$DOCKER ./hack/node-base-image.sh) ;;
    auto)
      if "$DOCKER" image inspect "$official" >/dev/null 2>&1; then
        NODE_IMAGE=$official
      else
        log "$official is not in the engine (BASE=auto never pulls): using the local base"
        NODE_IMAGE=$(DOCKER=$DOCKER ./hack/node-base-image.sh)
      fi
      ;;
    *)
      log "BASE must be official, local or auto, got '$BASE'"
      exit 2
      ;;
  esac
fi
log "base image $NODE_IMAGE"

secrets=$(mktemp -d)
trap 'rm -rf "$secrets"' EXIT
registry=$(npm config get registry)
ca=$(npm config get cafile)
[[ $ca == null || $ca == undefined || ! -f $ca ]] && ca=${NODE_EXTRA_CA_CERTS:-${SSL_CERT_FILE:-}}
secret_args=(--secret "id=npmrc,src=$secrets/npmrc")
echo "registry=$registry" >"$secrets/npmrc"
if [[ -n $ca && -f $ca ]]; then
  echo "cafile=/run/secrets/npm_ca" >>"$secrets/npmrc"
  secret_args+=(--secret "id=npm_ca,src=$ca")
fi

"${DOCKER_BUILD[@]}" --network host "${secret_args[@]}" \
  --build-arg "NODE_IMAGE=$NODE_IMAGE" \
  --label "org.opencontainers.image.version=$(node -p 'require("./package.json").version')" \
  --label "org.opencontainers.image.revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
  --label "org.opencontainers.image.licenses=Apache-2.0" \
  --label "dev.gitlab-flux-link.node-image=$NODE_IMAGE" \
  -t "$IMG" .

size=$("$DOCKER" image inspect -f '{{.Size}}' "$IMG" | awk '{ printf "%.0f MB", $1 / 1e6 }')
log "built $IMG ($size) on $NODE_IMAGE in $((SECONDS - started)) s"
