"""The evidence of a rollout step, from the prediction log and the labels (pure).

The reconciler reads the step's rows of the ``predictions`` table (since the step began) and
the labels that arrived for them, and this module turns them into the
:class:`~retrainer.rollout.machine.Evidence` the state machine judges:

* in **shadow**, the challenger scored the same requests as the champion (its rows carry the
  request id with a ``:shadow`` suffix), so the comparisons are paired: ``agreement`` (same
  predicted label), ``metric_delta`` (accuracy on the labelled pairs), ``score_shift`` (PSI of
  the two score distributions) and ``latency_p99_ratio``;
* in a **canary** or an **A/B** split, each arm answered its own requests: ``metric_delta``
  is the difference of the arms' accuracies and ``comparison`` the two-proportion test
  (accuracy: the share of predicted labels equal to the true ones, for classifiers);
* ``error_rate`` is the challenger's share of requests it failed on, and
  ``error_rate_delta`` that minus the champion's.

A value without the rows to compute it is None (the analysis calls it an error, so the
machine waits for the minimum evidence of the stage before judging).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from retrainer.rollout.machine import Evidence
from retrainer.rollout.stats import compare_rates

SHADOW_SUFFIX = ":shadow"


def _p99(values: pd.Series) -> float | None:
    values = values.dropna()
    return float(np.percentile(values, 99)) if len(values) else None


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float | None:
    """Population stability index of ``current`` against ``reference`` (quantile bins)."""
    reference, current = reference[np.isfinite(reference)], current[np.isfinite(current)]
    if len(reference) < bins or len(current) < bins:
        return None
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    if len(edges) < 3:
        return 0.0
    edges[0], edges[-1] = -np.inf, np.inf
    expected = np.histogram(reference, edges)[0] / len(reference)
    actual = np.histogram(current, edges)[0] / len(current)
    expected, actual = np.clip(expected, 1e-6, None), np.clip(actual, 1e-6, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _error_rate(rows: pd.DataFrame) -> float | None:
    if rows.empty:
        return None
    return float(rows["error"].notna().mean())


def _key(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, bool | np.bool_):
        return str(int(value))
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def label_keys(values: pd.Series) -> pd.Series:
    """Labels in one comparable form: ``1``, ``1.0`` and ``True`` are the same class.

    A truth column with unlabelled rows holds floats (``1.0``), the gateway logs the model's
    ``1``: compared as they are, no answer would ever be right.
    """
    return values.map(_key)


def same_label(a: pd.Series, b: pd.Series) -> pd.Series:
    """Row by row: whether two label columns name the same class."""
    return label_keys(a).to_numpy() == label_keys(b).to_numpy()


def with_truth(rows: pd.DataFrame, truth: pd.Series) -> pd.DataFrame:
    """Log rows with ``base_id`` (the request id without the shadow suffix) and ``truth``."""
    if "error" not in rows:
        rows = rows.assign(error=None)
    base = rows["request_id"].astype(str).str.removesuffix(SHADOW_SUFFIX)
    return rows.assign(base_id=base.to_numpy(), truth=base.map(truth).to_numpy())


def build_evidence(
    log: pd.DataFrame,
    truth: pd.Series,
    challenger: str,
    *,
    alpha: float = 0.05,
) -> Evidence:
    """The evidence for ``challenger`` in a step's prediction log.

    Args:
        log: The step's ``predictions`` rows: ``request_id``, ``version``, ``variant``
            (``champion``, ``challenger`` or ``shadow``), ``label``, ``score``,
            ``latency_ms`` and ``error``.
        truth: The true label by request id (the labels that arrived).
        challenger: The challenger's version.
        alpha: Level of the A/B comparison's interval.
    """
    rows = with_truth(log, truth)
    mine = rows[rows["version"] == challenger]
    theirs = rows[rows["version"] != challenger]
    ok_mine, ok_theirs = mine[mine["error"].isna()], theirs[theirs["error"].isna()]
    labelled = int(mine["truth"].notna().sum())
    values: dict[str, float | None] = {"error_rate": _error_rate(mine)}
    champion_errors = _error_rate(theirs)
    values["error_rate_delta"] = (
        None
        if values["error_rate"] is None or champion_errors is None
        else values["error_rate"] - champion_errors
    )
    shadowed = bool((mine["variant"] == "shadow").any())
    comparison = None
    if shadowed:
        pairs = ok_mine.merge(ok_theirs, on="base_id", suffixes=("", "_champion"))
        values["agreement"] = (
            float(same_label(pairs["label"], pairs["label_champion"]).mean())
            if len(pairs)
            else None
        )
        known = pairs[pairs["truth"].notna()]
        values["metric_delta"] = (
            float(
                same_label(known["label"], known["truth"]).mean()
                - same_label(known["label_champion"], known["truth"]).mean()
            )
            if len(known)
            else None
        )
        values["score_shift"] = psi(
            pairs["score_champion"].to_numpy(dtype=float), pairs["score"].to_numpy(dtype=float)
        )
        mine_p99, theirs_p99 = _p99(pairs["latency_ms"]), _p99(pairs["latency_ms_champion"])
    else:
        arms = []
        for arm in (ok_theirs, ok_mine):
            known = arm[arm["truth"].notna()]
            arms.append((int(same_label(known["label"], known["truth"]).sum()), len(known)))
        (hits_a, n_a), (hits_b, n_b) = arms
        values["metric_delta"] = hits_b / n_b - hits_a / n_a if n_a and n_b else None
        if n_a and n_b:
            comparison = compare_rates(hits_a, n_a, hits_b, n_b, alpha)
        values["agreement"] = None
        values["score_shift"] = psi(
            ok_theirs["score"].to_numpy(dtype=float), ok_mine["score"].to_numpy(dtype=float)
        )
        mine_p99, theirs_p99 = _p99(ok_mine["latency_ms"]), _p99(ok_theirs["latency_ms"])
    values["latency_p99_ratio"] = (
        mine_p99 / theirs_p99 if mine_p99 is not None and theirs_p99 else None
    )
    return Evidence(challenger, len(mine), labelled, values, comparison)
