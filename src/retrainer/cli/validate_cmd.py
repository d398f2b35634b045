"""``retrainer validate``: run the validation flow, release or list quarantined batches."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from retrainer.cli._common import (
    ConfigOption,
    ExitCode,
    JsonOption,
    err_console,
    fail_usage,
    load_project,
    out_console,
    print_json,
)


def _infrastructure_errors() -> tuple[type[BaseException], ...]:
    """Failures of the services around the flow (storage, MLflow, Prefect, the ledger)."""
    import httpx
    import sqlalchemy.exc
    from botocore.exceptions import BotoCoreError, ClientError
    from mlflow.exceptions import MlflowException
    from prefect.exceptions import PrefectException

    from retrainer.data import DataReadError, QuarantineError, StorageError
    from retrainer.validation import LedgerError

    return (
        BotoCoreError,
        ClientError,
        StorageError,
        DataReadError,
        QuarantineError,
        LedgerError,
        MlflowException,
        PrefectException,
        httpx.HTTPError,
        sqlalchemy.exc.SQLAlchemyError,
        OSError,
    )


@contextmanager
def _exit_2_on_infrastructure_errors(what: str, as_json: bool) -> Iterator[None]:
    """Turn a known infrastructure failure into one line on stderr and exit code 2.

    Exit 1 means "a batch is invalid"; a storage, MLflow, Prefect or ledger failure says
    nothing about the data, so it must not exit 1 (or escape as a traceback).
    """
    try:
        yield
    except _infrastructure_errors() as exc:
        detail = " ".join(str(exc).split()) or "no details"
        if len(detail) > 300:
            detail = detail[:297] + "..."
        fail_usage(f"{what} failed: {type(exc).__name__}: {detail}", as_json=as_json)


def _check_date(option: str, value: str | None, as_json: bool) -> None:
    if value is None:
        return
    from retrainer.data import as_date

    try:
        as_date(value)
    except ValueError as exc:
        fail_usage(f"{option}: {exc}", as_json=as_json)


def _print_batches(result: dict[str, Any], as_json: bool) -> None:
    console = out_console(as_json)
    batches = result["batches"]
    suite = result.get("suite") or {}
    if suite:
        console.print(f"suite: {suite.get('source')}", markup=False, highlight=False)
    shown = batches if len(batches) <= 10 else [b for b in batches if b["verdict"] != "valid"]
    for batch in shown:
        where = f" -> quarantined to {batch['quarantine']}" if batch.get("quarantine") else ""
        console.print(
            f"{batch['batch']}: {batch['verdict']} ({batch['rows']:,} rows, "
            f"{batch['expectations']['failed']}/{batch['expectations']['evaluated']} "
            f"expectations failed){where}",
            markup=False,
            highlight=False,
        )
        for finding in batch["failed"]:
            console.print(
                f"  {finding['severity']}: {finding['message']}", markup=False, highlight=False
            )
    valid = sum(b["verdict"] != "invalid" for b in batches)
    already = result.get("already_validated", 0)
    console.print(
        f"{len(batches)} batch(es) validated: {valid} usable, {len(result['invalid'])} invalid, "
        f"{len(result['quarantined'])} quarantined"
        + (f"; {already} validated before" if already else ""),
        markup=False,
        highlight=False,
    )


def _list_quarantine(config: Any, as_json: bool) -> None:
    from retrainer.data import DataCatalog

    project = load_project(config, as_json=as_json)
    catalog = DataCatalog.for_project(project)
    records = [r.to_dict() for r in catalog.quarantine.records(catalog.features.name)]
    if as_json:
        print_json({"quarantined": records})
        return
    console = out_console(False)
    if not records:
        console.print("no quarantined batches", markup=False)
        return
    for record in records:
        console.print(
            f"{record['date']}  {record['table']}  {record['reason']}  ({record['location']})",
            markup=False,
            highlight=False,
        )


def _release(config: Any, day: str, note: str, as_json: bool) -> None:
    project = load_project(config, as_json=as_json)
    from flows.validate import release_quarantined
    from retrainer.data import QuarantineError

    try:
        result = release_quarantined(config=str(project.config_path), date=day, note=note)
    except QuarantineError as exc:
        fail_usage(str(exc), as_json=as_json)
    if as_json:
        print_json(result)
        return
    out_console(False).print(
        f"released {result['batch']} ({result['files']} file(s)) back to {result['location']}",
        markup=False,
        highlight=False,
    )


def validate(
    config: ConfigOption = None,
    date: Annotated[
        str | None,
        typer.Option(
            "--date",
            help="Validate this partition (again, if it was before).",
            metavar="YYYY-MM-DD",
            show_default=False,
        ),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--start",
            help="Validate every partition from this date...",
            metavar="YYYY-MM-DD",
            show_default=False,
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            "--end",
            help="...up to this date (inclusive).",
            metavar="YYYY-MM-DD",
            show_default=False,
        ),
    ] = None,
    all_pending: Annotated[
        bool,
        typer.Option("--all", help="Validate every partition not validated yet (the default)."),
    ] = False,
    path: Annotated[
        str | None,
        typer.Option(
            "--path",
            help="Validate a Parquet file or folder (reported, never quarantined).",
            show_default=False,
        ),
    ] = None,
    release: Annotated[
        str | None,
        typer.Option(
            "--release",
            help="Put a quarantined partition back after a human fixed or accepted it.",
            metavar="YYYY-MM-DD",
            show_default=False,
        ),
    ] = None,
    note: Annotated[
        str | None,
        typer.Option(
            "--note", help="With --release: why (kept in the quarantine log).", show_default=False
        ),
    ] = None,
    list_quarantine: Annotated[
        bool, typer.Option("--list-quarantine", help="List the quarantined partitions.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Validate feature batches with the Great Expectations suite; quarantine failures.

    Runs the Prefect validation flow. Exits 0 when every batch is usable (warnings only),
    1 when a batch is invalid (it is quarantined), 2 for a usage or config error, or when
    storage, MLflow, Prefect or the ledger fails (one line on stderr).
    """
    modes = {
        "--date": date is not None,
        "--start/--end": start is not None or end is not None,
        "--all": all_pending,
        "--path": path is not None,
        "--release": release is not None,
        "--list-quarantine": list_quarantine,
    }
    chosen = [name for name, on in modes.items() if on]
    if len(chosen) > 1:
        fail_usage(f"use only one of {', '.join(chosen)}", as_json=as_json)
    if note is not None and release is None:
        fail_usage("--note goes with --release", as_json=as_json)
    for option, value in (
        ("--date", date),
        ("--start", start),
        ("--end", end),
        ("--release", release),
    ):
        _check_date(option, value, as_json)
    if start is not None and end is not None and start > end:
        fail_usage(f"--start {start} is after --end {end}", as_json=as_json)

    if list_quarantine:
        with _exit_2_on_infrastructure_errors("listing the quarantine", as_json):
            _list_quarantine(config, as_json)
        raise typer.Exit(ExitCode.OK)
    if release is not None:
        with _exit_2_on_infrastructure_errors(f"releasing {release}", as_json):
            _release(config, release, note or "", as_json)
        raise typer.Exit(ExitCode.OK)

    project = load_project(config, as_json=as_json)
    from flows.validate import validate_data
    from retrainer.progress import progress_bars
    from retrainer.validation import SuiteError
    from tasks.validation import ValidationRequestError

    try:
        with (
            _exit_2_on_infrastructure_errors("validation", as_json),
            progress_bars(enabled=not as_json),
        ):
            result = validate_data(
                config=str(project.config_path), date=date, start=start, end=end, path=path
            )
    except (ValidationRequestError, SuiteError) as exc:
        fail_usage(str(exc), as_json=as_json)
    if as_json:
        print_json(result)
    elif not result.get("enabled", True):
        err_console.print("validation is disabled (validation.enabled: false)", markup=False)
    else:
        _print_batches(result, as_json)
    raise typer.Exit(ExitCode.FINDING if result["invalid"] else ExitCode.OK)


def register(app: typer.Typer) -> None:
    """Add the command to the main app."""
    app.command("validate")(validate)
