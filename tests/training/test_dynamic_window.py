import pytest

from retrainer.config.training import DynamicWindow
from retrainer.training.trainer import TrainingDataError, event_dates
from retrainer.training.windows import WindowContext, build_training_set

CANDIDATES = [7, 14, 30, 60]


def test_dynamic_window_picks_a_short_window_after_a_sudden_concept_drift(kit):
    # given a stream whose default relation changes on day 60, observed up to day 74
    config = kit.config()
    history = kit.stream("concept_sudden", days=75, rows_per_day=300)

    # when the window length is searched on the last 7 days (68-74)
    training = build_training_set(
        DynamicWindow(candidates_days=CANDIDATES, validation_days=7), WindowContext(config, history)
    )

    # then the shortest candidate wins: only it holds nothing but the new concept (61-67) ...
    details = training.details
    assert details["days"] == 7
    curve = details["curve"]
    assert curve[7] > curve[14] > curve[30]
    # ... and the model trains on the last 7 days, validation window included
    assert set(event_dates(training.frame, "event_time")) == {kit.day(d) for d in range(68, 75)}
    assert details["validation_start"] == kit.day(68).isoformat()
    assert details["metric"] == "roc_auc"


def test_dynamic_window_picks_a_long_window_on_a_stable_stream(kit):
    # given a stable stream of 75 days
    config = kit.config()
    history = kit.stream("stable", days=75, rows_per_day=300)

    # when the window length is searched
    training = build_training_set(
        DynamicWindow(candidates_days=CANDIDATES, validation_days=7), WindowContext(config, history)
    )

    # then the longest window wins (more data is better, or at least not clearly worse)
    assert training.details["days"] == 60
    assert set(training.details["curve"]) == set(CANDIDATES)
    assert len(set(event_dates(training.frame, "event_time"))) == 60


def test_shortest_preference_with_a_wide_tolerance_takes_the_shortest_candidate(kit):
    # given a stable stream and a tolerance so wide that every candidate ties with the best
    config = kit.config()
    history = kit.stream("stable", days=40, rows_per_day=60)
    strategy = DynamicWindow(
        candidates_days=[7, 14, 28], validation_days=5, tolerance=1.0, prefer="shortest"
    )

    # when the window length is searched
    training = build_training_set(strategy, WindowContext(config, history))

    # then the tie rule, not the best value, decides, and both are recorded
    assert training.details["days"] == 7
    assert training.details["best_days"] in (7, 14, 28)
    assert training.details["tie_rule"] == "tolerance"


def test_candidates_longer_than_the_history_are_fitted_once(kit):
    # given 20 labelled days: 15 before a 5-day validation window
    config = kit.config()
    history = kit.stream("stable", days=20, rows_per_day=60)

    # when candidates of 30 and 60 days both exceed what is available
    training = build_training_set(
        DynamicWindow(candidates_days=[7, 30, 60], validation_days=5),
        WindowContext(config, history),
    )

    # then the first of them stands for "all of it" and the second is not refitted
    assert set(training.details["curve"]) == {7, 30}
    assert training.details["capped_at"] == 15


def test_dynamic_window_needs_more_history_than_the_validation_window(kit):
    # given 5 labelled days
    history = kit.stream("stable", days=5, rows_per_day=30)

    # when / then the error says why
    with pytest.raises(TrainingDataError, match="not longer than validation_days=7"):
        build_training_set(DynamicWindow(validation_days=7), WindowContext(kit.config(), history))
