# auditlog: every command a developer or operator needs. Only Rust (and python3 for the
# OpenAPI validator) is required; everything else is installed on demand.
SHELL := /bin/bash
CARGO ?= cargo
VENV := target/venv
PY := $(VENV)/bin/python
# The PostgreSQL that the tests use when it is set (CI sets it).
export AUDITLOG_TEST_POSTGRES_URL ?=

.PHONY: run test lint fmt openapi seed bench fuzz soak clean-venv

## Serve on the embedded SQLite file at http://127.0.0.1:8000
run:
	$(CARGO) run -p auditlog -- serve

## Every test: unit, store suite on SQLite (and PostgreSQL when AUDITLOG_TEST_POSTGRES_URL
## is set), end to end over HTTP, and the OpenAPI document through an independent validator.
test: $(VENV)/.installed
	$(CARGO) nextest run --workspace --no-fail-fast
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

## Demo data in the default tenant of the embedded SQLite file.
COUNT ?= 10000
seed:
	$(CARGO) run -p auditlog -- seed --count $(COUNT)
