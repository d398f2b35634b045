"""Great Expectations validation of a 1,000,000-row × 25-column batch, next to the other steps.

Run: ``make bench-validation`` (or ``.venv/bin/python benchmarks/validation_large_batch.py``).
It prints the table and writes it to ``benchmarks/results/validation_large_batch-<date>.txt``
and ``.json`` (``--out-dir``; ``--no-save`` to only print). Figures measured on the project's
machine are in ``benchmarks/README.md``.

One simulated day of 1,000,000 loan applications (the 16 columns of the demo stream plus 9
derived numeric features = 25 columns) is written as a Parquet partition. The suite comes from
a 60-day reference of the same stream (the validation flow's default before a champion
exists). Each pipeline step then runs on the same batch:

    read Parquet -> build suite (reference) -> validate: GX run + HTML report + MLflow run
                 -> train pipeline -> score

The validation step is what the validation flow does per batch: the GX run (every expectation
of the suite, the monotonic-dates check included: the day before counts as the newest accepted
partition), then the flow's own work: the HTML report and the MLflow run (tags, metrics, the GX
result JSON, findings and report as artifacts, in a local SQLite store). Quarantine moves,
Prefect events and the ledger are not timed (no Prefect API here; each is one small write).

Per step: wall time, CPU time, **Δ RSS** (the highest RSS sampled every 5 ms during the step
minus the RSS just before it: memory the step added) and **RSS peak** (that highest RSS: the
process's footprint during the step, data of earlier steps included). The process peak
(``ru_maxrss``) is printed at the end. The validation share is the validation step's time
(GX + report + MLflow) over the sum of the pipeline steps (the one-time GX import left out);
it must not be the slowest step.

Options: ``--rows``, ``--estimator-iterations`` (default: the demo config's 200), ``--repeat``
(GX runs, the fastest counts; default 1), ``--gx-defaults`` (also time GX with its default
batch fingerprint, which hashes every row; not counted in the share).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _portable import write_json

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.pop("MLFLOW_TRACKING_URI", None)
REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
EXTRA_COLUMNS = 9
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * _PAGE
    except OSError:  # not Linux: the process-lifetime peak is the best we have
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _process_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


@dataclass
class Step:
    """One timed step."""

    name: str
    seconds: float
    cpu_seconds: float
    delta_rss_mb: float
    rss_peak_mb: float
    detail: str = ""
    counted: bool = True  # part of the pipeline total (not: one-time import, comparisons)
    part_of: str | None = None  # a sub-step of another step (shown indented, not summed)


@contextmanager
def measured(name: str, steps: list[Step], detail: str = "", **flags: Any) -> Iterator[Step]:
    """Time a step and sample its RSS every 5 ms in a thread."""
    baseline = _rss_bytes()
    peak = [baseline]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            stop.wait(0.005)

    step = Step(name, 0.0, 0.0, 0.0, 0.0, detail, **flags)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield step
    finally:
        step.seconds, step.cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
        stop.set()
        sampler.join()
        peak[0] = max(peak[0], _rss_bytes())
        step.delta_rss_mb = (peak[0] - baseline) / 2**20
        step.rss_peak_mb = peak[0] / 2**20
        steps.append(step)


def with_extra_columns(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Add 9 numeric features derived from the stream (realistic ranges, a few nulls)."""
    rng = np.random.default_rng(seed)
    n = len(frame)
    extra = {
        "loan_to_income": frame["loan_amount"] / frame["income"],
        "monthly_payment": frame["loan_amount"] / frame["term_months"],
        "score_per_year": frame["credit_score"] / frame["age"],
        "accounts_per_year": frame["open_accounts"] / (frame["age"] - 17),
        "utilization_x_dti": frame["utilization"] * frame["debt_to_income"],
        "bureau_inquiries": rng.poisson(1.2, n).astype(float),
        "months_since_delinquency": np.where(
            rng.random(n) < 0.3, np.nan, rng.exponential(30.0, n).round()
        ),
        "residence_years": rng.gamma(2.0, 3.0, n).round(1),
        "dependents": rng.choice([0.0, 1.0, 2.0, 3.0, 4.0], n, p=[0.4, 0.25, 0.2, 0.1, 0.05]),
    }
    assert len(extra) == EXTRA_COLUMNS
    return frame.assign(**extra)


def benchmark_config(root: Path, iterations: int | None, rows: int) -> Any:
    from retrainer.config import parse_config

    data = yaml.safe_load((REPO / "retrainer.yaml").read_text())
    data["data"]["source"] = str(root / "data")
    data["state_dir"] = str(root / "state")
    data.pop("mlflow", None)
    extra = list(with_extra_columns(_tiny_frame(), 0).columns[-EXTRA_COLUMNS:])
    data["columns"]["numeric"] = [*data["columns"]["numeric"], *extra]
    if iterations is not None:
        data["estimator"]["params"]["max_iter"] = iterations
    # the reference days hold 20,000 rows, the benchmark day many more: explicit bounds
    data["validation"] = {"row_count": {"min_rows": rows // 2, "max_rows": rows * 2}}
    return parse_config(data, "retrainer.yaml (benchmark)")


def _tiny_frame() -> pd.DataFrame:
    from retrainer.simulate import simulate

    return simulate("stable", days=1, rows_per_day=10, seed=0).features


def _log_batch(result: Any, html: str) -> None:
    """What the validation flow logs for a batch with findings: metrics and three artifacts."""
    import json

    import mlflow

    from retrainer.validation.store import batch_metrics

    mlflow.log_metrics(batch_metrics(result))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / result.label
        folder.mkdir()
        (folder / "gx_result.json").write_text(json.dumps(result.result, default=str))
        (folder / "findings.json").write_text(json.dumps(result.summary(max_findings=1000)))
        (folder / "report.html").write_text(html)
        mlflow.log_artifacts(tmp, artifact_path="validation")


def run(
    rows: int, iterations: int | None, repeat: int, gx_defaults: bool
) -> tuple[list[Step], dict[str, Any]]:
    """Run every step; returns the steps and facts about the batch and the suite."""
    import mlflow

    from retrainer.data import DataCatalog, LocalStorage
    from retrainer.project import Project
    from retrainer.registry.tracking import configure_mlflow
    from retrainer.simulate import simulate
    from retrainer.training.trainer import TrainingSet, fit_model, score_frame
    from retrainer.validation import render_html, validate_batch
    from retrainer.validation.store import build_suite_from_frame

    steps: list[Step] = []
    facts: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = benchmark_config(root, iterations, rows)
        project = Project.from_config(config, root)
        catalog = DataCatalog(LocalStorage(root / "data"), config.data, config.columns)

        print(f"simulating a 60-day reference and a {rows:,}-row day ...", flush=True)
        # a training-window-sized reference: 60 days x 5,000 rows of the same stable stream
        reference = with_extra_columns(
            simulate("stable", days=60, rows_per_day=5_000, seed=11).features, seed=2
        )
        sim = simulate("stable", days=1, start="2026-03-02", rows_per_day=rows, seed=12)
        day = sim.schedule.dates()[0]
        batch = with_extra_columns(sim.feature_batch(day), seed=1)
        labels = sim.labels.set_index("loan_id")["defaulted"]
        catalog.features.write_partition(day, batch)
        del sim, batch
        columns = len(catalog.features.schema(day).names)
        facts.update(rows=rows, columns=columns, day=day.isoformat())
        print(f"batch {day}: {rows:,} rows x {columns} columns", flush=True)

        # the MLflow store is created before timing (a one-time migration of the SQLite DB)
        configure_mlflow(project)
        with mlflow.start_run(run_name="warm-up"):
            mlflow.log_metric("warm_up", 1.0)

        with measured("read Parquet partition", steps):
            frame = catalog.features.read(dates=[day])

        with measured("build suite (60-day reference)", steps, f"{len(reference):,} rows"):
            suite = build_suite_from_frame(project, reference, {"kind": "benchmark"})
        facts["expectations"] = len(suite.expectations)
        facts["expectation_kinds"] = suite.kinds()

        import retrainer.validation.runner as runner

        with measured("import Great Expectations (once per process)", steps, counted=False):
            runner.gx_session()

        previous = day - timedelta(days=1)  # the newest accepted partition: monotonic dates
        best: Step | None = None
        result = None
        for attempt in range(repeat):
            attempt_steps: list[Step] = []
            with measured("GX run (suite on the whole batch)", attempt_steps, part_of="validate"):
                outcome = validate_batch(
                    frame, suite, label=str(day), dates=[day], previous=previous
                )
            step = attempt_steps[0]
            if best is None or step.seconds < best.seconds:
                best, result = step, outcome
            if outcome.findings:
                print("  unexpected findings:", *[f.message for f in outcome.findings], sep="\n  ")
            print(f"  GX run {attempt + 1}: {step.seconds:.2f} s", flush=True)
        if best is None or result is None:
            raise SystemExit("--repeat must be at least 1")
        evaluated = result.statistics["evaluated_expectations"]
        skipped = [n for n in result.notes if "not evaluated" in n]
        best.detail = f"{evaluated} expectations, verdict {result.verdict}"
        if repeat > 1:
            best.detail += f", fastest of {repeat}"
        facts["expectations_evaluated"] = evaluated
        facts["not_evaluated"] = skipped
        facts["monotonic_dates_evaluated"] = any(
            (item["expectation_config"].get("meta") or {}).get("retrainer", {}).get("kind")
            == "monotonic_dates"
            for item in result.result.get("results", [])
        )

        flow_steps: list[Step] = []
        with measured("HTML report", flow_steps, part_of="validate") as report_step:
            html = render_html(result, project.model_name)
        report_step.detail = f"{len(html) / 1024:.0f} KiB"
        tags = {"retrainer.kind": "validation", "retrainer.verdict": result.verdict}
        with (
            measured("MLflow run (tags, metrics, 3 artifacts)", flow_steps, part_of="validate"),
            mlflow.start_run(run_name=f"validate-{day}", tags=tags),
        ):
            _log_batch(result, html)
        parts = [best, *flow_steps]
        steps.append(
            Step(
                "validate (GX run + HTML report + MLflow run)",
                sum(p.seconds for p in parts),
                sum(p.cpu_seconds for p in parts),
                max(p.delta_rss_mb for p in parts),
                max(p.rss_peak_mb for p in parts),
                "what the validation flow does per batch",
            )
        )
        steps.extend(parts)

        if gx_defaults:
            # the same run with GX's own batch fingerprint (hashing every row), for comparison
            import great_expectations.execution_engine.pandas_execution_engine as engine

            engine.HASH_THRESHOLD = 1e9  # GX's default (the session is already set up)
            with measured(
                "GX run with its default batch fingerprint", steps, "not counted", counted=False
            ):
                validate_batch(frame, suite, label=str(day), dates=[day], previous=previous)

        training = frame.assign(defaulted=frame["loan_id"].map(labels).astype("int64"))
        with measured(
            "train pipeline",
            steps,
            f"{config.estimator.class_path.rsplit('.', 1)[-1]}, "
            f"max_iter={config.estimator.params.get('max_iter')}",
        ):
            fitted = fit_model(TrainingSet(training), config)

        with measured("score batch", steps):
            score_frame(fitted.pipeline, frame, config)
    return steps, facts


def _pipeline(steps: list[Step]) -> list[Step]:
    return [s for s in steps if s.counted and s.part_of is None]


def summarize(steps: list[Step], facts: dict[str, Any]) -> dict[str, Any]:
    """The figures as a JSON-able document."""
    pipeline = _pipeline(steps)
    total = sum(s.seconds for s in pipeline)
    validate = next(s for s in pipeline if s.name.startswith("validate"))
    gx = next(s for s in steps if s.name.startswith("GX run ("))
    slowest = max(pipeline, key=lambda s: s.seconds)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "benchmark": "validation_large_batch",
        "when": datetime.now().isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_end": list(load) if load else None,
        },
        "versions": {
            name: version(name)
            for name in ("great_expectations", "pandas", "scikit-learn", "mlflow", "pyarrow")
        },
        "batch": facts,
        "steps": [asdict(s) for s in steps],
        "pipeline_seconds": round(total, 3),
        "validation_seconds": round(validate.seconds, 3),
        "validation_share": round(validate.seconds / total, 4),
        "gx_run_seconds": round(gx.seconds, 3),
        "gx_run_share": round(gx.seconds / total, 4),
        "slowest_step": slowest.name,
        "validation_is_slowest": slowest is validate,
        "process_peak_rss_mb": round(_process_peak_mb(), 1),
    }


def _load(values: list[float] | None) -> str:
    return f"{values[0]:.2f}" if values else "?"


def render(summary: dict[str, Any], load_start: list[float] | None) -> str:
    """The printed table."""
    steps = [Step(**s) for s in summary["steps"]]
    pipeline = _pipeline(steps)
    total = summary["pipeline_seconds"]
    width = max(len(s.name) for s in steps) + 2
    facts = summary["batch"]
    versions = summary["versions"]
    lines = [
        f"Validation benchmark - {summary['when']}, {summary['machine']['cpus']} CPUs, "
        f"Python {summary['machine']['python']}; GX {versions['great_expectations']}, pandas "
        f"{versions['pandas']}, scikit-learn {versions['scikit-learn']}, MLflow "
        f"{versions['mlflow']}",
        f"load average (1 min) at start {_load(load_start)}, at end "
        f"{_load(summary['machine']['load_average_end'])} (2 CPUs shared: above ~2 the wall "
        "times are inflated; compare the CPU column)",
        f"batch {facts['day']}: {facts['rows']:,} rows x {facts['columns']} columns; suite "
        f"{facts['expectations']} expectations, {facts['expectations_evaluated']} evaluated; "
        f"monotonic-dates check evaluated: {'yes' if facts['monotonic_dates_evaluated'] else 'NO'}",
        "",
        f"{'step':<{width}}  {'wall s':>7}  {'cpu s':>7}  {'Δ RSS MB':>8}  {'RSS peak MB':>11}  "
        f"{'share':>6}  detail",
    ]
    for s in steps:
        name = f"  {s.name}" if s.part_of else s.name
        if s in pipeline:
            share = f"{100 * s.seconds / total:5.1f}%"
        elif s.part_of:
            share = f"({100 * s.seconds / total:4.1f}%)"
        else:
            share = "     -"
        lines.append(
            f"{name:<{width}}  {s.seconds:7.2f}  {s.cpu_seconds:7.2f}  {s.delta_rss_mb:8.0f}  "
            f"{s.rss_peak_mb:11.0f}  {share:>6}  {s.detail}"
        )
    lines += [
        "",
        "Δ RSS: highest RSS during the step minus the RSS just before it (what the step added);",
        "RSS peak: that highest RSS (the whole process, data of earlier steps included).",
        f"pipeline total (without the one-time GX import): {total:.1f} s",
        f"validation (GX + report + MLflow): {summary['validation_seconds']:.2f} s = "
        f"{100 * summary['validation_share']:.1f}% of the pipeline (the GX run alone "
        f"{summary['gx_run_seconds']:.2f} s = {100 * summary['gx_run_share']:.1f}%)",
        f"slowest step: {summary['slowest_step']}; validation is the slowest step: "
        f"{'YES' if summary['validation_is_slowest'] else 'no'}",
        f"process peak RSS (ru_maxrss): {summary['process_peak_rss_mb']:.0f} MB",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the batch")
    parser.add_argument(
        "--estimator-iterations", type=int, default=None, help="override max_iter of the demo"
    )
    parser.add_argument("--repeat", type=int, default=1, help="GX runs (the fastest counts)")
    parser.add_argument(
        "--gx-defaults",
        action="store_true",
        help="also time GX with its default batch fingerprint (what retrainer turns off)",
    )
    parser.add_argument(
        "--out-dir", type=Path, default=RESULTS, help="where the .txt and .json results go"
    )
    parser.add_argument("--no-save", action="store_true", help="only print the figures")
    args = parser.parse_args(argv)
    load_start = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    steps, facts = run(args.rows, args.estimator_iterations, args.repeat, args.gx_defaults)
    summary = summarize(steps, facts)
    summary["machine"]["load_average_start"] = load_start
    summary["options"] = vars(args) | {"out_dir": str(args.out_dir)}
    text = render(summary, load_start)
    print()
    print(text)
    if not args.no_save:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        stem = args.out_dir / f"validation_large_batch-{datetime.now():%Y-%m-%d}"
        stem.with_suffix(".txt").write_text(text + "\n", encoding="utf-8")
        write_json(stem.with_suffix(".json"), summary)
        print(f"\nwrote {stem.with_suffix('.txt')} and {stem.with_suffix('.json')}")
    return 1 if summary["validation_is_slowest"] else 0


if __name__ == "__main__":
    sys.exit(main())
