"""Test helpers shared across test packages (import as ``from support import ...``).

Fixtures live in ``conftest.py``; plain helpers live here, because ``from conftest import``
is ambiguous when several test folders have a ``conftest.py``.
"""

from __future__ import annotations

import socket
from pathlib import Path


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something listens on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def deep_merge(base: dict, overrides: dict) -> dict:
    """``base`` updated recursively with ``overrides`` (a None value deletes the key)."""
    out = dict(base)
    for key, value in overrides.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


class ProjectFactory:
    """Writes a project (retrainer.yaml + simulated data) into a directory."""

    def __init__(self, root: Path):
        self.root = root

    def __call__(
        self,
        scenario: str = "stable",
        days: int = 60,
        rows_per_day: int = 400,
        seed: int = 0,
        overrides: dict | None = None,
        incidents: tuple[str, ...] = (),
        name: str = "project",
    ):
        import yaml

        from retrainer.config.starter import STARTER_CONFIG
        from retrainer.simulate import simulate, write_simulation

        root = self.root / name
        root.mkdir(parents=True, exist_ok=True)
        config = yaml.safe_load(STARTER_CONFIG)
        # light defaults so flow tests stay fast
        config["estimator"]["params"] = {"max_iter": 60, "learning_rate": 0.1}
        config["training"]["window"] = {"kind": "fixed", "days": 30}
        # validation has its own tests: by default train on the partitions as they are
        # (validating 60 fresh partitions first costs ~30 s per project)
        config.setdefault("validation", {})["before_training"] = "allow"
        config = deep_merge(config, overrides or {})
        path = root / "retrainer.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        sim = simulate(
            scenario=scenario,
            days=days,
            seed=seed,
            rows_per_day=rows_per_day,
            incidents=list(incidents),
        )
        write_simulation(sim, root / "data")
        return path, sim


def forget_mlflow_store() -> None:
    """Drop the MLflow store a previous project exported to the environment.

    ``configure_mlflow`` exports ``MLFLOW_TRACKING_URI``/``MLFLOW_REGISTRY_URI`` (so that
    ``models:/`` loads find the store); the next project in the same process must not
    inherit them.
    """
    import os

    os.environ.pop("MLFLOW_TRACKING_URI", None)
    os.environ.pop("MLFLOW_REGISTRY_URI", None)


def read_events(event_id: str | None, timeout: float = 30.0) -> list:
    """The events the Prefect API stored under ``event_id`` (emission is asynchronous: poll).

    Raises:
        AssertionError: No id, or nothing arrived within ``timeout`` seconds.
    """
    import time
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventIDFilter

    assert event_id, "no event was emitted"
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            page = client.read_events(EventFilter(id=EventIDFilter(id=[UUID(event_id)])), limit=10)
            if page.events:
                return page.events
            if time.monotonic() > deadline:
                raise AssertionError(f"event {event_id} never reached the Prefect API")
            time.sleep(0.5)


def read_event(event_id: str | None, timeout: float = 30.0):
    """The first event stored under ``event_id`` (see :func:`read_events`)."""
    return read_events(event_id, timeout)[0]


REPO_ROOT = Path(__file__).resolve().parents[1]
FAST_ESTIMATOR = {
    "class_path": "sklearn.linear_model.LogisticRegression",
    "params": {"max_iter": 1000},
}


def write_demo_project(root: Path, simulation, model_name: str | None = None) -> Path:
    """The repository's demo config on a simulated stream, with a fast estimator.

    Validation before training is set to ``allow``: these projects test what comes after
    validation, which has its own tests.

    Args:
        root: Project folder (created if missing).
        simulation: A :class:`retrainer.simulate.Simulation`, written to ``root/data``.
        model_name: Registered model name (default: the demo's).

    Returns:
        The path of the written ``retrainer.yaml``.
    """
    import yaml

    from retrainer.simulate import write_simulation

    root.mkdir(parents=True, exist_ok=True)
    data = yaml.safe_load((REPO_ROOT / "retrainer.yaml").read_text())
    data["data"]["source"] = "data"
    if model_name:
        data["model"]["name"] = model_name
    data.setdefault("validation", {})["before_training"] = "allow"
    data["estimator"] = dict(FAST_ESTIMATOR)
    path = root / "retrainer.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    write_simulation(simulation, root / "data")
    return path
