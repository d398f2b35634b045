"""The shape of a stream: ordered slices, heavy tails and rare categories (pure, no IO).

A :class:`StreamShape` is part of the ground truth (``schedule.stream``): it describes how a
scenario's days differ from i.i.d. draws of the base population WITHOUT any of it being drift
or broken data:

- ``order``: the rows of each block of ``block_days`` days are sorted by a numeric column and
  cut into consecutive days (like a file sorted by location chopped into daily batches);
  within a day rows are sorted by that column and event times still fall inside the day.
  Each day's range of the column moves: a continuous covariate shift by construction.
- ``heavy_tails``: a small share of a column's rows is multiplied by a factor drawn
  log-uniformly from ``[low, high]``: legitimate, isolated extremes (valid outliers). The
  rows it hits are planned from the seed (:func:`plan_outliers`) and listed in
  ``schedule.outliers``.
- ``rare_categories``: extra category values with tiny shares, valid values that a short
  reference window may or may not contain.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

from retrainer.simulate.population import (
    CATEGORICAL_COLUMNS,
    CATEGORIES,
    NULL_RATES,
    NUMERIC_COLUMNS,
    loan_id,
)

# Random streams of a day, keyed by (seed, day index, stream); see retrainer.simulate.generator.
RARE_STREAM = 20_000  # + rare-category index
OUTLIER_STREAM = 30_000  # + heavy-tail index


def day_rng(seed: int, day_index: int, stream: int) -> np.random.Generator:
    """The random stream ``stream`` of day ``day_index`` for ``seed``."""
    return np.random.default_rng([seed, day_index, stream])


@dataclass(frozen=True)
class Ordering:
    """Rows sorted by a numeric column, block by block, and cut into consecutive days.

    Attributes:
        column: The numeric column that orders the stream (ascending).
        block_days: Days per sorted block (block ``b`` covers days ``b*K .. b*K+K-1``); a
            block at least as long as the simulation sorts the whole stream. Blocks do not
            depend on the simulation's length (a cut block is drawn whole), so a longer
            simulation extends a shorter one.
    """

    column: str
    block_days: int

    def __post_init__(self) -> None:
        if self.column not in NUMERIC_COLUMNS:
            raise ValueError(
                f"order: column {self.column!r} is not numeric ({list(NUMERIC_COLUMNS)})"
            )
        if self.block_days < 1:
            raise ValueError(f"order: block_days must be at least 1, got {self.block_days}")


@dataclass(frozen=True)
class HeavyTail:
    """Valid, isolated outliers: a share of a column's rows multiplied by a large factor.

    Attributes:
        column: A numeric column without natural nulls.
        share: Share of rows hit, e.g. 0.002.
        low: Smallest factor (log-uniform between ``low`` and ``high``).
        high: Largest factor.
    """

    column: str
    share: float
    low: float
    high: float

    def __post_init__(self) -> None:
        where = f"heavy tail of {self.column!r}"
        if self.column not in NUMERIC_COLUMNS or self.column in NULL_RATES:
            allowed = [c for c in NUMERIC_COLUMNS if c not in NULL_RATES]
            raise ValueError(f"{where}: needs a numeric column without nulls ({allowed})")
        if not 0 < self.share <= 0.05:
            raise ValueError(f"{where}: share must be in (0, 0.05], got {self.share}")
        if not 0 < self.low <= self.high:
            raise ValueError(f"{where}: factors need 0 < low <= high, got {self.low}..{self.high}")


@dataclass(frozen=True)
class RareCategory:
    """An extra, valid value of a categorical column with a tiny share.

    Attributes:
        column: A categorical column.
        value: The value (not one of the column's usual categories).
        share: Share of rows that take it, e.g. 0.0015.
    """

    column: str
    value: str
    share: float

    def __post_init__(self) -> None:
        where = f"rare category {self.column}={self.value!r}"
        if self.column not in CATEGORICAL_COLUMNS:
            raise ValueError(f"{where}: column is not categorical ({list(CATEGORICAL_COLUMNS)})")
        if self.value in CATEGORIES[self.column][0]:
            raise ValueError(f"{where}: already a usual {self.column}")
        if not 0 < self.share <= 0.05:
            raise ValueError(f"{where}: share must be in (0, 0.05], got {self.share}")


@dataclass(frozen=True)
class StreamShape:
    """How a stream's days depart from i.i.d. draws (see the module docstring).

    Attributes:
        order: Ordered slices; None = days are independent draws.
        heavy_tails: Valid outliers per column.
        rare_categories: Extra valid category values.
    """

    order: Ordering | None = None
    heavy_tails: tuple[HeavyTail, ...] = ()
    rare_categories: tuple[RareCategory, ...] = ()

    def __post_init__(self) -> None:
        pairs = [(r.column, r.value) for r in self.rare_categories]
        if len(set(pairs)) != len(pairs):
            raise ValueError(f"rare categories repeat a value: {pairs}")
        ordered = self.order.column if self.order else None
        if any(t.column == ordered for t in self.heavy_tails):
            raise ValueError(f"heavy tail of {ordered!r}: the column orders the stream")

    def vocabulary(self, column: str) -> tuple[str, ...]:
        """Every valid value of a categorical column: the usual ones, then the rare ones."""
        extra = (r.value for r in self.rare_categories if r.column == column)
        return (*CATEGORIES[column][0], *extra)

    def to_dict(self) -> dict[str, Any]:
        """As a JSON-able dict."""
        return {
            "order": asdict(self.order) if self.order else None,
            "heavy_tails": [asdict(t) for t in self.heavy_tails],
            "rare_categories": [asdict(r) for r in self.rare_categories],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StreamShape:
        """Inverse of :meth:`to_dict` (an empty dict is the i.i.d. stream)."""
        order = data.get("order")
        return cls(
            order=Ordering(**order) if order else None,
            heavy_tails=tuple(HeavyTail(**t) for t in data.get("heavy_tails", ())),
            rare_categories=tuple(RareCategory(**r) for r in data.get("rare_categories", ())),
        )


@dataclass(frozen=True)
class Outlier:
    """One valid outlier: a row whose ``column`` was multiplied by ``factor``.

    Attributes:
        date: The row's event date (its feature partition).
        row: Position of the row in the day's clean batch.
        loan_id: The row's id.
        column: The extreme column.
        factor: What the column's ordinary value was multiplied by.
    """

    date: date
    row: int
    loan_id: str
    column: str
    factor: float

    def to_dict(self) -> dict[str, Any]:
        """As a JSON-able dict."""
        return {**asdict(self), "date": self.date.isoformat()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Outlier:
        """Inverse of :meth:`to_dict`."""
        return cls(**{**data, "date": date.fromisoformat(data["date"])})


def plan_outliers(
    seed: int, start: date, days: int, rows_per_day: int, tails: tuple[HeavyTail, ...]
) -> list[Outlier]:
    """The rows each heavy tail hits, day by day (from the seed alone, before any data).

    Rows are picked by their final position in the day, so the plan holds for ordered
    streams too; a row hit by two tails of the same column keeps the last factor.
    """
    out: list[Outlier] = []
    for day_index in range(days):
        day = start + timedelta(days=day_index)
        for k, tail in enumerate(tails):
            rng = day_rng(seed, day_index, OUTLIER_STREAM + k)
            rows = np.flatnonzero(rng.random(rows_per_day) < tail.share)
            factors = np.exp(rng.uniform(np.log(tail.low), np.log(tail.high), len(rows)))
            out += [
                Outlier(day, int(r), loan_id(day_index * rows_per_day + int(r)), tail.column, f)
                for r, f in zip(rows, factors.tolist(), strict=True)
            ]
    return out
