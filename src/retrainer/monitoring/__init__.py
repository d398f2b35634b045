"""Performance monitoring under label delay: realised, per segment, estimated before labels land.

Pure core (no Prefect, no MLflow): the flows in ``flows/monitor.py`` and ``flows/score.py``
do the IO.
"""

from retrainer.monitoring.errors import MonitoringError
from retrainer.monitoring.estimation import (
    ESTIMABLE_METRICS,
    ConfidenceBasedEstimator,
    EstimationError,
    estimate_roc_auc,
    expected_calibration_error,
    expected_confusion,
)
from retrainer.monitoring.labels import (
    LABELLED_COLUMN,
    join_labels,
    labelled_share_by_day,
    labels_known_as_of,
)
from retrainer.monitoring.performance import (
    MonitoringInputError,
    PerformanceMonitor,
    segment_key,
)
from retrainer.monitoring.predictions import (
    MODEL_VERSION_COLUMN,
    PREDICTION_COLUMN,
    SCORE_COLUMN,
    SCORED_AT_COLUMN,
    PredictionSchemaError,
    check_predictions,
    score_features,
)
from retrainer.monitoring.report import (
    DEGRADED,
    INSUFFICIENT,
    OK,
    SKIPPED,
    MetricCheck,
    PerformanceReport,
    ResolvedThreshold,
    resolve_threshold,
)

__all__ = [
    "DEGRADED",
    "ESTIMABLE_METRICS",
    "INSUFFICIENT",
    "LABELLED_COLUMN",
    "MODEL_VERSION_COLUMN",
    "OK",
    "PREDICTION_COLUMN",
    "SCORED_AT_COLUMN",
    "SCORE_COLUMN",
    "SKIPPED",
    "ConfidenceBasedEstimator",
    "EstimationError",
    "MetricCheck",
    "MonitoringError",
    "MonitoringInputError",
    "PerformanceMonitor",
    "PerformanceReport",
    "PredictionSchemaError",
    "ResolvedThreshold",
    "check_predictions",
    "estimate_roc_auc",
    "expected_calibration_error",
    "expected_confusion",
    "join_labels",
    "labelled_share_by_day",
    "labels_known_as_of",
    "resolve_threshold",
    "score_features",
    "segment_key",
]
