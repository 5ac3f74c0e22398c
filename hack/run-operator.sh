#!/usr/bin/env bash
# Runs the operator in the foreground against $KUBECONFIG. Like a Deployment would, it starts the operator
# again when it exits with an error (the framework's watch exits on a lost API server); Ctrl-C stops it.
# First it checks that the cluster has what the operator cannot run without, and says what is missing once,
# rather than letting the operator retry (and log) every 2 s.
set -uo pipefail
cd "$(dirname "$0")/.."
# Webhooks and /metrics + probes on two ports, as in the Deployment (HTTP_PORT: the webhook port's former name).
export HTTP_HOST="${HTTP_HOST:-127.0.0.1}" WEBHOOK_PORT="${WEBHOOK_PORT:-${HTTP_PORT:-8080}}" METRICS_PORT="${METRICS_PORT:-8081}"

kubectl="$(./e2e/testenv/build.sh --print 2>/dev/null)/kubectl"
[[ -x "$kubectl" ]] || kubectl="$(command -v kubectl || true)"
if [[ -n "$kubectl" ]]; then
  missing=()
  # Same namespace rule as operator/config.ts (LEASE_NAMESPACE, then POD_NAMESPACE, then the default).
  lease_ns="${LEASE_NAMESPACE:-${POD_NAMESPACE:-gitlab-flux-link-system}}"
  # Only on "NotFound": a user without `get` on these (Forbidden) or an unreachable server is told nothing
  # wrong; the operator's own errors say more then.
  absent() { local err; err=$("$kubectl" get "$@" 2>&1 >/dev/null); [[ $err == *NotFound* ]]; }
  if [[ "${LEADER_ELECT:-true}" != false ]] && absent namespace "$lease_ns"; then
    missing+=("namespace $lease_ns (the leader-election Lease lives there): kubectl create namespace $lease_ns, or LEADER_ELECT=false for a single operator")
  fi
  if absent crd gitlabfluxlinks.fluxlink.dev; then
    missing+=("the GitLabFluxLink CRD: kubectl apply --server-side -k crds/")
  fi
  if (( ${#missing[@]} )); then
    echo "[run] the cluster of KUBECONFIG=${KUBECONFIG:-} lacks what the operator needs:" >&2
    for m in "${missing[@]}"; do echo "[run]   - $m" >&2; done
    echo "[run] (kubectl apply --server-side -k config/default installs the namespace and the CRD, with the RBAC and the Deployment)" >&2
    exit 1
  fi
fi

echo "[run] webhooks on http://${HTTP_HOST}:${WEBHOOK_PORT}/hooks/<link>; /metrics, /healthz, /readyz on http://${HTTP_HOST}:${METRICS_PORT}" >&2
trap 'exit 0' INT TERM
while true; do
  node dist/operator/main.js
  code=$?
  [[ $code -eq 0 || $code -eq 130 ]] && exit 0
  echo "[run] operator exited with code $code; restarting in 2 s" >&2
  sleep 2
done
