#!/usr/bin/env bash
# Installs what building and testing Airlock needs on a Debian machine: system libraries for the
# Tauri shell, the X/D-Bus tools the desktop tests use, Chromium for the UI tests, and Node packages.
# Idempotent and quick when everything is there. Uses sudo when not root.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

packages=(
  # Tauri 2 on Linux: webkit2gtk pulls in GTK 3, libsoup 3 and JavaScriptCore.
  libwebkit2gtk-4.1-dev build-essential pkg-config
  # Desktop tests: a virtual X display, screenshots, a private D-Bus session.
  xvfb xauth x11-utils imagemagick dbus dbus-x11 python3-dbus python3-gi libglib2.0-bin
  # UI tests drive Debian's Chromium through playwright-core.
  chromium
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
