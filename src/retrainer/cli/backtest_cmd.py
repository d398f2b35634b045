"""``retrainer backtest``: replay history through retraining policies and price them."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from retrainer.cli._common import (
    ConfigOption,
    ExitCode,
    HtmlOption,
    JsonOption,
    fail_usage,
    load_project,
    out_console,
    print_json,
)


def _day(text: str | None, option: str, as_json: bool) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail_usage(f"{option}: {text!r} is not a date (YYYY-MM-DD)", as_json=as_json)


def _specs(project: Any, policies: Path | None, sweep: bool, truth: bool, as_json: bool) -> list:
    from retrainer.backtest.policies import (
        PoliciesFileError,
        load_policies_file,
        standard_policies,
        sweep_variants,
    )

    cfg = project.config
    window = cfg.training.window
    if policies is not None:
        try:
            specs = load_policies_file(policies, window)
        except PoliciesFileError as exc:
            fail_usage(str(exc), as_json=as_json)
        names = {s.name for s in specs}
        base = [s for s in standard_policies(cfg.policy, window) if s.name in ("never", "current")]
        specs = [s for s in base if s.name not in names] + specs
    else:
        specs = standard_policies(cfg.policy, window, oracle=truth)
    if sweep:
        specs += sweep_variants(cfg.policy, cfg.backtest.sweep)
    return specs


def _money(value: float) -> str:
    return f"{value:,.2f}" if abs(value) >= 1 or value == 0 else f"{value:.3g}"


def _print_table(console: Any, result: Any) -> None:
    from rich.table import Table

    windows = {r.window for r in result.rows}
    table = Table(show_edge=False, pad_edge=False, header_style="bold", box=None)
    labels = ["policy", *(["window"] if len(windows) > 1 else [])]
    labels += ["retrains", "waste", "cost/wk", "mean", "worst"]
    if result.pricing.slo is not None:
        labels.append("<SLO")
    valued = any(r.roi_vs_never is not None for r in result.rows)
    if valued:
        labels.append("ROI")
    for label in labels:
        table.add_column(
            label, justify="left" if label in ("policy", "window") else "right", no_wrap=True
        )
    pick = result.recommendation.name if result.recommendation else None
    for r in result.rows:
        cells = [("* " if r.name == pick else "  ") + r.name]
        if len(windows) > 1:
            cells.append(r.window)
        cells += [
            f"{r.retrains}",
            f"{r.waste}",
            _money(r.cost_per_week),
            "-" if r.mean is None else f"{r.mean:.4f}",
            "-" if r.worst is None else f"{r.worst:.4f}",
        ]
        if result.pricing.slo is not None:
            cells.append(f"{r.days_beyond_slo}")
        if valued:
            cells.append("-" if r.roi_vs_never is None else f"{r.roi_vs_never:,.1f}")
        table.add_row(*cells)
    console.print(table)


def _log_mlflow(project: Any, result: Any, files: list[Path]) -> str:
    from retrainer.registry.tracking import configure_mlflow
    from retrainer.tasks.reporting import log_report_run

    configure_mlflow(project)
    stamp = int(datetime.now(UTC).timestamp() * 1000)
    metrics = []
    for step, row in enumerate(result.rows):
        key = "".join(c if c.isalnum() or c in "-_." else "_" for c in row.name)
        for name in ("retrains", "waste", "cost", "cost_per_week", "mean", "worst", "net"):
            value = getattr(row, name)
            if value is not None:
                metrics.append((f"{key}.{name}", float(value), step, stamp))
    pick = result.recommendation
    tags = {
        "retrainer.kind": "backtest",
        "retrainer.model": project.model_name,
        "retrainer.window_start": result.start.isoformat(),
        "retrainer.window_end": result.end.isoformat(),
        "retrainer.recommended": pick.name if pick else "none",
    }
    params = {
        "metric": result.metric,
        "policies": ",".join(r.name for r in result.rows)[:6000],
        "fits_run": str(result.fits_run),
        "fits_shared": str(result.fits_shared),
    }
    return log_report_run(
        f"backtest-{result.start}-{result.end}",
        tags,
        params,
        metrics,
        [str(f) for f in files],
        "backtest",
    )


def backtest(
    config: ConfigOption = None,
    policies: Annotated[
        Path | None,
        typer.Option(
            "--policies",
            help="YAML file of policies to compare (policies: [{name, policy, window?}]); "
            "never and the configured policy are added. Default: the standard set.",
            show_default=False,
        ),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--start",
            help="First replayed day (default: first partition + backtest.warmup_days).",
            show_default=False,
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            "--end", help="Last replayed day (default: the last partition).", show_default=False
        ),
    ] = None,
    sweep: Annotated[
        bool,
        typer.Option("--sweep", help="Add the backtest.sweep grid and recommend from it."),
    ] = False,
    unvalidated: Annotated[
        str | None,
        typer.Option(
            "--unvalidated",
            help="Partitions never validated: validate (ask to validate them first), skip, "
            "or allow (replay them as they are). Default: validation.before_training.",
            show_default=False,
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", help="Processes (default: backtest.n_jobs).", show_default=False),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Folder for the PNG figures and the JSON result (default: "
            "<state_dir>/reports/backtest/<start>_<end>).",
            show_default=False,
        ),
    ] = None,
    mlflow: Annotated[
        bool, typer.Option("--mlflow/--no-mlflow", help="Log the results to an MLflow run.")
    ] = True,
    as_json: JsonOption = False,
    html: HtmlOption = None,
) -> None:
    """Replay history day by day through retraining policies; price each; recommend one.

    Uses the live code (validation screening, drift, monitoring, training, gate, policy)
    with the real label delay, and no Prefect server: the window groups replay in --jobs
    processes, or, with compute.task_runner kind dask, as tasks of one flow run on the Dask
    cluster. Prints the table, writes the figures, the JSON result and the HTML report, and
    logs them to MLflow. Exits 0, or 2 on a usage, config or data error.
    """
    project = load_project(config, as_json=as_json)
    first, last = _day(start, "--start", as_json), _day(end, "--end", as_json)
    if unvalidated not in (None, "validate", "skip", "allow"):
        fail_usage("--unvalidated: one of validate, skip, allow", as_json=as_json)
    if jobs is not None and (jobs == 0 or jobs < -1):
        fail_usage("--jobs: a positive number, or -1 for every core", as_json=as_json)
    from retrainer.backtest import BacktestDataError, load_history, run_backtest
    from retrainer.backtest.report import render_html, save_figures, waste_lines
    from retrainer.data import DataReadError, StorageError
    from retrainer.progress import progress_bars

    console = out_console(as_json)
    runner = _runner(project, as_json)
    try:
        history = load_history(project, None, last, unvalidated)
    except (BacktestDataError, DataReadError, StorageError) as exc:
        fail_usage(str(exc), as_json=as_json)
    specs = _specs(project, policies, sweep, history.truth is not None, as_json)
    log_path = project.state_dir / "logs" / "backtest.log"
    with _flow_logs(runner, log_path), progress_bars(enabled=not as_json) as shown:
        bar = _Bar(shown)
        try:
            result = run_backtest(
                project.config, history, specs, first, last, n_jobs=jobs, progress=bar,
                runner=runner,
            )  # fmt: skip
        except BacktestDataError as exc:
            bar.close()
            fail_usage(str(exc), as_json=as_json)
        bar.close()
    folder = out or project.reports_dir("backtest", f"{result.start}_{result.end}")
    pngs = save_figures(result, history.truth, Path(folder))
    document = result.to_dict()
    pick = result.recommendation
    snippet = None
    if pick is not None:
        spec = next(s for s in specs if s.name == pick.name)
        snippet = spec.snippet(project.config.training.window)
        document["recommendation"]["snippet"] = snippet
    document["waste"] = waste_lines(result)
    document["notes"] = _notes(project)
    if runner is not None:
        document["flow_log"] = str(log_path)
    json_path = Path(folder) / "backtest.json"
    json_path.write_text(json.dumps(document, indent=2, default=str))
    page = render_html(result, history.truth, snippet)
    html_path = Path(folder) / "backtest.html"
    html_path.write_text(page)
    if html:
        Path(html).parent.mkdir(parents=True, exist_ok=True)
        Path(html).write_text(page)
    document["files"] = {
        "html": str(html or html_path),
        "json": str(json_path),
        **{k: str(v) for k, v in pngs.items()},
    }
    if mlflow:
        document["mlflow_run_id"] = _log_mlflow(
            project, result, [html_path, json_path, *pngs.values()]
        )
    if as_json:
        print_json(document)
        raise typer.Exit(ExitCode.OK)
    _story(console, result, snippet, document)
    raise typer.Exit(ExitCode.OK)


def _runner(project: Any, as_json: bool) -> Any:
    """The Dask runner of ``compute.task_runner`` (None: processes on this machine).

    Checked before any work: without prefect-dask the command fails naming the package.
    """
    if project.config.compute.task_runner.kind == "local":
        return None  # no Prefect import for the default
    from retrainer.flows.backtest import group_runner
    from retrainer.tasks.compute import ComputeSetupError

    try:
        return group_runner(project.config.compute)
    except ComputeSetupError as exc:
        fail_usage(str(exc), as_json=as_json)


def _flow_logs(runner: Any, path: Path) -> Any:
    """Where the Dask flow run's own logs go: a file (none on this machine's processes)."""
    from contextlib import nullcontext

    from retrainer.cli._common import console_logs_to

    return nullcontext() if runner is None else console_logs_to(path)


def _notes(project: Any) -> list[str]:
    """What the replay does not do the way the live loop does."""
    segments = project.config.drift.segments.columns
    if not segments:
        return []
    return [
        f"drift.segments ({', '.join(segments)}) is not replayed: the replay's drift checks "
        "judge the whole window, so a policy whose drift trigger fires on one segment "
        "retrains less here than live"
    ]


def _story(console: Any, result: Any, snippet: str | None, document: dict[str, Any]) -> None:
    days = (result.end - result.start).days + 1
    console.print(
        f"replayed {result.start} .. {result.end} ({days} days) through {len(result.rows)} "
        f"policies in {result.seconds:.1f} s: {result.fits_text()}"
        + ("" if result.ran_on == "local" else f"; window groups on {result.ran_on}")
        + (f" (its flow run's log: {document['flow_log']})" if document.get("flow_log") else ""),
        markup=False,
    )
    if result.excluded:
        console.print(
            f"{len(result.excluded)} partition(s) never trained on or measured (invalid or "
            "quarantined)",
            markup=False,
        )
    _print_table(console, result)
    for line in document["waste"]:
        console.print(f"waste: {line}", markup=False)
    for line in document["notes"]:
        console.print(f"note: {line}", markup=False)
    pick = result.recommendation
    if pick is None:
        console.print("no policy meets the target", markup=False)
    else:
        console.print(
            f"recommended: {pick.name} (mean {result.metric} {pick.mean:.4f} meets "
            f"{pick.target:.4f}, {pick.target_source}); it {pick.vs_current}:",
            markup=False,
        )
        console.print(snippet.rstrip(), markup=False)
    console.print(f"report: {document['files']['html']}", markup=False)


class _Bar:
    """The replay's progress bar (days of one group, or groups finished)."""

    def __init__(self, shown: bool):
        from retrainer import progress as bars

        self.progress = bars.active() if shown else None
        self.task = None

    def __call__(self, done: int, total: int, what: str) -> None:
        if self.progress is None:
            return
        if self.task is None:
            self.task = self.progress.add_task(f"replaying {what}", total=total)
        self.progress.update(self.task, completed=done, description=f"replaying {what}")

    def close(self) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.remove_task(self.task)
            self.task = None


def register(app: typer.Typer) -> None:
    """Add the command to the main app."""
    app.command("backtest")(backtest)
