"""Speed benchmark: Retrainer's drift library vs Evidently, NannyML and a numpy/scipy floor.

Same synthetic data for every runner (N rows × 20 numeric + 5 categorical columns, 5 known shifts
and one negligible one), each runner in a fresh process; the computation alone is timed (imports,
Parquet read and a small warm-up are timed separately). Prints a table per size, the targets with
PASS/FAIL, and which columns each library flags against the truth.

Run from the project root with the project venv:

    .venv/bin/python benchmarks/drift_vs_evidently.py           # 200k, 1M rows + 10M streamed
    .venv/bin/python benchmarks/drift_vs_evidently.py --quick   # 50k rows, no streaming run
    .venv/bin/python benchmarks/drift_vs_evidently.py --json out/drift_bench.json

The peer libraries live in ``benchmarks/.peers-venv`` (created on first use by
``benchmarks/peers/setup.sh``); they are never dependencies of the project.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _drift_bench import data, orchestrate, report
from _drift_bench.orchestrate import progress
from _portable import write_json

FULL_SIZES = [200_000, 1_000_000]
QUICK_SIZES = [50_000]
FULL_STREAM_ROWS = 10_000_000
DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache" / "drift_bench"
SIZE_RUNNERS = ["ours", "ours_profile", "floor", "evidently", "nannyml_1chunk", "nannyml_10chunks"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(float(part)) for part in text.split(",") if part],
        help=f"comma-separated row counts (default {','.join(map(str, FULL_SIZES))}; "
        f"--quick: {QUICK_SIZES[0]})",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 50k rows, no streaming run, one run each"
    )
    parser.add_argument(
        "--stream-rows",
        type=int,
        help=f"rows in the streaming run (default {FULL_STREAM_ROWS:,}; 0 or --quick: off)",
    )
    parser.add_argument(
        "--stream-batch-rows", type=int, default=data.ROW_GROUP_ROWS, help="rows per batch"
    )
    parser.add_argument(
        "--runners",
        default=",".join(SIZE_RUNNERS),
        help=f"comma-separated subset of {','.join(SIZE_RUNNERS)}",
    )
    parser.add_argument("--no-peers", action="store_true", help="skip Evidently and NannyML")
    parser.add_argument(
        "--repeat",
        type=int,
        help="fresh-process runs per fast runner (< --repeat-below s); the fastest is reported "
        "(default 3; --quick: 1)",
    )
    parser.add_argument("--repeat-below", type=float, default=20.0, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=data.DEFAULT_SEED, help="data seed")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="Parquet cache")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per child run")
    parser.add_argument("--json", type=Path, help="also write all figures to this JSON file")
    options = parser.parse_args(argv)
    if options.sizes is None:
        options.sizes = QUICK_SIZES if options.quick else FULL_SIZES
    if options.stream_rows is None:
        options.stream_rows = 0 if options.quick else FULL_STREAM_ROWS
    if options.repeat is None:
        options.repeat = 1 if options.quick else 3
    options.runners = [name for name in options.runners.split(",") if name]
    unknown = sorted(set(options.runners) - set(SIZE_RUNNERS))
    if unknown:
        parser.error(f"unknown runners {unknown}; choose from {SIZE_RUNNERS}")
    return options


def machine_facts() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def run_size(
    options: argparse.Namespace,
    pythons: orchestrate.Pythons,
    ours_ok: bool,
    n: int,
) -> dict[str, Any]:
    """Generate (or reuse) the data for ``n`` rows and run every runner on it."""
    started = time.perf_counter()
    reference, current = data.ensure_frames(options.cache_dir, n, options.seed)
    progress(
        f"{n:,} rows: data ready in {time.perf_counter() - started:.1f} s ({reference.parent})"
    )
    log_dir = options.cache_dir / "logs" / f"n{n}"
    common = {"log_dir": log_dir, "timeout_s": options.timeout}
    results: dict[str, dict[str, Any]] = {}
    profile_path = options.cache_dir / "profiles" / f"n{n}_s{options.seed}.json"
    fit: dict[str, Any] | None = None

    needs_profile = "ours_profile" in options.runners or (
        options.stream_rows and n == max(options.sizes)
    )
    if ours_ok and needs_profile:
        profile_path.parent.mkdir(parents=True, exist_ok=True)
        progress(f"{n:,} rows: fitting the baseline profile (not a contender)")
        fit = orchestrate.run_child(
            pythons.project, "fit_profile", reference=reference, profile=profile_path, **common
        )

    for name in options.runners:
        python = pythons.for_runner(name)
        if name.startswith("ours") and not ours_ok:
            results[name] = {"ok": False, "error": pythons.notes[0] if pythons.notes else "n/a"}
            continue
        if python is None:
            results[name] = {"ok": False, "error": "peers venv unavailable (see above)"}
            continue
        if name == "ours_profile" and not (fit and fit.get("ok")):
            results[name] = {
                "ok": False,
                "error": f"profile fit failed: {fit and fit.get('error')}",
            }
            continue
        progress(f"{n:,} rows: {report.LABELS[name]}")
        results[name] = orchestrate.run_repeated(
            python,
            name,
            options.repeat,
            options.repeat_below,
            reference=None if name == "ours_profile" else reference,
            current=current,
            profile=profile_path if name == "ours_profile" else None,
            **common,
        )
        if not results[name].get("ok"):
            progress(f"  failed: {results[name].get('error')} (log: {results[name].get('log')})")
    return {
        "rows": n,
        "files": {"reference": str(reference), "current": str(current)},
        "profile_fit": fit,
        "profile_path": str(profile_path) if fit and fit.get("ok") else None,
        "results": results,
    }


def run_stream(
    options: argparse.Namespace, pythons: orchestrate.Pythons, profile: str | None
) -> dict[str, Any]:
    """Write (or reuse) the large current file and compare it batch by batch with a profile."""
    started = time.perf_counter()
    progress(f"streaming: preparing {options.stream_rows:,} rows of current data (cached)")
    path = data.ensure_stream_file(options.cache_dir, options.stream_rows, options.seed)
    progress(f"streaming: file ready in {time.perf_counter() - started:.1f} s; running")
    result = orchestrate.run_child(
        pythons.project,
        "ours_stream",
        profile=Path(profile) if profile else None,
        stream=path,
        batch_rows=options.stream_batch_rows,
        log_dir=options.cache_dir / "logs" / "stream",
        timeout_s=options.timeout,
    )
    if not result.get("ok"):
        progress(f"  failed: {result.get('error')} (log: {result.get('log')})")
    return result


def print_size(block: dict[str, Any]) -> list[report.Target]:
    n = block["rows"]
    results = block["results"]
    print(f"\n=== {n:,} rows per frame × 25 columns (20 numeric float64 + 5 string) ===")
    print(report.size_table(results))
    notes = ["wall/CPU: the measured call only (fastest of the runs); peak RSS: the whole child"]
    notes.append("Δ RSS: peak RSS during the call minus RSS just before it (memory above the data)")
    fit = block.get("profile_fit")
    if fit and fit.get("ok"):
        extra = fit.get("extra", {})
        load = _get(results, "ours_profile", "profile_load_s")
        notes.append(
            f"* ours from profile: profile load {_fmt(load)} s (not in wall, like the read); "
            f"the profile was fitted beforehand in {fit['wall_s']:.2f} s, saved in "
            f"{extra.get('profile_save_s', 0):.2f} s, "
            f"{(extra.get('profile_bytes') or 0) / 1024:.0f} KiB"
        )
    print("\n".join("  " + note for note in notes))
    targets = report.size_targets(results)
    print()
    print(report.targets_table(targets))
    print()
    print(report.decisions_table(report.decision_rows(results)))
    return targets


def _get(results: dict[str, Any], runner: str, key: str) -> Any:
    return results.get(runner, {}).get("extra", {}).get(key)


def _fmt(value: Any) -> str:
    return "–" if value is None else f"{value:.3f}"


def print_stream(result: dict[str, Any], rows: int, profile_rows: int) -> list[report.Target]:
    print(f"\n=== streaming: {rows:,} current rows from one Parquet file vs a saved profile ===")
    if result.get("ok"):
        extra = result.get("extra", {})
        print(
            f"ours compare_batches: wall {result['wall_s']:.1f} s, CPU {result['cpu_s']:.1f} s, "
            f"peak RSS {result['max_rss_mib']:.0f} MB (Δ {result['delta_mib']:.0f} MB over "
            f"{result['rss_before_mib']:.0f} MB before); {extra.get('row_groups')} row groups, "
            f"batches of {extra.get('batch_rows'):,} rows, "
            f"file {extra.get('file_bytes', 0) / 2**30:.2f} GiB; "
            f"profile fitted on {profile_rows:,} reference rows. Wall includes Parquet decoding."
        )
        print(f"flagged: {', '.join(result.get('flagged') or []) or 'none'}")
    else:
        print(f"not measured: {result.get('error')}")
    targets = report.stream_targets(result)
    print(report.targets_table(targets))
    return targets


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    meta = machine_facts()
    project_python = Path(sys.executable)
    ours_ok, why_not = orchestrate.ours_available(project_python)
    wants_peers = any(
        name in options.runners for name in ("evidently", "nannyml_1chunk", "nannyml_10chunks")
    )
    peers_python, peers_note = orchestrate.ensure_peers_venv(options.no_peers or not wants_peers)
    pythons = orchestrate.Pythons(project_python, peers_python, [why_not] if why_not else [])
    if not ours_ok:
        progress(f"'ours' runners skipped: {why_not}")
    if peers_note and wants_peers:
        progress(peers_note)

    blocks = [run_size(options, pythons, ours_ok, n) for n in options.sizes]
    stream: dict[str, Any] | None = None
    profile_rows = max(options.sizes)
    if options.stream_rows and ours_ok:
        largest = next(b for b in blocks if b["rows"] == profile_rows)
        stream = run_stream(options, pythons, largest.get("profile_path"))
    meta["load_average_end"] = os.getloadavg()

    print(f"\nDrift benchmark — {meta['started']}, {meta['cpus']} CPUs, Python {meta['python']}")
    load_start, load_end = meta["load_average"][0], meta["load_average_end"][0]
    print(f"load average (1 min) at start {load_start:.2f}, at end {load_end:.2f}", end="")
    cpus = meta["cpus"] or 1
    if max(load_start, load_end) > 0.75 * cpus:
        print("  ← the machine was busy: wall times are inflated, compare the CPU columns")
    else:
        print()
    if not ours_ok:
        print(f"NOTE: 'ours' runners not measured: {why_not}")
    all_targets: dict[str, list[dict[str, Any]]] = {}
    for block in blocks:
        all_targets[str(block["rows"])] = [t.as_dict() for t in print_size(block)]
    if stream is not None:
        all_targets["stream"] = [
            t.as_dict() for t in print_stream(stream, options.stream_rows, profile_rows)
        ]
    elif options.stream_rows:
        print("\nstreaming run skipped: 'ours' is not available")

    verdicts = [t["verdict"] for targets in all_targets.values() for t in targets]
    print(
        f"\ntargets: {verdicts.count('PASS')} PASS, {verdicts.count('FAIL')} FAIL, "
        f"{verdicts.count('SKIP')} SKIP"
    )
    if options.json:
        options.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "meta": meta,
            "options": {
                k: (str(v) if isinstance(v, Path) else v) for k, v in vars(options).items()
            },
            "sizes": blocks,
            "stream": stream,
            "targets": all_targets,
        }
        write_json(options.json, payload)
        print(f"figures written to {options.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
