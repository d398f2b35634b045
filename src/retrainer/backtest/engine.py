"""The replay: policies day by day over a history, with the live flows' own code (no Prefect).

Each day ``d`` of the replay, for every policy:

1. the model the policy serves is measured on ``d``'s rows with every label that ever arrives
   (hindsight: what users got);
2. what the nightly continuous-training run would see at the end of ``d`` is built with the
   live code — the drift check (:func:`retrainer.drift.check.check_window` against the
   model's training baseline), the monitoring (:class:`retrainer.monitoring.performance.
   PerformanceMonitor` on the labels arrived by ``d``), the label counts — and
   :func:`retrainer.policy.decide` decides, with the policy's state carried over;
3. a retrain is the train flow's core (holdout split, window strategy, ``fit_model``) on the
   rows whose labels had arrived, judged by the gate (:func:`retrainer.gates.evaluate_gates`)
   against the serving model; a passing challenger serves from ``d + 1``.

Policies on the same training window run in lockstep in one :class:`Workbench`, which does
every piece of work once: identical training jobs (same window, rows and config) are fitted
once, and a model's scores, drift check and monitoring of a day are computed once for every
policy that serves it. Checks are computed only for policies whose triggers read them.
Groups on different windows run in parallel processes (joblib).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from retrainer.backtest.history import DAY, History
from retrainer.backtest.policies import PolicySpec, policy_document
from retrainer.backtest.prefetch import (
    CHAMPION_WINDOWS,
    NOT_PLANNED,
    Prefetcher,
    schedule_days,
)
from retrainer.config import RetrainerConfig
from retrainer.policy import Observations, PolicyState, decide
from retrainer.policy.clock import end_of_day
from retrainer.policy.observe import (
    count_labels,
    drift_observation,
    label_window_days,
    performance_observation,
)

WASTE_HORIZON_DAYS = 7
"""Days after a retrain on which its gain over the model it replaced is measured."""
WASTE_ROWS_PER_DAY = 1000
"""Rows per day the gain is measured on (the first rows of each day)."""


@dataclass
class Fitted:
    """A model a retrain produced (shared by every policy that asked for the same job)."""

    key: str
    label: str
    pipeline: Any
    as_of: date
    window_start: date | None
    window_end: date | None
    training_seconds: float
    rows: int
    recorded: dict[str, float | None]
    holdout: np.ndarray
    holdout_scores: tuple[np.ndarray, np.ndarray] | None = None
    logs_from: date | None = None  # first day of its logged predictions (None: the backlog)
    detector: Any = None
    monitor: Any = None


@dataclass
class Retrain:
    """One retrain of a policy."""

    day: date
    model: str
    promoted: bool
    gate: str
    seconds: float
    reason: str
    gain: float | None = None
    key: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {
            "day": self.day.isoformat(),
            "model": self.model,
            "promoted": self.promoted,
            "gate": self.gate,
            "training_seconds": round(self.seconds, 4),
            "reason": self.reason,
            "gain": self.gain,
        }


@dataclass
class PolicyRun:
    """What one policy did over the replay (picklable: no models)."""

    name: str
    kind: str
    description: str
    window: str
    policy: dict[str, Any]
    days: list[date] = field(default_factory=list)
    metric: list[float | None] = field(default_factory=list)
    serving: list[str] = field(default_factory=list)
    retrains: list[Retrain] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    held_by: Counter = field(default_factory=Counter)
    decisions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class GroupResult:
    """The runs of one window group and the work it did."""

    runs: list[PolicyRun]
    fits_requested: int
    fits_run: int
    fit_seconds: float
    checks: dict[str, int]
    fits_ahead: int = 0
    fits_ahead_unused: int = 0


def _checks_needed(spec: PolicySpec) -> tuple[bool, bool]:
    """Whether a policy's decisions read the drift check and the monitoring."""
    kinds = {t.kind for t in spec.policy.leaf_triggers()}
    return "drift" in kinds, "performance" in kinds or spec.policy.require_degradation


def _monitored_metrics(config: RetrainerConfig, specs: list[PolicySpec]) -> list[str]:
    """The primary monitored metric and every metric a performance trigger names."""
    primary = config.monitoring.metrics_for(config.model.task)[0]
    named = [
        t.metric
        for spec in specs
        for t in spec.policy.leaf_triggers()
        if t.kind == "performance" and t.metric
    ]
    return list(dict.fromkeys([primary, *named]))


class Workbench:
    """Every piece of work of one window group, done once (fits, scores, checks, gates).

    Args:
        config: The project config.
        history: The screened history.
        window: The group's training window.
        drift: Build drift baselines (a policy of the group reads drift checks).
        performance: Fit monitors (a policy of the group reads the monitoring).
        metric: The metric followed over time.
        metrics: The monitored metrics the policies read (primary first).
    """

    def __init__(
        self,
        config: RetrainerConfig,
        history: History,
        window: Any,
        *,
        drift: bool,
        performance: bool,
        metric: str,
        metrics: list[str] | None = None,
    ):
        self.config = config
        self.history = history
        self.window = window
        self.needs_drift = drift
        self.needs_performance = performance
        self.metric = metric
        cols = config.columns
        self._columns = list(
            dict.fromkeys([cols.id, cols.timestamp, *cols.features, *cols.segments, cols.target])
        )
        self._days = history.frame[DAY].map(date.toordinal).to_numpy()
        self._fits: dict[str, Fitted | None] = {}
        self._scores: dict[tuple[str, date], pd.DataFrame] = {}
        self._day_features: dict[date, pd.DataFrame] = {}
        self._labels: dict[tuple[date, date | None], dict[str, Any]] = {}
        self._drift: dict[tuple[str, date], Any] = {}
        self._perf: dict[tuple[str, date], Any] = {}
        self._day_metrics: dict[tuple[str, date], float | None] = {}
        self._gates: dict[tuple[str, str], tuple[bool, str]] = {}
        self.fits_requested = 0
        self.fits_run = 0
        self.fit_seconds = 0.0
        self.checks: Counter = Counter()
        self.prefetch: Prefetcher | None = None  # fits run ahead (set by replay_group)
        cols_ts = history.frame[cols.timestamp]
        self._stamps = pd.DatetimeIndex(pd.to_datetime(cols_ts, utc=True))  # not objects
        self._target = history.frame[cols.target].to_numpy()
        self._target_dtype = history.target_dtype
        # the decision reads values, not verdicts: no significance bootstrap, only the
        # metrics the policies read (the primary first, as monitoring reports it)
        self._monitoring = config.monitoring.model_copy(
            update={"significance": None, "metrics": list(dict.fromkeys(metrics or [metric]))}
        )
        self._signature = [(c, str(history.frame[c].dtype)) for c in cols.features]

    def _y(self, rows: np.ndarray) -> np.ndarray:
        """The labels of labelled rows, in the labels table's own type (``1``, not ``1.0``)."""
        values = self._target[rows]
        return values.astype(self._target_dtype) if self._target_dtype is not None else values

    # -- training --------------------------------------------------------------------------
    def _training_rows(self, day: date) -> np.ndarray:
        """Rows labelled by the end of ``day``, limited to what the window can use."""
        rows = self.history.labelled_by(self.history.span(None, day), day)
        days = getattr(self.window, "days", None)
        if self.window.kind != "fixed" or not days or not len(rows):
            return rows
        newest = int(self._days[rows].max())
        margin = days + 2 * self.config.gates.holdout.days + 14
        return rows[self._days[rows] > newest - margin]

    def _fit_key(self, rows: np.ndarray, champion: Fitted | None) -> str:
        digest = hashlib.blake2b(digest_size=12)
        digest.update(json.dumps(self.window.model_dump(mode="json"), sort_keys=True).encode())
        digest.update(self.config.fingerprint().encode())
        digest.update(np.ascontiguousarray(rows).tobytes())
        if self.window.kind in CHAMPION_WINDOWS and champion is not None:
            digest.update(champion.key.encode())
        return digest.hexdigest()

    def fitted(self, key: str) -> Fitted | None:
        """A model fitted earlier, by its key."""
        return self._fits.get(key)

    def fit(self, day: date, champion: Fitted | None) -> Fitted | None:
        """The model a retrain at the end of ``day`` produces (None: the data cannot train).

        Each job is fitted once (or taken from the fits run ahead, see
        :mod:`retrainer.backtest.prefetch`). Raises nothing for data that cannot train: the
        retrain fails, as the train flow would.
        """
        self.fits_requested += 1
        rows = self._training_rows(day)
        key = self._fit_key(rows, champion)
        if key in self._fits:
            return self._fits[key]
        model = self._ahead(day, key)
        if model is NOT_PLANNED:
            model = self._train(day, rows, key, champion)
        if model is not None:
            self.fits_run += 1
            self.fit_seconds += model.training_seconds
        self._fits[key] = model
        return model

    def _ahead(self, day: date, key: str) -> Any:
        """The job ``key`` of ``day`` if it was fitted ahead, else ``NOT_PLANNED``."""
        if self.prefetch is None:
            return NOT_PLANNED
        model = self.prefetch.result(day, lambda spare: self.train(spare, None))
        if model is NOT_PLANNED:
            return model
        if model is not None and model.key != key:  # another job (cannot happen: same rows)
            self.prefetch.unused += 1
            return NOT_PLANNED
        self.prefetch.used += 1
        return model

    def train(self, day: date, champion: Fitted | None) -> Fitted | None:
        """Fit the job of ``day`` now, without the cache (what a worker fitting ahead runs)."""
        rows = self._training_rows(day)
        return self._train(day, rows, self._fit_key(rows, champion), champion)

    def _train(
        self, day: date, rows: np.ndarray, key: str, champion: Fitted | None
    ) -> Fitted | None:
        from retrainer.training.trainer import (
            TrainingDataError,
            fit_model,
            holdout_metrics,
            score_frame,
            split_holdout,
        )
        from retrainer.training.windows import WindowContext, build_training_set

        cfg = self.config
        frame = self.history.frame.iloc[rows][self._columns].reset_index(drop=True)
        frame[cfg.columns.target] = self._y(rows)
        frame["_row"] = rows
        try:
            history, holdout, _ = split_holdout(
                frame, cfg.columns.timestamp, cfg.gates.holdout.days
            )
            context = WindowContext(cfg, history, champion.pipeline if champion else None)
            training = build_training_set(self.window, context)
            fitted = fit_model(training, cfg)
        except (TrainingDataError, ValueError):
            return None
        scored = score_frame(fitted.pipeline, holdout, cfg) if len(holdout) else None
        model = Fitted(
            key=key,
            label=f"{day:%Y-%m-%d}",
            pipeline=fitted.pipeline,
            as_of=day,
            window_start=training.start,
            window_end=training.end,
            training_seconds=fitted.training_seconds,
            rows=fitted.train_rows,
            # the monitoring's reference values: the metrics the policies read
            recorded=holdout_metrics(
                fitted.pipeline, holdout, cfg, scored, metrics=self._monitoring.metrics
            ),
            holdout=holdout["_row"].to_numpy(),
            holdout_scores=scored,
            logs_from=day + timedelta(days=1),
        )
        if self.needs_drift:
            model.detector = self._detector(model, training.frame, holdout)
        return model

    def _detector(self, model: Fitted, training: pd.DataFrame, holdout: pd.DataFrame) -> Any:
        """The drift detector of the model's training baseline (as the train flow logs it)."""
        from retrainer.drift.baseline import build_baseline_profile, prediction_columns_of
        from retrainer.drift.detector import DriftDetector

        cfg = self.config
        cols = cfg.columns
        predictions = None
        if model.holdout_scores is not None:
            scores, labels = model.holdout_scores
            predictions = prediction_columns_of(scores, labels, cfg.model.task, holdout.index)
        profile = build_baseline_profile(
            training,
            numeric=list(cols.numeric),
            categorical=list(cols.categorical),
            embeddings=list(cols.embeddings),
            predictions=predictions,
            task=cfg.model.task,
            config=cfg.drift,
            metadata={"kind": "training"},
        )
        return DriftDetector.from_profile(profile, cfg.drift)

    # -- scoring ---------------------------------------------------------------------------
    def scores(self, model: Fitted, day: date) -> pd.DataFrame:
        """The model's predictions of a day's rows, in the predictions-table layout."""
        key = (model.key, day)
        found = self._scores.get(key)
        if found is None:
            found = self._score_rows(model, self.history.rows(day))
            self._scores[key] = found
        return found

    def _score_rows(self, model: Fitted, rows: np.ndarray) -> pd.DataFrame:
        from retrainer.monitoring.predictions import score_features

        cfg = self.config
        cols = cfg.columns
        frame = self.history.frame.iloc[rows]
        scored = score_features(
            model.pipeline,
            frame,
            task=cfg.model.task,
            id_column=cols.id,
            timestamp_column=cols.timestamp,
            feature_columns=cols.features,
            segment_columns=cols.segments,
            model_version=model.label,
            scored_at=pd.Timestamp(end_of_day(model.as_of)),
        )
        scored.index = rows
        return scored

    def _features(self, day: date) -> pd.DataFrame:
        """A day's feature columns (cached for the drift checks of every model)."""
        found = self._day_features.get(day)
        if found is None:
            rows = self.history.rows(day)
            found = self.history.frame.iloc[rows][self.config.columns.features]
            self._day_features[day] = found
        return found

    def forget_before(self, day: date) -> None:
        """Drop cached scores and checks of days before ``day`` (the replay moved on)."""
        for cache in (self._scores, self._drift, self._perf, self._day_metrics):
            for key in [k for k in cache if k[1] < day]:
                del cache[key]
        for old in [d for d in self._day_features if d < day]:
            del self._day_features[old]
        for key in [k for k in self._labels if k[0] < day]:
            del self._labels[key]

    def _metric_of(self, model: Fitted, scored: pd.DataFrame) -> float | None:
        from retrainer.metrics import MetricInputError, get_metric
        from retrainer.monitoring.performance import prepare_predictions

        rows = self.history.ever_labelled(scored.index.to_numpy())
        if not len(rows):
            return None
        y = self._y(rows)
        try:
            labelled = scored.loc[rows].assign(**{self.config.columns.target: y})
            classes = list(getattr(model.pipeline, "classes_", [])) or None
            if self.config.model.task != "binary":
                classes = None
            inputs = prepare_predictions(
                labelled, self.config.model.task, self.config.columns.target, classes
            )
        except (MetricInputError, ValueError):
            return None
        value = get_metric(self.metric).compute(inputs).value
        return None if value is None or value != value else float(value)

    def day_metric(self, model: Fitted, day: date) -> float | None:
        """The metric of the model on a day's rows, with every label that ever arrives.

        Computed once per model and day, for every policy that serves the model that day.
        """
        key = (model.key, day)
        if key not in self._day_metrics:
            rows = len(self.history.rows(day))
            self._day_metrics[key] = (
                self._metric_of(model, self.scores(model, day)) if rows else None
            )
        return self._day_metrics[key]

    def gain(self, new: Fitted, old: Fitted, after: date) -> float | None:
        """Mean metric gain of ``new`` over ``old`` on the next days' rows (hindsight)."""
        days = [after + timedelta(days=i) for i in range(1, WASTE_HORIZON_DAYS + 1)]
        parts = [self.history.rows(d)[:WASTE_ROWS_PER_DAY] for d in days]
        rows = np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
        if not len(rows):
            return None
        a = self._metric_of(new, self._score_rows(new, rows))
        b = self._metric_of(old, self._score_rows(old, rows))
        if a is None or b is None:
            return None
        from retrainer.metrics import get_metric

        sign = 1.0 if get_metric(self.metric).greater_is_better else -1.0
        return sign * (a - b)

    # -- checks ----------------------------------------------------------------------------
    def _window_days(self, day: date, length: int) -> list[date]:
        first = day - timedelta(days=length - 1)
        days = [first + timedelta(days=i) for i in range(length)]
        return [d for d in days if len(self.history.rows(d))]

    def drift(self, model: Fitted, day: date) -> Any:
        """The drift observation of the nightly check of ``day`` (None: nothing to check)."""
        key = (model.key, day)
        if key in self._drift:
            return self._drift[key]
        self.checks["drift"] += 1
        from retrainer import events
        from retrainer.drift.baseline import PREDICTED_LABEL, PREDICTION_SCORE, checked_columns
        from retrainer.drift.check import DriftCheck
        from retrainer.monitoring.predictions import PREDICTION_COLUMN, SCORE_COLUMN

        cfg = self.config
        days = self._window_days(day, cfg.drift.window_days)
        observation = None
        if days and model.detector is not None and cfg.drift.enabled:
            frames = []
            for d in days:
                scored = self.scores(model, d)
                frame = self._features(d).assign(
                    **{PREDICTION_SCORE: scored[SCORE_COLUMN].to_numpy()}
                )
                if cfg.model.task == "multiclass":
                    labels = scored[PREDICTION_COLUMN].astype(str).to_numpy()
                    frame = frame.assign(**{PREDICTED_LABEL: labels})
                frames.append((d, frame))
            # the window's verdict (check_window also scores each day alone, for the report)
            report = model.detector.compare_batches(frame for _, frame in frames)
            check = DriftCheck(
                model=cfg.model.name,
                model_version=model.label,
                window_start=days[0],
                window_end=day,
                baseline={"kind": "training"},
                report=report,
                daily=[],
                prediction_columns=checked_columns(model.detector.profile_)[1],
                notes=[],
            )
            event = events.DRIFT_DETECTED if check.drifted else events.DRIFT_CHECKED
            observation = drift_observation(
                {**check.to_dict(), "event_id": check.incident_id(event)}
            )
        self._drift[key] = observation
        return observation

    def _monitor(self, model: Fitted) -> Any:
        from retrainer.monitoring.performance import PerformanceMonitor

        if model.monitor is None:
            cfg = self.config
            cols = cfg.columns
            reference = None
            if len(model.holdout):
                reference = self._score_rows(model, model.holdout)
                reference[cols.target] = self._y(model.holdout)
            segments = cfg.monitoring.segments.columns or cols.segments
            model.monitor = PerformanceMonitor(
                self._monitoring, cfg.model.task, cols.target, cols.timestamp, segments
            ).fit(reference, model.recorded, "holdout")
        return model.monitor

    def performance(self, model: Fitted, day: date) -> Any:
        """The performance observation of the nightly monitoring of ``day``."""
        key = (model.key, day)
        if key in self._perf:
            return self._perf[key]
        self.checks["monitoring"] += 1
        from retrainer import events

        cfg = self.config
        # the model's own logged predictions (monitoring.model_versions: champion): the days
        # it scored — from the day after it was promoted; the first model scored the backlog
        window = self._window_days(day, cfg.monitoring.window_days)
        days = [d for d in window if model.logs_from is None or d >= model.logs_from]
        observation = None
        if days:
            frame = pd.concat([self.scores(model, d) for d in days])
            rows = frame.index.to_numpy()
            known = self.history.labelled_by(rows, day)
            target = pd.Series(np.nan, index=frame.index, dtype=object)
            values = self.history.frame[cfg.columns.target].to_numpy()
            target.loc[known] = values[known]
            frame = frame.assign(**{cfg.columns.target: target.to_numpy()}).reset_index(drop=True)
            if cfg.model.task != "multiclass":
                frame[cfg.columns.target] = pd.to_numeric(frame[cfg.columns.target])
            report = self._monitor(model).evaluate(
                frame,
                model_name=cfg.model.name,
                model_version=model.label,
                window_start=days[0],
                window_end=day,
                as_of=day,
                daily=False,
            )
            event = events.PERFORMANCE_DEGRADED if report.degraded else events.PERFORMANCE_CHECKED
            observation = performance_observation(
                {**report.to_dict(), "event_id": report.incident_id(event)}
            )
        self._perf[key] = observation
        return observation

    def labels(self, day: date, champion: Fitted | None) -> dict[str, Any]:
        """The label guard's counts at the end of ``day`` (as the CT flow counts them)."""
        since = champion.window_end if champion is not None else None
        key = (day, since)
        found = self._labels.get(key)
        if found is None:
            cfg = self.config
            days = label_window_days(self.window)
            first = day - timedelta(days=days - 1) if days else None
            rows = self.history.labelled_by(self.history.span(first, day), day)
            frame = pd.DataFrame(
                {cfg.columns.target: self._y(rows), cfg.columns.timestamp: self._stamps[rows]}
            )
            found = count_labels(
                frame, cfg.columns.target, cfg.columns.timestamp, cfg.model.task, since
            )
            self._labels[key] = found
        return found

    # -- the gate --------------------------------------------------------------------------
    def gate(self, challenger: Fitted, champion: Fitted | None) -> tuple[bool, str]:
        """The gate's verdict on the challenger against the serving model (cached)."""
        key = (challenger.key, champion.key if champion else "")
        if key in self._gates:
            return self._gates[key]
        self.checks["gate"] += 1
        from retrainer.gates import GateInputs, ModelEvidence, evaluate_gates
        from retrainer.training.pipeline import predict_scores

        cfg = self.config
        cols = cfg.columns
        frame = self.history.frame.iloc[challenger.holdout]
        if frame.empty:
            verdict = (False, "no holdout rows")
        else:
            inputs = GateInputs(
                y_true=self._y(challenger.holdout),
                segments=frame[list(cols.segments)].reset_index(drop=True)
                if cols.segments
                else None,
            )

            def evidence(model: Fitted) -> ModelEvidence:
                if model is challenger and model.holdout_scores is not None:
                    scores, labels = model.holdout_scores
                else:
                    scores, labels = predict_scores(
                        model.pipeline, frame[cols.features], cfg.model.task
                    )
                classes = list(getattr(model.pipeline, "classes_", [])) or None
                return ModelEvidence(
                    y_proba=scores, y_pred=labels, classes=classes, signature=self._signature
                )

            report = evaluate_gates(
                cfg.gates,
                cfg.model.task,
                inputs,
                evidence(challenger),
                evidence(champion) if champion else None,
                rng_seed=cfg.training.random_state,
                metric_tables=False,  # the replay reads the verdict only
            )
            verdict = (report.automatic_checks_passed, report.summary)
        self._gates[key] = verdict
        return verdict


@dataclass
class _Live:
    """A policy's moving parts during the replay."""

    spec: PolicySpec
    run: PolicyRun
    state: PolicyState
    champion: Fitted | None
    drift: bool
    performance: bool
    replaced: dict[str, Fitted] = field(default_factory=dict)


def oracle_days(history: History, config: RetrainerConfig, window: Any) -> dict[date, str]:
    """The days the oracle retrains, for each ground-truth change point.

    First when the change's labels are in and past the gate holdout (change + label delay +
    holdout days + ``backtest.oracle_step_days``), then every ``oracle_step_days`` until the
    training window holds only data from after the change.
    """
    truth = history.truth
    if truth is None:
        return {}
    step = config.backtest.oracle_step_days
    first = truth.label_delay + config.gates.holdout.days + step
    span = getattr(window, "days", None) or 60
    days: dict[date, str] = {}
    for change in truth.change_points:
        for offset in range(first, first + span + step, step):
            days.setdefault(
                change + timedelta(days=offset), f"oracle: the data changed on {change}"
            )
    return days


def _observe(bench: Workbench, live: _Live, day: date, oracle: dict[date, str]) -> Observations:
    champion = live.champion
    counts = bench.labels(day, champion)
    observed = Observations(
        now=end_of_day(day),
        has_champion=champion is not None,
        champion_trained_at=end_of_day(champion.as_of) if champion else None,
        labelled_rows=counts["rows"],
        labelled_per_class=counts["per_class"],
        new_labelled_rows=counts["new"],
        on_demand=oracle.get(day) if live.spec.oracle else None,
    )
    if champion is None:
        return observed
    return replace(
        observed,
        drift=bench.drift(champion, day) if live.drift else None,
        performance=bench.performance(champion, day) if live.performance else None,
    )


def _step(bench: Workbench, live: _Live, day: date, oracle: dict[date, str]) -> None:
    """One day of one policy: measure, observe, decide, retrain."""
    run = live.run
    if live.champion is not None and len(bench.history.rows(day)):
        run.days.append(day)
        run.metric.append(bench.day_metric(live.champion, day))
        run.serving.append(live.champion.label)
    decision = decide(live.spec.policy, live.state, _observe(bench, live, day, oracle))
    live.state = decision.next_state
    run.statuses[decision.status] += 1
    if decision.suppressed_by:
        run.held_by[decision.suppressed_by] += 1
    run.decisions.append({"day": day.isoformat(), **decision.to_dict()})
    if not decision.retrain:
        return
    model = bench.fit(day, live.champion)
    if model is None:
        run.retrains.append(Retrain(day, "", False, "failed: the data cannot train", 0.0, ""))
        return
    passed, summary = bench.gate(model, live.champion)
    gate = "passed" if passed else summary
    run.retrains.append(
        Retrain(
            day, model.label, passed, gate, model.training_seconds, decision.reason, key=model.key
        )
    )
    if passed:
        if live.champion is not None:
            live.replaced[model.key] = live.champion  # for the gain, measured at the end
        live.champion = model


def replay_group(
    config: RetrainerConfig,
    history: History,
    specs: list[PolicySpec],
    days: list[date],
    initial_day: date,
    progress: Any = None,
    ahead_workers: int = 0,
) -> GroupResult:
    """Replay policies that share a training window, in lockstep over ``days``.

    Args:
        config: The project config.
        history: The screened history.
        specs: Policies of one window.
        days: The replayed days, in order.
        initial_day: The day the shared first model is trained on (the day before ``days``).
        progress: Called with no argument after each day (a progress bar), or None.
        ahead_workers: Processes that fit the days a schedule falls due ahead of the replay
            (:mod:`retrainer.backtest.prefetch`); 0: every fit in this process.
    """
    from retrainer.metrics import get_metric

    metric = config.backtest.metric or config.monitoring.metrics_for(config.model.task)[0]
    get_metric(metric)
    needs = [_checks_needed(s) for s in specs]
    bench = Workbench(
        config,
        history,
        specs[0].window,
        drift=any(d for d, _ in needs),
        performance=any(p for _, p in needs),
        metric=metric,
        metrics=_monitored_metrics(config, specs),
    )
    first = bench.fit(initial_day, None)
    if first is not None:
        first = replace(first, logs_from=None)  # the first run scores every unscored day
    lives = []
    for spec, (drift, perf) in zip(specs, needs, strict=True):
        run = PolicyRun(
            spec.name,
            spec.kind,
            spec.description,
            spec.window_text(),
            policy_document(spec.policy),
        )
        state = PolicyState(started=end_of_day(initial_day))
        if first is not None:
            state = state.retrained(end_of_day(initial_day))
        lives.append(_Live(spec, run, state, first, drift, perf))
    oracle = oracle_days(history, config, specs[0].window)
    keep = max(config.drift.window_days, config.monitoring.window_days)
    planned = schedule_days(specs, days, initial_day) if ahead_workers else []
    if planned and bench.window.kind not in CHAMPION_WINDOWS:
        bench.prefetch = Prefetcher(bench, planned, ahead_workers)
    try:
        for day in days:
            if bench.prefetch is not None:
                bench.prefetch.advance(day)
            for live in lives:
                _step(bench, live, day, oracle)
            bench.forget_before(day - timedelta(days=keep))
            if progress is not None:
                progress()
    finally:
        if bench.prefetch is not None:
            bench.prefetch.close()
    for live in lives:
        for retrain in live.run.retrains:
            old, new = live.replaced.get(retrain.key), bench.fitted(retrain.key)
            if retrain.promoted and old is not None and new is not None:
                retrain.gain = bench.gain(new, old, retrain.day)
    return GroupResult(
        runs=[live.run for live in lives],
        fits_requested=bench.fits_requested,
        fits_run=bench.fits_run,
        fit_seconds=bench.fit_seconds,
        checks=dict(bench.checks),
        fits_ahead=bench.prefetch.used if bench.prefetch is not None else 0,
        fits_ahead_unused=bench.prefetch.unused if bench.prefetch is not None else 0,
    )
