"""The target column: regression values, or class labels and their indices.

A class label is the text the training file writes ('01' stays '01', '1.0' stays '1.0'), stored as a whole
number only when that text is the number's own spelling ('7', '-1'), so model.json and predictions give the
labels back exactly as written. Labels from elsewhere (an evaluate file, data.positive, train.class_weight) are
matched by their text first, then by their value when that is unambiguous, so 1.0 finds the class '1'.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .columns import first_row, is_numeric, looks_numeric
from .errors import DataError, closest, count, shorten

MAX_CLASSES = 1000  # more distinct values than this in a classification target looks like regression
RARE_SHARE = 0.005  # a class with one row, or fewer than this share of the rows, may be a typo
_WHOLE = re.compile(r"^(0|-?[1-9][0-9]*)$")


def as_label(text) -> int | str:
    """A label as written: a whole number when the text is that number's own spelling, else the text."""
    text = str(text)
    return int(text) if _WHOLE.match(text) and abs(int(text)) < 2**53 else text


def _value(label) -> float | None:
    """The number a label stands for, when it is one (for matching 1.0 with 1), else None."""
    try:
        value = float(str(label).strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def label_values(series: pd.Series) -> list:
    """The labels of a target column as written (see as_label); no missing values."""
    if is_numeric(series):  # a column pandas read as numbers: whole numbers as int
        a = series.to_numpy(np.float64)
        if np.all(np.mod(a, 1) == 0) and np.all(np.abs(a) < 2**53):
            return a.astype(np.int64).tolist()
        return [repr(v) for v in a.tolist()]
    return [as_label(v) for v in series]


def sorted_labels(labels) -> list:
    """Distinct labels in order: by value when every label is a number, else by text."""
    distinct = list(dict.fromkeys(labels))
    if all(_value(v) is not None for v in distinct):
        return sorted(distinct, key=lambda v: (_value(v), str(v)))
    return sorted(distinct, key=str)


def regression_values(series: pd.Series, column: str, source: str, decimal: str = ".") -> np.ndarray:
    """A regression target as float64 (n,); text or infinite values are errors naming the column."""
    if not is_numeric(series):
        bad = pd.to_numeric(series, errors="coerce").isna()
        example = series[bad].iloc[0] if bad.any() else series.iloc[0]
        fix = looks_numeric(series, decimal, series.attrs.get("sep", ","))  # decimal commas, thousands
        hint = ("use task: binary or multiclass for labels" if fix is None else
                f"they look like numbers: set {fix.replace('COLUMN', column)}")
        raise DataError(f"{source}: target column '{column}' must be numeric for task 'regression', found "
                        f"{example!r} in {first_row(series.index.to_numpy(), bad.to_numpy())} ({hint})")
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
    def fit(cls, series: pd.Series, task: str, column: str, source: str, positive=None, decimal: str = ".") -> Target:
        """The classes of a training target (checked against the task), or none for regression; decimal: how the
        file writes numbers (data.decimal), for the hint when they are text."""
        if task == "regression":
            y = regression_values(series, column, source, decimal)
            if np.all(y == y[0]):
                raise DataError(f"{source}: target column '{column}' is constant (every row is {y[0]:g}): nothing to learn")
            return cls(task, column)
        classes = sorted_labels(label_values(series))
        shown = shorten([repr(c) for c in classes])
        if len(classes) < 2:
            raise DataError(f"{source}: target column '{column}' has only one class ({shown}); "
                            f"task '{task}' needs at least two")
        fractional = [c for c in classes if _value(c) is not None and not float(_value(c)).is_integer()]
        if len(fractional) > 20:
            raise DataError(f"{source}: target column '{column}' holds {len(classes)} distinct non-whole numbers; "
                            f"that looks like a quantity to predict, not classes (use task: regression)")
        if task == "binary":
            words = {str(c).strip().casefold() for c in classes}
            if len(classes) != 2 and len(words) == 2:  # 'Yes', 'yes', 'No', 'no': two classes written two ways
                raise DataError(f"{source}: task 'binary' needs exactly 2 classes in '{column}', found "
                                f"{len(classes)}: {shown}, 2 words written in more than one way: write each class "
                                "one way")
            if len(classes) != 2:
                raise DataError(f"{source}: task 'binary' needs exactly 2 classes in '{column}', found "
                                f"{len(classes)}: {shown} (use task: multiclass)")
            if positive is not None:
                found = cls(task, column, classes).index(positive)
                if found is None:
                    raise DataError(f"{source}: data.positive is {positive!r}, which is not a label of "
                                    f"'{column}' (labels: {shown})")
                if found == 0:
                    classes = classes[::-1]
        elif len(classes) > MAX_CLASSES:
            raise DataError(f"{source}: target column '{column}' has {len(classes)} distinct values; that looks like "
                            "a regression target, not classes (use task: regression)")
        return cls(task, column, classes)

    def index(self, label) -> int | None:
        """The class index of a label given elsewhere (a file, data.positive, class_weight), or None."""
        texts = [str(c) for c in self.classes]
        if str(label) in texts:
            return texts.index(str(label))
        value = _value(label)
        same = [i for i, c in enumerate(self.classes) if value is not None and _value(c) == value]
        return same[0] if len(same) == 1 else None

    def encode(self, series: pd.Series, source: str) -> np.ndarray:
        """(n,) regression values as float64, or class indices for classification. No missing values."""
        if self.task == "regression":
            return regression_values(series, self.column, source)
        labels = label_values(series)
        index = pd.Index([str(c) for c in self.classes]).get_indexer([str(v) for v in labels])
        for i in np.flatnonzero(index < 0):  # not as written in training: the same number, written otherwise?
            found = self.index(labels[i])
            index[i] = -1 if found is None else found
        if (index < 0).any():
            unknown = list(dict.fromkeys(np.asarray(labels, dtype=object)[index < 0].tolist()))
            shown = shorten([repr(v) for v in unknown], 3)
            raise DataError(f"{source}: column '{self.column}' has {'labels' if len(unknown) > 1 else 'a label'} that "
                            f"the model has never seen: {shown} (known: {shorten([repr(c) for c in self.classes])})")
        return index.astype(np.int64)

    def notes(self, counts: np.ndarray, source: str) -> list[str]:
        """Warnings about labels that look wrong: a class of a row or two (a typo of its closest label?), and
        many classes that are all numbers (a quantity, for task: regression?). counts: rows per class (K,)."""
        notes, total = [], int(counts.sum())
        if self.task == "multiclass" and len(self.classes) > 20 and all(_value(c) is not None for c in self.classes):
            notes.append(f"{source}: target column '{self.column}' has {len(self.classes)} classes, all numbers; "
                         "if it is a quantity to predict, use task: regression")
        same = {}  # classes that are one word in other capitals ('Red', 'red'): one class written two ways?
        for label in self.classes:
            same.setdefault(str(label).strip().casefold(), []).append(label)
        for twins in [t for t in same.values() if len(t) > 1][:3]:
            notes.append(f"{source}: classes {', '.join(map(repr, twins))} of '{self.column}' differ only in capitals; "
                         "if they are one class, write it one way")
        for label, n in zip(self.classes, counts):
            if n <= 1 or n < RARE_SHARE * total:
                others = [str(c) for c in self.classes if c != label]
                match = closest(str(label), others)
                hint = f"; a typo of {match!r}?" if match else ""
                notes.append(f"{source}: class {label!r} of '{self.column}' has only {int(n)} of {total} training "
                             f"rows{hint}")
        return notes[:6] + ([f"{source}: ... and {len(notes) - 6} more rare classes"] if len(notes) > 6 else [])


def drop_missing_target(df: pd.DataFrame, target: str, name: str, notes: list[str],
                        missing_values=()) -> pd.DataFrame:
    """df without its rows that have no target value (a note says how many); none at all is an error.
    missing_values (data.missing_values) are named, as they may be what emptied a label ('none')."""
    missing = df[target].isna()
    listed = f", or one of data.missing_values ({', '.join(map(repr, missing_values))})" if missing_values else ""
    if missing.all():
        raise DataError(f"{name}: target column '{target}' has no values (all {len(df)} rows are missing{listed})")
    if missing.any():
        notes.append(f"{name}: dropped {count(int(missing.sum()), 'row')} with a missing target '{target}'"
                     f"{f' (empty{listed})' if listed else ''}")
        df = df[~missing]
    return df
