#!/usr/bin/env bash
# UI tests: builds the UI and the `airlock` binary, then drives Debian's Chromium (through
# playwright-core, no browser download) against a real `airlock serve` started on a free port with a
# temporary data dir and config (the built-in demo Pusher server under a copy of
# policies/pusher-channels.json). Prints `N passed, N failed` last; exits non-zero on any failure.
#
# Needs: node >= 20, npm, cargo, /usr/bin/chromium (scripts/install-deps.sh installs it).
set -euo pipefail
ui="$(cd "$(dirname "$0")/.." && pwd)"
repo="$(cd "$ui/.." && pwd)"
cd "$ui"

if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "ui e2e: ${CHROMIUM:-/usr/bin/chromium} not found; run scripts/install-deps.sh" >&2
  exit 2
fi

# Reinstall only when the lock file changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.airlock-lock-copy; then
  # `npm install` with the committed lock installs exactly its versions. (Not `npm ci`: on this
  # machine's npm, the lock lacks other platforms' optional rollup binaries, which `npm ci` insists on.)
  npm install --no-audit --no-fund
  cp package-lock.json node_modules/.airlock-lock-copy
fi
npm run --silent build

(cd "$repo" && cargo build --quiet -p airlock-cli --bin airlock)
target_dir="$(cd "$repo" && cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
export AIRLOCK_BIN="${AIRLOCK_BIN:-$target_dir/debug/airlock}"
export AIRLOCK_REPO="$repo"
exec node "$ui/e2e/run.mjs" "$@"
