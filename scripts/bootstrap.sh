#!/usr/bin/env bash
# Shared set-up for scripts/run-local and scripts/test: a Python venv with the pinned requirements and,
# when asked, the pinned Node tools (npm ci), the console's bundle (console/: npm ci + npm run build) and Debian's
# chromium. Safe to run again; it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

want_dev=0; want_node=0; want_chromium=0; want_console=0
for arg in "$@"; do
  case "$arg" in
    --dev) want_dev=1 ;;
    --node) want_node=1 ;;
    --chromium) want_chromium=1 ;;
    --console) want_console=1; want_node=1 ;;  # the console's preview uses the Node tools' Teams host configs
  esac
done

say() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }

python_bin=""
for candidate in python3.13 python3.12 python3.11 python3; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    python_bin=$(command -v "$candidate"); break
  fi
done
[ -n "$python_bin" ] || { echo "Courier needs Python 3.11 or newer (python3.11+ not found)." >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $python_bin"
  "$python_bin" -m venv .venv
fi
requirements=requirements.txt
[ "$want_dev" = 1 ] && requirements=requirements-dev.txt
stamp=".venv/.installed-$(cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-16)-$want_dev"
if [ ! -f "$stamp" ]; then
  say "installing Python packages ($requirements)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
  touch "$stamp"
fi

if [ "$want_node" = 1 ]; then
  command -v npm >/dev/null 2>&1 || { echo "Courier's local mode and tests need Node.js 20+ and npm." >&2; exit 1; }
  lock_stamp="node_modules/.installed-$(sha256sum package-lock.json | cut -c1-16)"
  if [ ! -f "$lock_stamp" ]; then
    say "installing Node tools (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error >&2
    touch "$lock_stamp"
  fi
fi

if [ "$want_chromium" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's chromium (card pictures)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
  else
    say "chromium is not installed and cannot be installed here: card picture tests will be skipped"
  fi
fi

if [ "$want_console" = 1 ]; then
  # The console's bundle (console/dist, not committed): rebuilt when its lock file or any of its sources change.
  console_stamp="console/node_modules/.built-$( (cat console/package-lock.json console/index.html console/vite.config.ts \
    console/tsconfig.json; find console/src -type f | sort | xargs cat) | sha256sum | cut -c1-16)"
  if [ ! -f "$console_stamp" ] || [ ! -f console/dist/index.html ]; then
    lock_stamp="console/node_modules/.installed-$(sha256sum console/package-lock.json | cut -c1-16)"
    if [ ! -f "$lock_stamp" ]; then
      say "installing the console's packages (npm ci in console/)"
      (cd console && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >&2)
      touch "$lock_stamp"
    fi
    say "building the console (npm run build in console/)"
    (cd console && npm run build --silent >&2)
    rm -f console/node_modules/.built-*
    touch "$console_stamp"
  fi
fi
