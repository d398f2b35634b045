"""Synthetic reference/current data with known shifts, written once per size to Parquet.

Columns: ``num_00`` … ``num_19`` (float64) and ``cat_00`` … ``cat_04`` (strings with 4/8/12/25/50
levels). Known shifts of the current data against the reference:

* ``num_00``: normal, mean +0.25σ
* ``num_01``: normal, scale ×1.3
* ``num_02``: normal, mean +0.02σ (tiny: should NOT be flagged)
* ``num_03``: lognormal, σ 0.5 → 0.6
* ``cat_00``: level frequencies reversed
* ``cat_01``: new level ``"NEW"`` at 3 %

The other 16 numeric and 3 categorical columns are drawn from the same distribution on both
sides. Only numpy and pyarrow are used, so the module imports in both venvs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

# Bump when the generator changes, so cached Parquet files are regenerated.
DATA_VERSION = 1
DEFAULT_SEED = 20240611

NUMERIC = [f"num_{i:02d}" for i in range(20)]
CATEGORICAL = [f"cat_{i:02d}" for i in range(5)]
CATEGORY_LEVELS = [4, 8, 12, 25, 50]

TRUE_DRIFT = ["num_00", "num_01", "num_03", "cat_00", "cat_01"]
TINY_DRIFT = ["num_02"]  # a real but negligible shift: flagging it counts as a false positive

# Row-group size of the Parquet files (the streaming runner reads one batch at a time).
ROW_GROUP_ROWS = 250_000


def _rng(seed: int, *labels: object) -> np.random.Generator:
    """A generator seeded from ``seed`` and labels (stable across processes and Python runs)."""
    digest = hashlib.sha256(repr((seed, *labels)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _category_probs(levels: int) -> np.ndarray:
    """Zipf-like level frequencies (most frequent first)."""
    weights = 1.0 / np.arange(1, levels + 1) ** 0.8
    return weights / weights.sum()


def _numeric_column(rng: np.random.Generator, index: int, n: int, current: bool) -> np.ndarray:
    """Draw one numeric column; ``current`` applies the column's known shift."""
    if index == 0:
        return rng.normal(0.25 if current else 0.0, 1.0, n)
    if index == 1:
        return rng.normal(0.0, 1.3 if current else 1.0, n)
    if index == 2:
        return rng.normal(0.02 if current else 0.0, 1.0, n)
    if index == 3:
        return rng.lognormal(0.0, 0.6 if current else 0.5, n)
    # No drift: a mix of shapes (normal, skewed, heavy-tailed, bounded) at different scales.
    kind = index % 4
    if kind == 0:
        return rng.normal(10.0 * index, 1.0 + index / 10.0, n)
    if kind == 1:
        return rng.exponential(1.0 + index / 5.0, n)
    if kind == 2:
        return rng.standard_t(5.0, n) * index
    return rng.uniform(-index, 2.0 * index, n)


def _categorical_column(
    rng: np.random.Generator, index: int, n: int, current: bool
) -> pa.DictionaryArray:
    """Draw one categorical column as a pyarrow dictionary array of strings."""
    levels = [f"c{index:02d}_v{j:02d}" for j in range(CATEGORY_LEVELS[index])]
    probs = _category_probs(len(levels))
    if current and index == 0:
        probs = probs[::-1].copy()
    if current and index == 1:
        levels = [*levels, "NEW"]
        probs = np.append(probs * 0.97, 0.03)
    codes = rng.choice(len(levels), size=n, p=probs).astype(np.int32)
    return pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(levels, type=pa.string()))


def make_table(n: int, seed: int, side: str, part: int = 0) -> pa.Table:
    """Build one frame as a pyarrow table.

    Args:
        n: Number of rows.
        seed: Base seed.
        side: ``"reference"`` or ``"current"`` (the current side carries the shifts).
        part: Chunk index, so large files can be generated in independent pieces.

    Returns:
        A table with the 20 numeric and 5 string columns.
    """
    if side not in ("reference", "current"):
        raise ValueError(f"side must be 'reference' or 'current', got {side!r}")
    current = side == "current"
    columns: dict[str, pa.Array] = {}
    for i, name in enumerate(NUMERIC):
        columns[name] = pa.array(_numeric_column(_rng(seed, side, n, part, name), i, n, current))
    for i, name in enumerate(CATEGORICAL):
        values = _categorical_column(_rng(seed, side, n, part, name), i, n, current)
        columns[name] = values.cast(pa.string())  # plain strings, as a user's frame would have
    return pa.table(columns)


def data_paths(cache_dir: Path, n: int, seed: int) -> tuple[Path, Path]:
    """Paths of the reference and current Parquet files for ``n`` rows."""
    stem = f"v{DATA_VERSION}_s{seed}_n{n}"
    return cache_dir / f"{stem}_reference.parquet", cache_dir / f"{stem}_current.parquet"


def ensure_frames(cache_dir: Path, n: int, seed: int = DEFAULT_SEED) -> tuple[Path, Path]:
    """Write the reference and current files for ``n`` rows unless they are cached.

    Args:
        cache_dir: Directory for the Parquet files (created if missing).
        n: Rows per frame.
        seed: Base seed.

    Returns:
        The reference and current paths.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    paths = data_paths(cache_dir, n, seed)
    for side, path in zip(("reference", "current"), paths, strict=True):
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            pq.write_table(make_table(n, seed, side), tmp, row_group_size=ROW_GROUP_ROWS)
            tmp.rename(path)
    return paths


def ensure_stream_file(
    cache_dir: Path, rows: int, seed: int = DEFAULT_SEED, chunk_rows: int = 1_000_000
) -> Path:
    """Write ``rows`` rows of current data to one Parquet file, chunk by chunk (bounded memory).

    Args:
        cache_dir: Directory for the file (created if missing).
        rows: Total rows.
        seed: Base seed.
        chunk_rows: Rows generated per step; row groups hold ``ROW_GROUP_ROWS`` rows.

    Returns:
        The path of the file.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"v{DATA_VERSION}_s{seed}_stream{rows}_current.parquet"
    if path.exists():
        return path
    tmp = path.with_suffix(".tmp")
    writer: pq.ParquetWriter | None = None
    try:
        for part, start in enumerate(range(0, rows, chunk_rows)):
            table = make_table(min(chunk_rows, rows - start), seed, "current", part=part + 1)
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
    finally:
        if writer is not None:
            writer.close()
    tmp.rename(path)
    return path
