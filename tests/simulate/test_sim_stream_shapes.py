"""Stream shapes: small days, ordered slices, valid outliers, rare categories."""

from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sim_helpers import day_numbers, scenario_sim

from retrainer.simulate import (
    FEATURE_COLUMNS,
    SCENARIOS,
    HeavyTail,
    Ordering,
    RareCategory,
    Scenario,
    SimulationError,
    StreamShape,
    build_schedule,
    simulate,
)

SHAPED = ["small_days", "ordered_slices", "yearly_cycle", "range_widening"]


def _reshaped(name: str, **stream: object) -> Scenario:
    """The scenario with some of its stream's shape replaced (e.g. ``order=None``)."""
    scenario = SCENARIOS[name]
    return replace(scenario, name=f"{name}_variant", stream=replace(scenario.stream, **stream))


# -- small days and reproducibility --------------------------------------------------------


def test_the_scenarios_rows_per_day_is_the_default_and_a_callers_choice_wins():
    # given the small-days scenario and a scenario without its own size
    # when each is simulated without and with rows_per_day
    small = simulate("small_days", days=10)
    chosen = simulate("small_days", days=10, rows_per_day=100)

    # then the scenario's 24 rows a day apply unless the caller chose, and 2,000 stays the
    # default of the scenarios that do not say
    assert small.features["event_time"].dt.date.value_counts().eq(24).all()
    assert len(small.features) == 240
    assert small.schedule.rows_per_day == 24
    assert chosen.schedule.rows_per_day == 100
    assert len(chosen.features) == 1000
    assert build_schedule("stable").rows_per_day == 2000
    assert {name: SCENARIOS[name].rows_per_day for name in SHAPED} == {
        "small_days": 24,
        "ordered_slices": 40,
        "yearly_cycle": 300,
        "range_widening": 300,
    }


@pytest.mark.parametrize("name", SHAPED)
def test_a_shaped_stream_is_reproducible_for_a_seed(name):
    # given a shaped scenario simulated twice with one seed and once with another
    first = simulate(name, days=40, seed=5)
    again = simulate(name, days=40, seed=5)
    other = simulate(name, days=40, seed=6)

    # then the same seed reproduces the rows, labels and ground truth, a new seed does not
    pd.testing.assert_frame_equal(first.features, again.features)
    pd.testing.assert_frame_equal(first.labels, again.labels)
    assert first.schedule == again.schedule
    assert first.schedule.to_json() == again.schedule.to_json()
    assert not first.features["income"].equals(other.features["income"])


@pytest.mark.parametrize("name", ["small_days", "ordered_slices"])
def test_a_longer_shaped_stream_extends_a_shorter_one(name):
    # given a scenario cut after 30 and after 60 days (the same sorted block, if ordered)
    short, long = simulate(name, days=30), simulate(name, days=60)

    # then the first 30 days are the same rows and the same valid outliers
    pd.testing.assert_frame_equal(short.features, long.features.iloc[: len(short.features)])
    assert short.schedule.outliers == [
        o for o in long.schedule.outliers if o.date <= date(2026, 1, 30)
    ]


def test_shaped_scenarios_generate_their_whole_default_length():
    for name in SHAPED:
        sim = simulate(name)
        days = (sim.schedule.end - sim.schedule.start).days + 1
        assert len(sim.features) == days * sim.schedule.rows_per_day, name
        assert sim.features["event_time"].dt.date.nunique() == days, name


# -- ordered slices ------------------------------------------------------------------------


def test_an_ordered_stream_is_sorted_and_each_day_covers_the_next_range():
    # given the ordered-slices scenario (one file sorted by credit score, cut into days)
    sim = scenario_sim("ordered_slices")
    schedule, features = sim.schedule, sim.features
    column = schedule.stream.order.column

    # then the ground truth names the column, one block spans the stream, and every day
    # is clean: the moving range is the stream's shape, not drift and not broken data
    assert column == "credit_score"
    assert schedule.order_blocks() == [schedule.dates()]
    assert schedule.clean_days() == set(schedule.dates())
    # and the rows are sorted, day after day
    assert features[column].is_monotonic_increasing
    daily = features.groupby(day_numbers(sim))[column].agg(["min", "max"])
    assert (daily["min"].iloc[1:].to_numpy() >= daily["max"].iloc[:-1].to_numpy()).all()
    assert daily["max"].iloc[0] < 560 < 760 < daily["min"].iloc[-1]
    # and event times stay in their day, sorted with the column within the day
    assert (features["event_time"].dt.date == np.array(schedule.dates())[day_numbers(sim)]).all()
    assert features["event_time"].is_monotonic_increasing


def test_an_ordered_stream_is_a_permutation_of_iid_draws_with_the_same_concept():
    # given the ordered stream and the same scenario with i.i.d. days
    sim = scenario_sim("ordered_slices")
    iid = simulate(_reshaped("ordered_slices", order=None))

    # when both streams' rows are put in one order with their true default probability
    def rows(s):
        frame = s.features[list(FEATURE_COLUMNS)].assign(p=s.truth["default_probability"])
        return frame.sort_values([*FEATURE_COLUMNS, "p"]).reset_index(drop=True)

    # then they hold the same rows, each with the probability of the unchanged concept
    pd.testing.assert_frame_equal(rows(sim), rows(iid))
    # and the labels follow the rows: the default rate falls along the sorted scores
    labels = sim.labels.set_index("loan_id").loc[sim.features["loan_id"], "defaulted"]
    halves = np.array_split(labels.to_numpy(), 2)
    assert halves[0].mean() > 2 * halves[1].mean()


def test_an_ordered_stream_in_blocks_restarts_the_order_in_every_block():
    # given a stream sorted by income in blocks of 10 days
    scenario = Scenario(
        "blocks",
        "income-sorted blocks",
        days=30,
        rows_per_day=30,
        stream=StreamShape(order=Ordering("income", block_days=10)),
    )
    sim = simulate(scenario)

    # then each block is sorted and the next block starts over from low incomes
    blocks = sim.schedule.order_blocks()
    assert [len(b) for b in blocks] == [10, 10, 10]
    income = sim.features["income"].to_numpy().reshape(3, -1)
    assert all((np.diff(block) >= 0).all() for block in income)
    assert income[1, 0] < income[0, -1]
    assert income[2, 0] < income[1, -1]


# -- valid outliers ------------------------------------------------------------------------


def test_valid_outliers_hit_about_their_share_and_are_extreme_finite_and_plausible():
    # given the small-days scenario at 300 rows a day (for a precise share) and the same
    # stream without its heavy tail
    sim = simulate("small_days", rows_per_day=300)
    plain = simulate(_reshaped("small_days", heavy_tails=()), rows_per_day=300)
    schedule = sim.schedule
    [tail] = schedule.stream.heavy_tails
    outlier = sim.features["loan_id"].isin(schedule.outlier_ids("income"))

    # then about 0.2% of the rows are outliers, listed in the ground truth (not incidents)
    assert tail.column == "income"
    assert outlier.sum() == len(schedule.outliers)
    assert stats.binomtest(int(outlier.sum()), len(outlier), tail.share).pvalue > 0.001
    assert schedule.incidents == []
    assert schedule.clean_days() == set(schedule.dates())
    # and each is its ordinary value times 10..30: finite, positive, far above the rest
    ratio = sim.features["income"][outlier] / plain.features["income"][outlier]
    assert ratio.between(9.99, 30.01).all()
    values = sim.features.loc[outlier, "income"]
    assert np.isfinite(values).all()
    assert values.between(100_000, 30 * 600_000).all()
    assert values.median() > sim.features.loc[~outlier, "income"].quantile(0.99)
    # and nothing else moved
    others = [c for c in FEATURE_COLUMNS if c != "income"]
    pd.testing.assert_frame_equal(sim.features[others], plain.features[others])
    assert sim.features.loc[~outlier, "income"].equals(plain.features.loc[~outlier, "income"])


def test_the_ground_truth_locates_each_outlier_in_its_days_batch():
    # given the small-days stream
    sim = scenario_sim("small_days")

    # then every listed outlier is the row it names in its day's batch, with the factor
    for outlier in sim.schedule.outliers:
        batch = sim.feature_batch(outlier.date)
        assert batch["loan_id"].iloc[outlier.row] == outlier.loan_id
        assert batch["income"].iloc[outlier.row] >= 10 * 12_000
        assert sim.schedule.outliers_on(outlier.date)
    assert 5 <= len(sim.schedule.outliers) <= 40  # 0.2% of 8,760 rows


# -- rare categories -----------------------------------------------------------------------


def test_rare_categories_appear_at_about_their_share_over_a_year():
    # given a year of the yearly-cycle stream (300 rows a day)
    sim = scenario_sim("yearly_cycle")
    features = sim.features

    # then each rare value is valid and close to its share, the usual values keep theirs
    for rare in sim.schedule.stream.rare_categories:
        assert rare.value in sim.schedule.valid_categories(rare.column)
        count = int((features[rare.column] == rare.value).sum())
        assert stats.binomtest(count, len(features), rare.share).pvalue > 0.001, rare
    for column in ("purpose", "region"):
        assert set(features[column]) == set(sim.schedule.valid_categories(column))
    assert set(sim.schedule.valid_categories("purpose")) >= {"education", "wedding", "car"}
    assert 0.32 < (features["purpose"] == "debt_consolidation").mean() < 0.36


def test_a_60_day_reference_of_small_days_may_or_may_not_hold_a_rare_category():
    # given the first 60 small days (1,440 rows) of 40 seeds
    rare = SCENARIOS["small_days"].stream.rare_categories
    seen = []
    for seed in range(40):
        features = simulate("small_days", days=60, seed=seed).features
        seen.append([bool((features[r.column] == r.value).any()) for r in rare])

    # then some references lack a rare value that others contain; all in all they hold it
    seen = np.array(seen)
    assert not seen.all()
    assert seen.mean(axis=0).min() > 0.7
    # and over the whole year every rare value shows up
    year = scenario_sim("small_days").features
    assert all((year[r.column] == r.value).any() for r in rare)


# -- specifications ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Ordering("region", 10), "not numeric"),
        (lambda: Ordering("income", 0), "block_days"),
        (lambda: HeavyTail("employment_years", 0.01, 10, 20), "without nulls"),
        (lambda: HeavyTail("income", 0.2, 10, 20), "share"),
        (lambda: HeavyTail("income", 0.01, 20, 10), "low <= high"),
        (lambda: RareCategory("income", "x", 0.01), "not categorical"),
        (lambda: RareCategory("purpose", "car", 0.01), "already a usual"),
        (lambda: RareCategory("purpose", "yacht", 0.5), "share"),
        (
            lambda: StreamShape(
                order=Ordering("income", 5), heavy_tails=(HeavyTail("income", 0.01, 10, 20),)
            ),
            "orders the stream",
        ),
    ],
)
def test_invalid_stream_shapes_name_the_problem(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_new_category_incident_cannot_inject_a_valid_rare_value():
    from retrainer.simulate import make_incident

    clash = make_incident(date(2026, 1, 3), "new_category", "purpose", {"value": "wedding"})
    with pytest.raises(SimulationError, match="valid rare purpose"):
        simulate("small_days", days=5, incidents=[clash])
