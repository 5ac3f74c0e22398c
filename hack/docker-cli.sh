# The one rule for "which Docker client" in shell (e2e/cluster/docker.ts has the same rule for the TypeScript
# harness). Sourced by the scripts that run docker:
#
#   docker_cli         sets DOCKER to the client to run: $DOCKER if set, else `docker` on PATH, else Debian's
#                      /usr/bin/docker (for a PATH without /usr/bin); the plain name `docker` when there is none,
#                      so that the first command fails saying so. Any client of API 1.41 or later does for run,
#                      import, tag, push and rmi: a newer client negotiates the engine's API version down.
#   docker_build_cli   sets DOCKER (the client) and DOCKER_BUILD (the build command, as an array) to the first of
#                      the same candidates that can build with BuildKit secrets on this host, or fails saying what
#                      is missing
#
# `docker build --secret` needs BuildKit. A client that has the buildx plugin builds with `docker buildx build
# --load`; a 20.10-era client (Debian's docker.io) has BuildKit built in and uses it with DOCKER_BUILDKIT=1;
# a newer client without the plugin (23+) has only the legacy builder, which knows no secrets.

# docker_candidates: the clients in the rule's order, one per line
docker_candidates() {
  [[ -n ${DOCKER:-} ]] && echo "$DOCKER"
  command -v docker 2>/dev/null || true
  [[ -x /usr/bin/docker ]] && echo /usr/bin/docker
  return 0
}

docker_cli() {
  local all
  all=$(docker_candidates)
  DOCKER=${all%%$'\n'*}
  DOCKER=${DOCKER:-docker}
}

docker_build_cli() {
  local candidates=() cli
  mapfile -t candidates < <(docker_candidates)
  for cli in "${candidates[@]}"; do
    if "$cli" buildx version >/dev/null 2>&1; then
      DOCKER=$cli
      DOCKER_BUILD=("$cli" buildx build --load)
      return 0
    fi
    if DOCKER_BUILDKIT=1 "$cli" build --help 2>/dev/null | grep -q -- '--secret'; then
      DOCKER=$cli
      DOCKER_BUILD=(env DOCKER_BUILDKIT=1 "$cli" build)
      return 0
    fi
  done
  echo "[image] no Docker client here builds with BuildKit (tried: ${candidates[*]:-none}): install the buildx plugin, or use a client with BuildKit built in (Debian's docker.io)" >&2
  return 1
}
