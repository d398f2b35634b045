"""Readable findings from a GX validation result: column, expectation, observed vs expected.

Works on the result's JSON form (no GX import). Follow-on failures are folded into notes: when a
column is missing or has the wrong dtype, the other expectations on it cannot be evaluated and
are not reported again; on an empty batch only the row count is reported.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import pandas as pd

Verdict = Literal["valid", "warning", "invalid"]
TABLE = "(table)"

_GX_TO_SEVERITY = {"critical": "error", "warning": "warning", "info": "warning"}


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
    """

    column: str | None
    expectation: str
    kind: str
    severity: str
    observed: str
    expected: str
    message: str
    unexpected_share: float | None = None

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
    entries = []
    for item in result.get("results", []):
        config = item.get("expectation_config", {})
        meta = (config.get("meta") or {}).get("retrainer", {})
        entries.append(
            _Entry(
                type=config.get("type", "?"),
                kwargs=config.get("kwargs", {}),
                kind=meta.get("kind", "other"),
                details=meta,
                severity=_GX_TO_SEVERITY.get(str(config.get("severity", "critical")), "error"),
                success=bool(item.get("success")),
                result=item.get("result") or {},
                exception=_exception_message(item.get("exception_info")),
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
    )


def _describe(entry: _Entry, frame: pd.DataFrame | None, missing: set[str]) -> list[Finding]:
    kind, result, kwargs, column = entry.kind, entry.result, entry.kwargs, entry.column
    share = _unexpected_share(result)
    examples = _examples(result.get("partial_unexpected_list") or [])

    if kind == "columns":
        absent = (result.get("details") or {}).get("mismatched", {}).get("missing") or []
        extra = (result.get("details") or {}).get("mismatched", {}).get("unexpected") or []
        hint = f" (the batch has {', '.join(map(repr, extra))} instead?)" if extra else ""
        return [
            _finding(entry, name, "missing", "present", f"required column is missing{hint}")
            for name in absent
        ]
    if kind == "column_set":
        mismatched = (result.get("details") or {}).get("mismatched", {})
        required = set(entry.details.get("required") or [])
        out = [
            _finding(
                entry,
                name,
                "extra column",
                "reference schema",
                "column is not in the reference schema",
            )
            for name in mismatched.get("unexpected") or []
        ]
        out += [
            _finding(
                entry,
                name,
                "missing",
                "reference schema",
                "column of the reference schema is missing",
            )
            for name in mismatched.get("missing") or []
            if name not in required or name not in missing
        ]
        return out
    if kind == "dtype":
        family = entry.details.get("family", "?")
        reference = entry.details.get("reference_dtype", "?")
        if "observed_value" in result:
            observed = str(result["observed_value"])
            return [
                _finding(
                    entry,
                    column,
                    f"dtype {observed}",
                    f"{family} ({reference})",
                    f"dtype is {observed}, expected {family} like the reference ({reference})",
                )
            ]
        return [
            _finding(
                entry,
                column,
                f"{fmt_share(share)} wrong type",
                family,
                f"{fmt_share(share)} of values are not {family} (e.g. {examples})",
                share,
            )
        ]
    if kind == "not_null":
        nulls = result.get("unexpected_percent")
        nulls = None if nulls is None else float(nulls) / 100.0
        allowed = entry.details.get("max_null_share", 0.0)
        reference = entry.details.get("reference_null_share", 0.0)
        return [
            _finding(
                entry,
                column,
                f"{fmt_share(nulls)} null",
                f"≤ {fmt_share(allowed)} null",
                f"{fmt_share(nulls)} of values are null, at most {fmt_share(allowed)} "
                f"allowed (reference {fmt_share(reference)})",
                nulls,
            )
        ]
    if kind == "range":
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        allowed = entry.details.get("max_outside_share", 0.0)
        bounds = f"[{fmt_number(low)}, {fmt_number(high)}]"
        seen = _extremes(frame, column)
        extent = (
            f"observed min {fmt_number(seen[0])}, max {fmt_number(seen[1])}"
            if seen
            else f"e.g. {examples}"
        )
        return [
            _finding(
                entry,
                column,
                f"{fmt_share(share)} outside; {extent.replace('observed ', '')}",
                f"{bounds}, ≤ {fmt_share(allowed)} outside",
                f"{fmt_share(share)} of values outside {bounds} (at most {fmt_share(allowed)} "
                f"allowed; {extent})",
                share,
            )
        ]
    if kind == "categories":
        allowed_values = kwargs.get("value_set") or []
        allowed = entry.details.get("max_unseen_share", 0.0)
        unseen = _unseen(frame, column, allowed_values) if column else None
        unseen = unseen or examples
        return [
            _finding(
                entry,
                column,
                f"{fmt_share(share)} unseen ({unseen})",
                f"one of {len(allowed_values)} categories, ≤ {fmt_share(allowed)} unseen",
                f"{fmt_share(share)} of values are not among the {len(allowed_values)} "
                f"reference categories (at most {fmt_share(allowed)} allowed; unseen: "
                f"{unseen})",
                share,
            )
        ]
    if kind == "unique_id":
        count = result.get("unexpected_count")
        return [
            _finding(
                entry,
                column,
                f"{fmt_count(count)} rows with a repeated id",
                "unique ids",
                f"{fmt_count(count)} rows ({fmt_share(share)}) share their id with another "
                f"row (e.g. {examples})",
                share,
            )
        ]
    if kind == "row_count":
        rows = result.get("observed_value")
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        expected = f"{fmt_count(low)}..{fmt_count(high)} rows"
        what = "the batch is empty" if rows == 0 else f"{fmt_count(rows)} rows"
        return [
            _finding(
                entry, None, f"{fmt_count(rows)} rows", expected, f"{what}, expected {expected}"
            )
        ]
    if kind == "freshness":
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        window = f"{fmt_time(low)} .. {fmt_time(high)}"
        seen = _extremes(frame, column)
        extent = f"{fmt_time(seen[0])} .. {fmt_time(seen[1])}" if seen else f"e.g. {examples}"
        return [
            _finding(
                entry,
                column,
                f"{fmt_share(share)} outside; {extent}",
                window,
                f"{fmt_share(share)} of event times fall outside the partition window "
                f"{window} (observed {extent})",
                share,
            )
        ]
    if kind == "monotonic_dates":
        bound = kwargs.get("min_value")
        allowed = entry.details.get("max_late_share", 0.0)
        seen = _extremes(frame, column)
        earliest = fmt_time(seen[0] if seen else result.get("observed_value"))
        if share is None:  # a suite of format 1 before late events were tolerated: the minimum
            return [
                _finding(
                    entry,
                    column,
                    f"earliest {earliest}",
                    f"≥ {fmt_time(bound)}",
                    f"earliest event time {earliest} is older than the newest accepted "
                    f"partition (not before {fmt_time(bound)})",
                )
            ]
        return [
            _finding(
                entry,
                column,
                f"{fmt_share(share)} older; earliest {earliest}",
                f"≥ {fmt_time(bound)}, ≤ {fmt_share(allowed)} older",
                f"{fmt_share(share)} of event times are older than the newest partition "
                f"accepted before this one arrived (not before {fmt_time(bound)}; at most "
                f"{fmt_share(allowed)} late events allowed; earliest {earliest}): a partition "
                "out of order, or stale data",
                share,
            )
        ]
    if kind == "extra":
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
    observed = result.get("observed_value", f"{fmt_share(share)} unexpected")
    return [_finding(entry, column, str(observed), "see suite", f"observed {observed}", share)]


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
