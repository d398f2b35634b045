"""``retrainer simulate``: write the simulated loan-default stream and its ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from retrainer.cli._common import (
    EndpointOption,
    JsonOption,
    err_console,
    fail_usage,
    out_console,
    print_json,
    storage_errors_exit_2,
)


def _default_out() -> str:
    """``data`` next to the nearest ``retrainer.yaml``, else ``./data``."""
    from retrainer.project import find_config

    found = find_config()
    root = found.parent if found is not None else Path.cwd()
    return str(root / "data")


def _list_scenarios(as_json: bool) -> None:
    from retrainer.simulate import SCENARIOS

    if as_json:
        print_json({"scenarios": [s.summary() for s in SCENARIOS.values()]})
        return
    console = out_console(False)
    width = max(len(name) for name in SCENARIOS)
    for name, scenario in SCENARIOS.items():
        size = f"{scenario.days}d x {scenario.rows_per_day}"
        console.print(
            f"{name:<{width}}  {size:<11}  {scenario.description}", markup=False, highlight=False
        )


def _stream_lines(stream: dict[str, Any], outliers: int) -> list[str]:
    """The stream's shape in words (nothing for i.i.d. days)."""
    lines = []
    if stream["order"]:
        order = stream["order"]
        lines.append(
            f"stream ordered by {order['column']} in blocks of {order['block_days']} days "
            "(expected, not drift)"
        )
    for tail in stream["heavy_tails"]:
        lines.append(
            f"valid outliers: {tail['share']:.2%} of {tail['column']} x{tail['low']:g}-"
            f"x{tail['high']:g} ({outliers} rows in the schedule)"
        )
    if stream["rare_categories"]:
        rare = ", ".join(
            f"{r['column']}={r['value']} {r['share']:.2%}" for r in stream["rare_categories"]
        )
        lines.append(f"rare valid categories: {rare}")
    return lines


def _print_summary(summary: dict[str, Any]) -> None:
    console = out_console(False)
    features, labels = summary["tables"]["features"], summary["tables"]["labels"]
    console.print(
        f"scenario {summary['scenario']} (seed {summary['seed']}): {summary['days']} days "
        f"{summary['start']}..{summary['end']}",
        markup=False,
        highlight=False,
    )
    console.print(
        f"features: {features['rows']:,} rows in {features['partitions']} partitions "
        f"-> {features['location']}",
        markup=False,
        highlight=False,
    )
    console.print(
        f"labels:   {labels['rows']:,} rows in {labels['partitions']} partitions "
        f"(delay {summary['label_delay']} days; {labels['not_yet_arrived']:,} not arrived yet) "
        f"-> {labels['location']}",
        markup=False,
        highlight=False,
    )
    for drift in summary["drifts"]:
        until = f"..{drift['end']}" if drift["end"] else ""
        segment = f" in {drift['segment']}" if drift["segment"] else ""
        columns = ", ".join(drift["columns"]) or "base rate"
        tag = " (expected, not drift)" if drift["expected"] else ""
        if drift["effect"] == "widen":
            tag += f" (spread x{drift['magnitude']:g})"
        console.print(
            f"drift {drift['id']}: {drift['kind']} {drift['pattern']} from {drift['start']}"
            f"{until}{segment} [{columns}]{tag}",
            markup=False,
            highlight=False,
        )
    for line in _stream_lines(summary["stream"], summary["outliers"]):
        console.print(line, markup=False, highlight=False)
    for incident in summary["incidents"]:
        console.print(
            f"incident {incident['date']} {incident['kind']}: {incident['description']}",
            markup=False,
            highlight=False,
        )
    console.print(f"ground truth: {summary['schedule']}", markup=False, highlight=False)


def simulate(
    days: Annotated[
        int | None,
        typer.Option(
            "--days",
            min=1,
            help="Days to simulate (default: the scenario's length).",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            help="Data root: a folder or s3://bucket/prefix (default: data/ next to the "
            "nearest retrainer.yaml, else ./data).",
            show_default=False,
        ),
    ] = None,
    scenario: Annotated[
        str, typer.Option("--scenario", help="Scenario name (see --list-scenarios).")
    ] = "demo",
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    start: Annotated[str, typer.Option("--start", help="First day (YYYY-MM-DD).")] = "2026-01-01",
    rows_per_day: Annotated[
        int | None,
        typer.Option(
            "--rows-per-day",
            min=1,
            help="Feature rows per day (default: the scenario's, see --list-scenarios; "
            "2000 for most).",
            show_default=False,
        ),
    ] = None,
    label_delay: Annotated[
        int, typer.Option("--label-delay", min=0, help="Days until a row's label arrives.")
    ] = 7,
    label_jitter: Annotated[
        int,
        typer.Option("--label-jitter", min=0, help="Extra random label delay of 0..N days."),
    ] = 0,
    incident: Annotated[
        list[str] | None,
        typer.Option(
            "--incident",
            help="Add a data-quality incident, KIND@YYYY-MM-DD[:COLUMN] (repeatable). Kinds: "
            "schema_break, null_burst, unit_change, new_category, dtype_break, duplicate_ids, "
            "empty_batch, stale_dates.",
            show_default=False,
        ),
    ] = None,
    list_scenarios: Annotated[
        bool, typer.Option("--list-scenarios", help="List the scenarios and exit.")
    ] = False,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite/--no-overwrite",
            help="Replace a previous simulation at --out (never data that was not simulated).",
        ),
    ] = True,
    endpoint_url: EndpointOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write a simulated loan-default stream: features, delayed labels and the ground truth.

    Drifts and incidents follow the scenario; the ground truth goes to
    <out>/_simulation/schedule.json. Needs no retrainer.yaml. Exits 0 when written, 2 for
    bad arguments.
    """
    from retrainer.simulate import SimulationError, write_simulation
    from retrainer.simulate import simulate as run_simulation

    if list_scenarios:
        _list_scenarios(as_json)
        return
    try:
        sim = run_simulation(
            scenario,
            days=days,
            seed=seed,
            start=start,
            rows_per_day=rows_per_day,
            label_delay_days=label_delay,
            label_jitter_days=label_jitter,
            incidents=incident or [],
        )
    except SimulationError as exc:
        fail_usage(str(exc), as_json=as_json)

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    target = out or _default_out()
    progress = Progress(
        TextColumn("writing {task.description:<8}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err_console,
        transient=True,
        # on stderr, and only for a person at a terminal: no stray lines in logs, pipes, JSON
        disable=as_json or not err_console.is_terminal,
    )
    with progress:
        task = progress.add_task("features", total=None)

        def advance(table: str, done: int, total: int) -> None:
            progress.update(task, description=table, completed=done, total=total)

        try:
            with storage_errors_exit_2(f"--out {target}", as_json=as_json):
                summary = write_simulation(
                    sim, target, overwrite=overwrite, endpoint_url=endpoint_url, progress=advance
                )
        except SimulationError as exc:
            fail_usage(str(exc), as_json=as_json)
    if as_json:
        print_json(summary)
    else:
        _print_summary(summary)


def register(app: typer.Typer) -> None:
    """Add ``simulate`` to the CLI."""
    app.command("simulate")(simulate)
