#!/usr/bin/env bash
# `make pkg-matrix`: the npm package the way a user meets it. `npm pack` of the built pkg/, the
# tarball extracted into tests/pkg/node_modules/holdfast, tiny apps built with each tool's default
# config (Vite dev + build, webpack 5, esbuild, Rollup + node-resolve, plain <script type=module>,
# a Vite module Worker, the ./slim entry) opened in headless Chromium: open + echo, no uncaught
# error. Then tsc --strict (types/consumer.ts), publint and attw on the tarball.
# Tools are pinned by tests/pkg/package-lock.json; `npm ci` only when it changed (stamp file).
# Needs $HOLDFAST_TEST_SERVER; without it, re-runs itself under scripts/with-server.sh.
# Uses pkg/ as it is (scripts/pkg.sh builds it; it is built here only if missing); PKG_DIR=dir
# packs another package directory instead. PKG_MATRIX_ONLY=vite-build,attw runs only those checks.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$(pwd)/.tools/node_modules/.bin:$PATH"
if [ -z "${HOLDFAST_TEST_SERVER:-}" ]; then
  exec bash scripts/with-server.sh bash scripts/pkg-matrix.sh "$@"
fi
START=$(date +%s%N)
PKG_DIR=${PKG_DIR:-pkg}
if [ "$PKG_DIR" = pkg ] && [ ! -f pkg/package.json ]; then bash scripts/pkg.sh; fi

# Tools: reinstall only when the lockfile (or package.json) changed since the last install.
HASH=$(cat tests/pkg/package.json tests/pkg/package-lock.json | sha256sum | cut -d' ' -f1)
STAMP=tests/pkg/node_modules/.pkg-matrix-lock-sha256
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$HASH" ]; then
  echo "[pkg-matrix] tests/pkg/package-lock.json changed: npm ci"
  (cd tests/pkg && npm ci --no-audit --no-fund --loglevel=error)
  echo "$HASH" > "$STAMP"
fi

# The tarball, and its install: extracted, so the committed lockfile is never touched.
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
npm pack "$(cd "$PKG_DIR" && pwd)" --pack-destination "$TMP" --loglevel=error >/dev/null
TARBALL=$(ls "$TMP"/*.tgz)
rm -rf tests/pkg/node_modules/holdfast
mkdir -p tests/pkg/node_modules/holdfast
tar -xzf "$TARBALL" -C tests/pkg/node_modules/holdfast --strip-components=1
rm -rf tests/pkg/apps/*/dist

STATUS=0
node tests/pkg/run.mjs "$HOLDFAST_TEST_SERVER" "$TARBALL" || STATUS=$?
echo "[pkg-matrix] total $(( ($(date +%s%N) - START) / 1000000 )) ms"
exit $STATUS
