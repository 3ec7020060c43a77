#!/usr/bin/env bash
# test/browser/setup.sh — installs the Node packages of the browser test:
# playwright-core only, which drives Debian's /usr/bin/chromium (installed
# by scripts/setup.sh) and never downloads a browser. Idempotent: nothing
# to do, and no network, when the locked version is installed.
set -euo pipefail
cd "$(dirname "$0")"
want=$(node -p 'require("./package-lock.json").packages["node_modules/playwright-core"].version')
have=$(node -p 'require("./node_modules/playwright-core/package.json").version' 2>/dev/null || true)
if [ "$want" = "$have" ]; then
	exit 0
fi
if ! command -v npm >/dev/null; then
	# NodeSource's nodejs carries npm; Debian's nodejs needs its npm package.
	echo "browser test: npm not found; install it (apt-get install npm)" >&2
	exit 1
fi
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null
echo "browser test: playwright-core $want installed"
