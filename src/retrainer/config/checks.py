"""Checks of a valid config against the data it points at (columns exist, types fit)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from retrainer.config.model import ConfigProblem

if TYPE_CHECKING:
    from retrainer.data import DataCatalog


def check_against_data(catalog: DataCatalog) -> tuple[list[ConfigProblem], list[str]]:
    """Compare the configured columns with the newest partitions of the tables.

    Args:
        catalog: The project's data catalog.

    Returns:
        ``(problems, notes)``: problems name the config field and the file checked; notes say
        what could not be checked (e.g. no data yet).
    """
    cols = catalog.columns
    problems: list[ConfigProblem] = []
    notes: list[str] = []
    days = catalog.features.dates()
    if not days:
        notes.append(
            f"no data yet under {catalog.storage.describe(catalog.features.name)}: "
            "column checks skipped"
        )
        return problems, notes
    files = catalog.features.files(days[-1])
    schema = catalog.features.schema(days[-1])
    where = catalog.storage.describe(files[0]) if files else catalog.features.name
    assert schema is not None
    names = set(schema.names)
    roles = [("columns.id", cols.id), ("columns.timestamp", cols.timestamp)]
    roles += [(f"columns.numeric[{i}]", c) for i, c in enumerate(cols.numeric)]
    roles += [(f"columns.categorical[{i}]", c) for i, c in enumerate(cols.categorical)]
    roles += [(f"columns.segments[{i}]", c) for i, c in enumerate(cols.segments)]
    roles += [(f"columns.embeddings[{i}]", c) for i, c in enumerate(cols.embeddings)]
    for field, column in roles:
        if column not in names:
            problems.append(
                ConfigProblem(field, f"column {column!r} not found in the features data ({where})")
            )
    for i, column in enumerate(cols.numeric):
        if column in names:
            kind = schema.field(column).type
            if not (
                pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
            ):
                problems.append(
                    ConfigProblem(
                        f"columns.numeric[{i}]",
                        f"column {column!r} is {kind} in the features data ({where}), not numeric",
                    )
                )
    if cols.timestamp in names:
        kind = schema.field(cols.timestamp).type
        if not (pa.types.is_timestamp(kind) or pa.types.is_date(kind)):
            problems.append(
                ConfigProblem(
                    "columns.timestamp",
                    f"column {cols.timestamp!r} is {kind} in the features data ({where}), "
                    "not a timestamp",
                )
            )
    label_days = catalog.labels.dates()
    if not label_days:
        notes.append(
            f"no labels yet under {catalog.storage.describe(catalog.labels.name)}: "
            "target check skipped"
        )
        return problems, notes
    label_schema = catalog.labels.schema(label_days[-1])
    assert label_schema is not None
    label_files = catalog.labels.files(label_days[-1])
    label_where = catalog.storage.describe(label_files[0]) if label_files else catalog.labels.name
    for field, column in [
        ("columns.target", cols.target),
        ("columns.id", cols.id),
        ("columns.label_timestamp", cols.label_timestamp),
    ]:
        if column and column not in label_schema.names:
            problems.append(
                ConfigProblem(
                    field, f"column {column!r} not found in the labels data ({label_where})"
                )
            )
    return problems, notes
