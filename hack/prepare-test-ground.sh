#!/usr/bin/env bash
# Applies the GitLabFluxLink CRD to $KUBECONFIG's cluster, or to the local test ground, with the kubectl
# the test ground built (any kubectl on PATH works too).
set -euo pipefail
cd "$(dirname "$0")/.."
kubectl="$(./e2e/testenv/build.sh --print)/kubectl"
[[ -x "$kubectl" ]] || kubectl=kubectl
kubeconfig="${KUBECONFIG:-$(node -e 'console.log(require("./.testenv/state.json").kubeconfig)')}"
"$kubectl" --kubeconfig="$kubeconfig" apply --server-side -k crds/
"$kubectl" --kubeconfig="$kubeconfig" wait --for=condition=Established --timeout=60s crd/gitlabfluxlinks.fluxlink.dev
