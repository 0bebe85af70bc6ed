# The README's contract. Each target installs what is missing first (scripts/setup.sh), so
# every one of them works on a fresh Debian 12 machine.
PORT ?= 8080
export PATH := $(HOME)/.cargo/bin:$(CURDIR)/.tools/node_modules/.bin:$(PATH)

.PHONY: setup test demo pkg lint

## setup: install the toolchain (wasm32 target, wasm-pack, wasm-bindgen-cli, browsers, drivers, wasm-opt)
setup:
	bash scripts/setup.sh

## test: every suite: host (core, protocol, server), headless Chromium + Firefox, end to end
test:
	bash scripts/test.sh

## pkg: build the npm package into pkg/
pkg: setup
	bash scripts/pkg.sh

## pkg-matrix: the packed package in Vite, webpack, esbuild, Rollup, a plain page, a Worker, slim (headless Chromium); tsc, publint, attw
.PHONY: pkg-matrix
pkg-matrix: pkg
	bash scripts/pkg-matrix.sh

## demo: build everything and serve the demo on http://127.0.0.1:$(PORT)
demo: pkg
	cargo build -p holdfast-server
	./target/debug/holdfast-server --port $(PORT) --www www --pkg pkg --faults

## lint: formatting and clippy for host and wasm32
lint: setup
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p holdfast --target wasm32-unknown-unknown --all-targets -- -D warnings
	cargo clippy -p holdfast --target wasm32-unknown-unknown --all-targets --features js -- -D warnings
	cargo clippy -p holdfast --all-targets --features serde -- -D warnings

## bench: throughput, RTT, recovery, memory, size and server capacity, each beside the raw browser API in the same run; writes BENCHMARKS.md (not part of test; ~15 min)
.PHONY: bench
bench:
	bash scripts/bench.sh

## fuzz: coverage-guided fuzzing of every decoder, FUZZ_SECONDS (default 30) per target, one at a time; fails on any crash (not part of test; fuzz/README.md)
.PHONY: fuzz
fuzz:
	bash scripts/fuzz.sh

## soak: the lifecycle e2e with hidden tabs idle 10 min under Chromium's intensive timer throttling, then the timing fault tests SOAK_RUNS (default 20) times in Chromium and Firefox, counts written into TESTING.md's fault matrix (not part of test; ~13 min + ~8 min a run)
.PHONY: soak
soak:
	bash scripts/soak.sh
