"""The root of ``retrainer.yaml`` and its loader."""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, model_validator

from retrainer.config.backtest import BacktestSection
from retrainer.config.base import StrictModel
from retrainer.config.compute import ComputeSection
from retrainer.config.core import (
    ColumnsSection,
    DataSection,
    EstimatorSection,
    MlflowSection,
    ModelSection,
)
from retrainer.config.drift import DriftSection
from retrainer.config.gates import GatesSection
from retrainer.config.monitoring import MonitoringSection
from retrainer.config.policy import PolicySection
from retrainer.config.promotion import PromotionSection
from retrainer.config.training import TrainingSection
from retrainer.config.validation import ValidationSection

CONFIG_FILENAME = "retrainer.yaml"


class RetrainerConfig(StrictModel):
    """One model's continuous-training setup: everything `retrainer.yaml` describes."""

    model: ModelSection = Field(description="The model kept fresh.")
    data: DataSection = Field(description="Data source and tables.")
    columns: ColumnsSection = Field(description="Column roles.")
    estimator: EstimatorSection = Field(description="Estimator import path and parameters.")
    state_dir: str = Field(
        default=".retrainer",
        description="Directory (relative to the project root) for the embedded MLflow store, "
        "the operational store, reports and baselines.",
    )
    mlflow: MlflowSection = Field(default_factory=MlflowSection, description="MLflow settings.")
    validation: ValidationSection = Field(
        default_factory=ValidationSection, description="Data validation."
    )
    drift: DriftSection = Field(default_factory=DriftSection, description="Drift checks.")
    monitoring: MonitoringSection = Field(
        default_factory=MonitoringSection, description="Live performance monitoring."
    )
    policy: PolicySection = Field(
        default_factory=PolicySection,
        description="Retrain triggers and their guards, read by the continuous-training flow "
        "(and replayed by the backtest).",
    )
    training: TrainingSection = Field(default_factory=TrainingSection, description="Training.")
    gates: GatesSection = Field(default_factory=GatesSection, description="Metric gates.")
    promotion: PromotionSection = Field(
        default_factory=PromotionSection, description="Staged promotion."
    )
    backtest: BacktestSection = Field(
        default_factory=BacktestSection,
        description="Replaying history through retraining policies (`retrainer backtest`).",
    )
    compute: ComputeSection = Field(
        default_factory=ComputeSection,
        description="Where segment drift shards and backtest groups run (this machine or a "
        "Dask cluster), and the chunk size of streamed windows.",
    )

    @model_validator(mode="after")
    def _check_estimator_matches_task(self) -> RetrainerConfig:
        from sklearn.base import is_classifier, is_regressor

        from retrainer.config.core import build_estimator

        estimator = build_estimator(self.estimator)
        if self.model.task in ("binary", "multiclass") and is_regressor(estimator):
            raise ValueError(
                f"estimator.class_path: {self.estimator.class_path} is a regressor but "
                f"model.task is {self.model.task!r}"
            )
        if self.model.task == "regression" and is_classifier(estimator):
            raise ValueError(
                f"estimator.class_path: {self.estimator.class_path} is a classifier but "
                "model.task is 'regression'"
            )
        table = self.columns.feature_table_columns
        unknown = [c for c in self.drift.segments.columns if c not in table]
        if unknown:
            raise ValueError(
                f"drift.segments.columns: {unknown} are not columns of the features table "
                "(columns.features or columns.segments)"
            )
        problems = self.gates.problems_for_task(self.model.task)
        if problems:
            raise ValueError("; ".join(f"{field}: {message}" for field, message in problems))
        return self

    def reserved_warnings(self) -> list[str]:
        """Sections that are set but reserved for parts not built yet (``config check`` warns).

        They are validated and kept, and change nothing else: a configured rollout plan does
        not turn automatic promotion off.
        """
        return []  # none at present: every section is read by the part it configures

    def fingerprint(self) -> str:
        """A short, stable hash of the resolved config (recorded as lineage)."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a config file."""

    location: str
    message: str
    value: Any = None
    has_value: bool = False

    def describe(self) -> str:
        """The message, with the offending value when there is one."""
        if self.has_value:
            return f"{self.message} (got {_short_repr(self.value)})"
        return self.message

    def to_dict(self) -> dict[str, str]:
        """``{"field": ..., "message": ...}`` for JSON output."""
        return {"field": self.location, "message": self.describe()}

    def __str__(self) -> str:
        return f"{self.location}: {self.describe()}" if self.location else self.describe()


class ConfigError(Exception):
    """A config file that cannot be used; ``problems`` lists every issue, each naming a field."""

    def __init__(self, path: Path | str | None, problems: list[ConfigProblem]):
        self.path = Path(path) if path is not None else None
        self.problems = problems
        super().__init__(self.format())

    def lines(self) -> list[str]:
        """One line per problem, prefixed with the file name."""
        prefix = f"{self.path}: " if self.path else ""
        return [f"{prefix}{p}" for p in self.problems]

    def format(self) -> str:
        """All problems, one per line."""
        return "\n".join(self.lines())


def _short_repr(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _expand_env(value: Any) -> Any:
    """Expand ``${VAR}`` and ``${VAR:-default}`` in string values."""
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            raise KeyError(name)

        return _ENV_PATTERN.sub(repl, value)
    if isinstance(value, dict):
        return {k: _expand_env(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v) for v in value]
    return value


_VALIDATOR_STEP = re.compile(r"^function-(after|before|wrap|plain)\[")
# "section.field: message" raised by a validator that checks several sections at once
_FIELD_PREFIX = re.compile(r"^([A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[\d+\])+): (.+)$", re.DOTALL)
_NEXT_FIELD = re.compile(r"; (?=[A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[\d+\])+: )")


def _field_path(loc: tuple[Any, ...], data: Any) -> str:
    """The path a user wrote, from a pydantic error location.

    Pydantic puts the tag of a discriminated union into the location
    (``training.window.fixed.days``) and names validator steps (``function-after[...]``);
    neither is a key in the file. Walking the input alongside the location tells them apart:
    a part that is not a key of the mapping but equals its ``kind`` is the tag.
    """
    parts: list[str] = []
    node: Any = data
    for part in loc:
        if isinstance(part, str) and _VALIDATOR_STEP.match(part):
            continue
        if isinstance(node, dict):
            if part in node:
                node = node[part]
            elif node.get("kind") == part:
                continue  # the union tag
            else:
                node = None
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(f".{part}" if parts else str(part))
    return "".join(parts)


def _problems_from_validation_error(exc: ValidationError, data: Any = None) -> list[ConfigProblem]:
    """One problem per pydantic error, each located by the path the user wrote.

    Args:
        exc: The validation error.
        data: The validated input, used to drop discriminated-union tags from the paths.
    """
    problems: list[ConfigProblem] = []
    for err in exc.errors(include_url=False):
        loc = _field_path(tuple(err["loc"]), data)
        kind = err["type"]
        message = err["msg"]
        value = err.get("input")
        ctx = err.get("ctx", {})
        has_value = True
        if kind == "extra_forbidden":
            message = "unknown key"
            has_value = False
        elif kind == "missing":
            message = "missing required key"
            has_value = False
        elif kind in ("union_tag_invalid", "union_tag_not_found"):
            # the fault is the discriminator key itself: `training.window.kind`
            loc = f"{loc}.{str(ctx.get('discriminator', 'kind')).strip(chr(39))}"
            if kind == "union_tag_invalid":
                message = f"unknown kind; expected one of {ctx.get('expected_tags')}"
                value = ctx.get("tag")
            else:
                message = "missing required key"
                has_value = False
        elif message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        if isinstance(value, dict) and kind not in ("extra_forbidden", "missing"):
            has_value = False  # a whole section: the message says enough
        if not loc and kind == "value_error":
            # a check across sections names its fields in the message: report them as such
            named = [_FIELD_PREFIX.match(part) for part in _NEXT_FIELD.split(message)]
            if all(named):
                problems += [ConfigProblem(m.group(1), m.group(2)) for m in named if m]
                continue
        problems.append(ConfigProblem(loc, message, value, has_value))
    return problems


def parse_config(data: Any, path: Path | str | None = None) -> RetrainerConfig:
    """Validate an already-parsed mapping as a config.

    Args:
        data: The mapping (e.g. from YAML).
        path: The file it came from, for messages.

    Returns:
        The validated config.

    Raises:
        ConfigError: With one problem per bad field.
    """
    if data is None:
        raise ConfigError(path, [ConfigProblem("", "the file is empty")])
    if not isinstance(data, dict):
        raise ConfigError(path, [ConfigProblem("", "the top level must be a mapping of sections")])
    try:
        data = _expand_env(data)
    except KeyError as exc:
        raise ConfigError(
            path, [ConfigProblem("", f"environment variable {exc.args[0]} is not set")]
        ) from None
    try:
        return RetrainerConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(path, _problems_from_validation_error(exc, data)) from None


def load_config(path: Path | str) -> RetrainerConfig:
    """Read and validate a ``retrainer.yaml``.

    Args:
        path: The config file.

    Returns:
        The validated config.

    Raises:
        ConfigError: When the file is missing, not YAML, or invalid (one problem per field).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, [ConfigProblem("", "file not found")]) from None
    except OSError as exc:
        raise ConfigError(path, [ConfigProblem("", f"cannot read: {exc}")]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(path, [ConfigProblem(where, f"invalid YAML: {problem}")]) from None
    return parse_config(data, path)
