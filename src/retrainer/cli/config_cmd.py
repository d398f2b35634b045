"""``retrainer init`` and ``retrainer config check|schema``."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from retrainer.cli._common import (
    ConfigOption,
    EndpointOption,
    ExitCode,
    JsonOption,
    err_console,
    fail_config,
    fail_usage,
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

    Exits 0 when valid (stderr then says what was checked against the data, one
    ``checked:`` line per table), 2 with one line per problem (naming the field) on stderr
    otherwise; under --json stdout holds one document either way (``ok``, ``problems``,
    ``checked``). Writes nothing.
    """
    project = load_project(config, as_json=as_json)
    problems: list[ConfigProblem] = []
    notes: list[str] = []
    checked: list[str] = []
    if not offline:
        from retrainer.config.checks import check_against_data
        from retrainer.data import DataCatalog, DataReadError, StorageError

        try:
            problems, notes, checked = check_against_data(
                DataCatalog.for_project(project),
                project.config.model.task,
                project.config.validation.reference,
            )
        except (StorageError, DataReadError, OSError) as exc:
            problems = [ConfigProblem("data.source", str(exc))]
        except Exception as exc:
            problems = [ConfigProblem("data.source", f"cannot read the data: {exc}")]
    lines = [f"{project.config_path}: {p}" for p in problems]
    warnings = project.config.reserved_warnings()
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
            "warnings": warnings,
            "notes": notes,
            "checked": checked,
            "config": resolved,
        }
        print_json(document)
    for line in lines:
        err_console.print(f"error: {line}", markup=False)
    if not problems:  # a failure's lines say what is wrong; a pass says what it checked
        for line in checked:
            err_console.print(f"checked: {line}", markup=False, highlight=False)
        for note in notes:
            err_console.print(f"note: {note}", markup=False)
        for warning in warnings:
            err_console.print(f"warning: {warning}", markup=False)
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


def _model_name(config_path: Path) -> str:
    """A valid model name from the folder the config goes to."""
    folder = config_path.resolve().parent.name
    name = re.sub(r"[^A-Za-z0-9_.\-]+", "-", folder).strip("-._")[:100]
    return name or "model"


def _data_source(location: str, config_path: Path) -> str:
    """``data.source`` for a daily-layout root: relative to the config's folder when local."""
    if location.startswith("s3://"):
        return location
    root = config_path.resolve().parent
    return os.path.relpath(Path(location).expanduser().resolve(), root)


def _import_command(location: str, inferred: Any, config_path: Path) -> str:
    """The ``retrainer import`` that brings a raw input into the layout the config expects."""
    from retrainer.data.importer import ROW_ID

    parts = ["retrainer", "import", shlex.quote(location), "--timestamp"]
    parts += [shlex.quote(inferred.timestamp.value), "--target", shlex.quote(inferred.target)]
    if inferred.id.value != ROW_ID:  # else the import generates it
        parts += ["--id", shlex.quote(inferred.id.value)]
    data = config_path.resolve().parent / "data"
    if config_path.resolve().parent != Path.cwd().resolve():
        parts += ["--out", shlex.quote(os.path.relpath(data))]
    return " ".join(parts)


def _print_inferred(path: Path, inferred: Any, import_command: str | None) -> None:
    def names(choices: list[Any]) -> str:
        return ", ".join(str(c.value) for c in choices) or "-"

    label = inferred.label_timestamp.value if inferred.label_timestamp else "-"
    left_out = "; ".join(f"{c.value} ({c.note})" for c in inferred.left_out) or "-"
    guesses = path.read_text(encoding="utf-8").count("# guessed:")
    task = inferred.task.note or f"target {inferred.target}"
    lines = [
        f"wrote {path} from a sample of {inferred.sample_rows:,} rows of {inferred.description}",
        f"  task:        {inferred.task.value} ({task})",
        f"  id:          {inferred.id.value}",
        f"  timestamp:   {inferred.timestamp.value}",
        f"  label time:  {label}",
        f"  numeric:     {names(inferred.numeric)}",
        f"  categorical: {names(inferred.categorical)}",
        f"  segments:    {names(inferred.segments)}",
        f"  left out:    {left_out}",
        f'{guesses} line(s) marked "# guessed:" in the file: check them',
    ]
    if import_command:
        lines += [
            "the data is not in the daily layout yet; import it first (add --label-delay-days N "
            "or --label-time COL if labels arrive later than the events):",
            f"  {import_command}",
            "next: retrainer config check && retrainer validate --all && retrainer train",
        ]
    else:
        lines.append("next: retrainer config check && retrainer validate --all && retrainer train")
    for line in lines:
        out_console(False).print(line, markup=False, highlight=False)


def _write(path: Path, text: str, as_json: bool) -> None:
    """Write the config (creating its folder), or exit 2 saying why not."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail_usage(f"cannot write {path}: {exc}", as_json=as_json)


def _init_from_data(
    path: Path,
    location: str,
    target: str,
    hints: dict[str, str | None],
    endpoint_url: str | None,
    as_json: bool,
) -> tuple[str, Any, str | None, str]:
    """Sample the data and infer the config; ``(text, inferred, import command, source)``.

    The text is checked to validate before anything is written.
    """
    from retrainer.config import ConfigError, parse_config
    from retrainer.config.infer import InferError, infer_config, render_config
    from retrainer.data import StorageError
    from retrainer.data.sampling import sample_source
    from retrainer.data.sources import SourceError
    from retrainer.data.timestamps import TimeParseError

    try:
        sample, raw = sample_source(location, endpoint_url)
        inferred = infer_config(
            sample,
            target,
            hints["name"] or _model_name(path),
            timestamp=hints["timestamp"],
            id_column=hints["id"],
        )
    except (InferError, SourceError, StorageError, TimeParseError, OSError) as exc:
        fail_usage(f"--from-data {location}: {exc}", as_json=as_json)
    source = "data" if raw is not None else _data_source(location, path)
    endpoint = endpoint_url if location.startswith("s3://") else None
    text = render_config(inferred, source, endpoint_url=endpoint)
    try:
        parse_config(yaml.safe_load(text), path)
    except ConfigError as exc:
        fail_config(exc, as_json=as_json)
    command = _import_command(location, inferred, path) if raw is not None else None
    return text, inferred, command, source


def _write_project(folder: Path, text: str, from_data: bool, force: bool, as_json: bool) -> None:
    """Write a project folder around the config, or exit 2 saying why not."""
    from retrainer.deployments.project import (
        ProjectExistsError,
        project_files,
        write_project,
    )

    try:
        write_project(folder, project_files(folder, text, from_data=from_data), force=force)
    except ProjectExistsError as exc:
        fail_usage(str(exc), as_json=as_json)
    except OSError as exc:
        fail_usage(f"cannot write {folder}: {exc}", as_json=as_json)


def init(
    path: Annotated[
        Path,
        typer.Argument(
            help="A project folder to create (retrainer.yaml, prefect.yaml with the "
            "deployments, README.md), or a file ending in .yaml for the config alone.",
            show_default=True,
        ),
    ] = Path(CONFIG_FILENAME),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    from_data: Annotated[
        str | None,
        typer.Option(
            "--from-data",
            help="Infer the config from data: a data root in the daily layout (features/ and "
            "labels/, as `retrainer import` writes it) or a CSV/Parquet file or folder "
            "(local or s3://).",
            show_default=False,
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option("--target", help="With --from-data: the label column.", show_default=False),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help="With --from-data: model name (default: the config folder's name).",
            show_default=False,
        ),
    ] = None,
    timestamp: Annotated[
        str | None,
        typer.Option(
            "--timestamp", help="With --from-data: the event-time column.", show_default=False
        ),
    ] = None,
    id_column: Annotated[
        str | None,
        typer.Option("--id", help="With --from-data: the row id column.", show_default=False),
    ] = None,
    endpoint_url: EndpointOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write a commented retrainer.yaml, or a whole project folder around one.

    The config is the starter (the simulated loan stream) or, with --from-data, inferred from
    your data. A project folder also gets prefect.yaml (the deployments, named by module) and
    a README. With --from-data PATH --target COL a bounded sample (at most 100,000 rows, spread over
    the partitions or files) gives the column roles, the task and the estimator; every guess
    is marked with a comment. Exits 2 for bad options or unreadable data.
    """
    from retrainer.config.starter import STARTER_CONFIG

    if (from_data is None) != (target is None):
        fail_usage("--from-data PATH and --target COL go together", as_json=as_json)
    hints = {"name": name, "timestamp": timestamp, "id": id_column}
    if from_data is None and any(hints.values()):
        fail_usage("--name, --timestamp and --id need --from-data", as_json=as_json)
    folder = path.suffix.lower() not in (".yaml", ".yml")
    config_path = path / CONFIG_FILENAME if folder else path
    if config_path.exists() and not force:
        fail_usage(f"{config_path} exists; pass --force to overwrite", as_json=as_json)
    inferred = command = None
    source = "starter"
    text = STARTER_CONFIG
    if from_data is not None and target is not None:
        text, inferred, command, source = _init_from_data(
            config_path, from_data, target, hints, endpoint_url, as_json
        )
    if folder:
        _write_project(path, text, inferred is not None, force, as_json)
    else:
        _write(config_path, text, as_json)
    if as_json:
        document: dict[str, Any] = {"ok": True, "path": str(config_path), "source": source}
        if folder:
            document["project"] = str(path)
        if inferred is not None:
            document |= {
                "layout": command is None,
                "inferred": inferred.to_dict(),
                "import_command": command,
            }
        print_json(document)
        return
    console = out_console(False)
    if folder:
        console.print(
            f"wrote the project folder {path}: retrainer.yaml, prefect.yaml, README.md",
            markup=False,
        )
    if inferred is not None:
        _print_inferred(config_path, inferred, command)
        return
    where = f"cd {path} && " if folder else ""
    console.print(
        f"wrote {config_path}\nnext: {where}retrainer simulate && retrainer config check && "
        "retrainer train",
        markup=False,
    )


def register(app: typer.Typer) -> None:
    """Add the commands to the main app."""
    app.add_typer(config_app, name="config")
    app.command("init")(init)
