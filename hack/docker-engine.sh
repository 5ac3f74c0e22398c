#!/usr/bin/env bash
# A Docker engine for `make image` and the cluster tier.
#
#   hack/docker-engine.sh up     use the engine that answers (DOCKER_HOST or the default socket); if none does,
#                                install Debian's docker.io when dockerd is missing and start one ourselves
#   hack/docker-engine.sh down   stop the engine only if `up` started it, and remove what it made on the host
#   hack/docker-engine.sh status say which engine answers, and whether this script started it
#
# An engine we start keeps the host as clean as the rest of the test ground: its default bridge gets an address
# in the project's test range (10.231.0.0/16), it adds no iptables rule and no masquerading (containers that need
# the registries, such as image builds, use the host's network), and `down` removes its bridge.
set -euo pipefail

STATE_DIR=${GFL_DOCKER_STATE_DIR:-/run/gitlab-flux-link}
PID_FILE=$STATE_DIR/dockerd.pid
EXEC_ROOT=$STATE_DIR/docker-exec
LOG_FILE=$STATE_DIR/dockerd.log
BRIDGE_CIDR=10.231.240.1/24
# The Debian engine's own client: a newer client found earlier on PATH may lack the builder this engine has.
DOCKER=${DOCKER:-docker}

log() { echo "[docker-engine] $*" >&2; }
answers() { "$DOCKER" version --format '{{.Server.Version}}' >/dev/null 2>&1; }
started_by_us() { [[ -f $PID_FILE ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }

up() {
  if answers; then
    started_by_us && log "engine started by this project answers" || log "using the engine that answers"
    return 0
  fi
  if ! command -v dockerd >/dev/null 2>&1; then
    log "installing Debian's docker.io"
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends docker.io >/dev/null
  fi
  [[ $(id -u) -eq 0 ]] || {
    log "no engine answers and starting one needs root"
    exit 1
  }
  mkdir -p "$STATE_DIR"
  log "starting dockerd (log: $LOG_FILE)"
  # --oom-score-adjust=0: lowering a process's OOM score is not permitted on some hosts (this one among them).
  # The daemon outlives this script: it must not inherit its open files (a caller's `flock` lock file among them
  # would stay locked for as long as the engine runs), so every descriptor above stderr is closed for it.
  (
    for fd in /proc/self/fd/*; do
      fd=${fd##*/}
      if ((fd > 2)); then eval "exec $fd>&-"; fi
    done
    exec setsid dockerd --exec-root "$EXEC_ROOT" --pidfile "$PID_FILE" \
      --bip "$BRIDGE_CIDR" --iptables=false --ip-masq=false --ip-forward=false \
      --oom-score-adjust=0 </dev/null >"$LOG_FILE" 2>&1
  ) &
  for _ in $(seq 1 120); do
    if answers; then
      log "dockerd $("$DOCKER" version --format '{{.Server.Version}}') answers"
      return 0
    fi
    sleep 0.5
  done
  log "dockerd did not answer within 60 s; its log ends with:"
  tail -20 "$LOG_FILE" >&2
  exit 1
}

down() {
  if ! started_by_us; then
    log "no engine started by this project"
    return 0
  fi
  local pid
  pid=$(cat "$PID_FILE")
  log "stopping dockerd (pid $pid)"
  kill -TERM "$pid"
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "dockerd still running after 30 s: killing it"
    kill -KILL "$pid"
  fi
  # dockerd removes its mounts on a clean stop; its bridge stays unless removed.
  ip link show docker0 >/dev/null 2>&1 && ip link delete docker0
  grep -q " $EXEC_ROOT" /proc/self/mounts && grep " $EXEC_ROOT" /proc/self/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l
  rm -f "$PID_FILE"
  log "stopped"
}

status() {
  if answers; then
    echo "engine $("$DOCKER" version --format '{{.Server.Version}}') answers$(started_by_us && echo ' (started by this project)')"
  else
    echo "no engine answers"
    return 1
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *)
    echo "usage: $0 up|down|status" >&2
    exit 2
    ;;
esac
