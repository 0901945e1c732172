"""Which training rows validate and how much each row counts: the stratified hold-out (data.valid_fraction),
k-fold cross-validation (data.folds) and train.class_weight's per-row weights."""

from __future__ import annotations

import numpy as np

from .errors import DataError, shorten
from .labels import Target


def stratified_split(n: int, labels: np.ndarray | None, fraction: float, rng: np.random.Generator):
    """Row indices (train, valid): `fraction` of each class (of all rows for regression) goes to valid."""
    groups = [np.arange(n)] if labels is None else [np.flatnonzero(labels == c) for c in np.unique(labels)]
    train, valid = [], []
    for rows in groups:
        rows = rows[rng.permutation(len(rows))]
        k = min(int(round(fraction * len(rows))), len(rows) - 1)
        valid.append(rows[:k])
        train.append(rows[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(valid))


def kfold(n: int, labels: np.ndarray | None, k: int, rng: np.random.Generator) -> np.ndarray:
    """The fold (0 to k-1) of each of n rows. Each class's rows (all rows for regression) are shuffled and dealt
    round the folds in turn, the next class going on where the last one stopped: each fold gets its share of
    every class to within one row, and the folds' sizes differ by one row at most."""
    groups = [np.arange(n)] if labels is None else [np.flatnonzero(labels == c) for c in np.unique(labels)]
    order = np.concatenate([rows[rng.permutation(len(rows))] for rows in groups])
    fold = np.empty(n, np.int64)
    fold[order] = np.arange(n) % k
    return fold


def class_weights(cfg_weight, labels: Target, target: np.ndarray, name: str) -> np.ndarray | None:
    """Per-row weights (n,) from train.class_weight: 'balanced' = n / (K * count of the row's class)."""
    if cfg_weight is None:
        return None
    K = len(labels.classes)
    if cfg_weight == "balanced":
        counts = np.bincount(target, minlength=K).astype(np.float64)
        per_class = len(target) / (K * np.maximum(counts, 1))
    else:
        per_class = np.ones(K)
        for label, weight in cfg_weight.items():
            if labels.index(label) is None:
                raise DataError(f"{name}: train.class_weight names label {label!r}, which is not a class "
                                f"(classes: {shorten([repr(c) for c in labels.classes])})")
            per_class[labels.index(label)] = weight
    return per_class[target]
