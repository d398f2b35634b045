"""The loan-applicant population and the true default concepts (pure numpy, no IO).

The base stream draws one day of applications at a time from a fixed joint distribution with
realistic marginals and correlations (lognormal income, loan amounts tied to income, credit
scores in 300..850, rates priced on score, term and channel). Whether a loan defaults is
drawn from a nonlinear ``P(default | x)`` (thresholds, interactions and a U-shape, so gradient
boosting beats a linear model); alternative concepts describe how that relation changes under
concept drift.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

ID_COLUMN = "loan_id"
TIMESTAMP_COLUMN = "event_time"
LABEL_TIME_COLUMN = "label_time"
TARGET_COLUMN = "defaulted"
ID_PREFIX = "L"
ID_WIDTH = 8  # digits of the row number in a loan id: L00000001

NUMERIC_COLUMNS: tuple[str, ...] = (
    "income",
    "loan_amount",
    "interest_rate",
    "term_months",
    "credit_score",
    "debt_to_income",
    "utilization",
    "age",
    "employment_years",
    "open_accounts",
)

CATEGORIES: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "region": (("north", "east", "west", "central", "south"), (0.26, 0.24, 0.22, 0.18, 0.10)),
    "channel": (("branch", "online", "broker", "partner"), (0.30, 0.42, 0.16, 0.12)),
    "home_ownership": (("rent", "mortgage", "own"), (0.40, 0.42, 0.18)),
    "purpose": (
        (
            "debt_consolidation",
            "credit_card",
            "home_improvement",
            "car",
            "medical",
            "business",
        ),
        (0.34, 0.22, 0.14, 0.14, 0.07, 0.09),
    ),
}
CATEGORICAL_COLUMNS: tuple[str, ...] = tuple(CATEGORIES)
FEATURE_COLUMNS: tuple[str, ...] = (*NUMERIC_COLUMNS, *CATEGORICAL_COLUMNS)
COLUMN_ORDER: tuple[str, ...] = (ID_COLUMN, TIMESTAMP_COLUMN, *FEATURE_COLUMNS)

# Natural missing values: a low rate that does not change over time.
NULL_RATES: dict[str, float] = {"employment_years": 0.01, "utilization": 0.005}

TERMS = np.array([12, 24, 36, 48, 60], dtype=float)


@dataclass(frozen=True)
class NumericScale:
    """How a covariate shift of one "standard deviation" moves a numeric column.

    Attributes:
        sd: One standard deviation, in log units when ``log`` else in the column's units.
        log: Shift in log space (multiplicative), for lognormal columns.
        low: Lower bound after a shift.
        high: Upper bound after a shift.
        step: Rounding step of the stored values (0 = no rounding).
    """

    sd: float
    log: bool
    low: float
    high: float
    step: float


NUMERIC_SCALES: dict[str, NumericScale] = {
    "income": NumericScale(0.45, True, 8_000, 1_000_000, 100),
    "loan_amount": NumericScale(0.55, True, 1_000, 100_000, 50),
    "interest_rate": NumericScale(3.5, False, 3.0, 36.0, 0.01),
    "term_months": NumericScale(14.0, False, 12, 60, 12),
    "credit_score": NumericScale(70.0, False, 300, 850, 1),
    "debt_to_income": NumericScale(0.09, False, 0.0, 1.5, 0.001),
    "utilization": NumericScale(0.22, False, 0.0, 1.0, 0.001),
    "age": NumericScale(11.0, False, 21, 85, 1),
    "employment_years": NumericScale(5.0, False, 0.0, 50.0, 0.1),
    "open_accounts": NumericScale(3.0, False, 0, 40, 1),
}


@dataclass(frozen=True)
class Spread:
    """How a range-widening drift stretches a numeric column.

    Deviations from ``centre`` are multiplied by the drift's factor (in log space when
    ``log``, so the column stays positive), then clipped to the wider physical bounds.

    Attributes:
        centre: The column's typical value (its median in the base population).
        log: Stretch log-deviations (multiplicative), for right-skewed positive columns.
        low: Lower bound of widened values.
        high: Upper bound of widened values (beyond the base clip bound).
    """

    centre: float
    log: bool
    low: float
    high: float


# Columns a ``widen`` drift can stretch. Widened x2, incomes and loan amounts stay inside
# the bounds; debt-to-income is capped at 300% (its top 0.2% would go beyond).
SPREADS: dict[str, Spread] = {
    "income": Spread(52_000, True, 1_000, 5_000_000),
    "loan_amount": Spread(11_000, True, 100, 1_000_000),
    "debt_to_income": Spread(0.18, True, 0.0, 3.0),
}


def loan_id(position: int) -> str:
    """The id of the row at 0-based ``position`` of the stream (``L00000001`` first)."""
    return f"{ID_PREFIX}{position + 1:0{ID_WIDTH}d}"


def _round(values: np.ndarray, step: float) -> np.ndarray:
    if step <= 0:
        return values
    return np.round(values / step) * step


def shift_numeric(column: str, values: np.ndarray, amount: np.ndarray | float) -> np.ndarray:
    """Shift a numeric column by ``amount`` standard deviations (per row), clip and round.

    Missing values stay missing.
    """
    scale = NUMERIC_SCALES[column]
    if scale.log:
        shifted = values * np.exp(np.asarray(amount) * scale.sd)
    else:
        shifted = values + np.asarray(amount) * scale.sd
    shifted = _round(np.clip(shifted, scale.low, scale.high), scale.step)
    return np.where(np.isnan(values), np.nan, shifted)


def widen_numeric(column: str, values: np.ndarray, factor: np.ndarray | float) -> np.ndarray:
    """Multiply deviations from the column's centre by ``factor`` (per row), clip and round.

    Log-space columns are stretched multiplicatively, so they never turn negative. Missing
    values stay missing.
    """
    spread = SPREADS[column]
    if spread.log:
        centre = np.log(spread.centre)
        logs = np.log(np.clip(values, 1e-12, None))
        widened = np.exp(centre + (logs - centre) * np.asarray(factor))
    else:
        widened = spread.centre + (values - spread.centre) * np.asarray(factor)
    widened = _round(np.clip(widened, spread.low, spread.high), NUMERIC_SCALES[column].step)
    return np.where(np.isnan(values), np.nan, widened)


def scale_numeric(column: str, values: np.ndarray, factor: np.ndarray | float) -> np.ndarray:
    """Multiply values by ``factor`` and round to the column's step (no clipping)."""
    return _round(values * np.asarray(factor), NUMERIC_SCALES[column].step)


def category_code(column: str, value: str) -> int:
    """The integer code of a category (its position in :data:`CATEGORIES`)."""
    return CATEGORIES[column][0].index(value)


def draw_categories(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Draw the categorical columns as integer codes into :data:`CATEGORIES`."""
    out: dict[str, np.ndarray] = {}
    for column, (_, probs) in CATEGORIES.items():
        edges = np.cumsum(probs)[:-1]
        out[column] = np.searchsorted(edges, rng.random(n), side="right")
    return out


def _lookup(codes: np.ndarray, column: str, table: dict[str, float]) -> np.ndarray:
    """Per-row effect of a categorical column's codes.

    0 for categories not in ``table`` and for codes past :data:`CATEGORIES` (a stream's rare
    extra values are neutral).
    """
    effects = np.array([*(table.get(value, 0.0) for value in CATEGORIES[column][0]), 0.0])
    return effects[np.minimum(codes, len(effects) - 1)]


def draw_numeric(rng: np.random.Generator, cats: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Draw the numeric columns for rows with the given category codes (base distribution)."""
    n = len(cats["region"])
    z = rng.standard_normal((6, n))
    age = np.clip(np.round(21 + rng.gamma(4.0, 5.0, n)), 21, 80)
    employment = np.minimum(age - 18, np.round(rng.gamma(1.6, 4.0, n), 1))
    log_income = (
        10.75
        + 0.012 * (age - 40)
        - 0.0004 * (age - 40) ** 2
        + 0.02 * np.minimum(employment, 20)
        + _lookup(
            cats["home_ownership"], "home_ownership", {"rent": -0.12, "mortgage": 0.12, "own": 0.05}
        )
        + _lookup(cats["region"], "region", {"north": 0.05, "central": 0.08, "south": -0.10})
        + 0.40 * z[0]
    )
    income = np.round(np.clip(np.exp(log_income), 12_000, 600_000), -2)
    score = (
        655
        + 52 * z[1]
        + 32 * (np.log(income) - 10.8)
        + 1.1 * np.minimum(employment, 20)
        + 0.5 * (age - 40)
    )
    credit_score = np.clip(np.round(score), 300, 850)
    s = (credit_score - 665) / 70
    utilization = np.round(1 / (1 + np.exp(-(-0.35 - 0.9 * s + 0.8 * z[2]))), 3)
    accounts_mean = np.clip(2.0 + 0.08 * (age - 21) + 1.5 * utilization, 0.5, None)
    open_accounts = np.clip(rng.poisson(accounts_mean), 0, 30).astype(float)
    log_loan = (
        np.log(income)
        - 1.55
        + _lookup(
            cats["purpose"],
            "purpose",
            {
                "home_improvement": 0.30,
                "car": 0.10,
                "business": 0.45,
                "medical": -0.50,
                "credit_card": -0.40,
            },
        )
        + 0.40 * z[3]
    )
    loan_amount = np.round(np.clip(np.exp(log_loan), 1_000, 100_000) / 50) * 50
    term_index = np.clip(np.round((np.log(loan_amount) - 8.3) * 1.3 + 0.8 * z[4]), 0, 4)
    term_months = TERMS[term_index.astype(int)]
    debt_to_income = np.round(
        np.clip(np.exp(-1.75 + 0.45 * z[5] + 0.5 * (utilization - 0.4)), 0.0, 1.2), 3
    )
    interest_rate = (
        4.0
        + 0.045 * (800 - credit_score)
        + 0.35 * (term_months - 36) / 12
        + _lookup(cats["channel"], "channel", {"branch": -0.3, "broker": 1.2, "partner": 0.6})
        + 1.2 * rng.standard_normal(n)
    )
    interest_rate = np.round(np.clip(interest_rate, 3.0, 36.0), 2)
    columns = {
        "income": income,
        "loan_amount": loan_amount,
        "interest_rate": interest_rate,
        "term_months": term_months,
        "credit_score": credit_score,
        "debt_to_income": debt_to_income,
        "utilization": utilization,
        "age": age,
        "employment_years": employment,
        "open_accounts": open_accounts,
    }
    for column, rate in NULL_RATES.items():
        values = columns[column].astype(float)
        values[rng.random(n) < rate] = np.nan
        columns[column] = values
    return columns


# -- concepts ------------------------------------------------------------------------------


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _fill(values: np.ndarray, default: float) -> np.ndarray:
    return np.where(np.isnan(values), default, values)


def _burden(cols: dict[str, np.ndarray]) -> np.ndarray:
    """Annual repayment of the new loan as a share of income."""
    r = cols["interest_rate"] / 1200
    n = cols["term_months"]
    payment = cols["loan_amount"] * r / (1 - (1 + r) ** -n)
    return 12 * payment / cols["income"]


def base_concept(cols: dict[str, np.ndarray]) -> np.ndarray:
    """Log-odds of default under the original concept."""
    s = (cols["credit_score"] - 665) / 70
    dti = cols["debt_to_income"]
    util = _fill(cols["utilization"], 0.4)
    employment = cols["employment_years"]
    age = cols["age"]
    return (
        -2.65
        - 1.00 * s
        + 1.9 * _sigmoid((dti - 0.36) / 0.03)
        + 6.0 * np.maximum(_burden(cols) - 0.14, 0)
        + 1.4 * ((util > 0.8) & (s < 0.3))
        + 0.60 * ((age - 42) / 12) ** 2
        - 0.07 * np.minimum(_fill(employment, 0), 10)
        + 0.4 * np.isnan(employment)
        + _lookup(
            cols["purpose"],
            "purpose",
            {
                "business": 0.45,
                "medical": 0.30,
                "debt_consolidation": 0.15,
                "credit_card": 0.10,
                "car": -0.15,
                "home_improvement": -0.25,
            },
        )
        + _lookup(
            cols["channel"],
            "channel",
            {"branch": -0.25, "online": 0.05, "broker": 0.30, "partner": 0.15},
        )
    )


def downturn_concept(cols: dict[str, np.ndarray]) -> np.ndarray:
    """Log-odds of default in a downturn: leverage and utilization dominate, score matters less.

    Young borrowers, large and long loans and home-improvement/business loans turn risky while
    the old credit-score ladder flattens: a model fitted on the base concept ranks many of the
    new defaulters as safe.
    """
    s = (cols["credit_score"] - 665) / 70
    dti = cols["debt_to_income"]
    util = _fill(cols["utilization"], 0.4)
    age = cols["age"]
    return (
        -2.65
        - 0.20 * s
        + 1.6 * _sigmoid((dti - 0.22) / 0.03)
        + 1.8 * (util - 0.4)
        - 0.9 * (age - 40) / 12
        + 0.6 * (cols["term_months"] >= 48)
        + 0.5 * (np.log(cols["loan_amount"]) - 9.5)
        + _lookup(
            cols["purpose"],
            "purpose",
            {
                "business": 0.55,
                "medical": -0.20,
                "debt_consolidation": -0.20,
                "credit_card": -0.30,
                "car": 0.15,
                "home_improvement": 0.60,
            },
        )
        + _lookup(
            cols["channel"],
            "channel",
            {"branch": 0.35, "online": -0.20, "broker": -0.10, "partner": 0.10},
        )
    )


def base_rate_concept(cols: dict[str, np.ndarray]) -> np.ndarray:
    """The base concept with log-odds one higher: a pure change in the base rate."""
    return base_concept(cols) + 1.0


ConceptFunction = Callable[[dict[str, np.ndarray]], np.ndarray]

CONCEPTS: dict[str, ConceptFunction] = {
    "base": base_concept,
    "downturn": downturn_concept,
    "base_rate": base_rate_concept,
}
