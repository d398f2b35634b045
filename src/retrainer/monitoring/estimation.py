"""Confidence-based performance estimation (CBPE) for binary classifiers, as in NannyML.

Method
------
1. On reference data with labels (the champion's holdout, never trained on), fit a calibrator
   that maps the model's score to ``P(y = 1 | score)``: isotonic regression by default, or a
   logistic (Platt) fit on the score's log-odds. Like NannyML, the raw scores are kept when
   calibration does not lower the expected calibration error in cross-validation.
2. On rows without labels, each row's calibrated probability ``p`` is its expected
   contribution to the confusion matrix at the model's own decision (the logged predicted
   label ``ŷ``): ``E[TP] = Σ_{ŷ=1} p``, ``E[FP] = Σ_{ŷ=1} (1 - p)``, ``E[FN] = Σ_{ŷ=0} p``,
   ``E[TN] = Σ_{ŷ=0} (1 - p)``. Accuracy, precision, recall, specificity and F1 follow from
   the expected counts (NannyML's ``estimate_*`` functions).
3. The expected ROC curve orders rows by the raw score (highest first); the cumulative sum of
   calibrated probabilities is the expected true-positive count at each cut, the rest are
   expected false positives; the area under that curve is the expected ROC AUC (NannyML's
   ``estimate_roc_auc``, including its rounding to 5 decimals).
4. Log loss and Brier score are expectations over ``y ~ Bernoulli(p)`` of the per-row loss of
   the raw score ``s``: ``-(p log s + (1 - p) log(1 - s))`` and ``p (1 - s)² + (1 - p) s²``.

Assumption and what it can and cannot see
-----------------------------------------
The estimate is right when ``P(y | score)`` is the same in production as on the reference:
no concept drift with respect to the score. It therefore sees performance changes caused by
a shift of the score distribution (covariate shift moving rows into the uncertain region,
more borderline applicants, a changed mix of segments), but it is blind to a change of the
relation itself: if the same score now means a higher default rate, or the model ranks the
new defaulters as safe, the scores look the same and so does the estimate. That is why
realised performance is still computed as soon as labels land; a realised metric well below
the estimate on the same labelled rows is the signature of concept drift.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Literal

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import auc
from sklearn.model_selection import StratifiedShuffleSplit

Calibration = Literal["isotonic", "sigmoid", "none"]

ESTIMABLE_METRICS: tuple[str, ...] = (
    "roc_auc",
    "accuracy",
    "precision",
    "recall",
    "specificity",
    "f1",
    "log_loss",
    "brier",
)
"""Binary metrics CBPE can estimate without labels."""

_EPS = 1e-15


class EstimationError(Exception):
    """Estimation cannot run (not fitted, unknown metric, unusable reference data)."""


def _as_binary(y_true: np.ndarray, positive_label: object = 1) -> np.ndarray:
    y = np.asarray(y_true)
    if y.dtype == bool:
        return y.astype(float)
    return (y == positive_label).astype(float)


def expected_calibration_error(y_true: np.ndarray, proba: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error over equal-count bins of the sorted probabilities.

    Args:
        y_true: 0/1 outcomes.
        proba: Predicted probabilities.
        bins: Number of bins (fewer when there are few rows).

    Returns:
        ``Σ_b (n_b / n) |mean(p_b) - mean(y_b)|``.
    """
    proba = np.asarray(proba, dtype=float)
    y_true = np.asarray(y_true, dtype=float)
    order = np.argsort(proba, kind="stable")
    proba, y_true = proba[order], y_true[order]
    n = len(proba)
    bins = max(1, min(bins, n // 2))
    edges = np.linspace(0, n, bins + 1).astype(int)
    total = 0.0
    for lo, hi in itertools.pairwise(edges):
        if hi > lo:
            total += (hi - lo) / n * abs(proba[lo:hi].mean() - y_true[lo:hi].mean())
    return float(total)


def expected_confusion(proba: np.ndarray, y_pred: np.ndarray) -> tuple[float, float, float, float]:
    """Expected ``(TP, FP, FN, TN)`` given calibrated probabilities and predicted labels.

    Args:
        proba: Calibrated ``P(y = 1)`` per row.
        y_pred: Predicted labels as 0/1.

    Returns:
        The four expected counts.
    """
    proba = np.asarray(proba, dtype=float)
    positive = np.asarray(y_pred).astype(bool)
    tp = float(proba[positive].sum())
    fp = float((1 - proba[positive]).sum())
    fn = float(proba[~positive].sum())
    tn = float((1 - proba[~positive]).sum())
    return tp, fp, fn, tn


def estimate_roc_auc(proba: np.ndarray, scores: np.ndarray) -> float | None:
    """Expected ROC AUC the way NannyML 0.13 computes it.

    Rows are ordered by the raw score, highest first; the cumulative calibrated probability
    is the expected number of true positives above each cut and the remainder the expected
    false positives; rates are normalised by the totals and integrated with the trapezoid rule.

    Args:
        proba: Calibrated ``P(y = 1)`` per row.
        scores: The model's raw scores (they define the ranking).

    Returns:
        The expected ROC AUC, or None when every row is certainly one class.
    """
    proba = np.asarray(proba, dtype=float)
    scores = np.asarray(scores, dtype=float)
    order = np.argsort(scores, kind="stable")[::-1]
    ranked = proba[order]
    tps = np.cumsum(ranked)
    fps = 1 + np.arange(len(ranked)) - tps
    tps = np.round(np.r_[0, tps], 5)
    fps = np.round(np.r_[0, fps], 5)
    if len(ranked) == 0 or tps[-1] <= 0 or fps[-1] <= 0:
        return None
    return float(auc(fps / fps[-1], tps / tps[-1]))


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


class ConfidenceBasedEstimator:
    """Estimate binary-classification metrics without labels (CBPE).

    Follows scikit-learn conventions: ``__init__`` stores parameters, :meth:`fit` learns the
    calibrator from labelled reference scores, learned attributes end in ``_``.

    Args:
        calibration: ``isotonic`` (default), ``sigmoid`` or ``none``.
        calibrate_only_if_needed: Keep raw scores when calibration does not lower the
            expected calibration error in 10-fold shuffle-split cross-validation (NannyML).
        positive_label: The label value counted as positive in ``y_true`` (booleans: True).
        random_state: Seed of the cross-validation splits.

    Attributes:
        calibrator_: The fitted calibrator (None when raw scores are used).
        calibrated_: Whether scores are calibrated before estimating.
        reference_rows_: Rows the calibrator saw.
        reference_positive_rate_: Share of positives on the reference.
        ece_raw_: Expected calibration error of the raw reference scores.
        ece_calibrated_: Cross-validated ECE after calibration (None if not checked).
    """

    def __init__(
        self,
        calibration: Calibration = "isotonic",
        calibrate_only_if_needed: bool = True,
        positive_label: object = 1,
        random_state: int = 42,
    ):
        self.calibration = calibration
        self.calibrate_only_if_needed = calibrate_only_if_needed
        self.positive_label = positive_label
        self.random_state = random_state

    # -- fitting --------------------------------------------------------------------------
    def _new_calibrator(self) -> IsotonicRegression | LogisticRegression:
        if self.calibration == "isotonic":
            return IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        if self.calibration == "sigmoid":
            return LogisticRegression(C=1e6)
        raise EstimationError(f"unknown calibration {self.calibration!r}")

    @staticmethod
    def _logit(scores: np.ndarray) -> np.ndarray:
        clipped = np.clip(scores, 1e-6, 1 - 1e-6)
        return np.log(clipped / (1 - clipped)).reshape(-1, 1)

    def _fit_one(
        self, scores: np.ndarray, y: np.ndarray
    ) -> IsotonicRegression | LogisticRegression:
        calibrator = self._new_calibrator()
        if isinstance(calibrator, LogisticRegression):
            calibrator.fit(self._logit(scores), y.astype(int))
        else:
            calibrator.fit(scores, y)
        return calibrator

    def _apply(
        self, calibrator: IsotonicRegression | LogisticRegression, scores: np.ndarray
    ) -> np.ndarray:
        if isinstance(calibrator, LogisticRegression):
            return calibrator.predict_proba(self._logit(scores))[:, 1]
        return np.clip(calibrator.predict(scores), 0.0, 1.0)

    def _needs_calibration(self, scores: np.ndarray, y: np.ndarray) -> tuple[bool, float | None]:
        """NannyML's check: does calibration lower the ECE on held-out splits?"""
        from sklearn.metrics import roc_auc_score

        if roc_auc_score(y, scores) > 0.999:
            return False, None
        splitter = StratifiedShuffleSplit(
            n_splits=10, test_size=0.1, random_state=self.random_state
        )
        raw, calibrated, truth = [], [], []
        for train, test in splitter.split(scores.reshape(-1, 1), y):
            calibrator = self._fit_one(scores[train], y[train])
            raw.append(scores[test])
            calibrated.append(self._apply(calibrator, scores[test]))
            truth.append(y[test])
        y_all = np.concatenate(truth)
        ece_before = expected_calibration_error(y_all, np.concatenate(raw))
        ece_after = expected_calibration_error(y_all, np.concatenate(calibrated))
        return ece_before > ece_after, ece_after

    def fit(self, scores: Sequence[float] | np.ndarray, y_true: Sequence | np.ndarray):
        """Learn ``P(y = 1 | score)`` on labelled reference data.

        Args:
            scores: The model's scores (``P(positive)``) on the reference rows.
            y_true: Their labels.

        Returns:
            self

        Raises:
            EstimationError: When the inputs differ in length, hold missing values, scores
                fall outside [0, 1] or the reference has a single class.
        """
        s = np.asarray(scores, dtype=float)
        if s.ndim != 1:
            raise EstimationError("scores must be one value per row (P(positive))")
        y = _as_binary(np.asarray(y_true), self.positive_label)
        if len(s) != len(y):
            raise EstimationError(f"{len(s)} scores but {len(y)} labels")
        if len(s) == 0 or np.isnan(s).any():
            raise EstimationError("reference scores are empty or contain missing values")
        if s.min() < 0 or s.max() > 1:
            raise EstimationError("scores must be probabilities in [0, 1]")
        minority = int(min(y.sum(), len(y) - y.sum()))
        if minority < 10:
            raise EstimationError(
                f"the reference holds {minority} row(s) of its rarer class; calibrating needs "
                "at least 10 of each class"
            )
        self.reference_rows_ = len(s)
        self.reference_positive_rate_ = float(y.mean())
        self.ece_raw_ = expected_calibration_error(y, s)
        self.ece_calibrated_: float | None = None
        self.calibrator_: IsotonicRegression | LogisticRegression | None = None
        self.calibrated_ = False
        if self.calibration == "none":
            return self
        needed = True
        if self.calibrate_only_if_needed:
            needed, self.ece_calibrated_ = self._needs_calibration(s, y)
        if needed:
            self.calibrator_ = self._fit_one(s, y)
            self.calibrated_ = True
        return self

    # -- estimating -----------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "calibrated_"):
            raise EstimationError("the estimator is not fitted; call fit() on reference data")

    def calibrate(self, scores: Sequence[float] | np.ndarray) -> np.ndarray:
        """Calibrated ``P(y = 1)`` for scores (the raw scores when no calibration is used)."""
        self._check_fitted()
        s = np.asarray(scores, dtype=float)
        if self.calibrator_ is None:
            return np.clip(s, 0.0, 1.0)
        return self._apply(self.calibrator_, s)

    def estimate(
        self,
        metric: str,
        scores: Sequence[float] | np.ndarray,
        y_pred: Sequence | np.ndarray | None = None,
    ) -> float | None:
        """The expected value of ``metric`` on rows without labels.

        Args:
            metric: One of :data:`ESTIMABLE_METRICS`.
            scores: Raw scores ``P(positive)`` of the rows.
            y_pred: Predicted labels (0/1 or the positive label); needed for threshold
                metrics. Defaults to ``score >= 0.5``.

        Returns:
            The estimate, or None when it is undefined (no rows, no expected positives for
            precision ...).

        Raises:
            EstimationError: When the metric cannot be estimated or the estimator is unfitted.
        """
        return self.estimate_many([metric], scores, y_pred)[metric]

    def estimate_many(
        self,
        metrics: Sequence[str],
        scores: Sequence[float] | np.ndarray,
        y_pred: Sequence | np.ndarray | None = None,
    ) -> dict[str, float | None]:
        """Estimate several metrics at once (calibrating the scores once).

        Raises:
            EstimationError: When a metric cannot be estimated or the estimator is unfitted.
        """
        self._check_fitted()
        unknown = [m for m in metrics if m not in ESTIMABLE_METRICS]
        if unknown:
            raise EstimationError(
                f"cannot estimate {unknown} without labels; estimable: {list(ESTIMABLE_METRICS)}"
            )
        s = np.asarray(scores, dtype=float)
        if len(s) == 0:
            return dict.fromkeys(metrics)
        p = self.calibrate(s)
        if y_pred is None:
            pred = s >= 0.5
        else:
            pred_arr = np.asarray(y_pred)
            pred = (
                pred_arr.astype(bool) if pred_arr.dtype == bool else pred_arr == self.positive_label
            )
        tp, fp, fn, tn = expected_confusion(p, pred)
        n = len(s)
        s_clip = np.clip(s, _EPS, 1 - _EPS)
        values: dict[str, float | None] = {}
        for metric in metrics:
            if metric == "roc_auc":
                values[metric] = estimate_roc_auc(p, s)
            elif metric == "accuracy":
                values[metric] = (tp + tn) / n
            elif metric == "precision":
                values[metric] = _ratio(tp, tp + fp)
            elif metric == "recall":
                values[metric] = _ratio(tp, tp + fn)
            elif metric == "specificity":
                values[metric] = _ratio(tn, tn + fp)
            elif metric == "f1":
                values[metric] = _ratio(tp, tp + 0.5 * (fp + fn))
            elif metric == "log_loss":
                values[metric] = float(-np.mean(p * np.log(s_clip) + (1 - p) * np.log(1 - s_clip)))
            elif metric == "brier":
                values[metric] = float(np.mean(p * (1 - s) ** 2 + (1 - p) * s**2))
        return values
