"""``retrainer demo``: the whole continuous-training loop, day by day, on the embedded default.

A simulated stream (scenario ``loop``: label delay, a covariate drift, a bad batch, a
concept drift) is replayed one day at a time through the real flows and the real gateway:

1. each night the continuous-training flow runs (``as_of`` the day): validation quarantines
   the bad batch, the drift and performance checks feed the trigger policy, and a retrain
   goes train → gate → the staged rollout of ``promotion.stages``;
2. each day's rows are sent to ``retrainer serve`` on 127.0.0.1 (a subprocess, as users
   start it), one request per loan, and the labels that arrive that day go to ``/feedback``;
3. the reconcile-rollout flow advances the rollout on what the gateway logged;
4. after the first promotion a deliberately bad model is trained on inverted labels (a
   broken label join): its gate, scored on the same broken labels, lets it into the rollout
   (or, should the gate catch it, it is put there by hand), and the canary's analysis on
   the real outcomes aborts it; then one ``retrainer rollback`` is shown, and the champion
   is promoted back.

Everything lands in ``<folder>``: the data, the MLflow store, the operational store, the
Prefect database of the runs, the reports, the timeline (PNG, HTML, JSON) and the log of
Prefect's own output (``demo.log``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from retrainer.demo.timeline import Day, Timeline, score_day

MARKER = ".retrainer-demo"
"""A file that says a folder holds a demo (a rerun may clear it)."""

Say = Callable[[str], None]


@dataclass(frozen=True)
class DemoSettings:
    """What the demo simulates and replays.

    Attributes:
        folder: The demo project's folder (created).
        scenario: The simulated stream.
        rows_per_day: Loan applications per day (each one a gateway request).
        label_delay: Days until an application's outcome is known.
        first_model_day: Day index of the first CT run (trains the first model).
        seed: Simulation seed.
    """

    folder: Path
    scenario: str = "loop"
    rows_per_day: int = 500
    label_delay: int = 1
    first_model_day: int = 20
    seed: int = 0

    @property
    def config(self) -> Path:
        """The demo project's retrainer.yaml."""
        return self.folder / "retrainer.yaml"

    @property
    def reports(self) -> Path:
        """Where the timeline goes."""
        return self.folder / ".retrainer" / "reports"


CONFIG = """\
# The demo project `retrainer demo` made: one model's continuous-training setup.
# Every key is documented in docs/config.md; `retrainer config check` checks it.
model:
  name: credit-default
  task: binary
  description: Probability that a consumer loan defaults (simulated stream).
data:
  source: data
columns:
  id: loan_id
  timestamp: event_time
  target: defaulted
  label_timestamp: label_time
  numeric: [income, loan_amount, interest_rate, term_months, credit_score,
            debt_to_income, utilization, age, employment_years, open_accounts]
  categorical: [region, channel, home_ownership, purpose]
  segments: [region]
estimator:
  class_path: sklearn.ensemble.HistGradientBoostingClassifier
  params: {max_iter: 60, learning_rate: 0.1}
state_dir: .retrainer
training:
  window: {kind: fixed, days: 7}
# The gate lets a challenger through when it is not worse than the champion by more than
# 0.03 AUC on the fresh holdout (a few days: a wide interval); the staged rollout then
# judges it on live traffic.
gates:
  holdout: {days: 3}
  comparison: {mode: non_inferiority, margin: 0.03}
# Nightly checks over the last few days; their HTML reports are skipped (the demo writes its
# own timeline), the JSON reports and MLflow runs are kept.
drift:
  window_days: 3
  html_report: never
monitoring:
  window_days: 4
  html_report: never
# The nightly run retrains on a performance drop; drift alone is held back while
# performance holds (require_degradation), and a retrain needs enough labels.
policy:
  triggers:
    - kind: drift
      consecutive: 2
    - kind: performance
      max_drop: 0.05
      basis: realised
      scope: overall
      consecutive: 2
    - kind: on_demand
  cooldown_hours: 24
  require_degradation: true
  labels: {min_rows: 500, min_per_class: 30}
# A passed gate hands the challenger to a staged rollout through the gateway: shadow (is it
# healthy?), then a canary at 25% and 50% judged on the labelled outcomes of its traffic.
promotion:
  stages:
    - kind: shadow
      min_requests: 400
      min_labelled: 300
      min_duration_hours: 0
      analysis:
        - {name: error_rate, failure: {min: 0.05}}
    - kind: canary
      weights: [25, 50]
      step_minutes: 0
      min_labelled_per_step: 100
      analysis:
        - {name: metric_delta, success: {min: -0.03}, failure: {max: -0.06}}
        - {name: error_rate, failure: {min: 0.05}}
"""


@dataclass
class Gateway:
    """``retrainer serve`` on a free port of 127.0.0.1, run as a subprocess."""

    folder: Path
    log: Path
    process: subprocess.Popen | None = None
    url: str = ""

    def start(self, env: dict[str, str]) -> None:
        """Start it and wait until it answers /health."""
        from retrainer.production.supervisor import healthy

        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        argv = [sys.executable, "-m", "retrainer", "serve", "--port", str(port),
                "--poll-seconds", "0.5"]  # fmt: skip
        out = self.log.open("ab")
        self.process = subprocess.Popen(
            argv, cwd=self.folder, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 120
        while not healthy(f"{self.url}/health", timeout=1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the gateway did not start; see {self.log}")
            time.sleep(0.3)

    def wait_for(self, check: Callable[[dict], bool], path: str = "/ready", limit: float = 30):
        """Poll ``path`` until ``check(answer)`` holds (the gateway follows the store)."""
        deadline = time.monotonic() + limit
        while True:
            try:
                answer = httpx.get(self.url + path, timeout=5).json()
                if check(answer):
                    return answer
            except (httpx.HTTPError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the gateway did not follow the store within {limit} s")
            time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM: it drains and flushes its prediction log."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Traffic:
    """The stream's rows as requests: what was sent, what was answered, what to label."""

    features: pd.DataFrame
    labels: pd.DataFrame
    columns: list[str]
    sent: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, folder: Path, columns: list[str]) -> Traffic:
        """Read the simulated features and labels of the demo's data folder."""
        features = pd.read_parquet(folder / "data" / "features")
        labels = pd.read_parquet(folder / "data" / "labels")
        features["day"] = pd.to_datetime(features["event_time"]).dt.strftime("%Y-%m-%d")
        labels["arrived"] = pd.to_datetime(labels["label_time"]).dt.strftime("%Y-%m-%d")
        return cls(features, labels, columns)

    def send(self, gateway: Gateway, day: str) -> pd.DataFrame:
        """One request per loan applied for on ``day``; the answers with the true outcome."""
        rows = self.features[self.features["day"] == day]
        records = rows[["loan_id", *self.columns]].to_dict("records")
        with (
            httpx.Client(base_url=gateway.url, timeout=30) as client,
            ThreadPoolExecutor(8) as pool,
        ):
            answers = list(pool.map(lambda r: _predict(client, r, self.columns), records))
        self.sent.update(str(r["loan_id"]) for r in records)
        frame = pd.DataFrame([a for a in answers if a is not None])
        if frame.empty:
            return frame
        truth = self.labels.set_index(self.labels["loan_id"].astype(str))["defaulted"]
        frame["label"] = frame["request_id"].map(truth)
        return frame

    def feedback(self, gateway: Gateway, day: str) -> int:
        """Send the outcomes that arrive on ``day`` for requests sent earlier."""
        arrived = self.labels[self.labels["arrived"] == day]
        arrived = arrived[arrived["loan_id"].astype(str).isin(self.sent)]
        body = [{"request_id": str(i), "label": int(y)}
                for i, y in zip(arrived["loan_id"], arrived["defaulted"], strict=True)]  # fmt: skip
        with httpx.Client(base_url=gateway.url, timeout=60) as client:
            for start in range(0, len(body), 2_000):
                answer = client.post("/feedback", json={"labels": body[start : start + 2_000]})
                answer.raise_for_status()
        return len(body)


def _predict(client: httpx.Client, record: dict[str, Any], columns: list[str]) -> dict | None:
    inputs = {c: (None if pd.isna(record[c]) else record[c]) for c in columns}
    key = str(record["loan_id"])
    answer = client.post("/predict", json={"inputs": inputs, "request_id": key,
                                            "entity_key": key})  # fmt: skip
    if answer.status_code != 200:
        return None  # a refused row (the bad batch's): the gateway said why, in its log
    document = answer.json()
    return {
        "request_id": key,
        "version": document["version"],
        "variant": document["variant"],
        "score": document["predictions"][0]["score"],
    }


def prepare(settings: DemoSettings, say: Say) -> None:
    """A clean demo folder: the project config and the simulated stream."""
    from retrainer.simulate import simulate, write_simulation

    folder = settings.folder
    if folder.exists():
        if not (folder / MARKER).exists() and any(folder.iterdir()):
            raise FileExistsError(
                f"{folder} exists and is not a demo folder: choose another with --dir"
            )
        if (folder / MARKER).exists():
            say(f"{folder} holds an earlier demo: starting clean")
            shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("made by `retrainer demo`; a rerun replaces this folder\n")
    settings.config.write_text(CONFIG, encoding="utf-8")
    sim = simulate(settings.scenario, seed=settings.seed, rows_per_day=settings.rows_per_day,
                   label_delay_days=settings.label_delay)  # fmt: skip
    write_simulation(sim, folder / "data")


@dataclass
class Demo:
    """One demo run: the project, the gateway, the traffic and the timeline."""

    settings: DemoSettings
    say: Say
    env: dict[str, str]
    timeline: Timeline = field(default_factory=Timeline)
    gateway: Gateway | None = None
    traffic: Traffic | None = None
    bad_version: str | None = None
    good_version: str | None = None
    rolled_back: bool = False
    drifting: str | None = None  # the drifted columns of the last check (told once)
    holding: str | None = None  # the guard that held the last retrain back (told once)

    @property
    def config(self) -> str:
        """The config path, as the flows take it."""
        return str(self.settings.config)

    def project(self) -> Any:
        """The demo project, loaded anew (the flows may have changed the stores)."""
        from retrainer.project import Project

        return Project.load(self.settings.config)

    def rollout(self) -> Any:
        """The model's rollout state in the store (None before the first)."""
        from retrainer.store import open_store

        return open_store(self.project()).rollouts.get("credit-default")

    def night(self, day: str) -> Day:
        """The nightly continuous-training run of ``day``, told in a line when it matters."""
        from retrainer.flows.continuous_training import continuous_training

        result = continuous_training(config=self.config, as_of=day, reason="schedule")
        decision = result["decision"]
        steps = result.get("steps", {})
        record = Day(day, decision["status"], decision.get("detail", ""))
        drift = steps.get("drift") or {}
        if drift.get("rows"):
            record.drifted = drift.get("verdict") == "drift"
            record.drift_share = _drift_share(self.project(), day, drift)
        if (steps.get("validate") or {}).get("quarantined"):
            self.timeline.mark(day, "quarantined", self._quarantine_reason(day))
        if record.drifted:
            columns = ", ".join(drift.get("drifted_features") or []) or "predictions"
            if columns != self.drifting:  # a new drift, not the same one again
                self.timeline.mark(day, "drift", f"drift detected in {columns}")
            self.drifting = columns
        elif drift.get("rows"):
            self.drifting = None
        guard = decision.get("suppressed_by")
        if decision["status"] == "suppressed" and guard != self.holding:
            self.timeline.mark(day, "suppressed", f"retrain held back: {decision['detail']}")
        self.holding = guard if decision["status"] == "suppressed" else None
        if "retrain" in result:
            self._retrained(day, result["retrain"], decision)
        return record

    def _quarantine_reason(self, day: str) -> str:
        from retrainer.data import DataCatalog

        catalog = DataCatalog.for_project(self.project())
        reasons = [r.reason for r in catalog.quarantine.records(catalog.features.name)
                   if r.date == day]  # fmt: skip
        why = reasons[0] if reasons else "it failed validation"
        return f"the day's batch quarantined (never trained on or measured): {why}"

    def _retrained(self, day: str, retrain: dict[str, Any], decision: dict[str, Any]) -> None:
        version, outcome = str(retrain["version"]), retrain["outcome"]
        reasons = decision.get("detail", "")
        self.timeline.mark(day, "retrain", f"v{version} trained: {reasons}")
        verdict = "gate_passed" if retrain["gate"] == "passed" else "gate_failed"
        after = {
            "promoted": f"v{version} is champion (the first model)",
            "rollout_started": f"v{version} passed the gate: shadow rollout started",
        }.get(outcome, f"v{version}: {outcome.replace('_', ' ')}")
        self.timeline.mark(day, verdict, after)
        if outcome == "rollout_started":
            self.good_version = version

    def serve(self, day: str, record: Day) -> None:
        """The day's traffic through the gateway, and the outcomes that arrive today."""
        assert self.gateway is not None
        assert self.traffic is not None
        answers = self.traffic.send(self.gateway, day)
        self.traffic.feedback(self.gateway, day)
        if answers.empty:
            return
        record.served = answers["version"].value_counts().to_dict()
        labelled = answers.dropna(subset=["label"])
        record.auc, record.accuracy = score_day(
            labelled["label"].to_numpy(dtype=int), labelled["score"].to_numpy(dtype=float)
        )

    def reconcile(self, day: str) -> None:
        """Advance the rollout (the reconcile-rollout flow) and wait for the gateway."""
        from retrainer.flows.promote import reconcile_rollout

        state = self.rollout()
        if state is None or state.status != "running":
            return
        result = reconcile_rollout(config=self.config)
        action, after = result["action"], self.rollout()
        told = {
            "advance": ("advance", f"→ {_stage(self.project(), after)}"),
            "promote": ("promoted", "promoted: champion after shadow and canary"),
            "pause": ("paused", f"paused for a person: {result['reason']}"),
            "abort": ("aborted", f"aborted, rolled back: {result['reason']}"),
        }
        if action in told:
            kind, text = told[action]
            self.timeline.mark(day, kind, f"v{after.challenger} {text}")
        assert self.gateway is not None
        self.gateway.wait_for(lambda a: a.get("rollout", {}).get("revision") == after.revision,
                              "/rollout")  # fmt: skip

    def bad_retrain(self, day: str) -> None:
        """Train a model on inverted labels; it enters the rollout by its gate or by hand."""
        from retrainer.flows.train import train
        from retrainer.project import Project
        from retrainer.tasks.promotion import start_rollout

        bad = self._bad_project()
        trained = train(config=str(bad), as_of=day, reason="on_demand",
                        detail="deliberately bad: trained on inverted labels")  # fmt: skip
        version = str(trained["version"])
        self.bad_version = version
        state = self.rollout()
        if state is not None and state.challenger == version and state.status == "running":
            self.timeline.mark(day, "gate_passed", f"v{version} trained on inverted labels (a "
                               "broken label join); its gate, scored on the same broken labels, "
                               "passed: shadow rollout started")  # fmt: skip
        else:
            self.timeline.mark(day, "gate_failed", f"v{version} trained on inverted labels (a "
                               "broken label join); gate failed, put into the rollout by hand "
                               f"(retrainer rollout start {version})")  # fmt: skip
            state = start_rollout(Project.load(self.settings.config), version).state
        revision = state.revision
        assert self.gateway is not None
        self.gateway.wait_for(
            lambda a: a.get("rollout", {}).get("revision") == revision, "/rollout"
        )

    def _bad_project(self) -> Path:
        """``bad.yaml``: the same model and stores, its labels inverted."""
        import yaml

        folder = self.settings.folder
        bad_data = folder / "bad-labels"
        if not bad_data.exists():
            bad_data.mkdir()  # the same feature files (hard links), other labels
            shutil.copytree(folder / "data" / "features", bad_data / "features",
                            copy_function=os.link)  # fmt: skip
            for path in (folder / "data" / "labels").rglob("*.parquet"):
                frame = pd.read_parquet(path)
                frame["defaulted"] = 1 - frame["defaulted"]
                target = bad_data / "labels" / path.relative_to(folder / "data" / "labels")
                target.parent.mkdir(parents=True, exist_ok=True)
                frame.to_parquet(target, index=False)
        config = yaml.safe_load(self.settings.config.read_text())
        config["data"]["source"] = "bad-labels"
        path = folder / "bad.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    def rollback_by_hand(self, day: str) -> list[str]:
        """``retrainer rollback``, then the champion promoted back; their output."""
        lines = []
        for argv, kind in (
            (["rollback", "--reason", "demo: the manual way back"], "rollback"),
            (["promote", str(self.good_version), "--reason", "demo: forward again"], "promoted"),
        ):
            done = subprocess.run(
                [sys.executable, "-m", "retrainer", *argv, "-c", self.config],
                env=self.env, capture_output=True, text=True, check=False, timeout=300,
            )  # fmt: skip
            if done.returncode != 0:
                raise RuntimeError(f"retrainer {argv[0]} failed: {done.stderr[-1500:]}")
            lines.append(f"$ retrainer {' '.join(argv)}")
            lines += [f"  {line}" for line in done.stdout.strip().splitlines()]
            self.timeline.mark(
                day, kind, f"retrainer {argv[0]}: {done.stdout.strip().splitlines()[0]}"
            )
        self.rolled_back = True
        return lines


def _stage(project: Any, state: Any) -> str:
    """``shadow`` or ``canary 25%``: the step the rollout is at."""
    from retrainer.rollout import stage_name

    return stage_name(project.config.promotion.stages, state)


def _drift_share(project: Any, day: str, drift: dict[str, Any]) -> float:
    monitored = len(project.config.columns.numeric) + len(project.config.columns.categorical)
    return len(drift.get("drifted_features") or []) / max(monitored, 1)


_SERVERS = {"PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE", "MLFLOW_TRACKING_URI",
            "MLFLOW_REGISTRY_URI", "RETRAINER_DB_URL"}  # fmt: skip
"""Variables that would point the demo at a server; it runs on the embedded default."""


def demo_environment(settings: DemoSettings) -> dict[str, str]:
    """The embedded default, whatever the shell says.

    An ephemeral Prefect API with its database in the demo folder; MLflow and the store on
    SQLite in the state dir.
    """
    env = {k: v for k, v in os.environ.items() if k not in _SERVERS}
    home = settings.folder / ".retrainer" / "prefect"
    home.mkdir(parents=True, exist_ok=True)
    env["PREFECT_HOME"] = str(home)
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    env["PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW"] = "ignore"
    return env


def run_days(demo: Demo, days: list[str], tick: Callable[[Day], None]) -> None:
    """Replay ``days``: night run, traffic, feedback, reconcile.

    Once the first rollout has promoted, the bad model; once it is aborted, the rollback.
    """
    assert demo.gateway is not None
    for day in days:
        record = demo.night(day)
        ready = demo.gateway.wait_for(lambda a: True)
        if ready.get("champion") is None and record.decision == "retrain":
            ready = demo.gateway.wait_for(lambda a: a.get("champion") is not None)
        if ready.get("champion") is not None:
            demo.serve(day, record)
            demo.reconcile(day)
        kinds = [m.kind for m in demo.timeline.moments]
        if "promoted" in kinds and demo.good_version and demo.bad_version is None:
            demo.bad_retrain(day)
        elif "aborted" in kinds and demo.bad_version and not demo.rolled_back:
            demo.rollback_by_hand(day)
        after = demo.gateway.wait_for(lambda a: True)
        record.champion = after.get("champion")
        state = demo.rollout()
        record.stage = _stage(demo.project(), state) if state and state.status == "running" else ""
        demo.timeline.days.append(record)
        tick(record)
        if demo.rolled_back:
            return


def write_timeline(demo: Demo) -> dict[str, Path]:
    """The figure (PNG), the page (HTML) and the data (JSON) of the run."""
    import matplotlib.pyplot as plt

    from retrainer.demo.timeline import figure, page
    from retrainer.reports.html import figure_to_data_uri

    reports = demo.settings.reports
    reports.mkdir(parents=True, exist_ok=True)
    paths = {k: reports / f"timeline.{k}" for k in ("png", "html", "json")}
    fig = figure(demo.timeline)
    fig.savefig(paths["png"], dpi=110)
    html = page(demo.timeline, figure_to_data_uri(fig), "Retrainer demo: the whole loop",
                {"model": "credit-default", "scenario": demo.settings.scenario,
                 "days": len(demo.timeline.days)})  # fmt: skip
    plt.close(fig)
    paths["html"].write_text(html, encoding="utf-8")
    paths["json"].write_text(json.dumps(demo.timeline.to_dict(), indent=1, default=str))
    return paths


def ledger(demo: Demo) -> pd.DataFrame:
    """The promotion ledger of the run, oldest first."""
    from retrainer.store import open_store

    rows = open_store(demo.project()).ledger.history("credit-default")
    records = [
        {"action": r.action, "from": r.from_version, "to": r.to_version, "reason": r.reason}
        for r in rows
    ]
    frame = pd.DataFrame(records, columns=["action", "from", "to", "reason"]).fillna("")
    return frame.iloc[::-1].reset_index(drop=True)


def loop_days(settings: DemoSettings) -> list[str]:
    """The days the loop replays: from the first model's day to the end of the stream."""
    features = pd.read_parquet(settings.folder / "data" / "features", columns=["event_time"])
    days = sorted(pd.to_datetime(features["event_time"]).dt.strftime("%Y-%m-%d").unique())
    return days[settings.first_model_day :]


def columns_of(settings: DemoSettings) -> list[str]:
    """The model's input columns."""
    from retrainer.project import Project

    cols = Project.load(settings.config).config.columns
    return [*cols.numeric, *cols.categorical]
