"""The ``gates:`` section of retrainer.yaml: defaults, validation and task fit."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from retrainer.config.gates import GatesSection, resolve_test

EXAMPLE = """
absolute:
  roc_auc: {min: 0.75}
  log_loss: {max: 0.6}
comparison:
  metric: roc_auc
  test: auto
  mode: non_inferiority
  margin: 0.005
  alpha: 0.05
  on_inconclusive: reject
segments:
  columns: [region, channel]
  min_support: 300
  max_regression: 0.02
  insufficient_data: report
  floors:
    roc_auc: {min: 0.65}
sanity:
  max_latency_ms_per_1k_rows: 50
  max_model_size_mb: 200
human_approval:
  required: true
  timeout_seconds: 3600
holdout:
  days: 7
  min_rows: 500
"""


def _errors(data: dict) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as info:
        GatesSection.model_validate(data)
    return [(".".join(map(str, e["loc"])), e["msg"]) for e in info.value.errors()]


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_an_empty_section_is_valid_for_every_task(task: str) -> None:
    # given an empty gates section
    section = GatesSection.model_validate({})
    # when resolving it for a task
    # then nothing is wrong and the primary metric is compared
    assert section.problems_for_task(task) == []
    assert (
        section.comparison_metric(task)
        == {
            "binary": "roc_auc",
            "multiclass": "log_loss",
            "regression": "rmse",
        }[task]
    )
    assert section.comparison.mode == "superiority"
    assert section.comparison.on_inconclusive == "reject"
    assert section.holdout.days == 7


def test_a_full_yaml_example_parses() -> None:
    # given a complete YAML section
    data = yaml.safe_load(EXAMPLE)
    # when validating it
    section = GatesSection.model_validate(data)
    # then every value is kept and fits a binary task
    assert section.absolute["roc_auc"].min == 0.75
    assert section.segments.floors["roc_auc"].min == 0.65
    assert section.human_approval.required
    assert section.problems_for_task("binary") == []
    assert section.problems_for_task("regression")  # roc_auc does not apply


@pytest.mark.parametrize(
    ("data", "location", "fragment"),
    [
        ({"comparison": {"metric": "auc"}}, "comparison.metric", "did you mean 'roc_auc'"),
        ({"comparison": {"alpha": 1.5}}, "comparison.alpha", "less than 1"),
        ({"comparison": {"margin": -0.01}}, "comparison.margin", "greater than or equal to 0"),
        ({"comparison": {"metric": "rmse", "test": "delong"}}, "comparison", "test: 'delong'"),
        ({"absolute": {"roc_auc": {"min": 75}}}, "absolute", "outside the range"),
        ({"absolute": {"roc_auc": {}}}, "absolute.roc_auc", "give min, max or both"),
        ({"absolute": {"roc_auc": {"min": 0.9, "max": 0.8}}}, "absolute.roc_auc", "greater"),
        ({"absolute": {"roc_auc": {"min": 0.7}, "rmse": {"max": 3}}}, "", "no common task"),
        ({"segments": {"min_support": 0}}, "segments.min_support", "greater than or equal"),
        ({"segments": {"columns": ["a", "a"]}}, "segments", "listed twice"),
        ({"sanity": {"max_latency_ms": 5}}, "sanity.max_latency_ms", "Extra inputs"),
    ],
)
def test_invalid_values_are_reported_with_their_field(
    data: dict, location: str, fragment: str
) -> None:
    # given an invalid section
    # when validating it
    errors = _errors(data)
    # then the error names the field and the problem
    assert any(loc == location and fragment in msg for loc, msg in errors), errors


def test_task_problems_name_the_field() -> None:
    # given a section whose comparison test needs a metric the task does not default to
    section = GatesSection.model_validate({"comparison": {"test": "mcnemar"}})
    # when checking it against tasks
    # then binary (roc_auc by default) is a problem naming the field; accuracy fixes it
    problems = section.problems_for_task("binary")
    assert [field for field, _ in problems] == ["gates.comparison.test"]
    assert "compares accuracy only" in problems[0][1]
    fixed = GatesSection.model_validate({"comparison": {"test": "mcnemar", "metric": "accuracy"}})
    assert fixed.problems_for_task("binary") == []


@pytest.mark.parametrize(
    ("metric", "test"), [("roc_auc", "delong"), ("accuracy", "mcnemar"), ("log_loss", "bootstrap")]
)
def test_auto_picks_the_test_for_the_metric(metric: str, test: str) -> None:
    # given the auto test
    # when resolving it for a metric
    # then DeLong serves AUC, McNemar accuracy and the bootstrap everything else
    assert resolve_test("auto", metric) == test
