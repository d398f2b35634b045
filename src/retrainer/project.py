"""A Retrainer project: a config file, its root directory and its state directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from retrainer.config import CONFIG_FILENAME, ConfigError, ConfigProblem, RetrainerConfig
from retrainer.config import load_config as _load_config


def find_config(start: Path | None = None, filename: str = CONFIG_FILENAME) -> Path | None:
    """Find ``retrainer.yaml`` in ``start`` or the nearest parent directory.

    Args:
        start: Where to begin; the current directory by default.
        filename: The config file name.

    Returns:
        The path, or None when no directory up to the filesystem root holds one.
    """
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / filename
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class Project:
    """A loaded project.

    Attributes:
        root: Directory holding the config file; relative paths in the config start here.
        config_path: The config file.
        config: The validated config.
    """

    root: Path
    config_path: Path
    config: RetrainerConfig

    @classmethod
    def load(cls, config_path: Path | str | None = None, cwd: Path | None = None) -> Project:
        """Load a project from an explicit config file or by searching upwards from ``cwd``.

        Raises:
            ConfigError: When no config is found or it is invalid.
        """
        if config_path is None:
            found = find_config(cwd)
            if found is None:
                where = (cwd or Path.cwd()).resolve()
                raise ConfigError(
                    None,
                    [
                        ConfigProblem(
                            "",
                            f"no {CONFIG_FILENAME} in {where} or any parent directory; "
                            "pass -c FILE or run `retrainer init`",
                        )
                    ],
                )
            path = found
        else:
            path = Path(config_path)
            if not path.is_absolute():
                path = (cwd or Path.cwd()) / path
            path = path.resolve()
        config = _load_config(path)
        return cls(root=path.parent, config_path=path, config=config)

    @classmethod
    def from_config(cls, config: RetrainerConfig, root: Path) -> Project:
        """Wrap an in-memory config (tests, notebooks) rooted at ``root``."""
        root = Path(root).resolve()
        return cls(root=root, config_path=root / CONFIG_FILENAME, config=config)

    def resolve(self, path: str | Path) -> Path:
        """Resolve a path from the config against the project root."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.root / p)

    @property
    def state_dir(self) -> Path:
        """Absolute state directory (created on first use)."""
        path = self.resolve(self.config.state_dir)
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def data_uri(self) -> str:
        """The data source as an absolute local path or an ``s3://`` URI."""
        source = self.config.data.source
        if source.startswith("s3://"):
            return source
        return str(self.resolve(source))

    @property
    def model_name(self) -> str:
        """The registered model name."""
        return self.config.model.name

    def reports_dir(self, *parts: str) -> Path:
        """A directory under ``<state_dir>/reports`` (created)."""
        path = self.state_dir.joinpath("reports", *parts)
        path.mkdir(parents=True, exist_ok=True)
        return path
