"""The gateway's core without a server: sticky routing, request checks, micro-batching."""

from __future__ import annotations

import asyncio

import numpy as np
import pandas as pd
import pytest

from retrainer.rollout import Traffic
from retrainer.serving import MicroBatcher, RequestError, bucket, parse_request, route

SIGNATURE = [("income", "double"), ("term_months", "long"), ("region", "string")]
ROW = {"income": 52_000.0, "term_months": 36, "region": "north"}
KEYS = [f"customer-{i}" for i in range(20_000)]


def test_a_canary_sends_its_share_to_the_challenger_and_keeps_each_entity_there():
    # when the challenger's weight goes 5% → 25% → 50%
    shares, on_challenger = [], []
    for weight in (5, 25, 50):
        chosen = {
            k for k in KEYS if route(Traffic(100 - weight, weight), k).variant == "challenger"
        }
        shares.append(len(chosen) / len(KEYS))
        on_challenger.append(chosen)

    # then about that share of the entities is on it, and nobody moves back at a step up
    assert shares == pytest.approx([0.05, 0.25, 0.50], abs=0.012)
    assert on_challenger[0] <= on_challenger[1] <= on_challenger[2]
    # and the same key always routes the same way
    assert all(route(Traffic(75, 25), k) == route(Traffic(75, 25), k) for k in KEYS[:100])


def test_shadow_mirrors_a_sample_while_the_champion_answers_everything():
    routes = [route(Traffic(100, 0, 0.3), k) for k in KEYS]
    assert {r.variant for r in routes} == {"champion"}
    assert np.mean([r.shadow for r in routes]) == pytest.approx(0.3, abs=0.012)
    # the shadow sample does not pick the entities a canary would: another hash
    first_five = {k for k in KEYS if bucket(k) < 5}
    shadowed = {k for k, r in zip(KEYS, routes, strict=True) if r.shadow}
    assert len(first_five & shadowed) / len(first_five) == pytest.approx(0.3, abs=0.05)


def test_a_good_request_becomes_a_frame_in_signature_order():
    one = parse_request({"inputs": ROW, "entity_key": 42, "request_id": "r-1"}, SIGNATURE)
    assert list(one.frame.columns) == ["income", "term_months", "region"]
    assert one.frame.loc[0, "term_months"] == 36
    assert (one.request_id, one.entity_keys) == ("r-1", ["42"])
    batch = parse_request(
        {"inputs": [ROW, {**ROW, "income": None}], "entity_keys": ["a", "b"]}, SIGNATURE
    )
    assert len(batch.frame) == 2
    assert np.isnan(batch.frame.loc[1, "income"])  # null is the missing value
    assert batch.entity_keys == ["a", "b"]


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"inputs": {**ROW, "colour": "red"}}, "inputs.colour", "not a column"),
        ({"inputs": {"income": 1.0, "region": "n"}}, "inputs.term_months", "missing"),
        ({"inputs": [ROW, {**ROW, "income": "lots"}]}, "inputs[1].income", "expected a number"),
        ({"inputs": {**ROW, "income": float("nan")}}, "inputs.income", "send null"),
        ({"inputs": {**ROW, "income": float("inf")}}, "inputs.income", "not allowed"),
        ({"inputs": {**ROW, "term_months": 3.5}}, "inputs.term_months", "expected an integer"),
        ({"inputs": {**ROW, "region": 7}}, "inputs.region", "expected a string"),
        ({"inputs": {**ROW, "income": True}}, "inputs.income", "expected a number"),
        ({"rows": [ROW]}, "rows", "unknown field"),
        ({"request_id": "x"}, "inputs", "missing"),
        ([ROW], "body", "JSON object"),
        ({"inputs": []}, "inputs", "no rows"),
        ({"inputs": [ROW, ROW], "entity_keys": ["a"]}, "entity_keys", "one per row"),
    ],
)
def test_a_bad_request_names_the_field_and_the_problem(body, field, says):
    with pytest.raises(RequestError) as caught:
        parse_request(body, SIGNATURE)
    assert caught.value.field == field
    assert says in caught.value.message
    assert caught.value.status == 422
    assert caught.value.to_dict() == {"error": caught.value.message, "field": field}


def test_too_many_rows_is_413():
    with pytest.raises(RequestError) as caught:
        parse_request({"inputs": [ROW] * 11}, SIGNATURE, max_rows=10)
    assert (caught.value.status, caught.value.field) == (413, "inputs")


class Model:
    """A stand-in scorer that records its calls (the batching, not the model, is tested)."""

    def __init__(self, fail: bool = False):
        self.calls: list[int] = []
        self.fail = fail

    def __call__(self, frame: pd.DataFrame) -> np.ndarray:
        self.calls.append(len(frame))
        if self.fail:
            raise RuntimeError("model exploded")
        return frame["x"].to_numpy() * 2


def _frames(n: int, rows: int = 1) -> list[pd.DataFrame]:
    return [pd.DataFrame({"x": np.arange(rows) + 100 * i}) for i in range(n)]


def test_concurrent_requests_are_scored_together_and_each_gets_its_own_rows():
    model = Model()

    async def main():
        batcher = MicroBatcher(model, max_rows=64, max_wait_ms=5)
        frames = _frames(40, rows=3)
        answers = await asyncio.gather(*(batcher.submit(f) for f in frames))
        return frames, answers, batcher.stats

    frames, answers, stats = asyncio.run(main())
    # then 40 requests of 3 rows went through in 2 calls (64 rows at most), answers in order
    assert model.calls == [63, 57]
    for frame, answer in zip(frames, answers, strict=True):
        assert answer.tolist() == (frame["x"] * 2).tolist()
    assert (stats.calls, stats.rows, stats.requests) == (2, 120, 40)


def test_a_lone_request_waits_only_the_maximum_wait():
    model = Model()

    async def main():
        batcher = MicroBatcher(model, max_rows=64, max_wait_ms=5)
        loop = asyncio.get_running_loop()
        started = loop.time()
        answer = await batcher.submit(_frames(1)[0])
        return loop.time() - started, answer

    waited, answer = asyncio.run(main())
    assert answer.tolist() == [0]
    assert waited < 0.5  # bounded by the 5 ms timer, with room for a busy machine
    assert model.calls == [1]


def test_a_scoring_error_fails_every_request_of_its_batch_and_the_next_batch_works():
    model = Model(fail=True)

    async def main():
        batcher = MicroBatcher(model, max_rows=8, max_wait_ms=1)
        failed = await asyncio.gather(
            *(batcher.submit(f) for f in _frames(3)), return_exceptions=True
        )
        model.fail = False
        ok = await batcher.submit(_frames(1)[0])
        return failed, ok

    failed, ok = asyncio.run(main())
    assert all(isinstance(e, RuntimeError) and "exploded" in str(e) for e in failed)
    assert ok.tolist() == [0]


def test_with_an_in_flight_count_a_batch_goes_as_soon_as_everyone_in_flight_is_waiting():
    from retrainer.serving.batching import InFlight

    model = Model()

    async def main():
        inflight = InFlight()
        # a long maximum wait: only the in-flight rule can make these fast
        batcher = MicroBatcher(model, max_rows=64, max_wait_ms=5_000, inflight=inflight)
        loop = asyncio.get_running_loop()
        inflight.enter()
        started = loop.time()
        lone = await batcher.submit(_frames(1)[0])
        lone_took = loop.time() - started
        for _ in range(5):
            inflight.enter()
        started = loop.time()
        five = await asyncio.gather(*(batcher.submit(f) for f in _frames(5)))
        return lone, lone_took, five, loop.time() - started, inflight.count

    lone, lone_took, five, five_took, left = asyncio.run(main())
    # then a lone request is scored at once, and five concurrent ones in one call at once
    assert lone.tolist() == [0]
    assert lone_took < 1.0
    assert five_took < 1.0
    assert model.calls == [1, 5]
    assert [a.tolist() for a in five] == [[0], [200], [400], [600], [800]]
    assert left == 0  # the batcher counted every scored request out
