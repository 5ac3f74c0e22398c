#!/usr/bin/env bash
# Installs the Debian packages the test ground uses, only when a command is missing:
# git (git http-backend serves the test repositories), openssl (the control plane's certificates),
# iproute2 (test hosts in network namespaces), procps (pgrep, to prove no process outlives a run),
# util-linux (taskset: the benchmarks' load phase gives the operator a CPU of its own).
set -euo pipefail
declare -A pkg=([git]=git [openssl]=openssl [ip]=iproute2 [pgrep]=procps [taskset]=util-linux)
missing=()
for cmd in "${!pkg[@]}"; do command -v "$cmd" >/dev/null 2>&1 || missing+=("${pkg[$cmd]}"); done
[[ -x "$(git --exec-path 2>/dev/null)/git-http-backend" ]] || missing+=(git)
if (( ${#missing[@]} == 0 )); then exit 0; fi
echo "[deps] installing Debian packages: ${missing[*]}" >&2
sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
