# auditlog: every command a developer or operator needs. Only Rust (and python3 for the
# OpenAPI validator) is required; everything else is installed on demand.
SHELL := /bin/bash
CARGO ?= cargo
VENV := target/venv
PY := $(VENV)/bin/python
# The PostgreSQL that the tests use when it is set (CI sets it).
export AUDITLOG_TEST_POSTGRES_URL ?=

.PHONY: run test lint fmt openapi seed bench fuzz soak clean-venv schemathesis outage crash deny unit browser memory bench-purge q-isolation

## Serve on the embedded SQLite file at http://127.0.0.1:8000
run:
	$(CARGO) run -p auditlog -- serve

# The PostgreSQL variants, by name. Without AUDITLOG_TEST_POSTGRES_URL (and outside CI,
# where they must run) they are left out, and nextest reports them as skipped; run on
# their own without a server, they fail and say why.
POSTGRES_TESTS := test(/(^|::)postgres(::|_)|(::|_)postgres$$/)
NEXTEST_FILTER := $(if $(AUDITLOG_TEST_POSTGRES_URL)$(filter true TRUE 1,$(CI)),,-E 'not $(POSTGRES_TESTS)')

## Every test: unit, store suite on SQLite (and PostgreSQL when AUDITLOG_TEST_POSTGRES_URL
## is set), end to end over HTTP, and the OpenAPI document through an independent validator.
test: $(VENV)/.installed
	@if [ -n "$(NEXTEST_FILTER)" ]; then echo "AUDITLOG_TEST_POSTGRES_URL is not set: the PostgreSQL variants are left out (counted as skipped)"; fi
	$(CARGO) nextest run --workspace --no-fail-fast $(NEXTEST_FILTER)
	$(CARGO) test --workspace --doc
	$(CARGO) run -q -p auditlog-http --example login_service
	$(CARGO) run -q -p auditlog -- openapi > target/openapi.served.json
	$(PY) -m openapi_spec_validator target/openapi.served.json
	$(PY) -m openapi_spec_validator openapi/openapi.json

$(VENV)/.installed: tools/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements.txt
	touch $@

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## Rewrite the committed OpenAPI document from the code.
openapi:
	$(CARGO) run -q -p auditlog -- openapi > openapi/openapi.json

## Demo data in the default tenant of the embedded SQLite file (made when missing).
COUNT ?= 10000
seed:
	$(CARGO) run -q -p auditlog -- migrate
	$(CARGO) run -p auditlog -- seed --count $(COUNT)

## The systemd unit in deploy/ through systemd-analyze verify and security.
unit:
	$(CARGO) build -q -p auditlog
	tools/check-unit.sh

## Swagger UI in headless Chromium under its content security policy: every path rendered,
## nothing refused (installs Debian's chromium when missing).
browser:
	command -v chromium > /dev/null || { s=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$s apt-get install -y chromium || { $$s apt-get update && $$s apt-get install -y chromium; }; }
	$(CARGO) build -q -p auditlog
	tools/check-swagger-ui.sh target/debug/auditlog

## Reliability (RELIABILITY.md). Fuzzing: the two parsers with cargo-fuzz for FUZZ_SECS
## each, then schemathesis against every operation with FUZZ_EXAMPLES examples each.
FUZZ_SECS ?= 120
FUZZ_EXAMPLES ?= 1000
FUZZ_SEED ?= $(shell date +%s)
fuzz: $(VENV)/.installed
	tools/fuzz.sh $(FUZZ_SECS)
	VENV=$(VENV) tools/schemathesis.sh $(FUZZ_EXAMPLES) $(FUZZ_SEED)

## Schemathesis with CI's bound (50 examples per operation).
schemathesis: $(VENV)/.installed
	VENV=$(VENV) tools/schemathesis.sh 50 1

## Load and soak: 64 clients for SOAK_SECS after a minute of warm-up, on SQLite (and
## PostgreSQL when AUDITLOG_TEST_POSTGRES_URL is set), 127.0.0.1 only.
SOAK_SECS ?= 300
soak:
	$(CARGO) build --release -p auditlog --bin auditlog --example soak
	AUDITLOG_BIN=target/release/auditlog target/release/examples/soak --secs $(SOAK_SECS) --backend sqlite
	if [ -n "$(AUDITLOG_TEST_POSTGRES_URL)" ]; then \
	  AUDITLOG_BIN=target/release/auditlog target/release/examples/soak --secs $(SOAK_SECS) --backend postgres; fi

## Resident memory under the costliest requests (RELIABILITY.md, Limits), on SQLite and,
## when AUDITLOG_TEST_POSTGRES_URL is set, on PostgreSQL. A few minutes.
memory:
	$(CARGO) build --release -p auditlog
	python3 tools/memory.py --bin target/release/auditlog --backend sqlite
	if [ -n "$(AUDITLOG_TEST_POSTGRES_URL)" ]; then \
	  python3 tools/memory.py --bin target/release/auditlog --backend postgres; fi

## A purge of half the log under read and write load (BENCHMARKS.md, Retention under
## load): PURGE_ENTRIES (default 2,000,000) on PostgreSQL (BENCH_POSTGRES_ADMIN) and on
## SQLite. Tens of minutes; not in CI.
PURGE_ENTRIES ?= 2000000
BENCH_POSTGRES_ADMIN ?= postgres://postgres@127.0.0.1:5432
bench-purge:
	$(CARGO) build --release -p auditlog
	python3 tools/purge_load.py --bin target/release/auditlog --backend postgres --postgres $(BENCH_POSTGRES_ADMIN) --entries $(PURGE_ENTRIES)
	python3 tools/purge_load.py --bin target/release/auditlog --backend sqlite --entries $(PURGE_ENTRIES)

## Whether q in one tenant slows with other tenants' matching values (RELIABILITY.md).
q-isolation:
	$(CARGO) build --release -p auditlog
	python3 tools/q_isolation.py --bin target/release/auditlog --backend sqlite
	python3 tools/q_isolation.py --bin target/release/auditlog --backend postgres --postgres $(BENCH_POSTGRES_ADMIN)

## A PostgreSQL outage on a private cluster; SIGKILL during ingestion, on both backends.
outage:
	$(CARGO) test -p auditlog --test outage -- --nocapture
crash:
	$(CARGO) test -p auditlog --test crash -- --nocapture

## Dependency policy: bans, licenses and sources; advisories when the RustSec database
## can be fetched (it cannot from a machine that reaches only package registries).
deny:
	command -v cargo-deny > /dev/null || $(CARGO) install cargo-deny --locked
	$(CARGO) deny check bans licenses sources
	if $(CARGO) deny fetch > /dev/null 2>&1; then $(CARGO) deny check advisories; \
	else echo "cargo deny: advisories NOT checked: the RustSec advisory database cannot be fetched here"; fi

## Benchmarks: seeds SQLite and PostgreSQL (127.0.0.1:5432), drives the release server with
## wrk, times Hanko's query pattern on the same data, and writes BENCHMARKS.md.
## Sizes and durations: BENCH_N1, BENCH_N2, BENCH_SECS, ... (target/release/auditlog-bench --help).
bench:
	command -v wrk > /dev/null || { s=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$s apt-get install -y wrk || { $$s apt-get update && $$s apt-get install -y wrk; }; }
	$(CARGO) build --release -p auditlog -p auditlog-bench
	target/release/auditlog-bench
