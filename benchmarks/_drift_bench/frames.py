"""Reading the benchmark frames in a child (pandas; works with pandas 2 and 3)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from _drift_bench.measure import release_arrow_memory


def read_frame(path: Path | None) -> pd.DataFrame:
    """Read one Parquet frame the way a user would (``pandas.read_parquet``).

    Raises:
        ValueError: If the path was not given.
    """
    if path is None:
        raise ValueError("this runner needs a Parquet path that was not given")
    frame = pd.read_parquet(path)
    release_arrow_memory()
    return frame
