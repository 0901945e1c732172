"""What to tell the user about the training data before a network sees it.

Columns read as categories that look like numbers or dates, whole numbers that look like codes, a regression
target with a value far from the others, and whether the one-hot encoded inputs fit in memory at all. Each
note names the column and the setting that would change it; nothing here prints (check and train show them).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from .columns import looks_like_dates, looks_numeric
from .errors import DataError, shorten

PLACEHOLDERS = 3  # a number column's distinct non-numbers, at most, that may be placeholders for a missing value
PLACEHOLDER_SHARE = 0.2  # ... and their share of its values, at most (more: a column of words and numbers)
CODE_SHARE = 0.5  # whole numbers that are nearly all distinct ...
CODE_MIN = 100  # ... and at least this many distinct values look like codes (ids, zip codes)
OUTLIER_SIGMAS = 10  # a regression target this many standard deviations from its mean is worth a look
MEMORY_SHARE = 0.8  # of the memory available now that the network's input matrices may take


def column_notes(df: pd.DataFrame, numeric: list[str], categorical: list[str], types: dict, decimal: str,
                 name: str) -> list[str]:
    """Notes about feature columns whose type is probably not the one they were read as."""
    notes = []
    for c in categorical:
        if c in types:
            continue
        values = df[c].dropna()
        fix = looks_numeric(values, decimal, df.attrs.get("sep", ","))
        if fix:
            written = values[pd.to_numeric(values, errors="coerce").isna()]  # one that needs the fix, not '9'
            notes.append(f"{name}: column '{c}' is read as text categories but looks numeric "
                         f"({(written if len(written) else values).iloc[0]!r}); "
                         f"to read it as numbers set {fix.replace('COLUMN', c)}")
            continue
        if looks_like_dates(values):
            notes.append(f"{name}: column '{c}' holds dates ({values.iloc[0]!r}), read as text categories; to use "
                         f"them as a number (days) set data.types: {{{c}: date}}")
            continue
        stray = pd.to_numeric(values, errors="coerce").isna()  # a number column with a stray word in it
        tokens = values[stray].astype(str).str.strip().unique()[:PLACEHOLDERS + 1]
        placeholders = len(tokens) <= PLACEHOLDERS and stray.sum() <= PLACEHOLDER_SHARE * len(values)  # '?', '-'
        if 0 < stray.sum() < len(values) and (stray.sum() <= max(1, len(values) // 20) or placeholders):
            fix = (f"if they mean a missing value, set data.missing_values: [{', '.join(map(repr, tokens))}]; else "
                   "fix them" if placeholders else "fix them")
            notes.append(f"{name}: column '{c}' is treated as text categories because of {int(stray.sum())} "
                         f"value(s) that are not numbers ({values[stray].iloc[0]!r} in row "
                         f"{int(values.index[np.argmax(stray.to_numpy())]) + 1}); {fix}, or list the column in "
                         "data.ignore")
    for c in numeric:
        if c in types:
            continue
        values = df[c].dropna().to_numpy(np.float64)
        if len(values) and any(lo <= values.min() and values.max() <= 4 * lo for lo in (1e9, 1e12)):
            continue  # unix times, in seconds or milliseconds (2001 to 2096), not codes
        distinct = len(np.unique(values))
        if distinct >= CODE_MIN and distinct >= CODE_SHARE * len(values) and np.all(np.mod(values, 1) == 0):
            notes.append(f"{name}: column '{c}' holds {distinct} distinct whole numbers, read as a quantity; if they "
                         f"are codes (ids, zip codes), set data.types: {{{c}: categorical}} or list it in data.ignore")
    return notes


def target_outlier(target: np.ndarray, lines: np.ndarray) -> tuple[str, float] | None:
    """A regression target's value so far from the rest that it dominates the scaling and the loss:
    ("1e+30 in row 6", its distance from the mean in standard deviations), or None."""
    spread = float(np.std(target))
    if not spread > 0:
        return None
    z = np.abs(target - np.mean(target)) / spread
    row = int(np.argmax(z))
    return (f"{target[row]:g} in row {int(lines[row]) + 1}", float(z[row])) if z[row] >= OUTLIER_SIGMAS else None


def widest(prep) -> str:
    """The categorical columns that take the most inputs, for a message: "zip (5,000), city (140)"."""
    width = {c: len(prep.categories[c]) + bool(prep.other.get(c)) for c in prep.categorical}
    top = sorted(width, key=lambda c: -width[c])
    return shorten([f"{c} ({width[c]:,} inputs)" for c in top], 3)


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation now (Linux: MemAvailable), or None when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(rows: int, prep, dtype, name: str, copies: float = 2.0) -> None:
    """Refuse, before building it, an input matrix (rows x inputs, `copies` times over: training shuffles a
    copy) larger than the memory available."""
    need = rows * prep.n_features * np.dtype(dtype).itemsize * copies
    have = available_memory()
    if have is not None and need > MEMORY_SHARE * have:
        where = f"; most of them from {widest(prep)}" if prep.categorical else ""
        raise DataError(f"{name}: {rows:,} rows x {prep.n_features:,} inputs would take {need / 1e9:.1f} GB, more "
                        f"than the {have / 1e9:.1f} GB of memory available{where}: lower data.max_categories, or "
                        "leave columns out with data.ignore")
