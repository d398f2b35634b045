"""Scoring into the ``predictions`` table: which partitions, and versions side by side.

The table keeps every version's predictions: a partition holds one row per feature row and
scoring version (column ``model_version``). Rescoring a day with another version adds that
version's rows; rescoring with the same version replaces them, so a rerun is idempotent.
Readers take one version's rows (:func:`select_version`): the champion's by default.

Partitions written before versions were kept side by side hold one version per day, maybe
without the ``model_version`` column. They read as they did: rows without a version stand in
for whichever version is read, wherever that version has no prediction of its own for the row.

Pure (no Prefect, no IO): ``tasks/monitoring.py`` reads and writes the partitions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from retrainer.data.tables import as_date
from retrainer.monitoring.errors import MonitoringError
from retrainer.monitoring.predictions import MODEL_VERSION_COLUMN, SCORED_AT_COLUMN


@dataclass
class ScoringSelection:
    """The partitions a scoring run scores and those it skips as already scored.

    Attributes:
        to_score: Partitions to score.
        already_scored: Partitions skipped because they already hold predictions.
    """

    to_score: list[date] = field(default_factory=list)
    already_scored: list[date] = field(default_factory=list)


def requested_partitions(
    feature_dates: Iterable[date],
    day: str | date | None = None,
    start: str | date | None = None,
    end: str | date | None = None,
) -> list[date]:
    """The feature partitions a scoring request names: one date, a window, or all.

    Args:
        feature_dates: The feature partitions present.
        day: One date (an absent date gives an empty list: the caller says why).
        start: First date of a window (inclusive); None: from the first partition.
        end: Last date of a window (inclusive); None: up to the last partition.

    Returns:
        The requested partitions that are present, in date order.

    Raises:
        MonitoringError: When both a date and a window are given.
    """
    if day is not None and (start is not None or end is not None):
        raise MonitoringError("give either a date or a start/end window, not both")
    lo, hi = request_span(day, start, end)
    present = sorted(set(feature_dates))
    return [d for d in present if (lo is None or d >= lo) and (hi is None or d <= hi)]


def request_span(
    day: str | date | None = None,
    start: str | date | None = None,
    end: str | date | None = None,
) -> tuple[date | None, date | None]:
    """The first and last date a scoring request covers (None: open)."""
    if day is not None:
        return as_date(day), as_date(day)
    return (
        as_date(start) if start is not None else None,
        as_date(end) if end is not None else None,
    )


def partitions_to_score(
    readable: Iterable[date], scored: Iterable[date], rescore: bool = False
) -> ScoringSelection:
    """Split the partitions a run may read into those to score and those already scored.

    Args:
        readable: Requested partitions that passed the validation screen.
        scored: Partitions of the predictions table (any version).
        rescore: Score partitions that already hold predictions again (the scoring
            version's rows are replaced, other versions' kept).
    """
    done = set(scored)
    selection = ScoringSelection()
    for day in sorted(set(readable)):
        if rescore or day not in done:
            selection.to_score.append(day)
        else:
            selection.already_scored.append(day)
    return selection


def _versions(frame: pd.DataFrame) -> pd.Series:
    """The rows' model versions as text (missing when the row has none)."""
    if MODEL_VERSION_COLUMN not in frame.columns:
        return pd.Series(pd.NA, index=frame.index, dtype="string")
    return frame[MODEL_VERSION_COLUMN].astype("string")


def merge_predictions(
    existing: pd.DataFrame | None, new: pd.DataFrame, version: str
) -> pd.DataFrame:
    """A partition's predictions after scoring it with ``version``.

    Args:
        existing: The partition's rows before (None or empty when it had none).
        new: This version's predictions of the partition.
        version: The scoring version.

    Returns:
        The other versions' rows (and rows without a version) followed by ``new``.
    """
    if existing is None or existing.empty:
        return new.reset_index(drop=True)
    versions = _versions(existing)
    kept = existing[(versions != str(version)).fillna(True).to_numpy(dtype=bool)]
    if kept.empty:
        return new.reset_index(drop=True)
    return pd.concat([kept, new], ignore_index=True)


@dataclass
class VersionSelection:
    """One version's predictions, one per row id, and what was left aside.

    Attributes:
        frame: The predictions read (one per id).
        version: The version read (None: every version; the latest scored per id).
        other_rows: Rows of other versions left aside.
        other_versions: Those versions.
        unversioned_rows: Rows without a version (written before versions were recorded)
            read as the version's.
    """

    frame: pd.DataFrame
    version: str | None
    other_rows: int = 0
    other_versions: list[str] = field(default_factory=list)
    unversioned_rows: int = 0

    def notes(self, chosen_by: str) -> list[str]:
        """Lines for the report.

        Args:
            chosen_by: What chose the version, e.g. ``monitoring.model_versions: champion``.
        """
        lines = []
        if self.other_rows:
            lines.append(
                f"{self.other_rows} predictions of other versions "
                f"({', '.join(self.other_versions)}) are not read ({chosen_by})"
            )
        if self.unversioned_rows:
            lines.append(
                f"{self.unversioned_rows} predictions carry no model version (written before "
                f"versions were recorded) and are read as version {self.version}'s"
            )
        return lines


def dedupe_predictions(frame: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """One prediction per id: a row with a version before one without, then the latest scored."""
    frame = frame.reset_index(drop=True)
    if frame.empty:
        return frame
    rank = pd.DataFrame({"versioned": _versions(frame).notna().to_numpy()}, index=frame.index)
    if SCORED_AT_COLUMN in frame.columns:
        rank["scored_at"] = pd.to_datetime(frame[SCORED_AT_COLUMN], utc=True)
    order = rank.sort_values(list(rank.columns), kind="stable", na_position="first").index
    kept = frame.loc[order].drop_duplicates(id_column, keep="last")
    return kept.sort_index().reset_index(drop=True)


def select_version(
    frame: pd.DataFrame, version: str | None, id_column: str, *, stand_in: bool = True
) -> VersionSelection:
    """One version's predictions (rows without a version stand in where it has none).

    Args:
        frame: Predictions of any versions (a window of the predictions table).
        version: The version to read; None reads every version (the latest scored per id).
        id_column: The row id column.
        stand_in: Read rows without a version as the version's (False: only its own rows,
            for a reader that can score the others itself).

    Returns:
        The selection, one prediction per id.
    """
    if version is None:
        return VersionSelection(dedupe_predictions(frame, id_column), None)
    versions = _versions(frame)
    mine = (versions == str(version)).fillna(False).to_numpy(dtype=bool)
    known = versions.notna().to_numpy(dtype=bool)
    others = versions[known & ~mine]
    kept = dedupe_predictions(frame[mine | (~known & stand_in)], id_column)
    return VersionSelection(
        frame=kept,
        version=str(version),
        other_rows=len(others),
        other_versions=sorted(set(others), key=lambda v: (len(v), v)),
        unversioned_rows=int(_versions(kept).isna().sum()),
    )


def parse_version_option(text: str | int | None) -> str | None:
    """A ``--version`` value as a registry version number (``3`` or ``v3`` → ``"3"``).

    Raises:
        ValueError: When it is not a version number (the message names ``--version``).
    """
    if text is None:
        return None
    value = str(text).strip()
    number = value[1:] if value[:1] in ("v", "V") else value
    if not number.isdigit():
        raise ValueError(f"--version: expected a version number such as 3, got {text!r}")
    return str(int(number))
