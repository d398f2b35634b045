"""Validating many small partitions in one command: 1,000 days of 30 rows × 25 columns.

Run: ``make bench-validation-many`` (or ``.venv/bin/python
benchmarks/validation_many_partitions.py``). It prints the table and writes it to
``benchmarks/results/validation_many_partitions-<date>.txt`` and ``.json`` (``--no-save`` to
only print).

A project is written to a temporary folder: the 16 columns of the simulated loan stream plus 9
derived numeric features (25 columns), 30 rows a day, the first 60 days as the validation
reference and then ``--partitions`` days to validate. Three ways of validating the same days are
timed side by side, in one process, after the one-time GX import and the MLflow store creation
(both timed, not counted):

* **retrainer** — the validation flow as ``retrainer validate --all`` runs it (read, validate,
  quarantine, ledger, one MLflow run with a metrics step per batch, events, the Prefect
  artifact) against a local Prefect API: small partitions are stacked into shared GX runs;
* **GX alone, one context** — the suite run by GX on each partition alone with a reused
  context (what the flow does for large or oddly-shaped batches): timed on ``--sample``
  partitions and scaled to all of them;
* **GX alone, a context per partition** — the same with a new ephemeral context per partition
  (how a GX checkpoint per batch, and retrainer before this change, spend their time).

Target: the flow validates 1,000 partitions in under 30 s on the project's 2-core machine;
the time per partition and the share spent inside GX are printed.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _portable import write_json
from validation_large_batch import EXTRA_COLUMNS, with_extra_columns

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.pop("MLFLOW_TRACKING_URI", None)
REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
REFERENCE_DAYS = 60
ROWS = 30
TARGET_SECONDS = 30.0


def write_project(root: Path, partitions: int) -> Path:
    """The config and ``REFERENCE_DAYS + partitions`` daily partitions of ``ROWS`` rows."""
    from retrainer.data import LocalStorage, PartitionedTable
    from retrainer.simulate import simulate

    days = REFERENCE_DAYS + partitions
    sim = simulate("stable", days=days, rows_per_day=ROWS, seed=7)
    table = PartitionedTable(LocalStorage(root / "data"), "features")
    labels = PartitionedTable(LocalStorage(root / "data"), "labels")
    for day, frame in sim.feature_batches():
        table.write_partition(day, with_extra_columns(frame, seed=day.toordinal()))
    labels.write(sim.arrived_labels(), "label_time")
    data = yaml.safe_load((REPO / "retrainer.yaml").read_text())
    data["data"]["source"] = "data"
    data.pop("mlflow", None)
    extra = list(with_extra_columns(sim.feature_batch(sim.schedule.start), 0).columns)
    data["columns"]["numeric"] = [*data["columns"]["numeric"], *extra[-EXTRA_COLUMNS:]]
    config = root / "retrainer.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return config


def _timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - started


def run_flow(config: Path) -> dict[str, Any]:
    """The validation flow over every pending partition (the reference days included)."""
    from retrainer.flows.validate import validate_data

    result, seconds = _timed(validate_data, config=str(config))
    return {**result, "wall_seconds": seconds}


def run_alone(config: Path, sample: int, fresh_context: bool) -> dict[str, float]:
    """GX on each of ``sample`` partitions alone (a reused context, or one per partition)."""
    import retrainer.validation.runner as runner
    from retrainer.data import DataCatalog
    from retrainer.project import Project
    from retrainer.validation import validate_batch
    from retrainer.validation.store import reference_suite

    project = Project.load(config)
    catalog = DataCatalog.for_project(project)
    suite = reference_suite(project, catalog)
    days = catalog.features.dates()[REFERENCE_DAYS : REFERENCE_DAYS + sample]
    frames = [(day, catalog.features.read(dates=[day])) for day in days]
    started = time.perf_counter()
    gx = 0.0
    for day, frame in frames:
        if fresh_context:
            runner._SESSION = None  # a new ephemeral context, datasource and asset
        batch = validate_batch(
            frame, suite, label=day.isoformat(), dates=[day], previous=day - timedelta(days=1)
        )
        gx += batch.gx_seconds
    seconds = time.perf_counter() - started
    return {"partitions": len(frames), "seconds": seconds, "gx_seconds": gx}


def measure(partitions: int, sample: int) -> dict[str, Any]:
    """Every figure of the benchmark."""
    from prefect.testing.utilities import prefect_test_harness

    import retrainer.validation.runner as runner
    from retrainer.project import Project
    from retrainer.registry.tracking import configure_mlflow

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print(f"writing {REFERENCE_DAYS + partitions} partitions of {ROWS} rows ...", flush=True)
        config, write_seconds = _timed(write_project, root, partitions)
        _, import_seconds = _timed(runner.gx_session)
        _, mlflow_seconds = _timed(configure_mlflow, Project.load(config))
        print("validating with the flow (a local Prefect API) ...", flush=True)
        with prefect_test_harness(server_startup_timeout=120):
            flow = run_flow(config)
        print(f"validating {sample} partitions alone with GX, twice ...", flush=True)
        reused = run_alone(config, sample, fresh_context=False)
        fresh = run_alone(config, sample, fresh_context=True)
    return {
        "write_seconds": write_seconds,
        "gx_import_seconds": import_seconds,
        "mlflow_store_seconds": mlflow_seconds,
        "flow": {
            "partitions": len(flow["batches"]),
            "wall_seconds": flow["wall_seconds"],
            "validation_seconds": flow["seconds"],
            "gx_seconds": flow["gx_seconds"],
            "invalid": flow["invalid"],
        },
        "alone_reused_context": reused,
        "alone_fresh_context": fresh,
    }


def summarize(figures: dict[str, Any], partitions: int) -> dict[str, Any]:
    """Per-partition figures and the ratios."""
    flow = figures["flow"]
    count = flow["partitions"]
    per = flow["wall_seconds"] / count
    rows = []
    for name, key in (
        ("GX alone, one context", "alone_reused_context"),
        ("GX alone, a context per partition", "alone_fresh_context"),
    ):
        peer = figures[key]
        peer_per = peer["seconds"] / peer["partitions"]
        rows.append(
            {
                "name": name,
                "per_partition_ms": 1000 * peer_per,
                "seconds_for_all": peer_per * count,
                "gx_share": peer["gx_seconds"] / peer["seconds"],
                "speedup": peer_per / per,
                "measured_on": peer["partitions"],
            }
        )
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "benchmark": "validation_many_partitions",
        "when": datetime.now().isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_end": list(load) if load else None,
        },
        "versions": {n: version(n) for n in ("great_expectations", "pandas", "prefect", "mlflow")},
        "partitions": count,
        "rows_per_partition": ROWS,
        "columns": 25,
        "flow": {
            **flow,
            "per_partition_ms": 1000 * per,
            "gx_share": flow["gx_seconds"] / flow["wall_seconds"],
        },
        "peers": rows,
        "one_time": {
            "gx_import_seconds": figures["gx_import_seconds"],
            "mlflow_store_seconds": figures["mlflow_store_seconds"],
        },
        "target_seconds": TARGET_SECONDS * count / 1000,
        "target_met": flow["wall_seconds"] < TARGET_SECONDS * count / 1000,
    }


def render(summary: dict[str, Any], load_start: list[float] | None) -> str:
    """The printed table."""
    flow = summary["flow"]
    load_end = summary["machine"]["load_average_end"]
    lines = [
        f"Validating {summary['partitions']:,} partitions of {summary['rows_per_partition']} "
        f"rows x {summary['columns']} columns - {summary['when']}, "
        f"{summary['machine']['cpus']} CPUs; GX {summary['versions']['great_expectations']}",
        f"load average (1 min) at start {load_start[0] if load_start else '?':.2f}, at end "
        f"{load_end[0] if load_end else '?':.2f}",
        "",
        f"{'how':<40} {'total s':>8} {'ms/partition':>13} {'in GX':>6} {'vs retrainer':>13}",
        f"{'retrainer validate (the flow)':<40} {flow['wall_seconds']:8.1f} "
        f"{flow['per_partition_ms']:13.1f} {100 * flow['gx_share']:5.0f}% {'1.0x':>13}",
    ]
    for peer in summary["peers"]:
        lines.append(
            f"{peer['name']:<40} {peer['seconds_for_all']:8.1f} {peer['per_partition_ms']:13.1f} "
            f"{100 * peer['gx_share']:5.0f}% {peer['speedup']:12.1f}x"
        )
    one = summary["one_time"]
    lines += [
        "",
        f"peers measured on {summary['peers'][0]['measured_on']} partitions and scaled; the flow "
        "total includes reading, quarantine, ledger, MLflow (one run, a step per batch), events "
        "and the Prefect artifact",
        f"one-time, not counted: GX import {one['gx_import_seconds']:.1f} s, MLflow store "
        f"creation {one['mlflow_store_seconds']:.1f} s",
        f"target: under {summary['target_seconds']:.0f} s for these partitions: "
        f"{'PASS' if summary['target_met'] else 'FAIL'} ({flow['wall_seconds']:.1f} s)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--partitions", type=int, default=1000, help="partitions to validate")
    parser.add_argument("--sample", type=int, default=40, help="partitions the peers run on")
    parser.add_argument("--out-dir", type=Path, default=RESULTS, help="where results go")
    parser.add_argument("--no-save", action="store_true", help="only print the figures")
    args = parser.parse_args(argv)
    load_start = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    figures = measure(args.partitions, args.sample)
    summary = summarize(figures, args.partitions)
    summary["machine"]["load_average_start"] = load_start
    text = render(summary, load_start)
    print()
    print(text)
    if not args.no_save:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        stem = args.out_dir / f"validation_many_partitions-{datetime.now():%Y-%m-%d}"
        stem.with_suffix(".txt").write_text(text + "\n", encoding="utf-8")
        write_json(stem.with_suffix(".json"), summary)
        print(f"\nwrote {stem.with_suffix('.txt')} and {stem.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
