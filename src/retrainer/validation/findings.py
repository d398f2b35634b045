"""Readable findings from a GX validation result: column, expectation, observed vs expected.

Works on the result's JSON form (no GX import). Follow-on failures are folded into notes: when a
column is missing or has the wrong dtype, the other expectations on it cannot be evaluated and
are not reported again; on an empty batch only the row count is reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import pandas as pd

from retrainer.validation.tolerance import GX_TO_SEVERITY

Verdict = Literal["valid", "warning", "invalid"]
TABLE = "(table)"


@dataclass(frozen=True)
class Finding:
    """One failed expectation, in words.

    Attributes:
        column: The column (None for table-level expectations such as the row count).
        expectation: The GX expectation type, e.g. ``expect_column_values_to_be_between``.
        kind: The Retrainer expectation kind (range, not_null, ...).
        severity: ``error`` (blocks the batch) or ``warning`` (reported only).
        observed: What the batch shows, short.
        expected: What the suite expects, short.
        message: One sentence naming the column and the expectation.
        unexpected_share: Share of the (non-null) values that failed, when row-wise.
        tier: For a tolerance judged with the batch size: ``exceeds`` or ``flood``.
    """

    column: str | None
    expectation: str
    kind: str
    severity: str
    observed: str
    expected: str
    message: str
    unexpected_share: float | None = None
    tier: str | None = None

    @property
    def target(self) -> str:
        """The column, or ``(table)`` for table-level expectations."""
        return self.column or TABLE

    def to_dict(self) -> dict[str, Any]:
        """As a JSON-able dict."""
        return asdict(self)


def verdict_of(findings: list[Finding]) -> Verdict:
    """``invalid`` with any error, ``warning`` with warnings only, else ``valid``."""
    if any(f.severity == "error" for f in findings):
        return "invalid"
    if findings:
        return "warning"
    return "valid"


# -- formatting ----------------------------------------------------------------------------
def fmt_number(value: Any) -> str:
    """A compact number: ``12000`` → ``1.2e4``, ``0.25`` → ``0.25``, ``2000`` → ``2000``."""
    if value is None:
        return "none"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if number != number:  # NaN
        return "NaN"
    if number.is_integer() and abs(number) < 10_000:
        return str(int(number))
    text = f"{number:.3g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text


def fmt_count(value: Any) -> str:
    """A count with thousands separators (``none`` for a missing bound)."""
    if value is None:
        return "none"
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


def fmt_share(value: float | None) -> str:
    """A share as a percentage: ``0.312`` → ``31.2%``."""
    if value is None:
        return "?"
    percent = 100.0 * value
    if percent and abs(percent) < 0.1:
        return f"{percent:.2g}%"
    return f"{percent:.1f}%".replace(".0%", "%")


def fmt_time(value: Any) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM`` (plus the zone when it has one)."""
    if value is None:
        return "none"
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        return str(value)
    if pd.isna(stamp):
        return "none"
    text = stamp.strftime("%Y-%m-%d %H:%M")
    return f"{text} {stamp.tzname()}" if stamp.tzinfo is not None else text


def _examples(values: list[Any], limit: int = 3) -> str:
    seen: list[str] = []
    for value in values:
        text = repr(value) if isinstance(value, str) else fmt_number(value)
        if text not in seen:
            seen.append(text)
        if len(seen) == limit:
            break
    return ", ".join(seen)


# -- extraction ----------------------------------------------------------------------------
@dataclass
class _Entry:
    type: str
    kwargs: dict[str, Any]
    kind: str
    details: dict[str, Any]
    severity: str
    success: bool
    result: dict[str, Any]
    exception: str | None
    judgement: dict[str, Any] | None = None

    @property
    def column(self) -> str | None:
        return self.kwargs.get("column")


def _exception_message(info: Any) -> str | None:
    if not isinstance(info, dict):
        return None
    if "raised_exception" in info:
        return info.get("exception_message") if info.get("raised_exception") else None
    for value in info.values():  # keyed by metric id when a metric failed
        if isinstance(value, dict) and value.get("raised_exception"):
            return value.get("exception_message") or "metric failed"
    return None


def _entries(result: dict[str, Any]) -> list[_Entry]:
    """The failed expectations of a result, and its row count (empty batches)."""
    entries = []
    for item in result.get("results", []):
        config = item.get("expectation_config", {})
        meta = (config.get("meta") or {}).get("retrainer", {})
        if item.get("success") and meta.get("kind") != "row_count":
            continue
        entries.append(
            _Entry(
                type=config.get("type", "?"),
                kwargs=config.get("kwargs", {}),
                kind=meta.get("kind", "other"),
                details=meta,
                severity=GX_TO_SEVERITY.get(str(config.get("severity", "critical")), "error"),
                success=bool(item.get("success")),
                result=item.get("result") or {},
                exception=_exception_message(item.get("exception_info")),
                judgement=item.get("retrainer"),
            )
        )
    return entries


def _unexpected_share(result: dict[str, Any]) -> float | None:
    for key in ("unexpected_percent_nonmissing", "unexpected_percent"):
        value = result.get(key)
        if value is not None:
            return float(value) / 100.0
    return None


def _extremes(frame: pd.DataFrame | None, column: str | None) -> tuple[Any, Any] | None:
    if frame is None or column is None or column not in frame.columns or frame.empty:
        return None
    values = frame[column]
    try:
        return values.min(), values.max()
    except TypeError:
        return None


def _unseen(frame: pd.DataFrame | None, column: str, allowed: list[Any]) -> str | None:
    if frame is None or column not in frame.columns:
        return None
    values = frame[column].dropna()
    unseen = values[~values.isin(allowed)]
    if unseen.empty:
        return None
    counts = unseen.value_counts().head(3)
    total = len(values) or 1
    return ", ".join(f"{value!r} {fmt_share(count / total)}" for value, count in counts.items())


def _finding(
    entry: _Entry,
    column: str | None,
    observed: str,
    expected: str,
    text: str,
    share: float | None = None,
) -> Finding:
    return Finding(
        column=column,
        expectation=entry.type,
        kind=entry.kind,
        severity=entry.severity,
        observed=observed,
        expected=expected,
        message=f"{column or TABLE}: {entry.type} failed: {text}",
        unexpected_share=share,
        tier=(entry.judgement or {}).get("tier"),
    )


def _tolerance(entry: _Entry, share: float | None, allowed_key: str) -> tuple[str, str]:
    """``(count phrase, test phrase)`` of a judged row-wise expectation.

    E.g. ``("3 of 24 values (12.5%)", "significantly more than the tolerated 1%: binomial
    p = 2.1e-04 < 0.001")``.
    """
    judged = entry.judgement or {}
    allowed = judged.get("tolerated", entry.details.get(allowed_key, 0.0))
    if not judged:
        return f"{fmt_share(share)} of values", f"at most {fmt_share(allowed)} allowed"
    counted = (
        f"{fmt_count(judged['unexpected'])} of {fmt_count(judged['total'])} values "
        f"({fmt_share(judged.get('share'))})"
    )
    if judged["p_value"] >= judged["alpha"]:  # too small a batch to test: every value is off
        test = f"every value of the batch, more than the tolerated {fmt_share(allowed)}"
    else:
        test = (
            f"significantly more than the tolerated {fmt_share(allowed)} (binomial p = "
            f"{judged['p_value']:.2g} < {judged['alpha']:g})"
        )
    return counted, test


# -- one describer per kind --------------------------------------------------------------------
Describer = Callable[[_Entry, "pd.DataFrame | None", set[str]], list[Finding]]


def _describe_columns(entry: _Entry, frame: pd.DataFrame | None, missing: set[str]) -> list:
    mismatched = (entry.result.get("details") or {}).get("mismatched", {})
    absent, extra = mismatched.get("missing") or [], mismatched.get("unexpected") or []
    hint = f" (the batch has {', '.join(map(repr, extra))} instead?)" if extra else ""
    return [
        _finding(entry, name, "missing", "present", f"required column is missing{hint}")
        for name in absent
    ]


def _describe_column_set(entry: _Entry, frame: pd.DataFrame | None, missing: set[str]) -> list:
    mismatched = (entry.result.get("details") or {}).get("mismatched", {})
    required = set(entry.details.get("required") or [])
    out = [
        _finding(
            entry, name, "extra column", "reference schema", "column is not in the reference schema"
        )
        for name in mismatched.get("unexpected") or []
    ]
    out += [
        _finding(
            entry, name, "missing", "reference schema", "column of the reference schema is missing"
        )
        for name in mismatched.get("missing") or []
        if name not in required or name not in missing
    ]
    return out


def _describe_dtype(entry: _Entry, frame: pd.DataFrame | None, missing: set[str]) -> list:
    family = entry.details.get("family", "?")
    reference = entry.details.get("reference_dtype", "?")
    result = entry.result
    if "observed_value" in result:
        observed = str(result["observed_value"])
        return [
            _finding(
                entry,
                entry.column,
                f"dtype {observed}",
                f"{family} ({reference})",
                f"dtype is {observed}, expected {family} like the reference ({reference})",
            )
        ]
    share = _unexpected_share(result)
    examples = _examples(result.get("partial_unexpected_list") or [])
    return [
        _finding(
            entry,
            entry.column,
            f"{fmt_share(share)} wrong type",
            family,
            f"{fmt_share(share)} of values are not {family} (e.g. {examples})",
            share,
        )
    ]


def _describe_not_null(entry: _Entry, frame: pd.DataFrame | None, missing: set[str]) -> list:
    nulls = entry.result.get("unexpected_percent")
    nulls = None if nulls is None else float(nulls) / 100.0
    allowed = (entry.judgement or {}).get("tolerated", entry.details.get("max_null_share", 0.0))
    reference = entry.details.get("reference_null_share", 0.0)
    counted, test = _tolerance(entry, nulls, "max_null_share")
    return [
        _finding(
            entry,
            entry.column,
            f"{fmt_share(nulls)} null",
            f"≤ {fmt_share(allowed)} null",
            f"{counted.replace(' values', ' values are null', 1)}: {test} (reference "
            f"{fmt_share(reference)} null)",
            nulls,
        )
    ]


def _describe_range(entry: _Entry, frame: pd.DataFrame | None, missing: set[str]) -> list:
    kwargs, share = entry.kwargs, _unexpected_share(entry.result)
    bounds = f"[{fmt_number(kwargs.get('min_value'))}, {fmt_number(kwargs.get('max_value'))}]"
    allowed = (entry.judgement or {}).get("tolerated", entry.details.get("max_outside_share", 0))
    seen = _extremes(frame, entry.column)
    examples = _examples(entry.result.get("partial_unexpected_list") or [])
    extent = (
        f"observed min {fmt_number(seen[0])}, max {fmt_number(seen[1])}"
        if seen
        else f"e.g. {examples}"
    )
    counted, test = _tolerance(entry, share, "max_outside_share")
    return [
        _finding(
            entry,
            entry.column,
            f"{fmt_share(share)} outside; {extent.replace('observed ', '')}",
            f"{bounds}, ≤ {fmt_share(allowed)} outside",
            f"{counted} outside the plausible range {bounds}: {test}; {extent}",
            share,
        )
    ]


def _describe_categories(entry: _Entry, frame: pd.DataFrame | None, missing: set[str]) -> list:
    values = entry.kwargs.get("value_set") or []
    share = _unexpected_share(entry.result)
    unseen = _unseen(frame, entry.column, values) if entry.column else None
    unseen = unseen or _examples(entry.result.get("partial_unexpected_list") or [])
    allowed = (entry.judgement or {}).get("tolerated", entry.details.get("max_unseen_share", 0))
    counted, test = _tolerance(entry, share, "max_unseen_share")
    flood = (entry.judgement or {}).get("tier") == "flood"
    what = (
        f"a flood of unseen categories (at least {fmt_share(entry.details.get('flood_share'))})"
        if flood
        else "unseen categories"
    )
    return [
        _finding(
            entry,
            entry.column,
            f"{fmt_share(share)} unseen ({unseen})",
            f"one of {len(values)} categories, ≤ {fmt_share(allowed)} unseen",
            f"{counted} are not among the {len(values)} reference categories, {what}: {test}; "
            f"unseen: {unseen}",
            share,
        )
    ]


def _describe_unique_id(entry: _Entry, frame: pd.DataFrame | None, missing: set[str]) -> list:
    count, share = entry.result.get("unexpected_count"), _unexpected_share(entry.result)
    examples = _examples(entry.result.get("partial_unexpected_list") or [])
    return [
        _finding(
            entry,
            entry.column,
            f"{fmt_count(count)} rows with a repeated id",
            "unique ids",
            f"{fmt_count(count)} rows ({fmt_share(share)}) share their id with another "
            f"row (e.g. {examples})",
            share,
        )
    ]


def _describe_row_count(entry: _Entry, frame: pd.DataFrame | None, missing: set[str]) -> list:
    rows = entry.result.get("observed_value")
    low, high = entry.kwargs.get("min_value"), entry.kwargs.get("max_value")
    expected = f"{fmt_count(low)}..{fmt_count(high)} rows"
    what = "the batch is empty" if rows == 0 else f"{fmt_count(rows)} rows"
    return [
        _finding(entry, None, f"{fmt_count(rows)} rows", expected, f"{what}, expected {expected}")
    ]


def _describe_freshness(entry: _Entry, frame: pd.DataFrame | None, missing: set[str]) -> list:
    low, high = entry.kwargs.get("min_value"), entry.kwargs.get("max_value")
    window = f"{fmt_time(low)} .. {fmt_time(high)}"
    share = _unexpected_share(entry.result)
    seen = _extremes(frame, entry.column)
    examples = _examples(entry.result.get("partial_unexpected_list") or [])
    extent = f"{fmt_time(seen[0])} .. {fmt_time(seen[1])}" if seen else f"e.g. {examples}"
    counted, test = _tolerance(entry, share, "max_outside_share")
    return [
        _finding(
            entry,
            entry.column,
            f"{fmt_share(share)} outside; {extent}",
            window,
            f"{counted.replace('values', 'event times', 1)} fall outside the partition window "
            f"{window}: {test} (observed {extent})",
            share,
        )
    ]


def _describe_monotonic(entry: _Entry, frame: pd.DataFrame | None, missing: set[str]) -> list:
    bound = entry.kwargs.get("min_value")
    share = _unexpected_share(entry.result)
    allowed = (entry.judgement or {}).get("tolerated", entry.details.get("max_late_share", 0.0))
    seen = _extremes(frame, entry.column)
    earliest = fmt_time(seen[0] if seen else entry.result.get("observed_value"))
    counted, test = _tolerance(entry, share, "max_late_share")
    return [
        _finding(
            entry,
            entry.column,
            f"{fmt_share(share)} older; earliest {earliest}",
            f"≥ {fmt_time(bound)}, ≤ {fmt_share(allowed)} older",
            f"{counted.replace('values', 'event times', 1)} are older than the newest "
            f"partition accepted before this one arrived (not before {fmt_time(bound)}): "
            f"{test.replace('tolerated', 'tolerated late share')}; earliest {earliest}: a "
            "partition out of order, or stale data",
            share,
        )
    ]


def _describe_scale(entry: _Entry, frame: pd.DataFrame | None, missing: set[str]) -> list:
    details = entry.result.get("details") or {}
    factor = entry.result.get("observed_value")
    power = details.get("power_of_ten")
    unit = f" (x10^{power}: a unit change?)" if power else ""
    ratio = entry.details.get("max_ratio")
    low, high = details.get("reference_day_range") or [None, None]
    return [
        _finding(
            entry,
            entry.column,
            f"median |value| x{fmt_number(factor)} of the reference",
            f"within x{fmt_number(ratio)} of {fmt_number(low)}..{fmt_number(high)}",
            f"the typical magnitude (median |value| {fmt_number(details.get('batch_median'))} "
            f"of {fmt_count(details.get('values'))} values) is x{fmt_number(factor)} the "
            f"reference's ({fmt_number(details.get('reference_median'))}; its days "
            f"{fmt_number(low)}..{fmt_number(high)}, at most x{fmt_number(ratio)} beyond "
            f"allowed){unit}",
        )
    ]


def _describe_extra(entry: _Entry, frame: pd.DataFrame | None, missing: set[str]) -> list:
    kwargs, result, column = entry.kwargs, entry.result, entry.column
    share = _unexpected_share(result)
    examples = _examples(result.get("partial_unexpected_list") or [])
    expected = ", ".join(
        f"{key}={value!r}" for key, value in kwargs.items() if key not in ("column", "mostly")
    )
    if kwargs.get("mostly") is not None:
        expected += f"{', ' if expected else ''}≥ {fmt_share(kwargs['mostly'])} of values"
    expected = expected or "see suite"
    if "observed_value" in result:
        observed = f"observed {_short(result['observed_value'])}"
    else:
        observed = f"{fmt_share(share)} unexpected"
        if examples:
            observed += f" (e.g. {examples})"
    return [
        _finding(
            entry,
            column,
            observed,
            expected,
            f"{observed}; expected {expected} (validation.columns.{column}.extra_expectations)",
            share,
        )
    ]


def _describe_other(entry: _Entry, frame: pd.DataFrame | None, missing: set[str]) -> list:
    share = _unexpected_share(entry.result)
    observed = entry.result.get("observed_value", f"{fmt_share(share)} unexpected")
    return [
        _finding(entry, entry.column, str(observed), "see suite", f"observed {observed}", share)
    ]


DESCRIBERS: dict[str, Describer] = {
    "columns": _describe_columns,
    "column_set": _describe_column_set,
    "dtype": _describe_dtype,
    "not_null": _describe_not_null,
    "range": _describe_range,
    "categories": _describe_categories,
    "unique_id": _describe_unique_id,
    "row_count": _describe_row_count,
    "freshness": _describe_freshness,
    "monotonic_dates": _describe_monotonic,
    "scale": _describe_scale,
    "extra": _describe_extra,
}
"""Expectation kind → how its failure reads."""


def _describe(entry: _Entry, frame: pd.DataFrame | None, missing: set[str]) -> list[Finding]:
    return DESCRIBERS.get(entry.kind, _describe_other)(entry, frame, missing)


def _short(value: Any, limit: int = 60) -> str:
    text = fmt_number(value) if isinstance(value, int | float) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def findings_from_result(
    result: dict[str, Any],
    skipped: list[dict[str, Any]] | None = None,
    frame: pd.DataFrame | None = None,
) -> tuple[list[Finding], list[str]]:
    """Findings for the failed expectations of a GX result, and notes on what was not evaluated.

    Args:
        result: A GX ``ExpectationSuiteValidationResult`` as JSON.
        skipped: Expectations the runner did not evaluate (with a ``reason``).
        frame: The batch, to report observed extremes and unseen categories precisely
            (optional: without it, GX's example values are quoted).

    Returns:
        ``(findings, notes)``, findings ordered errors first.
    """
    entries = _entries(result)
    missing: set[str] = set()
    for entry in entries:
        if entry.kind == "columns" and not entry.success:
            missing.update(
                (entry.result.get("details") or {}).get("mismatched", {}).get("missing") or []
            )
        if entry.exception and "does not exist" in entry.exception and entry.column:
            missing.add(entry.column)
    wrong_dtype = {
        e.column: str(e.result.get("observed_value", "another type"))
        for e in entries
        if e.kind == "dtype" and not e.success and not e.exception and e.column
    }
    empty = any(e.kind == "row_count" and e.result.get("observed_value") == 0 for e in entries)

    findings: list[Finding] = []
    notes: list[str] = []
    for entry in entries:
        if entry.success:
            continue
        target = entry.column or TABLE
        if entry.exception:
            if entry.column in missing:
                notes.append(f"{target}: {entry.type} not evaluated: the column is missing")
            elif entry.column in wrong_dtype:
                notes.append(
                    f"{target}: {entry.type} not evaluated: the column's dtype is "
                    f"{wrong_dtype[entry.column]}"
                )
            else:
                findings.append(
                    _finding(
                        entry,
                        entry.column,
                        "could not be evaluated",
                        "evaluable",
                        f"could not be evaluated: {entry.exception}",
                    )
                )
            continue
        if empty and entry.kind != "row_count":
            notes.append(f"{target}: {entry.type} not evaluated: the batch is empty")
            continue
        findings.extend(_describe(entry, frame, missing))
    for item in skipped or []:
        column = item.get("kwargs", {}).get("column") or TABLE
        notes.append(f"{column}: {item.get('type')} not evaluated: {item.get('reason')}")
    findings.sort(key=lambda f: (f.severity != "error", f.target, f.expectation))
    return findings, notes
