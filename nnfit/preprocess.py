"""From a data frame to the network's input matrix, fitted on the training split only, stored with the model.

Features: numeric columns are imputed (train mean) and standardized (train mean and standard deviation);
other columns are one-hot encoded with the categories seen in training, an unseen category encoding as all
zeros. The target: a regression target is standardized when data.scale_target is on (and put back in its own
units by target_values), class labels become indices (labels.Target). Everything fitted is plain JSON
(to_dict / from_dict), so `predict` applies exactly the same transformation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from .csvfiles import first_row, is_numeric
from .errors import DataError
from .labels import Target

_CHUNK = 65536  # values per column at a time when statistics need float64 copies (missing values)
_GROUP = 16  # columns per group when turning pandas' columns into a row-major matrix


@dataclass
class Rows:
    """Rows of a CSV, split once into what preprocessing needs."""

    numeric: np.ndarray  # (n, p) the numeric feature columns, row-major; encode() works on it in place
    categorical: pd.DataFrame  # (n, c) the other feature columns, as text (c may be 0)
    target: pd.Series | None  # (n,) the target column, when there is one
    lines: np.ndarray  # (n,) 0-based data-row number of each row in its file, for messages
    source: str
    stats: tuple | None = None  # numeric columns' (mean, std, count) of these rows, when extract_rows computed them

    def __len__(self) -> int:
        return len(self.lines)

    def subset(self, index) -> Rows:
        """Rows selected by a slice (numeric stays a view) or by a boolean mask / index array (copies)."""
        take = (lambda x: x[index]) if isinstance(index, slice) else (lambda x: x.iloc[index])
        target = None if self.target is None else take(self.target)
        return Rows(self.numeric[index], take(self.categorical), target, self.lines[index], self.source)


def extract_rows(df: pd.DataFrame, numeric: list[str], categorical: list[str], target: str | None,
                 source: str, dtype, order: np.ndarray | None = None, stats_rows: int | None = None) -> Rows:
    """The feature columns of df as Rows, in the row order `order` (default: as they are).

    With stats_rows, Rows.stats also gets the numeric columns' (mean, std, count) over the first stats_rows
    rows of that order (column_stats), computed while each column is still contiguous.
    """
    dtypes = df.dtypes
    for c in numeric:
        if not is_numeric(dtypes[c]):
            bad = (pd.to_numeric(df[c], errors="coerce").isna() & df[c].notna()).to_numpy()
            raise DataError(f"{source}: column '{c}' was numeric in training but holds text here "
                            f"({df[c][bad].iloc[0]!r} in {first_row(df.index.to_numpy(), bad)})")
    n = len(df) if order is None else len(order)
    block = np.empty((n, len(numeric)), dtype)
    m = 0 if stats_rows is None else min(stats_rows, n)
    mean, std, count = np.zeros(len(numeric)), np.zeros(len(numeric)), np.zeros(len(numeric))
    if numeric:  # pandas holds columns; copy them in groups through a small buffer, not a second full copy
        group = np.empty((_GROUP, len(df)), dtype)
        picked = group if order is None else np.empty((_GROUP, n), dtype)
        for j in range(0, len(numeric), _GROUP):
            names = numeric[j:j + _GROUP]
            for k, c in enumerate(names):
                group[k] = df[c].to_numpy(dtype, copy=False)
            if order is not None:
                np.take(group, order, axis=1, out=picked)
            if m:  # while each column is contiguous
                mean[j:j + len(names)], std[j:j + len(names)], count[j:j + len(names)] = \
                    column_stats(picked[:len(names), :m])
            block[:, j:j + len(names)] = picked[:len(names)].T  # each row gets len(names) adjacent values
    pick = (lambda frame: frame) if order is None else (lambda frame: frame.iloc[order])
    cats = pick(df[categorical])
    lines = df.index.to_numpy() if order is None else df.index.to_numpy()[order]
    stats = (mean, std, count) if m else None
    return Rows(block, cats, None if target is None else pick(df[target]), lines, source, stats)


@dataclass
class Preprocessor:
    task: str
    target: str
    numeric: list[str]  # numeric feature columns, in input order
    categorical: list[str]  # non-numeric feature columns, one-hot encoded after the numeric ones
    fill: list[float]  # per numeric column: the training mean, used to impute
    center: list[float]  # per numeric column: subtracted (the mean, or 0 without standardize)
    scale: list[float]  # per numeric column: divided by (the std, or 1 without standardize or when constant)
    categories: dict[str, list[str]]  # per categorical column: categories seen in training, in one-hot order
    mode: dict[str, str]  # per categorical column: the most frequent category, used to impute
    missing: str  # impute | drop | error, as configured
    classes: list | None = None  # classification: labels by class index; binary: [negative, positive]
    target_center: float = 0.0  # regression: target = z * target_scale + target_center
    target_scale: float = 1.0
    feature_names: list[str] = field(default_factory=list)  # one per network input

    # ---- fitting ----

    @classmethod
    def fit(cls, rows: Rows, numeric: list[str], categorical: list[str], data_cfg, task: str,
            classes: list | None, target: np.ndarray | None) -> Preprocessor:
        """Fit on the training split. target: (n,) regression values (for scale_target), else None."""
        fill, center, scale = [], [], []
        if numeric:
            mean, std, count = rows.stats if rows.stats is not None else column_stats(rows.numeric.T)
            for c, m, s, k in zip(numeric, mean, std, count):
                if k == 0:
                    raise DataError(f"{rows.source}: column '{c}' has no values (all {len(rows)} rows are missing)")
                fill.append(float(m))
                center.append(float(m) if data_cfg.standardize else 0.0)
                scale.append(float(s) if data_cfg.standardize and s > 0 else 1.0)
        categories, mode = {}, {}
        for c in categorical:
            values = rows.categorical[c].dropna().astype(str)
            if values.empty:
                raise DataError(f"{rows.source}: column '{c}' has no values (all {len(rows)} rows are missing)")
            counts = values.value_counts()
            categories[c] = sorted(counts.index.tolist())
            mode[c] = str(counts[counts == counts.max()].index.sort_values()[0])
        names = list(numeric) + [f"{c}={v}" for c in categorical for v in categories[c]]
        t_center, t_scale = 0.0, 1.0
        if task == "regression" and data_cfg.scale_target:
            t_center, t_scale = float(np.mean(target)), float(np.std(target))
            t_scale = t_scale if t_scale > 0 else 1.0
        return cls(task=task, target=data_cfg.target, numeric=list(numeric), categorical=list(categorical),
                   fill=fill, center=center, scale=scale, categories=categories, mode=mode,
                   missing=data_cfg.missing, classes=classes, target_center=t_center, target_scale=t_scale,
                   feature_names=names)

    @property
    def columns(self) -> list[str]:
        """The raw feature columns a CSV must have."""
        return self.numeric + self.categorical

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def n_outputs(self) -> int:
        return len(self.classes) if self.task == "multiclass" else 1

    # ---- features ----

    def transform(self, df: pd.DataFrame, source: str, dtype=np.float32) -> tuple[np.ndarray, list[str]]:
        """Features of every row of a data frame, (n, n_features), and notes (imputed values, unseen categories)."""
        return self.encode(extract_rows(df, self.numeric, self.categorical, None, source, dtype))

    def encode(self, rows: Rows) -> tuple[np.ndarray, list[str]]:
        """Features of Rows, (n, n_features), computed in rows.numeric's memory where it can be; and notes."""
        notes, source = [], rows.source
        block, p = rows.numeric, len(self.numeric)
        if p:
            finite = np.isfinite(block)
            if not finite.all():
                missing = np.isnan(block)
                infinite = ~finite & ~missing
                if infinite.any():
                    j = int(np.argmax(infinite.any(axis=0)))
                    raise DataError(f"{source}: column '{self.numeric[j]}' holds infinite values "
                                    f"({int(infinite[:, j].sum())} rows, first in {first_row(rows.lines, infinite[:, j])})")
                if missing.any():
                    cols = np.flatnonzero(missing.any(axis=0))
                    self._missing_allowed(self.numeric[cols[0]], missing[:, cols[0]], rows)
                    np.copyto(block, np.asarray(self.fill, block.dtype)[None, :], where=missing)
                    notes.append(f"{source}: imputed {int(missing.sum())} missing values in "
                                 f"{_names([self.numeric[j] for j in cols])} with the training mean")
            block -= np.asarray(self.center, block.dtype)
            block *= np.asarray([1.0 / s for s in self.scale], block.dtype)
        if not self.categorical:
            return block, notes
        X = np.zeros((len(rows), self.n_features), block.dtype)
        X[:, :p] = block
        offset = p
        for c in self.categorical:
            cats = self.categories[c]
            present = rows.categorical[c].notna().to_numpy()
            if not present.all():
                self._missing_allowed(c, ~present, rows)
                notes.append(f"{source}: imputed {int((~present).sum())} missing values in '{c}' with '{self.mode[c]}'")
            values = rows.categorical[c].astype(object).where(present, self.mode[c]).astype(str)
            codes = pd.Index(cats).get_indexer(values)  # -1 for a category unseen in training
            unseen = codes < 0
            if unseen.any():
                examples = ", ".join(repr(v) for v in pd.unique(values[unseen])[:3])
                notes.append(f"{source}: column '{c}': {int(unseen.sum())} rows have categories not seen in "
                             f"training ({examples}), encoded as all zeros")
            hit = np.flatnonzero(~unseen)
            X[hit, offset + codes[hit]] = 1
            offset += len(cats)
        return X, notes

    def _missing_allowed(self, column: str, missing: np.ndarray, rows: Rows) -> None:
        if self.missing == "error":
            raise DataError(f"{rows.source}: column '{column}' has {int(missing.sum())} missing values (first in "
                            f"{first_row(rows.lines, missing)}); data.missing is 'error' (choose impute or drop to accept them)")

    # ---- target ----

    @property
    def labels(self) -> Target:
        return Target(self.task, self.target, self.classes)

    def encode_target(self, series: pd.Series, source: str) -> np.ndarray:
        """(n,) regression values as float64, or class indices for classification (labels.Target.encode)."""
        return self.labels.encode(series, source)

    def target_array(self, target: np.ndarray, dtype) -> np.ndarray:
        """What the loss compares the logits with, (n, k): see losses.py."""
        if self.task == "regression":
            return ((target - self.target_center) / self.target_scale).astype(dtype)[:, None]
        if self.task == "binary":
            return target.astype(dtype)[:, None]
        return np.eye(len(self.classes), dtype=dtype)[target]

    def target_values(self, z: np.ndarray) -> np.ndarray:
        """Regression: the network's outputs (n, 1) back in the target's own units, float64 (n,)."""
        return z[:, 0].astype(np.float64) * self.target_scale + self.target_center

    # ---- storage ----

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Preprocessor:
        return cls(**d)


def column_stats(columns: np.ndarray):
    """Mean, standard deviation and count of the non-missing values of each row of columns (p, n): one row per
    feature column. Sums in float64; the deviations of float32 values are squared in float32."""
    p, n = columns.shape
    with np.errstate(invalid="ignore", over="ignore"):  # infinite values are rejected by encode()
        if not np.isnan(columns).any():  # the common case: one pass for the mean, one for the deviations
            mean = columns.mean(axis=1, dtype=np.float64) if n else np.zeros(p)
            d = columns - mean.astype(columns.dtype)[:, None]
            d *= d  # a huge column's spread overflows to inf
            return mean, np.sqrt(d.sum(axis=1, dtype=np.float64) / max(n, 1)), np.full(p, n)
        total, count = np.zeros(p), np.zeros(p)
        for s in range(0, n, _CHUNK):
            chunk = columns[:, s:s + _CHUNK].astype(np.float64)
            present = ~np.isnan(chunk)
            count += present.sum(axis=1)
            total += np.where(present, chunk, 0).sum(axis=1)
        mean = total / np.maximum(count, 1)
        squares = np.zeros(p)
        for s in range(0, n, _CHUNK):
            d = columns[:, s:s + _CHUNK].astype(np.float64) - mean[:, None]
            squares += np.where(np.isnan(d), 0, d * d).sum(axis=1)
    return mean, np.sqrt(squares / np.maximum(count, 1)), count


def _names(cols: list[str]) -> str:
    shown = ", ".join(f"'{c}'" for c in cols[:5])
    return shown + (f" and {len(cols) - 5} more" if len(cols) > 5 else "")
