"""The A/B test's statistics: the sample it needs, and the comparison at its horizon.

The two arms see different requests (a sticky split), so the primary metric — a rate such as
accuracy — is compared as two independent proportions: the required labelled requests per
arm from the minimum detectable effect and power (the fixed horizon), and a two-sided
z-test with a Wald interval of the difference at the end.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from scipy.stats import norm


@dataclass(frozen=True)
class Comparison:
    """Challenger minus champion on the primary metric, with its interval.

    Attributes:
        delta: The difference (positive: the challenger is better, for a higher-is-better
            metric; the caller flips the sign otherwise).
        low: Lower end of the ``1 - alpha`` interval.
        high: Upper end.
        p_value: Two-sided p-value of "no difference".
        n_champion: Labelled requests of the champion's arm.
        n_challenger: Labelled requests of the challenger's arm.
    """

    delta: float
    low: float
    high: float
    p_value: float
    n_champion: int
    n_challenger: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return asdict(self)


def required_per_arm(baseline: float, effect: float, alpha: float, power: float) -> int:
    """Labelled requests per arm to detect ``effect`` on a rate of ``baseline``.

    The classical two-proportion formula (pooled variance under the null, unpooled under the
    alternative), rounded up.

    Raises:
        ValueError: A baseline outside (0, 1) or an effect that leaves it.
    """
    if not 0 < baseline < 1:
        raise ValueError(f"baseline rate {baseline} is not between 0 and 1")
    other = baseline + effect if baseline + effect < 1 else baseline - effect
    if not 0 < other < 1:
        raise ValueError(f"effect {effect} leaves the rate range from {baseline}")
    pooled = (baseline + other) / 2
    z_alpha = norm.ppf(1 - alpha / 2)
    z_power = norm.ppf(power)
    spread = z_alpha * math.sqrt(2 * pooled * (1 - pooled)) + z_power * math.sqrt(
        baseline * (1 - baseline) + other * (1 - other)
    )
    return math.ceil((spread / effect) ** 2)


def compare_rates(
    hits_champion: int, n_champion: int, hits_challenger: int, n_challenger: int, alpha: float
) -> Comparison:
    """Two-sided z-test of two independent proportions (challenger minus champion).

    Raises:
        ValueError: An arm without labelled requests.
    """
    if n_champion <= 0 or n_challenger <= 0:
        raise ValueError("both arms need labelled requests")
    p_a, p_b = hits_champion / n_champion, hits_challenger / n_challenger
    delta = p_b - p_a
    pooled = (hits_champion + hits_challenger) / (n_champion + n_challenger)
    se_null = math.sqrt(pooled * (1 - pooled) * (1 / n_champion + 1 / n_challenger))
    p_value = 1.0 if se_null == 0 else float(2 * norm.sf(abs(delta) / se_null))
    se = math.sqrt(p_a * (1 - p_a) / n_champion + p_b * (1 - p_b) / n_challenger)
    z = norm.ppf(1 - alpha / 2)
    return Comparison(delta, delta - z * se, delta + z * se, p_value, n_champion, n_challenger)
