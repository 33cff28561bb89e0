#!/usr/bin/env bash
# Schema-driven fuzzing of the whole API with schemathesis: every operation of the served
# /openapi.json, with a valid key of the tenant that the passkey-server path names, on a
# fresh database (SQLite, and PostgreSQL too when AUDITLOG_TEST_POSTGRES_URL is set).
#
#   tools/schemathesis.sh [EXAMPLES] [SEED]     # default 50 examples per operation, seed 1
#
# Every check runs except positive_data_acceptance (see RELIABILITY.md: it expects every
# schema-valid request to be accepted, but rules that span parameters, such as
# start_time <= end_time, cannot be written in a schema). A 5xx, a status or header the
# document does not list, or a body that contradicts the document fails the run.
#
# One worker: with two, hypothesis parses Python sources with `ast` from two threads at
# once, which CPython 3.11 does not survive ("AST constructor recursion depth mismatch",
# a runtime error of the tool that fails the run at random).
set -euo pipefail
cd "$(dirname "$0")/.."

EXAMPLES="${1:-50}"
SEED="${2:-1}"
VENV="${VENV:-target/venv}"
CARGO="${CARGO:-cargo}"
OUT="target/schemathesis"
KEY="schemathesis-key-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
TENANT="00000000-0000-0000-0000-000000000001"

if [[ ! -x "$VENV/bin/schemathesis" ]]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r tools/requirements.txt
fi
$CARGO build -q -p auditlog --bin auditlog
BIN="${CARGO_TARGET_DIR:-target}/debug/auditlog"
mkdir -p "$OUT"

SERVER_PID=""
DIR=$(mktemp -d)
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [[ -n "${PG_DB:-}" ]]; then
    psql "$AUDITLOG_TEST_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" || true
  fi
  rm -rf "$DIR"
}
trap cleanup EXIT

# Runs the fuzzer against a server on $1 (a database URL); $2 names the run.
fuzz() {
  local url="$1" name="$2" log="$OUT/$2.log"
  AUDITLOG_DATABASE_URL="$url" AUDITLOG_LISTEN=127.0.0.1:0 AUDITLOG_BOOTSTRAP_API_KEY="$KEY" \
    AUDITLOG_SIGNING_KEY_FILE="$DIR/signing.key" \
    RUST_LOG=warn NO_COLOR=1 "$BIN" serve 2> "$OUT/$name.server.log" &
  SERVER_PID=$!
  local base=""
  for _ in $(seq 1 300); do
    base=$(sed -n 's/.*auditlog is serving at \(http:[^ ]*\).*/\1/p' "$OUT/$name.server.log" | head -1)
    [[ -n "$base" ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$OUT/$name.server.log"; exit 1; }
    sleep 0.1
  done
  [[ -n "$base" ]] || { echo "auditlog did not start"; exit 1; }
  echo "schemathesis[$name]: $EXAMPLES examples per operation, seed $SEED, against $base"
  local status=0
  AUDITLOG_FUZZ_KEY="$KEY" AUDITLOG_FUZZ_TENANT="$TENANT" \
    SCHEMATHESIS_HOOKS=hooks PYTHONPATH=tools/schemathesis \
    "$VENV/bin/schemathesis" --no-color --config-file tools/schemathesis/schemathesis.toml \
    run "$base/openapi.json" \
    --checks all --exclude-checks positive_data_acceptance \
    --max-examples "$EXAMPLES" --seed "$SEED" --workers 1 \
    --report junit --report-junit-path "$OUT/$name.junit.xml" > "$log" 2>&1 || status=$?
  # The summary: phases, failures, test cases; the whole log stays in $OUT.
  sed -n '/^=* *SUMMARY/,$p;/^=* *FAILURES/,/^=* *SUMMARY/p' "$log" | grep -v '^$' | head -120
  grep -h '^hooks.py' "$log" || true
  if grep -q "$KEY" "$OUT/$name.server.log"; then echo "the key appeared in the server log"; status=1; fi
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  return "$status"
}

fuzz "sqlite://$DIR/auditlog.db?mode=rwc" sqlite

if [[ -n "${AUDITLOG_TEST_POSTGRES_URL:-}" ]]; then
  PG_DB="auditlog_schemathesis_$$"
  psql "$AUDITLOG_TEST_POSTGRES_URL" -qc "CREATE DATABASE $PG_DB"
  BASE_URL="${AUDITLOG_TEST_POSTGRES_URL%%\?*}"
  fuzz "${BASE_URL%/*}/$PG_DB" postgres
fi
