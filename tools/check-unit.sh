#!/usr/bin/env bash
# Checks deploy/auditlog.service as systemd reads it: `systemd-analyze verify` must
# print nothing (it exits 0 on an unknown or misspelt directive and only warns), with
# ExecStart pointed at the binary built here and Documentation='s man pages generated
# from it; then `systemd-analyze security` scores its sandbox offline, and fails above
# an exposure of 1.5 (of 10). Installs systemd and man-db when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${AUDITLOG_BIN:-target/debug/auditlog}")

need() {
    command -v "$1" > /dev/null && return
    local s; s=$([ "$(id -u)" = 0 ] || echo sudo)
    $s apt-get install -y "$2" || { $s apt-get update && $s apt-get install -y "$2"; }
}
need systemd-analyze systemd
need man man-db

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" man --dir "$tmp/man/man1" 2> /dev/null
sed "s|^ExecStart=/usr/local/bin/auditlog |ExecStart=$bin |" deploy/auditlog.service > "$tmp/auditlog.service"
grep -q "^ExecStart=$bin " "$tmp/auditlog.service" || { echo "ExecStart does not run /usr/local/bin/auditlog"; exit 1; }

out=$(MANPATH="$tmp/man" systemd-analyze verify "$tmp/auditlog.service" 2>&1)
if [ -n "$out" ]; then
    printf 'systemd-analyze verify deploy/auditlog.service:\n%s\n' "$out"
    exit 1
fi
echo "systemd-analyze verify: deploy/auditlog.service is clean"
systemd-analyze security --offline=true --threshold=15 "$tmp/auditlog.service" | tail -1
