# Airlock: the two commands a fresh machine needs.
#
#   make run    install what is missing, build, and start Airlock on its working default
#               (the built-in demo Pusher upstream under policies/pusher-channels.json):
#               the desktop app when a display is present, else the headless gate (`airlock serve`)
#   make test   install what is missing, then formatting, lints and every test suite
#
# Both work as root or with sudo on Debian (see scripts/install-deps.sh).

SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: help deps ui run run-app serve test lint test-rust test-ui test-desktop fmt bench fuzz

help:
	@echo "make run    build and start Airlock (the desktop app with a display, else airlock serve)"
	@echo "make test   formatting, clippy and every test (Rust, web UI in Chromium, desktop app under Xvfb)"
	@echo "make fuzz   fuzz the relay for FUZZ_TIME seconds (default 600; nightly toolchain, cargo-fuzz)"

deps:
	@bash scripts/install-deps.sh

# The web UI: the desktop app embeds ui/dist, and `airlock serve` serves it.
# `npm install` with the committed lock installs exactly its versions (see ui/e2e/run.sh on npm ci).
ui:
	cd ui && npm install --no-audit --no-fund --loglevel=error && npm run --silent build

run: deps ui
	@if [ -n "$${DISPLAY:-}$${WAYLAND_DISPLAY:-}" ]; then \
		$(MAKE) --no-print-directory run-app; \
	else \
		echo "make run: no display found; starting the headless gate (airlock serve): open the window link it prints"; \
		$(MAKE) --no-print-directory serve; \
	fi

run-app:
	$(CARGO) run -p airlock-app

serve:
	$(CARGO) run -p airlock-cli --bin airlock -- serve

fmt:
	$(CARGO) fmt --all

lint: ui
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test-rust: ui
	$(CARGO) test --workspace

test-ui: ui
	cd ui && npx --no-install vitest run
	bash ui/e2e/run.sh

test-desktop: ui
	bash src-tauri/tests/run_e2e.sh

test: deps lint test-rust test-ui test-desktop

bench:
	$(CARGO) bench -p airlock-policy --bench decide
	$(CARGO) bench -p airlock-store --bench history

# The relay's fuzz target (ARCHITECTURE.md "The gate's invariant"); not part of `make test`. New
# inputs go to fuzz/target/relay-corpus; the committed seeds in fuzz/corpus/relay are only read.
# Leak detection is off: the target keeps one proxy, its sessions and their buffers across inputs
# (LeakSanitizer also reports a fully read `BytesMut` buffer, whose pointer is past its end).
FUZZ_TIME ?= 600
fuzz:
	@rustup toolchain list | grep -q '^nightly' || { echo "make fuzz: needs the nightly toolchain (rustup toolchain install nightly)"; exit 1; }
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	mkdir -p fuzz/target/relay-corpus
	cd fuzz && ASAN_OPTIONS=detect_leaks=0 nice -n 15 $(CARGO) +nightly fuzz run relay \
		target/relay-corpus corpus/relay -- -max_total_time=$(FUZZ_TIME) -print_final_stats=1
