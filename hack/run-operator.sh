#!/usr/bin/env bash
# Runs the operator in the foreground against $KUBECONFIG. Like a Deployment would, it starts the operator
# again when it exits with an error (the framework's watch exits on a lost API server); Ctrl-C stops it.
set -uo pipefail
cd "$(dirname "$0")/.."
export HTTP_HOST="${HTTP_HOST:-127.0.0.1}" HTTP_PORT="${HTTP_PORT:-8080}"
echo "[run] webhooks, /metrics, /healthz, /readyz on http://${HTTP_HOST}:${HTTP_PORT}" >&2
trap 'exit 0' INT TERM
while true; do
  node dist/operator/main.js
  code=$?
  [[ $code -eq 0 || $code -eq 130 ]] && exit 0
  echo "[run] operator exited with code $code; restarting in 2 s" >&2
  sleep 2
done
