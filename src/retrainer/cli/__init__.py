"""The ``retrainer`` command line.

Every reporting command takes ``--json`` (one JSON document on stdout) and exits 0 for ok,
1 for a finding (invalid batch, drift, failed gate) and 2 for a usage or config error.
"""

from __future__ import annotations

import importlib
import os

import typer

# Local runs use Prefect's ephemeral API (a subprocess server). Its 20 s default start-up
# timeout is too tight on a busy 2-core laptop; users can still override it.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

app = typer.Typer(
    name="retrainer",
    help="Keep ML models fresh: validate data, detect drift, retrain, gate and promote.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# Each module defines `register(app)`; keeping commands in separate modules lets them import
# heavy libraries (Great Expectations, MLflow, Prefect) only when they run.
_COMMAND_MODULES = [
    "retrainer.cli.config_cmd",
    "retrainer.cli.simulate_cmd",
    "retrainer.cli.import_cmd",
    "retrainer.cli.validate_cmd",
    "retrainer.cli.train_cmd",
    "retrainer.cli.drift_cmd",
    "retrainer.cli.monitor_cmd",
    "retrainer.cli.gate_cmd",
    "retrainer.cli.score_cmd",
    "retrainer.cli.ui_cmd",
    "retrainer.cli.promotion_cmd",
    "retrainer.cli.db_cmd",
    "retrainer.cli.policy_cmd",
    "retrainer.cli.webhook_cmd",
    "retrainer.cli.deploy_cmd",
    "retrainer.cli.backtest_cmd",
    "retrainer.cli.serve_cmd",
    "retrainer.cli.rollout_cmd",
    "retrainer.cli.prod_cmd",
    "retrainer.cli.demo_cmd",
]

for _name in _COMMAND_MODULES:
    try:
        _module = importlib.import_module(_name)
    except ModuleNotFoundError as _exc:
        if _exc.name != _name:
            raise
        continue
    _module.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
