# Retrainer - two commands on a fresh clone: `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV_VERSION := 0.13.8
PYTEST_ARGS ?=

.PHONY: help install test test-fast lint format demo demo-clean lock bench-drift bench-validation ui

help:
	@echo "make demo   - simulate data, validate, train through Prefect, register in MLflow"
	@echo "make test   - the test suite (starts its own Prefect API, MLflow store, moto S3)"
	@echo "make lint   - ruff"
	@echo "make bench-drift / bench-validation - speed benchmarks (print their figures)"

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

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src flows tasks deployments tests benchmarks
	$(BIN)/ruff format --check src flows tasks deployments tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format src flows tasks deployments tests benchmarks
	$(BIN)/ruff check --fix src flows tasks deployments tests benchmarks

# Regenerate the lock after changing dependencies in pyproject.toml.
lock: $(BIN)/python
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra postgres --python-version 3.11 \
		--quiet -o requirements.lock

# The demo starts from scratch: it replaces data/ and .retrainer/ in this checkout.
demo: $(STAMP) demo-clean
	$(BIN)/retrainer simulate --scenario demo --days 120 --out data
	$(BIN)/retrainer train --as-of 2026-03-01 --reason demo-initial
	@echo
	@echo "Champion: models:/credit-default@champion"
	@echo "Open the MLflow UI:  $(BIN)/retrainer ui   (then http://127.0.0.1:5000)"

demo-clean:
	rm -rf data .retrainer

ui: $(STAMP)
	$(BIN)/retrainer ui

bench-drift: $(STAMP)
	$(BIN)/python benchmarks/drift_vs_evidently.py

bench-validation: $(STAMP)
	$(BIN)/python benchmarks/validation_large_batch.py
