"""``retrainer init DIR``: a project folder that trains and deploys without this repository.

The folder also holds the user's own ``tasks.py`` and ``flows.py`` (common names): Retrainer's
flows are named by module (``retrainer.flows.train:train``), so neither shadows the other.
Real CLI runs in a subprocess against the test Prefect API (a real server).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow

USER_MODULE = '''"""The user's own {name}.py, next to retrainer.yaml."""
from pathlib import Path

Path(__file__).with_name("{name}_imported.txt").write_text("imported")


def clean(frame):
    return frame.dropna()
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A folder made by `retrainer init`, with the user's tasks.py and flows.py added."""
    folder = tmp_path_factory.mktemp("users") / "churn"
    done = subprocess.run(
        [sys.executable, "-m", "retrainer", "init", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for name in ("tasks", "flows"):
        (folder / f"{name}.py").write_text(USER_MODULE.format(name=name))
    config = yaml.safe_load((folder / "retrainer.yaml").read_text())
    config["estimator"]["params"] = {"max_iter": 40}  # a quick model
    (folder / "retrainer.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder


def test_init_writes_a_project_whose_deployments_name_the_flows_by_module(project):
    prefect = yaml.safe_load((project / "prefect.yaml").read_text())

    assert {p.name for p in project.iterdir()} >= {
        "retrainer.yaml",
        "prefect.yaml",
        "README.md",
        ".gitignore",
    }
    entrypoints = {d["name"]: d["entrypoint"] for d in prefect["deployments"]}
    assert entrypoints["train"] == "retrainer.flows.train:train"
    assert all(e.startswith("retrainer.flows.") for e in entrypoints.values())
    [step] = prefect["pull"]
    directory = step["prefect.deployments.steps.set_working_directory"]["directory"]
    assert directory == str(project.resolve())
    assert "prefect --no-prompt deploy --all" in (project / "README.md").read_text()


def test_the_folder_trains_and_deploys_beside_the_users_own_tasks_and_flows(
    project, run_cli, prefect_api
):
    # when the user simulates data and trains in the folder
    simulated = run_cli("simulate", "--days", "40", "--rows-per-day", "300", cwd=project)
    trained = run_cli("train", cwd=project)

    # then a champion is registered ...
    assert simulated.exit_code == 0, simulated.stderr[-2000:]
    assert trained.exit_code == 0, trained.stderr[-3000:]
    assert "champion: models:/credit-default@champion" in trained.stdout

    # ... and Prefect deploys every deployment of the folder to the server
    env = {**os.environ, "PREFECT_API_URL": prefect_api}
    for command in (
        ["work-pool", "create", "retrainer", "--type", "process", "--overwrite"],
        ["--no-prompt", "deploy", "--all"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "prefect", *command],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-2000:])
    deployments = _deployments(prefect_api)
    assert {"validate", "drift", "monitor", "score", "train", "gate"} <= set(deployments)
    assert deployments["train"].entrypoint == "retrainer.flows.train:train"
    assert deployments["train"].work_pool_name == "retrainer"
    # and neither side imported the other's modules
    assert not (project / "tasks_imported.txt").exists()
    assert not (project / "flows_imported.txt").exists()


def test_a_worker_in_the_folder_loads_retrainers_flow_not_the_users(project):
    # given the folder as the worker's working directory, first on the import path
    code = (
        "import sys; sys.path.insert(0, '.');"
        "from prefect.flows import load_flow_from_entrypoint;"
        "print(load_flow_from_entrypoint('retrainer.flows.train:train').name);"
        "import flows, tasks; print(flows.__file__, tasks.__file__)"
    )

    done = subprocess.run(
        [sys.executable, "-c", code], cwd=project, capture_output=True, text=True, check=False
    )

    # then the deployment's flow is Retrainer's, and the user's modules are still theirs
    assert done.returncode == 0, done.stderr
    name, files = done.stdout.splitlines()
    assert name == "train"
    assert files == f"{project / 'flows.py'} {project / 'tasks.py'}"


def _deployments(api_url: str) -> dict:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        assert str(client.api_url).rstrip("/") == api_url.rstrip("/")
        return {d.name: d for d in client.read_deployments()}
