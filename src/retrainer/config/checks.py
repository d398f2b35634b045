"""Checks of a valid config against the data it points at (columns exist, types fit)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, NamedTuple

import pyarrow as pa

from retrainer.config.model import ConfigProblem

if TYPE_CHECKING:
    from retrainer.config.validation import ReferenceSection
    from retrainer.data import DataCatalog, PartitionedTable


class DataCheck(NamedTuple):
    """What checking a config against its data found.

    Attributes:
        problems: Each names the config field and the file checked.
        notes: What could not be checked (e.g. no data yet).
        checked: One line per table saying what was checked against what.
    """

    problems: list[ConfigProblem]
    notes: list[str]
    checked: list[str]


def _span(days: list[date]) -> str:
    return f"{len(days):,} partition{'s' if len(days) != 1 else ''} {days[0]}..{days[-1]}"


def _newest_file(table: PartitionedTable, day: date) -> str:
    files = table.files(day)
    return table.storage.describe(files[0]) if files else table.name


def _is_numeric(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)


def _is_time(kind: pa.DataType) -> bool:
    return pa.types.is_timestamp(kind) or pa.types.is_date(kind)


def _check_features(catalog: DataCatalog, days: list[date]) -> tuple[list[ConfigProblem], str]:
    """Configured feature-table columns against the newest features partition."""
    cols = catalog.columns
    schema = catalog.features.schema(days[-1])
    assert schema is not None
    where = _newest_file(catalog.features, days[-1])
    names = set(schema.names)
    roles = [("columns.id", cols.id), ("columns.timestamp", cols.timestamp)]
    for key in ("numeric", "categorical", "segments", "embeddings"):
        roles += [(f"columns.{key}[{i}]", c) for i, c in enumerate(getattr(cols, key))]
    problems = [
        ConfigProblem(field, f"column {column!r} not found in the features data ({where})")
        for field, column in roles
        if column not in names
    ]
    typed = [
        (f"columns.numeric[{i}]", c, _is_numeric, "numeric") for i, c in enumerate(cols.numeric)
    ]
    typed.append(("columns.timestamp", cols.timestamp, _is_time, "a timestamp"))
    mistyped = [
        ConfigProblem(
            field,
            f"column {column!r} is {schema.field(column).type} in the features data ({where}), "
            f"not {wanted}",
        )
        for field, column, fits, wanted in typed
        if column in names and not fits(schema.field(column).type)
    ]
    configured = {column for _, column in roles}
    found = len(configured & names)
    counted = (
        f"{found} configured columns found"
        if found == len(configured)
        else f"{found} of {len(configured)} configured columns found"
    )
    fit = "types fit" if not mistyped else f"{len(mistyped)} with the wrong type"
    line = f"features: {_span(days)}, newest file {where}: {counted}, {fit}"
    return problems + mistyped, line


def _target_summary(catalog: DataCatalog, day: date, task: str | None) -> str:
    """What the newest labels partition holds of the target."""
    values = catalog.labels.read(dates=[day], columns=[catalog.columns.target])
    values = values[catalog.columns.target].dropna()
    if task == "regression" and len(values):
        return f"values {values.min():g}..{values.max():g} in the newest partition"
    count = values.nunique()
    return f"{count:,} class{'es' if count != 1 else ''} in the newest partition"


def _check_labels(
    catalog: DataCatalog, days: list[date], task: str | None
) -> tuple[list[ConfigProblem], str]:
    """Target, id and label time against the newest labels partition."""
    cols = catalog.columns
    schema = catalog.labels.schema(days[-1])
    assert schema is not None
    where = _newest_file(catalog.labels, days[-1])
    problems = [
        ConfigProblem(field, f"column {column!r} not found in the labels data ({where})")
        for field, column in [
            ("columns.target", cols.target),
            ("columns.id", cols.id),
            ("columns.label_timestamp", cols.label_timestamp),
        ]
        if column and column not in schema.names
    ]
    if cols.target in schema.names:
        target = f"target {cols.target!r} found ({_target_summary(catalog, days[-1], task)})"
    else:
        target = f"target {cols.target!r} not found"
    return problems, f"labels: {_span(days)}, newest file {where}: {target}"


def check_against_data(
    catalog: DataCatalog, task: str | None = None, reference: ReferenceSection | None = None
) -> DataCheck:
    """Compare the configured columns with the newest partitions of the tables.

    Args:
        catalog: The project's data catalog.
        task: The model's task, to describe the target (classes, or a value range).
        reference: ``validation.reference``, to say when the data or the window is too short
            for a suite that keeps clean days.

    Returns:
        ``(problems, notes, checked)``: problems name the config field and the file checked;
        notes say what could not be checked (e.g. no data yet); checked says per table what
        was checked against which partitions and file.
    """
    days = catalog.features.dates()
    if not days:
        where = catalog.storage.describe(catalog.features.name)
        return DataCheck([], [f"no data yet under {where}: column checks skipped"], [])
    problems, line = _check_features(catalog, days)
    checked = [line]
    notes = _reference_notes(reference, days) if reference is not None else []
    label_days = catalog.labels.dates()
    if not label_days:
        where = catalog.storage.describe(catalog.labels.name)
        notes.append(f"no labels yet under {where}: target check skipped")
        return DataCheck(problems, notes, checked)
    label_problems, line = _check_labels(catalog, label_days, task)
    return DataCheck(problems + label_problems, notes, [*checked, line])


def _reference_notes(reference: ReferenceSection, days: list) -> list[str]:
    """What to know about the validation reference window before a champion exists."""
    from retrainer.config.validation import MIN_REFERENCE_DAYS

    notes = []
    if reference.start is None and reference.days < MIN_REFERENCE_DAYS:
        notes.append(
            f"validation.reference.days is {reference.days}: fewer than {MIN_REFERENCE_DAYS} "
            "days rarely show a column's plausible range (weekly and monthly patterns, part of "
            "the seasons); the suite may quarantine clean days"
        )
    if reference.start is None and len(days) < reference.days:
        notes.append(
            f"the data has {len(days)} days, the validation reference wants "
            f"{reference.days}: the suite is built from all of them"
        )
    return notes
