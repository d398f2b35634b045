"""Joining logged predictions with the labels known on a date (label delay).

Labels arrive days or weeks after the prediction. A monitoring run "as of" a date may only
use the labels that had arrived by then, so that a backtest sees exactly what was known:

- a label counts when its partition (arrival) date is on or before ``as_of`` and, when the
  labels carry an arrival timestamp, that timestamp's UTC date is on or before ``as_of``;
- when a row has several labels (corrections), the latest arrival wins;
- predictions without a known label stay in the frame, marked unlabelled, so the report can
  say which part of the window is labelled and estimate performance on the rest.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from retrainer.data.tables import as_date

LABELLED_COLUMN = "_labelled"
"""Boolean column added by :func:`join_labels`: whether the row's label is known."""

ARRIVAL_COLUMN = "_arrival"
"""Partition (arrival) date column of a labels frame read with ``partition_column``."""


def labels_known_as_of(
    labels: pd.DataFrame,
    id_column: str,
    target_column: str,
    as_of: date | str,
    label_time_column: str | None = None,
    arrival_column: str = ARRIVAL_COLUMN,
) -> pd.DataFrame:
    """The labels known on ``as_of``, one per id (the latest arrival wins).

    Args:
        labels: Label rows: id, target, and the arrival partition date and/or arrival time.
        id_column: Row id column.
        target_column: Label column.
        as_of: The date whose knowledge is used.
        label_time_column: Arrival timestamp column, if the labels have one.
        arrival_column: Arrival partition date column, if present.

    Returns:
        A frame with ``id_column`` and ``target_column``, unique ids.

    Raises:
        KeyError: When the id or target column is missing.
    """
    for column in (id_column, target_column):
        if column not in labels.columns:
            raise KeyError(f"labels lack column {column!r} (have {list(labels.columns)})")
    if labels.empty:
        return pd.DataFrame(
            {id_column: pd.Series(dtype=object), target_column: pd.Series(dtype=float)}
        )
    day = as_date(as_of)
    keep = pd.Series(True, index=labels.index)
    if arrival_column in labels.columns:
        keep &= pd.to_datetime(labels[arrival_column]).dt.date <= day
    has_time = label_time_column is not None and label_time_column in labels.columns
    if has_time:
        keep &= pd.to_datetime(labels[label_time_column], utc=True).dt.date <= day
    known = labels.loc[keep]
    order = [c for c in (arrival_column, label_time_column) if c and c in known.columns]
    if order:
        known = known.sort_values(order, kind="stable")
    known = known.drop_duplicates(id_column, keep="last")
    return known[[id_column, target_column]].reset_index(drop=True)


def join_labels(
    predictions: pd.DataFrame,
    labels: pd.DataFrame,
    id_column: str,
    target_column: str,
) -> pd.DataFrame:
    """Left-join predictions with known labels; unlabelled rows keep a missing target.

    Args:
        predictions: Logged predictions (one row per id).
        labels: Known labels, one per id (see :func:`labels_known_as_of`).
        id_column: Row id column.
        target_column: Label column.

    Returns:
        The predictions with ``target_column`` (missing when not yet labelled) and the
        boolean column :data:`LABELLED_COLUMN`.

    Raises:
        KeyError: When the id column is missing from the predictions.
        ValueError: When the labels hold an id twice.
    """
    if id_column not in predictions.columns:
        raise KeyError(f"predictions lack the id column {id_column!r}")
    base = predictions.drop(columns=[target_column, LABELLED_COLUMN], errors="ignore")
    if labels[id_column].duplicated().any():
        raise ValueError(f"labels hold duplicate ids in {id_column!r}; use labels_known_as_of")
    marked = labels[[id_column, target_column]].assign(**{LABELLED_COLUMN: True})
    if not base.empty and not marked.empty and base[id_column].dtype != marked[id_column].dtype:
        marked[id_column] = marked[id_column].astype(base[id_column].dtype)
    joined = base.merge(marked, on=id_column, how="left", validate="many_to_one")
    joined[LABELLED_COLUMN] = joined[LABELLED_COLUMN].fillna(False).astype(bool)
    joined.loc[joined[target_column].isna(), LABELLED_COLUMN] = False
    return joined


def labelled_share_by_day(frame: pd.DataFrame, date_column: str) -> pd.DataFrame:
    """Rows, labelled rows and the labelled share per event date.

    Args:
        frame: Output of :func:`join_labels` with an event-date column.
        date_column: Column holding each row's event date.

    Returns:
        Columns ``date``, ``rows``, ``labelled``, ``unlabelled``, ``labelled_share``,
        sorted by date.
    """
    if frame.empty:
        return pd.DataFrame(
            {
                "date": pd.Series(dtype=object),
                "rows": pd.Series(dtype=int),
                "labelled": pd.Series(dtype=int),
                "unlabelled": pd.Series(dtype=int),
                "labelled_share": pd.Series(dtype=float),
            }
        )
    grouped = frame.groupby(date_column, sort=True)[LABELLED_COLUMN].agg(["size", "sum"])
    out = pd.DataFrame(
        {
            "date": [as_date(d) for d in grouped.index],
            "rows": grouped["size"].astype(int).to_numpy(),
            "labelled": grouped["sum"].astype(int).to_numpy(),
        }
    )
    out["unlabelled"] = out["rows"] - out["labelled"]
    out["labelled_share"] = out["labelled"] / out["rows"]
    return out.reset_index(drop=True)
