#!/usr/bin/env bash
# `make fuzz`: coverage-guided fuzzing of every decoder (SEC-8; fuzz/README.md). Installs what
# it needs (the pinned nightly, cargo-fuzz), builds every target (ASan, debug assertions), then
# runs each one for FUZZ_SECONDS (default 30) in turn, one fuzzer process at a time, and fails on
# any crash, panic, leak, timeout or allocation over the limits. Not part of `make test`.
#
#   FUZZ_SECONDS=600 FUZZ_NICE=19 make fuzz     # the long runs recorded in fuzz/RESULTS.md
#   FUZZ_TARGETS="frame batch" make fuzz        # some targets only
#
# The committed seeds (fuzz/corpus/<target>/) are only read; what a run finds new goes to
# fuzz/corpus-grown/<target>/ (ignored by git, reused by the next run), crashes to
# fuzz/artifacts/<target>/, each run's libFuzzer output to fuzz/logs/<target>.log.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
NIGHTLY=$(cat scripts/pkg-nightly)
SECONDS_EACH=${FUZZ_SECONDS:-30}
NICE=${FUZZ_NICE:-10}
CARGO_FUZZ_VERSION=0.13.2

log() { printf '\033[1;34m[fuzz]\033[0m %s\n' "$*"; }

if ! rustup run "$NIGHTLY" rustc --version >/dev/null 2>&1; then
  log "rustup toolchain install $NIGHTLY"
  rustup toolchain install "$NIGHTLY" --profile minimal
fi
if [ "$(cargo fuzz --version 2>/dev/null | awk '{print $2}')" != "$CARGO_FUZZ_VERSION" ]; then
  log "cargo install cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

cd fuzz
log "building the targets ($NIGHTLY, $(cargo fuzz --version))"
nice -n "$NICE" cargo "+$NIGHTLY" fuzz build
TRIPLE=$(rustc "+$NIGHTLY" -vV | awk '/^host:/ {print $2}')
TARGETS=${FUZZ_TARGETS:-$(cargo "+$NIGHTLY" fuzz list)}
mkdir -p logs
failed=()
summary=()
for t in $TARGETS; do
  mkdir -p "corpus-grown/$t" "corpus/$t"
  log "$t: ${SECONDS_EACH}s"
  # First corpus dir: where new inputs go; the seeds after it are only read. Any single
  # allocation over 256 MB from a ≤ 4 KB input is a bug (lengths are checked before allocating).
  # The binaries built above, run directly: the whole run tests one build, even if the working
  # tree changes meanwhile (`cargo fuzz run` would rebuild).
  mkdir -p "artifacts/$t"
  if nice -n "$NICE" "target/$TRIPLE/release/$t" -artifact_prefix="artifacts/$t/" \
      -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -malloc_limit_mb=256 -timeout=10 \
      -print_final_stats=1 "corpus-grown/$t" "corpus/$t" >"logs/$t.log" 2>&1; then
    status=ok
  else
    status=FAILED
    failed+=("$t")
    grep -E "panicked at|ERROR: libFuzzer|SUMMARY|Test unit written" "logs/$t.log" | head -5 || true
  fi
  done_line=$(grep -E '^#[0-9]+\s+DONE' "logs/$t.log" | tail -1 || true)
  execs=$(awk '/stat::number_of_executed_units/ {print $NF}' "logs/$t.log" | tail -1)
  rate=$(awk '/stat::average_exec_per_sec/ {print $NF}' "logs/$t.log" | tail -1)
  rss=$(awk '/stat::peak_rss_mb/ {print $NF}' "logs/$t.log" | tail -1)
  cov=$(sed -nE 's/.*cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+\/[0-9]+[a-zA-Z]*).*/cov \1, ft \2, corpus \3/p' <<<"$done_line")
  summary+=("$(printf '%-15s %-6s %ss, %s execs, %s exec/s, peak %s MB, %s' "$t" "$status" \
    "$SECONDS_EACH" "${execs:-?}" "${rate:-?}" "${rss:-?}" "${cov:-no DONE line}")")
done
log "summary"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  log "FAILED: ${failed[*]} (see fuzz/logs/ and fuzz/artifacts/)"
  exit 1
fi
log "no crash in $(wc -w <<<"$TARGETS") targets"
