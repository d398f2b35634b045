"""Core sections of ``retrainer.yaml``: the model, its data, columns, estimator and MLflow."""

from __future__ import annotations

import importlib
import re
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from retrainer.config.base import StrictModel

Task = Literal["binary", "multiclass", "regression"]

_MODEL_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$"
_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$")


class ModelSection(StrictModel):
    """What is being kept fresh."""

    name: str = Field(
        pattern=_MODEL_NAME,
        description="Registered model name in MLflow; also names the Prefect event resource "
        "`retrainer.model.<name>`. Letters, digits, '.', '_' and '-'.",
    )
    task: Task = Field(description="Learning task: binary, multiclass or regression.")
    description: str = Field(default="", description="Free text shown in MLflow and reports.")


class ColumnsSection(StrictModel):
    """Which columns of the data play which role."""

    id: str = Field(description="Unique row id; joins features with labels and predictions.")
    timestamp: str = Field(description="Event time of a feature row (UTC); drives partitioning.")
    target: str = Field(description="Label column, found in the labels table.")
    label_timestamp: str | None = Field(
        default=None,
        description="Arrival time of a label in the labels table (optional). Without it the "
        "label partition date is taken as the arrival date.",
    )
    numeric: list[str] = Field(default_factory=list, description="Numeric feature columns.")
    categorical: list[str] = Field(default_factory=list, description="Categorical feature columns.")
    segments: list[str] = Field(
        default_factory=list,
        description="Columns that define segments/cohorts for per-segment monitoring and gates. "
        "They may also be features.",
    )
    embeddings: list[str] = Field(
        default_factory=list,
        description="Vector (embedding) columns whose cells hold equal-length float arrays. "
        "They are checked for embedding drift (MMD, domain-classifier AUC) and are not fed to "
        "the estimator.",
    )

    @model_validator(mode="after")
    def _check_roles(self) -> ColumnsSection:
        features = [*self.numeric, *self.categorical]
        if not features:
            raise ValueError("no feature columns: list at least one in numeric or categorical")
        seen: set[str] = set()
        for name in features:
            if name in seen:
                raise ValueError(f"column {name!r} is listed twice among the features")
            seen.add(name)
        for role in ("id", "timestamp", "target"):
            value = getattr(self, role)
            if value in seen:
                raise ValueError(f"column {value!r} is the {role} column and cannot be a feature")
        if len(set(self.segments)) != len(self.segments):
            raise ValueError("a segment column is listed twice")
        if self.target in self.segments:
            raise ValueError(f"the target {self.target!r} cannot be a segment column")
        if len(set(self.embeddings)) != len(self.embeddings):
            raise ValueError("an embedding column is listed twice")
        for name in self.embeddings:
            if name in seen or name in (self.id, self.timestamp, self.target):
                raise ValueError(
                    f"embedding column {name!r} already has another role (feature, id, "
                    "timestamp or target)"
                )
        return self

    @property
    def features(self) -> list[str]:
        """All feature columns, numeric first."""
        return [*self.numeric, *self.categorical]

    @property
    def feature_table_columns(self) -> list[str]:
        """Columns expected in the features table (id, timestamp, features, segments)."""
        cols = [self.id, self.timestamp, *self.features]
        cols += [s for s in self.segments if s not in cols]
        return cols


class TablesSection(StrictModel):
    """Names of the time-partitioned tables under the data source."""

    features: str = Field(default="features", description="Feature rows, by event date.")
    labels: str = Field(default="labels", description="Labels, by arrival date.")
    predictions: str = Field(default="predictions", description="Logged predictions, by date.")

    @model_validator(mode="after")
    def _distinct(self) -> TablesSection:
        names = [self.features, self.labels, self.predictions]
        if len(set(names)) != len(names):
            raise ValueError("table names must be distinct")
        for name in names:
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_\-]*", name):
                raise ValueError(f"table name {name!r}: use letters, digits, '_' and '-'")
        return self


class DataSection(StrictModel):
    """Where the data lives."""

    source: str = Field(
        description="Local folder (relative to the project root) or an `s3://bucket/prefix` URI "
        "holding `<table>/date=YYYY-MM-DD/*.parquet` partitions."
    )
    tables: TablesSection = Field(default_factory=TablesSection, description="Table names.")
    s3_endpoint_url: str | None = Field(
        default=None,
        description="S3-compatible endpoint (MinIO, moto). Defaults to AWS_ENDPOINT_URL, then AWS.",
    )
    quarantine_prefix: str = Field(
        default="_quarantine",
        description="Prefix under the source where failing batches are moved (never deleted).",
    )

    @field_validator("source")
    @classmethod
    def _source_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("data source must not be empty")
        if value.startswith("s3://") and len(value) <= len("s3://"):
            raise ValueError("s3 source needs a bucket: s3://bucket/prefix")
        return value


class EstimatorSection(StrictModel):
    """The model class to train, by import path, and its parameters."""

    class_path: str = Field(
        description="Import path of a scikit-learn compatible estimator, e.g. "
        "`sklearn.ensemble.HistGradientBoostingClassifier`."
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Keyword arguments passed to the estimator."
    )

    @field_validator("class_path")
    @classmethod
    def _check_importable(cls, value: str) -> str:
        # a field validator, so the problem is reported at `estimator.class_path` with the value
        load_estimator_class(value)
        return value

    @field_validator("params")
    @classmethod
    def _check_params(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        class_path = info.data.get("class_path")
        if class_path is None:  # the class path itself is wrong: already reported
            return value
        try:
            _instantiate(class_path, value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"rejected by {class_path}: {exc}") from exc
        return value


def load_estimator_class(class_path: str) -> type:
    """Import an estimator class from its dotted path.

    Args:
        class_path: ``package.module.ClassName``.

    Returns:
        The class.

    Raises:
        ValueError: When the path is malformed, the module does not import, the attribute is
            missing, or it is not a scikit-learn style estimator (no ``fit``).
    """
    if not _IMPORT_PATH.match(class_path):
        raise ValueError(f"{class_path!r} is not an import path like 'package.module.Class'")
    module_name, _, attr = class_path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import module {module_name!r}: {exc}") from exc
    try:
        cls = getattr(module, attr)
    except AttributeError:
        raise ValueError(f"module {module_name!r} has no attribute {attr!r}") from None
    if not isinstance(cls, type) or not hasattr(cls, "fit"):
        raise ValueError(f"{class_path!r} is not an estimator class with a fit method")
    return cls


def build_estimator(section: EstimatorSection) -> Any:
    """Instantiate the configured estimator (unfitted)."""
    return _instantiate(section.class_path, section.params)


def _instantiate(class_path: str, params: dict[str, Any]) -> Any:
    cls = load_estimator_class(class_path)
    estimator = cls(**params)
    # scikit-learn validates parameter values lazily at fit; check them now so a bad config
    # fails before any work starts.
    validate = getattr(estimator, "_validate_params", None)
    if callable(validate):
        validate()
    return estimator


class MlflowSection(StrictModel):
    """MLflow tracking and registry. The embedded default needs no server."""

    tracking_uri: str | None = Field(
        default=None,
        description="Tracking URI. MLFLOW_TRACKING_URI wins over this; without both, "
        "`sqlite:///<state_dir>/mlflow.db` with artifacts under `<state_dir>/artifacts`.",
    )
    registry_uri: str | None = Field(
        default=None, description="Registry URI; defaults to the tracking URI."
    )
    experiment: str | None = Field(
        default=None, description="Experiment name; defaults to the model name."
    )
