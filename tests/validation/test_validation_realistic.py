"""Validation at the defaults on realistic streams: broken data is blocked, drift is not.

Each scenario has its ground truth (``sim.schedule``): small days of 24 rows with rare
categories, isolated outliers and a yearly cycle; days that are ordered slices of a population;
strong yearly cycles; and a covariate drift that widens a range. The suite comes from the
first 60 days (the default reference), pooled and screened, as a user's would.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
from validation_helpers import loan_columns, profile_of

from retrainer.config.validation import ValidationSection
from retrainer.validation import BatchInput, build_suite, validate_batches

pytestmark = pytest.mark.slow

REALISTIC = ("small_days", "ordered_slices", "yearly_cycle", "range_widening")
REFERENCE_DAYS = ValidationSection().reference.days


def _suite(sim):
    days = sim.schedule.dates()[:REFERENCE_DAYS]
    reference = pd.concat([sim.feature_batch(d) for d in days], ignore_index=True)
    return build_suite(profile_of(reference), loan_columns(), ValidationSection(), name="s")


def _validate(sim, suite, days: list[date]):
    items = [
        BatchInput(sim.feature_batch(d), d.isoformat(), [d], d - timedelta(days=1)) for d in days
    ]
    return validate_batches(items, suite)


@pytest.fixture(scope="module", params=REALISTIC)
def scenario(request):
    from retrainer.simulate import simulate

    sim = simulate(request.param, seed=11)
    suite = _suite(sim)
    batches = _validate(sim, suite, sim.schedule.dates()[REFERENCE_DAYS:])
    return request.param, sim, suite, batches


def test_at_most_one_percent_of_clean_partitions_is_quarantined(scenario):
    name, sim, _, batches = scenario
    clean = set(sim.schedule.clean_days()) | set(
        sim.schedule.drift_days(kind="covariate")  # drifted data is not broken data
    )

    quarantined = [b for b in batches if b.blocked and b.dates[0] in clean]

    assert len(batches) >= 90
    share = len(quarantined) / len(batches)
    assert share <= 0.01, (name, [(b.label, b.reason()) for b in quarantined][:5])


def test_no_partition_after_a_range_widening_drift_is_quarantined_and_drift_flags_it():
    from retrainer.config.drift import DriftSection
    from retrainer.drift.detector import DriftDetector
    from retrainer.simulate import simulate

    # given a stream whose loan amounts spread twice as wide (log scale) from day 80
    sim = simulate("range_widening", seed=3)
    [drift] = [d for d in sim.schedule.drifts if d.kind == "covariate"]
    after = sorted(sim.schedule.active_days(drift.id))
    suite = _suite(sim)

    # when validating every day after the drift
    batches = _validate(sim, suite, after)

    # then none is quarantined: the wider values are plausible, only more spread out ...
    assert len(after) >= 60
    assert not [b.label for b in batches if b.blocked]
    widened = pd.concat([sim.feature_batch(d) for d in after[:7]])["loan_amount"]
    reference = pd.concat([sim.feature_batch(d) for d in sim.schedule.dates()[:60]])
    assert widened.max() > reference["loan_amount"].max()
    # ... and the drift monitor, whose job it is, flags the column
    columns = loan_columns()
    detector = DriftDetector(
        numeric=columns.numeric, categorical=columns.categorical, config=DriftSection()
    ).fit(reference)
    report = detector.compare(pd.concat([sim.feature_batch(d) for d in after[:7]]))
    assert "loan_amount" in report.drifted_columns


INCIDENTS = {
    # kind: (column, params, the column the rejection names)
    "schema_break": ("debt_to_income", {"mode": "rename"}, "debt_to_income"),
    "dtype_break": ("credit_score", {"share": 0.2}, "credit_score"),
    "null_burst": ("income", {"share": 0.4}, "income"),
    "unit_change": ("loan_amount", {"factor": 1000.0}, "loan_amount"),
    "unit_change_small": ("loan_amount", {"factor": 0.001}, "loan_amount"),
    "new_category": ("channel", {"share": 0.4}, "channel"),
    "duplicate_ids": ("loan_id", {"share": 0.2}, "loan_id"),
    "empty_batch": (None, {}, None),
    "stale_dates": ("event_time", {"days_old": 365}, "event_time"),
}


@pytest.fixture(scope="module")
def small_days_with_incidents():
    """The small-days stream (24 rows a day) with one incident of each kind after day 100."""
    from retrainer.simulate import simulate
    from retrainer.simulate.incidents import make_incident
    from retrainer.simulate.simulation import DEFAULT_START

    days = {kind: DEFAULT_START + timedelta(days=100 + 3 * i) for i, kind in enumerate(INCIDENTS)}
    incidents = [
        make_incident(days[kind], kind.removesuffix("_small"), column, params)
        for kind, (column, params, _) in INCIDENTS.items()
    ]
    sim = simulate("small_days", days=140, seed=2, incidents=incidents)
    suite = _suite(sim)
    batches = {b.label: b for b in _validate(sim, suite, sorted(days.values()))}
    return days, batches


@pytest.mark.parametrize("kind", list(INCIDENTS))
def test_every_incident_is_rejected_naming_the_column_also_in_24_row_days(
    small_days_with_incidents, kind
):
    days, batches = small_days_with_incidents
    batch = batches[days[kind].isoformat()]
    named = INCIDENTS[kind][2]

    assert batch.rows in (0, 24, 24 + round(24 * 0.2))
    assert batch.blocked, (kind, batch.reason())
    assert named in {f.column for f in batch.errors}, [f.message for f in batch.errors]
