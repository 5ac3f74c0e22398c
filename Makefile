# gitlab-flux-link — `make help` lists the targets.
SHELL := /usr/bin/env bash
.DEFAULT_GOAL := help
NODE_MODULES := node_modules/.package-lock.json
TESTENV_STATE := .testenv/state.json
# Every target runs on the Node.js pinned in hack/node-versions (hack/node.sh installs it into the cache):
# its bin/ comes first on PATH, so node, npm, npx, tsc and mocha all run on it.
NODE_HOME := $(shell ./hack/node.sh --home runtime)
export PATH := $(NODE_HOME)/bin:$(PATH)

##@ General
.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z0-9_-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development
.PHONY: node
node: ## Install the pinned Node.js (hack/node-versions) into ~/.cache/gitlab-flux-link if missing.
	@./hack/node.sh runtime >/dev/null

$(NODE_MODULES): package.json package-lock.json hack/node-versions | node
	./hack/install-system-deps.sh
	npm ci --no-audit --no-fund
	@touch $@

.PHONY: deps
deps: $(NODE_MODULES) ## Install system packages (if missing) and npm dependencies.

.PHONY: build
build: deps ## Compile TypeScript to dist/.
	rm -rf dist && npx tsc -p tsconfig.json

.PHONY: run demo
run: build ## Run the operator against $$KUBECONFIG, or against the local test ground (started if needed).
	@if [[ -n "$$KUBECONFIG" ]]; then \
	  echo "[run] operator against KUBECONFIG=$$KUBECONFIG"; \
	else \
	  $(MAKE) --no-print-directory testenv-up; \
	  ./hack/prepare-test-ground.sh; \
	fi; \
	export KUBECONFIG="$${KUBECONFIG:-$$(node -e 'console.log(require("./$(TESTENV_STATE)").kubeconfig)')}"; \
	exec ./hack/run-operator.sh

demo: build testenv ## The push story on the embedded test ground, timed step by step (starts and stops what it needs).
	node dist/e2e/demo/cli.js

##@ Test ground (real control plane and Flux built from Go modules; no Docker)
.PHONY: testenv
testenv: ## Build etcd, kube-apiserver, kube-controller-manager, kubectl and the Flux controllers into the cache.
	./e2e/testenv/build.sh >/dev/null

.PHONY: testenv-node
testenv-node: ## Build the cluster tier's node set (kubelet, kube-proxy, kube-scheduler, CoreDNS, registry) into the cache.
	./e2e/testenv/build-node.sh >/dev/null

.PHONY: testenv-kind
testenv-kind: ## Build kind (sigs.k8s.io/kind) into the cache, for CLUSTER_PROVIDER=kind (the provider builds it too).
	./e2e/testenv/build-kind.sh >/dev/null

.PHONY: testenv-up
testenv-up: build testenv ## Start the test ground in the background; writes .testenv/state.json.
	node dist/e2e/testenv/cli.js up

.PHONY: testenv-down
# The daemon's pid and its components' pid file are in $(TESTENV_STATE): with it, dist/ is built again if it
# is gone, so a running ground is always stopped; without that file nothing records a ground to stop.
testenv-down: node ## Stop the background test ground (builds dist/ first if a ground runs and dist/ is gone).
	@if [[ ! -f $(TESTENV_STATE) ]]; then echo "no test ground running ($(TESTENV_STATE) absent)"; exit 0; fi; \
	if [[ ! -f dist/e2e/testenv/cli.js ]]; then echo "[testenv-down] dist/ is gone: building it to stop the test ground"; $(MAKE) --no-print-directory build >/dev/null; fi; \
	node dist/e2e/testenv/cli.js down

.PHONY: lint
lint: deps ## Formatting (Prettier) and ESLint: correctness, line length, and the operator's layers (docs/architecture.md).
	npx prettier --check .
	npx eslint .

.PHONY: format
format: deps ## Rewrite the sources the way `make lint` wants them (Prettier, then ESLint's fixes).
	npx prettier --write .
	npx eslint --fix .

##@ Tests
.PHONY: test
test: build testenv ## Everything CI runs: lint, unit tests, then the e2e suites on the real test ground.
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory test-unit
	$(MAKE) --no-print-directory test-e2e

.PHONY: test-unit
test-unit: build ## Unit tests (no cluster).
	npx mocha --config .mocharc.unit.json

# Built once on the runtime, the unit tier also runs on the previous and the next Node.js line.
unit_tests_on = "$$(./hack/node.sh unit-$(1))/bin/node" node_modules/mocha/bin/mocha.js --config .mocharc.unit.json --reporter-option label=unit-node$(1)

.PHONY: test-unit-node22
test-unit-node22: build ## Unit tests on Node 22 (the version hack/node-versions pins).
	$(call unit_tests_on,22)

.PHONY: test-unit-node26
test-unit-node26: build ## Unit tests on Node 26 (the version hack/node-versions pins).
	$(call unit_tests_on,26)

.PHONY: test-e2e
test-e2e: build testenv ## e2e suites on the real test ground (or E2E_KUBECONFIG).
	npx mocha --config .mocharc.e2e.json

.PHONY: test-cluster
test-cluster: build testenv testenv-node image ## The cluster tier: a real node in a container through testcontainers (starts hack/docker-engine.sh); the operator's image IMG built first.
	./hack/docker-engine.sh up
	npx mocha --config .mocharc.cluster.json

.PHONY: test-reliability
test-reliability: build testenv ## Long fault suites (10 SIGKILLs while converging 2,000 GitRepositories); output kept in e2e/results/.
	@mkdir -p e2e/results
	set -o pipefail; { echo "# make test-reliability, $$(date -u +%FT%TZ), commit $$(git rev-parse --short HEAD), $$(nproc) cores, node $$(node --version)"; \
	  ./node_modules/.bin/mocha --config .mocharc.reliability.json 2>&1; } | tee e2e/results/reliability.txt

##@ Image (Docker: hack/docker-engine.sh starts an engine if none answers)
IMG ?= gitlab-flux-link:dev
BASE ?= auto
.PHONY: image
image: node ## Build the operator's image IMG (default gitlab-flux-link:dev); BASE=auto|local|official or NODE_IMAGE=<image> picks the Node base (README "The image").
	IMG='$(IMG)' BASE='$(BASE)' NODE_IMAGE='$(NODE_IMAGE)' ./hack/image.sh

.PHONY: test-image
test-image: build testenv image ## The image as the operator on the test ground: its own checks, then the push, operate and proxy-paths suites against it.
	E2E_OPERATOR_IMAGE='$(IMG)' npx mocha --config .mocharc.image.json

##@ Benchmarks (measure and report; never fail on a slow machine)
.PHONY: bench
bench: build testenv ## Push latency, load, scale (1k/5k/10k), catch-up, outbound-only and sweep budget on the real test ground; report in bench/results/<date>/. BENCH_ARGS passes options.
	node dist/bench/run.js $(BENCH_ARGS)

.PHONY: bench-quick
bench-quick: build testenv ## The same, smaller (about 12 minutes on 2 cores); report in bench/results/<date>-quick/.
	node dist/bench/run.js --quick $(BENCH_ARGS)

.PHONY: bench-charts
bench-charts: build ## Draw the charts of the reports in bench/results/ again from their results.json (or only DIR=...).
	@for dir in $(or $(DIR),$(wildcard bench/results/*/)); do node dist/bench/run.js --charts-only "$$dir" || exit 1; done
