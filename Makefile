# Edge Messaging — the front door.
#   make dev    install what is missing, build, apply the schema locally, serve on 127.0.0.1:$(PORT)
#   make test   install what is missing, then fmt, clippy, unit and integration tests, short fuzz
#   make fuzz   Schemathesis against a fresh local worker and the schema it serves (~6 min)
#   make bench  install what is missing, then measure REST, WebSocket fan-out and bundle size
#   make web    build the web UI into web/dist/ (part of make build); make e2e runs its browser tests
#   make bench-demo  our fan-out beside Cloudflare's chat demo, interleaved (= BENCH_DEMO=1 make bench)
# Every install step checks what is already there, so repeat runs are quick; each prints one line
# saying what it found or what it is doing (a cold first run compiles the cargo tools for 4-11 minutes).

SHELL := /bin/bash
.SHELLFLAGS := -e -o pipefail -c
.DEFAULT_GOAL := help

PORT ?= 8787
STATE ?= .state

WORKER_BUILD_VERSION := 0.8.7
# Must equal the wasm-bindgen version pinned in Cargo.toml / Cargo.lock.
WASM_BINDGEN_VERSION := 0.2.129

CARGO_BIN := $(HOME)/.cargo/bin
# Node for wrangler and any other JavaScript tool a target runs: scripts/node-path.sh chooses it
# (a system node new enough for the pinned wrangler, else the npm package node-<os>-<arch> for
# this machine, else a one-line error) and links it as $(NODE_BIN)/node. A target that runs Node
# depends on `node`; every recipe, and what it starts (tests, fuzz/run.py), has $(NODE_BIN) first
# on PATH.
NODE_BIN := $(CURDIR)/.tools/node/bin
export PATH := $(NODE_BIN):$(CURDIR)/node_modules/.bin:$(CARGO_BIN):$(PATH)
export WRANGLER_SEND_METRICS := false
export WASM_BINDGEN_BIN := $(CARGO_BIN)/wasm-bindgen
export CI ?= true

# Schemathesis (PyPI) for `make fuzz`, in its own venv; python3 (>= 3.10) with venv and pip.
SCHEMATHESIS_VERSION := 4.32.5
FUZZ_VENV := target/fuzz-venv
# make fuzz: Schemathesis keeps generating until FUZZ_TIME seconds are spent.
FUZZ_TIME ?= 300

WRANGLER := wrangler
SOURCES := $(shell find src -name '*.rs') Cargo.toml Cargo.lock openapi.json

.PHONY: help tools rust-tools node build dev test test-steps lint unit integration schema-local \
	deploy-dry-run clean fuzz-tools fuzz fuzz-short bench bench-run web web-tools web-unit e2e \
	chromium screenshots bench-web bench-demo bench-demo-tools profile gc-pauses

help:
	@echo "make dev    # run the worker locally on http://127.0.0.1:$(PORT) (state in $(STATE)/)"
	@echo "make test   # fmt, clippy, unit tests and integration tests against a local worker"
	@echo "make fuzz   # Schemathesis against a local worker and its OpenAPI schema (FUZZ_TIME=$(FUZZ_TIME) s)"
	@echo "make bench  # REST throughput, WebSocket fan-out and bundle size (bench/README.md)"
	@echo "make bench-demo  # fan-out beside Cloudflare's chat demo, interleaved (bench/README.md)"

## tools: the wasm target, worker-build, the wasm-bindgen CLI (cargo), wrangler and Node (npm).
tools: rust-tools node

rust-tools:
	@if rustup target list --installed | grep -qx wasm32-unknown-unknown; then \
	  echo "tools: wasm32-unknown-unknown target: installed"; \
	else \
	  echo "tools: adding the wasm32-unknown-unknown target (rustup, the worker compiles to it; ~1 min)"; \
	  rustup target add wasm32-unknown-unknown; \
	fi
	@if worker-build --version 2>/dev/null | grep -q "$(WORKER_BUILD_VERSION)"; then \
	  echo "tools: worker-build $(WORKER_BUILD_VERSION): installed"; \
	else \
	  echo "tools: compiling worker-build $(WORKER_BUILD_VERSION) (cargo install, once: it turns the crate into the worker bundle; 2-6 min on 2 cores)"; \
	  cargo install worker-build --version $(WORKER_BUILD_VERSION) --locked; \
	fi
	@if wasm-bindgen --version 2>/dev/null | grep -q "$(WASM_BINDGEN_VERSION)"; then \
	  echo "tools: wasm-bindgen-cli $(WASM_BINDGEN_VERSION): installed"; \
	else \
	  echo "tools: compiling wasm-bindgen-cli $(WASM_BINDGEN_VERSION) (cargo install, once: worker-build needs it and cannot download it here; must equal Cargo.lock's wasm-bindgen; 2-5 min on 2 cores)"; \
	  cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) --locked; \
	fi

# npm ci: exactly the lock file, which lists every platform's optional packages, so it never
# rewrites it. It runs the system npm (the Node it would install is not used to install it).
node_modules/.installed: package.json package-lock.json
	@echo "tools: npm ci: wrangler, workerd and a Node 22 for this OS/CPU, as package-lock.json pins them (~10 s, more on a first download)"
	@scripts/node-path.sh --npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## node: choose the Node that runs wrangler and link it as $(NODE_BIN)/node (one line says which).
node: node_modules/.installed
	@scripts/node-path.sh $(NODE_BIN)

## build: the worker bundle in build/ and the web UI in web/dist/, each rebuilt only when one of
## its sources changed (wrangler runs this too, on every start).
build: build/worker/shim.mjs web

build/worker/shim.mjs: $(SOURCES)
	@echo "build: worker-build --release (a first build 1-2 min on 2 cores, later ones incremental)"
	worker-build --release
	@touch $@

## dev: serve locally; state persists in $(STATE)/ between runs. Stops on SIGTERM/Ctrl-C.
## VARS="NAME:value NAME:value" sets settings for this run (wrangler --var), e.g.
## VARS="TRANSPORT:polling" make dev. DEV_VARS come first (VARS may override them): the
## published demo key, so /messages/demo/site/ works (it signs in demo: people only; never
## set in wrangler.toml, which is what deploys).
DEV_VARS ?= SSO_DEMO:true
dev: tools build schema-local
	exec $(WRANGLER) dev --local --ip 127.0.0.1 --port $(PORT) --persist-to $(STATE) --show-interactive-dev-session=false $(foreach v,$(DEV_VARS) $(VARS),--var $(v))

## schema-local: a new local database gets schema.sql; an existing one (an older checkout's)
## is upgraded with the migrations it has not had, as a deployed database is.
schema-local: tools
	@if [ -d $(STATE)/v3/d1 ]; then \
	  echo "schema: upgrading the local database in $(STATE)/ (wrangler d1 migrations apply)"; \
	  CI=true $(WRANGLER) d1 migrations apply DB --local --persist-to $(STATE) > $(STATE)/migrations.log 2>&1 \
	    || { cat $(STATE)/migrations.log; exit 1; }; \
	else \
	  $(WRANGLER) d1 execute DB --local --persist-to $(STATE) --file schema.sql > /dev/null; \
	fi

## test: everything CI runs, then a check that the run changed nothing `git status` shows (what
## was already uncommitted is compared before and after, so work in progress is fine).
test:
	@scripts/same-tree.sh "make test" $(MAKE) --no-print-directory test-steps

test-steps: tools build lint unit web-unit integration e2e fuzz-short

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --lib --target wasm32-unknown-unknown -- -D warnings

unit:
	cargo test --lib

# Each integration test binary starts its own wrangler dev (own state folder, free ports).
integration: build
	rm -rf target/test-state
	cargo test --test '*'

## web: the web UI (SPEC §11): REST types from openapi.json, a type check, the esbuild bundle
## with hashed names and its size budget (web/build.mjs). Its npm packages live in web/ (their own
## lock file); Playwright there never downloads a browser: it drives Debian's chromium.
WEB_SOURCES := $(shell find web/src client/src client/test web/test web/e2e -type f -not -name schema.d.ts 2>/dev/null) \
	web/build.mjs web/tsconfig.json openapi.json
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
CHROMIUM ?= /usr/bin/chromium
E2E_ARGS ?=

web: web/.built

web-tools: web/node_modules/.installed

web/node_modules/.installed: web/package.json web/package-lock.json | node
	@echo "tools: npm ci in web/: esbuild, Preact, openapi-typescript, Playwright (no browser), as web/package-lock.json pins them (~20 s)"
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

web/.built: web/node_modules/.installed $(WEB_SOURCES)
	cd web && node build.mjs
	@touch $@

## web-unit: the client library's and the pages' unit tests (Node's test runner).
web-unit: web/node_modules/.installed
	cd web && node --test --test-reporter=spec ../client/test/*.test.ts test/*.test.ts

## chromium: Debian's chromium (and a colour emoji font) for the browser tests, when missing.
chromium:
	@test -x $(CHROMIUM) && dpkg -s fonts-noto-color-emoji >/dev/null 2>&1 || { \
	  echo "installing chromium and fonts-noto-color-emoji (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null; }

## e2e: Playwright, two users in two browser contexts, against a real local worker that the
## tests start themselves (own state folder under target/, free ports). E2E_ARGS=--grep=...
e2e: tools build chromium
	cd web && CHROMIUM=$(CHROMIUM) npx playwright test -c e2e/playwright.config.ts $(E2E_ARGS) \
	  || { node e2e/digest.ts ../target/e2e-report.json; exit 1; }

## bench-web: page load → chat list / message list painted, and Enter → painted in another
## browser (p50/p95), on its own local worker (web/bench/paint.ts). Part of make bench.
bench-web: tools build chromium
	cd web && CHROMIUM=$(CHROMIUM) node bench/paint.ts

## screenshots: the main states of the UI into docs/screenshots/ (shown in the README).
screenshots: tools build chromium
	cd web && E2E_SCREENSHOTS=1 CHROMIUM=$(CHROMIUM) npx playwright test -c e2e/playwright.config.ts screenshots.spec.ts

## fuzz-tools: Schemathesis in target/fuzz-venv, installed only when missing or another version.
fuzz-tools:
	@if $(FUZZ_VENV)/bin/schemathesis --version 2>/dev/null | grep -qx "schemathesis, version $(SCHEMATHESIS_VERSION)"; then \
	  echo "tools: Schemathesis $(SCHEMATHESIS_VERSION): installed"; \
	else \
	  echo "tools: installing Schemathesis $(SCHEMATHESIS_VERSION) into $(FUZZ_VENV) (pip, once: the fuzzer; ~1 min)"; \
	  python3 -m venv $(FUZZ_VENV) && \
	  $(FUZZ_VENV)/bin/pip install --quiet --disable-pip-version-check "schemathesis==$(SCHEMATHESIS_VERSION)"; \
	fi

## fuzz: a fresh local worker, seeded, fuzzed against the schema it serves (fuzz/README.md).
fuzz: tools build fuzz-tools
	$(FUZZ_VENV)/bin/python fuzz/run.py --max-examples 200 --max-time $(FUZZ_TIME) --timeout $$(( $(FUZZ_TIME) + 600 ))

## fuzz-short: the same with a fixed seed and fewer cases (~1 min); part of `make test`.
fuzz-short: tools build fuzz-tools
	$(FUZZ_VENV)/bin/python fuzz/run.py --seed 1 --max-examples 75 --timeout 300

deploy-dry-run: tools build
	$(WRANGLER) deploy --dry-run --outdir target/deploy-dry-run

## bench: one bounded run against its own local worker (state in target/bench-state/); prints
## the table. Settings: BENCH_* variables (bench/README.md). Exit 1 on a lost delivery or error.
## BENCH_DEMO=1 (or make bench-demo): instead, our fan-out beside a patched copy of
## Cloudflare's chat demo (../shared/anchors, served from target/bench-state/chat-demo/),
## measured with the npm ws client of bench/demo/ (installed there by npm ci).
BENCH_DEMO_ON := $(filter-out 0,$(strip $(BENCH_DEMO)))
BENCH_TIMEOUT ?= $(if $(BENCH_DEMO_ON),45m,20m)
export BENCH_DEMO
bench:
	@scripts/same-tree.sh "make bench" $(MAKE) --no-print-directory bench-run

bench-run: tools build $(if $(BENCH_DEMO_ON),bench-demo-tools)
	rm -rf target/bench-state
	cargo bench --bench edge --no-run
	timeout --signal=INT --kill-after=30s $(BENCH_TIMEOUT) cargo bench --bench edge
	$(if $(BENCH_DEMO_ON),,$(MAKE) --no-print-directory bench-web)

bench-demo:
	$(MAKE) bench BENCH_DEMO=1

## bench-demo-tools: the ws client of `make bench-demo`, in bench/demo/node_modules (git-ignored).
bench-demo-tools: bench/demo/node_modules/.installed

bench/demo/node_modules/.installed: bench/demo/package.json bench/demo/package-lock.json | node
	cd bench/demo && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## profile: where one message's CPU goes (bench/profile.mjs): a fresh local worker with an
## inspector, paced sends to 10 sockets, the runtime's sampling profiler (PROFILE_ARGS:
## receivers messages senders; PROFILE_VIA=stream: the receivers hold user streams).
PROFILE_ARGS ?= 10 200 4
profile: tools build
	rm -rf target/profile-state && mkdir -p target/profile-state
	$(WRANGLER) d1 execute DB --local --persist-to target/profile-state --file schema.sql > /dev/null
	setsid $(WRANGLER) dev --local --ip 127.0.0.1 --port 8931 --inspector-port 9931 \
	  --persist-to target/profile-state --show-interactive-dev-session=false \
	  > target/profile-state/worker.log 2>&1 & pid=$$!; \
	trap "kill -- -$$pid" EXIT; \
	for i in $$(seq 60); do curl -sf -o /dev/null http://127.0.0.1:8931/healthz && break; sleep 1; done; \
	node bench/profile.mjs http://127.0.0.1:8931 9931 $(PROFILE_ARGS)

## gc-pauses: make bench with the runtime's sampling profiler attached through the fan-out
## runs: time spent collecting garbage, each pause, and each busy stretch by its time, per run
## (bench/gc-pauses.mjs; bench/README.md says what it found about a run's p99). BENCH_* apply.
gc-pauses: tools build
	rm -rf target/bench-state
	cargo bench --bench edge --no-run
	cargo bench --bench edge > target/gc-pauses-bench.log 2>&1 & pid=$$!; \
	node bench/gc-pauses.mjs target/gc-pauses-bench.log; status=$$?; wait $$pid || status=1; \
	awk '/^### (WebSocket fan-out|Targets)/ {p = 1; print; next} /^### / {p = 0} p' \
	  target/gc-pauses-bench.log; exit $$status

clean:
	rm -rf build web/dist target/test-state target/bench-state target/e2e-state $(STATE) .tools
