"""Policy backtest throughput: a year of daily batches through 6 policies, and a 48-variant sweep.

Run: ``make bench-backtest`` (or ``.venv/bin/python benchmarks/backtest.py``). It simulates a
year (365 days × 5,000 rows, label delay 7 days) in a temporary folder, writes a project on it
(LogisticRegression pipeline, a 30-day window sampled to 20,000 rows, the default gate) and
replays it with ``retrainer.backtest`` — the live code, no Prefect server — twice:

* **6 policies**: never, daily, weekly, drift, performance (realised), hybrid;
* **48 variants**: the sweep grid over 2 window lengths × (3 cadences + 3 cooldowns × (3
  drift debounces + 2 performance drops + 2 hybrids)).

For each it prints the wall time, the retrains the policies asked for, the models actually
fitted and the number shared, beside the naive count (one fit per retrain of every policy,
what a per-policy replay such as Modyn's pipelines would train). Targets: 6 policies under 3
minutes, 48 variants under 10 minutes on this machine.

``--scenarios`` instead replays the standard policy set on each acceptance scenario (sudden,
gradual, recurring and seasonal concept drift; harmless covariate drift) and prints their
tables (mean accuracy, retrains, cost, waste).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

SIX = ("never", "daily", "weekly", "drift", "performance-realised", "hybrid")
SWEEP = {
    "cadences": ["0 0 * * *", "0 0 */3 * *", "0 0 * * 0"],
    "cooldown_hours": [24, 72, 168],
    "drift_consecutive": [1, 2, 3],
    "performance_drops": [0.02, 0.04],
    "window_days": [30, 60],
}
SCENARIOS = ("concept_sudden", "concept_gradual", "concept_recurring", "seasonal", "sudden")


def _project(root: Path, scenario: str, days: int, rows: int) -> Path:
    from retrainer.simulate import simulate, write_simulation

    write_simulation(simulate(scenario, days=days, seed=0, rows_per_day=rows), root / "data")
    config = yaml.safe_load((REPO / "retrainer.yaml").read_text())
    config["data"]["source"] = "data"
    config["estimator"] = {
        "class_path": "sklearn.linear_model.LogisticRegression",
        "params": {"max_iter": 300},
    }
    config["training"] = {
        "window": {"kind": "fixed", "days": 30},
        "max_rows": 20_000,
        "cost_per_hour": 3.0,
    }
    config["validation"] = {"before_training": "allow"}
    config["monitoring"] = {"metrics": ["accuracy", "roc_auc"]}
    config["policy"] = {
        "triggers": [
            {"kind": "drift", "consecutive": 2},
            {"kind": "performance", "max_drop": 0.02, "scope": "overall"},
        ],
        "cooldown_hours": 72,
        "require_degradation": True,
    }
    config["backtest"] = {"metric": "accuracy", "n_jobs": 2, "sweep": SWEEP}
    path = root / "retrainer.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _replay(config: Path, names: tuple[str, ...] | None, sweep: bool):
    from retrainer.backtest import load_history, run_backtest, standard_policies, sweep_variants
    from retrainer.project import Project

    project = Project.load(config)
    cfg = project.config
    started = time.perf_counter()
    history = load_history(project, unvalidated="allow")
    loaded = time.perf_counter() - started
    if sweep:
        specs = sweep_variants(cfg.policy, cfg.backtest.sweep)
    else:
        specs = standard_policies(cfg.policy, cfg.training.window, oracle=history.truth is not None)
        if names:
            specs = [s for s in specs if s.name in names]
    result = run_backtest(cfg, history, specs)
    return result, loaded, time.perf_counter() - started


def _throughput(root: Path, days: int, rows: int, sweep_too: bool = True) -> dict:
    config = _project(root, "concept_sudden", days, rows)
    figures = {}
    parts = [("6 policies", SIX, False, 180), ("48-variant sweep", None, True, 600)]
    for label, names, sweep, target in parts if sweep_too else parts[:1]:
        result, loaded, total = _replay(config, names, sweep)
        naive = result.fits_requested
        figures[label] = {
            "policies": len(result.rows),
            "seconds": round(total, 1),
            "load_seconds": round(loaded, 1),
            "target_seconds": target,
            "retrains_asked": naive,
            "fits_run": result.fits_run,
            "fits_shared": result.fits_shared,
            "checks": result.checks,
        }
        print(
            f"{label:>18}: {total:7.1f} s (target < {target} s; history read {loaded:.1f} s) | "
            f"{len(result.rows)} policies, {naive:,} retrains asked | fitted "
            f"{result.fits_run:,} (retrainer.backtest) vs {naive:,} (one fit per policy "
            f"retrain) | shared {result.fits_shared:,}",
            flush=True,
        )
    return figures


def _scenarios(root: Path, days: int, rows: int) -> dict:
    from retrainer.backtest.report import table_frame, waste_lines

    tables = {}
    for scenario in SCENARIOS:
        config = _project(root / scenario, scenario, days, rows)
        result, _, total = _replay(config, None, False)
        frame = table_frame(result)[["policy", "retrains", "waste", "cost", "mean", "worst"]]
        print(f"\n## {scenario} ({days} days x {rows} rows, {total:.0f} s)")
        print(frame.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        for line in waste_lines(result):
            print(f"waste: {line}")
        if result.recommendation:
            print(f"recommended: {result.recommendation.name} ({result.recommendation.vs_current})")
        tables[scenario] = json.loads(frame.to_json(orient="records"))
    return tables


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rows-per-day", type=int, default=5000)
    parser.add_argument("--scenarios", action="store_true", help="Print the scenario tables.")
    parser.add_argument("--json", type=Path, help="Also write the figures to this file.")
    parser.add_argument("--no-sweep", action="store_true", help="Time the 6 policies only.")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    print(
        f"backtest benchmark: {args.days} days x {args.rows_per_day:,} rows; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="retrainer-bench-backtest-") as tmp:
        root = Path(tmp)
        if args.scenarios:
            figures = _scenarios(root, args.days, args.rows_per_day)
        else:
            figures = _throughput(root, args.days, args.rows_per_day, not args.no_sweep)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
