"""Drift statistics, baseline profiles and streaming comparison (no Prefect, no MLflow).

Typical use::

    from retrainer.drift import BaselineProfile, DriftDetector

    detector = DriftDetector(numeric=["income"], categorical=["region"], config=section)
    detector.fit(reference_frame)
    detector.profile_.save("baseline.json")          # saved with the model

    detector = DriftDetector.from_profile(BaselineProfile.load("baseline.json"), section)
    report = detector.compare(current_frame)          # or compare_batches(frames)
    report.drifted, report.drifted_columns, report.summary_table()

Definitions of every statistic are in :mod:`retrainer.drift.stats`, the sketch and its
error bounds in :mod:`retrainer.drift.sketch`, the decision procedure in
:mod:`retrainer.drift.detector`.
"""

from retrainer.drift.detector import DriftDetector
from retrainer.drift.profile import (
    BaselineProfile,
    CategoricalProfile,
    EmbeddingProfile,
    NumericProfile,
    ProfileError,
)
from retrainer.drift.report import ColumnDrift, DriftReport, Histogram, MetricResult

__all__ = [
    "BaselineProfile",
    "CategoricalProfile",
    "ColumnDrift",
    "DriftDetector",
    "DriftReport",
    "EmbeddingProfile",
    "Histogram",
    "MetricResult",
    "NumericProfile",
    "ProfileError",
]
