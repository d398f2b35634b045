import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

from retrainer.monitoring import ConfidenceBasedEstimator, EstimationError, estimate_roc_auc


def _calibrated_sample(rng, n, a=1.0, b=6.0):
    """Scores that are true probabilities: y ~ Bernoulli(score)."""
    scores = rng.beta(a, b, n)
    return scores, (rng.random(n) < scores).astype(int)


def _realised(scores, y):
    pred = (scores >= 0.5).astype(int)
    return {
        "roc_auc": roc_auc_score(y, scores),
        "accuracy": accuracy_score(y, pred),
        "f1": f1_score(y, pred),
        "log_loss": log_loss(y, scores),
    }


def test_estimates_follow_a_score_shift_when_the_concept_holds():
    # given a reference of calibrated scores, and a current population shifted into the
    # uncertain region (more borderline applicants) with the same P(y | score)
    rng = np.random.default_rng(0)
    ref_scores, ref_y = _calibrated_sample(rng, 20_000)
    cur_scores, cur_y = _calibrated_sample(rng, 20_000, a=3.0, b=4.0)
    estimator = ConfidenceBasedEstimator().fit(ref_scores, ref_y)

    # when estimating without the current labels
    metrics = ["roc_auc", "accuracy", "f1", "log_loss"]
    estimated = estimator.estimate_many(metrics, cur_scores, (cur_scores >= 0.5).astype(int))

    # then every estimate matches what the labels later show (within the calibrator's own
    # noise where the reference is thin: few reference scores lie above 0.5)
    realised = _realised(cur_scores, cur_y)
    for metric in metrics:
        assert estimated[metric] == pytest.approx(realised[metric], abs=0.03), metric
    # and the estimate saw the accuracy and AUC fall from the reference
    reference = _realised(ref_scores, ref_y)
    assert estimated["accuracy"] < reference["accuracy"] - 0.1
    assert estimated["roc_auc"] < reference["roc_auc"] - 0.05


def test_pure_concept_drift_is_invisible_to_the_estimate():
    # given the same score distribution, but the relation P(y | score) has changed:
    # the model now ranks many of the new positives as safe
    rng = np.random.default_rng(1)
    ref_scores, ref_y = _calibrated_sample(rng, 20_000)
    cur_scores = rng.beta(1.0, 6.0, 20_000)
    new_truth = np.where(cur_scores < 0.1, 0.35, 0.05)
    cur_y = (rng.random(20_000) < new_truth).astype(int)
    estimator = ConfidenceBasedEstimator().fit(ref_scores, ref_y)

    # when estimating
    estimated = estimator.estimate("roc_auc", cur_scores)

    # then the estimate stays at the reference level while the realised AUC collapses:
    # CBPE assumes no concept drift, which is why realised metrics are still needed
    assert estimated == pytest.approx(roc_auc_score(ref_y, ref_scores), abs=0.02)
    assert roc_auc_score(cur_y, cur_scores) < estimated - 0.2


def test_isotonic_calibration_corrects_overconfident_scores():
    # given scores that overstate the risk (sqrt of the true probability)
    rng = np.random.default_rng(2)
    truth, ref_y = _calibrated_sample(rng, 20_000)
    ref_scores = np.sqrt(truth)
    cur_truth, cur_y = _calibrated_sample(rng, 20_000)
    cur_scores = np.sqrt(cur_truth)
    pred = (cur_scores >= 0.5).astype(int)

    calibrated = ConfidenceBasedEstimator().fit(ref_scores, ref_y)
    raw = ConfidenceBasedEstimator(calibration="none").fit(ref_scores, ref_y)

    # then calibration is applied and its estimate is close; trusting raw scores is not
    realised = accuracy_score(cur_y, pred)
    assert calibrated.calibrated_
    assert not raw.calibrated_
    assert calibrated.estimate("accuracy", cur_scores, pred) == pytest.approx(realised, abs=0.02)
    assert abs(raw.estimate("accuracy", cur_scores, pred) - realised) > 0.05


def test_sigmoid_calibration_is_available():
    rng = np.random.default_rng(3)
    truth, y = _calibrated_sample(rng, 5_000)
    scores = np.sqrt(truth)

    estimator = ConfidenceBasedEstimator(calibration="sigmoid", calibrate_only_if_needed=False)
    estimator.fit(scores, y)

    probabilities = estimator.calibrate(scores)
    assert probabilities.mean() == pytest.approx(y.mean(), abs=0.02)


def test_expected_roc_auc_of_certain_labels_equals_the_realised_auc():
    # given probabilities that are certain (0 or 1), the expected curve is the real curve
    scores = np.array([0.9, 0.8, 0.7, 0.4, 0.3, 0.2])
    certain = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])

    assert estimate_roc_auc(certain, scores) == pytest.approx(roc_auc_score(certain, scores))


def test_unusable_inputs_raise_clear_errors():
    estimator = ConfidenceBasedEstimator()
    with pytest.raises(EstimationError, match="not fitted"):
        estimator.estimate("accuracy", [0.5])
    with pytest.raises(EstimationError, match="rarer class"):
        estimator.fit([0.1, 0.2, 0.3], [0, 0, 0])
    with pytest.raises(EstimationError, match="probabilities"):
        estimator.fit([1.5, 0.2], [0, 1])

    rng = np.random.default_rng(4)
    scores, y = _calibrated_sample(rng, 2_000)
    estimator.fit(scores, y)
    with pytest.raises(EstimationError, match="average_precision"):
        estimator.estimate("average_precision", scores)
