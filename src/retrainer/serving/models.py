"""A model version loaded for serving: its pipeline, its signature and its micro-batcher."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from retrainer.serving.batching import InFlight, MicroBatcher
from retrainer.serving.requests import build_frame


@dataclass
class Output:
    """What a model said about one row: the label and the score (None for regression)."""

    label: Any
    score: float | None

    def to_dict(self) -> dict[str, Any]:
        """The row's part of the answer."""
        if self.score is None:
            return {"prediction": self.label}
        return {"label": self.label, "score": self.score}


def _plain(value: Any) -> Any:
    """A JSON-able scalar (numpy scalars to Python)."""
    return value.item() if isinstance(value, np.generic) else value


@dataclass
class LoadedModel:
    """One version, loaded once and shared by every request for it.

    Args:
        version: The model version.
        pipeline: The fitted scikit-learn pipeline.
        task: binary, multiclass or regression.
        signature: Input columns as ``(name, mlflow type)`` pairs.
        max_rows: Micro-batch size at most.
        max_wait_ms: Micro-batch wait at most.
        inflight: The server's count of requests not scored yet (see
            :class:`~retrainer.serving.batching.MicroBatcher`); the gateway sets it.
    """

    version: str
    pipeline: Any
    task: str
    signature: Sequence[tuple[str, str]]
    max_rows: int = 256
    max_wait_ms: float = 2.0
    inflight: InFlight | None = None
    batcher: MicroBatcher = field(init=False)

    def __post_init__(self) -> None:
        self.classes = (
            None if self.task == "regression" else np.asarray(self.pipeline.classes_, dtype=object)
        )
        self.kinds = dict(self.signature)
        self.batcher = MicroBatcher(
            self.score, self.max_rows, self.max_wait_ms, self.inflight, self.frame_of
        )

    def frame_of(self, parts: list[dict[str, list[Any]]]) -> pd.DataFrame:
        """One frame from the checked columns of several requests."""
        return build_frame(parts, self.kinds)

    def attach(self, inflight: InFlight) -> None:
        """Batch by the server's in-flight count from now on."""
        self.inflight = self.batcher.inflight = inflight

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """Probabilities (classifiers) or predictions (regression), one row per input row."""
        if self.task == "regression":
            return np.asarray(self.pipeline.predict(frame), dtype=float)
        return np.asarray(self.pipeline.predict_proba(frame), dtype=float)

    def outputs(self, results: np.ndarray) -> list[Output]:
        """Labels and scores from :meth:`score`'s rows (binary: P of the positive class)."""
        if self.classes is None:
            return [Output(float(v), None) for v in results]
        labels = self.classes[np.argmax(results, axis=1)]
        scores = results[:, -1] if self.task == "binary" else results.max(axis=1)
        return [Output(_plain(lab), float(s)) for lab, s in zip(labels, scores, strict=True)]


Loader = Callable[[str], LoadedModel]
"""Loads a version for serving (the gateway calls it off the event loop)."""
