"""``simulate()``: a scenario, a seed and a few knobs in, feature rows, labels and truth out."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from retrainer.data.tables import as_date
from retrainer.simulate.generator import generate
from retrainer.simulate.incidents import make_incident, parse_incident
from retrainer.simulate.population import ID_COLUMN, LABEL_TIME_COLUMN, TIMESTAMP_COLUMN
from retrainer.simulate.scenarios import (
    DEFAULT_ROWS_PER_DAY as DEFAULT_ROWS_PER_DAY,  # re-exported: it used to live here
)
from retrainer.simulate.scenarios import (
    DEFAULT_SCENARIO,
    SCENARIOS,
    Scenario,
)
from retrainer.simulate.schedule import Incident, Schedule
from retrainer.simulate.stream import StreamShape, plan_outliers

DEFAULT_START = date(2026, 1, 1)
DEFAULT_LABEL_DELAY_DAYS = 7
_EPOCH = date(1970, 1, 1)


def utc_day_number(day: date) -> int:
    """Days since 1970-01-01."""
    return (day - _EPOCH).days


def utc_days(stamps: pd.Series) -> np.ndarray:
    """UTC day number (days since 1970-01-01) of each timestamp (fast ``.dt.date``)."""
    micros = stamps.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]")
    return micros.astype("datetime64[D]").astype("int64")


def utc_date(day_number: int) -> date:
    """Inverse of :func:`utc_day_number`."""
    return _EPOCH + timedelta(days=int(day_number))


class SimulationError(ValueError):
    """Bad simulation arguments (unknown scenario, bad incident, out-of-range date ...)."""


@dataclass
class Simulation:
    """A simulated stream.

    Attributes:
        features: Every generated feature row (drift applied), WITHOUT data-quality
            incidents, sorted by ``event_time``: the stream as it really was. The batches as
            delivered (what :func:`write_simulation` writes) come from :meth:`feature_batch`.
        labels: ALL labels (``loan_id``, ``label_time``, ``defaulted``), including those that
            arrive after the end of the simulation; :meth:`arrived_labels` filters them.
        schedule: The ground truth (drifts, incidents, parameters).
        truth: ``loan_id``, ``event_date`` and the true ``default_probability`` of each row.
        broken_batches: The feature batches of incident days, as delivered.
    """

    features: pd.DataFrame
    labels: pd.DataFrame
    schedule: Schedule
    truth: pd.DataFrame
    broken_batches: dict[date, pd.DataFrame]

    def feature_batch(self, day: date | str) -> pd.DataFrame:
        """The feature partition of ``day`` as delivered (incidents applied).

        Raises:
            KeyError: When ``day`` is outside the simulation.
        """
        day = as_date(day)
        if not self.schedule.start <= day <= self.schedule.end:
            raise KeyError(
                f"{day} is outside the simulation ({self.schedule.start}..{self.schedule.end})"
            )
        if day in self.broken_batches:
            return self.broken_batches[day]
        offset = (day - self.schedule.start).days * self.schedule.rows_per_day
        rows = self.features.iloc[offset : offset + self.schedule.rows_per_day]
        return rows.reset_index(drop=True).copy()

    def feature_batches(self) -> Iterator[tuple[date, pd.DataFrame]]:
        """Every day's feature partition as delivered, in date order."""
        for day in self.schedule.dates():
            yield day, self.feature_batch(day)

    def arrived_labels(self, as_of: date | str | None = None) -> pd.DataFrame:
        """Labels whose ``label_time`` falls on or before ``as_of`` (default: the last day)."""
        limit = as_date(as_of) if as_of is not None else self.schedule.end
        arrival = utc_days(self.labels[LABEL_TIME_COLUMN])
        return self.labels[arrival <= utc_day_number(limit)].reset_index(drop=True)

    def rows_between(self, first: date | str, last: date | str) -> pd.DataFrame:
        """Clean feature rows with event date in ``[first, last]``, joined with their labels."""
        event_day = utc_days(self.features[TIMESTAMP_COLUMN])
        inside = (event_day >= utc_day_number(as_date(first))) & (
            event_day <= utc_day_number(as_date(last))
        )
        rows = self.features[inside]
        return rows.merge(self.labels, on=ID_COLUMN, how="left", validate="one_to_one")


def _scenario(scenario: str | Scenario) -> Scenario:
    if isinstance(scenario, Scenario):
        return scenario
    if scenario not in SCENARIOS:
        raise SimulationError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
    return SCENARIOS[scenario]


def _incident(item: Incident | str, start: date, end: date) -> Incident:
    if isinstance(item, Incident):
        incident = item
    else:
        try:
            kind, day, column = parse_incident(item)
            incident = make_incident(day, kind, column)
        except ValueError as exc:
            raise SimulationError(str(exc)) from None
    if not start <= incident.date <= end:
        raise SimulationError(
            f"incident {incident.kind}@{incident.date}: date is outside the simulation "
            f"({start}..{end})"
        )
    return incident


def _check_rare_values(stream: StreamShape, incidents: list[Incident]) -> None:
    """A rare valid category must not be what a new_category incident injects."""
    rare = {(r.column, r.value) for r in stream.rare_categories}
    for incident in incidents:
        value = incident.params.get("value")
        if incident.kind == "new_category" and (incident.column, value) in rare:
            raise SimulationError(
                f"incident new_category@{incident.date}: {value!r} is a valid rare "
                f"{incident.column} of this stream; choose another value"
            )


def build_schedule(
    scenario: str | Scenario = DEFAULT_SCENARIO,
    days: int | None = None,
    seed: int = 0,
    start: date | str = DEFAULT_START,
    rows_per_day: int | None = None,
    label_delay_days: int = DEFAULT_LABEL_DELAY_DAYS,
    label_jitter_days: int = 0,
    incidents: Iterable[Incident | str] = (),
) -> Schedule:
    """The schedule :func:`simulate` would follow (no data generated).

    Raises:
        SimulationError: Naming the bad argument.
    """
    definition = _scenario(scenario)
    days = definition.days if days is None else days
    rows_per_day = definition.rows_per_day if rows_per_day is None else rows_per_day
    if days < 1:
        raise SimulationError(f"days must be at least 1, got {days}")
    if rows_per_day < 1:
        raise SimulationError(f"rows_per_day must be at least 1, got {rows_per_day}")
    if label_delay_days < 0 or label_jitter_days < 0:
        raise SimulationError(
            f"label delay and jitter cannot be negative, got {label_delay_days} and "
            f"{label_jitter_days}"
        )
    try:
        first = as_date(start)
    except ValueError as exc:
        raise SimulationError(f"start: {exc}") from None
    last = first + timedelta(days=days - 1)
    try:
        drifts = [spec.resolve(first) for spec in definition.drifts if spec.start < days]
        planned = [
            make_incident(first + timedelta(days=spec.day), spec.kind, spec.column, spec.params)
            for spec in definition.incidents
            if spec.day < days
        ]
    except ValueError as exc:
        raise SimulationError(f"scenario {definition.name!r}: {exc}") from None
    extra = [_incident(item, first, last) for item in incidents]
    _check_rare_values(definition.stream, [*planned, *extra])
    return Schedule(
        scenario=definition.name,
        description=definition.description,
        seed=int(seed),
        start=first,
        days=days,
        rows_per_day=rows_per_day,
        label_delay_days=label_delay_days,
        label_jitter_days=label_jitter_days,
        drifts=sorted(drifts, key=lambda d: d.start),
        incidents=sorted([*planned, *extra], key=lambda i: i.date),
        stream=definition.stream,
        outliers=plan_outliers(int(seed), first, days, rows_per_day, definition.stream.heavy_tails),
    )


def simulate(
    scenario: str | Scenario = DEFAULT_SCENARIO,
    days: int | None = None,
    seed: int = 0,
    start: date | str = DEFAULT_START,
    rows_per_day: int | None = None,
    label_delay_days: int = DEFAULT_LABEL_DELAY_DAYS,
    label_jitter_days: int = 0,
    incidents: Iterable[Incident | str] = (),
) -> Simulation:
    """Simulate the loan-default stream of a scenario (pure: nothing is written).

    The same arguments always give byte-identical frames; day ``k`` does not depend on
    ``days``, so a longer simulation extends a shorter one (an ordered stream's blocks are
    fixed by their ``block_days``, not by ``days``).

    Args:
        scenario: A name from :data:`SCENARIOS` or a :class:`Scenario`.
        days: Number of days; default: the scenario's length. Drifts and incidents after the
            last day are left out of the schedule.
        seed: Random seed.
        start: First day.
        rows_per_day: Feature rows per day; default: the scenario's (2,000 unless the
            scenario says otherwise, e.g. 24 for ``small_days``).
        label_delay_days: Labels arrive this many days after the event.
        label_jitter_days: Each label arrives 0..this many days later still.
        incidents: Extra incidents: :class:`Incident` objects or ``KIND@YYYY-MM-DD[:COLUMN]``.

    Returns:
        The simulation: clean features, all labels, the schedule and the broken batches.

    Raises:
        SimulationError: Naming the bad argument.
    """
    schedule = build_schedule(
        scenario,
        days=days,
        seed=seed,
        start=start,
        rows_per_day=rows_per_day,
        label_delay_days=label_delay_days,
        label_jitter_days=label_jitter_days,
        incidents=incidents,
    )
    stream = generate(schedule)
    return Simulation(
        features=stream.features,
        labels=stream.labels,
        schedule=schedule,
        truth=stream.truth,
        broken_batches=stream.broken_batches,
    )
