#!/usr/bin/env bash
# `make soak`: the long runs, not part of `make test`.
#  1. tests/e2e/lifecycle.mjs with the hidden tabs idle 10 minutes under Chromium's intensive
#     wake-up throttling (issue 11, item 2), then every other lifecycle scenario as in `make test`.
#     LIFECYCLE_IDLE_S overrides the idle time; SOAK_LIFECYCLE=0 skips this part.
#  2. The timing fault tests of the browser suite (SOAK_FILTERS, default "faults:: transports::
#     upgrade:: matrix:: every_transport::": module prefixes, so no test runs twice;
#     tests/browser/{faults,transports,upgrade,matrix,every_transport}.rs) SOAK_RUNS times (default 20) in headless Chromium and in
#     Firefox (one wasm-pack run per browser, so a failure in one does not skip the other), each
#     against a fresh server and fault proxy; then scripts/fault-matrix.mjs writes the pass counts
#     into TESTING.md, "Fault matrix (generated)" (issue 11, item 1). Logs:
#     target/fault-matrix/soak-<UTC time>/. SOAK_RUNS=0 skips this part.
# Fails at the end if any run failed; the table is written either way.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$(pwd)/.tools/node_modules/.bin:$PATH"
# An exported GECKODRIVER makes `wasm-pack test --chrome` run Firefox (toolchain.md, trap 3).
unset GECKODRIVER CHROMEDRIVER
# The runner's timeout covers the whole run in one browser, not one test (~7 min each now).
export WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-900}
RUNS=${SOAK_RUNS:-20}
FILTERS=${SOAK_FILTERS:-faults:: transports:: upgrade:: matrix:: every_transport::}
DIR=target/fault-matrix/soak-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$DIR"
failed=0
cargo build -q -p holdfast-server -p holdfast-fault-proxy
if [ "${SOAK_LIFECYCLE:-1}" != 0 ]; then
  bash scripts/pkg.sh
  rc=0
  LIFECYCLE_IDLE_S=${LIFECYCLE_IDLE_S:-600} LIFECYCLE_SILENT_ROUNDS=${LIFECYCLE_SILENT_ROUNDS:-3} \
    node tests/e2e/lifecycle.mjs || rc=$?
  echo "$rc" >"$DIR/e2e-lifecycle.rc"
  [ "$rc" = 0 ] || { echo "soak: lifecycle failed ($rc)" >&2; failed=1; }
fi
for run in $(seq 1 "$RUNS"); do
  for filter in $FILTERS; do
    for browser in chrome firefox; do
      log="$DIR/run$run-${filter//:/}-$browser.log"
      echo "== soak run $run/$RUNS: $filter in $browser"
      if ! bash scripts/with-server.sh wasm-pack test --headless --$browser -- --test browser -- --nocapture "$filter" >"$log" 2>&1; then
        echo "soak: run $run $filter $browser failed (see $log)" >&2
        grep -E '^test .* \.\.\. FAIL' "$log" >&2 || true
        failed=1
      fi
    done
  done
done
if [ "$RUNS" != 0 ] || [ "${SOAK_LIFECYCLE:-1}" != 0 ]; then
  node scripts/fault-matrix.mjs --write \
    --note "make soak: $RUNS runs of the timing fault tests ($FILTERS) per browser$([ "${SOAK_LIFECYCLE:-1}" != 0 ] && echo ', one lifecycle e2e soak')" "$DIR"
fi
exit $failed
