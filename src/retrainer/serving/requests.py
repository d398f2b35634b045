"""Prediction requests checked against the model's signature, with errors naming the field.

A request body is JSON: ``{"inputs": {...}}`` for one row or ``{"inputs": [{...}, ...]}``
for a batch, with optional ``request_id`` and ``entity_key`` (one row) or ``entity_keys``
(one per row). Every input row must hold exactly the signature's columns: an unknown or a
missing column, a value of the wrong type, or NaN/infinity (``null`` is the missing value)
is a :class:`RequestError` naming the row and the column, answered 422 — never a 5xx.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

NUMERIC = {"double", "float", "long", "integer"}
INTEGER = {"long", "integer"}
TOP_LEVEL = {"inputs", "request_id", "entity_key", "entity_keys"}


class RequestError(ValueError):
    """A bad request: ``field`` is where (``inputs[3].income``), ``status`` the HTTP code."""

    def __init__(self, field: str, message: str, status: int = 422):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.status = status

    def to_dict(self) -> dict[str, Any]:
        """The JSON error body."""
        return {"error": self.message, "field": self.field}


def build_frame(parts: Sequence[Mapping[str, list[Any]]], kinds: Mapping[str, str]) -> pd.DataFrame:
    """One frame from the checked columns of one or more requests, in signature order.

    Numbers become float64 (``None`` is NaN), everything else object columns: built once per
    model call, not per request (a DataFrame costs ~0.1–0.5 ms to build, whatever its rows).
    """
    data = {}
    for name, kind in kinds.items():
        values = parts[0][name] if len(parts) == 1 else [v for p in parts for v in p[name]]
        data[name] = (
            np.array(values, dtype=np.float64)
            if kind in NUMERIC
            else np.array(values, dtype=object)
        )
    return pd.DataFrame(data, copy=False)


@dataclass(frozen=True)
class PredictRequest:
    """A checked request: its columns (signature order), its rows, and the routing keys.

    ``frame`` builds the request's DataFrame on first use; the gateway instead hands the
    columns to the micro-batcher, which builds one frame per batch.
    """

    columns: dict[str, list[Any]]
    rows: int
    kinds: dict[str, str]
    request_id: str | None
    entity_keys: list[str | None]
    _frame: list[pd.DataFrame] = field(default_factory=list, repr=False, compare=False)

    @property
    def frame(self) -> pd.DataFrame:
        """The rows as a DataFrame (built once)."""
        if not self._frame:
            self._frame.append(build_frame([self.columns], self.kinds))
        return self._frame[0]


def _value(kind: str, value: Any, field: str) -> Any:
    if value is None:
        return None
    if kind in NUMERIC:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RequestError(field, f"expected a number ({kind}), got {type(value).__name__}")
        if isinstance(value, float) and not math.isfinite(value):
            raise RequestError(field, f"{value} is not allowed; send null for a missing value")
        if kind in INTEGER and isinstance(value, float) and not value.is_integer():
            raise RequestError(field, f"expected an integer ({kind}), got {value}")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise RequestError(field, f"expected true or false, got {type(value).__name__}")
        return value
    if not isinstance(value, str):
        raise RequestError(field, f"expected a string ({kind}), got {type(value).__name__}")
    return value


def _rows(inputs: Any, max_rows: int) -> list[Any]:
    rows = inputs if isinstance(inputs, list) else [inputs]
    if not rows:
        raise RequestError("inputs", "no rows")
    if len(rows) > max_rows:
        raise RequestError("inputs", f"{len(rows)} rows; at most {max_rows} per request", 413)
    return rows


def _keys(body: dict[str, Any], n: int) -> list[str | None]:
    if "entity_keys" in body:
        keys = body["entity_keys"]
        if not isinstance(keys, list) or len(keys) != n:
            raise RequestError("entity_keys", f"expected a list of {n} keys, one per row")
    else:
        keys = [body.get("entity_key")] * n if n == 1 else [None] * n
        if n > 1 and "entity_key" in body:
            raise RequestError("entity_key", "a batch takes entity_keys, one per row")
    for i, key in enumerate(keys):
        if key is not None and not isinstance(key, str | int):
            raise RequestError(f"entity_keys[{i}]", "expected a string or an integer")
    return [None if k is None else str(k) for k in keys]


def parse_request(
    body: Any, signature: Sequence[tuple[str, str]], max_rows: int = 10_000
) -> PredictRequest:
    """Check a decoded JSON body against ``signature`` (``(column, mlflow type)`` pairs).

    Raises:
        RequestError: The first problem found, naming its field.
    """
    if not isinstance(body, dict):
        raise RequestError("body", "expected a JSON object with an inputs field")
    unknown = sorted(set(body) - TOP_LEVEL)
    if unknown:
        raise RequestError(unknown[0], f"unknown field; expected {sorted(TOP_LEVEL)}")
    if "inputs" not in body:
        raise RequestError("inputs", "missing")
    request_id = body.get("request_id")
    if request_id is not None and not isinstance(request_id, str):
        raise RequestError("request_id", "expected a string")
    rows = _rows(body["inputs"], max_rows)
    kinds = dict(signature)
    columns: dict[str, list[Any]] = {name: [] for name in kinds}
    single = not isinstance(body["inputs"], list)
    for i, row in enumerate(rows):
        where = "inputs" if single else f"inputs[{i}]"
        if not isinstance(row, dict):
            raise RequestError(where, "expected an object of column: value")
        extra = sorted(set(row) - set(kinds))
        if extra:
            raise RequestError(f"{where}.{extra[0]}", "not a column of the model")
        missing = [name for name in kinds if name not in row]
        if missing:
            raise RequestError(f"{where}.{missing[0]}", "missing (send null for no value)")
        for name, kind in kinds.items():
            columns[name].append(_value(kind, row[name], f"{where}.{name}"))
    return PredictRequest(columns, len(rows), kinds, request_id, _keys(body, len(rows)))
