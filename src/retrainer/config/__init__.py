"""Configuration: one validated ``retrainer.yaml`` per model."""

from retrainer.config.model import (
    CONFIG_FILENAME,
    ConfigError,
    ConfigProblem,
    RetrainerConfig,
    load_config,
    parse_config,
)

__all__ = [
    "CONFIG_FILENAME",
    "ConfigError",
    "ConfigProblem",
    "RetrainerConfig",
    "load_config",
    "parse_config",
]
