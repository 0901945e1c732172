"""Every metric against scikit-learn's implementation on random data, ties and edge cases included."""

import json

import numpy as np
import pytest
from sklearn import metrics as sk

from nnfit.metrics import METRICS, confusion_matrix, predicted_classes, roc_curve


@pytest.mark.parametrize("seed", range(5))
def test_binary_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 300)
    p = np.round(np.clip(y * 0.3 + rng.uniform(0, 0.7, 300), 0, 1), 1)[:, None]  # rounded: many tied scores
    pred = predicted_classes(p)
    m = METRICS["binary"]
    assert m["accuracy"](y, p) == pytest.approx(sk.accuracy_score(y, pred))
    assert m["precision"](y, p) == pytest.approx(sk.precision_score(y, pred))
    assert m["recall"](y, p) == pytest.approx(sk.recall_score(y, pred))
    assert m["f1"](y, p) == pytest.approx(sk.f1_score(y, pred))
    assert m["roc_auc"](y, p) == pytest.approx(sk.roc_auc_score(y, p[:, 0]), abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_roc_curve_matches_sklearn_and_its_area_is_roc_auc(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 300)
    p = np.round(np.clip(y * 0.3 + rng.uniform(0, 0.7, 300), 0, 1), 1)[:, None]  # rounded: many tied scores
    fpr, tpr, thresholds = roc_curve(y, p)
    sk_fpr, sk_tpr, sk_thresholds = sk.roc_curve(y, p[:, 0], drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr, atol=1e-15)
    np.testing.assert_allclose(tpr, sk_tpr, atol=1e-15)
    np.testing.assert_array_equal(thresholds[1:], sk_thresholds[1:])  # the first is inf, or max + 1 in older sklearn
    area = np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)  # the trapezoids under the curve
    assert area == pytest.approx(METRICS["binary"]["roc_auc"](y, p), abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_multiclass_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 5, 200)
    logits = rng.normal(size=(200, 5)) + 2 * np.eye(5)[y]
    P = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    pred = P.argmax(axis=1)
    m = METRICS["multiclass"]
    assert m["accuracy"](y, P) == pytest.approx(sk.accuracy_score(y, pred))
    assert m["macro_f1"](y, P) == pytest.approx(sk.f1_score(y, pred, average="macro"))
    assert confusion_matrix(y, P, 5) == sk.confusion_matrix(y, pred, labels=range(5)).tolist()


def test_regression_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    y = rng.normal(3, 2, 100)
    yhat = y + rng.normal(0, 0.5, 100)
    m = METRICS["regression"]
    assert m["rmse"](y, yhat) == pytest.approx(np.sqrt(sk.mean_squared_error(y, yhat)))
    assert m["mae"](y, yhat) == pytest.approx(sk.mean_absolute_error(y, yhat))
    assert m["r2"](y, yhat) == pytest.approx(sk.r2_score(y, yhat))


def test_undefined_metrics_are_nan():
    assert np.isnan(METRICS["binary"]["roc_auc"](np.ones(5, int), np.full((5, 1), 0.7)))
    assert np.isnan(METRICS["regression"]["r2"](np.ones(5), np.arange(5.0)))
    assert METRICS["binary"]["precision"](np.ones(3, int), np.zeros((3, 1))) == 0.0  # nothing predicted positive


@pytest.mark.parametrize("seed", range(5))
def test_binary_metrics_on_predictions_made_without_nnfit(seed):
    """Predicted positive is P >= 0.5, ties included, as scikit-learn's predict does with probabilities."""
    rng = np.random.default_rng(10 + seed)
    y = rng.integers(0, 2, 400)
    p = rng.choice([0.1, 0.3, 0.5, 0.5, 0.7, 0.9], 400)[:, None]  # a third exactly at 0.5
    pred = (p[:, 0] >= 0.5).astype(int)  # computed here, not by nnfit
    m = METRICS["binary"]
    assert m["accuracy"](y, p) == pytest.approx(sk.accuracy_score(y, pred))
    assert m["precision"](y, p) == pytest.approx(sk.precision_score(y, pred))
    assert m["recall"](y, p) == pytest.approx(sk.recall_score(y, pred))
    assert m["f1"](y, p) == pytest.approx(sk.f1_score(y, pred))
    assert confusion_matrix(y, p, 2) == sk.confusion_matrix(y, pred, labels=[0, 1]).tolist()


def test_r2_of_a_target_with_a_small_spread():
    """r2 is defined whenever the target varies at all, however little (here the squared deviations sum to 0.02)."""
    y = np.array([0.0, 0.1, 0.2])
    yhat = np.array([0.02, 0.09, 0.16])
    assert METRICS["regression"]["r2"](y, yhat) == pytest.approx(sk.r2_score(y, yhat), rel=1e-12)
    assert METRICS["regression"]["r2"](y, yhat) == pytest.approx(1 - 0.0021 / 0.02, rel=1e-12)


def test_regression_metrics_of_float32_values_are_computed_in_float64():
    """A float32 model's predictions are scored in float64, as scikit-learn scores them: not rounded to float32
    at every square and sum (which is off by about 1e-7 here)."""
    rng = np.random.default_rng(3)
    y = rng.normal(1000, 1, 5000).astype(np.float32)
    yhat = (y + rng.normal(0, 0.1, 5000)).astype(np.float32)
    y64, yhat64 = y.astype(np.float64), yhat.astype(np.float64)
    m = METRICS["regression"]
    assert m["rmse"](y, yhat) == pytest.approx(np.sqrt(sk.mean_squared_error(y64, yhat64)), rel=1e-12)
    assert m["mae"](y, yhat) == pytest.approx(sk.mean_absolute_error(y64, yhat64), rel=1e-12)
    assert m["r2"](y, yhat) == pytest.approx(sk.r2_score(y64, yhat64), rel=1e-12)


def test_confusion_matrix_counts_are_integers_whatever_the_label_dtype():
    """summary.json shows counts as 3, not 3.0, and class indices read as floats count like ints."""
    P = np.eye(3)[[0, 1, 2, 2, 1]]
    for y in (np.array([0, 1, 2, 1, 1]), np.array([0.0, 1.0, 2.0, 1.0, 1.0])):
        counts = confusion_matrix(y, P, 3)
        assert json.dumps(counts) == "[[1, 0, 0], [0, 2, 1], [0, 0, 1]]"


def test_binary_metrics_at_their_edges_match_sklearn():
    """No positive at all (recall and f1 are 0, scikit-learn's zero_division=0), exactly as many predicted as actual
    positives (f1 is still 2 tp / (predicted + actual)), and a single positive (roc_auc is defined)."""
    m = METRICS["binary"]
    cases = [(np.zeros(4, int), np.array([[0.1], [0.2], [0.3], [0.4]])),  # nothing positive, nothing predicted
             (np.zeros(4, int), np.array([[0.1], [0.7], [0.3], [0.4]])),  # nothing positive, one predicted
             (np.array([1, 0, 1, 0, 1]), np.array([[0.9], [0.8], [0.2], [0.1], [0.6]])),  # 3 predicted, 3 actual
             (np.array([0, 0, 1, 0, 0]), np.array([[0.3], [0.8], [0.6], [0.1], [0.4]]))]  # one positive
    for y, p in cases:
        pred = (p[:, 0] >= 0.5).astype(int)
        assert m["recall"](y, p) == sk.recall_score(y, pred, zero_division=0.0)
        assert m["f1"](y, p) == pytest.approx(sk.f1_score(y, pred, zero_division=0.0), abs=1e-15)
        if y.any():
            assert m["roc_auc"](y, p) == pytest.approx(sk.roc_auc_score(y, p[:, 0]), abs=1e-15)


def test_the_mean_and_spread_over_folds_do_not_depend_on_the_folds_order():
    """Two sweep trials that each got 490 of 600 rows right tie, whichever folds scored what; np.mean's
    pairwise sum gave 0.8166666666666668 for one order and ...665 for another, and the tie went astray."""
    import itertools

    from nnfit.metrics import mean_std

    for scores in ([0.8, 0.8333333333333334, 0.8166666666666667, 0.75, 0.9], [49 / 60, 48 / 60, 50 / 60, 49 / 60]):
        orders = list(itertools.permutations(scores))
        assert len({mean_std(list(order)) for order in orders}) == 1
        mean, std = mean_std(scores)
        assert mean == pytest.approx(np.mean(scores), abs=1e-15) and std == pytest.approx(np.std(scores), abs=1e-15)
    assert len({float(np.mean(order)) for order in orders}) > 1  # what the test guards against
