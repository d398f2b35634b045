"""Run a suite on batches with Great Expectations: one batch alone, or many stacked in one run.

This is the only place (with :mod:`retrainer.validation.gx_ext`) that imports GX; it takes a
few seconds, so callers import this module lazily, when a batch is validated. One ephemeral GX
context serves every run of the process (:func:`gx_session`).

GX costs that do not help validation are avoided (measured in ``benchmarks/``):

* GX fingerprints every in-memory batch by hashing all of its rows (~4 s for 1,000,000 rows ×
  25 columns); the fingerprint is only a batch marker, so ``HASH_THRESHOLD`` is set to 0.
* ``Batch.validate`` is used rather than ``ValidationDefinition.run`` (which also serialises
  the result into a store the ephemeral context throws away).
* GX's own bookkeeping costs ~6 ms per expectation and run, whatever the rows: a 55-expectation
  suite costs ~0.35 s per batch before any data is looked at. Small partitions are therefore
  validated **stacked** (:func:`run_stacked`): the partitions of one schema are concatenated
  with a partition number and a row number, GX evaluates every row-wise expectation once over
  the stack in COMPLETE result format, and the unexpected rows it lists are attributed back to
  their partition. Table-level expectations (required columns, the column set) run once per
  schema on an empty frame of that schema; the row count is counted per partition; the
  event-time windows, which differ per partition, are checked by GX on derived columns (the
  position of each event in its partition's window). Each partition then gets a result in the
  shape GX gives a batch validated alone (:func:`run_suite`), which a test compares.

Afterwards every result goes through the same two steps: :func:`~retrainer.validation.
tolerance.apply_judgements` (batch-size-aware tolerances) and the scale checks
(:mod:`retrainer.validation.scale`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from retrainer.events import json_safe
from retrainer.validation.scale import run_scale_checks
from retrainer.validation.suite import (
    PARAM_EARLIEST,
    PARAM_LATEST,
    PARAM_NOT_BEFORE,
    UNIQUE,
    SuiteError,
    ValidationSuite,
)
from retrainer.validation.tolerance import apply_judgements, recount

RESULT_FORMAT: dict[str, Any] = {"result_format": "BASIC", "partial_unexpected_count": 20}
"""Observed values for aggregate expectations; unexpected counts/percentages and up to 20
example values for row-wise ones (no index lists: those copy the unexpected rows)."""

PARTITION = "__partition"
ROW = "__row"
FRESH = "__window_position"
LATE = "__seconds_after_not_before"
STACK_FORMAT: dict[str, Any] = {
    "result_format": "COMPLETE",
    "partial_unexpected_count": 20,
    "unexpected_index_column_names": [PARTITION, ROW],
    "return_unexpected_index_query": False,
}
TABLE_KINDS = ("columns", "column_set")
PARAMS_OF_TIME = (PARAM_EARLIEST, PARAM_LATEST, PARAM_NOT_BEFORE)


@dataclass
class SuiteRun:
    """The outcome of running a suite on a batch.

    Attributes:
        result: The GX ``ExpectationSuiteValidationResult`` as JSON (NaN as null), judged.
        skipped: Expectations not evaluated for this batch, each with ``type``, ``kwargs``,
            ``meta`` and ``reason`` (a suite parameter this batch has no value for).
        seconds: Wall time of the run (a stacked run's time shared among its batches).
        gx_seconds: The part of it spent inside GX.
    """

    result: dict[str, Any]
    skipped: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    gx_seconds: float = 0.0

    @property
    def statistics(self) -> dict[str, Any]:
        """GX's counts: evaluated, successful and unsuccessful expectations, success percent."""
        return dict(self.result.get("statistics", {}))


@dataclass
class StackItem:
    """One batch of a stacked run: its rows and its suite parameter values."""

    frame: pd.DataFrame
    parameters: dict[str, Any]


_SKIP_REASONS = {
    "earliest_event_time": "the batch has no partition date",
    "latest_event_time": "the batch has no partition date",
    "not_before": "no earlier partition has been accepted",
    "min_rows": "no row-count bounds",
    "max_rows": "no row-count bounds",
}


# -- GX session ------------------------------------------------------------------------------
@dataclass
class GxSession:
    """One ephemeral GX context with a pandas dataframe asset, reused for every run."""

    gx: Any
    definition: Any

    def validate(self, frame: pd.DataFrame, suite: Any, result_format: dict[str, Any], **kw: Any):
        """Validate ``frame`` against a GX suite object."""
        batch = self.definition.get_batch(batch_parameters={"dataframe": frame})
        return batch.validate(suite, result_format=result_format, **kw)


_SESSION: GxSession | None = None


def gx_session() -> GxSession:
    """The process's GX session (created on first use: imports GX)."""
    global _SESSION
    if _SESSION is None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx
        import great_expectations.execution_engine.pandas_execution_engine as pandas_engine
        from great_expectations.data_context.types.base import ProgressBarsConfig

        import retrainer.validation.gx_ext  # noqa: F401  (registers the dtype expectation)

        pandas_engine.HASH_THRESHOLD = 0  # see the module docstring
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        asset = context.data_sources.add_pandas("retrainer").add_dataframe_asset("batch")
        _SESSION = GxSession(gx, asset.add_batch_definition_whole_dataframe("whole-batch"))
    return _SESSION


def _gx_suite(session: GxSession, suite: ValidationSuite, configs: list[dict[str, Any]]) -> Any:
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    objects = []
    for config in configs:
        try:
            objects.append(ExpectationConfiguration(**config).to_domain_obj())
        except Exception as exc:  # GX raises several unrelated types for a bad config
            column = config.get("kwargs", {}).get("column")
            where = f" on {column!r}" if column else ""
            raise SuiteError(
                f"suite {suite.name!r}: expectation {config.get('type')}{where} is not valid "
                f"for Great Expectations: {exc}"
            ) from exc
    # the profile stays out of GX (it would be copied into every result)
    meta = {"retrainer": {"suite_hash": suite.hash, "source": suite.source}}
    return session.gx.ExpectationSuite(name=suite.name, expectations=objects, meta=meta)


# -- parameters --------------------------------------------------------------------------------
def _parameter_names(kwargs: dict[str, Any]) -> list[str]:
    """Suite parameters an expectation's kwargs refer to (``{"$PARAMETER": name}`` values)."""
    return [
        str(value["$PARAMETER"])
        for value in kwargs.values()
        if isinstance(value, dict) and "$PARAMETER" in value
    ]


def _split_skipped(
    expectations: list[dict[str, Any]], parameters: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Expectations to evaluate, and those whose parameters all have no value (skipped)."""
    evaluated, skipped = [], []
    for config in expectations:
        names = _parameter_names(config.get("kwargs", {}))
        if names and all(parameters.get(n) is None for n in names):
            skipped.append({**config, "reason": _SKIP_REASONS.get(names[0], f"no {names[0]}")})
        else:
            evaluated.append(config)
    return evaluated, skipped


def _resolved(kwargs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """The kwargs with their suite parameters filled in (as GX shows them in a result)."""
    if not _parameter_names(kwargs):
        return kwargs
    return {
        key: json_safe(parameters.get(str(value["$PARAMETER"])))
        if isinstance(value, dict) and "$PARAMETER" in value
        else value
        for key, value in kwargs.items()
    }


def _finish(result: dict[str, Any], suite: ValidationSuite, frame: pd.DataFrame) -> dict:
    """Judge the tolerances, add the scale checks, recount (the common last steps)."""
    apply_judgements(result, suite.alpha)
    result.setdefault("results", []).extend(run_scale_checks(suite.checks, frame))
    recount(result)
    return result


# -- one batch alone ---------------------------------------------------------------------------
def run_suite(
    frame: pd.DataFrame,
    suite: ValidationSuite,
    parameters: dict[str, Any],
    result_format: dict[str, Any] | None = None,
) -> SuiteRun:
    """Validate one batch against ``suite`` (large batches, odd schemas, empty batches).

    Expectations whose suite parameters all have no value for this batch (e.g. the time
    window of a file without a partition date) are not evaluated and listed in
    :attr:`SuiteRun.skipped`.

    Args:
        frame: The batch.
        suite: The suite.
        parameters: Suite parameter values (see :meth:`ValidationSuite.parameters_for`).
        result_format: GX result format; default :data:`RESULT_FORMAT`.

    Returns:
        The judged result and what was skipped.

    Raises:
        SuiteError: When an expectation of the suite is not valid for GX.
    """
    session = gx_session()
    evaluated, skipped = _split_skipped(suite.expectations, parameters)
    started = time.perf_counter()
    outcome = session.validate(
        frame,
        _gx_suite(session, suite, evaluated),
        result_format or RESULT_FORMAT,
        # every parameter, None included: GX fails the whole run on a missing one, while a
        # None bound is open (both bounds None was filtered out above)
        expectation_parameters=dict(parameters),
    )
    gx_seconds = time.perf_counter() - started
    result = _finish(json_safe(outcome.to_json_dict()), suite, frame)
    seconds = time.perf_counter() - started
    return SuiteRun(result=result, skipped=skipped, seconds=seconds, gx_seconds=gx_seconds)


# -- many batches stacked ----------------------------------------------------------------------
def _kind(config: dict[str, Any]) -> str:
    return str(((config.get("meta") or {}).get("retrainer") or {}).get("kind", "other"))


def _is_column_map(gx_type: str) -> bool:
    from great_expectations.expectations.expectation import ColumnMapExpectation
    from great_expectations.expectations.registry import get_expectation_impl

    return issubclass(get_expectation_impl(gx_type), ColumnMapExpectation)


def stackable(suite: ValidationSuite, schema: tuple[tuple[str, Any], ...]) -> bool:
    """Whether batches of a schema (``(column, dtype)`` pairs) fit a stacked run.

    They must hold every checked column with a dtype of the reference's family and have a
    datetime event-time column: a batch with a broken schema is validated alone, as GX reports
    it best (an empty batch too).
    """
    from retrainer.validation.profile import dtype_family

    dtypes = {str(c): t for c, t in schema}
    for config in suite.expectations:
        column = config.get("kwargs", {}).get("column")
        if column is not None and column not in dtypes:
            return False
        family = ((config.get("meta") or {}).get("retrainer") or {}).get("family")
        if _kind(config) == "dtype" and dtype_family(dtypes[column]) != family:
            return False
    stamp = suite.retrainer.get("timestamp_column")
    return not (stamp in dtypes and not pd.api.types.is_datetime64_any_dtype(dtypes[stamp]))


def _nanoseconds(moment: Any) -> float:
    return np.nan if moment is None else float(pd.Timestamp(moment).value)


def _stack(items: Sequence[StackItem], timestamp: str | None) -> pd.DataFrame:
    """The batches concatenated, with partition and row numbers and the event-time positions.

    ``__window_position`` is each event's position in its partition's window (0..1 inside),
    ``__seconds_after_not_before`` its distance from the monotonic bound (>= 0 passes); NaN
    where the batch has no such bound.
    """
    sizes = np.array([len(item.frame) for item in items])
    stack = pd.concat([item.frame for item in items], ignore_index=True)
    stack[PARTITION] = np.repeat(np.arange(len(items)), sizes)
    stack[ROW] = np.concatenate([np.arange(n) for n in sizes])
    if timestamp and timestamp in stack.columns:
        bounds = np.array(
            [[_nanoseconds(item.parameters.get(name)) for name in PARAMS_OF_TIME] for item in items]
        ).repeat(sizes, axis=0)
        stamps = stack[timestamp]
        if getattr(stamps.dtype, "tz", None) is not None:
            stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
        events = stamps.to_numpy("datetime64[ns]").astype("int64").astype(float)
        events[stamps.isna().to_numpy()] = np.nan
        earliest, latest, not_before = bounds[:, 0], bounds[:, 1], bounds[:, 2]
        stack[FRESH] = (events - earliest) / (latest - earliest)
        stack[LATE] = (events - not_before) / 1e9
    return stack


def _stacked_config(config: dict[str, Any]) -> dict[str, Any] | None:
    """The expectation GX runs over the stack for a suite expectation (None: not on it)."""
    kind, kwargs = _kind(config), dict(config.get("kwargs", {}))
    if kind == "freshness":
        return {**config, "kwargs": {"column": FRESH, "min_value": 0.0, "max_value": 1.0}}
    if kind == "monotonic_dates":
        return {**config, "kwargs": {"column": LATE, "min_value": 0.0}}
    if config["type"] == UNIQUE:
        column_list = [PARTITION, kwargs["column"]]
        return {
            **config,
            "type": "expect_compound_columns_to_be_unique",
            "kwargs": {"column_list": column_list, "ignore_row_if": "any_value_is_missing"},
        }
    if kind in TABLE_KINDS or kind == "row_count":
        return None
    if kind in ("dtype", "not_null", "range", "categories") or _is_column_map(config["type"]):
        return config
    return None


def _map_result(
    elements: int, nonnull: int | None, unexpected: int, values: list[Any]
) -> dict[str, Any]:
    """A map expectation's BASIC result, as GX writes it for a batch alone."""
    result: dict[str, Any] = {
        "element_count": elements,
        "unexpected_count": unexpected,
        "unexpected_percent": None,
        "partial_unexpected_list": values[: STACK_FORMAT["partial_unexpected_count"]],
    }
    if nonnull is None:  # expect_column_values_to_not_be_null counts over all rows
        result["unexpected_percent"] = 100.0 * unexpected / elements if elements else None
        return result
    missing = elements - nonnull
    total_pct = 100.0 * unexpected / elements if elements else None
    nonmissing_pct = 100.0 * unexpected / nonnull if nonnull else None
    result |= {
        "unexpected_percent": nonmissing_pct if elements else None,
        "missing_count": missing,
        "missing_percent": 100.0 * missing / elements if elements else None,
        "unexpected_percent_total": total_pct,
        "unexpected_percent_nonmissing": nonmissing_pct if elements else None,
    }
    return result


def _map_success(config: dict[str, Any], result: dict[str, Any]) -> bool:
    mostly = float(config.get("kwargs", {}).get("mostly", 1.0))
    elements, unexpected = result["element_count"], result["unexpected_count"]
    base = elements - int(result.get("missing_count") or 0)
    if base <= 0:
        return True
    return (base - unexpected) / base >= mostly


def _attribution(item: dict[str, Any] | None) -> dict[int, list[int]]:
    """Batch number → row numbers of the unexpected rows GX listed for a stacked expectation."""
    rows: dict[int, list[int]] = {}
    for entry in ((item or {}).get("result") or {}).get("unexpected_index_list") or []:
        rows.setdefault(int(entry[PARTITION]), []).append(int(entry[ROW]))
    return {number: sorted(found) for number, found in rows.items()}


class _StackedRun:
    """Attributes one stacked GX run back to its batches."""

    def __init__(self, items: Sequence[StackItem], stack: pd.DataFrame):
        self.items = items
        self.sizes = [len(item.frame) for item in items]
        columns = [c for c in items[0].frame.columns]
        counted = stack[columns].notna().groupby(stack[PARTITION].to_numpy()).sum()
        self.nonnull = {c: counted[c].to_numpy() for c in columns}
        self.unexpected: dict[int, dict[int, list[int]]] = {}

    def batch_item(
        self, config: dict[str, Any], stacked: dict[str, Any] | None, number: int
    ) -> dict[str, Any]:
        """The result item of suite expectation ``config`` for batch ``number``."""
        item = self.items[number]
        resolved = {**config, "kwargs": _resolved(config.get("kwargs", {}), item.parameters)}
        kind = _kind(config)
        if kind == "row_count":
            return _row_count_item(resolved, self.sizes[number])
        assert stacked is not None
        result = stacked.get("result") or {}
        raised = stacked.get("exception_info", {}).get("raised_exception")
        if raised or "unexpected_index_list" not in result:  # aggregate: same for each batch
            return {"expectation_config": resolved, **_copy_outcome(stacked)}
        if id(stacked) not in self.unexpected:
            self.unexpected[id(stacked)] = _attribution(stacked)
        rows = self.unexpected[id(stacked)].get(number, [])
        column = resolved["kwargs"].get("column")
        values = json_safe(item.frame[column].iloc[rows].tolist()) if rows else []
        nonnull = None if kind == "not_null" else int(self.nonnull[column][number])
        mapped = _map_result(self.sizes[number], nonnull, len(rows), values)
        return {
            "expectation_config": resolved,
            "success": _map_success(resolved, mapped),
            "result": mapped,
            "exception_info": {"raised_exception": False},
        }


def _copy_outcome(stacked: dict[str, Any]) -> dict[str, Any]:
    return {
        "success": stacked.get("success"),
        "result": {
            k: v
            for k, v in (stacked.get("result") or {}).items()
            if k not in ("unexpected_index_list", "unexpected_list", "unexpected_index_query")
        },
        "exception_info": stacked.get("exception_info", {"raised_exception": False}),
    }


def _row_count_item(config: dict[str, Any], rows: int) -> dict[str, Any]:
    low, high = config["kwargs"].get("min_value"), config["kwargs"].get("max_value")
    success = (low is None or rows >= low) and (high is None or rows <= high)
    return {
        "expectation_config": config,
        "success": bool(success),
        "result": {"observed_value": rows},
        "exception_info": {"raised_exception": False},
    }


def _run_slots(
    session: GxSession,
    suite: ValidationSuite,
    frame: pd.DataFrame,
    configs: dict[int, dict[str, Any]],
    result_format: dict[str, Any],
    parameters: dict[str, Any] | None = None,
) -> dict[int, dict[str, Any]]:
    """Run ``configs`` (slot → expectation) on ``frame``; GX's result items by slot.

    GX does not return results in the order the expectations were given, so each carries
    its slot in ``meta``.
    """
    if not configs:
        return {}
    slotted = [
        {**config, "meta": {**(config.get("meta") or {}), "slot": slot}}
        for slot, config in configs.items()
    ]
    extra = {"expectation_parameters": dict(parameters)} if parameters is not None else {}
    outcome = session.validate(frame, _gx_suite(session, suite, slotted), result_format, **extra)
    found = {}
    for item in json_safe(outcome.to_json_dict()).get("results", []):
        found[int(item["expectation_config"]["meta"].pop("slot"))] = item
    return found


def run_stacked(items: Sequence[StackItem], suite: ValidationSuite) -> list[SuiteRun]:
    """Validate several batches of one schema in one GX run (see the module docstring).

    Args:
        items: The batches (each non-empty, :func:`stackable`, all with the same columns and
            dtypes) and their suite parameters.
        suite: The suite.

    Returns:
        One judged :class:`SuiteRun` per batch, in order, each as if validated alone.
    """
    if not items:
        return []
    session = gx_session()
    started = time.perf_counter()
    plan = [(config, _stacked_config(config)) for config in suite.expectations]
    timestamp = suite.retrainer.get("timestamp_column")
    stack = _stack(items, timestamp)
    on_stack = {i: s for i, (_, s) in enumerate(plan) if s is not None}
    table = {i: c for i, (c, _) in enumerate(plan) if _kind(c) in TABLE_KINDS}
    aside = {
        i: c
        for i, (c, s) in enumerate(plan)
        if s is None and _kind(c) not in (*TABLE_KINDS, "row_count")
    }
    gx_started = time.perf_counter()
    per_config = _run_slots(session, suite, stack, on_stack, STACK_FORMAT)
    prototype = items[0].frame.iloc[0:0]
    per_config |= _run_slots(session, suite, prototype, table, RESULT_FORMAT)
    alone = [
        _run_slots(session, suite, item.frame, aside, RESULT_FORMAT, item.parameters)
        if aside
        else {}
        for item in items
    ]
    gx_seconds = time.perf_counter() - gx_started
    run = _StackedRun(items, stack)
    results = []
    for number, item in enumerate(items):
        evaluated, skipped = _split_skipped(suite.expectations, item.parameters)
        keep = {id(c) for c in evaluated}
        entries = [
            alone[number][slot]
            if slot in alone[number]
            else run.batch_item(config, per_config.get(slot), number)
            for slot, (config, _) in enumerate(plan)
            if id(config) in keep
        ]
        body = {"results": entries, "meta": {"stacked_batches": len(items)}}
        results.append((_finish(body, suite, item.frame), skipped))
    seconds = time.perf_counter() - started
    share = seconds / len(items)
    return [
        SuiteRun(result=result, skipped=skipped, seconds=share, gx_seconds=gx_seconds / len(items))
        for result, skipped in results
    ]
