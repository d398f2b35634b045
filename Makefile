# Retrainer - two commands on a fresh clone: `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV_VERSION := 0.13.8
PYTEST_ARGS ?=

.PHONY: help install test test-fast lint format demo demo-clean prod-up prod-down prod-status lock bench-drift bench-validation bench-validation-many bench-triggers bench-backtest bench-gateway bench-scale ui

help:
	@echo "make demo   - the whole continuous-training loop, day by day, with a real gateway (no servers)"
	@echo "make test   - the test suite (starts its own Prefect API, MLflow store, moto S3)"
	@echo "make prod-up / prod-down / prod-status - the production stack on this machine"
	@echo "make lint   - ruff"
	@echo "make bench-drift / bench-validation / bench-validation-many - speed benchmarks (print their figures)"
	@echo "make bench-triggers - event-to-run-start latency: served vs process worker"
	@echo "make bench-backtest - policy backtest: a year through 6 policies and a 48-variant sweep"
	@echo "make bench-scale - scale-out limits: a 5M-row window streamed from S3, drift over thousands of segments on threads and Dask"
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
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=20 $(PYTEST_ARGS)

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
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra postgres --extra dask --python-version 3.11 \
		--quiet -o requirements.lock

# The whole continuous-training loop on the embedded default (no servers), day by day:
# nightly CT runs, a real gateway with simulated traffic and delayed feedback, a shadow and
# canary rollout, an aborted bad model, a rollback. Everything lands in demo/ (replaced on a
# rerun); Prefect's own output goes to demo/demo.log.
demo: $(STAMP)
	$(BIN)/retrainer demo --dir demo

demo-clean:
	rm -rf demo

# The production stack on this machine (docs/production.md): Prefect server and MLflow
# server on PostgreSQL (127.0.0.1:5432), S3 artifacts (moto_server), the store, a worker,
# the webhook receiver and the gateway; pids and logs under .retrainer/prod.
prod-up: $(STAMP)
	$(BIN)/retrainer prod up

prod-down: $(STAMP)
	$(BIN)/retrainer prod down

prod-status: $(STAMP)
	$(BIN)/retrainer prod status

ui: $(STAMP)
	$(BIN)/retrainer ui -c demo/retrainer.yaml

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

bench-scale: $(STAMP)
	$(BIN)/python benchmarks/scale_out.py

# Serving peers (MLServer) live in benchmarks/.serving-venv (created on first run); needs wrk.
bench-gateway: $(STAMP)
	$(BIN)/python benchmarks/gateway.py
