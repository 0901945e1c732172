"""The prepared data: the network's arrays for each split, and the preprocessing fitted on the training rows."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .preprocess import Preprocessor


@dataclass
class Split:
    """One part of the data, ready for the network."""

    X: np.ndarray  # (n, d) preprocessed features
    Y: np.ndarray  # (n, k) what the loss compares the logits with (see losses.py)
    target: np.ndarray  # (n,) regression: values in original units (float64); classification: class index
    name: str  # the file it came from, for messages
    w: np.ndarray | None = None  # (n,) per-row loss weights from train.class_weight, or None


@dataclass
class Dataset:
    train: Split
    valid: Split | None
    test: Split | None
    prep: Preprocessor
    train_sha256: str
    notes: list[str] = field(default_factory=list)  # things the user should know (dropped rows, imputed values)
    timing: dict[str, float] = field(default_factory=dict)  # seconds spent reading and preprocessing
    outlier: str | None = None  # a regression target's far-off value ("1e+30 in row 6"), which advice names
