"""The history a backtest replays: every feature row with its label and when the label arrived.

:func:`load_history` reads the project's feature and label tables once (local or S3), screens
the partitions with the validation ledger exactly as training does (invalid and quarantined
batches are never trained on or measured; never-validated ones follow
``validation.before_training``) and, for simulator output, reads the ground truth (drift
periods and change points, for the plots and the oracle policy).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from retrainer.project import Project
    from retrainer.simulate.schedule import Schedule

DAY = "_day"
"""Event date of a row."""
ARRIVAL = "_label_day"
"""Date a row's label arrived (NaT: never)."""


class BacktestDataError(ValueError):
    """The history cannot be replayed (no labels, a bad range, partitions to validate ...)."""


@dataclass(frozen=True)
class Truth:
    """The ground truth of a simulated history.

    Attributes:
        periods: ``(drift id, kind, first day, last day)`` of every period a drift is on.
        change_points: Days the data-generating process changed (onsets, ends of ramps,
            recurring phases), for the oracle.
        label_delay: Days until a label arrives.
    """

    periods: tuple[tuple[str, str, date, date], ...] = ()
    change_points: tuple[date, ...] = ()
    label_delay: int = 0


@dataclass
class History:
    """Feature rows with labels and arrival dates, screened, in memory.

    Attributes:
        frame: Features, target (null where no label ever arrived), :data:`DAY` and
            :data:`ARRIVAL`.
        days: Feature partition dates that may be read (screened), sorted.
        excluded: Partition date → why it is never trained on or measured.
        truth: The ground truth (simulator output), or None.
        fingerprint: A hash of the files read (lineage of the backtest run).
        target_dtype: The labels' own numpy type when nulls changed it (integer, boolean).
    """

    frame: pd.DataFrame
    days: list[date]
    excluded: dict[date, str] = field(default_factory=dict)
    truth: Truth | None = None
    fingerprint: str = ""
    target_dtype: Any = None
    _by_day: dict[date, np.ndarray] = field(default_factory=dict, repr=False)
    _arrival: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64), repr=False)

    def __post_init__(self) -> None:
        order = np.argsort(_ordinals(self.frame[DAY]), kind="stable")
        self.frame = self.frame.iloc[order].reset_index(drop=True)
        days = _ordinals(self.frame[DAY])
        arrival = self.frame[ARRIVAL]
        never = arrival.isna().to_numpy()
        self._arrival = np.full(len(arrival), NEVER, dtype=np.int64)
        self._arrival[~never] = _ordinals(arrival[~never])
        readable = {d.toordinal() for d in self.days}
        bounds = np.flatnonzero(np.r_[True, days[1:] != days[:-1], True]) if len(days) else []
        for lo, hi in itertools.pairwise(bounds):
            if days[lo] in readable:
                self._by_day[date.fromordinal(int(days[lo]))] = np.arange(lo, hi)

    def rows(self, day: date) -> np.ndarray:
        """Row positions of one screened day (empty when the day is excluded or absent)."""
        return self._by_day.get(day, np.empty(0, dtype=np.int64))

    def span(self, first: date | None, last: date) -> np.ndarray:
        """Row positions of the screened days in ``[first, last]`` (first None: from the start)."""
        parts = [
            rows
            for day, rows in self._by_day.items()
            if (first is None or day >= first) and day <= last
        ]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

    def labelled_by(self, rows: np.ndarray, day: date) -> np.ndarray:
        """The rows of ``rows`` whose label had arrived by the end of ``day``."""
        return rows[self._arrival[rows] <= day.toordinal()]

    def ever_labelled(self, rows: np.ndarray) -> np.ndarray:
        """The rows of ``rows`` that get a label at some point (hindsight)."""
        return rows[self._arrival[rows] != NEVER]


def _ordinals(days: pd.Series) -> np.ndarray:
    """Proleptic ordinals (``date.toordinal``) of a column of dates, computed per distinct day."""
    unique, inverse = np.unique(days.to_numpy(dtype=object), return_inverse=True)
    lookup = np.array([d.toordinal() for d in unique], dtype=np.int64)
    return lookup[inverse.reshape(-1)] if len(unique) else np.empty(0, dtype=np.int64)


NEVER = np.iinfo(np.int64).max
"""Arrival of a label that never arrives."""


def _arrival_days(labels: pd.DataFrame, label_timestamp: str | None) -> pd.Series:
    from retrainer.training.trainer import event_dates

    column = label_timestamp if label_timestamp in labels.columns else "_arrival"
    return event_dates(labels, column)


def _screen(project: Project, catalog: Any, days: list[date], unvalidated: str) -> Any:
    """The training screen of the history's partitions (ledger + ``before_training``)."""
    from retrainer.validation.ledger import screen_partitions
    from retrainer.validation.store import ledger_for

    rules = project.config.validation
    if not rules.enabled:
        unvalidated = "allow"
    ledger = ledger_for(project, catalog)
    entries = ledger.entries()
    screen = screen_partitions(days, entries, unvalidated if unvalidated != "validate" else "skip")
    if unvalidated == "validate" and screen.pending:
        raise BacktestDataError(
            f"{len(screen.pending)} feature partition(s) were never validated "
            f"({screen.pending[0]} .. {screen.pending[-1]}); validate them first "
            f"(`retrainer validate --start {screen.pending[0]} --end {screen.pending[-1]}`) "
            "or replay them as they are with `--unvalidated allow` (`skip` leaves them out)"
        )
    return screen


def load_truth(storage: Any) -> Truth | None:
    """The ground truth next to simulator output (None for other data)."""
    from retrainer.simulate.schedule import Schedule

    try:
        schedule = Schedule.load(storage)
    except (FileNotFoundError, ValueError):
        return None
    return truth_of(schedule)


def truth_of(schedule: Schedule) -> Truth:
    """Drift periods and change points of a simulation's schedule."""
    periods, changes = [], set()
    days = schedule.dates()
    for drift in schedule.drifts:
        active = [d for d in days if drift.is_active(d)]
        for day in days[1:]:
            if drift.is_active(day) != drift.is_active(day - timedelta(days=1)):
                changes.add(day)
        if drift.pattern in ("gradual", "incremental") and drift.end is not None:
            changes.add(drift.end + timedelta(days=1))
        if drift.pattern == "seasonal" and drift.period_days:
            step = max(1, drift.period_days // 2)
            changes.update(d for d in days[step::step])
        if drift.start in set(days):
            changes.add(drift.start)
        run_start = None
        for i, day in enumerate(active):
            if run_start is None:
                run_start = day
            if i + 1 == len(active) or active[i + 1] != day + timedelta(days=1):
                periods.append((drift.id, drift.kind, run_start, day))
                run_start = None
    first = days[0] if days else None
    return Truth(
        periods=tuple(periods),
        change_points=tuple(sorted(c for c in changes if first is None or c > first)),
        label_delay=int(schedule.label_delay_days),
    )


def load_history(
    project: Project,
    start: date | None = None,
    end: date | None = None,
    unvalidated: str | None = None,
) -> History:
    """Read the project's features and labels for a replay up to ``end``.

    Args:
        project: The project.
        start: First day of the replay; rows before it are read too (the first model's
            training window); None: everything.
        end: Last day (default: the newest feature partition).
        unvalidated: How never-validated partitions are replayed: ``validate`` (default
            ``validation.before_training``; fails asking to validate them first), ``skip``
            or ``allow``.

    Raises:
        BacktestDataError: No partitions, no labels, or partitions to validate first.
    """
    from retrainer.data import DataCatalog

    cfg = project.config
    cols = cfg.columns
    catalog = DataCatalog.for_project(project)
    present = catalog.features.dates(None, end)
    if not present:
        raise BacktestDataError(f"table {catalog.features.name!r} has no partitions to replay")
    policy = unvalidated or (cfg.validation.before_training if cfg.validation.enabled else "allow")
    screen = _screen(project, catalog, present, policy)
    read = [d for d in present if d in set(screen.read)]
    wanted = list(dict.fromkeys([cols.id, cols.timestamp, *cols.features, *cols.segments]))
    features = catalog.features.read_window(dates=read, columns=wanted)
    label_cols = [cols.id, cols.target, *([cols.label_timestamp] if cols.label_timestamp else [])]
    labels = catalog.labels.read_window(columns=label_cols, partition_column="_arrival")
    frame = features.frame
    label_frame = labels.frame
    if label_frame.empty:
        raise BacktestDataError(f"table {catalog.labels.name!r} has no labels to replay with")
    label_frame = label_frame.assign(**{ARRIVAL: _arrival_days(label_frame, cols.label_timestamp)})
    label_frame = label_frame.sort_values(ARRIVAL).drop_duplicates(cols.id, keep="last")
    frame = frame.drop(columns=[c for c in (cols.target,) if c in frame.columns])
    dtype = label_frame[cols.target].dtype
    exact = dtype if dtype.kind in "iub" else None  # made float by the rows without a label
    frame = frame.merge(
        label_frame[[cols.id, cols.target, ARRIVAL]], on=cols.id, how="left", validate="many_to_one"
    )
    from retrainer.training.trainer import event_dates

    frame[DAY] = event_dates(frame, cols.timestamp)
    # numpy-backed strings (the same values): a replay takes rows of these columns thousands
    # of times and hands them to scikit-learn, ~10x slower from Arrow-backed strings
    strings = [c for c in frame.columns if isinstance(frame[c].dtype, pd.StringDtype)]
    frame = frame.astype(dict.fromkeys(strings, object))
    from retrainer.data.catalog import files_fingerprint

    return History(
        frame=frame,
        days=read,
        excluded=dict(screen.excluded),
        truth=load_truth(catalog.storage),
        fingerprint=files_fingerprint([*features.files, *labels.files]),
        target_dtype=exact,
    )
