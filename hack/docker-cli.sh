# Sourced by the image scripts: picks a Docker client that can build with BuildKit secrets on this host.
#
#   docker_build_cli   sets DOCKER (the client) and DOCKER_BUILD (the build command, as an array), or fails
#                      saying what is missing
#
# `docker build --secret` needs BuildKit. A client that has the buildx plugin builds with `docker buildx build
# --load`; a 20.10-era client (Debian's docker.io) has BuildKit built in and uses it with DOCKER_BUILDKIT=1;
# a newer client without the plugin (23+) has only the legacy builder, which knows no secrets. The first client
# that can is used: $DOCKER if set, then `docker` on PATH, then Debian's /usr/bin/docker.

docker_build_cli() {
  local candidates=() cli
  [[ -n ${DOCKER:-} ]] && candidates+=("$DOCKER")
  command -v docker >/dev/null 2>&1 && candidates+=("$(command -v docker)")
  [[ -x /usr/bin/docker ]] && candidates+=(/usr/bin/docker)
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
