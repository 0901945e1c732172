"""Metrics by task: METRICS[task] maps a name to fn(y_true, y_pred) -> float.

regression:  y_true (n,) and y_pred (n,) in the target's original units;
binary:      y_true (n,) in {0, 1} (1 = positive class), y_pred (n, 1) = P(positive);
multiclass:  y_true (n,) class indices, y_pred (n, K) class probabilities.
A metric that is undefined for the data (r2 of a constant target, roc_auc with one class) is NaN.
"""

import math

import numpy as np


def predicted_classes(proba: np.ndarray) -> np.ndarray:
    """Class index per row: P >= 0.5 for a binary (n, 1) column, else the argmax of (n, K)."""
    if proba.shape[1] == 1:
        return (proba[:, 0] >= 0.5).astype(np.int64)
    return proba.argmax(axis=1)


def rmse(y, yhat) -> float:
    return float(np.sqrt(np.mean((np.asarray(y, np.float64) - yhat) ** 2)))


def mae(y, yhat) -> float:
    return float(np.mean(np.abs(np.asarray(y, np.float64) - yhat)))


def r2(y, yhat) -> float:
    y = np.asarray(y, np.float64)
    total = np.sum((y - y.mean()) ** 2)
    return float(1 - np.sum((y - yhat) ** 2) / total) if total > 0 else float("nan")


def accuracy(y, proba) -> float:
    return float(np.mean(predicted_classes(proba) == y))


def _counts(y, proba):
    pred = predicted_classes(proba)
    tp = int(np.sum((pred == 1) & (y == 1)))
    return tp, int(np.sum(pred == 1)), int(np.sum(y == 1))


def precision(y, proba) -> float:
    tp, predicted, _ = _counts(y, proba)
    return tp / predicted if predicted else 0.0


def recall(y, proba) -> float:
    tp, _, actual = _counts(y, proba)
    return tp / actual if actual else 0.0


def f1(y, proba) -> float:
    tp, predicted, actual = _counts(y, proba)
    return 2 * tp / (predicted + actual) if predicted + actual else 0.0


def roc_auc(y, proba) -> float:
    """Area under the ROC curve = P(score of a random positive > score of a random negative), ties count 1/2."""
    y = np.asarray(y)
    n_pos = int(np.sum(y == 1))
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    scores = proba[:, 0]
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    avg_rank = ends - (counts - 1) / 2.0  # mean 1-based rank within each group of tied scores
    rank_sum = float(avg_rank[inverse][y == 1].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def roc_curve(y, proba) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false positive rates, true positive rates, thresholds), each (m + 1,) for m distinct scores: the point
    i calls positive every row scoring >= thresholds[i]; the first point (threshold inf) calls none. Rows with
    tied scores move together, so the curve goes diagonally through ties and its trapezoid area is roc_auc."""
    y = np.asarray(y)
    scores = proba[:, 0]
    order = np.argsort(-scores, kind="stable")
    s, positive = scores[order], (y[order] == 1)
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # the last row of each group of equal scores
    tp = np.cumsum(positive)[last]
    fp = (last + 1) - tp
    n_pos, n_neg = int(positive.sum()), len(y) - int(positive.sum())
    tpr = np.r_[0.0, tp / n_pos] if n_pos else np.full(len(last) + 1, np.nan)
    fpr = np.r_[0.0, fp / n_neg] if n_neg else np.full(len(last) + 1, np.nan)
    return fpr, tpr, np.r_[np.inf, s[last]]


def macro_f1(y, proba) -> float:
    """Unweighted mean of per-class F1 over the classes that occur in y or in the predictions."""
    pred = predicted_classes(proba)
    scores = []
    for c in np.union1d(y, pred):
        tp = np.sum((pred == c) & (y == c))
        denom = np.sum(pred == c) + np.sum(y == c)
        scores.append(2 * tp / denom if denom else 0.0)
    return float(np.mean(scores))


def confusion_matrix(y, proba, n_classes: int) -> list[list[int]]:
    """Counts [true class][predicted class], (K, K) as nested lists."""
    m = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(m, (np.asarray(y, np.int64), predicted_classes(proba)), 1)
    return m.tolist()


METRICS = {
    "regression": {"rmse": rmse, "mae": mae, "r2": r2},
    "binary": {"accuracy": accuracy, "precision": precision, "recall": recall, "f1": f1, "roc_auc": roc_auc},
    "multiclass": {"accuracy": accuracy, "macro_f1": macro_f1},
}


def mean_std(values: list[float]) -> tuple[float, float]:
    """The mean over folds and the (population) standard deviation, each from an exactly rounded sum: the same
    scores in another order give the same bits, so trials that tie stay tied (np.mean's order differed)."""
    mean = math.fsum(values) / len(values)
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values))
