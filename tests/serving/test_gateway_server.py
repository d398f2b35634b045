"""``retrainer serve`` on 127.0.0.1 with a real MLflow store, driven by simulated traffic.

Each scenario registers its model's versions in MLflow (scikit-learn pipelines of the
project's columns, logged with their signatures), starts the gateway as users do (a
subprocess), sends requests with entity keys, sends the labels later on ``/feedback``, and
runs the reconciler (:func:`retrainer.promotion.rollouts.tick`, what the reconcile-rollout
flow calls) between rounds. The store is SQLite, and PostgreSQL where reachable.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml
from support import ProjectFactory, forget_mlflow_store, free_port

pytestmark = [pytest.mark.slow, pytest.mark.long]


def _sqlite_only(store_url: str) -> None:
    """The routing and analysis scenarios do not depend on the store's backend: one run."""
    if not store_url.startswith("sqlite"):
        pytest.skip(
            "backend-independent scenario: run on SQLite (PostgreSQL runs the "
            "promotion and the SIGTERM drain)"
        )


ANALYSIS = [
    {"name": "metric_delta", "success": {"min": -0.05}, "failure": {"max": -0.1}},
    {"name": "error_rate", "failure": {"min": 0.05}},
]
SHADOW = {"kind": "shadow", "min_requests": 300, "min_labelled": 300, "min_duration_hours": 0}
CANARY = {"kind": "canary", "weights": [25, 50], "step_minutes": 0, "min_labelled_per_step": 150}
AB = {"kind": "ab", "challenger_share": 0.5, "min_detectable_effect": 0.1, "horizon_days": 7}


@pytest.fixture(scope="module")
def project(store_url, tmp_path_factory):
    """A simulated project, its rows with the true labels, and the store in the environment."""
    forget_mlflow_store()
    before = os.environ.get("RETRAINER_DB_URL")
    os.environ["RETRAINER_DB_URL"] = store_url
    path, sim = ProjectFactory(tmp_path_factory.mktemp("gateway"))("stable", days=12)
    frame = sim.features.merge(sim.labels[["loan_id", "defaulted"]], on="loan_id")
    yield path, frame
    forget_mlflow_store()
    if before is None:
        os.environ.pop("RETRAINER_DB_URL", None)
    else:
        os.environ["RETRAINER_DB_URL"] = before


def _pipelines(path: Path, frame: pd.DataFrame) -> dict[str, object]:
    from retrainer.project import Project
    from retrainer.training.pipeline import build_pipeline

    cfg = Project.load(path).config
    x, y = frame[cfg.columns.features], frame["defaulted"]
    train = slice(0, 2_000)

    def fit(target):
        return build_pipeline(cfg.columns, cfg.estimator, cfg.training.preprocessing).fit(
            x.iloc[train], target.iloc[train]
        )

    good = fit(y)
    # a weak champion: it learnt from labels shuffled across rows (it predicts the base rate)
    weak = fit(pd.Series(np.random.default_rng(0).permutation(y.to_numpy()), index=y.index))
    flipped = fit(1 - y)  # wrong on most rows: a much higher error rate
    return {"good": good, "weak": weak, "flipped": flipped, "x": x}


@pytest.fixture(scope="module")
def models(project):
    path, frame = project
    return _pipelines(path, frame)


def _register(
    path: Path, name: str, stages: list[dict], versions: list[object], x, examples=None
) -> Path:
    """Model ``name`` with ``versions`` registered in order (v1 champion); its config file."""
    import mlflow
    from mlflow.models import infer_signature

    from retrainer.project import Project
    from retrainer.promotion import ModelTarget, promote
    from retrainer.registry.lineage import skops_trusted_types
    from retrainer.registry.tracking import configure_mlflow

    config = yaml.safe_load(path.read_text())
    config["model"]["name"] = name
    config["promotion"] = {"stages": stages}
    own = path.parent / f"{name}.yaml"
    own.write_text(yaml.safe_dump(config, sort_keys=False))
    project = Project.load(own)
    configure_mlflow(project)
    for i, pipeline in enumerate(versions):
        example = (examples or {}).get(i, x).head(5)
        with mlflow.start_run():
            mlflow.log_metric("holdout_accuracy", 0.8)
            mlflow.sklearn.log_model(
                pipeline,
                name="model",
                registered_model_name=name,
                signature=infer_signature(example, pipeline.predict_proba(example)),
                skops_trusted_types=skops_trusted_types(pipeline),
            )
    promote(ModelTarget.for_project(project), "1", expected_champion=None, by="test")
    return own


class Gateway:
    """``retrainer serve`` in a subprocess."""

    def __init__(self, config: Path, *extra: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [sys.executable, "-m", "retrainer", "serve", "-c", str(config)]
        argv += ["--port", str(self.port), "--poll-seconds", "0.3", *extra]
        self.log = config.parent / f"{config.stem}-gateway.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        self.client = httpx.Client(base_url=self.url, timeout=30)
        deadline = time.monotonic() + 90
        while True:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                if self.client.get("/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the gateway never became ready"
            time.sleep(0.2)

    def metric(self, name: str) -> float:
        for line in self.client.get("/metrics").text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        return 0.0

    def settled(self) -> None:
        """Wait until the shadow queue and the log backlog are empty."""
        for _ in range(200):
            if not self.metric("retrainer_gateway_shadow_queue_depth") and not self.metric(
                "retrainer_gateway_log_backlog"
            ):
                time.sleep(0.3)  # a write in flight
                return
            time.sleep(0.05)
        raise AssertionError("the gateway never wrote its log")

    def follow(self, revision: int) -> None:
        """Wait until the gateway serves the rollout at ``revision``."""
        for _ in range(200):
            rollout = self.client.get("/rollout").json().get("rollout")
            if rollout and rollout["revision"] >= revision:
                return
            time.sleep(0.05)
        raise AssertionError(f"the gateway never picked up revision {revision}")

    def stop(self) -> bool:
        """SIGTERM; whether it drained and exited as uvicorn does (re-raising the signal)."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(60)
        self.client.close()
        return code in (0, -signal.SIGTERM)


def _drive(gateway: Gateway, frame: pd.DataFrame, x: pd.DataFrame, rows: range, round_: str):
    """Send one request per row (entity = loan id), then the labels; the answers."""

    def send(i: int) -> dict:
        body = {
            "inputs": {k: (None if pd.isna(v) else v) for k, v in x.iloc[i].to_dict().items()},
            "request_id": f"{round_}-{i}",
            "entity_key": str(frame["loan_id"].iloc[i]),
        }
        answer = gateway.client.post("/predict", json=body)
        assert answer.status_code == 200, answer.text
        return answer.json()

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, rows))
    labels = [
        {"request_id": a["request_id"], "label": int(frame["defaulted"].iloc[i])}
        for a, i in zip(answers, rows, strict=True)
    ]
    assert gateway.client.post("/feedback", json={"labels": labels}).status_code == 202
    gateway.settled()
    return answers


def _roll(config: Path, gateway: Gateway, frame, x, per_round: int, rounds: int = 10):
    """Rounds of traffic and reconciler ticks until the rollout ends; the ticks."""
    from retrainer.project import Project
    from retrainer.promotion import ModelTarget
    from retrainer.promotion.rollouts import tick

    project = Project.load(config)
    target = ModelTarget.for_project(project)
    stages = project.config.promotion.stages
    ticks, start = [], 2_000
    for r in range(rounds):
        _drive(gateway, frame, x, range(start, start + per_round), f"{config.stem}-{r}")
        start += per_round
        result = tick(target, stages, now=datetime.now(UTC))
        ticks.append(result)
        if result.state.status != "running":
            break
        gateway.follow(result.state.revision)
    return target, ticks


def _start(config: Path, version: str):
    from retrainer.project import Project
    from retrainer.tasks.promotion import start_rollout

    return start_rollout(Project.load(config), version)


def test_a_better_challenger_goes_shadow_then_canary_then_champion(project, models, store_url):
    path, frame = project
    name = f"better-{store_url.split(':')[0].split('+')[0]}"
    config = _register(
        path,
        name,
        [SHADOW | {"analysis": ANALYSIS}, CANARY | {"analysis": ANALYSIS}],
        [models["weak"], models["good"]],
        models["x"],
    )
    gateway = Gateway(config)
    try:
        started = _start(config, "2")
        gateway.follow(started.state.revision)
        assert gateway.client.get("/rollout").json()["stage"] == "shadow"
        target, ticks = _roll(config, gateway, frame, models["x"], per_round=400)
        # then shadow → canary 25% → canary 50% → promoted, and the gateway serves v2 alone
        moves = [t.action for t in ticks if t.action != "wait"]
        assert moves == ["advance", "advance", "promote"], [t.reason for t in ticks]
        assert target.registry.aliases()["champion"] == "2"
        assert target.store.champions.get(name).champion == "2"
        deadline = time.monotonic() + 10
        while gateway.client.get("/ready").json()["champion"] != "2":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        answer = gateway.client.post(
            "/predict",
            json={
                "inputs": {
                    k: (None if pd.isna(v) else v) for k, v in models["x"].iloc[0].to_dict().items()
                }
            },
        )
        assert (answer.json()["variant"], answer.json()["version"]) == ("champion", "2")
        # and shadow rows were logged for the same requests as the champion's
        shadow = [p for p in target.store.predictions.for_model(name) if p.variant == "shadow"]
        assert len(shadow) >= 400
    finally:
        assert gateway.stop()


def test_a_worse_challenger_is_aborted_at_the_first_canary_analysis(project, models, store_url):
    _sqlite_only(store_url)
    path, frame = project
    name = f"worse-{store_url.split(':')[0].split('+')[0]}"
    config = _register(
        path,
        name,
        [CANARY | {"analysis": ANALYSIS}],
        [models["good"], models["flipped"]],
        models["x"],
    )
    gateway = Gateway(config)
    try:
        gateway.follow(_start(config, "2").state.revision)
        target, ticks = _roll(config, gateway, frame, models["x"], per_round=800)
        assert [t.action for t in ticks if t.action != "wait"] == ["abort"]
        assert "canary 25% analysis" in ticks[-1].reason
        assert target.registry.aliases()["champion"] == "1"
        [record] = [r for r in target.store.ledger.history(name) if r.action == "abort"]
        assert record.to_version == "2"
        assert "metric_delta" in record.reason
        gateway.follow(ticks[-1].state.revision)
        assert gateway.client.get("/rollout").json()["traffic"]["challenger"] == 0
    finally:
        assert gateway.stop()


def test_an_ab_test_between_equal_models_ends_inconclusive_and_promotes_nothing(
    project, models, store_url
):
    _sqlite_only(store_url)
    path, frame = project
    name = f"equal-{store_url.split(':')[0].split('+')[0]}"
    config = _register(
        path, name, [AB | {"analysis": ANALYSIS}], [models["good"], models["good"]], models["x"]
    )
    gateway = Gateway(config)
    try:
        started = _start(config, "2")
        assert "A/B needs" in started.reason  # the sample size, printed at the start
        gateway.follow(started.state.revision)
        target, ticks = _roll(config, gateway, frame, models["x"], per_round=700, rounds=6)
        assert ticks[-1].state.status == "inconclusive", [t.reason for t in ticks]
        assert target.registry.aliases()["champion"] == "1"
        assert not [
            r
            for r in target.store.ledger.history(name)
            if r.action == "promote" and r.to_version == "2"
        ]
    finally:
        assert gateway.stop()


def test_sigterm_under_load_loses_no_answered_prediction(project, models, store_url):
    path, _ = project
    name = f"drain-{store_url.split(':')[0].split('+')[0]}"
    config = _register(path, name, [], [models["good"]], models["x"])
    gateway = Gateway(config)
    x = models["x"]
    answered: list[str] = []
    stop = threading.Event()

    def hammer(worker: int) -> None:
        with httpx.Client(base_url=gateway.url, timeout=30) as client:
            i = 0
            while not stop.is_set():
                rid = f"drain-{worker}-{i}"
                row = {k: (None if pd.isna(v) else v) for k, v in x.iloc[i % 500].to_dict().items()}
                try:
                    answer = client.post("/predict", json={"inputs": row, "request_id": rid})
                except httpx.TransportError:
                    return  # the gateway stopped accepting
                if answer.status_code == 200:
                    answered.append(answer.json()["request_id"])
                i += 1

    threads = [threading.Thread(target=hammer, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(3)
    drained = gateway.stop()  # SIGTERM while the requests keep coming
    stop.set()
    for thread in threads:
        thread.join(30)

    from retrainer.store import Store

    logged = {p.request_id for p in Store.from_url(store_url).predictions.for_model(name)}
    assert drained, gateway.log.read_text()[-3000:]
    assert len(answered) > 200
    assert set(answered) <= logged, f"{len(set(answered) - logged)} answered but not logged"


def test_a_shadow_challenger_that_raises_never_changes_an_answer(project, models, store_url):
    _sqlite_only(store_url)
    from retrainer.project import Project
    from retrainer.training.pipeline import build_pipeline

    path, frame = project
    cfg = Project.load(path).config
    x = models["x"]
    # a challenger that needs a column no request carries: every shadow call raises
    wider = x.assign(extra_feature=1.0)
    columns = cfg.columns.model_copy(update={"numeric": [*cfg.columns.numeric, "extra_feature"]})
    broken = build_pipeline(columns, cfg.estimator, cfg.training.preprocessing).fit(
        wider.iloc[:2_000], frame["defaulted"].iloc[:2_000]
    )
    name = f"raising-{store_url.split(':')[0].split('+')[0]}"
    shadow_only = SHADOW | {"min_requests": 10**6, "analysis": ANALYSIS}
    config = _register(path, name, [shadow_only], [models["good"], broken], x, {1: wider})
    # the registered challenger's signature has the extra column; the gateway checks requests
    # against the champion's, so the rows reach the challenger without it
    gateway = Gateway(config)
    try:
        gateway.follow(_start(config, "2").state.revision)
        answers = _drive(gateway, frame, x, range(2_000, 2_300), "raising")
        want = models["good"].predict_proba(x.iloc[2_000:2_300])[:, 1]
        got = [a["predictions"][0]["score"] for a in answers]
        assert got == pytest.approx(want, abs=1e-9)
        assert {(a["variant"], a["version"]) for a in answers} == {("champion", "1")}
        from retrainer.store import Store

        logged = Store.from_url(store_url).predictions.for_model(name)
        shadow = [p for p in logged if p.variant == "shadow"]
        assert len(shadow) == 300
        assert all("extra_feature" in (p.error or "") for p in shadow)
        assert gateway.metric("retrainer_gateway_shadow_errors_total") > 0
    finally:
        assert gateway.stop()
