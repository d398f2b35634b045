"""Named scenarios: drifts and incidents as pure data, onsets in days from the start.

Add a scenario by adding a :class:`Scenario` to :data:`SCENARIOS`; every field of a
:class:`DriftSpec` is documented on :class:`retrainer.simulate.schedule.Drift`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from retrainer.simulate.schedule import CONCEPT_COLUMNS, Drift
from retrainer.simulate.stream import HeavyTail, Ordering, RareCategory, StreamShape

DEFAULT_ROWS_PER_DAY = 2000


@dataclass(frozen=True)
class DriftSpec:
    """A drift of a scenario; ``start``/``end`` are day offsets from the simulation start.

    Attributes:
        id: Unique name within the scenario.
        kind: ``covariate`` or ``concept``.
        pattern: ``sudden``, ``gradual``, ``incremental``, ``recurring`` or ``seasonal``.
        start: Offset of the first day with an effect.
        end: Offset of the pattern's end (see :mod:`retrainer.simulate.schedule`).
        columns: Drifting columns (concept drift: default = the concept's columns).
        magnitude: Strength (see :class:`retrainer.simulate.schedule.Drift`).
        description: What happens, in words.
        segment: Restrict to rows matching every ``column: value``.
        period_days: Phase (recurring) or cycle (seasonal) length.
        target: Category rows move to (categorical covariate drift).
        concept: The new concept (concept drift).
        effect: ``shift`` or ``widen`` (numeric covariate drift).
    """

    id: str
    kind: str
    pattern: str
    start: int
    end: int | None = None
    columns: tuple[str, ...] = ()
    magnitude: float = 1.0
    description: str = ""
    segment: dict[str, str] | None = None
    period_days: int | None = None
    target: str | None = None
    concept: str | None = None
    effect: str = "shift"

    def resolve(self, start: date) -> Drift:
        """The drift with dates for a simulation starting on ``start``."""
        columns = self.columns
        if self.kind == "concept" and not columns:
            columns = CONCEPT_COLUMNS.get(self.concept or "", ())
        return Drift(
            id=self.id,
            kind=self.kind,
            pattern=self.pattern,
            start=start + timedelta(days=self.start),
            end=start + timedelta(days=self.end) if self.end is not None else None,
            columns=tuple(columns),
            magnitude=self.magnitude,
            description=self.description,
            segment=dict(self.segment) if self.segment else None,
            period_days=self.period_days,
            target=self.target,
            concept=self.concept,
            expected=self.pattern == "seasonal",
            effect=self.effect,
        )


@dataclass(frozen=True)
class IncidentSpec:
    """An incident of a scenario on day offset ``day`` (column/params: kind defaults if unset)."""

    day: int
    kind: str
    column: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    """A named, reproducible stream definition.

    Attributes:
        name: What ``--scenario`` takes.
        description: One line for ``--list-scenarios``.
        days: Default length in days.
        drifts: The drifts.
        incidents: The data-quality incidents.
        rows_per_day: Feature rows per day unless the caller chooses another number.
        stream: The stream's shape: ordered slices, heavy tails, rare categories.
    """

    name: str
    description: str
    days: int = 120
    drifts: tuple[DriftSpec, ...] = ()
    incidents: tuple[IncidentSpec, ...] = ()
    rows_per_day: int = DEFAULT_ROWS_PER_DAY
    stream: StreamShape = field(default_factory=StreamShape)

    def summary(self) -> dict[str, Any]:
        """A JSON-able overview (for ``--list-scenarios``)."""
        return {
            "name": self.name,
            "description": self.description,
            "days": self.days,
            "rows_per_day": self.rows_per_day,
            "drifts": [
                {
                    "id": d.id,
                    "kind": d.kind,
                    "pattern": d.pattern,
                    "effect": d.effect,
                    "start_day": d.start,
                    "end_day": d.end,
                    "columns": list(d.columns) or list(CONCEPT_COLUMNS.get(d.concept or "", ())),
                    "segment": d.segment,
                    "description": d.description,
                }
                for d in self.drifts
            ],
            "incidents": [
                {"day": i.day, "kind": i.kind, "column": i.column} for i in self.incidents
            ],
            "stream": self.stream.to_dict(),
        }


# -- building blocks (reused by several scenarios) ------------------------------------------

_INCOME_DROP = {
    "kind": "covariate",
    "columns": ("income",),
    "magnitude": -0.9,
    "description": "applicants' incomes fall by ~33% (a lower-income population applies)",
}
_DOWNTURN = {
    "kind": "concept",
    "concept": "downturn",
    "magnitude": 1.0,
    "description": "downturn: leverage and utilization drive defaults, the score ladder "
    "flattens, young borrowers and large long loans turn risky",
}


# Valid values a 60-day reference of small days may or may not contain.
_RARE_CATEGORIES = (
    RareCategory("purpose", "education", 0.0015),
    RareCategory("purpose", "wedding", 0.003),
    RareCategory("region", "islands", 0.002),
)
_INCOME_TAIL = HeavyTail("income", share=0.002, low=10.0, high=30.0)


def _yearly(column: str, magnitude: float, what: str) -> DriftSpec:
    """A yearly cycle (expected variation) of a numeric column, peaking around day 91."""
    return _spec(
        f"yearly_{column}_cycle",
        "seasonal",
        0,
        kind="covariate",
        columns=(column,),
        magnitude=magnitude,
        period_days=365,
        description=f"{what} follow a yearly cycle ({magnitude:+g} sd at the spring peak)",
    )


def _spec(id: str, pattern: str, start: int, end: int | None = None, **values: Any) -> DriftSpec:
    return DriftSpec(id=id, pattern=pattern, start=start, end=end, **values)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in [
        Scenario("stable", "no drift, no incidents: every day comes from the same distribution"),
        Scenario(
            "sudden",
            "covariate drift: incomes drop in one step on day 60",
            drifts=(_spec("income_drop", "sudden", 60, **_INCOME_DROP),),
        ),
        Scenario(
            "gradual",
            "covariate drift: a growing share of subprime applicants (credit score -0.8 sd) "
            "between days 50 and 79",
            drifts=(
                _spec(
                    "subprime_mix",
                    "gradual",
                    50,
                    79,
                    kind="covariate",
                    columns=("credit_score",),
                    magnitude=-0.8,
                    description="a growing share of applicants comes from a subprime "
                    "population (credit score 0.8 sd lower)",
                ),
            ),
        ),
        Scenario(
            "incremental",
            "covariate drift: loan amounts inflate continuously (+1 sd) between days 50 and 89",
            drifts=(
                _spec(
                    "loan_inflation",
                    "incremental",
                    50,
                    89,
                    kind="covariate",
                    columns=("loan_amount",),
                    magnitude=1.0,
                    description="loan amounts grow steadily (+1 sd on the log scale, ~+70%)",
                ),
            ),
        ),
        Scenario(
            "recurring",
            "covariate drift: broker campaigns every other fortnight from day 42 move 35% of "
            "applications to the broker channel",
            drifts=(
                _spec(
                    "broker_campaign",
                    "recurring",
                    42,
                    kind="covariate",
                    columns=("channel",),
                    target="broker",
                    magnitude=0.35,
                    period_days=14,
                    description="broker campaigns: 14 days on, 14 days off; 35% of "
                    "applications come through brokers while on",
                ),
            ),
        ),
        Scenario(
            "seasonal",
            "expected variation only: a weekly cycle in loan amounts and a 30-day cycle in "
            "the default base rate",
            drifts=(
                _spec(
                    "weekly_loan_cycle",
                    "seasonal",
                    0,
                    kind="covariate",
                    columns=("loan_amount",),
                    magnitude=0.5,
                    period_days=7,
                    description="loan amounts follow a weekly cycle (±0.5 sd)",
                ),
                _spec(
                    "monthly_default_cycle",
                    "seasonal",
                    0,
                    kind="concept",
                    concept="base_rate",
                    magnitude=0.4,
                    period_days=30,
                    description="the default base rate follows a 30-day pay cycle (±0.4 log-odds)",
                ),
            ),
        ),
        Scenario(
            "concept_sudden",
            "concept drift: the downturn concept replaces the old one on day 60",
            drifts=(_spec("downturn", "sudden", 60, **_DOWNTURN),),
        ),
        Scenario(
            "concept_gradual",
            "concept drift: a growing share of loans follows the downturn concept between "
            "days 50 and 79",
            drifts=(_spec("downturn", "gradual", 50, 79, **_DOWNTURN),),
        ),
        Scenario(
            "concept_incremental",
            "concept drift: the default relation moves continuously to the downturn concept "
            "between days 50 and 89",
            drifts=(_spec("downturn", "incremental", 50, 89, **_DOWNTURN),),
        ),
        Scenario(
            "concept_recurring",
            "concept drift: the downturn concept returns every other fortnight from day 42",
            drifts=(_spec("downturn", "recurring", 42, period_days=14, **_DOWNTURN),),
        ),
        Scenario(
            "segment_concept",
            "concept drift only in region south (10% of loans) from day 60: the segment's "
            "metric falls, the overall metric barely moves",
            drifts=(
                _spec(
                    "south_downturn",
                    "sudden",
                    60,
                    **{**_DOWNTURN, "description": "a regional downturn in the south"},
                    segment={"region": "south"},
                ),
            ),
        ),
        Scenario(
            "segment_covariate",
            "covariate drift only in region south from day 60: incomes there drop",
            drifts=(
                _spec(
                    "south_income_drop",
                    "sudden",
                    60,
                    **{**_INCOME_DROP, "description": "incomes drop in the south"},
                    segment={"region": "south"},
                ),
            ),
        ),
        Scenario(
            "showcase",
            "several drifts and incidents, well separated, over 210 days",
            days=210,
            drifts=(
                _spec("income_drop", "sudden", 30, **_INCOME_DROP),
                _spec("downturn", "gradual", 60, 74, **_DOWNTURN),
                _spec(
                    "loan_inflation",
                    "incremental",
                    100,
                    129,
                    kind="covariate",
                    columns=("loan_amount",),
                    magnitude=1.0,
                    description="loan amounts grow steadily (+1 sd on the log scale)",
                ),
                _spec(
                    "south_shock",
                    "sudden",
                    150,
                    kind="concept",
                    concept="base_rate",
                    magnitude=1.2,
                    segment={"region": "south"},
                    description="defaults jump in the south (+1.2 log-odds)",
                ),
                _spec(
                    "broker_campaign",
                    "recurring",
                    170,
                    kind="covariate",
                    columns=("channel",),
                    target="broker",
                    magnitude=0.35,
                    period_days=10,
                    description="broker campaigns: 10 days on, 10 days off",
                ),
            ),
            incidents=(
                IncidentSpec(45, "unit_change", "loan_amount"),
                IncidentSpec(90, "null_burst", "income"),
                IncidentSpec(140, "schema_break", "debt_to_income"),
                IncidentSpec(185, "new_category", "channel"),
            ),
        ),
        Scenario(
            "small_days",
            "24 rows a day for a year, no drift: rare valid categories, valid income "
            "outliers (0.2% of rows x10-x30), a yearly cycle in loan amounts",
            days=365,
            rows_per_day=24,
            drifts=(_yearly("loan_amount", 0.8, "loan amounts"),),
            stream=StreamShape(heavy_tails=(_INCOME_TAIL,), rare_categories=_RARE_CATEGORIES),
        ),
        Scenario(
            "ordered_slices",
            "40 rows a day for 240 days cut from one file sorted by credit score: each day "
            "covers the next score range (a covariate shift by construction, not drift)",
            days=240,
            rows_per_day=40,
            stream=StreamShape(order=Ordering("credit_score", block_days=240)),
        ),
        Scenario(
            "yearly_cycle",
            "300 rows a day for a year, no drift: strong yearly cycles in loan amounts and "
            "(opposite) incomes, rare valid categories",
            days=365,
            rows_per_day=300,
            drifts=(
                _yearly("loan_amount", 1.0, "loan amounts"),
                _yearly("income", -0.6, "incomes"),
            ),
            stream=StreamShape(rare_categories=_RARE_CATEGORIES),
        ),
        Scenario(
            "range_widening",
            "300 rows a day for 150 days: clean until day 79, then loan amounts spread twice "
            "as wide around their centre (log scale): a covariate drift, not broken data",
            days=150,
            rows_per_day=300,
            drifts=(
                _spec(
                    "loan_range_widening",
                    "sudden",
                    80,
                    kind="covariate",
                    columns=("loan_amount",),
                    magnitude=2.0,
                    effect="widen",
                    description="a broader clientele: loan amounts deviate twice as far from "
                    "their centre on the log scale (micro loans from 100, jumbo loans to 1M)",
                ),
            ),
        ),
        Scenario(
            "demo",
            "make demo: clean until day 69, incomes drop on day 70 (2026-03-12 from the "
            "default start), a unit_change batch on day 80, the downturn concept from day 95",
            days=120,
            drifts=(
                _spec("income_drop", "sudden", 70, **_INCOME_DROP),
                _spec("downturn", "sudden", 95, **_DOWNTURN),
            ),
            incidents=(IncidentSpec(80, "unit_change", "loan_amount"),),
        ),
        Scenario(
            "loop",
            "retrainer demo: the whole loop in 44 days: clean until day 21, incomes drop on "
            "day 22, the downturn concept from day 23, a unit_change batch on day 25",
            days=44,
            drifts=(
                _spec("income_drop", "sudden", 22, **_INCOME_DROP),
                _spec("downturn", "sudden", 23, **_DOWNTURN),
            ),
            incidents=(IncidentSpec(25, "unit_change", "loan_amount"),),
        ),
    ]
}

DEFAULT_SCENARIO = "demo"
