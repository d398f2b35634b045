"""What the gate is given: the versions, the holdout labels and segments, each model's evidence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd


class ColumnSpec(NamedTuple):
    """One input column of a model signature.

    Attributes:
        name: Column name.
        dtype: Type name: MLflow's (``double``, ``float``, ``long``, ``integer``,
            ``boolean``, ``string``, ``binary``, ``datetime``) or numpy/pandas
            (``float64``, ``int64``, ``object``, ``category``, ``bool``, ``datetime64[ns]``).
    """

    name: str
    dtype: str


Signature = Sequence[ColumnSpec | tuple[str, str]]
"""A model's input columns as ``(name, type)`` pairs; the flow builds it from MLflow."""


@dataclass(frozen=True)
class GateInputs:
    """The fresh holdout both models are judged on.

    Attributes:
        y_true: True labels (classification) or targets (regression), one per row.
        segments: Segment columns of the same rows (same length, any index), or None.
        classes: Class labels: binary ``[negative, positive]``; multiclass the column order
            of the models' ``y_proba`` (unless a model gives its own ``classes``). Inferred
            from the labels when None.
    """

    y_true: Any
    segments: pd.DataFrame | None = None
    classes: Sequence[Any] | None = None

    def __post_init__(self) -> None:
        y = np.asarray(self.y_true)
        if y.ndim != 1:
            raise ValueError(f"GateInputs.y_true must be one-dimensional, got shape {y.shape}")
        if self.segments is not None:
            if not isinstance(self.segments, pd.DataFrame):
                raise TypeError("GateInputs.segments must be a pandas DataFrame or None")
            if len(self.segments) != len(y):
                raise ValueError(
                    f"GateInputs.segments has {len(self.segments)} rows but y_true has {len(y)}"
                )

    @property
    def n(self) -> int:
        """Number of holdout rows."""
        return len(np.asarray(self.y_true))


@dataclass(frozen=True)
class ModelEvidence:
    """What is known about one model on the holdout rows.

    Attributes:
        y_proba: Binary: P(positive class) per row (or a (n, 2) matrix); multiclass: (n, K)
            probabilities; regression: may hold the predictions when ``y_pred`` is None.
        y_pred: Hard labels (classification) or predicted values (regression). Derived from
            ``y_proba`` for classification when None (binary: P ≥ 0.5; multiclass: argmax).
        latency_ms_per_1k: Measured batch prediction time, milliseconds per 1,000 rows.
        size_bytes: Serialized model size in bytes.
        signature: Input columns as ``(name, type)`` pairs.
        classes: Column order of this model's ``y_proba`` when it differs from the
            holdout's ``classes`` (e.g. a champion trained before a class appeared).
        label: How reports name the model (e.g. ``v12``).
    """

    y_proba: Any = None
    y_pred: Any = None
    latency_ms_per_1k: float | None = None
    size_bytes: int | None = None
    signature: Signature | None = None
    classes: Sequence[Any] | None = None
    label: str = ""


@dataclass
class GateSubject:
    """A registered version taking part in the gate.

    Attributes:
        version: The version number (as text).
        uri: Its ``models:/`` URI.
        tags: Its version tags (lineage, holdout days ...).
        model: The fitted pipeline.
        signature: Input columns as ``(name, type)`` pairs.
        size_bytes: Serialized model size in bytes.
        role: ``challenger`` or ``champion``.
    """

    version: str
    uri: str
    tags: dict[str, str] = field(default_factory=dict)
    model: Any = None
    signature: list[tuple[str, str]] | None = None
    size_bytes: int | None = None
    role: str = "challenger"

    @property
    def label(self) -> str:
        """How reports name it."""
        return f"v{self.version}"
