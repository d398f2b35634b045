"""Data for drift tests: the drift notes' benchmark layout, built in memory (not a test)."""

from __future__ import annotations

import numpy as np
import pandas as pd

NUMERIC = [f"num_{i:02d}" for i in range(6)]
CATEGORICAL = [f"cat_{j:02d}" for j in range(5)]
LEVELS = (4, 8, 12, 25, 50)


def benchmark_frame(
    n: int, seed: int, drift: bool = False, as_category: bool = False
) -> pd.DataFrame:
    """Like the notes' bench/gen_data.py (fewer numeric columns).

    Known shifts when ``drift``: num_00 mean +0.25 sd, num_01 scale x1.3, num_02 mean
    +0.02 sd (tiny), num_03 lognormal sigma 0.5 -> 0.6, cat_00 frequencies reversed, cat_01
    new level "NEW" at 3%. num_04, num_05, cat_02..cat_04 never drift. Categoricals are
    pandas ``str`` columns, or ``category`` columns (much faster to build) if ``as_category``.
    """
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {}
    for i, name in enumerate(NUMERIC):
        if i == 3:
            data[name] = rng.lognormal(0.0, 0.6 if drift else 0.5, n)
            continue
        loc = {0: 0.25, 2: 0.02}.get(i, 0.0) if drift else 0.0
        scale = 1.3 if drift and i == 1 else 1.0
        data[name] = rng.normal(loc, scale, n) * (1 + i % 3) + i
    for j, k in enumerate(LEVELS):
        name = CATEGORICAL[j]
        levels = np.array([f"{name}_lvl{level:02d}" for level in range(k)])
        p = 1 / np.arange(1, k + 1) ** 0.8
        p /= p.sum()
        if drift and j == 0:
            p = p[::-1]
        codes = rng.choice(k, n, p=p)
        if drift and j == 1:
            levels = np.append(levels, "NEW")
            codes = np.where(rng.random(n) < 0.03, k, codes)
        if as_category:
            data[name] = pd.Categorical.from_codes(codes, categories=levels)
        else:
            data[name] = pd.array(levels[codes], dtype="str")
    return pd.DataFrame(data)


SHIFTED = ["num_00", "num_01", "num_03", "cat_00", "cat_01"]
