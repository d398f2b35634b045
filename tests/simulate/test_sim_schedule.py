"""The ground-truth helpers: which days drift, which are clean, which have incidents."""

import json
from dataclasses import replace
from datetime import date, timedelta

import pytest

from retrainer.simulate import SCHEDULE_KEY, Drift, Schedule, build_schedule

START = date(2026, 1, 1)


def _day(offset: int) -> date:
    return START + timedelta(days=offset)


def test_demo_schedule_days():
    # given the demo scenario: income drop day 70, unit change day 80, downturn day 95
    schedule = build_schedule("demo")

    # then the helpers give exactly those days
    assert schedule.start == START
    assert schedule.end == _day(119)
    assert schedule.drift_days(kind="covariate") == {_day(i) for i in range(70, 120)}
    assert schedule.drift_days(kind="concept") == {_day(i) for i in range(95, 120)}
    assert schedule.drift_days() == {_day(i) for i in range(70, 120)}
    assert schedule.incident_days() == {_day(80)}
    assert schedule.incident_days(kind="null_burst") == set()
    assert schedule.clean_days() == {_day(i) for i in range(70)}
    assert schedule.onsets() == {"income_drop": _day(70), "downturn": _day(95)}
    assert [d.id for d in schedule.active(_day(100))] == ["income_drop", "downturn"]
    assert schedule.active("2026-03-01") == []
    assert not schedule.is_clean(_day(80))
    assert schedule.is_clean(_day(69))
    assert schedule.label_arrival(_day(0)) == _day(7)


def test_recurring_drift_is_active_in_alternate_phases():
    # given broker campaigns of 14 days on / 14 days off from day 42
    schedule = build_schedule("recurring")

    # then drift days are the on-phases only and the off-phases are clean
    on = {_day(i) for start in (42, 70, 98) for i in range(start, min(start + 14, 120))}
    assert schedule.drift_days() == on
    assert _day(60) in schedule.clean_days()
    assert _day(50) not in schedule.clean_days()


def test_intensity_follows_each_pattern():
    # given one drift of every pattern starting on day 10
    def drift(pattern: str, end: int | None = None, period: int | None = None) -> Drift:
        return Drift(
            id=pattern,
            kind="concept",
            pattern=pattern,
            start=_day(10),
            end=_day(end) if end is not None else None,
            columns=(),
            magnitude=1.0,
            concept="downturn",
            period_days=period,
        )

    sudden, blip = drift("sudden"), drift("sudden", end=12)
    gradual, incremental = drift("gradual", end=19), drift("incremental", end=19)
    recurring, seasonal = drift("recurring", period=3), drift("seasonal", period=4)

    # then each one's intensity is what the module documents
    assert [sudden.intensity(_day(i)) for i in (9, 10, 50)] == [0, 1, 1]
    assert [blip.intensity(_day(i)) for i in (10, 12, 13)] == [1, 1, 0]
    assert [gradual.intensity(_day(i)) for i in (9, 10, 14, 19, 30)] == [0, 0.1, 0.5, 1, 1]
    assert incremental.intensity(_day(14)) == 0.5
    assert [recurring.intensity(_day(i)) for i in range(10, 17)] == [1, 1, 1, 0, 0, 0, 1]
    assert seasonal.intensity(_day(11)) == pytest.approx(1.0)
    assert seasonal.intensity(_day(13)) == pytest.approx(-1.0)
    assert seasonal.is_active(_day(12))  # active all along, even where the cycle crosses 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"pattern": "gradual"}, "needs an end"),
        ({"pattern": "recurring"}, "needs period_days"),
        ({"columns": ("colour",)}, "unknown column"),
        ({"kind": "sideways"}, "kind 'sideways'"),
        ({"columns": ("channel",), "target": "carrier-pigeon"}, "target 'carrier-pigeon'"),
        ({"segment": {"region": "atlantis"}}, "segment value 'atlantis'"),
        ({"kind": "concept", "concept": "vibes"}, "concept 'vibes'"),
    ],
)
def test_invalid_drift_definitions_name_the_problem(changes, message):
    fields = {
        "id": "x",
        "kind": "covariate",
        "pattern": "sudden",
        "start": START,
        "end": None,
        "columns": ("income",),
        "magnitude": 1.0,
    }
    with pytest.raises(ValueError, match=message):
        Drift(**{**fields, **changes})


def test_loading_a_missing_or_foreign_schedule_fails_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match="no simulation schedule"):
        Schedule.load(tmp_path)
    (tmp_path / "other.json").write_text('{"hello": 1}')
    with pytest.raises(ValueError, match="not a simulation schedule"):
        Schedule.load(tmp_path / "other.json")


@pytest.mark.parametrize("name", ["small_days", "ordered_slices", "yearly_cycle", "range_widening"])
def test_a_shaped_schedule_round_trips_through_json_with_its_ground_truth(name, tmp_path):
    # given a shaped scenario's schedule
    schedule = build_schedule(name)

    # when saved and loaded back
    schedule.save(tmp_path)
    document = json.loads((tmp_path / SCHEDULE_KEY).read_text())

    # then the stream's shape, the valid outliers and the drift effects survive
    assert Schedule.load(tmp_path) == schedule
    assert document["stream"] == schedule.stream.to_dict()
    assert len(document["outliers"]) == len(schedule.outliers)
    assert {"stream", "outliers", "effect"} <= set(document["notes"])
    assert all("effect" in drift for drift in document["drifts"])


def test_the_ground_truth_of_each_shape_is_in_the_schedule():
    small, ordered = build_schedule("small_days"), build_schedule("ordered_slices")
    widening = build_schedule("range_widening")

    assert small.rows_per_day == 24
    assert small.stream.order is None
    assert [(t.column, t.share, t.low, t.high) for t in small.stream.heavy_tails] == [
        ("income", 0.002, 10.0, 30.0)
    ]
    assert {(r.column, r.value, r.share) for r in small.stream.rare_categories} == {
        ("purpose", "education", 0.0015),
        ("purpose", "wedding", 0.003),
        ("region", "islands", 0.002),
    }
    assert small.valid_categories("region")[-1] == "islands"
    assert small.outlier_ids() == {o.loan_id for o in small.outliers}
    assert all(o.column == "income" and 10 <= o.factor <= 30 for o in small.outliers)
    assert (ordered.stream.order.column, ordered.stream.order.block_days) == ("credit_score", 240)
    assert widening.active_days("loan_range_widening") == {_day(i) for i in range(80, 150)}
    assert build_schedule("stable").order_blocks() == []
    with pytest.raises(KeyError, match="no drift 'nope'"):
        widening.active_days("nope")


def test_a_schedule_written_before_stream_shapes_still_loads(tmp_path):
    # given a schedule document without the stream, outliers and drift effects
    document = build_schedule("demo").to_dict()
    del document["stream"], document["outliers"]
    for drift in document["drifts"]:
        del drift["effect"]
    (tmp_path / "old.json").write_text(json.dumps(document))

    # then it loads as i.i.d. days with shifting drifts
    schedule = Schedule.load(tmp_path / "old.json")
    assert schedule == build_schedule("demo")
    assert schedule.stream.order is None
    assert schedule.outliers == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"effect": "melt"}, "effect 'melt'"),
        ({"effect": "widen", "columns": ("credit_score",)}, "widen drift is a covariate drift"),
        ({"effect": "widen", "kind": "concept", "concept": "downturn"}, "widen drift"),
        ({"effect": "widen", "magnitude": -2.0}, "must be positive"),
    ],
)
def test_invalid_widen_drifts_name_the_problem(changes, message):
    widening = build_schedule("range_widening").drift("loan_range_widening")
    with pytest.raises(ValueError, match=message):
        replace(widening, **changes)
