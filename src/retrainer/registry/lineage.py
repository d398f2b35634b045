"""Lineage recorded on every registered model version, and logging a trained model."""

from __future__ import annotations

import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from retrainer.registry.models import TAG_PREFIX

# Version tag names (all prefixed with "retrainer.")
TAG_GATE = f"{TAG_PREFIX}gate"
TAG_STATUS = f"{TAG_PREFIX}status"


@dataclass
class Lineage:
    """Where a model version came from. Stored as ``retrainer.*`` version tags."""

    window_start: str | None
    window_end: str | None
    as_of: str | None
    rows: int
    data_fingerprint: str
    code_version: str
    config_hash: str
    trigger_reason: str
    trigger_event_id: str | None
    parent_version: str | None
    training_seconds: float
    cost_estimate: float
    window_strategy: str
    holdout_start: str | None = None
    holdout_end: str | None = None
    flow_run_id: str | None = None
    trigger_detail: str | None = None

    def to_tags(self) -> dict[str, str]:
        """As version tags (None values omitted)."""
        tags: dict[str, str] = {}
        for key, value in asdict(self).items():
            if value is None:
                continue
            if isinstance(value, float):
                value = f"{value:.6g}"
            tags[f"{TAG_PREFIX}{key}"] = str(value)[:5000]  # MLflow's tag value limit
        return tags

    @classmethod
    def from_tags(cls, tags: dict[str, str]) -> dict[str, str]:
        """The lineage part of a version's tags, without the prefix."""
        names = set(cls.__dataclass_fields__)
        return {
            k.removeprefix(TAG_PREFIX): v
            for k, v in tags.items()
            if k.startswith(TAG_PREFIX) and k.removeprefix(TAG_PREFIX) in names
        }


def code_version(root: Path) -> str:
    """The git commit of ``root`` (``+dirty`` when modified), else the package version."""
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        return f"git:{sha[:12]}{'+dirty' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        from retrainer import __version__

        return f"retrainer=={__version__}"


def pip_requirements() -> list[str]:
    """Exact requirements for loading a scikit-learn pipeline (skips slow inference)."""
    from importlib.metadata import version

    packages = ["scikit-learn", "skops", "numpy", "scipy", "pandas"]
    return [f"{name}=={version(name)}" for name in packages]


_TRUSTED_MODULE_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.", "collections.")


def skops_trusted_types(model: Any) -> list[str]:
    """Types in ``model`` that skops does not trust by default but that we do.

    Only types from scikit-learn, NumPy and SciPy are trusted (these pipelines are built and
    loaded by this project's own registry). Anything else must be trusted explicitly.

    Raises:
        ValueError: When the model contains an untrusted type from another package.
    """
    import skops.io as sio

    untrusted = sio.get_untrusted_types(data=sio.dumps(model))
    foreign = [t for t in untrusted if not t.startswith(_TRUSTED_MODULE_PREFIXES)]
    if foreign:
        raise ValueError(
            f"the model contains types skops will not load without trust: {foreign}; "
            "use scikit-learn estimators or register the model yourself"
        )
    return sorted(untrusted)


def log_model_version(
    model: Any,
    model_name: str,
    input_example: pd.DataFrame,
    output_example: Any,
    params: dict[str, Any],
    metrics: dict[str, float | None],
    lineage: Lineage,
    run_name: str | None = None,
    artifacts: dict[str, str] | None = None,
    metric_series: dict[str, dict[int, float | None]] | None = None,
) -> tuple[str, str, str]:
    """Log a fitted pipeline in an MLflow run and register it as a new version.

    Args:
        model: Fitted scikit-learn pipeline.
        model_name: Registered model name.
        input_example: A few input rows (also gives the signature).
        output_example: Model output for ``input_example`` (for the signature).
        params: Run parameters.
        metrics: Run metrics (None values are skipped: they are recorded as missing).
        lineage: Lineage tags for the run and the version.
        run_name: MLflow run name.
        artifacts: Local files to log with the run: ``{artifact_path: local_file}``.
        metric_series: Metrics logged step by step, ``{name: {step: value}}`` (e.g. the
            dynamic window's validation curve with the window length as step).

    Returns:
        ``(version, run_id, model_uri)``.
    """
    import mlflow
    from mlflow.models import infer_signature

    signature = infer_signature(input_example, output_example)
    tags = lineage.to_tags()
    with mlflow.start_run(run_name=run_name, tags=tags) as run:
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v is not None})
        for name, series in (metric_series or {}).items():
            for step, value in sorted(series.items()):
                if value is not None:
                    mlflow.log_metric(name, float(value), step=int(step))
        for artifact_path, local in (artifacts or {}).items():
            mlflow.log_artifact(local, artifact_path=artifact_path)
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            registered_model_name=model_name,
            signature=signature,
            input_example=input_example,
            pip_requirements=pip_requirements(),
            skops_trusted_types=skops_trusted_types(model),
        )
        run_id = run.info.run_id
    version = str(info.registered_model_version)
    client = mlflow.MlflowClient()
    for key, value in tags.items():
        client.set_model_version_tag(model_name, version, key, value)
    return version, run_id, f"models:/{model_name}/{version}"


def mlflow_metric_name(text: str) -> str:
    """A metric name MLflow accepts (letters, digits, ``_ - . /`` and spaces)."""
    import re

    return re.sub(r"[^A-Za-z0-9_\-./ ]+", "_", text)


def load_model(uri: str) -> Any:
    """Load a registered scikit-learn pipeline (``models:/name@alias`` or ``models:/name/3``)."""
    import mlflow

    return mlflow.sklearn.load_model(uri)
