"""Observations built from what the checks report (pure)."""

from __future__ import annotations

from datetime import date

import pandas as pd

from retrainer.policy.observe import count_labels, performance_observation


def test_a_segment_observation_carries_the_segments_own_reference():
    result = {
        "metrics": ["accuracy"],
        "checks": [
            {
                "metric": "accuracy",
                "segment": None,
                "basis": "realised",
                "value": 0.84,
                "reference": 0.85,
                "support": 4000,
                "greater_is_better": True,
            },
            {
                "metric": "accuracy",
                "segment": "region=south",
                "basis": "realised",
                "value": 0.71,
                "reference": 0.72,
                "support": 400,
                "greater_is_better": True,
            },
        ],
    }

    observed = performance_observation(result)

    assert observed.reference == 0.85
    (south,) = observed.segments
    assert (south.segment, south.realised, south.reference, south.support) == (
        "region=south",
        0.71,
        0.72,
        400,
    )


def test_label_counts_per_class_and_new_since_the_champions_window():
    frame = pd.DataFrame(
        {
            "y": [0, 1, 1, None],
            "t": pd.to_datetime(
                ["2026-03-01T23:00", "2026-03-02T00:30", "2026-03-03T00:00", "2026-03-04T00:00"],
                utc=True,
            ),
        }
    )

    counts = count_labels(frame, "y", "t", "binary", since=date(2026, 3, 1))

    assert counts == {"rows": 3, "per_class": {"0.0": 1, "1.0": 2}, "new": 2}
