"""``retrainer demo``: the whole continuous-training loop on the embedded default.

The story goes to the terminal (a line per day that matters, a progress bar for the days);
Prefect's and MLflow's own output goes to ``<dir>/demo.log`` (``--verbose`` shows it).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import IO, Annotated

import typer
from rich.console import Console
from rich.table import Table

from retrainer.cli._common import ExitCode

STYLE = {
    "quarantined": "yellow", "drift": "yellow", "suppressed": "dim", "retrain": "cyan",
    "gate_passed": "green", "gate_failed": "red", "advance": "cyan", "promoted": "bold green",
    "aborted": "bold red", "rollback": "magenta", "paused": "yellow",
}  # fmt: skip


@contextmanager
def _quiet(log: IO[str], verbose: bool) -> Iterator[None]:
    """Send stdout, stderr and every log handler on them to ``log`` (unless verbose).

    At the file-descriptor level too: the ephemeral Prefect server and the gateway are
    child processes that write to descriptors 1 and 2 directly.
    """
    if verbose:
        yield
        return
    from retrainer.progress import _log_handlers_on, _set_stream

    moved = [(h, sys.stderr) for h in _log_handlers_on(sys.stderr)]
    moved += [(h, sys.stdout) for h in _log_handlers_on(sys.stdout)]
    for handler, _ in moved:
        _set_stream(handler, log)
    root = logging.getLogger()
    mine = logging.StreamHandler(log)
    root.addHandler(mine)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    try:
        with redirect_stdout(log), redirect_stderr(log):
            yield
    finally:
        log.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        root.removeHandler(mine)
        for handler, stream in moved:
            _set_stream(handler, stream)


def demo(
    folder: Annotated[
        Path, typer.Option("--dir", help="The demo project's folder (replaced on a rerun).")
    ] = Path("demo"),
    rows_per_day: Annotated[
        int, typer.Option(help="Loan applications per day, each one a gateway request.", min=100)
    ] = 500,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show Prefect's and MLflow's own output.")
    ] = False,
) -> None:
    """Run the whole continuous-training loop day by day, with a real gateway and traffic.

    Simulates 44 days of loan applications (label delay 1 day; incomes drop on day 22, a
    downturn changes who defaults from day 23, a bad batch on day 25) and replays them from
    day 20: nightly continuous-training runs, the day's requests through `retrainer serve`,
    the outcomes as feedback, the staged rollout. Needs no server. Exits 0 when the story
    is told, 2 when it cannot run.
    """
    from retrainer.demo.loop import (
        Demo,
        DemoSettings,
        Gateway,
        Traffic,
        columns_of,
        demo_environment,
        ledger,
        loop_days,
        prepare,
        write_timeline,
    )

    # the story goes to the terminal through its own descriptor (1 and 2 go to the log)
    terminal = os.fdopen(os.dup(sys.__stdout__.fileno()), "w", buffering=1)
    out = Console(file=terminal, highlight=False, soft_wrap=True)
    settings = DemoSettings(folder=folder.resolve(), rows_per_day=rows_per_day)
    started = time.monotonic()
    try:
        prepare(settings, lambda line: out.print(line, markup=False))
    except FileExistsError as exc:
        out.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(ExitCode.USAGE) from None
    env = demo_environment(settings)
    for key in list(os.environ):
        if key not in env:
            del os.environ[key]
    os.environ.update(env)
    log_path = settings.folder / "demo.log"
    import prefect  # noqa: F401  (its log handlers exist before they are sent to the log)

    out.print(
        f"Simulated 44 days of loan applications in {settings.folder}/data "
        f"({rows_per_day} a day, outcomes known a day later).\n"
        "Replaying from day 20 through the continuous-training flow, the gateway and "
        f"the staged rollout. Prefect's own output: {log_path}\n",
        markup=False,
    )
    with log_path.open("a", encoding="utf-8") as log, _quiet(log, verbose):
        demo_run = Demo(settings, lambda line: None, env)
        demo_run.gateway = Gateway(settings.folder, settings.folder / "gateway.log")
        demo_run.gateway.start(env)
        demo_run.traffic = Traffic.load(settings.folder, columns_of(settings))
        try:
            _replay(demo_run, loop_days(settings), out)
        finally:
            demo_run.gateway.stop()
        paths = write_timeline(demo_run)
        history = ledger(demo_run)
        logging.getLogger("prefect").setLevel(logging.WARNING)  # a quiet exit
    _summary(out, demo_run, paths, history, time.monotonic() - started)


def _replay(demo_run, days: list[str], out: Console) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    told = 0
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=out, transient=True) as bar:
        task = bar.add_task("days", total=len(days))

        def tick(record) -> None:
            nonlocal told
            for moment in demo_run.timeline.moments[told:]:
                style = STYLE.get(moment.kind, "")
                text = moment.text if len(moment.text) < 160 else moment.text[:157] + "..."
                bar.console.print(f"{moment.day}  [{style}]{_escape(text)}[/{style}]" if style
                                  else f"{moment.day}  {_escape(text)}")  # fmt: skip
            told = len(demo_run.timeline.moments)
            bar.update(task, advance=1, description=f"{record.day}  champion v{record.champion}")

        from retrainer.demo.loop import run_days

        run_days(demo_run, days, tick)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _summary(out: Console, demo_run, paths, history, seconds: float) -> None:
    from retrainer.demo.timeline import summary

    table = Table(title="Versions", box=None, title_justify="left")
    frame = summary(demo_run.timeline)
    for column in frame.columns:
        table.add_column(column)
    for row in frame.itertuples(index=False):
        table.add_row(*[str(v) for v in row])
    out.print()
    out.print(table)
    ledger_table = Table(title="Promotion ledger", box=None, title_justify="left")
    for column in ("action", "from", "to", "reason"):
        ledger_table.add_column(column)
    for row in history.itertuples(index=False):
        ledger_table.add_row(row.action, str(row[1] or ""), str(row[2] or ""), str(row.reason)[:70])
    out.print(ledger_table)
    folder = demo_run.settings.folder
    out.print(f"\nTimeline: {paths['png']}\n          {paths['html']}", markup=False)
    out.print(f"MLflow UI:  retrainer ui -c {folder}/retrainer.yaml   (http://127.0.0.1:5000)",
              markup=False)  # fmt: skip
    out.print(f"Prefect UI: PREFECT_HOME={folder}/.retrainer/prefect prefect server start"
              "   (http://127.0.0.1:4200)", markup=False)  # fmt: skip
    out.print(f"Done in {seconds / 60:.1f} min.", markup=False)


def register(app: typer.Typer) -> None:
    """Add ``retrainer demo`` to the main app."""
    app.command("demo")(demo)
