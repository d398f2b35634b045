import numpy as np
import pandas as pd
import pytest

from retrainer.config.training import (
    DynamicWindow,
    FixedWindow,
    HistoryPlusRecentWindow,
    SegmentUpsampleWindow,
    WarmStartWindow,
)
from retrainer.training.trainer import TrainingDataError, event_dates, fit_model
from retrainer.training.windows import WindowContext, build_training_set, parse_window_option


def _dates(frame: pd.DataFrame) -> set:
    return set(event_dates(frame, "event_time"))


# -- fixed ------------------------------------------------------------------------------------


def test_fixed_window_uses_exactly_the_last_n_days(kit):
    # given 30 labelled days
    config = kit.config()
    history = kit.stream("stable", days=30, rows_per_day=40)

    # when the fixed window asks for 7 days
    training = build_training_set(FixedWindow(days=7), WindowContext(config, history))

    # then every row of days 23..29 is used and nothing older
    expected = kit.between(history, 23, 29)
    assert _dates(training.frame) == {kit.day(d) for d in range(23, 30)}
    assert set(training.frame["loan_id"]) == set(expected["loan_id"])
    assert training.sample_weight is None
    assert (training.start, training.end) == (kit.day(23), kit.day(29))


def test_fixed_window_without_days_uses_all_history(kit):
    # given 20 labelled days
    history = kit.stream("stable", days=20, rows_per_day=20)

    # when the fixed window has no length
    training = build_training_set(FixedWindow(), WindowContext(kit.config(), history))

    # then all rows are used
    assert len(training.frame) == len(history)


# -- history_plus_recent ----------------------------------------------------------------------


def test_history_plus_recent_keeps_recent_rows_and_samples_older_ones_with_weights(kit):
    # given 40 labelled days
    config = kit.config(random_state=3)
    history = kit.stream("stable", days=40, rows_per_day=50)
    strategy = HistoryPlusRecentWindow(
        recent_days=10, history_fraction=0.25, history_weight=0.5, recent_weight=2.0
    )

    # when the strategy builds the training set
    training = build_training_set(strategy, WindowContext(config, history))

    # then every row of the last 10 days is there, with the recent weight
    recent = kit.between(history, 30, 39)
    older = kit.between(history, 0, 29)
    chosen = training.frame.assign(weight=training.sample_weight)
    is_recent = chosen["loan_id"].isin(set(recent["loan_id"]))
    assert set(recent["loan_id"]) <= set(chosen["loan_id"])
    assert (chosen.loc[is_recent, "weight"] == 2.0).all()
    # and a quarter of the older rows, drawn from the whole older period, with the history weight
    sampled = chosen.loc[~is_recent]
    assert len(sampled) == round(0.25 * len(older))
    assert set(sampled["loan_id"]) <= set(older["loan_id"])
    assert min(_dates(sampled)) <= kit.day(2)
    assert max(_dates(sampled)) >= kit.day(27)
    assert (sampled["weight"] == 0.5).all()
    assert training.details["recent_rows"] == len(recent)
    assert training.details["history_rows"] == len(sampled)


def test_history_plus_recent_sample_is_seeded_by_training_random_state(kit):
    # given the same history and strategy
    history = kit.stream("stable", days=30, rows_per_day=30)
    strategy = HistoryPlusRecentWindow(recent_days=5, history_fraction=0.3)

    # when it runs twice with one seed and once with another
    def sampled_ids(seed: int) -> set:
        ctx = WindowContext(kit.config(random_state=seed), history)
        return set(build_training_set(strategy, ctx).frame["loan_id"])

    # then the seed alone decides the sample
    assert sampled_ids(1) == sampled_ids(1)
    assert sampled_ids(1) != sampled_ids(2)


def test_history_plus_recent_beats_a_recent_only_window_when_an_old_pattern_returns(kit):
    # given a concept that comes back every other fortnight (new concept on days 42-55 and
    # 70-83): the last 14 days of history (56-69) only show the old concept, the fresh days
    # (70-83) the returning one
    config = kit.config()
    stream = kit.stream("concept_recurring", days=84, rows_per_day=150)
    history, fresh = kit.between(stream, 0, 69), kit.between(stream, 70, 83)

    # when one model trains on the recent days only and one also on a sample of history
    recent_only = build_training_set(FixedWindow(days=14), WindowContext(config, history))
    with_history = build_training_set(
        HistoryPlusRecentWindow(recent_days=14, history_fraction=0.5),
        WindowContext(config, history),
    )
    recent_model = fit_model(recent_only, config).pipeline
    history_model = fit_model(with_history, config).pipeline

    # then the model that kept history ranks the returning pattern's loans clearly better
    assert (
        kit.roc_auc(history_model, fresh, config) > kit.roc_auc(recent_model, fresh, config) + 0.02
    )


# -- build_training_set -----------------------------------------------------------------------


def test_max_rows_subsamples_rows_and_their_weights_together(kit):
    # given a weighted strategy and training.max_rows below the window size
    config = kit.config(max_rows=300)
    history = kit.stream("stable", days=20, rows_per_day=40)
    strategy = HistoryPlusRecentWindow(recent_days=5, history_fraction=0.5, recent_weight=3.0)

    # when the training set is built
    training = build_training_set(strategy, WindowContext(config, history))

    # then it holds max_rows rows, each still carrying its own weight
    assert len(training.frame) == 300 == len(training.sample_weight)
    recent_ids = set(kit.between(history, 15, 19)["loan_id"])
    is_recent = training.frame["loan_id"].isin(recent_ids).to_numpy()
    assert np.array_equal(training.sample_weight, np.where(is_recent, 3.0, 1.0))
    assert training.details["subsampled_to"] == 300


@pytest.mark.parametrize(
    "strategy",
    [
        FixedWindow(days=7),
        DynamicWindow(candidates_days=[3, 7], validation_days=2),
        HistoryPlusRecentWindow(recent_days=3),
        SegmentUpsampleWindow(days=7, lookback_days=3, min_support=1),
        WarmStartWindow(days=3),
    ],
    ids=lambda s: s.kind,
)
def test_every_strategy_refuses_a_single_class_window(kit, strategy):
    # given labelled history in which no loan defaulted
    history = kit.stream("stable", days=12, rows_per_day=30).assign(defaulted=0)

    # when / then the strategy names the problem instead of training a useless model
    with pytest.raises(TrainingDataError, match="single class"):
        build_training_set(strategy, WindowContext(kit.config(), history))


@pytest.mark.parametrize(
    "strategy",
    [
        FixedWindow(days=7),
        DynamicWindow(),
        HistoryPlusRecentWindow(),
        SegmentUpsampleWindow(),
        WarmStartWindow(),
    ],
    ids=lambda s: s.kind,
)
def test_every_strategy_refuses_an_empty_history(kit, strategy):
    # given no labelled rows at all
    history = kit.stream("stable", days=3, rows_per_day=5).iloc[0:0]

    # when / then
    with pytest.raises(TrainingDataError, match="no labelled rows"):
        build_training_set(strategy, WindowContext(kit.config(), history))


# -- parse_window_option ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "field", "value"),
    [
        ("fixed", "fixed", "days", None),
        ("fixed:30", "fixed", "days", 30),
        ("dynamic", "dynamic", "validation_days", 7),
        ("dynamic:5", "dynamic", "validation_days", 5),
        ("history_plus_recent:10", "history_plus_recent", "recent_days", 10),
        ("history-plus-recent", "history_plus_recent", "recent_days", 14),
        ("segment_upsample:45", "segment_upsample", "days", 45),
        ("warm_start:21", "warm_start", "days", 21),
        ("warm-start", "warm_start", "days", 14),
    ],
)
def test_parse_window_option_reads_each_kind(text, kind, field, value):
    # when the --window text is parsed
    strategy = parse_window_option(text)

    # then the kind and its main length are set
    assert strategy.kind == kind
    assert getattr(strategy, field) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [("weekly", "weekly"), ("fixed:ten", "'ten' is not a number"), ("fixed:0", "fixed:0")],
)
def test_parse_window_option_rejects_bad_text(text, message):
    with pytest.raises(ValueError, match=message):
        parse_window_option(text)
