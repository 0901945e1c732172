"""From a data frame to the network's input matrix, fitted on the training split only, stored with the model.

Features: numeric columns are imputed (train mean) and standardized (train mean and standard deviation);
other columns are one-hot encoded with the categories seen in training, an unseen category encoding as all
zeros. The target: a regression target is standardized when data.scale_target is on (and put back in its own
units by target_values), class labels become indices (labels.Target). Everything fitted is plain JSON
(to_dict / from_dict), so `predict` applies exactly the same transformation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd

from .columns import first_row
from .errors import DataError, count
from .labels import Target
from .rows import Rows, column_stats, extract_rows

@dataclass
class Preprocessor:
    task: str
    target: str
    numeric: list[str]  # numeric feature columns, in input order
    categorical: list[str]  # non-numeric feature columns, one-hot encoded after the numeric ones
    fill: list[float]  # per numeric column: the training mean, used to impute
    center: list[float]  # per numeric column: subtracted (the mean, or 0 without standardize)
    scale: list[float]  # per numeric column: divided by (the std, or 1 without standardize or when constant)
    categories: dict[str, list[str]]  # per categorical column: its categories with an input each, in one-hot order
    mode: dict[str, str]  # per categorical column: the most frequent category, used to impute
    missing: str  # impute | drop | error, as configured
    classes: list | None = None  # classification: labels by class index; binary: [negative, positive]
    target_center: float = 0.0  # regression: target = z * target_scale + target_center
    target_scale: float = 1.0
    feature_names: list[str] = field(default_factory=list)  # one per network input
    other: dict[str, bool] = field(default_factory=dict)  # per categorical column: whether it has an 'other' input
    sep: str = ","  # how the files write their fields (data.sep, data.decimal, data.types, data.missing_values),
    decimal: str = "."  # for predict too
    types: dict[str, str] = field(default_factory=dict)
    missing_values: list[str] = field(default_factory=list)
    strip: bool = False  # spaces around names and values are not part of them (csvfiles.read_csv); not in earlier models
    percent: list[str] | None = None  # data.types numeric columns written as percentages (12%); None: not known
    # per numeric column: subtracted in float64 before the values became the model's dtype (the columns that
    # dtype would blur: columns.blurred), 0 for the others; [] when there are none (and in earlier models)
    offset: list[float] = field(default_factory=list)
    # data.types date columns written as numbers (05/01/2023): whether day first, as the training files were read
    dayfirst: dict[str, bool] = field(default_factory=dict)

    # ---- fitting ----

    @classmethod
    def fit(cls, rows: Rows, numeric: list[str], categorical: list[str], data_cfg, task: str,
            classes: list | None, target: np.ndarray | None, percent=()) -> tuple[Preprocessor, list[str]]:
        """Fit on the training split; returns it and notes (categories folded into 'other').
        target: (n,) regression values (for scale_target), else None; percent: as the field."""
        fill, center, scale, notes = [], [], [], []
        if numeric:
            mean, std, present = rows.stats if rows.stats is not None else column_stats(rows.numeric.T)
            if rows.stats is None and rows.offset is not None:  # the statistics of rows.numeric, less the offset
                mean = mean + rows.offset
            for j, (c, m, s, k) in enumerate(zip(numeric, mean, std, present)):
                if k == 0:
                    raise DataError(f"{rows.source}: column '{c}' has no values (all "
                                    f"{count(len(rows), 'training row')} are missing)")
                if not (np.isfinite(m) and np.isfinite(s)) and not np.isinf(rows.numeric[:, j]).any():
                    raise DataError(f"{rows.source}: column '{c}' has values too large to standardize (their squares "
                                    "overflow float64); rescale the column")
                fill.append(float(m))
                center.append(float(m) if data_cfg.standardize else 0.0)
                scale.append(float(s) if data_cfg.standardize and s > 0 else 1.0)
        categories, mode, other = {}, {}, {}
        most = data_cfg.max_categories
        for c in categorical:
            values = rows.categorical[c].dropna().astype(str)
            if values.empty:
                raise DataError(f"{rows.source}: column '{c}' has no values (all "
                                f"{count(len(rows), 'training row')} are missing)")
            counts = values.value_counts()
            mode[c] = str(counts[counts == counts.max()].index.sort_values()[0])
            other[c] = len(counts) > most
            if other[c]:  # the most frequent keep an input each (ties by name), the rest share one
                kept = sorted(counts.index, key=lambda v: (-counts[v], v))[:most]
                share = 1 - counts[kept].sum() / counts.sum()
                unique = "; a value per row, as an id or free text has: list it in data.ignore" if len(counts) == len(
                    values) else ""  # each category seen once: there is nothing to learn from it
                notes.append(f"{rows.source}: column '{c}' has {len(counts)} categories in the training rows; the "
                             f"{most} most frequent have an input each and the other {len(counts) - most} ({share:.0%} "
                             f"of the rows) share one 'other' input (data.max_categories: {most}){unique}")
                categories[c] = sorted(kept)
            else:
                categories[c] = sorted(counts.index.tolist())
        names = list(numeric) + [f"{c}={v}" for c in categorical for v in categories[c] + (["<other>"] if other[c] else [])]
        t_center, t_scale = 0.0, 1.0
        if task == "regression" and data_cfg.scale_target:
            with np.errstate(over="ignore", invalid="ignore"):
                t_center, t_scale = float(np.mean(target)), float(np.std(target))
            if not (math.isfinite(t_center) and math.isfinite(t_scale)):
                row = int(np.argmax(np.abs(target)))
                raise DataError(f"{rows.source}: target column '{data_cfg.target}' cannot be standardized in float64: "
                                f"its values reach {target[row]:g} (in row {int(rows.lines[row]) + 1}); rescale the "
                                "column (or divide it by a power of ten)")
            t_scale = t_scale if t_scale > 0 else 1.0
        return cls(task=task, target=data_cfg.target, numeric=list(numeric), categorical=list(categorical),
                   fill=fill, center=center, scale=scale, categories=categories, mode=mode,
                   missing=data_cfg.missing, classes=classes, target_center=t_center, target_scale=t_scale,
                   feature_names=names, other=other, sep=data_cfg.sep, decimal=data_cfg.decimal,
                   types=dict(data_cfg.types), missing_values=list(data_cfg.missing_values), strip=True,
                   percent=list(percent),
                   offset=[] if rows.offset is None else rows.offset.tolist()), notes

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
        return self.encode(extract_rows(df, self.numeric, self.categorical, None, source, dtype,
                                        offset=self.offset or None))

    @property
    def wide(self) -> list[str]:
        """The numeric columns to read in float64: their offset is subtracted there, as in training."""
        return [c for c, o in zip(self.numeric, self.offset) if o != 0]

    def encode(self, rows: Rows) -> tuple[np.ndarray, list[str]]:
        """Features of Rows, (n, n_features), computed in rows.numeric's memory where it can be; and notes."""
        notes, source = [], rows.source
        block, p = rows.numeric, len(self.numeric)
        shift = 0.0 if rows.offset is None else rows.offset  # rows.numeric holds each column less its offset
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
                    np.copyto(block, np.asarray(np.subtract(self.fill, shift), block.dtype)[None, :], where=missing)
                    notes.append(f"{source}: imputed {int(missing.sum())} missing values in "
                                 f"{_names([self.numeric[j] for j in cols])} with the training mean")
            block -= np.asarray(np.subtract(self.center, shift), block.dtype)  # 0 where rows.numeric is centred
            block *= np.asarray([1.0 / s for s in self.scale], block.dtype)
        if not self.categorical:
            return block, notes
        X = np.zeros((len(rows), self.n_features), block.dtype)
        X[:, :p] = block
        offset = p
        for c in self.categorical:
            cats = self.categories[c]
            folds = self.other.get(c, False)
            present = rows.categorical[c].notna().to_numpy()
            if not present.all():
                self._missing_allowed(c, ~present, rows)
                notes.append(f"{source}: imputed {int((~present).sum())} missing values in '{c}' with '{self.mode[c]}'")
            values = rows.categorical[c].astype(object).where(present, self.mode[c]).astype(str)
            codes = pd.Index(cats).get_indexer(values)  # -1 for a category without an input of its own
            unseen = codes < 0
            if folds:  # rare in training, or unseen: the 'other' input
                codes[unseen] = len(cats)
                unseen[:] = False
            elif unseen.any():
                examples = ", ".join(repr(v) for v in pd.unique(values[unseen])[:3])
                notes.append(f"{source}: column '{c}': {int(unseen.sum())} rows have categories not seen in "
                             f"training ({examples}), encoded as all zeros")
            hit = np.flatnonzero(~unseen)
            X[hit, offset + codes[hit]] = 1
            offset += len(cats) + folds
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
        """The fields as plain lists and dicts, copied (dataclasses.asdict deep-copies every number, a cost
        every save of a wide table would pay)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict) -> Preprocessor:
        """What to_dict wrote; ValueError or TypeError, naming the field, for anything else (a model.json
        edited by hand or written by another program)."""
        prep = cls(**d)
        names = lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v)  # noqa: E731
        numbers = lambda v, n: (isinstance(v, list) and len(v) == n and all(  # noqa: E731
            isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v))
        checks = {
            "task": prep.task in ("regression", "binary", "multiclass"), "target": isinstance(prep.target, str),
            "numeric": names(prep.numeric), "categorical": names(prep.categorical),
            "fill": numbers(prep.fill, len(prep.numeric)), "center": numbers(prep.center, len(prep.numeric)),
            "scale": numbers(prep.scale, len(prep.numeric)) and all(x != 0 for x in prep.scale),
            "categories": isinstance(prep.categories, dict) and all(names(prep.categories.get(c)) for c in prep.categorical),
            "mode": isinstance(prep.mode, dict) and all(isinstance(prep.mode.get(c), str) for c in prep.categorical),
            "classes": (prep.classes is None) == (prep.task == "regression") and (
                prep.classes is None or (isinstance(prep.classes, list) and len(prep.classes) >= 2)),
            "target_center": numbers([prep.target_center], 1),
            "target_scale": numbers([prep.target_scale], 1) and prep.target_scale != 0,
            "other": isinstance(prep.other, dict), "types": isinstance(prep.types, dict),
            "sep": isinstance(prep.sep, str) and len(prep.sep) in (1, 4), "decimal": prep.decimal in (".", ","),
            "offset": prep.offset == [] or numbers(prep.offset, len(prep.numeric)),
            "missing_values": names(prep.missing_values), "strip": isinstance(prep.strip, bool),
            "percent": prep.percent is None or names(prep.percent),
            "dayfirst": isinstance(prep.dayfirst, dict) and all(isinstance(v, bool) for v in prep.dayfirst.values()),
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"preprocessing.{bad[0]} is {getattr(prep, bad[0])!r}")
        if len(prep.feature_names) != len(prep.numeric) + sum(len(prep.categories[c]) + bool(prep.other.get(c))
                                                            for c in prep.categorical):
            raise ValueError("preprocessing.feature_names does not match its columns and categories")
        return prep


def _plain(value):
    """A copy of a field's lists and dicts; the numbers and strings in them are immutable, so they are shared."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _names(cols: list[str]) -> str:
    shown = ", ".join(f"'{c}'" for c in cols[:5])
    return shown + (f" and {len(cols) - 5} more" if len(cols) > 5 else "")
