#!/usr/bin/env bash
# Swagger UI under its content security policy, in a real browser: serves auditlog on a
# fresh SQLite file, loads /swagger-ui/ in headless Chromium, and checks that every path
# of /openapi.json is rendered and that the browser refused nothing under the policy.
# Usage: tools/check-swagger-ui.sh PATH/TO/auditlog
set -euo pipefail
bin="${1:?the auditlog binary}"
chromium="$(command -v chromium || command -v chromium-browser || true)"
[ -n "$chromium" ] || { echo "chromium is missing (apt-get install -y chromium)"; exit 1; }
dir="$(mktemp -d)"
port=$((20000 + RANDOM % 20000))
trap 'kill "$server" 2>/dev/null || true; rm -rf "$dir"' EXIT
AUDITLOG_DATABASE_URL="sqlite://$dir/a.db?mode=rwc" AUDITLOG_LISTEN="127.0.0.1:$port" \
  AUDITLOG_SIGNING_KEY_FILE="$dir/signing.key" RUST_LOG=warn "$bin" serve > "$dir/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/health" > /dev/null && break
  sleep 0.1
done
policy="$(curl -sI "http://127.0.0.1:$port/swagger-ui/" | tr -d '\r' | grep -i '^content-security-policy:' || true)"
[ -n "$policy" ] || { echo "Swagger UI is served without a content security policy"; exit 1; }
expected="$(curl -sf "http://127.0.0.1:$port/openapi.json" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["paths"]))')"
timeout 90 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$dir/profile" --enable-logging=stderr --v=0 --virtual-time-budget=10000 \
  --dump-dom "http://127.0.0.1:$port/swagger-ui/" > "$dir/dom.html" 2> "$dir/browser.log" || true
rendered="$(grep -o 'data-path="[^"]*"' "$dir/dom.html" | sort -u | wc -l)"
refused="$(grep -ci 'content security policy' "$dir/browser.log" || true)"
echo "Swagger UI rendered $rendered of $expected paths; $refused refusals under: ${policy#*: }"
if [ "$rendered" -ne "$expected" ] || [ "$refused" -ne 0 ]; then
  grep -i 'content security policy' "$dir/browser.log" | head -5 || true
  exit 1
fi
