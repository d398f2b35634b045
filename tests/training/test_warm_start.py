import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss

from retrainer.config import parse_config
from retrainer.config.training import FixedWindow, WarmStartWindow
from retrainer.training.trainer import event_dates, fit_model
from retrainer.training.windows import WindowContext, build_training_set

SGD = ("sklearn.linear_model.SGDClassifier", {"loss": "log_loss", "alpha": 0.001})


def _champion(config, frame):
    return fit_model(
        build_training_set(FixedWindow(), WindowContext(config, frame)), config
    ).pipeline


@pytest.fixture
def downturn(kit):
    """A new default concept from day 60: history of days 0-72, fresh days 73-86."""
    stream = kit.stream("concept_sudden", days=87, rows_per_day=150)
    return kit.between(stream, 0, 72), kit.between(stream, 73, 86), kit.between(stream, 0, 59)


def test_warm_start_grows_the_champions_trees_on_frozen_preprocessing_and_adapts(kit, downturn):
    # given a gradient-boosting champion fitted before the drift
    config = kit.config(kit.HIST_GBM)
    history, fresh, before_drift = downturn
    champion = _champion(config, before_drift)
    champion_iterations = champion.named_steps["model"].n_iter_

    # when it is warm started on the last 14 days with 30 more iterations
    training = build_training_set(
        WarmStartWindow(days=14, extra_iterations=30), WindowContext(config, history, champion)
    )
    warm = fit_model(training, config).pipeline

    # then it holds the champion's iterations plus the new ones
    assert training.details["method"] == "warm_start"
    assert warm.named_steps["model"].n_iter_ == champion_iterations + 30
    # and it trained on the last 14 days only, through the champion's preprocessing (a refit
    # scaler would centre the recent rows, not the pre-drift ones)
    assert set(event_dates(training.frame, "event_time")) == {kit.day(d) for d in range(59, 73)}
    scaler = warm.named_steps["preprocess"].named_transformers_["numeric"].named_steps["scale"]
    champion_scaler = (
        champion.named_steps["preprocess"].named_transformers_["numeric"].named_steps["scale"]
    )
    assert np.array_equal(scaler.mean_, champion_scaler.mean_)
    assert not np.allclose(scaler.mean_, training.frame[config.columns.numeric].mean().to_numpy())
    # and it ranks post-drift loans clearly better than the champion
    assert kit.roc_auc(warm, fresh, config) > kit.roc_auc(champion, fresh, config) + 0.05
    # while the champion itself is left untouched
    assert champion.named_steps["model"].n_iter_ == champion_iterations
    assert champion.named_steps["model"].warm_start is False


def test_a_partial_fit_estimator_is_updated_not_refit(kit, downturn):
    # given an SGD logistic-regression champion fitted before the drift
    config = kit.config(SGD)
    history, fresh, before_drift = downturn
    champion = _champion(config, before_drift)
    champion_updates = champion.named_steps["model"].t_

    # when it is continued on the last 14 days with 3 passes
    training = build_training_set(
        WarmStartWindow(days=14, partial_fit_epochs=3), WindowContext(config, history, champion)
    )
    updated = fit_model(training, config).pipeline

    # then partial_fit continued the champion's SGD: its update counter kept counting (a
    # refit would restart it from the new rows alone)
    assert training.details["method"] == "partial_fit"
    assert updated.named_steps["model"].t_ == champion_updates + 3 * len(training.frame)
    # and the update moved the model towards the new concept
    assert kit.roc_auc(updated, fresh, config) > kit.roc_auc(champion, fresh, config) + 0.03


def test_without_a_champion_warm_start_falls_back_to_a_cold_start(kit, downturn):
    # given no champion
    config = kit.config(kit.HIST_GBM)
    history, _, _ = downturn

    # when the warm_start window is built
    training = build_training_set(
        WarmStartWindow(days=14, fallback_days=30), WindowContext(config, history, None)
    )

    # then it is a plain window of the fallback length, and says why
    assert training.init_model is None
    assert training.details["method"] == "cold_start"
    assert training.details["fallback_reason"] == "no champion"
    assert len(set(event_dates(training.frame, "event_time"))) == 30
    assert fit_model(training, config).pipeline.named_steps["model"].n_iter_ == 30


def test_a_champion_with_other_feature_columns_is_not_warm_started(kit, downturn):
    # given a champion trained before a feature was added to the config
    history, _, before_drift = downturn
    old_config = kit.config(kit.HIST_GBM)
    old_config.columns.numeric = [c for c in old_config.columns.numeric if c != "age"]
    champion = _champion(old_config, before_drift)

    # when the current config (with "age") warm starts it
    training = build_training_set(
        WarmStartWindow(days=14), WindowContext(kit.config(kit.HIST_GBM), history, champion)
    )

    # then it cold starts and names the new column
    assert training.details["method"] == "cold_start"
    assert "added ['age']" in training.details["fallback_reason"]


def test_a_champion_of_another_estimator_class_is_not_warm_started(kit, downturn):
    # given an SGD champion while the config now asks for gradient boosting
    history, _, before_drift = downturn
    champion = _champion(kit.config(SGD), before_drift)

    # when the warm_start window is built
    training = build_training_set(
        WarmStartWindow(days=14), WindowContext(kit.config(kit.HIST_GBM), history, champion)
    )

    # then it cold starts and says why
    assert training.details["method"] == "cold_start"
    assert "SGDClassifier" in training.details["fallback_reason"]


def _shifted_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same concept, but the new rows live at other feature values (covariate shift)."""
    rng = np.random.default_rng(0)

    def rows(center: float, n: int, first_day: int) -> pd.DataFrame:
        x1 = rng.normal(center, 1.0, n)
        x2 = rng.normal(center, 1.0, n)
        p = 1 / (1 + np.exp(-(2 * np.sin(2 * x1) + x2 - center)))
        return pd.DataFrame(
            {
                "id": np.arange(n) + first_day * n,
                "ts": pd.Timestamp("2026-01-01", tz="UTC")
                + pd.to_timedelta(first_day + np.arange(n) % 10, unit="D"),
                "x1": x1,
                "x2": x2,
                "y": (rng.random(n) < p).astype(int),
            }
        )

    return rows(0.0, 4000, 0), rows(1.5, 4000, 10)


def test_warm_started_boosting_keeps_its_bins_under_covariate_shift():
    # given a boosting champion and new rows at other feature values (same concept)
    config = parse_config(
        {
            "model": {"name": "toy", "task": "binary"},
            "data": {"source": "data"},
            "columns": {"id": "id", "timestamp": "ts", "target": "y", "numeric": ["x1", "x2"]},
            "estimator": {
                "class_path": "sklearn.ensemble.HistGradientBoostingClassifier",
                "params": {"max_iter": 40, "early_stopping": False},
            },
            "training": {"preprocessing": {"scale_numeric": False}},
        }
    )
    old, new = _shifted_frames()
    champion = _champion(config, old)
    train_new, test_new = new.iloc[:3000], new.iloc[3000:]

    # when the champion is warm started on the new rows
    training = build_training_set(
        WarmStartWindow(days=30, extra_iterations=40),
        WindowContext(config, train_new, champion),
    )
    warm = fit_model(training, config).pipeline

    # then the added trees correct the champion's errors there instead of adding new ones
    # (scikit-learn alone re-bins the new rows, evaluates the old trees on the wrong bins and
    # fits the new trees to the wrong residuals)
    def loss(model):
        return log_loss(test_new["y"], model.predict_proba(test_new[["x1", "x2"]])[:, 1])

    assert loss(warm) < loss(champion)
