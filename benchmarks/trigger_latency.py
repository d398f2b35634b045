"""Event → flow-run-start latency of the continuous-training trigger: served vs process worker.

Run: ``make bench-triggers`` (or ``.venv/bin/python benchmarks/trigger_latency.py``). It prints
a table; ``--json FILE`` also writes the figures.

The benchmark starts its own ``prefect server start`` on a free 127.0.0.1 port with its own
``PREFECT_HOME`` (a temporary directory; every process it starts is stopped by its PID). The
trigger is the continuous-training deployment's own ``continuous-training-on-drift`` trigger,
read from the repository's ``prefect.yaml`` (match on ``retrainer.model.*`` and
``retrainer.origin: standalone``, the templated parameters). It is attached to a tiny flow
with the CT flow's parameters that returns at once, so the figure is the trigger path, not
the loop's work:

* **served**: ``serve()`` of that deployment in a child process with
  ``PREFECT_RUNNER_POLL_FREQUENCY=1`` (``deployments/serve.py``'s path);
* **worker**: a ``process`` work pool and ``prefect worker start`` with
  ``PREFECT_WORKER_QUERY_SECONDS=1``; each run is a new Python process (what a worker does).

Per path, ``--emits`` standalone ``retrainer.drift.detected`` events (default 5), one at a
time: the next is emitted when the previous run has finished. Latency = the run's Running
state timestamp (from the server's state history) − the event's ``occurred``; the time to the
run's creation (the automation's share) is printed beside. Targets: served ≤ 3 s, worker ≤ 5 s
(median).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import flow

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PREFECT_YAML = REPO / "prefect.yaml"
TRIGGER = "continuous-training-on-drift"
TARGETS = {"served": 3.0, "worker": 5.0}
POOL = "bench-process"


@flow(name="latency-probe")
def latency_probe(
    config: str = "retrainer.yaml",
    reason: str = "schedule",
    event_id: str | None = None,
    event: str | None = None,
    alert_id: str | None = None,
    alert_source: str | None = None,
    detail: str | None = None,
    requested_by: str | None = None,
    as_of: str | None = None,
) -> str | None:
    """The continuous-training flow's parameters, and nothing to do."""
    return event_id


def ct_trigger() -> Any:
    """The CT deployment's drift trigger, as ``prefect.yaml`` defines it."""
    from retrainer.deployments.definitions import CT_DEPLOYMENT, runner_deployments

    (ct,) = runner_deployments(PREFECT_YAML, names=[CT_DEPLOYMENT])
    [trigger] = [t for t in ct.triggers if t.name == TRIGGER]
    return trigger


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(home: Path, url: str | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", **extra}
    if url:
        env["PREFECT_API_URL"] = url
    return env


@contextmanager
def started(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """A child process in its own process group, stopped by its PID at the end."""
    with log.open("w") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@contextmanager
def prefect_server(home: Path) -> Iterator[str]:
    """``prefect server start`` on a free port; yields its API URL once healthy."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
    command += ["--port", str(port)]
    with started(command, child_env(home, None), home / "server.log") as process:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"prefect server did not start; see {home / 'server.log'}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        yield url


def wait_for(what: str, check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")


def deployment_ready(client: Any, name: str) -> Any:
    """The deployment's id once it and its trigger's automation are on the server."""
    from prefect.exceptions import ObjectNotFound

    try:
        deployment = client.read_deployment_by_name(f"latency-probe/{name}")
    except ObjectNotFound:
        return None
    related = client.read_resource_related_automations(f"prefect.deployment.{deployment.id}")
    return deployment.id if related else None


def one_emit(client: Any, deployment_id: Any, timeout: float) -> dict[str, float]:
    """Emit a standalone drift event; seconds to the run's creation and to Running."""
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.events import emit_event

    from retrainer import events

    model = f"bench-{uuid.uuid4().hex[:6]}"
    emitted = emit_event(
        events.DRIFT_DETECTED,
        resource=events.model_resource(model, origin=events.ORIGIN_STANDALONE),
        payload={"drifted_columns": ["income"]},
    )
    event_id = str(emitted.id)
    only_this = DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))

    def the_run() -> Any:
        runs = client.read_flow_runs(deployment_filter=only_this)
        return next((r for r in runs if r.parameters.get("event_id") == event_id), None)

    run = wait_for(f"the run of event {event_id}", the_run, timeout)

    def finished() -> Any:
        current = client.read_flow_run(run.id)
        return current if current.state and current.state.is_final() else None

    final = wait_for(f"run {run.id} to finish", finished, timeout)
    states = client.read_flow_run_states(run.id)

    def first(kind: str) -> float:
        moment = min(s.timestamp for s in states if s.type.value == kind)
        return (moment - emitted.occurred).total_seconds()

    return {
        "created_s": (run.created - emitted.occurred).total_seconds(),
        "pending_s": first("PENDING"),
        "running_s": first("RUNNING"),
        "final_state": final.state.name,
    }


def measure(client: Any, deployment_id: Any, emits: int, timeout: float) -> list[dict]:
    return [one_emit(client, deployment_id, timeout) for _ in range(emits)]


def served_path(home: Path, url: str, client: Any, emits: int, timeout: float) -> list[dict]:
    env = child_env(home, url, PREFECT_RUNNER_POLL_FREQUENCY="1")
    command = [sys.executable, str(Path(__file__).resolve()), "--serve-child", "served-probe"]
    with started(command, env, home / "serve.log"):
        deployment_id = wait_for(
            "the served deployment", lambda: deployment_ready(client, "served-probe"), 120
        )
        return measure(client, deployment_id, emits, timeout)


def worker_path(home: Path, url: str, client: Any, emits: int, timeout: float) -> list[dict]:
    from prefect.client.schemas.actions import WorkPoolCreate

    client.create_work_pool(WorkPoolCreate(name=POOL, type="process"), overwrite=True)
    source = latency_probe.from_source(
        source=str(HERE), entrypoint=f"{Path(__file__).name}:latency_probe"
    )
    deployment_id = source.to_deployment(
        name="worker-probe", work_pool_name=POOL, triggers=[ct_trigger()]
    ).apply()
    env = child_env(home, url, PREFECT_WORKER_QUERY_SECONDS="1")
    command = [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL]
    with started(command, env, home / "worker.log"):
        return measure(client, deployment_id, emits, timeout)


def summary(path: str, samples: list[dict]) -> dict[str, Any]:
    running = [s["running_s"] for s in samples]
    median = statistics.median(running)
    return {
        "path": path,
        "emits": len(samples),
        "median_s": median,
        "min_s": min(running),
        "max_s": max(running),
        "created_median_s": statistics.median(s["created_s"] for s in samples),
        "pending_median_s": statistics.median(s["pending_s"] for s in samples),
        "target_s": TARGETS[path],
        "meets_target": median <= TARGETS[path],
        "states": sorted({s["final_state"] for s in samples}),
        "samples": samples,
    }


def print_table(rows: list[dict[str, Any]], load: tuple[float, float, float]) -> None:
    print()
    print(
        "seconds from the event's `occurred` to the run's Running state (median of the emits, "
        "min-max); created / pending: to the run's creation (the automation) and its Pending "
        "state (picked up), medians"
    )
    print(
        f"{'path':<8} {'emits':>5} {'Running':>8} {'min-max':>12} {'created':>8} "
        f"{'pending':>8}  target"
    )
    for row in rows:
        verdict = "PASS" if row["meets_target"] else "FAIL"
        span = f"{row['min_s']:.2f}-{row['max_s']:.2f}"
        print(
            f"{row['path']:<8} {row['emits']:>5} {row['median_s']:>8.2f} {span:>12} "
            f"{row['created_median_s']:>8.2f} {row['pending_median_s']:>8.2f}  "
            f"<= {row['target_s']:.0f} s {verdict}"
        )
    print(
        f"load average during the run (1/5/15 min): {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
        f"on {os.cpu_count()} CPUs"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emits", type=int, default=5, help="events per path (>= 5)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait per run")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--serve-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_child:  # the served path's child process
        from prefect import serve

        serve(latency_probe.to_deployment(name=args.serve_child, triggers=[ct_trigger()]))
        return 0
    if args.emits < 5:
        parser.error("--emits must be at least 5")
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with tempfile.TemporaryDirectory(prefix="trigger-latency-") as tmp:
        home = Path(tmp)
        with (
            prefect_server(home) as url,
            temporary_settings(updates={PREFECT_API_URL: url}),
            get_client(sync_client=True) as client,
        ):
            print(f"prefect server {url} (PREFECT_HOME {home}); trigger {TRIGGER!r}")
            rows = [
                summary("served", served_path(home, url, client, args.emits, args.timeout)),
                summary("worker", worker_path(home, url, client, args.emits, args.timeout)),
            ]
    load = os.getloadavg()
    print_table(rows, load)
    if args.json:
        document = {
            "date": datetime.now().isoformat(timespec="seconds"),
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "load_average": load,
            },
            "results": rows,
        }
        args.json.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
