"""The ``warm_start`` window: continue the champion on the most recent days.

The champion pipeline is copied and its FITTED preprocessor kept as it is: refitting an
encoder or scaler would change the feature space under the existing trees or coefficients.
The recent rows are transformed by that frozen preprocessor and the estimator continues:

* ``warm_start``: tree ensembles grow — ``max_iter`` (HistGradientBoosting*) or
  ``n_estimators`` (RandomForest*, GradientBoosting*, ExtraTrees* ...) is raised by
  ``extra_iterations`` over what the champion fitted, and ``fit`` with ``warm_start=True`` adds
  only the new iterations/trees, trained on the recent rows. For other estimators with a
  ``warm_start`` parameter (LogisticRegression ...) it only starts the solver from the
  champion's coefficients; a convex model then ends close to a refit on the recent rows.
* ``partial_fit``: one call per epoch over the recent rows (SGD*, MultinomialNB, MLP* ...).

``method: auto`` uses ``warm_start`` for tree ensembles, else ``partial_fit`` when the
estimator has it, else ``warm_start``. The strategy falls back to a cold start on the last
``fallback_days`` days, and records why, when there is no champion, the champion is not a
``preprocess`` + ``model`` pipeline, its estimator class or feature columns differ from the
config, the recent rows hold a single class or one it does not know, or it supports neither
method.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from sklearn.base import is_classifier
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from retrainer.config import RetrainerConfig
from retrainer.config.core import load_estimator_class
from retrainer.config.training import WarmStartWindow
from retrainer.training.context import WindowContext, date_span, last_days, require_trainable
from retrainer.training.trainer import TrainingDataError, TrainingSet

HIST_GRADIENT_BOOSTING = (HistGradientBoostingClassifier, HistGradientBoostingRegressor)


def growth_parameter(estimator: Any) -> str | None:
    """The parameter that counts an ensemble's iterations/trees (None for other estimators)."""
    if isinstance(estimator, HIST_GRADIENT_BOOSTING):
        return "max_iter"
    if "n_estimators" in estimator.get_params(deep=False):
        return "n_estimators"
    return None


def fitted_iterations(estimator: Any) -> int | None:
    """Iterations/trees a fitted ensemble holds (None for other estimators)."""
    if isinstance(estimator, HIST_GRADIENT_BOOSTING):
        return int(estimator.n_iter_)
    if hasattr(estimator, "estimators_"):
        return len(estimator.estimators_)
    return None


def warm_start_window(strategy: WarmStartWindow, ctx: WindowContext) -> TrainingSet:
    """Continue the champion on the last ``days`` days, or cold start when it cannot be.

    Args:
        strategy: Recent days, growth, method and the cold-start fallback.
        ctx: Config, labelled history and the champion pipeline.

    Returns:
        Warm: the recent rows with ``init_model`` (a copy of the champion, ready to continue)
        and ``init_method``; ``details`` holds ``method`` and, for ensembles,
        ``iterations_before``/``iterations_limit`` (early stopping may stop short of it).
        Cold: the fallback window with ``details["method"] == "cold_start"`` and
        ``fallback_reason``.

    Raises:
        TrainingDataError: When the chosen window cannot train a model.
    """
    cfg = ctx.config
    ts = cfg.columns.timestamp
    if ctx.history.empty:
        raise TrainingDataError("warm_start window: the history holds no labelled rows")
    recent = last_days(ctx.history, ts, strategy.days)
    reason = _cannot_continue(strategy, ctx, recent)
    if reason is not None:
        frame = last_days(ctx.history, ts, strategy.fallback_days)
        require_trainable(frame, cfg, "warm_start (cold start fallback)")
        start, end = date_span(frame, ts)
        return TrainingSet(
            frame=frame,
            strategy="warm_start",
            details={
                "start": start,
                "end": end,
                "days": strategy.fallback_days,
                "method": "cold_start",
                "fallback_reason": reason,
            },
        )

    require_trainable(recent, cfg, "warm_start")
    pipeline = copy.deepcopy(ctx.champion)  # never modify the serving champion
    model = pipeline.named_steps["model"]
    method = _method(strategy, model)
    start, end = date_span(recent, ts)
    details: dict[str, Any] = {"start": start, "end": end, "days": strategy.days, "method": method}
    if method == "warm_start":
        model.set_params(warm_start=True)
        growth = growth_parameter(model)
        if growth is not None:
            before = fitted_iterations(model) or model.get_params()[growth]
            model.set_params(**{growth: before + strategy.extra_iterations})
            details.update(
                iterations_before=before, iterations_limit=before + strategy.extra_iterations
            )
    else:
        details["epochs"] = strategy.partial_fit_epochs
    return TrainingSet(
        frame=recent,
        strategy="warm_start",
        details=details,
        init_model=pipeline,
        init_method=method,
        init_epochs=strategy.partial_fit_epochs,
    )


def _method(strategy: WarmStartWindow, model: Any) -> str:
    if strategy.method != "auto":
        return strategy.method
    if growth_parameter(model) is not None and "warm_start" in model.get_params(deep=False):
        return "warm_start"
    if hasattr(model, "partial_fit"):
        return "partial_fit"
    return "warm_start"


def _cannot_continue(strategy: WarmStartWindow, ctx: WindowContext, recent: Any) -> str | None:
    """Why the champion cannot be continued on ``recent`` (None when it can)."""
    champion = ctx.champion
    if champion is None:
        return "no champion"
    steps = getattr(champion, "named_steps", None)
    if steps is None or "preprocess" not in steps or "model" not in steps:
        return "the champion is not a preprocess + model pipeline"
    model = steps["model"]
    configured = load_estimator_class(ctx.config.estimator.class_path)
    if type(model) is not configured:
        return (
            f"the champion is a {type(model).__name__}, the config asks for {configured.__name__}"
        )
    changed = _changed_columns(steps["preprocess"], ctx.config)
    if changed:
        return changed
    params = model.get_params(deep=False)
    method = _method(strategy, model)
    if method == "warm_start" and "warm_start" not in params:
        return f"{type(model).__name__} has no warm_start parameter"
    if method == "partial_fit" and not hasattr(model, "partial_fit"):
        return f"{type(model).__name__} has no partial_fit method"
    if is_classifier(model) and not recent.empty:
        known = set(np.asarray(model.classes_).tolist())
        seen = set(recent[ctx.config.columns.target].dropna().tolist())
        if len(seen) < 2:
            return f"the last {strategy.days} day(s) hold a single class"
        if not seen <= known:
            return f"the recent rows hold class(es) {sorted(seen - known)} the champion never saw"
        if method == "warm_start" and growth_parameter(model) is not None and seen != known:
            return (
                f"the recent rows lack class(es) {sorted(known - seen)}; new trees need every "
                "class the champion knows"
            )
    return None


def _changed_columns(preprocessor: Any, config: RetrainerConfig) -> str | None:
    """Why the champion's preprocessor does not fit the configured columns (None if it does)."""
    fitted = [str(c) for c in getattr(preprocessor, "feature_names_in_", [])]
    if fitted != config.columns.features:
        added = sorted(set(config.columns.features) - set(fitted))
        dropped = sorted(set(fitted) - set(config.columns.features))
        if added or dropped:
            return f"feature columns changed (added {added}, dropped {dropped})"
        return "feature column order changed"
    roles = {name: list(columns) for name, _, columns in getattr(preprocessor, "transformers_", [])}
    for role in ("numeric", "categorical"):
        expected = list(getattr(config.columns, role))
        if roles.get(role, []) != expected:
            return f"{role} columns changed from {roles.get(role, [])} to {expected}"
    return None
