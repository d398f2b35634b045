"""Data-quality incidents: how each kind breaks one day's feature batch.

Incidents only ever touch the feature partition of their day; labels are never changed.
"""

from __future__ import annotations

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


def apply_incident(
    batch: pd.DataFrame, incident: Incident, rng: np.random.Generator
) -> pd.DataFrame:
    """The batch as it arrives with ``incident`` (a new frame; the input is not changed)."""
    frame = batch.copy()
    column, params, n = incident.column, incident.params, len(batch)
    kind = incident.kind
    if kind == "schema_break":
        if column not in frame.columns:
            return frame
        if params.get("mode") == "drop":
            return frame.drop(columns=[column])
        return frame.rename(columns={column: params["renamed_to"]})
    if kind == "empty_batch":
        return frame.iloc[0:0].reset_index(drop=True)
    if column not in frame.columns:
        return frame  # an earlier incident of the day removed it
    picked = rng.random(n) < float(params.get("share", 1.0))
    if kind == "null_burst":
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values):
            values = values.astype(float)
        frame[column] = values.mask(picked)
    elif kind == "unit_change":
        frame[column] = frame[column] * float(params["factor"])
    elif kind == "new_category":
        frame[column] = frame[column].mask(picked, params["value"])
    elif kind == "dtype_break":
        as_text = frame[column].map(lambda v: "" if pd.isna(v) else f"{v:g}")
        frame[column] = as_text.mask(picked, params["token"]).astype(str)
    elif kind == "duplicate_ids":
        count = max(1, round(n * float(params["share"]))) if n else 0
        resent = frame.iloc[np.sort(rng.choice(n, size=count, replace=False))]
        frame = pd.concat([frame, resent], ignore_index=True)
        frame = frame.sort_values(TIMESTAMP_COLUMN, kind="stable").reset_index(drop=True)
    elif kind == "stale_dates":
        frame[column] = frame[column] - pd.Timedelta(days=int(params["days_old"]))
    return frame
