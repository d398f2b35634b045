"""The gateway's routes in process (Starlette's test client, the app's own lifespan).

Real scikit-learn pipelines and a real store on SQLite; the registry is replaced by a dict
of fitted pipelines and the plan by a holder the test moves, so each route can be checked
alone. ``test_gateway_server.py`` runs ``retrainer serve`` on loopback against MLflow.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from starlette.testclient import TestClient

from retrainer.rollout import Traffic
from retrainer.serving.gateway import Gateway, GatewaySettings
from retrainer.serving.models import LoadedModel
from retrainer.serving.plan import ServingPlan
from retrainer.store import Store

SIGNATURE = [("x1", "double"), ("x2", "double"), ("region", "string")]


def _fit(seed: int, flip: bool = False):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x1": rng.normal(size=600),
            "x2": rng.normal(size=600),
            "region": rng.choice(["north", "south"], 600).astype(object),
        }
    )
    y = (frame["x1"] + 0.5 * frame["x2"] > 0).astype(int)
    pipeline = make_pipeline(
        ColumnTransformer(
            [("num", StandardScaler(), ["x1", "x2"]), ("cat", OneHotEncoder(), ["region"])]
        ),
        LogisticRegression(),
    )
    return pipeline.fit(frame, 1 - y if flip else y)


PIPELINES = {"1": _fit(1), "2": _fit(2), "3": _fit(3, flip=True)}


def _row(i: int) -> dict:
    rng = np.random.default_rng(i)
    return {"x1": float(rng.normal()), "x2": float(rng.normal()), "region": "north"}


class Broken:
    """A challenger whose predict raises (or sleeps first): never an answer's problem."""

    def __init__(self, inner, sleep: float = 0.0, fail: bool = True):
        self.inner, self.sleep, self.fail = inner, sleep, fail
        self.classes_ = inner.classes_

    def predict_proba(self, frame):
        time.sleep(self.sleep)
        if self.fail:
            raise RuntimeError("challenger exploded")
        return self.inner.predict_proba(frame)


@dataclass
class Harness:
    client: TestClient
    gateway: Gateway
    store: Store
    plans: list[ServingPlan]
    loads: list[str]

    def serve(self, plan: ServingPlan) -> None:
        self.plans.append(plan)
        self.client.portal.call(self.gateway.refresh)

    def logged(self) -> list:
        self.gateway.writer.flush()
        return self.store.predictions.for_model("m")


def _harness(tmp_path, pipelines, settings=None) -> Harness:
    store = Store.from_url(f"sqlite:///{tmp_path}/store.db")
    plans = [ServingPlan("1")]
    loads: list[str] = []

    def load(version: str) -> LoadedModel:
        loads.append(version)
        return LoadedModel(version, pipelines[version], "binary", SIGNATURE)

    gateway = Gateway(
        "m",
        lambda: plans[-1],
        load,
        store.predictions.insert_many,
        store.labels.insert_many,
        settings or GatewaySettings(poll_seconds=3600, max_body_bytes=20_000),
    )
    client = TestClient(gateway.app())
    client.__enter__()
    return Harness(client, gateway, store, plans, loads)


@pytest.fixture
def harness(tmp_path):
    h = _harness(tmp_path, PIPELINES)
    yield h
    h.client.__exit__(None, None, None)


def test_the_champion_answers_as_it_would_in_process_and_every_answer_is_logged(harness):
    rows = [_row(i) for i in range(5)]
    # when one row and a batch are sent
    one = harness.client.post("/predict", json={"inputs": rows[0], "request_id": "r-1"})
    batch = harness.client.post("/predict", json={"inputs": rows, "entity_keys": list("abcde")})

    # then the answers carry the id, variant and version, and equal predict_proba in process
    assert one.status_code == 200, one.text
    assert one.json()["request_id"] == "r-1"
    assert (one.json()["variant"], one.json()["version"]) == ("champion", "1")
    expected = PIPELINES["1"].predict_proba(pd.DataFrame(rows))[:, 1]
    got = [p["score"] for p in batch.json()["predictions"]]
    assert got == pytest.approx(expected, abs=1e-12)
    assert one.json()["predictions"][0]["score"] == pytest.approx(expected[0], abs=1e-12)
    assert batch.json()["row_ids"] == [f"{batch.json()['request_id']}.{i}" for i in range(5)]
    # and the log holds each row once, with its inputs, entity key and answer
    logged = {p.request_id: p for p in harness.logged()}
    assert set(logged) == {"r-1", *batch.json()["row_ids"]}
    first = logged[batch.json()["row_ids"][0]]
    assert (first.inputs, first.entity_key, first.variant) == (rows[0], "a", "champion")
    assert first.score == pytest.approx(expected[0])


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 422, "body"),
        ({"inputs": {"x1": 1.0, "x2": 2.0}}, 422, "inputs.region"),
        ({"inputs": {"x1": 1.0, "x2": 2.0, "region": "n", "age": 3}}, 422, "inputs.age"),
        ({"inputs": {"x1": "high", "x2": 2.0, "region": "n"}}, 422, "inputs.x1"),
        (b'{"inputs": {"x1": NaN, "x2": 2.0, "region": "n"}}', 422, "inputs.x1"),
        (b'{"inputs": [{"x1": 1, "x2": Infinity, "region": "n"}]}', 422, "inputs[0].x2"),
        ({"input": {}}, 422, "input"),
        ({"inputs": [{"x1": 1.0, "x2": 2.0, "region": "north"}] * 600}, 413, "body"),
        ({"inputs": {"x1": 1.0, "x2": 2.0, "region": "east"}}, 422, "inputs"),  # unseen category
    ],
)
def test_a_bad_request_gets_a_4xx_naming_the_field_and_nothing_is_logged(
    harness, body, status, field
):
    raw = body if isinstance(body, bytes) else None
    sent = (
        harness.client.post("/predict", content=raw, headers={"content-type": "application/json"})
        if raw is not None
        else harness.client.post("/predict", json=body)
    )
    assert sent.status_code == status, sent.text
    assert sent.json()["field"] == field
    assert harness.logged() == []


def test_feedback_stores_labels_by_request_or_entity_and_names_a_bad_field(harness):
    good = harness.client.post(
        "/feedback",
        json={
            "labels": [
                {"request_id": "r-1", "label": 1, "event_at": "2026-12-01T10:00:00Z"},
                {"entity_key": "customer-7", "label": 0},
            ]
        },
    )
    assert good.status_code == 202, good.text
    assert good.json() == {"stored": 2}
    [by_request] = harness.store.labels.for_requests(["r-1"])
    assert by_request.label == 1
    assert by_request.event_at.isoformat().startswith("2026-12-01T10")
    assert harness.store.labels.for_entities(["customer-7"])[0].label == 0
    for body, field in [
        ({"labels": [{"label": 1}]}, "labels[0].request_id"),
        ({"labels": [{"request_id": "r", "label": None}]}, "labels[0].label"),
        (
            {"labels": [{"request_id": "r", "label": 1, "event_at": "yesterday"}]},
            "labels[0].event_at",
        ),
        ({"labels": [{"request_id": "r", "label": 1, "colour": "red"}]}, "labels[0].colour"),
    ]:
        bad = harness.client.post("/feedback", json=body)
        assert (bad.status_code, bad.json()["field"]) == (422, field)
    assert len(harness.store.labels.for_requests(["r"])) == 0


def test_a_canary_routes_sticky_by_entity_and_a_new_plan_is_picked_up_without_a_restart(harness):
    # given a 25% canary of v2
    harness.serve(ServingPlan("1", "2", Traffic(75, 25), "canary 25%"))
    keys = [f"e{i}" for i in range(400)]
    first = {
        k: harness.client.post("/predict", json={"inputs": _row(1), "entity_key": k}).json()[
            "version"
        ]
        for k in keys
    }
    again = {
        k: harness.client.post("/predict", json={"inputs": _row(2), "entity_key": k}).json()[
            "version"
        ]
        for k in keys[:50]
    }
    # then about a quarter goes to v2 and each entity keeps its version
    assert 0.17 < list(first.values()).count("2") / len(keys) < 0.33
    assert all(first[k] == again[k] for k in again)
    assert harness.client.get("/rollout").json()["traffic"]["challenger"] == 25
    # when the rollout ends with v2 the champion: v1 is released, v2 not loaded again
    harness.serve(ServingPlan("2"))
    assert set(harness.gateway.models) == {"2"}
    assert harness.loads == ["1", "2"]
    assert harness.client.post("/predict", json={"inputs": _row(1)}).json()["version"] == "2"


def test_shadow_logs_the_challenger_on_the_same_requests_and_the_champion_answers(harness):
    harness.serve(ServingPlan("1", "3", Traffic(100, 0, 1.0), "shadow"))
    answers = [
        harness.client.post("/predict", json={"inputs": _row(i), "request_id": f"q{i}"}).json()
        for i in range(20)
    ]
    assert {(a["variant"], a["version"]) for a in answers} == {("champion", "1")}
    harness.gateway.shadow.close()
    logged = {p.request_id: p for p in harness.logged()}
    for i in range(20):
        shadow = logged[f"q{i}:shadow"]
        assert (shadow.variant, shadow.version) == ("shadow", "3")
        # the flipped challenger disagrees with the champion on every row
        assert shadow.label != logged[f"q{i}"].label
    metrics = harness.client.get("/metrics").text
    assert "retrainer_gateway_shadow_rows_total 20.0" in metrics
    assert 'retrainer_gateway_requests_total{variant="champion",version="1"} 20.0' in metrics


@pytest.mark.parametrize("sleep", [0.0, 0.3])
def test_a_shadow_challenger_that_raises_or_sleeps_never_changes_an_answer(tmp_path, sleep):
    pipelines = {**PIPELINES, "9": Broken(PIPELINES["2"], sleep=sleep, fail=sleep == 0)}
    h = _harness(tmp_path, pipelines, GatewaySettings(poll_seconds=3600, shadow_queue=2))
    try:
        baseline = [h.client.post("/predict", json={"inputs": _row(i)}).json() for i in range(12)]
        h.serve(ServingPlan("1", "9", Traffic(100, 0, 1.0), "shadow"))
        took, shadowed = [], []
        for i in range(12):
            started = time.perf_counter()
            shadowed.append(h.client.post("/predict", json={"inputs": _row(i)}).json())
            took.append(time.perf_counter() - started)
        # then the answers are the champion's, unchanged, and none waited for the shadow
        assert [a["predictions"] for a in shadowed] == [a["predictions"] for a in baseline]
        assert max(took) < 0.25
        stats = h.gateway.shadow.stats
        if sleep:  # a slow challenger falls behind: its jobs beyond the queue are dropped
            assert stats.dropped > 0
            assert "retrainer_gateway_shadow_dropped_total" in h.client.get("/metrics").text
        else:  # a failing one has its error logged against its rows
            h.gateway.shadow.close()
            errors = [p for p in h.logged() if p.variant == "shadow"]
            assert errors
            assert all("challenger exploded" in p.error for p in errors)
    finally:
        h.client.__exit__(None, None, None)


def test_a_canary_request_the_challenger_fails_is_answered_by_the_champion(tmp_path):
    pipelines = {**PIPELINES, "9": Broken(PIPELINES["2"])}
    h = _harness(tmp_path, pipelines)
    try:
        h.serve(ServingPlan("1", "9", Traffic(0, 100), "canary 100%"))
        answers = [h.client.post("/predict", json={"inputs": _row(i)}).json() for i in range(10)]
        # then every request routed to the failing challenger was answered by the champion
        assert {(a["version"], a["variant"], a.get("fallback")) for a in answers} == {
            ("1", "champion", True)
        }
        logged = h.logged()
        failed = [p for p in logged if p.version == "9"]
        assert len(failed) == 10
        assert all(p.error and "challenger exploded" in p.error for p in failed)
        assert all(p.request_id.endswith(":fallback") for p in logged if p.version == "1")
    finally:
        h.client.__exit__(None, None, None)


def test_ready_waits_for_a_champion_and_health_does_not(tmp_path):
    h = _harness(tmp_path, PIPELINES)
    try:
        h.serve(ServingPlan(None))
        assert h.client.get("/health").status_code == 200
        ready = h.client.get("/ready")
        assert ready.status_code == 503
        assert "no champion" in ready.json()["reason"]
        assert h.client.post("/predict", json={"inputs": _row(1)}).status_code == 503
        h.serve(ServingPlan("2"))
        assert h.client.get("/ready").json() == {"ready": True, "champion": "2", "challenger": None}
    finally:
        h.client.__exit__(None, None, None)


def test_concurrent_requests_are_scored_together(harness):
    results: list[dict] = []

    def send(i: int) -> None:
        results.append(harness.client.post("/predict", json={"inputs": _row(i)}).json())

    threads = [threading.Thread(target=send, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = harness.gateway.models["1"].batcher.stats
    assert len(results) == 32
    assert stats.requests == 32
    assert stats.calls < 32  # some were batched
