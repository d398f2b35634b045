"""Data-quality incidents: how each kind breaks one day's feature batch.

Incidents only ever touch the feature partition of their day; labels are never changed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from retrainer.simulate.population import ID_COLUMN, TIMESTAMP_COLUMN
from retrainer.simulate.schedule import INCIDENT_KINDS, Incident

# Default column and parameters per kind; a spec or scenario may override both.
INCIDENT_DEFAULTS: dict[str, tuple[str | None, dict[str, Any]]] = {
    "schema_break": ("debt_to_income", {"mode": "rename"}),
    "null_burst": ("income", {"share": 0.4}),
    "unit_change": ("loan_amount", {"factor": 1000.0}),
    "new_category": ("channel", {"share": 0.35}),
    "dtype_break": ("credit_score", {"share": 0.05}),
    "duplicate_ids": (ID_COLUMN, {"share": 0.05}),
    "empty_batch": (None, {}),
    "stale_dates": (TIMESTAMP_COLUMN, {"days_old": 365}),
}
NEW_CATEGORY_VALUES = {
    "region": "offshore",
    "channel": "aggregator",
    "home_ownership": "other",
    "purpose": "crypto",
}


def describe_incident(kind: str, column: str | None, params: dict[str, Any]) -> str:
    """What the incident does to the batch, in words."""
    if kind == "schema_break":
        if params.get("mode") == "drop":
            return f"column {column!r} is missing from the batch"
        return f"column {column!r} is renamed to {params.get('renamed_to')!r}"
    if kind == "null_burst":
        return f"{params['share']:.0%} of {column!r} is null"
    if kind == "unit_change":
        return f"{column!r} is multiplied by {params['factor']:g} (unit change)"
    if kind == "new_category":
        return f"{params['share']:.0%} of {column!r} is the unseen category {params['value']!r}"
    if kind == "dtype_break":
        return (
            f"{column!r} arrives as text; {params['share']:.0%} of the values are "
            f"{params['token']!r}"
        )
    if kind == "duplicate_ids":
        return f"{params['share']:.0%} of the rows are sent twice (duplicate {column!r})"
    if kind == "empty_batch":
        return "the batch has zero rows"
    if kind == "stale_dates":
        return f"{column!r} is {params['days_old']} days older than the partition date"
    raise ValueError(f"unknown incident kind {kind!r}")


def make_incident(
    day: date, kind: str, column: str | None = None, params: dict[str, Any] | None = None
) -> Incident:
    """An incident with the kind's default column/parameters filled in and a description.

    Raises:
        ValueError: When the kind or column is not valid for the kind.
    """
    if kind not in INCIDENT_KINDS:
        raise ValueError(f"incident kind {kind!r} is not one of {list(INCIDENT_KINDS)}")
    default_column, default_params = INCIDENT_DEFAULTS[kind]
    column = column or default_column
    values = {**default_params, **(params or {})}
    if kind == "schema_break":
        if values["mode"] not in ("rename", "drop"):
            raise ValueError(f"schema_break mode {values['mode']!r} is not rename or drop")
        if values["mode"] == "rename":
            values.setdefault("renamed_to", f"{column}_v2")
    if kind == "new_category":
        values.setdefault("value", NEW_CATEGORY_VALUES.get(column or "", f"unknown_{column}"))
    if kind == "dtype_break":
        values.setdefault("token", "n/a")
    if kind == "empty_batch":
        column = None
    # Validate the column before describing it (the description names it).
    probe = Incident(date=day, kind=kind, column=column, params=values)
    return Incident(
        date=probe.date,
        kind=kind,
        column=column,
        table="features",
        description=describe_incident(kind, column, values),
        params=values,
    )


def parse_incident(spec: str) -> tuple[str, date, str | None]:
    """Parse ``KIND@YYYY-MM-DD[:COLUMN]``.

    Returns:
        ``(kind, date, column)``.

    Raises:
        ValueError: Naming the bad part of the spec.
    """
    kind, at, rest = spec.partition("@")
    kind = kind.strip()
    if not at or not rest:
        raise ValueError(f"incident {spec!r}: expected KIND@YYYY-MM-DD[:COLUMN]")
    if kind not in INCIDENT_KINDS:
        raise ValueError(
            f"incident {spec!r}: unknown kind {kind!r}; known: {', '.join(INCIDENT_KINDS)}"
        )
    day_text, _, column = rest.partition(":")
    try:
        day = date.fromisoformat(day_text.strip())
    except ValueError:
        raise ValueError(
            f"incident {spec!r}: bad date {day_text!r} (expected YYYY-MM-DD)"
        ) from None
    return kind, day, column.strip() or None


def _hit(draws: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """Rows hit with probability ``share``, and at least one of a non-empty batch.

    So an incident on a small day (24 rows) still breaks it; the extra draw happens only
    when no row was hit, so larger batches are broken exactly as before.
    """
    picked = draws < share
    if len(picked) and share > 0 and not picked.any():
        picked[rng.integers(len(picked))] = True
    return picked


def _schema_break(frame: pd.DataFrame, incident: Incident) -> pd.DataFrame:
    column, params = incident.column, incident.params
    if column not in frame.columns:
        return frame
    if params.get("mode") == "drop":
        return frame.drop(columns=[column])
    return frame.rename(columns={column: params["renamed_to"]})


def _empty_batch(frame: pd.DataFrame, incident: Incident) -> pd.DataFrame:
    return frame.iloc[0:0].reset_index(drop=True)


def _null_burst(frame: pd.DataFrame, incident: Incident, draws, rng) -> pd.DataFrame:
    column = str(incident.column)
    values = frame[column]
    if pd.api.types.is_numeric_dtype(values):
        values = values.astype(float)
    frame[column] = values.mask(_hit(draws, float(incident.params["share"]), rng))
    return frame


def _unit_change(frame: pd.DataFrame, incident: Incident, draws, rng) -> pd.DataFrame:
    column = str(incident.column)
    frame[column] = frame[column] * float(incident.params["factor"])
    return frame


def _new_category(frame: pd.DataFrame, incident: Incident, draws, rng) -> pd.DataFrame:
    column, params = str(incident.column), incident.params
    frame[column] = frame[column].mask(_hit(draws, float(params["share"]), rng), params["value"])
    return frame


def _dtype_break(frame: pd.DataFrame, incident: Incident, draws, rng) -> pd.DataFrame:
    column, params = str(incident.column), incident.params
    as_text = frame[column].map(lambda v: "" if pd.isna(v) else f"{v:g}")
    picked = _hit(draws, float(params["share"]), rng)
    frame[column] = as_text.mask(picked, params["token"]).astype(str)
    return frame


def _duplicate_ids(frame: pd.DataFrame, incident: Incident, draws, rng) -> pd.DataFrame:
    n = len(frame)
    count = max(1, round(n * float(incident.params["share"]))) if n else 0
    resent = frame.iloc[np.sort(rng.choice(n, size=count, replace=False))]
    frame = pd.concat([frame, resent], ignore_index=True)
    return frame.sort_values(TIMESTAMP_COLUMN, kind="stable").reset_index(drop=True)


def _stale_dates(frame: pd.DataFrame, incident: Incident, draws, rng) -> pd.DataFrame:
    column = str(incident.column)
    frame[column] = frame[column] - pd.Timedelta(days=int(incident.params["days_old"]))
    return frame


# Kinds that change the whole batch, and kinds that change rows of their column (these get
# one uniform draw per row first, whether they use it or not, so every kind's stream stays).
_BATCH_INCIDENTS: dict[str, Callable[[pd.DataFrame, Incident], pd.DataFrame]] = {
    "schema_break": _schema_break,
    "empty_batch": _empty_batch,
}
_ROW_INCIDENTS: dict[
    str, Callable[[pd.DataFrame, Incident, np.ndarray, np.random.Generator], pd.DataFrame]
] = {
    "null_burst": _null_burst,
    "unit_change": _unit_change,
    "new_category": _new_category,
    "dtype_break": _dtype_break,
    "duplicate_ids": _duplicate_ids,
    "stale_dates": _stale_dates,
}


def apply_incident(
    batch: pd.DataFrame, incident: Incident, rng: np.random.Generator
) -> pd.DataFrame:
    """The batch as it arrives with ``incident`` (a new frame; the input is not changed).

    A share-based incident hits at least one row of a non-empty batch.
    """
    frame = batch.copy()
    if incident.kind in _BATCH_INCIDENTS:
        return _BATCH_INCIDENTS[incident.kind](frame, incident)
    if incident.column not in frame.columns:
        return frame  # an earlier incident of the day removed it
    draws = rng.random(len(frame))
    return _ROW_INCIDENTS[incident.kind](frame, incident, draws, rng)
