"""A Retrainer project folder: ``retrainer.yaml``, ``prefect.yaml`` and a README (no Prefect).

``retrainer init DIR`` writes one; the repository's own ``prefect.yaml`` is the same template
rendered for a worker's ``RETRAINER_PROJECT_DIR`` (a test keeps the two equal). The templates
use ``[[ ... ]]`` and ``[% ... %]`` so that Prefect's own ``{{ ... }}`` placeholders (event
fields in trigger parameters, environment variables) pass through untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jinja2

REPOSITORY_DIRECTORY = "{{ $RETRAINER_PROJECT_DIR }}"
"""Where the repository's deployments start their runs: the variable a worker sets."""

GITIGNORE = "/.retrainer/\n/data/\nmlflow.db\nmlruns/\n__pycache__/\n"


class ProjectExistsError(FileExistsError):
    """A file of the project folder exists already (the message names it)."""


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_template),
        variable_start_string="[[",
        variable_end_string="]]",
        block_start_string="[%",
        block_end_string="%]",
        comment_start_string="[#",
        comment_end_string="#]",
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )


def _template(name: str) -> str:
    return (resources.files("retrainer.deployments") / "templates" / name).read_text("utf-8")


def render_prefect_yaml(working_directory: str, project: bool = True) -> str:
    """The ``prefect.yaml`` whose runs start in ``working_directory``.

    Args:
        working_directory: The pull step's directory (a path, or ``{{ $VAR }}``).
        project: Comments for a project folder (True) or for this repository (False).
    """
    template = _environment().get_template("prefect.yaml.j2")
    return template.render(working_directory=working_directory, project=project)


@dataclass(frozen=True)
class ProjectFiles:
    """What ``retrainer init DIR`` writes."""

    config: str
    prefect: str
    readme: str

    def items(self) -> list[tuple[str, str]]:
        """``(file name, text)`` pairs, config first."""
        return [
            ("retrainer.yaml", self.config),
            ("prefect.yaml", self.prefect),
            ("README.md", self.readme),
            (".gitignore", GITIGNORE),
        ]


def project_files(folder: Path, config_text: str, *, from_data: bool) -> ProjectFiles:
    """The files of a project folder around a config.

    Args:
        folder: The project folder (its absolute path goes into the pull step).
        config_text: The ``retrainer.yaml`` text (the starter or one inferred from data).
        from_data: Whether the config was inferred from the user's data (the README says
            what to run first).
    """
    first = (
        "retrainer config check && retrainer validate --all"
        if from_data
        else "retrainer simulate               # the demo's loan stream into data/\n"
        "retrainer config check && retrainer validate --all"
    )
    readme = (
        _environment()
        .get_template("README.md.j2")
        .render(
            name=folder.name,
            what="a model kept fresh from your own data"
            if from_data
            else "the simulated loan-default model, to replace with your own data",
            first_steps=first,
        )
    )
    return ProjectFiles(config_text, render_prefect_yaml(str(folder.resolve())), readme)


def write_project(folder: Path, files: ProjectFiles, force: bool = False) -> list[Path]:
    """Write the project files into ``folder`` (created); nothing is written if one exists.

    Raises:
        ProjectExistsError: When a file exists and ``force`` is off (names it).
    """
    targets = [(folder / name, text) for name, text in files.items()]
    existing = [path for path, _ in targets if path.exists() and path.name != ".gitignore"]
    if existing and not force:
        raise ProjectExistsError(f"{existing[0]} exists; pass --force to overwrite")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for path, text in targets:
        if path.name == ".gitignore" and path.exists():
            continue  # the user's own: leave it
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
