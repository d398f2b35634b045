"""Scale-out limits: a large drift window streamed from S3, and drift over many segments.

Run: ``make bench-scale`` (or ``.venv/bin/python benchmarks/scale_out.py``). It prints two
tables and writes them to ``benchmarks/results/scale_out-<date>.md`` and ``.json``
(``--out-dir``; ``--no-save`` to only print). Every measurement runs in its own child
process, so each peak RSS (``ru_maxrss``) is that mode's alone.

1. **Window size.** A window of ``--days`` daily partitions (``--rows`` rows in all, 20
   numeric + 5 categorical features, each file in row groups of 100,000 rows) is compared with
   a 200,000-row baseline four ways: read whole into pandas and compared in memory (the
   naive path), streamed from the local folder in ``compute.batch_rows`` chunks, and from S3
   (``moto_server`` on 127.0.0.1) with each file fetched whole then streamed (the path before
   ranged reads), and streamed by ranged GETs. Wall time and peak RSS of each.
2. **Segments.** The same features with a segment column of ``--segments`` values (each
   comparison with its segment of the baseline days): the real ``check-segment-drift``
   subflow (Prefect's ephemeral API) on this machine's threads and on a Dask ``LocalCluster``
   of two worker processes through ``prefect_dask.DaskTaskRunner``. Wall time (the cluster's
   start included), segments per second.

Memory: ``peak_rss_mb`` is the peak of the RSS summed over the measuring process and its
descendants (a LocalCluster's scheduler and workers), sampled every 0.1 s (``ru_maxrss`` is
no use here: Linux carries it across ``exec`` from the parent that wrote the data).

moto_server answers a ranged GET by copying the whole object (measured: a 1 KiB range of a
200 MB object takes 0.1 s, of a 10 MB one 5 ms), so the ranged-S3 row is slow for moto's
sake; on S3 a range costs its bytes and a round trip.

No peer is named for this part: the figures are the limits documented in
``docs/scale-out.md`` (what fits on this 2-core, 24 GiB machine, and what changes past it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _portable import write_json

REPO = Path(__file__).resolve().parents[1]
NUMERIC = [f"num_{i:02d}" for i in range(20)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]
START = date(2026, 1, 1)
BASELINE_ROWS = 200_000
SEGMENT_COLUMNS = ["segments", "runner", "shards", "checked", "drifted", "seconds"]
SEGMENT_COLUMNS += ["segments_per_s", "peak_rss_mb"]


def _frame(rows: int, seed: int, segments: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {"row_id": np.arange(rows) + seed * 10_000_000}
    data["event_time"] = pd.Timestamp("2026-01-01", tz="UTC")
    for i, name in enumerate(NUMERIC):
        data[name] = rng.normal(shift if i == 0 else 0.0, 1.0 + i % 3, rows)
    for name in CATEGORICAL:
        data[name] = pd.Categorical.from_codes(
            rng.integers(0, 8, rows), categories=[f"v{k}" for k in range(8)]
        )
    data["store"] = pd.Categorical.from_codes(
        rng.integers(0, segments, rows), categories=[f"s{k:04d}" for k in range(segments)]
    )
    return pd.DataFrame(data)


def _write_days(root: Path, first: date, days: int, rows: int, segments: int, shift: float):
    per_day = rows // days
    for offset in range(days):
        day = first + timedelta(days=offset)
        frame = _frame(per_day, offset + (100 if shift else 0), segments, shift)
        frame["event_time"] = pd.Timestamp(day, tz="UTC")
        folder = root / "features" / f"date={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(
            pa.Table.from_pandas(frame, preserve_index=False),
            folder / "part-00000.parquet",
            row_group_size=100_000,
        )


def _project(root: Path, source: str, segments: dict | None, compute: dict | None) -> Path:
    config = yaml.safe_load((REPO / "retrainer.yaml").read_text())
    config["data"] = {"source": source}
    config["columns"] = {
        "id": "row_id",
        "timestamp": "event_time",
        "target": "label",
        "numeric": NUMERIC,
        "categorical": CATEGORICAL,
        "segments": ["store"],
    }
    config["validation"] = {"before_training": "allow"}
    config["estimator"] = {"class_path": "sklearn.linear_model.LogisticRegression"}
    config["drift"] = {"segments": segments} if segments else {}
    if compute:
        config["compute"] = compute
    for key in ("policy", "promotion", "monitoring", "gates", "backtest", "training"):
        config.pop(key, None)
    path = root / "retrainer.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


# -- children: one measurement each ---------------------------------------------------------


def _child_window(args: argparse.Namespace) -> dict[str, Any]:
    from retrainer.data import PartitionedTable, open_storage
    from retrainer.drift import DriftDetector

    storage = open_storage(args.source, endpoint_url=args.endpoint)
    table = PartitionedTable(storage, "features")
    columns = [*NUMERIC, *CATEGORICAL]
    baseline = table.read(dates=[START], columns=columns)
    detector = DriftDetector(numeric=NUMERIC, categorical=CATEGORICAL).fit(baseline)
    days = [d for d in table.dates() if d > START]
    started = time.perf_counter()
    if args.mode == "memory":
        frame = table.read(dates=days, columns=columns)
        report = detector.compare(frame)
    elif args.mode == "whole-objects":  # each file fetched whole, then streamed
        report = detector.compare_batches(
            batch
            for day in days
            for key in table.files(day)
            for batch in pq.ParquetFile(pa.BufferReader(storage.read_bytes(key))).iter_batches(
                batch_size=100_000, columns=columns
            )
        )
    else:
        report = detector.compare_batches(
            table.iter_batches(dates=days, columns=columns, batch_size=100_000)
        )
    return {
        "seconds": time.perf_counter() - started,
        "rows": report.n_current,
        "drifted": report.drifted_columns,
    }


def _child_segments(args: argparse.Namespace) -> dict[str, Any]:
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    from retrainer.flows.drift import check_segment_drift
    from retrainer.project import Project
    from retrainer.tasks.compute import task_runner

    project = Project.load(args.config)
    baseline = [START + timedelta(days=i) for i in range(args.baseline_days)]
    window = [baseline[-1] + timedelta(days=i + 1) for i in range(args.window_days)]
    runner = task_runner(project.config.compute)
    started = time.perf_counter()
    summary = check_segment_drift.with_options(task_runner=runner)(
        config=args.config,
        baseline_start=baseline[0].isoformat(),
        baseline_end=baseline[-1].isoformat(),
        days=window,
    )
    return {
        "seconds": time.perf_counter() - started,
        "segments": len(summary.results),
        "checked": sum(r.status != "too_few_rows" for r in summary.results),
        "drifted": len(summary.drifted),
        "shards": summary.shards,
        "runner": summary.runner,
    }


def _child(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind")
    parser.add_argument("--mode", default="stream")
    parser.add_argument("--source")
    parser.add_argument("--endpoint")
    parser.add_argument("--config")
    parser.add_argument("--baseline-days", type=int, default=7)
    parser.add_argument("--window-days", type=int, default=7)
    args = parser.parse_args(argv)
    result = (_child_window if args.kind == "window" else _child_segments)(args)
    print("RESULT " + json.dumps(result))


def _tree_rss(process: psutil.Process) -> float:
    """RSS of a process and its descendants (a LocalCluster's workers), in MiB."""
    total = 0
    for member in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += member.memory_info().rss
    return total / 2**20


def _run_child(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """One measurement in a child process, its process tree's RSS sampled every 0.1 s."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(
            [sys.executable, __file__, "--child", *args],
            stdout=out,
            stderr=err,
            text=True,
            env={**os.environ, **(env or {})},
        )
        tree, peak = psutil.Process(child.pid), 0.0
        while child.poll() is None:
            with contextlib.suppress(psutil.Error):
                peak = max(peak, _tree_rss(tree))
            time.sleep(0.1)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            return {**json.loads(line[7:]), "peak_rss_mb": round(peak)}
    raise RuntimeError(f"child {args} failed:\n{stdout[-2000:]}\n{stderr[-4000:]}")


# -- the parent -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _moto(tmp: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process, endpoint
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("moto_server did not start")


def _upload(folder: Path, endpoint: str, bucket: str) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    for path in folder.rglob("*.parquet"):
        client.upload_file(str(path), bucket, f"data/{path.relative_to(folder)}")


def window_table(tmp: Path, rows: int, days: int) -> list[dict[str, Any]]:
    data = tmp / "window"
    _write_days(data, START, 1, BASELINE_ROWS, 10, 0.0)
    _write_days(data, START + timedelta(days=1), days, rows, 10, 0.1)
    size = sum(p.stat().st_size for p in data.rglob("*.parquet")) / 2**20
    moto, endpoint = _moto(tmp)
    s3 = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    s3["AWS_DEFAULT_REGION"] = "us-east-1"
    os.environ.update(s3)
    try:
        _upload(data, endpoint, "bench")
        rows_out = []
        for label, mode, source, where in (
            ("in memory (read whole)", "memory", str(data), None),
            ("streamed, local folder", "stream", str(data), None),
            (
                "S3, each file fetched whole, then streamed",
                "whole-objects",
                "s3://bench/data",
                endpoint,
            ),
            ("streamed, S3 ranged GETs", "stream", "s3://bench/data", endpoint),
        ):
            args = ["window", "--mode", mode, "--source", source]
            result = _run_child(*args, *(["--endpoint", where] if where else []), env=s3)
            rows_out.append({"path": label, "files_mb": round(size), **result})
        return rows_out
    finally:
        moto.terminate()
        moto.wait(10)


def segment_table(tmp: Path, rows: int, segment_counts: list[int]) -> list[dict[str, Any]]:
    out = []
    for count in segment_counts:
        root = tmp / f"seg{count}"
        _write_days(root / "data", START, 7, rows, count, 0.0)
        _write_days(root / "data", START + timedelta(days=7), 7, rows, count, 0.3)
        shard = max(1, count // 8)
        segments = {"columns": ["store"], "min_rows": 50, "max_segments": 100_000,
                    "shard_size": shard}  # fmt: skip
        for label, compute in (
            ("threads (local)", None),
            ("Dask LocalCluster, 2 workers", {"task_runner": {"kind": "dask", "n_workers": 2}}),
        ):
            config = _project(root, "data", segments, compute)
            result = _run_child("segments", "--config", str(config))
            per_s = result["segments"] / result["seconds"]
            out.append({"segments": count, "runner": label, "rows": rows,
                        "segments_per_s": round(per_s, 1), **result})  # fmt: skip
    return out


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _markdown(title: str, rows: list[dict[str, Any]], columns: list[str]) -> str:
    lines = [f"### {title}", "", "| " + " | ".join(columns) + " |"]
    lines.append("| " + " | ".join("---" for _ in columns) + " |")
    for row in rows:
        cells = [_cell(row.get(column)) for column in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000, help="Window rows (part 1).")
    parser.add_argument("--days", type=int, default=2, help="Window days (part 1).")
    parser.add_argument(
        "--segment-rows", type=int, default=1_400_000, help="Rows per side (part 2)."
    )
    parser.add_argument("--segments", default="20,200,2000", help="Segment counts (part 2).")
    parser.add_argument("--out-dir", default=str(REPO / "benchmarks" / "results"))
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="retrainer-scale-"))
    try:
        window = window_table(tmp, args.rows, args.days)
        segments = segment_table(tmp, args.segment_rows, [int(s) for s in args.segments.split(",")])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    stamp = datetime.now().strftime("%Y-%m-%d")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    text = "\n\n".join(
        [
            f"## Scale-out limits ({stamp}; {machine})",
            _markdown(
                f"1. A {args.rows:,}-row window of 25 features against a {BASELINE_ROWS:,}-row "
                "baseline",
                window,
                ["path", "files_mb", "rows", "seconds", "peak_rss_mb"],
            ),
            _markdown(
                f"2. Drift within segments: {args.segment_rows:,} rows a side (7 days each), "
                "25 features, the check-segment-drift subflow",
                segments,
                SEGMENT_COLUMNS,
            ),
        ]
    )
    print(text)
    if not args.no_save:
        out = Path(args.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / f"scale_out-{stamp}.md").write_text(text + "\n")
        write_json(out / f"scale_out-{stamp}.json", {"window": window, "segments": segments})


if __name__ == "__main__":
    main()
