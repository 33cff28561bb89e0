#!/usr/bin/env bash
# Coverage-guided fuzzing of the two parsers with cargo-fuzz (libFuzzer), each target for
# a bounded time:
#
#   tools/fuzz.sh [SECONDS_PER_TARGET]      # default 120
#
# The corpus grows in fuzz/corpus/ (not committed) from the seeds in fuzz/seeds/. The
# fuzzer runs in libFuzzer's fork mode and goes on after a crash or a broken property, so
# one known bug does not hide the next; every such input lands in fuzz/artifacts/TARGET/
# and fails the run. Keep one as a regression test by copying it to
# fuzz/regressions/TARGET/ under a name that says what it is:
# crates/server/tests/fuzz_regressions.rs replays every file there in `make test`.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

SECS="${1:-120}"
# cargo-fuzz needs nightly features; the stable toolchain provides them when asked.
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz > /dev/null || cargo install cargo-fuzz --locked

status=0
for target in filter_query ingest_body; do
  mkdir -p "corpus/$target" "artifacts/$target"
  cp -n seeds/"$target"/* "corpus/$target/" 2> /dev/null || true
  log="../target/fuzz-$target.log"
  mkdir -p ../target
  marker=$(mktemp)
  echo "fuzz[$target]: $SECS s"
  cargo fuzz run -O "$target" "corpus/$target" -- \
    -max_total_time="$SECS" -dict="dict/$target.dict" -max_len=65536 \
    -fork=1 -ignore_crashes=1 -ignore_ooms=0 -ignore_timeouts=0 > "$log" 2>&1 || true
  runs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
  found=$(find "artifacts/$target" -type f -newer "$marker" | sort)
  rm -f "$marker"
  echo "fuzz[$target]: ${runs:-?} inputs in $SECS s; corpus $(ls "corpus/$target" | wc -l) inputs"
  if [[ -n "$found" ]]; then
    status=1
    echo "fuzz[$target]: FAILED on $(echo "$found" | wc -l) inputs:"
    for input in $found; do
      echo "  fuzz/$input"
    done
    grep -m3 'panicked at' -A1 "$log" || true
  elif ! grep -q 'Done\|fuzzed for' "$log"; then
    status=1
    tail -30 "$log"
  fi
done
exit "$status"
