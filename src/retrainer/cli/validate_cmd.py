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
    say = lambda text: console.print(text, markup=False, highlight=False)  # noqa: E731
    if suite:
        say(f"suite: {suite.get('source')}")
        for note in suite.get("notes") or []:
            say(f"  {note}")
    flagged = [b for b in batches if b["verdict"] != "valid"]
    shown = batches if len(batches) <= 10 else flagged
    for batch in shown[:MAX_SHOWN]:
        where = f" -> quarantined to {batch['quarantine']}" if batch.get("quarantine") else ""
        say(
            f"{batch['batch']}: {batch['verdict']} ({batch['rows']:,} rows, "
            f"{batch['expectations']['failed']}/{batch['expectations']['evaluated']} "
            f"expectations failed){where}"
        )
        for finding in batch["failed"]:
            say(f"  {finding['severity']}: {finding['message']}")
    if len(shown) > MAX_SHOWN:
        say(f"... and {len(shown) - MAX_SHOWN} more batches with findings (--json lists all)")
    valid = sum(b["verdict"] != "invalid" for b in batches)
    already = result.get("already_validated", 0)
    would = "would be quarantined" if result.get("dry_run") else "quarantined"
    quarantined = len(result["invalid"]) if result.get("dry_run") else len(result["quarantined"])
    seconds = result.get("seconds") or 0.0
    pace = (
        f" in {seconds:.1f} s ({1000 * seconds / len(batches):.0f} ms per batch)" if batches else ""
    )
    dry = " (dry run: nothing moved)" if result.get("dry_run") else ""
    say(
        f"{len(batches)} batch(es) validated{dry}{pace}: {valid} usable, "
        f"{len(result['invalid'])} invalid, {quarantined} {would}"
        + (f"; {already} validated before" if already else "")
    )
    for line in _diagnosis_lines(result.get("diagnosis")):
        say(line)


MAX_SHOWN = 20


def _diagnosis_lines(diagnosis: dict[str, Any] | None) -> list[str]:
    from retrainer.validation.diagnosis import Diagnosis

    return Diagnosis.from_dict(diagnosis).lines() if diagnosis else []


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


def _release_range(value: str, as_json: bool) -> tuple[str, str]:
    """``DATE`` or ``START:END`` → (start, end), checked."""
    first, _, last = value.partition(":")
    last = last or first
    _check_date("--release", first, as_json)
    _check_date("--release", last, as_json)
    if first > last:
        fail_usage(f"--release {value}: {first} is after {last}", as_json=as_json)
    return first, last


def _release(
    config: Any, span: tuple[str, str] | None, everything: bool, note: str, as_json: bool
) -> None:
    """Release without a flow run (a release must not wait for a server to start)."""
    project = load_project(config, as_json=as_json)
    from retrainer import events
    from retrainer.data import QuarantineError
    from retrainer.tasks.events import prefect_api_is_shared
    from retrainer.tasks.validation import release_held

    start, end = span if span else (None, None)
    try:
        result = release_held(project, start, end, everything, note)
    except QuarantineError as exc:
        fail_usage(str(exc), as_json=as_json)
    event_id = None
    if prefect_api_is_shared():  # automations live there; the ephemeral API has no listener
        from retrainer.tasks.events import emit

        event_id = emit(events.DATA_RELEASED, project.model_name, result, batch=result["batch"])
    result = {**result, "event": events.DATA_RELEASED, "event_id": event_id}
    if as_json:
        print_json(result)
        return
    what = (
        result["first"]
        if result["count"] == 1
        else f"{result['count']} batches {result['first']}..{result['last']}"
    )
    out_console(False).print(
        f"released {what} ({result['files']} file(s)) back to {result['location']}"
        + (f"; {len(result['in_place'])} released in place" if result["in_place"] else ""),
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
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Report what the suite would quarantine across history (every partition, "
            "the quarantined ones included, or --start/--end); nothing is moved or recorded.",
        ),
    ] = False,
    rebuild_suite: Annotated[
        bool,
        typer.Option(
            "--rebuild-suite",
            help="Build the suite again from its reference data (the champion's training "
            "window, or validation.reference) before validating.",
        ),
    ] = False,
    release: Annotated[
        str | None,
        typer.Option(
            "--release",
            help="Put quarantined partitions back after a human fixed or accepted them: one "
            "date or a range START:END, in one pass.",
            metavar="YYYY-MM-DD[:YYYY-MM-DD]",
            show_default=False,
        ),
    ] = None,
    release_all: Annotated[
        bool,
        typer.Option(
            "--release-all", help="Put every quarantined partition back (needs --reason)."
        ),
    ] = False,
    reason: Annotated[
        str | None,
        typer.Option(
            "--reason",
            "--note",
            help="With --release/--release-all: why (kept in the ledger and the quarantine log).",
            show_default=False,
        ),
    ] = None,
    list_quarantine: Annotated[
        bool, typer.Option("--list-quarantine", help="List the quarantined partitions.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Validate feature batches with the Great Expectations suite; quarantine failures.

    Runs the Prefect validation flow. Exits 0 when every batch is usable (warnings only),
    1 when a batch is invalid (it is quarantined; under --dry-run: it would be), 2 for a usage
    or config error, or when storage, MLflow, Prefect or the ledger fails (one line on stderr).
    """
    modes = {
        "--date": date is not None,
        "--start/--end": (start is not None or end is not None) and not dry_run,
        "--all": all_pending,
        "--path": path is not None,
        "--release": release is not None,
        "--release-all": release_all,
        "--list-quarantine": list_quarantine,
        "--dry-run": dry_run,
    }
    chosen = [name for name, on in modes.items() if on]
    if len(chosen) > 1:
        fail_usage(f"use only one of {', '.join(chosen)}", as_json=as_json)
    if reason is not None and release is None and not release_all:
        fail_usage("--reason goes with --release or --release-all", as_json=as_json)
    if release_all and not (reason or "").strip():
        fail_usage("--release-all needs --reason TEXT (kept in the ledger)", as_json=as_json)
    if rebuild_suite and (release is not None or release_all or list_quarantine):
        fail_usage("--rebuild-suite goes with a validation run", as_json=as_json)
    for option, value in (("--date", date), ("--start", start), ("--end", end)):
        _check_date(option, value, as_json)
    if start is not None and end is not None and start > end:
        fail_usage(f"--start {start} is after --end {end}", as_json=as_json)

    if list_quarantine:
        with _exit_2_on_infrastructure_errors("listing the quarantine", as_json):
            _list_quarantine(config, as_json)
        raise typer.Exit(ExitCode.OK)
    if release is not None or release_all:
        span = _release_range(release, as_json) if release is not None else None
        with _exit_2_on_infrastructure_errors(f"releasing {release or 'everything'}", as_json):
            _release(config, span, release_all, reason or "", as_json)
        raise typer.Exit(ExitCode.OK)

    project = load_project(config, as_json=as_json)
    from retrainer.flows.validate import validate_data
    from retrainer.progress import progress_bars
    from retrainer.tasks.validation import ValidationRequestError
    from retrainer.validation import SuiteError

    try:
        with (
            _exit_2_on_infrastructure_errors("validation", as_json),
            progress_bars(enabled=not as_json),
        ):
            result = validate_data(
                config=str(project.config_path),
                date=date,
                start=start,
                end=end,
                path=path,
                dry_run=dry_run,
                rebuild_suite=rebuild_suite,
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
