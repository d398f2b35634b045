"""Run a suite on one batch with an ephemeral Great Expectations context.

This is the only place (with :mod:`retrainer.validation.gx_ext`) that imports GX; it takes a
few seconds, so callers import this module lazily, when a batch is validated.

GX costs that do not help validation are avoided (measured in
``benchmarks/validation_large_batch.py``):

* GX fingerprints every in-memory batch by hashing all of its rows
  (``pandas.util.hash_pandas_object``: ~4 s for 1,000,000 rows × 25 columns), once per batch
  load. The fingerprint is only a batch marker (Retrainer's lineage hashes the Parquet files
  instead); the PandasExecutionEngine skips it above ``HASH_THRESHOLD`` bytes, which is set to
  0 here.
* ``Batch.validate`` is used rather than ``ValidationDefinition.run``: the latter also
  serialises the result into the context's store and checks the suite's "freshness" (~25% of
  the CPU time of a 50-expectation run on a small batch), which an ephemeral context throws
  away anyway.

What remains is GX's per-expectation overhead (~15 ms each, whatever the rows) and the metric
computations, which GX shares between expectations of one column.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from retrainer.events import json_safe
from retrainer.validation.suite import SuiteError, ValidationSuite

RESULT_FORMAT: dict[str, Any] = {"result_format": "BASIC", "partial_unexpected_count": 20}
"""Observed values for aggregate expectations; unexpected counts/percentages and up to 20
example values for row-wise ones (no index lists: those copy the unexpected rows)."""


@dataclass
class SuiteRun:
    """The outcome of running a suite on a batch.

    Attributes:
        result: The GX ``ExpectationSuiteValidationResult`` as JSON (NaN as null).
        skipped: Expectations not evaluated for this batch, each with ``type``, ``kwargs``,
            ``meta`` and ``reason`` (a suite parameter this batch has no value for).
        seconds: Wall time of the GX run.
    """

    result: dict[str, Any]
    skipped: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def statistics(self) -> dict[str, Any]:
        """GX's counts: evaluated, successful and unsuccessful expectations, success percent."""
        return dict(self.result.get("statistics", {}))


_SKIP_REASONS = {
    "earliest_event_time": "the batch has no partition date",
    "latest_event_time": "the batch has no partition date",
    "not_before": "no earlier partition has been accepted",
    "min_rows": "no row-count bounds",
    "max_rows": "no row-count bounds",
}


def _parameter_names(value: Any) -> list[str]:
    if isinstance(value, dict):
        if "$PARAMETER" in value:
            return [str(value["$PARAMETER"])]
        return [n for v in value.values() for n in _parameter_names(v)]
    if isinstance(value, list):
        return [n for v in value for n in _parameter_names(v)]
    return []


def _import_gx() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    import great_expectations.execution_engine.pandas_execution_engine as pandas_engine

    import retrainer.validation.gx_ext  # noqa: F401  (registers the dtype expectation)

    pandas_engine.HASH_THRESHOLD = 0  # see the module docstring
    return gx


def _gx_suite(gx: Any, suite: ValidationSuite, expectations: list[dict[str, Any]]) -> Any:
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    objects = []
    for config in expectations:
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
    meta = {
        "retrainer": {
            "suite_hash": suite.hash,
            "source": suite.source,
        }
    }
    return gx.ExpectationSuite(name=suite.name, expectations=objects, meta=meta)


def run_suite(
    frame: pd.DataFrame,
    suite: ValidationSuite,
    parameters: dict[str, Any],
    result_format: dict[str, Any] | None = None,
) -> SuiteRun:
    """Validate ``frame`` against ``suite`` in an ephemeral GX context.

    Expectations whose suite parameters all have no value for this batch (e.g. the time
    window of a file without a partition date) are not evaluated and listed in
    :attr:`SuiteRun.skipped`.

    Args:
        frame: The batch.
        suite: The suite.
        parameters: Suite parameter values (see :meth:`ValidationSuite.parameters_for`).
        result_format: GX result format; default :data:`RESULT_FORMAT`.

    Returns:
        The GX result as JSON and what was skipped.

    Raises:
        SuiteError: When an expectation of the suite is not valid for GX.
    """
    gx = _import_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    evaluated: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for config in suite.expectations:
        names = _parameter_names(config.get("kwargs", {}))
        if names and all(parameters.get(n) is None for n in names):
            skipped.append({**config, "reason": _SKIP_REASONS.get(names[0], f"no {names[0]}")})
        else:
            evaluated.append(config)

    started = time.perf_counter()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("retrainer")
    asset = source.add_dataframe_asset("batch")
    definition = asset.add_batch_definition_whole_dataframe("whole-batch")
    batch = definition.get_batch(batch_parameters={"dataframe": frame})
    outcome = batch.validate(
        _gx_suite(gx, suite, evaluated),
        result_format=result_format or RESULT_FORMAT,
        # every parameter, None included: GX fails the whole run on a missing one, while a
        # None bound is open (both bounds None was filtered out above)
        expectation_parameters=dict(parameters),
    )
    seconds = time.perf_counter() - started
    return SuiteRun(result=json_safe(outcome.to_json_dict()), skipped=skipped, seconds=seconds)
