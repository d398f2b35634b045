"""Inferring a config from a data sample: column roles, the task, guesses marked (no IO)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import yaml

from retrainer.config import parse_config
from retrainer.config.infer import (
    InferError,
    holdout_days,
    infer_config,
    infer_task,
    render_config,
)
from retrainer.data.sampling import DataSample, spread

ROWS = 400


def _sample(frame: pd.DataFrame, labels: pd.DataFrame | None = None, **kw) -> DataSample:
    def types(f: pd.DataFrame) -> dict[str, pa.DataType]:
        with warnings.catch_warnings():  # pyarrow reads tz-aware columns via Series.values
            warnings.simplefilter("ignore", DeprecationWarning)
            schema = pa.Schema.from_pandas(f, preserve_index=False)
        return {field.name: field.type for field in schema}

    return DataSample(
        features=frame,
        types=types(frame),
        labels=labels,
        label_types=types(labels) if labels is not None else {},
        description="test data",
        **kw,
    )


def _layout() -> DataSample:
    """Features and labels as `retrainer import` writes them, with columns of every kind."""
    rng = np.random.default_rng(0)
    ids = [f"r{i:09d}" for i in range(ROWS)]
    stamps = pd.date_range("2026-01-01", periods=ROWS, freq="6h", tz="UTC")
    features = pd.DataFrame(
        {
            "row_id": ids,
            "event_time": stamps,
            "amount": rng.normal(100, 20, ROWS),
            "visits": rng.integers(0, 500, ROWS),
            "rating": rng.integers(1, 6, ROWS),
            "region": rng.choice(["north", "south", "east"], ROWS),
            "plan": rng.choice(["basic", "pro", "rare"], ROWS, p=[0.6, 0.38, 0.02]),
            "comment": [f"free text number {i}" for i in range(ROWS)],
            "source": "web",
            "flag": rng.choice([True, False], ROWS),
            "signed_up": stamps - pd.Timedelta(days=30),
        }
    )
    labels = pd.DataFrame(
        {
            "row_id": ids,
            "label_time": stamps + pd.Timedelta(days=2),
            "churned": rng.choice([0, 1], ROWS, p=[0.8, 0.2]),
        }
    )
    return _sample(features, labels, rows_per_day=4.0, days=100)


def test_roles_of_an_imported_layout_with_reasons_for_what_is_left_out():
    # when the config is inferred from an imported layout
    inferred = infer_config(_layout(), target="churned", name="churn")

    # then each column has its role; guesses and exclusions say why
    assert inferred.task.value == "binary"
    assert (inferred.id.value, inferred.id.note) == ("row_id", None)
    assert inferred.timestamp.value == "event_time"  # the name looks like an event time
    assert inferred.timestamp.note == "guessed: one of 2 date/time columns (also: signed_up)"
    assert inferred.label_timestamp.value == "label_time"
    numeric = {c.value: c.note for c in inferred.numeric}
    assert list(numeric) == ["amount", "visits", "rating"]
    assert numeric["amount"] is None
    assert numeric["rating"].startswith("guessed: 5 distinct integer values")
    assert [c.value for c in inferred.categorical] == ["region", "plan"]
    left_out = {c.value: c.note for c in inferred.left_out}
    assert left_out["comment"].startswith("near-unique text (400 distinct values")
    assert left_out["source"] == "constant ('web' in every sampled row)"
    assert "boolean" in left_out["flag"]
    assert left_out["signed_up"] == "another date/time column, not a feature"


def test_segments_are_suggested_only_where_every_level_has_a_share():
    inferred = infer_config(_layout(), target="churned", name="churn")

    # 'plan' has a level with 2% of the rows: not suggested
    assert [c.value for c in inferred.segments] == ["region"]
    assert inferred.segments[0].note.startswith("suggested: 3 levels, the smallest")


def test_the_rendered_config_validates_and_comments_every_guess():
    # given the inferred config rendered as YAML
    text = render_config(infer_config(_layout(), target="churned", name="churn"), "data")

    # then it loads as a valid config and each guessed line carries its comment
    config = parse_config(yaml.safe_load(text))
    assert config.model.task == "binary"
    assert config.columns.numeric == ["amount", "visits", "rating"]
    assert config.columns.segments == ["region"]
    assert config.estimator.class_path == "sklearn.ensemble.HistGradientBoostingClassifier"
    lines = text.splitlines()
    (rating,) = [line for line in lines if line.strip().startswith("- rating")]
    assert "# guessed: 5 distinct integer values" in rating
    assert any(line.startswith("  #   comment: near-unique text") for line in lines)
    (holdout,) = [line for line in lines if line.strip().startswith("days: 25")]
    assert "# guessed: ~4.0 rows a day, so ~100 holdout rows (the gate needs 200" in holdout


@pytest.mark.parametrize(
    ("values", "dtype", "task", "guessed"),
    [
        ([True, False] * 10, pa.bool_(), "binary", False),
        (["yes", "no"] * 10, pa.string(), "binary", False),
        (["a", "b", "c", "d", "e"] * 4, pa.string(), "multiclass", False),
        ([1, 2, 3, 4, 5] * 4, pa.int64(), "multiclass", True),
        ([0.0, 1.0] * 10, pa.float64(), "binary", False),
        (list(np.linspace(0, 10, 20)), pa.float64(), "regression", False),
        (list(range(100)), pa.int64(), "regression", False),
    ],
    ids=["bool", "two-strings", "five-strings", "few-ints", "zero-one-floats", "floats", "ints"],
)
def test_the_task_follows_the_target_values(values, dtype, task, guessed):
    choice = infer_task(pd.Series(values), dtype, "y")

    assert choice.value == task
    assert (choice.note or "").startswith("guessed:") is guessed


def test_a_target_with_one_value_cannot_be_learned():
    with pytest.raises(InferError, match=r"--target y: a single value \('a'\)"):
        infer_task(pd.Series(["a"] * 5), pa.string(), "y")


def test_a_raw_file_gives_its_date_text_as_timestamp_and_a_generated_id():
    # given raw rows as a CSV reader types them (dates as text, no unique column)
    frame = pd.DataFrame(
        {
            "date": [f"2012/01/{d:02d}" for d in range(1, 29)],
            "temp": np.linspace(-2, 12, 28),
            "weather": ["rain", "sun", "fog", "snow"] * 7,
        }
    )
    sample = _sample(frame)

    # when the config is inferred with the target among the columns
    inferred = infer_config(sample, target="weather", name="weather")

    # then the date text is the timestamp (a guess), ids are generated by the import
    assert inferred.task.value == "multiclass"
    assert inferred.timestamp.value == "date"
    assert inferred.timestamp.note.startswith("guessed:")
    assert inferred.id.value == "row_id"
    assert "generated by retrainer import" in inferred.id.note
    assert inferred.label_timestamp.value == "label_time"
    assert [c.value for c in inferred.numeric] == ["temp"]
    assert inferred.holdout_days.value == 7  # 1 row a day, 28 days: capped at a quarter


def test_a_unique_text_column_named_like_an_id_is_the_id_of_raw_rows():
    frame = pd.DataFrame(
        {
            "order_key": [f"K{i}" for i in range(30)],
            "created_at": pd.date_range("2026-01-01", periods=30, freq="h", tz="UTC"),
            "amount": np.arange(30) * 1.5,
            "y": [0, 1] * 15,
        }
    )

    inferred = infer_config(_sample(frame), target="y", name="m")

    assert inferred.id.value == "order_key"
    assert inferred.id.note.startswith("guessed:")
    assert inferred.timestamp.value == "created_at"


@pytest.mark.parametrize(
    ("hints", "message"),
    [
        ({"target": "nope"}, "--target nope: no such column in the labels table"),
        ({"target": "churned", "timestamp": "when"}, "--timestamp when: no such column"),
        ({"target": "churned", "id_column": "amount"}, "--id amount: not a column of both"),
    ],
)
def test_hints_that_name_no_column_say_so(hints, message):
    with pytest.raises(InferError, match=message):
        infer_config(_layout(), name="m", **hints)


def test_the_holdout_is_long_enough_for_the_gate_but_at_most_a_quarter_of_the_data():
    assert holdout_days(1000.0, 90, None).value == 7
    assert holdout_days(10.0, 365, None).value == 25
    assert holdout_days(1.0, 100, None).value == 25  # capped
    rare = holdout_days(200.0, 365, minority=0.01)  # 25 positives need 2,500 rows
    assert rare.value == 13
    short = holdout_days(1.0, 40, None)
    assert "cannot judge until more data lands" in short.note


def test_spread_keeps_the_ends_and_spaces_the_rest():
    assert spread(list(range(10)), 4) == [0, 3, 6, 9]
    assert spread([1, 2], 5) == [1, 2]
