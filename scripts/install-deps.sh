#!/usr/bin/env bash
# Installs what building and testing Airlock needs on a Debian machine: the system libraries of the
# Tauri shell, the X/D-Bus tools the desktop tests use, Chromium for the UI tests, the WebKit
# WebDriver and tauri-driver for the desktop tests. Idempotent, and quick when everything is there.
# Uses sudo when not root. Node.js/npm, Python 3 and the Rust toolchain come with the machine.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

packages=(
  # Tauri 2 on Linux: webkit2gtk pulls in GTK 3, libsoup 3 and JavaScriptCore; the tray needs
  # the app indicator library.
  libwebkit2gtk-4.1-dev libayatana-appindicator3-dev build-essential pkg-config
  # https upstreams use the system's TLS.
  libssl-dev
  # Desktop tests: a virtual X display, a private D-Bus session with a test notification server
  # (python3-dbus, python3-gi), and the WebKit WebDriver that tauri-driver drives.
  xvfb xauth x11-utils dbus dbus-x11 python3-dbus python3-gi libglib2.0-bin webkit2gtk-driver
  # UI tests drive Debian's Chromium through playwright-core (no browser download).
  chromium fonts-dejavu-core
  # The test peers' Python client runs in a virtualenv.
  python3-venv
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# tauri-driver bridges WebDriver to the app's WebKit view (desktop tests); a crates.io binary.
if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
  echo "install-deps: cargo install tauri-driver"
  # Pinned to the 2.x line that matches Tauri 2 (3.x is an alpha for Tauri 3).
  cargo install tauri-driver --locked --version 2.1.0 --quiet
fi
