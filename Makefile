# Edge Messaging — the front door.
#   make dev    install what is missing, build, apply the schema locally, serve on 127.0.0.1:$(PORT)
#   make test   install what is missing, then fmt, clippy, unit and integration tests, short fuzz
#   make fuzz   Schemathesis against a fresh local worker and the schema it serves (~6 min)
#   make bench  install what is missing, then measure REST, WebSocket fan-out and bundle size
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
	deploy-dry-run clean fuzz-tools fuzz fuzz-short bench bench-run

help:
	@echo "make dev    # run the worker locally on http://127.0.0.1:$(PORT) (state in $(STATE)/)"
	@echo "make test   # fmt, clippy, unit tests and integration tests against a local worker"
	@echo "make fuzz   # Schemathesis against a local worker and its OpenAPI schema (FUZZ_TIME=$(FUZZ_TIME) s)"
	@echo "make bench  # REST throughput, WebSocket fan-out and bundle size (bench/README.md)"

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

## build: the worker bundle in build/, rebuilt only when a source changed (wrangler runs this too).
build: build/worker/shim.mjs

build/worker/shim.mjs: $(SOURCES)
	@echo "build: worker-build --release (a first build 1-2 min on 2 cores, later ones incremental)"
	worker-build --release
	@touch $@

## dev: serve locally; state persists in $(STATE)/ between runs. Stops on SIGTERM/Ctrl-C.
dev: tools build schema-local
	exec $(WRANGLER) dev --local --ip 127.0.0.1 --port $(PORT) --persist-to $(STATE) --show-interactive-dev-session=false

schema-local: tools
	$(WRANGLER) d1 execute DB --local --persist-to $(STATE) --file schema.sql > /dev/null

## test: everything CI runs, then a check that the run changed nothing `git status` shows (what
## was already uncommitted is compared before and after, so work in progress is fine).
test:
	@scripts/same-tree.sh "make test" $(MAKE) --no-print-directory test-steps

test-steps: tools build lint unit integration fuzz-short

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
BENCH_TIMEOUT ?= 20m
bench:
	@scripts/same-tree.sh "make bench" $(MAKE) --no-print-directory bench-run

bench-run: tools build
	rm -rf target/bench-state
	cargo bench --bench edge --no-run
	timeout --signal=INT --kill-after=30s $(BENCH_TIMEOUT) cargo bench --bench edge

clean:
	rm -rf build target/test-state target/bench-state $(STATE) .tools
