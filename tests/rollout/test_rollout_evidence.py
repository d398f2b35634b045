"""Evidence from a step's prediction log: paired in shadow, per arm in a canary or A/B."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retrainer.config.promotion import PromotionSection
from retrainer.rollout import advance, start
from retrainer.rollout.evidence import build_evidence, psi


def _log(n: int, seed: int, *, right: dict[str, float], shadow: bool, errors: float = 0.0):
    """Requests answered by v6 (champion) and v7 (challenger), with the labels that came."""
    rng = np.random.default_rng(seed)
    truth = pd.Series(rng.integers(0, 2, n), index=[f"r{i}" for i in range(n)])
    rows, arm = [], "shadow" if shadow else "challenger"
    for i, (rid, y) in enumerate(truth.items()):
        versions = ["6", "7"] if shadow else (["7"] if i % 4 == 0 else ["6"])
        for version in versions:
            good = rng.random() < right[version]
            failed = version == "7" and rng.random() < errors
            rows.append(
                {
                    "request_id": rid + (":shadow" if shadow and version == "7" else ""),
                    "version": version,
                    "variant": "champion" if version == "6" else arm,
                    "label": None if failed else (y if good else 1 - y),
                    "score": rng.random(),
                    "latency_ms": rng.gamma(2.0, 2.0),
                    "error": "ValueError: boom" if failed else None,
                }
            )
    return pd.DataFrame(rows), truth


def test_shadow_evidence_pairs_the_two_models_on_the_same_requests():
    log, truth = _log(4000, 1, right={"6": 0.80, "7": 0.86}, shadow=True)
    ev = build_evidence(log, truth, "7")

    assert (ev.requests, ev.labelled) == (4000, 4000)
    assert ev.values["metric_delta"] == pytest.approx(0.06, abs=0.02)
    # two models right 80% and 86% of the time independently agree ~ .8*.86 + .2*.14
    assert ev.values["agreement"] == pytest.approx(0.716, abs=0.02)
    assert ev.values["error_rate"] == 0.0
    assert ev.values["score_shift"] < 0.02  # both scores uniform
    assert ev.values["latency_p99_ratio"] == pytest.approx(1.0, abs=0.25)
    assert ev.comparison is None


def test_a_canary_arm_that_is_worse_and_fails_requests_is_aborted_on_its_evidence():
    log, truth = _log(8000, 2, right={"6": 0.85, "7": 0.75}, shadow=False, errors=0.05)
    # only half the labels have arrived
    ev = build_evidence(log, truth.sample(frac=0.5, random_state=0), "7")

    assert ev.requests == 2000
    assert ev.labelled == pytest.approx(1000, abs=60)
    assert ev.values["error_rate"] == pytest.approx(0.05, abs=0.015)
    assert ev.values["error_rate_delta"] == pytest.approx(0.05, abs=0.015)
    assert ev.values["metric_delta"] == pytest.approx(-0.10, abs=0.04)
    assert ev.comparison.high < 0

    # and the state machine aborts the canary on it
    stages = PromotionSection.model_validate({"stages": [{"kind": "canary"}]}).stages
    opened = start(stages, "credit", "7", "6", pd.Timestamp("2026-12-01", tz="UTC"))
    step = advance(stages, opened.state, ev, pd.Timestamp("2026-12-01 02:00", tz="UTC"))
    assert step.action == "abort"
    assert "error_rate" in step.reason


def test_int_answers_meet_a_truth_column_that_unlabelled_requests_made_float():
    # given a canary whose answers are all ints (no request failed) and labels for half the
    # requests (the missing ones turn the joined truth into floats: 1.0, NaN)
    log, truth = _log(8000, 3, right={"6": 0.85, "7": 0.15}, shadow=False)
    log["label"] = log["label"].astype(int)
    arrived = truth.sample(frac=0.5, random_state=1)

    # when its evidence is built, then each arm's accuracy is measured: 15% against 85%
    ev = build_evidence(log, arrived, "7")
    assert ev.values["metric_delta"] == pytest.approx(-0.70, abs=0.05)


def test_without_labels_the_accuracy_cannot_be_measured():
    log, truth = _log(200, 3, right={"6": 0.8, "7": 0.8}, shadow=False)
    ev = build_evidence(log, truth.iloc[:0], "7")
    assert ev.labelled == 0
    assert ev.values["metric_delta"] is None
    assert ev.comparison is None


def test_psi_sees_a_shifted_score_distribution():
    rng = np.random.default_rng(4)
    same = psi(rng.normal(0, 1, 5000), rng.normal(0, 1, 5000))
    shifted = psi(rng.normal(0, 1, 5000), rng.normal(1, 1, 5000))
    assert same < 0.02
    assert shifted > 0.5
