"""The target column: regression values, or class labels and their indices.

Class labels are plain values (whole numbers as int, other numbers as float, anything else as str), compared
through a text key so that 1, 1.0 and "1" are the same label. Target knows the task and the classes, so data
can be split and class weights computed before any feature preprocessing is fitted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .csvfiles import first_row, is_numeric
from .errors import DataError

MAX_CLASSES = 1000  # more distinct values than this in a classification target looks like regression


def label_values(series: pd.Series) -> list:
    """Labels as plain Python values: whole numbers as int, other numbers as float, anything else as str."""
    if is_numeric(series):
        a = series.to_numpy(np.float64)
        if np.all(np.mod(a, 1) == 0) and np.all(np.abs(a) < 2**53):
            return a.astype(np.int64).tolist()
        return a.tolist()
    return [str(v) for v in series]


def label_key(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    return str(value)


def label_keys(series: pd.Series) -> np.ndarray:
    if is_numeric(series):
        a = series.to_numpy(np.float64)
        if np.all(np.mod(a, 1) == 0) and np.all(np.abs(a) < 2**53):
            return a.astype(np.int64).astype(str)
    return np.array([label_key(v) for v in label_values(series)], dtype=object)


def sorted_labels(labels: list) -> list:
    """Distinct labels in sorted order: numbers numerically, text alphabetically."""
    return sorted(set(labels), key=lambda v: (isinstance(v, str), v))


def shorten(items: list, most: int = 8) -> str:
    """'a, b, c, ... (40 in all)': a list for a message."""
    shown = ", ".join(map(str, items[:most]))
    return shown + (f", ... ({len(items)} in all)" if len(items) > most else "")


def regression_values(series: pd.Series, column: str, source: str) -> np.ndarray:
    """A regression target as float64 (n,); text or infinite values are errors naming the column."""
    if not is_numeric(series):
        bad = pd.to_numeric(series, errors="coerce").isna()
        example = series[bad].iloc[0] if bad.any() else series.iloc[0]
        raise DataError(f"{source}: target column '{column}' must be numeric for task 'regression', found "
                        f"{example!r} in {first_row(series.index.to_numpy(), bad.to_numpy())} (use task: binary or multiclass for labels)")
    y = series.to_numpy(np.float64)
    if not np.isfinite(y).all():
        raise DataError(f"{source}: target column '{column}' holds infinite values (first in "
                        f"{first_row(series.index.to_numpy(), ~np.isfinite(y))})")
    return y


@dataclass(frozen=True)
class Target:
    """The column to predict: its task, its name, and for classification its labels by class index."""

    task: str
    column: str
    classes: list | None = None  # binary: [negative, positive]

    @classmethod
    def fit(cls, series: pd.Series, task: str, column: str, source: str, positive=None) -> Target:
        """The classes of a training target (checked against the task), or none for regression."""
        if task == "regression":
            y = regression_values(series, column, source)
            if np.all(y == y[0]):
                raise DataError(f"{source}: target column '{column}' is constant (every row is {y[0]:g}): nothing to learn")
            return cls(task, column)
        classes = sorted_labels(label_values(series))
        shown = shorten([repr(c) for c in classes])
        if len(classes) < 2:
            raise DataError(f"{source}: target column '{column}' has only one class ({shown}); "
                            f"task '{task}' needs at least two")
        if sum(isinstance(c, float) for c in classes) > 20:  # many distinct non-whole numbers
            raise DataError(f"{source}: target column '{column}' holds {len(classes)} distinct non-whole numbers; "
                            f"that looks like a quantity to predict, not classes (use task: regression)")
        if task == "binary":
            if len(classes) != 2:
                raise DataError(f"{source}: task 'binary' needs exactly 2 classes in '{column}', found "
                                f"{len(classes)}: {shown} (use task: multiclass)")
            if positive is not None:
                keys = [label_key(c) for c in classes]
                if label_key(positive) not in keys:
                    raise DataError(f"{source}: data.positive is {positive!r}, which is not a label of "
                                    f"'{column}' (labels: {shown})")
                if keys.index(label_key(positive)) == 0:
                    classes = classes[::-1]
        elif len(classes) > MAX_CLASSES:
            raise DataError(f"{source}: target column '{column}' has {len(classes)} distinct values; that looks like "
                            "a regression target, not classes (use task: regression)")
        return cls(task, column, classes)

    def index(self, label) -> int | None:
        """The class index of a label as written in the config (data.positive, class_weight), or None."""
        keys = [label_key(c) for c in self.classes]
        return keys.index(label_key(label)) if label_key(label) in keys else None

    def encode(self, series: pd.Series, source: str) -> np.ndarray:
        """(n,) regression values as float64, or class indices for classification. No missing values."""
        if self.task == "regression":
            return regression_values(series, self.column, source)
        keys = label_keys(series)
        index = pd.Index([label_key(c) for c in self.classes]).get_indexer(keys)
        if (index < 0).any():
            unknown = pd.unique(np.asarray(label_values(series), dtype=object)[index < 0])
            shown = ", ".join(repr(v) for v in unknown[:3])
            raise DataError(f"{source}: column '{self.column}' has label{'s' if len(unknown) > 1 else ''} that the "
                            f"model has never seen: {shown} (known: {', '.join(map(repr, self.classes))})")
        return index.astype(np.int64)
