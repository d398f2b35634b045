"""Retrainer: continuous training for tabular models with Prefect 3 and MLflow 3."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("retrainer")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["__version__"]
