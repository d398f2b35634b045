"""Named model-quality metrics per task, shared by the gates and by live monitoring.

Every metric in :data:`METRICS` knows whether greater is better, which model output it needs
(``y_proba``: probabilities or scores; ``y_pred``: hard labels, or the predicted values of a
regression) and the tasks it applies to. Values come from scikit-learn's metric functions.

A metric that cannot be computed on the given rows (AUC with one class present, precision
without a positive prediction, NaN predictions, ...) is returned as a :class:`MetricResult`
whose ``value`` is ``None`` and whose ``reason`` says why; nothing raises except an unknown
metric name, which is a configuration error.

Each metric also has a vectorised *weighted* form (:meth:`MetricSpec.weighted`): the metric of
the rows repeated ``w_i`` times, for many weight vectors at once. With bootstrap counts as
weights this is the metric of each bootstrap resample, which is what makes the paired bootstrap
in :mod:`retrainer.gates.stats` fast. Tests check it against scikit-learn on resampled rows.
"""

from __future__ import annotations

import difflib
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd

Task = Literal["binary", "multiclass", "regression"]
MetricInput = Literal["y_proba", "y_pred"]

TASKS: tuple[str, ...] = ("binary", "multiclass", "regression")

_PRIMARY_METRIC: dict[str, str] = {
    "binary": "roc_auc",
    "multiclass": "log_loss",
    "regression": "rmse",
}

_DEFAULT_METRICS: dict[str, tuple[str, ...]] = {
    "binary": ("roc_auc", "accuracy", "log_loss", "brier", "average_precision", "f1"),
    "multiclass": ("accuracy", "log_loss", "f1_macro", "roc_auc_ovr"),
    "regression": ("rmse", "mae", "r2"),
}


class UnknownMetricError(ValueError):
    """A metric name that is not in the registry."""


class MetricInputError(ValueError):
    """Arrays that a metric cannot be computed on (shape, labels, missing input)."""


@dataclass(frozen=True)
class MetricResult:
    """The value of one metric, or why it could not be computed.

    Attributes:
        name: Metric name.
        value: The metric value; ``None`` when it cannot be computed.
        reason: Why ``value`` is ``None`` (``None`` when it was computed).
    """

    name: str
    value: float | None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the metric was computed."""
        return self.value is not None


@dataclass(frozen=True)
class PreparedInputs:
    """Labels and model outputs encoded for metric computation.

    Classification labels become integer codes ``0..K-1`` in the order of ``classes``
    (binary: 1 = positive class). Build it with :func:`prepare_inputs`.

    Attributes:
        task: binary, multiclass or regression.
        y: Encoded labels (int codes) or regression targets (float).
        proba: Binary: P(positive) of shape (n,); multiclass: (n, K); regression: None.
        pred: Encoded hard labels, or the regression predictions.
        classes: Class labels in code order (empty for regression).
    """

    task: str
    y: np.ndarray
    proba: np.ndarray | None
    pred: np.ndarray | None
    classes: tuple[Any, ...]

    @property
    def n(self) -> int:
        """Number of rows."""
        return len(self.y)

    def subset(self, rows: np.ndarray) -> PreparedInputs:
        """The same inputs restricted to ``rows`` (a boolean mask or integer indices)."""
        return PreparedInputs(
            task=self.task,
            y=self.y[rows],
            proba=None if self.proba is None else self.proba[rows],
            pred=None if self.pred is None else self.pred[rows],
            classes=self.classes,
        )


_Scorer = Callable[[PreparedInputs], float]
_Weighted = Callable[[PreparedInputs, np.ndarray], np.ndarray]
_Precheck = Callable[[PreparedInputs], str | None]


@dataclass(frozen=True)
class MetricSpec:
    """What a metric is and how to compute it.

    Attributes:
        name: Registry name (used in config and reports).
        description: One line for docs and reports.
        greater_is_better: Orientation used by every comparison.
        needs: The model output it is computed from: ``y_proba`` (probabilities / scores) or
            ``y_pred`` (hard labels, or regression predictions).
        tasks: Tasks the metric applies to.
        lower: Smallest possible value (for config validation), or ``None``.
        upper: Largest possible value, or ``None``.
        integer_weights: Whether :meth:`weighted` works on integer counts directly (exact and
            faster for rank metrics); otherwise weights are converted to float.
    """

    name: str
    description: str
    greater_is_better: bool
    needs: MetricInput
    tasks: frozenset[str]
    lower: float | None
    upper: float | None
    _score: _Scorer = field(repr=False)
    _weighted: _Weighted = field(repr=False)
    _precheck: _Precheck = field(repr=False)
    integer_weights: bool = False

    def applies_to(self, task: str) -> bool:
        """Whether the metric is defined for ``task``."""
        return task in self.tasks

    def orient(self, difference: float) -> float:
        """A difference ``a - b`` re-signed so that positive means ``a`` is better."""
        return difference if self.greater_is_better else -difference

    def compute(self, inputs: PreparedInputs) -> MetricResult:
        """The metric on prepared inputs; ``None`` with a reason when undefined."""
        missing = _missing_input(self, inputs)
        if missing:
            return MetricResult(self.name, None, missing)
        reason = self._precheck(inputs)
        if reason:
            return MetricResult(self.name, None, reason)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value = float(self._score(inputs))
        except (ValueError, ZeroDivisionError, FloatingPointError) as exc:
            return MetricResult(self.name, None, f"{self.name} cannot be computed: {exc}")
        if not math.isfinite(value):
            return MetricResult(self.name, None, f"{self.name} is undefined on these rows")
        return MetricResult(self.name, value)

    def weighted(self, inputs: PreparedInputs, weights: np.ndarray) -> np.ndarray:
        """The metric of the rows repeated ``weights[b, i]`` times, for every row ``b``.

        Args:
            inputs: Prepared inputs of ``n`` rows.
            weights: Non-negative weights of shape (B, n), e.g. bootstrap counts (integer
                counts are kept as integers where that is exact and faster).

        Returns:
            An array of B values; NaN where the metric is undefined for that weighting.

        Raises:
            MetricInputError: When the needed model output is missing.
        """
        missing = _missing_input(self, inputs)
        if missing:
            raise MetricInputError(missing)
        weights = np.atleast_2d(np.asarray(weights))
        if weights.dtype.kind not in "iu" or not self.integer_weights:
            weights = _float(weights)
        if weights.shape[1] != inputs.n:
            raise MetricInputError(f"weights have {weights.shape[1]} columns for {inputs.n} rows")
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(self._weighted(inputs, weights), dtype=float)


# --------------------------------------------------------------------------------------------
# Preparation
# --------------------------------------------------------------------------------------------


def _as_1d(values: Any, what: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise MetricInputError(f"{what} must be one-dimensional, got shape {array.shape}")
    return array


def _is_missing(array: np.ndarray) -> np.ndarray:
    if array.dtype.kind in "fc":
        return np.isnan(array)
    if array.dtype.kind == "O":
        return np.array([v is None or (isinstance(v, float) and math.isnan(v)) for v in array])
    return np.zeros(array.shape, dtype=bool)


def _sorted_labels(values: Iterable[Any]) -> list[Any]:
    unique = list(dict.fromkeys(values))
    try:
        return sorted(unique)
    except TypeError:
        return sorted(unique, key=repr)


def _encode(values: np.ndarray, classes: Sequence[Any], what: str) -> np.ndarray:
    """The position of each value in ``classes`` (a hash lookup; equal values match).

    Vectorised through :meth:`pandas.Index.get_indexer`; values it cannot place (a label not
    among the classes, or one equal to a class only across types, such as ``True`` and ``1``)
    take the exact per-value path, which also names the first unknown label.
    """
    try:
        codes = pd.Index(list(classes)).get_indexer(values)
    except (TypeError, ValueError):
        codes = None
    if codes is not None and (codes >= 0).all():
        return codes.astype(np.int64, copy=False)
    index = {c: i for i, c in enumerate(classes)}
    try:
        return np.fromiter((index[v] for v in values.tolist()), dtype=np.int64, count=len(values))
    except KeyError as exc:
        raise MetricInputError(
            f"{what} contains label {exc.args[0]!r}, not among the classes {list(classes)}"
        ) from None


def infer_task(y_true: Any, y_proba: Any = None, y_pred: Any = None) -> str:
    """Guess the task from the arrays: 2-D probabilities → multiclass, else by label count.

    Args:
        y_true: True labels or targets.
        y_proba: Probabilities (1-D binary, 2-D multiclass), if any.
        y_pred: Hard predictions, if any.

    Returns:
        ``binary``, ``multiclass`` or ``regression``.
    """
    if y_proba is not None:
        proba = np.asarray(y_proba)
        if proba.ndim == 2 and proba.shape[1] > 2:
            return "multiclass"
        if proba.ndim in (1, 2):
            return "binary"
    y = np.asarray(y_true)
    if y.dtype.kind == "f" and not np.all(np.isnan(y) | (y == np.round(y))):
        return "regression"
    labels = set(y.tolist())
    if y_pred is not None:
        labels |= set(np.asarray(y_pred).tolist())
    return "binary" if len(labels) <= 2 else "multiclass"


def _binary_classes(
    y: np.ndarray, pred: np.ndarray | None, classes: Sequence[Any] | None, pos_label: Any
) -> tuple[Any, ...]:
    if classes is not None:
        classes = list(classes)
        if len(classes) != 2:
            raise MetricInputError(f"a binary task needs 2 classes, got {classes}")
        if pos_label is not None and pos_label != classes[1]:
            if pos_label != classes[0]:
                raise MetricInputError(f"pos_label {pos_label!r} is not in classes {classes}")
            classes = [classes[1], classes[0]]
        return tuple(classes)
    seen = set(y.tolist())
    if pred is not None:
        seen |= set(pred.tolist())
    if pos_label is not None:
        others = [v for v in _sorted_labels(seen) if v != pos_label]
        if len(others) > 1:
            raise MetricInputError(f"binary task but labels {sorted(map(repr, seen))} found")
        return (others[0] if others else _other_of(pos_label), pos_label)
    if seen <= {0, 1}:  # also covers booleans
        return (0, 1)
    labels = _sorted_labels(seen)
    if len(labels) == 2:
        return tuple(labels)
    if len(labels) > 2:
        raise MetricInputError(f"binary task but {len(labels)} labels found: {labels[:10]}")
    raise MetricInputError(
        f"only the label {labels[0]!r} is present: pass classes or pos_label to tell which "
        "label is positive"
    )


def _other_of(pos_label: Any) -> Any:
    if pos_label in (1, True):
        return 0
    return f"not {pos_label}"


def prepare_inputs(
    task: str,
    y_true: Any,
    y_proba: Any = None,
    y_pred: Any = None,
    *,
    classes: Sequence[Any] | None = None,
    pos_label: Any = None,
) -> PreparedInputs:
    """Validate and encode labels and model outputs once, for many metrics.

    Args:
        task: binary, multiclass or regression.
        y_true: True labels (classification) or targets (regression), 1-D.
        y_proba: Binary: P(positive class), shape (n,) or (n, 2); multiclass: (n, K) with
            columns in the order of ``classes``. For regression, predictions are also accepted
            here when ``y_pred`` is not given.
        y_pred: Hard labels (classification) or predicted values (regression). For
            classification, derived from ``y_proba`` when missing (binary: P ≥ 0.5;
            multiclass: the most probable class).
        classes: Class labels (binary: ``[negative, positive]``; multiclass: the column order
            of ``y_proba``). Inferred from the labels when missing (binary: {0, 1} → 1 is
            positive, else the greater label; multiclass: sorted labels).
        pos_label: Positive label of a binary task (overrides the inference).

    Returns:
        Encoded inputs.

    Raises:
        MetricInputError: On a bad task, shape, length, label or missing value in ``y_true``.
    """
    if task not in TASKS:
        raise MetricInputError(f"unknown task {task!r}; expected one of {list(TASKS)}")
    y = _as_1d(y_true, "y_true")
    n = len(y)
    if _is_missing(y).any():
        raise MetricInputError(f"y_true contains {int(_is_missing(y).sum())} missing value(s)")
    proba = None if y_proba is None else np.asarray(y_proba)
    pred = None if y_pred is None else _as_1d(y_pred, "y_pred")
    if pred is not None and len(pred) != n:
        raise MetricInputError(f"y_pred has {len(pred)} rows but y_true has {n}")
    if proba is not None and (proba.ndim not in (1, 2) or proba.shape[0] != n):
        raise MetricInputError(f"y_proba has shape {proba.shape} for {n} rows of y_true")

    if task == "regression":
        values = pred if pred is not None else proba
        if values is not None:
            values = _as_1d(values, "y_pred").astype(float)
        try:
            target = y.astype(float)
        except (TypeError, ValueError):
            raise MetricInputError("regression y_true must be numeric") from None
        return PreparedInputs("regression", target, None, values, ())

    if proba is not None:
        if proba.dtype.kind not in "biuf":
            raise MetricInputError(f"y_proba must be numeric, got dtype {proba.dtype}")
        proba = proba.astype(float)

    if task == "binary":
        if proba is not None and proba.ndim == 2:
            if proba.shape[1] != 2:
                raise MetricInputError(
                    f"binary y_proba must be P(positive) or have 2 columns, got {proba.shape}"
                )
            proba = proba[:, 1]
        cls = _binary_classes(y, pred, classes, pos_label)
        codes = _encode(y, cls, "y_true")
        if pred is not None:
            pred_codes = _encode(pred, cls, "y_pred")
        elif proba is not None:
            pred_codes = (proba >= 0.5).astype(np.int64)
        else:
            pred_codes = None
        return PreparedInputs("binary", codes, proba, pred_codes, cls)

    # multiclass
    if classes is not None:
        cls = tuple(classes)
    else:
        seen = set(y.tolist()) | (set(pred.tolist()) if pred is not None else set())
        labels = _sorted_labels(seen)
        if proba is not None and proba.ndim == 2 and len(labels) != proba.shape[1]:
            k = proba.shape[1]
            if all(isinstance(v, int | np.integer) and 0 <= v < k for v in labels):
                labels = list(range(k))
            else:
                raise MetricInputError(
                    f"y_proba has {k} columns but the labels are {labels[:10]}: pass classes "
                    "in the column order of y_proba"
                )
        cls = tuple(labels)
    if proba is not None and (proba.ndim != 2 or proba.shape[1] != len(cls)):
        raise MetricInputError(
            f"multiclass y_proba must have one column per class ({len(cls)}), got {proba.shape}"
        )
    codes = _encode(y, cls, "y_true")
    if pred is not None:
        pred_codes = _encode(pred, cls, "y_pred")
    elif proba is not None:
        pred_codes = np.argmax(proba, axis=1).astype(np.int64)
    else:
        pred_codes = None
    return PreparedInputs("multiclass", codes, proba, pred_codes, cls)


def _missing_input(spec: MetricSpec, inputs: PreparedInputs) -> str | None:
    if not spec.applies_to(inputs.task):
        return f"{spec.name} does not apply to a {inputs.task} task"
    if spec.needs == "y_proba" and inputs.proba is None:
        return f"{spec.name} needs probabilities (y_proba)"
    if spec.needs == "y_pred" and inputs.pred is None:
        what = "predictions" if inputs.task == "regression" else "labels or probabilities"
        return f"{spec.name} needs {what}"
    return None


# --------------------------------------------------------------------------------------------
# Prechecks (undefined cases get a precise reason instead of a scikit-learn warning)
# --------------------------------------------------------------------------------------------


def _values_of(spec_needs: MetricInput, inputs: PreparedInputs) -> np.ndarray | None:
    return inputs.proba if spec_needs == "y_proba" else inputs.pred


def _finite_check(values: np.ndarray | None, what: str) -> str | None:
    if values is None or values.dtype.kind not in "fc":
        return None
    bad = int((~np.isfinite(values)).sum())
    if bad:
        return f"{what} contains {bad} NaN/inf value(s)"
    return None


def _basic_check(needs: MetricInput, probabilities: bool = True) -> _Precheck:
    def check(inputs: PreparedInputs) -> str | None:
        if inputs.n == 0:
            return "no rows"
        values = _values_of(needs, inputs)
        what = "y_proba" if needs == "y_proba" else "y_pred"
        reason = _finite_check(values, what)
        if reason:
            return reason
        if (
            probabilities
            and needs == "y_proba"
            and values is not None
            and (values.min() < 0 or values.max() > 1)
        ):
            return "y_proba has values outside [0, 1]"
        return None

    return check


_scores_check = _basic_check("y_proba", probabilities=False)  # rankings: any finite score


def _both_classes(inputs: PreparedInputs) -> str | None:
    reason = _scores_check(inputs)
    if reason:
        return reason
    if np.unique(inputs.y).size < 2:
        return f"only one class ({inputs.classes[int(inputs.y[0])]!r}) present in y_true"
    return None


def _has_positives(inputs: PreparedInputs) -> str | None:
    reason = _scores_check(inputs)
    if reason:
        return reason
    if not (inputs.y == 1).any():
        return "no positive label in y_true"
    return None


def _has_positive_predictions(inputs: PreparedInputs) -> str | None:
    reason = _basic_check("y_pred")(inputs)
    if reason:
        return reason
    if not (inputs.pred == 1).any():
        return "no positive prediction: precision is undefined"
    return None


def _has_positive_labels(inputs: PreparedInputs) -> str | None:
    reason = _basic_check("y_pred")(inputs)
    if reason:
        return reason
    if not (inputs.y == 1).any():
        return "no positive label in y_true: recall is undefined"
    return None


def _f1_check(inputs: PreparedInputs) -> str | None:
    reason = _basic_check("y_pred")(inputs)
    if reason:
        return reason
    if not (inputs.y == 1).any() and not (inputs.pred == 1).any():
        return "no positive label and no positive prediction: f1 is undefined"
    return None


def _all_classes(inputs: PreparedInputs) -> str | None:
    reason = _basic_check("y_proba")(inputs)
    if reason:
        return reason
    absent = [c for i, c in enumerate(inputs.classes) if not (inputs.y == i).any()]
    if absent:
        return f"class(es) {absent} absent from y_true: one-vs-rest AUC is undefined"
    return None


def _regression_check(inputs: PreparedInputs) -> str | None:
    reason = _basic_check("y_pred")(inputs)
    if reason:
        return reason
    return _finite_check(inputs.y, "y_true")


def _r2_check(inputs: PreparedInputs) -> str | None:
    reason = _regression_check(inputs)
    if reason:
        return reason
    if inputs.n < 2 or np.ptp(inputs.y) == 0:
        return "y_true is constant: r2 is undefined"
    return None


def _mape_check(inputs: PreparedInputs) -> str | None:
    reason = _regression_check(inputs)
    if reason:
        return reason
    zeros = int((inputs.y == 0).sum())
    if zeros:
        return f"y_true contains {zeros} zero(s): mape is undefined"
    return None


# --------------------------------------------------------------------------------------------
# Weighted (vectorised) forms. W has shape (B, n); every function returns B values.
# --------------------------------------------------------------------------------------------


def _wmean(weights: np.ndarray, per_row: np.ndarray) -> np.ndarray:
    return (weights @ per_row) / weights.sum(axis=1)


def _float(weights: np.ndarray) -> np.ndarray:
    return weights if weights.dtype.kind == "f" else weights.astype(float)


def _binary_log_losses(inputs: PreparedInputs) -> np.ndarray:
    p = inputs.proba
    eps = np.finfo(p.dtype).eps
    p_pos = np.clip(p, eps, 1 - eps)
    p_neg = np.clip(1 - p, eps, 1 - eps)
    return -np.where(inputs.y == 1, np.log(p_pos), np.log(p_neg))


def _multiclass_log_losses(inputs: PreparedInputs) -> np.ndarray:
    p = inputs.proba
    eps = np.finfo(p.dtype).eps
    p_true = np.clip(p[np.arange(inputs.n), inputs.y], eps, 1 - eps)
    return -np.log(p_true)


def _is_sorted(values: np.ndarray) -> bool:
    return bool(np.all(values[1:] >= values[:-1]))


def _take_columns(matrix: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``matrix[:, columns]``, as a view when the columns are a contiguous ascending range."""
    contiguous = len(columns) and columns[-1] - columns[0] == len(columns) - 1
    if contiguous and np.all(np.diff(columns) == 1):
        return matrix[:, columns[0] : columns[-1] + 1]
    return np.take(matrix, columns, axis=1)


def weighted_auc(positive: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC (Mann–Whitney, ties count 1/2) of many weightings of the same rows.

    The negatives are put in score order once; each weighting then costs one cumulative sum
    of the negative weights, one gather at the positives' positions and one dot product.
    Integer weights (bootstrap counts) stay integer, which keeps the result exact.

    Args:
        positive: Boolean (n,), True for positive rows.
        scores: Scores (n,), higher = more positive.
        weights: Non-negative weights (B, n).

    Returns:
        B AUC values (NaN when a weighting has no positive or no negative weight).
    """
    positive = np.asarray(positive, dtype=bool)
    pos_columns = np.flatnonzero(positive)
    neg_columns = np.flatnonzero(~positive)
    neg_order = np.argsort(scores[neg_columns], kind="stable")
    neg_sorted = scores[neg_columns][neg_order]
    w_neg = _take_columns(weights, neg_columns[neg_order])
    cum_neg = np.zeros((weights.shape[0], len(neg_columns) + 1), dtype=w_neg.dtype)
    np.cumsum(w_neg, axis=1, out=cum_neg[:, 1:])
    pos_scores = scores[pos_columns]
    below = np.searchsorted(neg_sorted, pos_scores, side="left")
    not_above = np.searchsorted(neg_sorted, pos_scores, side="right")
    if np.array_equal(below, not_above):  # no positive ties with a negative
        twice_credit = 2 * np.take(cum_neg, below, axis=1)
    else:
        twice_credit = np.take(cum_neg, below, axis=1) + np.take(cum_neg, not_above, axis=1)
    w_pos = _take_columns(weights, pos_columns)
    twice_numerator = np.einsum("bi,bi->b", w_pos, twice_credit)
    total_pos = w_pos.sum(axis=1)
    total_neg = cum_neg[:, -1]
    return twice_numerator / (2.0 * total_pos * total_neg)


def _w_roc_auc(inputs: PreparedInputs, w: np.ndarray) -> np.ndarray:
    return weighted_auc(inputs.y == 1, inputs.proba, w)


def _w_average_precision(inputs: PreparedInputs, w: np.ndarray) -> np.ndarray:
    if _is_sorted(inputs.proba):  # descending order is then a reversed view (ties are grouped)
        s, is_pos, ws = inputs.proba[::-1], (inputs.y[::-1] == 1), w[:, ::-1]
    else:
        order = np.argsort(-inputs.proba, kind="stable")
        s, is_pos, ws = inputs.proba[order], inputs.y[order] == 1, np.take(w, order, axis=1)
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    if len(starts) == len(s):  # no tied scores: every row is its own threshold
        group_pos, group_all = _float(ws * is_pos), _float(ws)
    else:
        group_pos = np.add.reduceat(_float(ws * is_pos), starts, axis=1)
        group_all = np.add.reduceat(_float(ws), starts, axis=1)
    cum_pos = np.cumsum(group_pos, axis=1)
    cum_all = np.cumsum(group_all, axis=1)
    precision = np.divide(cum_pos, cum_all, out=np.zeros_like(cum_pos), where=cum_all > 0)
    return (group_pos * precision).sum(axis=1) / group_pos.sum(axis=1)


def _w_accuracy(inputs: PreparedInputs, w: np.ndarray) -> np.ndarray:
    return _wmean(w, (inputs.pred == inputs.y).astype(float))


def _w_log_loss(inputs: PreparedInputs, w: np.ndarray) -> np.ndarray:
    if inputs.task == "binary":
        return _wmean(w, _binary_log_losses(inputs))
    return _wmean(w, _multiclass_log_losses(inputs))


def _w_brier(inputs: PreparedInputs, w: np.ndarray) -> np.ndarray:
    return _wmean(w, (inputs.proba - (inputs.y == 1)) ** 2)


def _binary_counts(inputs: PreparedInputs, w: np.ndarray) -> tuple[np.ndarray, ...]:
    y1 = (inputs.y == 1).astype(float)
    p1 = (inputs.pred == 1).astype(float)
    return w @ (y1 * p1), w @ p1, w @ y1


def _w_precision(inputs: PreparedInputs, w: np.ndarray) -> np.ndarray:
    tp, predicted, _ = _binary_counts(inputs, w)
    return tp / predicted


def _w_recall(inputs: PreparedInputs, w: np.ndarray) -> np.ndarray:
    tp, _, actual = _binary_counts(inputs, w)
    return tp / actual


def _w_f1(inputs: PreparedInputs, w: np.ndarray) -> np.ndarray:
    tp, predicted, actual = _binary_counts(inputs, w)
    return 2 * tp / (predicted + actual)


def _w_f1_macro(inputs: PreparedInputs, w: np.ndarray) -> np.ndarray:
    k = len(inputs.classes)
    y_hot = np.eye(k)[inputs.y]
    p_hot = np.eye(k)[inputs.pred]
    tp = w @ (y_hot * p_hot)
    support = w @ y_hot
    predicted = w @ p_hot
    present = (support + predicted) > 0
    f1 = np.where(present, 2 * tp / np.where(present, support + predicted, 1), 0.0)
    return f1.sum(axis=1) / present.sum(axis=1)


def _w_roc_auc_ovr(inputs: PreparedInputs, w: np.ndarray) -> np.ndarray:
    k = len(inputs.classes)
    per_class = [weighted_auc(inputs.y == i, inputs.proba[:, i], w) for i in range(k)]
    return np.mean(per_class, axis=0)


def _w_rmse(inputs: PreparedInputs, w: np.ndarray) -> np.ndarray:
    return np.sqrt(_wmean(w, (inputs.pred - inputs.y) ** 2))


def _w_mae(inputs: PreparedInputs, w: np.ndarray) -> np.ndarray:
    return _wmean(w, np.abs(inputs.pred - inputs.y))


def _w_mape(inputs: PreparedInputs, w: np.ndarray) -> np.ndarray:
    return _wmean(w, np.abs(inputs.pred - inputs.y) / np.abs(inputs.y))


def _w_r2(inputs: PreparedInputs, w: np.ndarray) -> np.ndarray:
    y = inputs.y - inputs.y.mean()  # r2 is shift invariant; centring avoids cancellation
    total = w.sum(axis=1)
    sse = w @ (inputs.pred - inputs.y) ** 2
    sst = w @ (y**2) - (w @ y) ** 2 / total
    sst = np.where(sst > 1e-12 * (w @ (y**2)), sst, np.nan)
    return 1 - sse / sst


# --------------------------------------------------------------------------------------------
# scikit-learn scorers
# --------------------------------------------------------------------------------------------


def _skm() -> Any:
    from sklearn import metrics  # imported on first use: loading a config stays light

    return metrics


def _s_roc_auc(i: PreparedInputs) -> float:
    return _skm().roc_auc_score(i.y, i.proba)


def _s_average_precision(i: PreparedInputs) -> float:
    return _skm().average_precision_score(i.y, i.proba)


def _s_accuracy(i: PreparedInputs) -> float:
    return _skm().accuracy_score(i.y, i.pred)


def _s_log_loss(i: PreparedInputs) -> float:
    return _skm().log_loss(i.y, i.proba, labels=list(range(max(len(i.classes), 2))))


def _s_brier(i: PreparedInputs) -> float:
    return _skm().brier_score_loss(i.y, i.proba, labels=[0, 1])


def _s_f1(i: PreparedInputs) -> float:
    return _skm().f1_score(i.y, i.pred, labels=[0, 1], pos_label=1, zero_division=np.nan)


def _s_precision(i: PreparedInputs) -> float:
    return _skm().precision_score(i.y, i.pred, labels=[0, 1], pos_label=1, zero_division=np.nan)


def _s_recall(i: PreparedInputs) -> float:
    return _skm().recall_score(i.y, i.pred, labels=[0, 1], pos_label=1, zero_division=np.nan)


def _s_f1_macro(i: PreparedInputs) -> float:
    return _skm().f1_score(i.y, i.pred, average="macro", zero_division=np.nan)


def _s_roc_auc_ovr(i: PreparedInputs) -> float:
    return _skm().roc_auc_score(
        i.y, i.proba, multi_class="ovr", average="macro", labels=list(range(len(i.classes)))
    )


def _s_rmse(i: PreparedInputs) -> float:
    return _skm().root_mean_squared_error(i.y, i.pred)


def _s_mae(i: PreparedInputs) -> float:
    return _skm().mean_absolute_error(i.y, i.pred)


def _s_r2(i: PreparedInputs) -> float:
    return _skm().r2_score(i.y, i.pred, force_finite=False)


def _s_mape(i: PreparedInputs) -> float:
    return _skm().mean_absolute_percentage_error(i.y, i.pred)


_CLS = frozenset({"binary", "multiclass"})
_BIN = frozenset({"binary"})
_MULTI = frozenset({"multiclass"})
_REG = frozenset({"regression"})
_INF = None

_SPECS = [
    MetricSpec("roc_auc", "Area under the ROC curve (binary).", True, "y_proba", _BIN, 0.0, 1.0,
               _s_roc_auc, _w_roc_auc, _both_classes, integer_weights=True),
    MetricSpec("average_precision", "Average precision (area under the PR curve).", True,
               "y_proba", _BIN, 0.0, 1.0, _s_average_precision, _w_average_precision,
               _has_positives),
    MetricSpec("accuracy", "Share of correct hard predictions.", True, "y_pred", _CLS, 0.0, 1.0,
               _s_accuracy, _w_accuracy, _basic_check("y_pred")),
    MetricSpec("log_loss", "Cross-entropy of the predicted probabilities.", False, "y_proba",
               _CLS, 0.0, _INF, _s_log_loss, _w_log_loss, _basic_check("y_proba")),
    MetricSpec("brier", "Mean squared error of P(positive) (binary).", False, "y_proba", _BIN,
               0.0, 1.0, _s_brier, _w_brier, _basic_check("y_proba")),
    MetricSpec("f1", "F1 score of the positive class (binary).", True, "y_pred", _BIN, 0.0, 1.0,
               _s_f1, _w_f1, _f1_check),
    MetricSpec("precision", "Precision of the positive class (binary).", True, "y_pred", _BIN,
               0.0, 1.0, _s_precision, _w_precision, _has_positive_predictions),
    MetricSpec("recall", "Recall of the positive class (binary).", True, "y_pred", _BIN, 0.0,
               1.0, _s_recall, _w_recall, _has_positive_labels),
    MetricSpec("f1_macro", "Unweighted mean of per-class F1 (multiclass).", True, "y_pred",
               _MULTI, 0.0, 1.0, _s_f1_macro, _w_f1_macro, _basic_check("y_pred")),
    MetricSpec("roc_auc_ovr", "Macro one-vs-rest ROC AUC (multiclass).", True, "y_proba",
               _MULTI, 0.0, 1.0, _s_roc_auc_ovr, _w_roc_auc_ovr, _all_classes,
               integer_weights=True),
    MetricSpec("rmse", "Root mean squared error.", False, "y_pred", _REG, 0.0, _INF, _s_rmse,
               _w_rmse, _regression_check),
    MetricSpec("mae", "Mean absolute error.", False, "y_pred", _REG, 0.0, _INF, _s_mae, _w_mae,
               _regression_check),
    MetricSpec("r2", "Coefficient of determination.", True, "y_pred", _REG, _INF, 1.0, _s_r2,
               _w_r2, _r2_check),
    MetricSpec("mape", "Mean absolute percentage error (as a fraction).", False, "y_pred", _REG,
               0.0, _INF, _s_mape, _w_mape, _mape_check),
]  # fmt: skip

METRICS: Mapping[str, MetricSpec] = MappingProxyType({spec.name: spec for spec in _SPECS})
"""Every known metric, by name (read-only)."""


# --------------------------------------------------------------------------------------------
# Public lookups and computation
# --------------------------------------------------------------------------------------------


def get_metric(name: str) -> MetricSpec:
    """The registry entry of a metric.

    Args:
        name: Metric name.

    Returns:
        Its specification.

    Raises:
        UnknownMetricError: Naming the valid metrics (and the closest match).
    """
    try:
        return METRICS[name]
    except (KeyError, TypeError):
        close = difflib.get_close_matches(str(name), list(METRICS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownMetricError(
            f"unknown metric {name!r}{hint}; valid metrics: {', '.join(sorted(METRICS))}"
        ) from None


def metric_names(task: str | None = None) -> list[str]:
    """Names of the metrics that apply to ``task`` (all metrics when ``task`` is None)."""
    return [name for name, spec in METRICS.items() if task is None or spec.applies_to(task)]


def primary_metric(task: str) -> str:
    """The default metric a task is judged on: roc_auc, log_loss or rmse.

    Raises:
        ValueError: For an unknown task.
    """
    try:
        return _PRIMARY_METRIC[task]
    except KeyError:
        raise ValueError(f"unknown task {task!r}; expected one of {list(TASKS)}") from None


def default_metrics(task: str) -> list[str]:
    """The metrics reported by default for a task."""
    primary_metric(task)
    return list(_DEFAULT_METRICS[task])


def _resolve_task(
    spec: MetricSpec, task: str | None, y_true: Any, y_proba: Any, y_pred: Any
) -> str:
    if task is not None:
        return task
    if len(spec.tasks) == 1:
        return next(iter(spec.tasks))
    return infer_task(y_true, y_proba, y_pred)


def compute_metric(
    name: str,
    y_true: Any,
    y_proba: Any = None,
    y_pred: Any = None,
    *,
    task: str | None = None,
    classes: Sequence[Any] | None = None,
    pos_label: Any = None,
) -> MetricResult:
    """Compute one metric; never raises for data it cannot be computed on.

    Args:
        name: A name from :data:`METRICS`.
        y_true: True labels or targets.
        y_proba: Probabilities (binary: P(positive); multiclass: one column per class).
        y_pred: Hard labels, or regression predictions.
        task: binary, multiclass or regression; inferred from the metric and arrays if None.
        classes: Class labels (see :func:`prepare_inputs`).
        pos_label: Positive label of a binary task.

    Returns:
        The value, or ``None`` with the reason it cannot be computed.

    Raises:
        UnknownMetricError: When ``name`` is not a registered metric.
    """
    spec = get_metric(name)
    try:
        resolved = _resolve_task(spec, task, y_true, y_proba, y_pred)
        inputs = prepare_inputs(
            resolved, y_true, y_proba, y_pred, classes=classes, pos_label=pos_label
        )
    except (MetricInputError, ValueError, TypeError) as exc:
        return MetricResult(name, None, str(exc))
    return spec.compute(inputs)


def compute_metric_results(
    names: Iterable[str],
    y_true: Any,
    y_proba: Any = None,
    y_pred: Any = None,
    *,
    task: str | None = None,
    classes: Sequence[Any] | None = None,
    pos_label: Any = None,
) -> dict[str, MetricResult]:
    """Compute several metrics, each with its reason when it cannot be computed.

    Args:
        names: Metric names.
        y_true: True labels or targets.
        y_proba: Probabilities, if any.
        y_pred: Hard labels or regression predictions, if any.
        task: The task; inferred per metric when None.
        classes: Class labels (see :func:`prepare_inputs`).
        pos_label: Positive label of a binary task.

    Returns:
        One :class:`MetricResult` per name, in order.

    Raises:
        UnknownMetricError: When a name is not a registered metric (checked before computing).
    """
    names = list(names)
    for name in names:
        get_metric(name)
    return {
        name: compute_metric(
            name, y_true, y_proba, y_pred, task=task, classes=classes, pos_label=pos_label
        )
        for name in names
    }


def compute_metrics(
    names: Iterable[str],
    y_true: Any,
    y_proba: Any = None,
    y_pred: Any = None,
    *,
    task: str | None = None,
    classes: Sequence[Any] | None = None,
    pos_label: Any = None,
) -> dict[str, float | None]:
    """Compute several metrics as plain values (``None`` where not computable).

    Use :func:`compute_metric_results` to also get the reasons.

    Args:
        names: Metric names.
        y_true: True labels or targets.
        y_proba: Probabilities, if any.
        y_pred: Hard labels or regression predictions, if any.
        task: The task; inferred per metric when None.
        classes: Class labels (see :func:`prepare_inputs`).
        pos_label: Positive label of a binary task.

    Returns:
        ``{name: value or None}``, in order.

    Raises:
        UnknownMetricError: When a name is not a registered metric.
    """
    results = compute_metric_results(
        names, y_true, y_proba, y_pred, task=task, classes=classes, pos_label=pos_label
    )
    return {name: result.value for name, result in results.items()}
