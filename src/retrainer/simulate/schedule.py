"""The ground truth of a simulation: which drift is active on which day, and the incidents.

A :class:`Schedule` is written next to the data at ``<out>/_simulation/schedule.json`` and is
what tests and backtests score detectors against.

Drift patterns and the meaning of ``start``/``end`` (both inclusive dates):

- ``sudden``: full effect from ``start``; it persists to the end of the simulation, or
  reverts after ``end`` when ``end`` is set.
- ``gradual``: between ``start`` and ``end`` a growing share of rows (``1/(n+1)`` on the
  first day up to all rows on ``end``) comes from the new distribution/concept; afterwards
  every row does (the drift has happened and persists).
- ``incremental``: every row moves a growing fraction of the way from old to new between
  ``start`` and ``end``; full effect afterwards (persists).
- ``recurring``: alternates in phases of ``period_days``: new for ``period_days`` from
  ``start``, old for the next ``period_days``, new again ... until ``end`` (or forever).
- ``seasonal``: a smooth cycle ``magnitude * sin(2 pi (day - start) / period_days)`` from
  ``start`` to ``end`` (or forever).

Seasonality is EXPECTED variation, not drift: seasonal entries carry ``expected: true`` and
:meth:`Schedule.drift_days` and :meth:`Schedule.clean_days` ignore them unless
``include_expected=True``. A detector that alarms on a seasonal-only day raises a false alarm
(unless it was told about the season); a day is still "clean" when only a season is active.

Drift days are measured against the scenario's baseline (day-0) distribution: after a
persistent drift every later day is a drift day, even though a model retrained on the new
data would see nothing new.

A numeric covariate drift has an ``effect``: ``shift`` moves values by ``magnitude``
standard deviations; ``widen`` multiplies their deviations from the column's centre by
``magnitude`` (log space for income, loan amount and debt-to-income), so the range grows
beyond the reference while values stay physically plausible.

The stream's shape (``stream``: ordered slices, heavy tails, rare categories; see
:mod:`retrainer.simulate.stream`) is neither drift nor broken data: an ordered stream's days
are clean although each covers another range of its column, and the valid outliers it
plants (``outliers``) are not incidents.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

from retrainer.data.storage import Storage, open_storage
from retrainer.simulate.population import (
    CATEGORICAL_COLUMNS,
    CATEGORIES,
    COLUMN_ORDER,
    FEATURE_COLUMNS,
    NUMERIC_COLUMNS,
    SPREADS,
)
from retrainer.simulate.stream import Outlier, StreamShape

SCHEDULE_KEY = "_simulation/schedule.json"
SCHEDULE_FORMAT = 1
# Written into schedule.json so the file explains itself.
SCHEDULE_NOTES = {
    "dates": "start/end are inclusive UTC dates",
    "sudden": "full effect from start; reverts after end when end is set",
    "gradual": "a growing share of rows is new from start to end; all rows afterwards",
    "incremental": "every row moves further from start to end; full effect afterwards",
    "recurring": "on for period_days from start, off for period_days, ... until end",
    "seasonal": "expected variation (expected: true), not counted as drift",
    "incidents": "break one day's features partition; labels are never changed",
    "effect": "numeric covariate drift: shift = move by magnitude sd; widen = multiply "
    "deviations from the column's centre by magnitude (log space for income, loan_amount, "
    "debt_to_income), the range grows",
    "stream": "the stream's shape, neither drift nor broken data: order = rows of each "
    "block of block_days days sorted by column and cut into consecutive days (each day "
    "covers another range: a continuous covariate shift by construction); heavy_tails = "
    "valid outliers, share of rows times a factor in [low, high]; rare_categories = valid "
    "extra values with tiny shares",
    "outliers": "the rows heavy_tails made extreme (date, row in the day's batch, loan_id): "
    "valid values, not incidents",
}

DriftKind = Literal["covariate", "concept"]
DriftPattern = Literal["sudden", "gradual", "incremental", "recurring", "seasonal"]
DRIFT_KINDS: tuple[str, ...] = ("covariate", "concept")
DRIFT_PATTERNS: tuple[str, ...] = ("sudden", "gradual", "incremental", "recurring", "seasonal")
DRIFT_EFFECTS: tuple[str, ...] = ("shift", "widen")
INCIDENT_KINDS: tuple[str, ...] = (
    "schema_break",
    "null_burst",
    "unit_change",
    "new_category",
    "dtype_break",
    "duplicate_ids",
    "empty_batch",
    "stale_dates",
)
# Concept name -> the columns whose relation to the label it changes.
CONCEPT_COLUMNS: dict[str, tuple[str, ...]] = {
    "base": (),
    "downturn": (
        "credit_score",
        "debt_to_income",
        "utilization",
        "age",
        "term_months",
        "loan_amount",
        "purpose",
        "channel",
    ),
    "base_rate": (),
}


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


@dataclass(frozen=True)
class Drift:
    """One drift in the ground truth.

    Attributes:
        id: Unique name within the schedule, e.g. ``"income_drop"``.
        kind: ``covariate`` (P(x) changes) or ``concept`` (P(y | x) changes).
        pattern: ``sudden``, ``gradual``, ``incremental``, ``recurring`` or ``seasonal``.
        start: First day with an effect.
        end: Pattern-specific (see the module docstring); None = open-ended.
        columns: Covariate: the columns whose distribution changes. Concept: the columns
            whose relation to the label changes (empty for a base-rate change).
        segment: Only rows matching every ``column: value`` pair drift; None = all rows.
        magnitude: Covariate numeric: shift in standard deviations of the column (log scale
            for income and loan amount); for ``effect="widen"`` the factor by which
            deviations from the column's centre grow (``magnitude ** intensity``). Covariate
            categorical: share of rows moved to ``target``. Concept: weight of the new
            concept (1 = fully new; for ``base_rate`` the change in log-odds).
        description: What happens, in words.
        period_days: Phase length (recurring) or cycle length (seasonal).
        target: The category rows move to (categorical covariate drift).
        concept: The new concept (concept drift): ``downturn`` or ``base_rate``.
        expected: Known variation (seasonality) that is not counted as drift.
        effect: Numeric covariate drift: ``shift`` (move the values) or ``widen`` (stretch
            their spread around the column's centre).
    """

    id: str
    kind: str
    pattern: str
    start: date
    end: date | None
    columns: tuple[str, ...]
    magnitude: float
    description: str = ""
    segment: dict[str, str] | None = None
    period_days: int | None = None
    target: str | None = None
    concept: str | None = None
    expected: bool = False
    effect: str = "shift"

    def __post_init__(self) -> None:
        where = f"drift {self.id!r}"
        if self.kind not in DRIFT_KINDS:
            raise ValueError(f"{where}: kind {self.kind!r} is not one of {list(DRIFT_KINDS)}")
        if self.pattern not in DRIFT_PATTERNS:
            raise ValueError(
                f"{where}: pattern {self.pattern!r} is not one of {list(DRIFT_PATTERNS)}"
            )
        if self.end is not None and self.end < self.start:
            raise ValueError(f"{where}: end {self.end} is before start {self.start}")
        if self.pattern in ("gradual", "incremental") and self.end is None:
            raise ValueError(f"{where}: a {self.pattern} drift needs an end (the ramp's last day)")
        if self.pattern in ("recurring", "seasonal") and not (self.period_days or 0) >= 1:
            raise ValueError(f"{where}: a {self.pattern} drift needs period_days >= 1")
        unknown = [c for c in self.columns if c not in FEATURE_COLUMNS]
        if unknown:
            raise ValueError(f"{where}: unknown column(s) {unknown}; known: {FEATURE_COLUMNS}")
        for column, value in (self.segment or {}).items():
            if column not in CATEGORIES:
                raise ValueError(
                    f"{where}: segment column {column!r} is not categorical "
                    f"({list(CATEGORICAL_COLUMNS)})"
                )
            if value not in CATEGORIES[column][0]:
                raise ValueError(
                    f"{where}: segment value {value!r} is not a {column} "
                    f"({list(CATEGORIES[column][0])})"
                )
        if self.effect not in DRIFT_EFFECTS:
            raise ValueError(f"{where}: effect {self.effect!r} is not one of {list(DRIFT_EFFECTS)}")
        if self.effect == "widen":
            self._check_widen(where)
        if self.kind == "covariate":
            self._check_covariate(where)
        else:
            if self.concept not in CONCEPT_COLUMNS or self.concept == "base":
                known = [c for c in CONCEPT_COLUMNS if c != "base"]
                raise ValueError(f"{where}: concept {self.concept!r} is not one of {known}")

    def _check_widen(self, where: str) -> None:
        unsupported = [c for c in self.columns if c not in SPREADS]
        if self.kind != "covariate" or not self.columns or unsupported:
            raise ValueError(
                f"{where}: a widen drift is a covariate drift of {list(SPREADS)} "
                f"(got {self.kind} of {list(self.columns)})"
            )
        if self.magnitude <= 0:
            raise ValueError(f"{where}: a widen factor must be positive, got {self.magnitude}")

    def _check_covariate(self, where: str) -> None:
        if not self.columns:
            raise ValueError(f"{where}: a covariate drift needs at least one column")
        categorical = [c for c in self.columns if c in CATEGORICAL_COLUMNS]
        if categorical:
            if len(self.columns) != 1:
                raise ValueError(
                    f"{where}: a categorical covariate drift moves exactly one column "
                    f"(got {list(self.columns)})"
                )
            column = categorical[0]
            if self.target not in CATEGORIES[column][0]:
                raise ValueError(
                    f"{where}: target {self.target!r} is not a {column} "
                    f"({list(CATEGORIES[column][0])})"
                )
            if not 0 < self.magnitude <= 1:
                raise ValueError(
                    f"{where}: magnitude of a categorical drift is a share in (0, 1], "
                    f"got {self.magnitude}"
                )

    @property
    def categorical(self) -> bool:
        """Whether this is a covariate drift of a categorical column."""
        return self.kind == "covariate" and self.columns[0] in CATEGORICAL_COLUMNS

    def intensity(self, day: date) -> float:
        """Fraction of the full effect on ``day`` (-1..1; the row share for ``gradual``)."""
        offset = (day - self.start).days
        if offset < 0:
            return 0.0
        if self.pattern in ("gradual", "incremental"):
            assert self.end is not None
            span = (self.end - self.start).days + 1
            return min(1.0, (offset + 1) / span)
        if self.end is not None and day > self.end:
            return 0.0
        if self.pattern == "sudden":
            return 1.0
        period = int(self.period_days or 1)
        if self.pattern == "recurring":
            return 1.0 if (offset // period) % 2 == 0 else 0.0
        return math.sin(2 * math.pi * offset / period)

    def is_active(self, day: date) -> bool:
        """Whether the data of ``day`` differs from the baseline because of this drift.

        A seasonal drift is active on every day of its range (its cycle crosses zero).
        """
        if self.pattern == "seasonal":
            return day >= self.start and (self.end is None or day <= self.end)
        return self.intensity(day) != 0.0

    def to_dict(self) -> dict[str, Any]:
        """As a JSON-able dict (dates as ``YYYY-MM-DD``)."""
        out = asdict(self)
        out["start"] = _iso(self.start)
        out["end"] = _iso(self.end)
        out["columns"] = list(self.columns)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Drift:
        """Inverse of :meth:`to_dict`."""
        values = dict(data)
        values["start"] = _date(values["start"])
        values["end"] = _date(values.get("end"))
        values["columns"] = tuple(values.get("columns") or ())
        return cls(**values)


@dataclass(frozen=True)
class Incident:
    """A data-quality incident applied to one day's partition of one table.

    Attributes:
        date: The partition date.
        kind: One of :data:`INCIDENT_KINDS`.
        column: The column it breaks (None when the whole batch is affected).
        table: The table whose partition is broken (always ``features``; labels are never
            touched).
        description: What is wrong with the batch, in words.
        params: Kind-specific parameters (share, factor, mode, value, days_old).
    """

    date: date
    kind: str
    column: str | None = None
    table: str = "features"
    description: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in INCIDENT_KINDS:
            raise ValueError(f"incident kind {self.kind!r} is not one of {list(INCIDENT_KINDS)}")
        if self.column is not None and self.column not in COLUMN_ORDER:
            raise ValueError(
                f"incident {self.kind}@{self.date}: unknown column {self.column!r}; "
                f"known: {list(COLUMN_ORDER)}"
            )
        numeric_only = self.kind in ("unit_change", "dtype_break")
        if numeric_only and self.column not in NUMERIC_COLUMNS:
            raise ValueError(
                f"incident {self.kind}@{self.date}: column {self.column!r} is not numeric "
                f"({list(NUMERIC_COLUMNS)})"
            )
        if self.kind == "new_category" and self.column not in CATEGORICAL_COLUMNS:
            raise ValueError(
                f"incident new_category@{self.date}: column {self.column!r} is not categorical "
                f"({list(CATEGORICAL_COLUMNS)})"
            )

    def to_dict(self) -> dict[str, Any]:
        """As a JSON-able dict."""
        out = asdict(self)
        out["date"] = self.date.isoformat()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Incident:
        """Inverse of :meth:`to_dict`."""
        values = dict(data)
        values["date"] = _date(values["date"])
        return cls(**values)


@dataclass
class Schedule:
    """Everything a simulation did: its parameters, drifts and incidents.

    Attributes:
        scenario: Scenario name.
        seed: Random seed.
        start: First simulated day.
        days: Number of simulated days.
        rows_per_day: Feature rows generated per day (before incidents).
        label_delay_days: Days between a row's event and its label's arrival.
        label_jitter_days: Extra random delay of 0..this many days per label.
        drifts: The drifts, in onset order.
        incidents: The data-quality incidents, by date.
        description: The scenario's description.
        stream: The stream's shape: ordered slices, heavy tails, rare categories.
        outliers: The valid outliers the heavy tails planted, by date and row.
    """

    scenario: str
    seed: int
    start: date
    days: int
    rows_per_day: int
    label_delay_days: int
    label_jitter_days: int = 0
    drifts: list[Drift] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    description: str = ""
    stream: StreamShape = field(default_factory=StreamShape)
    outliers: list[Outlier] = field(default_factory=list)

    # -- calendar -------------------------------------------------------------------------
    @property
    def end(self) -> date:
        """Last simulated day."""
        return self.start + timedelta(days=self.days - 1)

    def dates(self) -> list[date]:
        """Every simulated day."""
        return [self.start + timedelta(days=i) for i in range(self.days)]

    def drift(self, drift_id: str) -> Drift:
        """A drift by id.

        Raises:
            KeyError: When no drift has that id.
        """
        for drift in self.drifts:
            if drift.id == drift_id:
                return drift
        raise KeyError(f"no drift {drift_id!r} in scenario {self.scenario!r}")

    # -- ground truth ---------------------------------------------------------------------
    def active(
        self, day: date | str, kind: str | None = None, include_expected: bool = True
    ) -> list[Drift]:
        """Drifts whose effect is present on ``day``.

        Args:
            day: The day.
            kind: Only ``covariate`` or ``concept`` drifts; None = both.
            include_expected: Include seasonal (expected) variation.
        """
        day = _date(day)
        assert day is not None
        return [
            d
            for d in self.drifts
            if d.is_active(day)
            and (kind is None or d.kind == kind)
            and (include_expected or not d.expected)
        ]

    def drift_days(self, kind: str | None = None, include_expected: bool = False) -> set[date]:
        """Simulated days on which some drift (of ``kind``) is active.

        Seasonal variation does not count unless ``include_expected``.
        """
        return {
            day
            for day in self.dates()
            if self.active(day, kind=kind, include_expected=include_expected)
        }

    def onsets(self, kind: str | None = None, include_expected: bool = False) -> dict[str, date]:
        """First active day of each drift (within the simulation), by drift id."""
        out: dict[str, date] = {}
        for drift in self.drifts:
            if (kind is not None and drift.kind != kind) or (
                drift.expected and not include_expected
            ):
                continue
            days = [d for d in self.dates() if drift.is_active(d)]
            if days:
                out[drift.id] = days[0]
        return out

    def incidents_on(self, day: date | str) -> list[Incident]:
        """Incidents of ``day``."""
        day = _date(day)
        return [i for i in self.incidents if i.date == day]

    def incident_days(self, kind: str | None = None) -> set[date]:
        """Days whose feature partition has an incident (of ``kind``)."""
        return {i.date for i in self.incidents if kind is None or i.kind == kind}

    def is_clean(self, day: date | str) -> bool:
        """No (unexpected) drift active and no incident on ``day``."""
        day = _date(day)
        return not self.active(day, include_expected=False) and not self.incidents_on(day)

    def clean_days(self) -> set[date]:
        """Simulated days that look like the baseline: no drift (seasons allowed), no incident."""
        return {day for day in self.dates() if self.is_clean(day)}

    def active_days(self, drift_id: str) -> set[date]:
        """Simulated days on which the drift ``drift_id`` is active (e.g. after its onset).

        Raises:
            KeyError: When no drift has that id.
        """
        drift = self.drift(drift_id)
        return {day for day in self.dates() if drift.is_active(day)}

    def outliers_on(self, day: date | str) -> list[Outlier]:
        """Valid outliers of ``day``, by row."""
        day = _date(day)
        return [o for o in self.outliers if o.date == day]

    def outlier_ids(self, column: str | None = None) -> set[str]:
        """``loan_id`` of every valid outlier (of ``column``)."""
        return {o.loan_id for o in self.outliers if column is None or o.column == column}

    def order_blocks(self) -> list[list[date]]:
        """The days of each sorted block of an ordered stream ([] when days are i.i.d.)."""
        if self.stream.order is None:
            return []
        days, size = self.dates(), self.stream.order.block_days
        return [days[i : i + size] for i in range(0, len(days), size)]

    def valid_categories(self, column: str) -> tuple[str, ...]:
        """Every valid value of a categorical column: the usual ones and the rare ones."""
        return self.stream.vocabulary(column)

    def label_arrival(self, day: date | str) -> date:
        """When the labels of ``day``'s rows arrive (without jitter)."""
        day = _date(day)
        assert day is not None
        return day + timedelta(days=self.label_delay_days)

    # -- serialisation --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """As a JSON-able dict."""
        return {
            "format": SCHEDULE_FORMAT,
            "scenario": self.scenario,
            "description": self.description,
            "seed": self.seed,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "days": self.days,
            "rows_per_day": self.rows_per_day,
            "label_delay": self.label_delay_days,
            "label_jitter": self.label_jitter_days,
            "drifts": [d.to_dict() for d in self.drifts],
            "incidents": [i.to_dict() for i in self.incidents],
            "stream": self.stream.to_dict(),
            "outliers": [o.to_dict() for o in self.outliers],
            "notes": SCHEDULE_NOTES,
        }

    def to_json(self) -> str:
        """The schedule as pretty-printed JSON."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schedule:
        """Inverse of :meth:`to_dict`.

        Raises:
            ValueError: When the document is not a schedule.
        """
        try:
            return cls(
                scenario=data["scenario"],
                description=data.get("description", ""),
                seed=int(data["seed"]),
                start=_date(data["start"]),  # type: ignore[arg-type]
                days=int(data["days"]),
                rows_per_day=int(data["rows_per_day"]),
                label_delay_days=int(data["label_delay"]),
                label_jitter_days=int(data.get("label_jitter", 0)),
                drifts=[Drift.from_dict(d) for d in data.get("drifts", [])],
                incidents=[Incident.from_dict(i) for i in data.get("incidents", [])],
                stream=StreamShape.from_dict(data.get("stream") or {}),
                outliers=[Outlier.from_dict(o) for o in data.get("outliers", [])],
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a simulation schedule: missing or bad field {exc}") from exc

    def save(self, target: str | Path | Storage) -> str:
        """Write the schedule: to a ``.json`` path, or under a data root / storage.

        Returns:
            Where it was written.
        """
        storage, key = _locate(target)
        storage.write_bytes(key, self.to_json().encode())
        return storage.describe(key)

    @classmethod
    def load(cls, source: str | Path | Storage) -> Schedule:
        """Read a schedule from a ``.json`` path, a data root (local or ``s3://``) or a storage.

        A data root means ``<root>/_simulation/schedule.json``.

        Raises:
            FileNotFoundError: When there is no schedule there.
            ValueError: When the file is not a schedule.
        """
        storage, key = _locate(source)
        if not storage.exists(key):
            raise FileNotFoundError(f"no simulation schedule at {storage.describe(key)}")
        try:
            data = json.loads(storage.read_bytes(key))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{storage.describe(key)}: not JSON: {exc}") from exc
        return cls.from_dict(data)


def _locate(target: str | Path | Storage) -> tuple[Storage, str]:
    """A storage and key for a schedule file, data root or storage."""
    if not isinstance(target, str | Path):
        return target, SCHEDULE_KEY
    text = str(target)
    if text.endswith(".json"):
        if text.startswith("s3://"):
            root, _, name = text.rpartition("/")
            return open_storage(root), name
        path = Path(text).expanduser().resolve()
        return open_storage(str(path.parent)), path.name
    return open_storage(text), SCHEDULE_KEY
