# Retrainer - two commands on a fresh clone: `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV_VERSION := 0.13.8
PYTEST_ARGS ?=

.PHONY: help install test test-fast lint format demo demo-clean lock bench-drift bench-validation bench-validation-many bench-triggers bench-backtest bench-gateway ui

help:
	@echo "make demo   - simulate data, validate, train through Prefect, register in MLflow"
	@echo "make test   - the test suite (starts its own Prefect API, MLflow store, moto S3)"
	@echo "make lint   - ruff"
	@echo "make bench-drift / bench-validation / bench-validation-many - speed benchmarks (print their figures)"
	@echo "make bench-triggers - event-to-run-start latency: served vs process worker"
	@echo "make bench-backtest - policy backtest: a year through 6 policies and a 48-variant sweep"
	@echo "make bench-gateway - serving: retrainer serve vs mlflow models serve and MLServer (needs wrk)"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if v == (3, 11) else f"Python 3.11 is required, {sys.executable} is {v[0]}.{v[1]}; run: make PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)

# Exact pins from requirements.lock; skipped when neither the lock nor pyproject.toml changed.
$(STAMP): $(BIN)/python requirements.lock pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --python $(BIN)/python --quiet --compile-bytecode -r requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

install: $(STAMP)

# Two workers (pytest-xdist), each with its own Prefect harness; a file's tests stay on one
# worker, so module-scoped servers start once. PYTEST_WORKERS=0 runs them in this process.
PYTEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src deployments tests benchmarks
	$(BIN)/ruff format --check src deployments tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format src deployments tests benchmarks
	$(BIN)/ruff check --fix src deployments tests benchmarks

# Regenerate the lock after changing dependencies in pyproject.toml.
lock: $(BIN)/python
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra postgres --python-version 3.11 \
		--quiet -o requirements.lock

# The demo starts from scratch: it replaces data/ and .retrainer/ in this checkout.
# Commands that report a finding exit 1 (a quarantined batch, drift, degraded performance,
# a failed gate); `|| test $$? -eq 1` accepts exactly that and still stops on real errors
# (exit 2).
demo: $(STAMP) demo-clean
	@echo "== 1. simulate 120 days of loan applications (drift on 03-12, a bad batch on 03-22, a downturn from 04-06)"
	$(BIN)/retrainer simulate --scenario demo --days 120 --out data
	@echo "== 2. validate every batch with Great Expectations; the bad one is quarantined"
	$(BIN)/retrainer validate --all || test $$? -eq 1
	$(BIN)/retrainer validate --list-quarantine
	@echo "== 3. train the first model on what was known on 2026-03-01; the gate makes it champion"
	$(BIN)/retrainer train --as-of 2026-03-01 --reason initial
	@echo "== 4. score every batch with the champion"
	$(BIN)/retrainer score --all
	@echo "== 5. drift of the week after the income drop against the champion's training profile"
	$(BIN)/retrainer drift --current 2026-03-12:2026-03-18 --html .retrainer/reports/drift-demo.html || test $$? -eq 1
	@echo "== 6. live performance as labels arrive (and estimated before they do)"
	$(BIN)/retrainer monitor --html .retrainer/reports/monitoring-demo.html || test $$? -eq 1
	@echo "== 7. retrain on recent data; the gate compares it with the stale champion"
	$(BIN)/retrainer train --window fixed:21 --reason drift --promote || test $$? -eq 1
	@echo
	@echo "Champion: models:/credit-default@champion   (previous one: @previous_champion)"
	@echo "Reports:  .retrainer/reports/"
	@echo "MLflow UI: $(BIN)/retrainer ui   (then open http://127.0.0.1:5000)"

demo-clean:
	rm -rf data .retrainer

ui: $(STAMP)
	$(BIN)/retrainer ui

bench-drift: $(STAMP)
	$(BIN)/python benchmarks/drift_vs_evidently.py

bench-validation: $(STAMP)
	$(BIN)/python benchmarks/validation_large_batch.py

bench-validation-many: $(STAMP)
	$(BIN)/python benchmarks/validation_many_partitions.py

# Starts its own `prefect server start` (free port, temporary PREFECT_HOME) and stops it.
bench-triggers: $(STAMP)
	$(BIN)/python benchmarks/trigger_latency.py

bench-backtest: $(STAMP)
	$(BIN)/python benchmarks/backtest.py

# Serving peers (MLServer) live in benchmarks/.serving-venv (created on first run); needs wrk.
bench-gateway: $(STAMP)
	$(BIN)/python benchmarks/gateway.py
