"""Every metric against scikit-learn's implementation on random data, ties and edge cases included."""

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
