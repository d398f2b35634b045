"""Serving throughput and latency: ``retrainer serve`` against ``mlflow models serve`` and MLServer.

The same registered pipelines (the demo's HistGradientBoosting and a LogisticRegression, on
the simulated loan data: 10 numeric + 4 categorical columns) are served on one worker by

* ``retrainer serve`` with prediction logging on (to the store, SQLite), logging off, and in
  shadow (a rollout whose challenger scores every request behind the queue, logging on);
* ``mlflow models serve`` (``--env-manager local``, one worker, the model logged with
  ``pyfunc_predict_fn="predict_proba"`` so that it answers probabilities as the others do);
* Seldon's MLServer 1.7 with its scikit-learn runtime (``benchmarks/.serving-venv``, see
  ``benchmarks/peers/setup.sh serving``), at its defaults and with adaptive batching on
  (``max_batch_size`` 64, ``max_batch_time`` 5 ms);

and driven by ``wrk`` (Debian's; a Lua script posts bodies from a pool of real rows) in
another process on 127.0.0.1, closed loop, at concurrency 1 and 16, single rows and batches
of 100. Every server's answer to the same rows is first checked against in-process
``predict_proba``. The in-process floor is the ``predict_proba`` time of the frame the
gateway builds (best of three medians). The shadow comparison paces wrk (a per-connection
delay) at half the shadow-off closed-loop capacity, on one gateway whose rollout is started
and aborted under it (off, on, off, on; the median of each setting's two runs), and compares
p99.

Usage::

    .venv/bin/python benchmarks/gateway.py            # both models, everything (~12 min)
    .venv/bin/python benchmarks/gateway.py --quick    # LogisticRegression, single rows, 5 s runs
    .venv/bin/python benchmarks/gateway.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SERVING_VENV = HERE / ".serving-venv"
RESULTS = HERE / "results"
MODELS = {
    "hgb": {
        "class_path": "sklearn.ensemble.HistGradientBoostingClassifier",
        "params": {"max_iter": 200},
    },
    "lr": {"class_path": "sklearn.linear_model.LogisticRegression", "params": {"max_iter": 1000}},
}
NAMES = {"hgb": "HistGradientBoosting", "lr": "LogisticRegression"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the project, the models and the rows ---------------------------------------------------
@dataclass
class Bench:
    root: Path
    config: dict[str, Path]  # model key -> retrainer.yaml of that model
    pipelines: dict[str, Any]
    rows: list[dict[str, Any]]  # a pool of complete rows
    columns: list[str]
    kinds: dict[str, str]  # column -> FP64 / BYTES


def build(root: Path, keys: list[str]) -> Bench:
    """Simulate the data, fit the pipelines, register them twice each (v1 champion, v2)."""
    import mlflow
    from mlflow.models import infer_signature

    from retrainer.project import Project
    from retrainer.promotion import ModelTarget, promote
    from retrainer.registry.lineage import skops_trusted_types
    from retrainer.registry.tracking import configure_mlflow
    from retrainer.simulate import simulate
    from retrainer.training.pipeline import build_pipeline

    sim = simulate(scenario="stable", days=10, seed=0, rows_per_day=1_000)
    frame = sim.features.merge(sim.labels[["loan_id", "defaulted"]], on="loan_id")
    base = yaml.safe_load((ROOT / "retrainer.yaml").read_text())
    cfg_cols = base["columns"]
    columns = list(cfg_cols["numeric"]) + list(cfg_cols["categorical"])
    complete = frame.dropna(subset=columns)
    rows = [
        {c: (v.item() if isinstance(v, np.generic) else v) for c, v in r.items()}
        for r in complete[columns].head(400).to_dict("records")
    ]
    kinds = {c: "FP64" for c in cfg_cols["numeric"]} | {c: "BYTES" for c in cfg_cols["categorical"]}
    configs, pipelines = {}, {}
    for key in keys:
        data = dict(base)
        data["model"] = {**base["model"], "name": f"bench-{key}"}
        data["estimator"] = MODELS[key]
        data["state_dir"] = str(root / "state")
        data["data"] = {**base["data"], "source": str(root / "data")}
        data["promotion"] = {
            "stages": [
                {"kind": "shadow", "min_requests": 10**9, "min_duration_hours": 1_000},
            ]
        }
        path = root / f"{key}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        project = Project.load(path)
        cfg = project.config
        pipeline = build_pipeline(cfg.columns, cfg.estimator, cfg.training.preprocessing)
        pipeline.fit(frame[columns].head(8_000), frame["defaulted"].head(8_000))
        configure_mlflow(project)
        example = complete[columns].head(5)
        for _ in range(2):
            with mlflow.start_run():
                mlflow.sklearn.log_model(
                    pipeline,
                    name="model",
                    registered_model_name=cfg.model.name,
                    signature=infer_signature(example, pipeline.predict_proba(example)),
                    skops_trusted_types=skops_trusted_types(pipeline),
                    pyfunc_predict_fn="predict_proba",
                )
        promote(ModelTarget.for_project(project), "1", expected_champion=None, by="benchmark")
        configs[key], pipelines[key] = path, pipeline
    return Bench(root, configs, pipelines, rows, columns, kinds)


# -- servers --------------------------------------------------------------------------------
@dataclass
class Server:
    """A server under test: how to start it and how to ask it."""

    name: str
    path: str
    body: Callable[[list[dict[str, Any]]], dict[str, Any]]
    scores: Callable[[dict[str, Any]], list[float]]
    argv: list[str]
    ready_path: str
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    port: int = 0
    log: Path | None = None

    def start(self, log_dir: Path) -> None:
        self.log = log_dir / f"{self.name.replace(' ', '_')}.log"
        env = {**os.environ, "OMP_NUM_THREADS": "1", **self.env}
        # the server's own executables (mlflow runs `uvicorn`) come first on the PATH
        env["PATH"] = f"{Path(self.argv[0]).parent}{os.pathsep}{env.get('PATH', '')}"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [a.format(port=self.port) for a in self.argv],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + 180
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url(self.ready_path), timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready after 180 s")
            time.sleep(0.25)

    def url(self, path: str | None = None) -> str:
        return f"http://127.0.0.1:{self.port}{path if path is not None else self.path}"

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


def _ours(bench: Bench, key: str, name: str, *extra: str) -> Server:
    exe = str(ROOT / ".venv" / "bin" / "retrainer")
    return Server(
        name=name,
        path="/predict",
        body=lambda rows: {"inputs": rows[0] if len(rows) == 1 else rows},
        scores=lambda answer: [p["score"] for p in answer["predictions"]],
        argv=[exe, "serve", "-c", str(bench.config[key]), "--port", "{port}", *extra],
        ready_path="/ready",
    )


def _mlflow(bench: Bench, key: str) -> Server:
    from retrainer.project import Project
    from retrainer.registry.tracking import resolve_tracking

    setup = resolve_tracking(Project.load(bench.config[key]))
    return Server(
        name="mlflow models serve",
        path="/invocations",
        body=lambda rows: {"dataframe_records": rows},
        scores=lambda answer: [p[1] for p in answer["predictions"]],
        argv=[
            str(ROOT / ".venv" / "bin" / "mlflow"),
            "models",
            "serve",
            "-m",
            f"models:/bench-{key}/1",
            "-h",
            "127.0.0.1",
            "-p",
            "{port}",
            "-w",
            "1",
            "--env-manager",
            "local",
        ],
        ready_path="/ping",
        env={
            "MLFLOW_TRACKING_URI": setup.tracking_uri,
            "MLFLOW_REGISTRY_URI": setup.registry_uri,
        },
    )


def _mlserver(bench: Bench, key: str, batching: bool) -> Server:
    import joblib

    folder = bench.root / f"mlserver-{key}-{'batching' if batching else 'defaults'}"
    model_dir = folder / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(bench.pipelines[key], model_dir / "model.joblib")
    settings: dict[str, Any] = {
        "name": "model",
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib", "version": "v1"},
    }
    if batching:
        settings |= {"max_batch_size": 64, "max_batch_time": 0.005}
    (model_dir / "model-settings.json").write_text(json.dumps(settings))
    grpc, metrics = free_port(), free_port()

    def body(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "parameters": {"content_type": "pd"},
            "inputs": [
                {
                    "name": c,
                    "shape": [len(rows), 1],
                    "datatype": bench.kinds[c],
                    "data": [r[c] for r in rows],
                }
                for c in bench.columns
            ],
            "outputs": [{"name": "predict_proba"}],
        }

    def scores(answer: dict[str, Any]) -> list[float]:
        data = answer["outputs"][0]["data"]
        return list(np.asarray(data, dtype=float).reshape(-1, 2)[:, 1])

    server = Server(
        name=f"MLServer {'adaptive batching' if batching else 'defaults'}",
        path="/v2/models/model/infer",
        body=body,
        scores=scores,
        argv=[str(SERVING_VENV / "bin" / "mlserver"), "start", str(folder)],
        ready_path="/v2/health/ready",
    )
    (folder / "settings.json").write_text(
        json.dumps(
            {
                "http_port": "{port}",
                "grpc_port": grpc,
                "metrics_port": metrics,
                "debug": False,
                "parallel_workers": 1,
            }
        )
    )
    server._settings = folder / "settings.json"  # type: ignore[attr-defined]
    return server


# -- load -----------------------------------------------------------------------------------
LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local bodies = {}
local f = io.open("%(bodies)s", "r")
for line in f:lines() do bodies[#bodies + 1] = line end
f:close()
local i = 0
request = function()
  i = (i %% #bodies) + 1
  return wrk.format(nil, nil, nil, bodies[i])
end
%(delay)s
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT %%d %%d %%d %%d %%d %%d %%d %%d %%d\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max, 0))
end
"""


@dataclass
class Run:
    server: str
    model: str
    rows: int
    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    note: str = ""


def wrk(
    server: Server,
    bodies: Path,
    concurrency: int,
    seconds: float,
    delay_ms: float | None = None,
) -> tuple[float, float, float, int]:
    """Requests/s, p50 ms, p99 ms and errors of one closed-loop run."""
    delay = f"delay = function() return {delay_ms:.3f} end" if delay_ms else ""
    script = bodies.with_suffix(f".{concurrency}.{int(delay_ms or 0)}.lua")
    script.write_text(LUA % {"bodies": bodies, "delay": delay})
    argv = ["wrk", "-t1", f"-c{concurrency}", f"-d{max(int(seconds), 1)}s", "--timeout", "10s"]
    out = subprocess.run(
        [*argv, "-s", str(script), server.url()], capture_output=True, text=True, timeout=300
    )
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT")), None)
    if line is None:
        raise RuntimeError(f"wrk against {server.name}: {out.stdout[-1000:]} {out.stderr[-1000:]}")
    n, duration_us, socket_errors, status_errors, p50, p99, *_ = map(int, line.split()[1:])
    return n / (duration_us / 1e6), p50 / 1000, p99 / 1000, socket_errors + status_errors


def check(server: Server, bench: Bench, key: str) -> float:
    """Largest difference between the server's scores and in-process predict_proba."""
    rows = bench.rows[:100]
    answer = httpx.post(server.url(), json=server.body(rows), timeout=30)
    if answer.status_code != 200:
        log = server.log.read_text()[-3000:] if server.log else ""
        raise RuntimeError(f"{server.name} answered {answer.status_code}: {answer.text}\n{log}")
    got = np.asarray(server.scores(answer.json()))
    want = bench.pipelines[key].predict_proba(pd.DataFrame(rows))[:, 1]
    return float(np.max(np.abs(got - want)))


def floor_ms(pipeline: Any, rows: list[dict[str, Any]], n: int) -> float:
    """Median in-process predict_proba time of ``n`` rows (the frame as the gateway builds it).

    After a warm-up, the best of three medians (the machine is shared).
    """
    from retrainer.serving.requests import build_frame

    kinds = {c: "double" if isinstance(v, float | int) else "string" for c, v in rows[0].items()}
    frame = build_frame([{c: [r[c] for r in rows[:n]] for c in kinds}], kinds)
    for _ in range(20):
        pipeline.predict_proba(frame)
    medians = []
    for _ in range(3):
        times = []
        for _ in range(200 if n == 1 else 60):
            started = time.perf_counter()
            pipeline.predict_proba(frame)
            times.append(time.perf_counter() - started)
        medians.append(float(np.median(times) * 1000))
    return min(medians)


def bodies_file(server: Server, bench: Bench, rows: int, folder: Path) -> Path:
    path = folder / f"{server.name.replace(' ', '_')}-{rows}.jsonl"
    lines = []
    for i in range(0, 200):
        chosen = [bench.rows[(i + j) % len(bench.rows)] for j in range(rows)]
        lines.append(json.dumps(server.body(chosen)))
    path.write_text("\n".join(lines) + "\n")
    return path


# -- the run --------------------------------------------------------------------------------
def measure(
    server: Server, bench: Bench, key: str, folder: Path, args: argparse.Namespace
) -> list[Run]:
    server.port = free_port()
    settings = getattr(server, "_settings", None)
    if settings is not None:
        text = settings.read_text().replace('"{port}"', str(server.port))
        settings.write_text(text)
    server.start(folder)
    runs = []
    try:
        diff = check(server, bench, key)
        for rows in args.rows:
            bodies = bodies_file(server, bench, rows, folder)
            for concurrency in args.concurrency:
                wrk(server, bodies, concurrency, 2)  # warm-up
                rps, p50, p99, errors = wrk(server, bodies, concurrency, args.seconds)
                run = Run(server.name, key, rows, concurrency, rps, p50, p99, errors)
                run.note = f"answers within {diff:.1e}"
                runs.append(run)
                print(
                    f"  {server.name:28} {NAMES[key]:20} rows {rows:3} c{concurrency:<3} "
                    f"{rps:8.0f} req/s  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  errors {errors}",
                    flush=True,
                )
    finally:
        server.stop()
    return runs


def shadow_runs(bench: Bench, key: str, folder: Path, capacity: float, args) -> list[Run]:
    """Shadow off and on at half the shadow-off capacity (c16, single rows, logging on).

    One gateway process throughout; the rollout is started and aborted under it (it follows
    the plan in the store), and the two settings alternate twice: off, on, off, on. Each
    setting's figures are the median of its two runs (the machine is shared).
    """
    from datetime import UTC, datetime

    from retrainer.project import Project
    from retrainer.promotion import ModelTarget
    from retrainer.promotion.rollouts import begin, transition_by_hand
    from retrainer.rollout import abort

    rate = capacity / 2
    delay_ms = 1000 * 16 / rate
    project = Project.load(bench.config[key])
    target = ModelTarget.for_project(project)
    server = _ours(bench, key, "retrainer serve shadow")
    server.port = free_port()
    server.start(folder)
    measured: dict[bool, list[tuple[float, float, float, int]]] = {False: [], True: []}
    notes: dict[bool, str] = {}
    try:
        bodies = bodies_file(server, bench, 1, folder)
        for shadow in (False, True, False, True):
            if shadow:  # no events: nothing listens here
                stages = project.config.promotion.stages
                state = begin(target, stages, "2", now=datetime.now(UTC)).state
            else:
                state = target.store.rollouts.get(target.name)
                if state is not None and state.status == "running":
                    state = transition_by_hand(target, lambda s: abort(s, "benchmark")).state
            _follow(server, state.revision if state else None)
            if shadow:  # the shadow process loads the challenger once: wait for it
                before = _metric(server, "retrainer_gateway_shadow_rows_total")
                deadline = time.monotonic() + 120
                while _metric(server, "retrainer_gateway_shadow_rows_total") <= before:
                    httpx.post(server.url(), json=server.body(bench.rows[:1]), timeout=30)
                    if time.monotonic() > deadline:
                        raise RuntimeError("the shadow challenger never scored")
                    time.sleep(0.2)
            wrk(server, bodies, 16, 2, delay_ms)
            dropped = _metric(server, "retrainer_gateway_shadow_dropped_total")
            scored = _metric(server, "retrainer_gateway_shadow_rows_total")
            measured[shadow].append(wrk(server, bodies, 16, args.seconds, delay_ms))
            scored = _metric(server, "retrainer_gateway_shadow_rows_total") - scored
            dropped = _metric(server, "retrainer_gateway_shadow_dropped_total") - dropped
            rps, p50, p99, errors = measured[shadow][-1]
            notes[shadow] = (
                f"at ~{rate:.0f} req/s offered; shadow rows {scored:.0f}, dropped {dropped:.0f}"
            )
            print(
                f"  shadow {'on ' if shadow else 'off'} {NAMES[key]:20} rows   1 c16  {rps:8.0f} "
                f"req/s  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  errors {errors}  ({notes[shadow]})",
                flush=True,
            )
    finally:
        server.stop()
        state = target.store.rollouts.get(target.name)
        if state is not None and state.status == "running":
            transition_by_hand(target, lambda s: abort(s, "benchmark done"))
    runs = []
    for shadow in (False, True):
        rps, p50, p99, errors = (
            float(np.median([m[i] for m in measured[shadow]])) for i in range(4)
        )
        name = f"retrainer serve shadow {'on' if shadow else 'off'}"
        runs.append(
            Run(name, key, 1, 16, rps, p50, p99, int(errors), notes[shadow] + " (median of 2)")
        )
    return runs


def _follow(server: Server, revision: int | None) -> None:
    """Wait until the gateway serves the rollout at ``revision`` (None: no rollout)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rollout = httpx.get(server.url("/rollout"), timeout=5).json().get("rollout")
        if (rollout or {}).get("revision") == revision or (revision is None and rollout is None):
            return
        time.sleep(0.1)
    raise RuntimeError(f"the gateway never followed the rollout to revision {revision}")


def _metric(server: Server, name: str) -> float:
    try:
        text = httpx.get(server.url("/metrics"), timeout=5).text
    except httpx.TransportError:
        return float("nan")
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def _find(runs: list[Run], server: str, key: str, rows: int, c: int) -> Run | None:
    return next(
        (
            r
            for r in runs
            if r.server == server and r.model == key and r.rows == rows and r.concurrency == c
        ),
        None,
    )


def report(runs: list[Run], floors: dict[tuple[str, int], float], keys: list[str]) -> list[str]:
    lines = ["", "## Results", ""]
    lines.append("| server | model | rows | concurrency | req/s | p50 ms | p99 ms | errors |")
    lines.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in runs:
        lines.append(
            f"| {r.server} | {NAMES[r.model]} | {r.rows} | {r.concurrency} | {r.rps:,.0f} | "
            f"{r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.errors} |"
        )
    lines += ["", "## Targets (single rows, concurrency 16, prediction logging on)", ""]
    for key in keys:
        ours = _find(runs, "retrainer serve", key, 1, 16)
        if ours is None:
            continue
        lines.append(
            f"**{NAMES[key]}** (in-process floor: 1 row {floors[(key, 1)]:.2f} ms"
            + (f", 100 rows {floors[(key, 100)]:.2f} ms" if (key, 100) in floors else "")
            + ")"
        )
        for peer, target in [
            ("mlflow models serve", 10.0),
            ("MLServer defaults", 5.0),
            ("MLServer adaptive batching", 1.5),
        ]:
            other = _find(runs, peer, key, 1, 16)
            if other is not None and other.rps:
                ratio = ours.rps / other.rps
                verdict = "met" if ratio >= target else "NOT met"
                lines.append(
                    f"- throughput vs {peer}: {ratio:.1f}× (target ≥ {target:g}×) — {verdict}"
                )
        mlflow = _find(runs, "mlflow models serve", key, 1, 16)
        if mlflow is not None:
            verdict = "met" if ours.p99_ms < mlflow.p50_ms else "NOT met"
            lines.append(
                f"- p99 {ours.p99_ms:.2f} ms vs mlflow models serve p50 {mlflow.p50_ms:.2f} ms "
                f"(target: below) — {verdict}"
            )
        lone = _find(runs, "retrainer serve", key, 1, 1)
        if lone is not None:
            gap = lone.p50_ms - floors[(key, 1)]
            verdict = "met" if gap <= 1.0 else "NOT met"
            lines.append(
                f"- p50 at concurrency 1: {lone.p50_ms:.2f} ms, {gap:+.2f} ms over the floor "
                f"(target ≤ 1 ms) — {verdict}"
            )
        off = _find(runs, "retrainer serve shadow off", key, 1, 16)
        on = _find(runs, "retrainer serve shadow on", key, 1, 16)
        if off is not None and on is not None:
            ratio = on.p99_ms / off.p99_ms
            verdict = "met" if ratio <= 1.25 else "NOT met"
            lines.append(
                f"- shadow on at half capacity: p99 {on.p99_ms:.2f} ms vs {off.p99_ms:.2f} ms off, "
                f"{ratio:.2f}× (target ≤ 1.25×) — {verdict}"
            )
        lines.append("")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="LR, single rows, 5 s runs.")
    parser.add_argument("--seconds", type=float, default=10.0, help="Seconds per measured run.")
    parser.add_argument("--models", default="hgb,lr", help="hgb, lr or both.")
    parser.add_argument("--no-peers", action="store_true", help="retrainer serve only.")
    parser.add_argument(
        "--shadow-only",
        action="store_true",
        help="Only the shadow comparison (and the c16 capacity it is set from).",
    )
    parser.add_argument("--json", type=Path, help="Also write the runs as JSON here.")
    parser.add_argument("--no-save", action="store_true", help="Do not write results/.")
    args = parser.parse_args()
    keys = [k.strip() for k in args.models.split(",") if k.strip()]
    args.rows, args.concurrency = [1, 100], [1, 16]
    if args.quick:
        keys, args.rows, args.seconds = ["lr"], [1], 5.0
    if shutil.which("wrk") is None:
        sys.exit("benchmarks/gateway.py needs wrk: apt-get install wrk (Debian)")
    if not args.no_peers:
        subprocess.run(["bash", str(HERE / "peers" / "setup.sh"), "serving"], check=True)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    pd.set_option("mode.string_storage", "python")

    with tempfile.TemporaryDirectory(prefix="gateway-bench-") as tmp:
        root = Path(tmp)
        os.environ.pop("RETRAINER_DB_URL", None)
        print(
            f"setting up: simulated data, {', '.join(NAMES[k] for k in keys)} registered",
            flush=True,
        )
        bench = build(root, keys)
        floors = {
            (k, n): floor_ms(bench.pipelines[k], bench.rows, n) for k in keys for n in args.rows
        }
        for (k, n), ms in floors.items():
            print(f"  in-process predict_proba  {NAMES[k]:20} rows {n:3}  {ms:.2f} ms", flush=True)
        runs: list[Run] = []
        for key in keys:
            servers = [
                _ours(bench, key, "retrainer serve"),
                _ours(bench, key, "retrainer serve no logging", "--no-log-predictions"),
            ]
            if not args.no_peers:
                servers += [
                    _mlflow(bench, key),
                    _mlserver(bench, key, False),
                    _mlserver(bench, key, True),
                ]
            if args.shadow_only:
                servers, args.rows, args.concurrency = servers[:1], [1], [16]
            for server in servers:
                runs += measure(server, bench, key, root, args)
            capacity = _find(runs, "retrainer serve", key, 1, 16)
            if capacity is not None:
                runs += shadow_runs(bench, key, root, capacity.rps, args)
        lines = [
            f"# Gateway benchmark, {time.strftime('%Y-%m-%d %H:%M')}",
            "",
            f"One worker per server, wrk closed loop on 127.0.0.1, {args.seconds:g} s per run "
            f"after a 2 s warm-up; {os.cpu_count()} cores shared by the server and wrk.",
            *report(runs, floors, keys),
        ]
    text = "\n".join(lines)
    print(text)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in runs], indent=2))
    if not args.no_save and not args.quick:
        RESULTS.mkdir(exist_ok=True)
        out = RESULTS / f"gateway-{time.strftime('%Y-%m-%d')}.md"
        out.write_text(text + "\n")
        print(f"\nsaved {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
