"""``retrainer init`` and ``retrainer config check|schema``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from retrainer.cli._common import (
    ConfigOption,
    ExitCode,
    JsonOption,
    err_console,
    load_project,
    out_console,
    print_json,
)
from retrainer.config import CONFIG_FILENAME, ConfigProblem

config_app = typer.Typer(help="Inspect and check retrainer.yaml.", no_args_is_help=True)


@config_app.command("check")
def check(
    config: ConfigOption = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Skip the checks that read the data source.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Validate the config (and its columns against the data); print the resolved config.

    Exits 0 when valid, 2 with one line per problem (naming the field) on stderr otherwise;
    under --json stdout holds one document either way (``ok``, ``problems``). Writes nothing.
    """
    project = load_project(config, as_json=as_json)
    problems: list[ConfigProblem] = []
    notes: list[str] = []
    if not offline:
        from retrainer.config.checks import check_against_data
        from retrainer.data import DataCatalog, DataReadError, StorageError

        try:
            problems, notes = check_against_data(DataCatalog.for_project(project))
        except (StorageError, DataReadError, OSError) as exc:
            problems = [ConfigProblem("data.source", str(exc))]
        except Exception as exc:
            problems = [ConfigProblem("data.source", f"cannot read the data: {exc}")]
    lines = [f"{project.config_path}: {p}" for p in problems]
    resolved = project.config.model_dump(mode="json")
    if as_json:
        document: dict[str, Any] = {"ok": not problems, "valid": not problems}
        if problems:
            document["error"] = (
                lines[0] if len(lines) == 1 else f"{project.config_path}: {len(lines)} problems"
            )
        document |= {
            "config_path": str(project.config_path),
            "problems": [p.to_dict() for p in problems],
            "notes": notes,
            "config": resolved,
        }
        print_json(document)
    for note in notes:
        err_console.print(f"note: {note}", markup=False)
    for line in lines:
        err_console.print(f"error: {line}", markup=False)
    if not problems and not as_json:
        out_console(False).print(f"# {project.config_path}: valid", markup=False)
        out_console(False).print(yaml.safe_dump(resolved, sort_keys=False).rstrip(), markup=False)
    if problems:
        raise typer.Exit(ExitCode.USAGE)


@config_app.command("schema")
def schema() -> None:
    """Print the JSON schema of retrainer.yaml (every key with its description)."""
    from retrainer.config import RetrainerConfig

    print_json(RetrainerConfig.model_json_schema())


def init(
    path: Annotated[
        Path, typer.Argument(help="Where to write the starter config.", show_default=True)
    ] = Path(CONFIG_FILENAME),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter retrainer.yaml."""
    from retrainer.config.starter import STARTER_CONFIG

    if path.exists() and not force:
        err_console.print(
            f"error: {path} exists; pass --force to overwrite", markup=False, highlight=False
        )
        raise typer.Exit(ExitCode.USAGE)
    path.write_text(STARTER_CONFIG, encoding="utf-8")
    out_console(False).print(
        f"wrote {path}\nnext: retrainer simulate && retrainer config check && retrainer train",
        markup=False,
    )


def register(app: typer.Typer) -> None:
    """Add the commands to the main app."""
    app.add_typer(config_app, name="config")
    app.command("init")(init)
