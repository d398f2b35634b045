"""``retrainer deploy`` against a real ``prefect server start`` (one per module, on 127.0.0.1).

The same server shows that the pinned stack's scheduler creates the nightly runs, and that
the shipped Docker and Kubernetes base job templates make work pools (no Docker or cluster
is needed to create a pool; starting its worker needs prefect-docker/prefect-kubernetes, which
are not installed here, and the test pins what Prefect says then).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from support import free_port

pytestmark = [pytest.mark.slow, pytest.mark.long]

REPO_ROOT = Path(__file__).resolve().parents[2]
WORK_POOLS = REPO_ROOT / "deployments" / "work-pools"
DEPLOYMENTS = {
    "continuous-training",
    "validate",
    "drift",
    "monitor",
    "score",
    "train",
    "gate",
    "reconcile-rollout",
}


@dataclass
class Server:
    url: str
    home: Path

    def env(self, **extra: str | None) -> dict[str, str]:
        """The environment of a client process (a None value removes a variable)."""
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env = {
            **inherited,
            "PREFECT_HOME": str(self.home),
            "PREFECT_API_URL": self.url,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            **extra,
        }
        return {k: v for k, v in env.items() if v is not None}

    def run(self, *args: str, cwd: Path | None = None, timeout: float = 600, **env: str | None):
        return subprocess.run(
            list(args),
            cwd=cwd,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def retrainer(self, *args: str, **env: str | None):
        return self.run(sys.executable, "-m", "retrainer", *args, **env)

    def prefect(self, *args: str, timeout: float = 600):
        return self.run(sys.executable, "-m", "prefect", *args, timeout=timeout)

    @contextmanager
    def client(self):
        from prefect.client.orchestration import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with (
            temporary_settings(updates={PREFECT_API_URL: self.url}),
            get_client(sync_client=True) as client,
        ):
            yield client


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``prefect server start`` with its own PREFECT_HOME, stopped by its PID at the end."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    log = (home / "server.log").open("w")
    command = ["server", "start", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        [sys.executable, "-m", "prefect", *command],
        env=Server(url, home).env(PREFECT_API_URL=None),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped with everything it started
    )
    try:
        _wait_healthy(url, process, home)
        yield Server(url, home)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        log.close()


def _wait_healthy(url: str, process: subprocess.Popen, home: Path) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"prefect server exited: {(home / 'server.log').read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail("prefect server did not answer /api/health within 180 s")


@pytest.fixture(scope="module")
def project(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder made by `retrainer init`, its work pool and a notification block."""
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    folder = tmp_path_factory.mktemp("users") / "churn"
    done = server.retrainer("init", str(folder))
    assert done.returncode == 0, done.stderr
    pool = server.prefect("work-pool", "create", "retrainer", "--type", "process")
    assert pool.returncode == 0, pool.stdout + pool.stderr
    with server.client():
        # nothing listens there: delivery is tested in tests/deployments/test_notifications.py
        CustomWebhookNotificationBlock(name="ops", url="http://127.0.0.1:9/hook").save("ops")
    return folder


@pytest.fixture(scope="module")
def deployed(server: Server, project: Path) -> dict:
    """`retrainer deploy --notify custom-webhook/ops --json` in the project folder."""
    done = server.retrainer("deploy", str(project), "--notify", "custom-webhook/ops", "--json")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(done.stdout)


def _copy_with(project: Path, target: Path, edit) -> Path:
    """The project's prefect.yaml, edited, in a folder of its own."""
    document = yaml.safe_load((project / "prefect.yaml").read_text())
    edit(document)
    target.mkdir()
    (target / "prefect.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return target


def _ct(document: dict) -> dict:
    return next(d for d in document["deployments"] if d["name"] == "continuous-training")


def test_deploy_puts_every_deployment_trigger_and_limit_on_the_server(server, deployed):
    # then the story lists every deployment of prefect.yaml, with its schedules and triggers
    assert deployed["ok"] is True
    assert deployed["findings"] == []
    checks = {d["name"]: d for d in deployed["deployments"]}
    assert set(checks) == DEPLOYMENTS
    assert (
        checks["continuous-training"]["schedules"],
        checks["continuous-training"]["automations"],
    ) == (1, 4)
    assert checks["validate"]["active_schedules"] == 0
    assert checks["reconcile-rollout"]["active_schedules"] == 1
    assert (deployed["schedules"], deployed["automations"]) == (7, 4)
    assert deployed["train_limit"] == {
        "name": "retrainer-train",
        "limit": 1,
        "active": True,
        "created": True,
    }
    assert [n["action"] for n in deployed["notifications"]] == ["created"] * 6
    # and the server holds them: the limit, and the templated trigger parameters as written
    with server.client() as client:
        assert client.read_global_concurrency_limit_by_name("retrainer-train").limit == 1
        [alert] = client.read_automations_by_name("continuous-training-on-alert")
    parameters = alert.actions[0].parameters
    assert parameters["event_id"] == "{{ event.id | string }}"
    assert parameters["alert_id"] == "{{ event.payload.alert_id | default(none) }}"


def test_deploying_again_updates_in_place(server, project, deployed):
    done = server.retrainer("deploy", str(project), "--notify", "custom-webhook/ops", "--json")

    assert done.returncode == 0, done.stderr[-3000:]
    again = json.loads(done.stdout)
    assert again["train_limit"]["created"] is False
    first_ids = [n["id"] for n in deployed["notifications"]]
    assert [(n["id"], n["action"]) for n in again["notifications"]] == [
        (i, "updated") for i in first_ids
    ]


def test_a_typod_key_is_a_finding_and_nothing_is_deployed(server, project, deployed, tmp_path):
    # given the continuous-training deployment with `trigger:` for `triggers:`
    def typo(document):
        ct = _ct(document)
        ct["trigger"] = ct.pop("triggers")

    folder = _copy_with(project, tmp_path / "typo", typo)

    done = server.retrainer("deploy", str(folder))

    # then it exits 1 naming the key, and the automations deployed before are still there
    assert done.returncode == 1, done.stdout + done.stderr
    assert "unknown key 'trigger' in the deployment" in done.stdout
    assert "did you mean 'triggers'?" in done.stdout
    assert "nothing was deployed" in done.stdout
    with server.client() as client:
        assert len(client.read_automations_by_name("continuous-training-on-drift")) == 1


def test_check_only_names_what_the_server_holds_otherwise(server, project, deployed, tmp_path):
    # given a prefect.yaml that asks for another nightly hour and another trigger parameter
    def edit(document):
        ct = _ct(document)
        ct["schedules"][0]["cron"] = "0 4 * * *"
        ct["triggers"][0]["parameters"]["reason"] = "drifted"

    folder = _copy_with(project, tmp_path / "edited", edit)

    done = server.retrainer("deploy", str(folder), "--check-only", "--json")

    # then nothing is deployed and each difference is a finding
    assert done.returncode == 1, done.stderr[-3000:]
    document = json.loads(done.stdout)
    assert document["deployed"] is False
    messages = [f"{f['where']}: {f['message']}" for f in document["findings"]]
    assert len(messages) == 3, messages
    assert "schedule cron '0 4 * * *' UTC, active" in messages[0]
    assert "the server has schedule cron '0 3 * * *' UTC, active" in messages[1]
    assert messages[2].startswith(
        "trigger 'continuous-training-on-drift' of deployment 'continuous-training': parameters is"
    )


def test_without_a_prefect_api_deploy_exits_2_and_says_why(server, project):
    done = server.retrainer("deploy", str(project), PREFECT_API_URL=None)

    assert done.returncode == 2
    assert "PREFECT_API_URL is not set" in done.stderr


def test_a_missing_work_pool_is_named_before_anything_is_deployed(server, project, tmp_path):
    def elsewhere(document):
        for spec in document["deployments"]:
            spec["work_pool"] = {"name": "gpu-pool", "job_variables": {}}

    folder = _copy_with(project, tmp_path / "pool", elsewhere)

    done = server.retrainer("deploy", str(folder))

    assert done.returncode == 2
    assert "work pool 'gpu-pool' does not exist" in done.stderr
    assert "prefect work-pool create gpu-pool --type process" in done.stderr


def test_the_scheduler_creates_the_nightly_runs_and_none_for_inactive_schedules(server, deployed):
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    ids = {d["name"]: d["id"] for d in deployed["deployments"]}

    def runs(name: str) -> list:
        with server.client() as client:
            return client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[ids[name]]))
            )

    # when the scheduler service has seen the new deployments (it polls every few seconds)
    deadline = time.monotonic() + 120
    nightly = runs("continuous-training")
    while not nightly and time.monotonic() < deadline:
        time.sleep(1)
        nightly = runs("continuous-training")

    # then the nightly loop has scheduled runs at 03:00 UTC with reason=schedule
    assert nightly, "the scheduler created no continuous-training runs"
    assert {r.state_name for r in nightly} == {"Scheduled"}
    assert {(r.expected_start_time.hour, r.expected_start_time.minute) for r in nightly} == {(3, 0)}
    assert all(r.parameters == {"config": "retrainer.yaml", "reason": "schedule"} for r in nightly)
    # and the schedules left off (the standalone checks, the weekly baseline) made none
    assert runs("validate") == runs("train") == []


@pytest.mark.parametrize(
    ("kind", "template"), [("docker", "docker.json"), ("kubernetes", "kubernetes.json")]
)
def test_the_shipped_job_templates_make_work_pools(server, kind, template):
    path = WORK_POOLS / template

    done = server.prefect(
        "work-pool", "create", f"retrainer-{kind}", "--type", kind, "--base-job-template", str(path)
    )

    assert done.returncode == 0, done.stdout + done.stderr
    with server.client() as client:
        pool = client.read_work_pool(f"retrainer-{kind}")
    assert pool.type == kind
    assert pool.base_job_template == json.loads(path.read_text())


def test_a_docker_worker_needs_prefect_docker_which_is_not_installed(server):
    # given the docker pool (made above, or now)
    server.prefect("work-pool", "create", "retrainer-docker", "--type", "docker")

    done = server.prefect(
        "worker", "start", "--pool", "retrainer-docker", "--install-policy", "never", timeout=120
    )

    assert done.returncode == 1
    assert "Unable to start worker" in done.stdout + done.stderr
