"""`retrainer ui`: the MLflow UI on the project's embedded store."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retrainer.cli import app
from retrainer.config.starter import STARTER_CONFIG

runner = CliRunner()


def _project(root: Path) -> Path:
    path = root / "retrainer.yaml"
    path.write_text(STARTER_CONFIG)
    return path


def test_print_shows_a_command_that_needs_no_mlflow_on_path(tmp_path):
    # given a project (no store yet)
    config = _project(tmp_path)

    # when the user asks for the command only
    result = runner.invoke(app, ["ui", "-c", str(config), "--print", "--port", "5123"])

    # then it runs MLflow through this interpreter, on the project's store and port
    assert result.exit_code == 0, result.output
    argv = shlex.split(result.stdout.strip())
    assert argv[:4] == [sys.executable, "-m", "mlflow", "ui"]
    assert Path(argv[0]).is_absolute()
    store = f"sqlite:///{tmp_path / '.retrainer' / 'mlflow.db'}"
    assert argv[argv.index("--backend-store-uri") + 1] == store
    assert argv[argv.index("--port") + 1] == "5123"
    # and printing it wrote nothing (the state directory is not created)
    assert not (tmp_path / ".retrainer").exists()


def test_ui_without_a_store_says_so(tmp_path):
    config = _project(tmp_path)

    result = runner.invoke(app, ["ui", "-c", str(config)])

    assert result.exit_code == 2
    assert "no MLflow store yet" in result.stderr
    assert not (tmp_path / ".retrainer").exists()


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status, response.read()


@pytest.mark.slow
def test_ui_serves_the_store_and_leaves_nothing_behind_on_sigterm(tmp_path, monkeypatch):
    from support import free_port

    from retrainer.project import Project
    from retrainer.registry.tracking import configure_mlflow

    # given a project whose embedded store holds its experiment
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    config = _project(tmp_path)
    configure_mlflow(Project.load(config))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}

    # when `retrainer ui` runs (in its own process group, to see any process it leaves)
    process = subprocess.Popen(
        [sys.executable, "-m", "retrainer", "ui", "-c", str(config), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/get-by-name"
        deadline = time.monotonic() + 120
        while True:
            try:
                status, body = _get(f"{url}?experiment_name=credit-default")
                break
            except OSError:
                assert process.poll() is None, "retrainer ui exited before serving"
                assert time.monotonic() < deadline, "the UI never answered"
                time.sleep(0.5)

        # then it serves the project's store
        assert status == 200
        assert json.loads(body)["experiment"]["name"] == "credit-default"

        # and SIGTERM stops it cleanly with no process of it left
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) is not None
        deadline = time.monotonic() + 30
        while _group_alive(process.pid):
            assert time.monotonic() < deadline, "a process of `retrainer ui` outlived SIGTERM"
            time.sleep(0.5)
    finally:
        if _group_alive(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
