"""The metric registry: values match scikit-learn, undefined cases say why, names are checked."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from retrainer.metrics import (
    METRICS,
    UnknownMetricError,
    compute_metric,
    compute_metric_results,
    compute_metrics,
    default_metrics,
    get_metric,
    metric_names,
    prepare_inputs,
    primary_metric,
)


def _binary(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = 1 / (1 + np.exp(-(1.5 * y - 0.75 + rng.normal(size=n))))
    return y, np.round(p, 2)  # rounding creates tied scores


def _multiclass(n: int = 400, k: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += 1.5
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, proba


def _regression(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.normal(10, 3, n)
    return y, y + rng.normal(0, 1, n)


def test_registry_describes_every_metric_by_task() -> None:
    # given the registry
    # when listing metrics per task
    # then each task has the documented metrics and orientations
    assert set(metric_names("binary")) == {
        "roc_auc", "accuracy", "log_loss", "brier", "f1", "precision", "recall",
        "average_precision",
    }  # fmt: skip
    assert set(metric_names("multiclass")) == {"accuracy", "log_loss", "f1_macro", "roc_auc_ovr"}
    assert set(metric_names("regression")) == {"rmse", "mae", "r2", "mape"}
    assert get_metric("roc_auc").greater_is_better
    assert not get_metric("log_loss").greater_is_better
    assert get_metric("roc_auc").needs == "y_proba"
    assert get_metric("accuracy").needs == "y_pred"
    assert [primary_metric(t) for t in ("binary", "multiclass", "regression")] == [
        "roc_auc",
        "log_loss",
        "rmse",
    ]
    for task in ("binary", "multiclass", "regression"):
        assert all(get_metric(m).applies_to(task) for m in default_metrics(task))


def test_binary_metrics_match_scikit_learn() -> None:
    # given binary labels and probabilities
    y, p = _binary()
    pred = (p >= 0.5).astype(int)
    # when computing every binary metric
    values = compute_metrics(metric_names("binary"), y, y_proba=p)
    # then each equals scikit-learn's function
    expected = {
        "roc_auc": skm.roc_auc_score(y, p),
        "accuracy": skm.accuracy_score(y, pred),
        "log_loss": skm.log_loss(y, p),
        "brier": skm.brier_score_loss(y, p),
        "f1": skm.f1_score(y, pred),
        "precision": skm.precision_score(y, pred),
        "recall": skm.recall_score(y, pred),
        "average_precision": skm.average_precision_score(y, p),
    }
    assert values == pytest.approx(expected, abs=1e-12)


def test_multiclass_and_regression_metrics_match_scikit_learn() -> None:
    # given multiclass and regression predictions
    y, proba = _multiclass()
    yr, pr = _regression()
    # when computing the registry metrics
    multi = compute_metrics(metric_names("multiclass"), y, y_proba=proba)
    reg = compute_metrics(metric_names("regression"), yr, y_pred=pr)
    # then they equal scikit-learn's
    pred = proba.argmax(axis=1)
    assert multi == pytest.approx(
        {
            "accuracy": skm.accuracy_score(y, pred),
            "log_loss": skm.log_loss(y, proba),
            "f1_macro": skm.f1_score(y, pred, average="macro"),
            "roc_auc_ovr": skm.roc_auc_score(y, proba, multi_class="ovr"),
        },
        abs=1e-12,
    )
    assert reg == pytest.approx(
        {
            "rmse": skm.root_mean_squared_error(yr, pr),
            "mae": skm.mean_absolute_error(yr, pr),
            "r2": skm.r2_score(yr, pr),
            "mape": skm.mean_absolute_percentage_error(yr, pr),
        },
        abs=1e-12,
    )


@pytest.mark.parametrize(
    ("name", "y_true", "kwargs", "reason"),
    [
        ("roc_auc", [1, 1, 1], {"y_proba": [0.2, 0.4, 0.9]}, "only one class"),
        ("precision", [0, 1, 0], {"y_pred": [0, 0, 0]}, "no positive prediction"),
        ("log_loss", [0, 1, 0], {"y_proba": [0.1, np.nan, 0.2]}, "NaN"),
        ("mape", [0.0, 1.0, 2.0], {"y_pred": [0.0, 1.0, 2.0]}, "zero"),
        ("r2", [1.0, 1.0, 1.0], {"y_pred": [0.0, 1.0, 2.0]}, "constant"),
        ("roc_auc_ovr", [0, 1, 1], {"y_proba": [[0.5, 0.3, 0.2]] * 3}, "absent"),
        ("roc_auc", [0, 1], {"y_pred": [0, 1]}, "needs probabilities"),
        ("rmse", [0, 1], {"y_proba": [[0.5, 0.5]] * 2, "task": "binary"}, "does not apply"),
        ("accuracy", [0, 1, 2], {"y_pred": [0, 1], "task": "multiclass"}, "rows"),
    ],
)
def test_uncomputable_metric_is_none_with_a_reason(
    name: str, y_true: list, kwargs: dict, reason: str
) -> None:
    # given data a metric is undefined on
    # when computing it
    result = compute_metric(name, y_true, **kwargs)
    # then it is None with a reason instead of an exception
    assert result.value is None
    assert not result.ok
    assert reason in result.reason


def test_unknown_metric_names_the_valid_ones() -> None:
    # given a misspelt metric name
    # when computing it
    with pytest.raises(UnknownMetricError) as info:
        compute_metrics(["auc"], [0, 1], y_proba=[0.1, 0.9])
    # then the error lists the valid names and the closest one
    message = str(info.value)
    assert "did you mean 'roc_auc'" in message
    assert all(name in message for name in METRICS)


def test_string_labels_use_the_greater_label_as_positive_unless_told() -> None:
    # given string labels with P("yes")
    y = np.array(["no", "yes", "yes", "no", "yes"])
    p_yes = np.array([0.2, 0.8, 0.6, 0.4, 0.3])
    # when computing recall with and without an explicit positive label
    default = compute_metric("recall", y, y_proba=p_yes)
    flipped = compute_metric("recall", y, y_pred=np.where(p_yes < 0.5, "yes", "no"), pos_label="no")
    # then "yes" is positive by default and "no" when asked
    assert default.value == pytest.approx(2 / 3)
    assert flipped.value == pytest.approx(
        skm.recall_score(y, np.where(p_yes < 0.5, "yes", "no"), pos_label="no")
    )


def test_multiclass_classes_give_the_probability_column_order() -> None:
    # given string classes whose probability columns are not in sorted order
    y = np.array(["cat", "dog", "emu", "dog"])
    proba = np.array([[0.1, 0.8, 0.1], [0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.6, 0.3, 0.1]])
    classes = ["dog", "cat", "emu"]
    # when computing accuracy with the classes
    result = compute_metric("accuracy", y, y_proba=proba, classes=classes)
    # then the argmax columns map to the right labels
    assert result.value == 1.0


def test_compute_metric_results_keeps_reasons_and_compute_metrics_plain_values() -> None:
    # given a holdout with a single class
    y, p = np.ones(5, dtype=int), np.linspace(0.1, 0.9, 5)
    # when computing several metrics
    results = compute_metric_results(["roc_auc", "accuracy"], y, y_proba=p)
    plain = compute_metrics(["roc_auc", "accuracy"], y, y_proba=p)
    # then the reason travels with the result; the plain form has None
    assert results["roc_auc"].reason
    assert plain["roc_auc"] is None
    assert plain["accuracy"] == pytest.approx(0.6)


@pytest.mark.parametrize("name", sorted(METRICS))
def test_weighted_form_equals_the_metric_of_resampled_rows(name: str) -> None:
    # given rows, bootstrap index draws and the equivalent count weights
    spec = get_metric(name)
    task = sorted(spec.tasks)[0]
    rng = np.random.default_rng(7)
    if task == "binary":
        y, p = _binary(300)
        inputs = prepare_inputs("binary", y, p)
        values = {"y_proba": p}
    elif task == "multiclass":
        y, p = _multiclass(300)
        inputs = prepare_inputs("multiclass", y, p)
        values = {"y_proba": p}
    else:
        y, p = _regression(300)
        inputs = prepare_inputs("regression", y, y_pred=p)
        values = {"y_pred": p}
    index = rng.integers(0, len(y), size=(6, len(y)))
    counts = np.stack([np.bincount(row, minlength=len(y)) for row in index])
    # when evaluating the weighted form
    weighted = spec.weighted(inputs, counts)
    # then it equals the metric recomputed on each resample
    direct = [
        compute_metric(name, y[row], task=task, **{k: v[row] for k, v in values.items()}).value
        for row in index
    ]
    np.testing.assert_allclose(weighted, direct, rtol=0, atol=1e-12)
