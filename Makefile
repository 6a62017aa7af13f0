# Airlock: the two commands a fresh machine needs.
#
#   make run    install what is missing, build, and start Airlock on its working default
#               (the built-in demo Pusher upstream under policies/pusher-channels.json)
#   make test   install what is missing, then formatting, lints and the whole test suite
#
# Both work as root or with sudo on Debian (see scripts/install-deps.sh).

SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo

.PHONY: help deps run run-app serve test test-rust lint fmt bench

help:
	@echo "make run    build and start Airlock (desktop app when a display is present, else airlock serve)"
	@echo "make test   formatting, clippy and every test"

deps:
	@bash scripts/install-deps.sh

# With a display, the desktop app; without one, the headless gate and its web UI.
run: deps
	@if [ -n "$${DISPLAY:-}$${WAYLAND_DISPLAY:-}" ]; then \
		$(MAKE) --no-print-directory run-app; \
	else \
		echo "make run: no display found; starting the headless gate (airlock serve) instead of the app"; \
		$(MAKE) --no-print-directory serve; \
	fi

run-app:
	$(CARGO) run -p airlock-app

serve:
	$(CARGO) run -p airlock-cli --bin airlock -- serve

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test-rust:
	$(CARGO) test --workspace

test: deps lint test-rust

bench:
	$(CARGO) bench -p airlock-policy
