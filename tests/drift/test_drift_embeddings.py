"""Embedding (vector column) drift: random-feature MMD² and the domain classifier."""

import numpy as np
import pandas as pd
import pytest

from retrainer.config.drift import DriftSection
from retrainer.drift import BaselineProfile, DriftDetector
from retrainer.drift.embeddings import RowSampler, mmd_rff

DIM = 64


def _vectors(n: int, seed: int, shifted_share: float = 0.0) -> np.ndarray:
    """Standard normal vectors; a share of rows shifted by +0.3 on 8 of 64 dimensions."""
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, DIM))
    shifted = rng.random(n) < shifted_share
    vectors[shifted, :8] += 0.3
    return vectors


def _cells(vectors: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"emb": list(vectors), "x": vectors[:, 0]})


def test_shifted_subset_is_detected():
    # given the notes' case: half of the current rows shifted by 0.3 on 8 of 64 dimensions
    reference, current = _vectors(4_000, 1), _vectors(4_000, 2, shifted_share=0.5)

    # when compared at the defaults (2,000-row samples per side)
    report = DriftDetector(embeddings=["emb"]).fit(_cells(reference)).compare(_cells(current))

    # then the classifier AUC and MMD² both cross their thresholds
    column = report.column("emb")
    assert column.drifted
    assert column.kind == "embedding"
    assert column.metrics["classifier_auc"].value > 0.55
    assert column.metrics["mmd"].value > 5e-4
    assert column.metrics["mmd"].p_value < 0.01


def test_same_distribution_is_not_flagged():
    # given two samples from the same distribution
    reference, current = _vectors(4_000, 3), _vectors(4_000, 4)

    # when
    report = DriftDetector(embeddings=["emb"]).fit(_cells(reference)).compare(_cells(current))

    # then nothing crosses a threshold
    column = report.column("emb")
    assert not column.drifted
    assert column.metrics["classifier_auc"].value < 0.55
    assert column.metrics["mmd"].value < 5e-4


def test_component_columns_cells_and_batches_agree():
    # given one embedding stored as vector cells and as 64 numeric columns
    reference, current = _vectors(3_000, 5), _vectors(3_000, 6, shifted_share=0.5)
    names = [f"e{i}" for i in range(DIM)]
    wide_ref = pd.DataFrame(reference, columns=names)
    wide_cur = pd.DataFrame(current, columns=names)

    # when compared as cells, as columns, and as a stream of batches
    cells = DriftDetector(embeddings=["emb"]).fit(_cells(reference))
    from_cells = cells.compare(_cells(current)).column("emb")
    wide = DriftDetector(embeddings={"emb": names}).fit(wide_ref)
    from_columns = wide.compare(wide_cur).column("emb")
    streamed = cells.compare_batches(_cells(current[i : i + 700]) for i in range(0, 3_000, 700))

    # then the samples and so the results are identical
    for name in ("mmd", "classifier_auc"):
        value = from_cells.metrics[name].value
        assert from_columns.metrics[name].value == pytest.approx(value, abs=1e-12)
        assert streamed.column("emb").metrics[name].value == pytest.approx(value, abs=1e-12)


def test_embedding_profile_round_trip(tmp_path):
    # given a fitted detector and its saved profile
    reference, current = _vectors(2_500, 7), _vectors(2_500, 8, shifted_share=0.5)
    fitted = DriftDetector(embeddings=["emb"]).fit(_cells(reference))
    path = fitted.profile_.save(tmp_path / "emb.json.gz")

    # when the profile is reloaded
    loaded = DriftDetector.from_profile(BaselineProfile.load(path))

    # then the report is identical
    assert loaded.compare(_cells(current)).to_dict() == fitted.compare(_cells(current)).to_dict()


def test_missing_vectors_and_dimension_errors_are_named():
    reference = _vectors(500, 9)
    frame = _cells(reference)
    frame.loc[:9, "emb"] = None

    detector = DriftDetector(embeddings=["emb"]).fit(frame)
    assert detector.profile_.columns["emb"].n_missing == 10

    wrong = pd.DataFrame({"emb": list(_vectors(100, 1)[:, :10]), "x": 0.0})
    with pytest.raises(ValueError, match="'emb': current vectors have dimension 10"):
        detector.compare(wrong)
    ragged = pd.DataFrame({"emb": [np.zeros(3), np.zeros(4)]})
    with pytest.raises(ValueError, match="'emb': vectors have different lengths"):
        DriftDetector(embeddings=["emb"]).fit(ragged)


def test_row_sampler_is_uniform_and_batch_invariant():
    rows = np.arange(10_000, dtype=float)[:, None]

    one = RowSampler(500, seed=1)
    one.add(rows)
    many = RowSampler(500, seed=1)
    for start in range(0, 10_000, 333):
        many.add(rows[start : start + 333])

    assert np.array_equal(one.sample(), many.sample())
    assert len(one.sample()) == 500
    assert abs(one.sample().mean() - 5_000) < 500  # a uniform sample, not the first rows


def test_unbiased_mmd_is_centred_on_zero_without_drift():
    values = [
        mmd_rff(_vectors(300, s), _vectors(300, 100 + s), bandwidth=11.0, permutations=20).mmd2
        for s in range(8)
    ]

    assert min(values) < 0 < max(values)  # unbiased: noise on both sides of 0
    assert abs(np.mean(values)) < 3e-4


def test_small_current_windows_are_guarded():
    # given a 60-row current window from the same distribution (AUC noise ~0.04 there)
    detector = DriftDetector(embeddings=["emb"], config=DriftSection()).fit(
        _cells(_vectors(3_000, 10))
    )
    flagged = 0
    for seed in range(5):
        current = _vectors(60, 20 + seed)

        # when compared at the defaults
        flagged += detector.compare(_cells(current)).drifted

    # then the significance guard keeps noise from being reported as drift
    assert flagged == 0
