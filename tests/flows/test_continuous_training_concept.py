"""The continuous-training flow on a concept-drift stream: nothing fires until labels land.

Both policies of ``ct_streams`` run on a stream whose concept changes on day 60 with a week of
label delay; the backtest replays the same days and must decide as the live flow did.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ct_streams import (
    AFTER_DRIFT,
    AWARE,
    BOOTSTRAP,
    LABELS_LANDED,
    PLAIN,
    assert_same_decision,
    ct,
    ct_project,
    replayed,
)
from support import forget_mlflow_store

pytestmark = [pytest.mark.slow, pytest.mark.long]


@pytest.fixture(scope="module")
def concept(prefect_api, tmp_path_factory) -> dict[str, tuple[Path, list[dict | None]]]:
    """Both policies on the concept-drift stream: before and after the labels land.

    The aware policy is also checked in the unlabelled week (AFTER_DRIFT); the plain one is
    not (None), which keeps the module to five runs.
    """
    streams = {}
    for name, policy in (("plain", PLAIN), ("aware", AWARE)):
        config = ct_project(tmp_path_factory.mktemp(f"concept-{name}"), "concept_sudden", policy)
        first = ct(config, BOOTSTRAP)
        unlabelled = ct(config, AFTER_DRIFT) if name == "aware" else None
        runs = [first, unlabelled, ct(config, LABELS_LANDED)]
        streams[name] = (config, runs)
    yield streams
    forget_mlflow_store()


def test_concept_drift_retrains_both_policies_once_labels_land(concept):
    for name, (_, (_, before, after)) in concept.items():
        # then nothing fires while the changed days are unlabelled
        if before is not None:
            assert before["decision"]["status"] == "no_trigger", (name, before["decision"])
        # and the realised drop retrains both policies once their labels have arrived
        assert after["decision"]["status"] == "retrain", (name, after["decision"])
        assert after["decision"]["fired"] == ["performance"]


def test_the_backtest_decides_as_the_live_flow_did_on_the_same_days(concept):
    # given the live runs of the performance-aware policy (first model on BOOTSTRAP)
    config, runs = concept["aware"]
    # when the backtest replays the same policy on the same days from the same first model
    again = replayed(config, [AFTER_DRIFT, LABELS_LANDED])
    # then each day was decided the same way, for the same reasons
    for live, replay in zip(runs[1:], again, strict=True):
        assert_same_decision(live["decision"], replay)
