#!/usr/bin/env bash
# Runs docs-ui-check.mjs (the browser check of /docs and /redoc) with its one npm package,
# chrome-remote-interface, installed by name and version into a cache on first use.
#   tests/browser/docs-ui-check.sh BASE_URL [SCREENSHOT.png]
# Environment: LEAFSYNC_NPM_CACHE (default ~/.cache/leafsync/npm), CHROMIUM (default chromium).
set -euo pipefail
readonly CRI_VERSION=0.34.0
here=$(cd "$(dirname "$0")" && pwd)
cache=${LEAFSYNC_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/leafsync/npm}
kit=$cache/browser-check-cri-$CRI_VERSION
command -v "${CHROMIUM:-chromium}" >/dev/null || { echo "docs-ui-check: no chromium (scripts/install-deps.sh installs it)" >&2; exit 1; }
command -v node >/dev/null || { echo "docs-ui-check: no node" >&2; exit 1; }
if [[ ! -f $kit/node_modules/chrome-remote-interface/package.json ]]; then
    mkdir -p "$kit"
    exec 9>"$kit.lock"
    flock 9
    if [[ ! -f $kit/node_modules/chrome-remote-interface/package.json ]]; then
        npm install --silent --no-audit --no-fund --prefix "$kit" "chrome-remote-interface@$CRI_VERSION" >&2
    fi
    exec 9>&-
fi
# An ES module resolves packages from its own directory upwards: run a copy inside the kit.
cp "$here/docs-ui-check.mjs" "$kit/docs-ui-check.mjs"
exec node "$kit/docs-ui-check.mjs" "$@"
