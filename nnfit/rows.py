"""A data frame's feature columns as one row-major float matrix, and the training rows' column statistics.

pandas holds a frame as columns; the network wants rows. extract_rows copies the numeric columns in groups
through a small buffer (not a second full copy), in the row order a split asks for, and takes each column's
mean and standard deviation on the way, while the column is still contiguous.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .columns import blurred, first_row, is_numeric
from .errors import DataError

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
    offset: np.ndarray | None = None  # (p,) float64: numeric holds each column less this (extract_rows); None: 0

    def __len__(self) -> int:
        return len(self.lines)

    def subset(self, index) -> Rows:
        """Rows selected by a slice (numeric stays a view) or by a boolean mask / index array (copies)."""
        take = (lambda x: x[index]) if isinstance(index, slice) else (lambda x: x.iloc[index])
        target = None if self.target is None else take(self.target)
        return Rows(self.numeric[index], take(self.categorical), target, self.lines[index], self.source,
                    offset=self.offset)


def extract_rows(df: pd.DataFrame, numeric: list[str], categorical: list[str], target: str | None,
                 source: str, dtype, order: np.ndarray | None = None, stats_rows: int | None = None,
                 offset=None) -> Rows:
    """The feature columns of df as Rows, in the row order `order` (default: as they are).

    With stats_rows, Rows.stats also gets the numeric columns' (mean, std, count) over the first stats_rows
    rows of that order (column_stats), computed while each column is still contiguous.

    offset: (p,) values to subtract, in float64, from the numeric columns that df holds wider than dtype
    (columns.blurred: read in float64) before they become dtype; "mean" for the stats rows' mean of each such
    column that dtype would blur; None for nothing. Rows.offset says what was subtracted from each column.
    """
    dtypes = df.dtypes
    for c in numeric:
        if not is_numeric(dtypes[c]):
            text = df[c].astype(object).where(df[c].notna(), None).astype(str)  # as written: True, not np.True_
            bad = (pd.to_numeric(df[c], errors="coerce").isna() & df[c].notna()).to_numpy()
            if not bad.any() and not pd.api.types.is_bool_dtype(dtypes[c]):
                bad = df[c].notna().to_numpy()  # numbers, but not as the training files wrote them (1.5 for 1,5)
                raise DataError(f"{source}: column '{c}' was numeric in training, and here its numbers are written "
                                f"another way ('{text[bad].iloc[0]}' in {first_row(df.index.to_numpy(), bad)}): "
                                "write them as the training files did (their data.decimal and data.types), or "
                                "give the file's decimal mark: --decimal")
            bad = bad if bad.any() else df[c].notna().to_numpy()
            word = text[bad].iloc[0]
            hint = "; a missing value? leave the field empty (or train with data.missing_values)" if not any(
                ch.isalnum() for ch in word) else ""
            raise DataError(f"{source}: column '{c}' was numeric in training but holds text here "
                            f"('{word}' in {first_row(df.index.to_numpy(), bad)}){hint}")
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
    shift = np.zeros(len(numeric))
    for j, c in enumerate(numeric if offset is not None else []):
        if dtypes[c].itemsize <= block.itemsize:
            continue
        if isinstance(offset, str) and not (m and blurred(mean[j], std[j], dtype)):
            continue  # its statistics in dtype tell an ordinary column without a float64 pass over it
        values = df[c].to_numpy(np.float64)
        values = values if order is None else values[order]
        if isinstance(offset, str):  # "mean": centred on the statistics' rows, when dtype would blur them
            exact = column_stats(values[None, :m]) if m else None
            if exact is None or not blurred(exact[0][0], exact[1][0], dtype):
                continue
            mean[j], std[j], count[j] = (s[0] for s in exact)
            shift[j] = mean[j]
        elif offset[j] != 0:
            shift[j] = offset[j]
        else:
            continue
        with np.errstate(over="ignore"):  # beyond dtype: infinite, which encode() rejects by name
            block[:, j] = values - shift[j]
    pick = (lambda frame: frame) if order is None else (lambda frame: frame.iloc[order])
    cats = pick(df[categorical])
    lines = df.index.to_numpy() if order is None else df.index.to_numpy()[order]
    stats = (mean, std, count) if m else None
    return Rows(block, cats, None if target is None else pick(df[target]), lines, source, stats,
                shift if shift.any() else None)


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
