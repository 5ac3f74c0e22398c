#!/usr/bin/env bash
# `make run` on the embedded test ground: applies what the operator needs there before it starts, with the
# kubectl the test ground built: its namespace (config/default/namespace.yaml; the leader-election Lease lives
# there) and the GitLabFluxLink CRD. Only ever against the test ground's own kubeconfig: against a cluster of
# yours (KUBECONFIG), install config/default yourself; hack/run-operator.sh says what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
kubectl="$(./e2e/testenv/build.sh --print)/kubectl"
[[ -x "$kubectl" ]] || kubectl=kubectl
kubeconfig="$(node -e 'console.log(require("./.testenv/state.json").kubeconfig)')"
k() { "$kubectl" --kubeconfig="$kubeconfig" "$@"; }
k apply --server-side -f config/default/namespace.yaml
k apply --server-side -k crds/
k wait --for=condition=Established --timeout=60s crd/gitlabfluxlinks.fluxlink.dev
