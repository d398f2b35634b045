"""The baseline profile: the reference data summarised once and saved with the model.

A profile holds, per column, everything a drift comparison needs, so comparing a current
window against a saved profile never reads the reference rows:

* numeric: row and null counts, mean, standard deviation (ddof=0), min/max, a few quantiles,
  the PSI quantile edges, the plotting-histogram edges and the knot sketch
  (:mod:`retrainer.drift.sketch`) from which PSI/JS/KL counts (exact), KS and Wasserstein
  (within the sketch's error bound) are computed;
* categorical: row and null counts, the categories and their counts (missing values are
  counted separately and compared as their own category);
* embedding: row and null counts, the dimension, a uniform sample of at most
  ``embedding.sample_size`` rows (float32) and the kernel bandwidth.

``to_dict`` gives plain JSON types; large arrays are stored as base64 of little-endian
bytes. A numeric column takes about 50 KB with the default 2,048 knots (about 30 KB
gzipped), a categorical column a few hundred bytes, an embedding column
``4 * sample_size * dim`` bytes before base64 (about 680 KB for 2,000 x 64). ``save``
writes JSON (gzip-compressed when the name ends in ``.gz``).
"""

from __future__ import annotations

import base64
import gzip
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from retrainer.drift.sketch import NumericSketch, choose_knots, sketch_sorted
from retrainer.drift.stats import quantile_edges, sorted_quantile

FORMAT_VERSION = 1
_QUANTILE_LEVELS = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
_HISTOGRAM_RANGE = (0.001, 0.999)


GZIP_MAGIC = b"\x1f\x8b"
"""The first two bytes of a gzip stream."""


class ProfileError(ValueError):
    """A profile that cannot be read or does not fit the data."""


# ---------------------------------------------------------------------------------------------
# Encoding helpers
# ---------------------------------------------------------------------------------------------


def _encode_array(array: np.ndarray, dtype: str) -> dict[str, Any]:
    data = np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder("<"))
    return {
        "dtype": data.dtype.str,
        "shape": list(data.shape),
        "base64": base64.b64encode(data.tobytes()).decode("ascii"),
    }


def _encode_counts(counts: np.ndarray) -> dict[str, Any]:
    """Non-negative integer counts in the smallest unsigned type that holds them."""
    largest = int(counts.max(initial=0))
    for dtype in ("<u1", "<u2", "<u4", "<u8"):
        if largest <= np.iinfo(np.dtype(dtype)).max:
            return _encode_array(counts, dtype)
    raise ValueError(f"count {largest} does not fit in 64 bits")


def _decode_array(payload: dict[str, Any]) -> np.ndarray:
    raw = base64.b64decode(payload["base64"])
    array = np.frombuffer(raw, dtype=np.dtype(payload["dtype"])).reshape(payload["shape"])
    return array.astype(array.dtype.newbyteorder("="))


def _float_or_none(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def category_key(value: Any) -> Any:
    """A category as a JSON scalar (str, int, float, bool); other objects become str."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


# ---------------------------------------------------------------------------------------------
# Column profiles
# ---------------------------------------------------------------------------------------------


def numeric_values(series: pd.Series, column: str) -> np.ndarray:
    """A numeric column as float64 (NaN for missing), without copying when possible.

    Args:
        series: The column.
        column: Its name, for the error message.

    Returns:
        A float64 array.

    Raises:
        ValueError: The column is not numeric or boolean.
    """
    if not (pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series)):
        raise ValueError(
            f"column {column!r} is declared numeric but has dtype {series.dtype}; declare it "
            "categorical or convert it"
        )
    if series.dtype == np.float64:
        return series.to_numpy()  # a view: NaN already marks missing values
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def finite_sorted(values: np.ndarray) -> np.ndarray:
    """Sorted copy of the finite values (NaN and +-inf count as missing)."""
    finite = np.isfinite(values)
    if not finite.all():
        values = values[finite]
    return np.sort(values)


@dataclass
class NumericProfile:
    """Reference summary of a numeric column (see the module docstring)."""

    kind: ClassVar[str] = "numeric"
    n_rows: int
    n_missing: int
    mean: float | None
    std: float | None
    minimum: float | None
    maximum: float | None
    quantiles: dict[str, float]
    psi_edges: np.ndarray
    histogram_edges: np.ndarray
    knots: np.ndarray
    exact: bool
    sketch: NumericSketch

    @property
    def n_valid(self) -> int:
        """Finite reference values."""
        return self.n_rows - self.n_missing

    @property
    def psi_counts(self) -> np.ndarray:
        """Reference counts in the PSI bins."""
        return self.sketch.bin_counts(self.knots, self.psi_edges)

    @property
    def histogram_counts(self) -> np.ndarray:
        """Reference counts in the histogram bins (outer bins open-ended)."""
        return self.sketch.bin_counts(self.knots, self.histogram_edges[1:-1])

    @classmethod
    def build(
        cls, values: np.ndarray, psi_bins: int, sketch_size: int, histogram_bins: int
    ) -> tuple[NumericProfile, np.ndarray]:
        """Profile a numeric column.

        Args:
            values: float64 values (NaN/inf = missing).
            psi_bins: Quantile bins for PSI/JS/KL.
            sketch_size: Rank gaps of the knot sketch.
            histogram_bins: Equal-width plotting bins.

        Returns:
            The profile and the sorted finite values (for exact comparisons).
        """
        sorted_values = finite_sorted(values)
        n_valid = len(sorted_values)
        n_missing = len(values) - n_valid
        if n_valid == 0:
            empty = np.empty(0)
            return (
                cls(len(values), n_missing, None, None, None, None, {}, empty, empty, empty,
                    False, NumericSketch.empty(0)),
                sorted_values,
            )  # fmt: skip
        psi_edges = quantile_edges(sorted_values, psi_bins)
        low, high = sorted_quantile(sorted_values, np.asarray(_HISTOGRAM_RANGE))
        if high <= low:
            low, high = low - 0.5, low + 0.5
        histogram_edges = np.linspace(low, high, histogram_bins + 1)
        knots, exact = choose_knots(
            sorted_values, sketch_size, np.concatenate((psi_edges, histogram_edges[1:-1]))
        )
        quantiles = dict(
            zip(
                [f"p{round(q * 100):02d}" for q in _QUANTILE_LEVELS],
                sorted_quantile(sorted_values, np.asarray(_QUANTILE_LEVELS)).tolist(),
                strict=True,
            )
        )
        profile = cls(
            n_rows=len(values),
            n_missing=n_missing,
            mean=float(sorted_values.mean()),
            std=float(sorted_values.std()),
            minimum=float(sorted_values[0]),
            maximum=float(sorted_values[-1]),
            quantiles=quantiles,
            psi_edges=psi_edges,
            histogram_edges=histogram_edges,
            knots=knots,
            exact=exact,
            sketch=sketch_sorted(sorted_values, knots),
        )
        return profile, sorted_values

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {
            "kind": self.kind,
            "n_rows": self.n_rows,
            "n_missing": self.n_missing,
            "mean": _float_or_none(self.mean),
            "std": _float_or_none(self.std),
            "min": _float_or_none(self.minimum),
            "max": _float_or_none(self.maximum),
            "quantiles": self.quantiles,
            "psi_edges": self.psi_edges.tolist(),
            "psi_counts": self.psi_counts.tolist() if self.n_valid else [],
            "histogram_edges": self.histogram_edges.tolist(),
            "sketch": {
                "exact": self.exact,
                "knots": _encode_array(self.knots, "<f8"),
                "atom_counts": _encode_counts(self.sketch.atom_counts),
                "interval_counts": _encode_counts(self.sketch.interval_counts),
                "interval_gaps": _encode_array(self.sketch.interval_gaps, "<f8"),
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NumericProfile:
        """Inverse of :meth:`to_dict`."""
        sketch = data["sketch"]
        return cls(
            n_rows=int(data["n_rows"]),
            n_missing=int(data["n_missing"]),
            mean=data["mean"],
            std=data["std"],
            minimum=data["min"],
            maximum=data["max"],
            quantiles=dict(data["quantiles"]),
            psi_edges=np.asarray(data["psi_edges"], dtype=np.float64),
            histogram_edges=np.asarray(data["histogram_edges"], dtype=np.float64),
            knots=_decode_array(sketch["knots"]).astype(np.float64),
            exact=bool(sketch["exact"]),
            sketch=NumericSketch(
                _decode_array(sketch["atom_counts"]).astype(np.int64),
                _decode_array(sketch["interval_counts"]).astype(np.int64),
                _decode_array(sketch["interval_gaps"]).astype(np.float64),
            ),
        )


@dataclass
class CategoricalProfile:
    """Reference summary of a categorical column: categories by descending count."""

    kind: ClassVar[str] = "categorical"
    n_rows: int
    n_missing: int
    categories: list[Any]
    counts: np.ndarray

    @classmethod
    def build(cls, series: pd.Series, column: str, max_categories: int) -> CategoricalProfile:
        """Profile a categorical column.

        Args:
            series: The column (any dtype; missing values are counted apart).
            column: Its name, for errors.
            max_categories: Reject more distinct values than this.

        Returns:
            The profile.

        Raises:
            ValueError: Too many distinct values.
        """
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        if len(uniques) > max_categories:
            raise ValueError(
                f"categorical column {column!r} has {len(uniques)} distinct values in the "
                f"reference (more than drift.binning.max_categories={max_categories}); treat "
                "it as numeric or set drift.columns."
                f"{column}.ignore: true"
            )
        counts = np.bincount(codes + 1, minlength=len(uniques) + 1)
        categories = [category_key(u) for u in uniques]
        # Descending count, ties by text, so equal data gives an equal profile.
        order = sorted(range(len(categories)), key=lambda i: (-counts[i + 1], str(categories[i])))
        return cls(
            n_rows=len(series),
            n_missing=int(counts[0]),
            categories=[categories[i] for i in order],
            counts=counts[1:][order].astype(np.int64),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {
            "kind": self.kind,
            "n_rows": self.n_rows,
            "n_missing": self.n_missing,
            "categories": list(self.categories),
            "counts": self.counts.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CategoricalProfile:
        """Inverse of :meth:`to_dict`."""
        return cls(
            n_rows=int(data["n_rows"]),
            n_missing=int(data["n_missing"]),
            categories=list(data["categories"]),
            counts=np.asarray(data["counts"], dtype=np.int64),
        )


@dataclass
class EmbeddingProfile:
    """Reference summary of an embedding: a uniform row sample (float32) and the bandwidth."""

    kind: ClassVar[str] = "embedding"
    n_rows: int
    n_missing: int
    dim: int
    sample: np.ndarray
    bandwidth: float
    source_columns: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {
            "kind": self.kind,
            "n_rows": self.n_rows,
            "n_missing": self.n_missing,
            "dim": self.dim,
            "bandwidth": self.bandwidth,
            "source_columns": self.source_columns,
            "sample": _encode_array(self.sample, "<f4"),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EmbeddingProfile:
        """Inverse of :meth:`to_dict`."""
        return cls(
            n_rows=int(data["n_rows"]),
            n_missing=int(data["n_missing"]),
            dim=int(data["dim"]),
            sample=_decode_array(data["sample"]).astype(np.float32),
            bandwidth=float(data["bandwidth"]),
            source_columns=data.get("source_columns"),
        )


ColumnProfile = NumericProfile | CategoricalProfile | EmbeddingProfile
_PROFILE_TYPES: dict[str, type] = {
    "numeric": NumericProfile,
    "categorical": CategoricalProfile,
    "embedding": EmbeddingProfile,
}


@dataclass
class BaselineProfile:
    """The reference summarised once; compare new data against it without the reference rows.

    Attributes:
        columns: Column name to its profile, in declaration order.
        n_rows: Reference rows.
        settings: The binning settings the profile was built with (they cannot change later):
            ``psi_bins``, ``sketch_size``, ``histogram_bins``, ``embedding_sample_size``,
            ``seed``.
        created_at: ISO-8601 UTC timestamp.
        metadata: Free-form JSON-able information (model name, version, data window ...).
    """

    columns: dict[str, ColumnProfile]
    n_rows: int
    settings: dict[str, Any] = field(default_factory=dict)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    metadata: dict[str, Any] = field(default_factory=dict)

    def columns_of_kind(self, kind: str) -> list[str]:
        """Names of the profiled columns of ``kind`` (numeric, categorical, embedding)."""
        return [name for name, p in self.columns.items() if p.kind == kind]

    @property
    def numeric(self) -> list[str]:
        """Numeric columns."""
        return self.columns_of_kind("numeric")

    @property
    def categorical(self) -> list[str]:
        """Categorical columns."""
        return self.columns_of_kind("categorical")

    @property
    def embeddings(self) -> list[str]:
        """Embedding columns."""
        return self.columns_of_kind("embedding")

    def to_dict(self) -> dict[str, Any]:
        """The profile as plain JSON types (arrays as base64)."""
        return {
            "format": "retrainer.drift.profile",
            "format_version": FORMAT_VERSION,
            "created_at": self.created_at,
            "n_rows": self.n_rows,
            "settings": dict(self.settings),
            "metadata": dict(self.metadata),
            "columns": {name: p.to_dict() for name, p in self.columns.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BaselineProfile:
        """Rebuild a profile from :meth:`to_dict` output.

        Raises:
            ProfileError: Not a profile, an unsupported format version, or a malformed column.
        """
        if not isinstance(data, dict) or data.get("format") != "retrainer.drift.profile":
            raise ProfileError("not a retrainer drift profile (missing format marker)")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise ProfileError(
                f"profile format version {version} is not supported (expected {FORMAT_VERSION})"
            )
        columns: dict[str, ColumnProfile] = {}
        for name, payload in data["columns"].items():
            kind = payload.get("kind")
            if kind not in _PROFILE_TYPES:
                raise ProfileError(f"profile column {name!r}: unknown kind {kind!r}")
            try:
                columns[name] = _PROFILE_TYPES[kind].from_dict(payload)
            except (KeyError, TypeError, ValueError) as exc:
                raise ProfileError(f"profile column {name!r} is malformed: {exc}") from None
        return cls(
            columns=columns,
            n_rows=int(data["n_rows"]),
            settings=dict(data.get("settings", {})),
            created_at=str(data.get("created_at", "")),
            metadata=dict(data.get("metadata", {})),
        )

    def save(self, path: str | Path) -> Path:
        """Write the profile as JSON (gzip when ``path`` ends in ``.gz``).

        Args:
            path: Target file; parent directories are created.

        Returns:
            The path written.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False)
        if path.suffix == ".gz":
            path.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
        else:
            path.write_text(text, encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> BaselineProfile:
        """Read a profile written by :meth:`save`.

        Args:
            path: The file (gzip-compressed or plain JSON, whatever its name says).

        Returns:
            The profile.

        Raises:
            ProfileError: Missing file, bad JSON or not a profile; the message names the file.
        """
        path = Path(path)
        try:
            raw = path.read_bytes()
            # by content, not name: MLflow's artifact proxy serves a .gz file with
            # Content-Encoding: gzip, so the HTTP client hands back the JSON already decoded
            if raw[:2] == GZIP_MAGIC:
                raw = gzip.decompress(raw)
            data = json.loads(raw.decode("utf-8"))
        except FileNotFoundError:
            raise ProfileError(f"{path}: profile file not found") from None
        except (OSError, ValueError) as exc:
            raise ProfileError(f"{path}: cannot read profile: {exc}") from None
        try:
            return cls.from_dict(data)
        except ProfileError as exc:
            raise ProfileError(f"{path}: {exc}") from None
