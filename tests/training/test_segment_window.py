import numpy as np
import pytest

from retrainer.config.training import FixedWindow, SegmentUpsampleWindow
from retrainer.training.trainer import TrainingDataError, fit_model
from retrainer.training.windows import WindowContext, build_training_set


@pytest.fixture
def south_downturn(kit):
    """Region south (10% of loans) follows a new concept from day 60; the champion predates it.

    Returns ``(config, history of days 0-82, fresh days 83-96, champion fitted on days 0-59)``.
    """
    config = kit.config()
    stream = kit.stream("segment_concept", days=97, rows_per_day=300)
    history, fresh = kit.between(stream, 0, 82), kit.between(stream, 83, 96)
    champion_set = build_training_set(
        FixedWindow(), WindowContext(config, kit.between(stream, 0, 59))
    )
    champion = fit_model(champion_set, config).pipeline
    return config, history, fresh, champion


def test_the_segment_the_champion_fails_is_boosted(south_downturn):
    # given the champion's live metric in the south has fallen well below the others
    config, history, _, champion = south_downturn
    strategy = SegmentUpsampleWindow(days=30, lookback_days=14, min_gap=0.08, factor=5.0)

    # when the segment_upsample window is built
    training = build_training_set(strategy, WindowContext(config, history, champion))

    # then exactly the south is boosted: its rows weigh 5, all others 1
    details = training.details
    assert details["boosted"] == "region=south"
    assert details["measured_with"] == "champion"
    assert details["segment_metrics"]["region=south"] < details["overall"] - 0.08
    is_south = (training.frame["region"] == "south").to_numpy()
    assert np.array_equal(training.sample_weight, np.where(is_south, 5.0, 1.0))
    assert details["boosted_rows"] == int(is_south.sum())


def test_boosting_the_weak_segment_improves_it_over_the_fixed_window(kit, south_downturn):
    # given the same base window of 30 days, with and without the boost
    config, history, fresh, champion = south_downturn
    ctx = WindowContext(config, history, champion)
    boosted = build_training_set(
        SegmentUpsampleWindow(days=30, lookback_days=14, min_gap=0.08, factor=5.0), ctx
    )
    plain = build_training_set(FixedWindow(days=30), ctx)

    # when both are fitted
    boosted_model = fit_model(boosted, config).pipeline
    plain_model = fit_model(plain, config).pipeline

    # then on fresh loans of the south the boosted model ranks defaults better
    south = fresh[fresh["region"] == "south"]
    assert (
        kit.roc_auc(boosted_model, south, config) > kit.roc_auc(plain_model, south, config) + 0.02
    )


def test_an_explicit_threshold_decides_which_segments_are_weak(south_downturn):
    # given a threshold below every segment's live metric
    config, history, _, champion = south_downturn
    strategy = SegmentUpsampleWindow(days=30, threshold=0.3, segment_columns=["region"])

    # when the window is built
    training = build_training_set(strategy, WindowContext(config, history, champion))

    # then nothing is boosted and the reason is recorded
    assert training.sample_weight is None
    assert training.details["boosted"] == ""
    assert "threshold" in training.details["reason"]
    assert set(training.details["segment_metrics"]) == {
        f"region={r}" for r in history["region"].unique()
    }


def test_without_a_champion_a_stand_in_fitted_before_the_lookback_measures_the_segments(
    south_downturn,
):
    # given no champion yet
    config, history, _, _ = south_downturn
    strategy = SegmentUpsampleWindow(days=30, lookback_days=14, min_gap=0.08)

    # when the window is built
    training = build_training_set(strategy, WindowContext(config, history, None))

    # then a model fitted on the days before the lookback (mostly the old concept) finds the
    # same weak segment
    assert training.details["measured_with"] == "stand-in"
    assert training.details["boosted"] == "region=south"


def test_segments_with_too_few_rows_are_not_judged(south_downturn):
    # given a support requirement larger than any segment's lookback rows
    config, history, _, champion = south_downturn
    strategy = SegmentUpsampleWindow(days=30, lookback_days=2, min_support=10_000)

    # when the window is built
    training = build_training_set(strategy, WindowContext(config, history, champion))

    # then no segment is measured or boosted
    assert training.details["segment_metrics"] == {}
    assert training.sample_weight is None


def test_an_unknown_segment_column_is_named(south_downturn):
    config, history, _, champion = south_downturn
    strategy = SegmentUpsampleWindow(segment_columns=["county"])

    with pytest.raises(TrainingDataError, match="county"):
        build_training_set(strategy, WindowContext(config, history, champion))
