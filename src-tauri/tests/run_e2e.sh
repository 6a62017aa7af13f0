#!/usr/bin/env bash
# Desktop app end-to-end tests: builds what they need, then runs e2e_app.py under Xvfb on a
# private D-Bus session. `make test` calls this. Needs the apt packages in docs/desktop.md
# (installs tauri-driver with cargo when it is missing). Pass --bench to measure instead.
set -euo pipefail
cd "$(dirname "$0")/../.."

export PATH="$HOME/.cargo/bin:$PATH"
command -v tauri-driver >/dev/null || cargo install tauri-driver --locked
for tool in Xvfb WebKitWebDriver dbus-run-session gdbus; do
  command -v "$tool" >/dev/null || { echo "missing $tool: install the packages listed in docs/desktop.md" >&2; exit 2; }
done
/usr/bin/python3 -c 'import dbus, gi' 2>/dev/null || { echo "missing python3-dbus / python3-gi" >&2; exit 2; }

# The window embeds ui/dist at build time.
if [ ! -f ui/dist/index.html ]; then (cd ui && npm ci && npm run build); fi
if [ "${AIRLOCK_PROFILE:-debug}" = release ]; then cargo build --release -p airlock-app -p airlock-cli; else cargo build -p airlock-app -p airlock-cli; fi

exec dbus-run-session -- bash -c '
  set -euo pipefail
  Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"${TMPDIR:-/tmp}/airlock-xvfb.$$" 2>/dev/null &
  XP=$!
  trap "kill $XP 2>/dev/null || true" EXIT
  for _ in $(seq 100); do [ -s "${TMPDIR:-/tmp}/airlock-xvfb.$$" ] && break; sleep 0.05; done
  export DISPLAY=":$(cat "${TMPDIR:-/tmp}/airlock-xvfb.$$")"
  rm -f "${TMPDIR:-/tmp}/airlock-xvfb.$$"
  /usr/bin/python3 src-tauri/tests/e2e_app.py "$@"
' e2e "$@"
