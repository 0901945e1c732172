"""CSV files -> Dataset: reading, column selection, target checks, splits and mini-batches.

Every problem a user can cause (a missing file, a wrong column, a target that does not fit the task) is a
DataError naming the file and the column. Preprocessing (preprocess.py) is fitted on the training split only.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .config import Config, display_path
from .errors import DataError, closest
from .preprocess import (Preprocessor, Rows, extract_rows, is_numeric, label_key, label_values, regression_values,
                         sorted_labels)

_PEEK_ROWS = 2000  # rows read first to guess which columns are numeric, so the full parse can go straight to floats


# ---- reading ----


def _open(source, name: str, role: str | None) -> io.BytesIO:
    """The CSV's bytes in memory, read once, from a path (checked to exist), a stream such as stdin, or bytes.

    pandas then parses the header, a first look and the whole from the same bytes, so a file rewritten
    meanwhile cannot mix two versions; and it never maps a file that could be truncated under it (SIGBUS).
    """
    if isinstance(source, bytes):
        data = source
    elif hasattr(source, "read"):
        data = source.read()
        data = data.encode("utf-8") if isinstance(data, str) else data
    else:
        data = read_file_bytes(source, name, role)
    head = data[:8192]
    if b"\x00" in head:
        raise DataError(f"{name}: looks like a binary file, not CSV text")
    if not head.strip():
        raise DataError(f"{name}: file is empty")
    return io.BytesIO(data)


def read_file_bytes(path: str, name: str, role: str | None = None) -> bytes:
    """A file's whole content; DataError when it is missing, a folder or unreadable."""
    if not os.path.exists(path):
        raise DataError(f"{name}: file not found" + (f" ({role} in the config)" if role else ""))
    if os.path.isdir(path):
        raise DataError(f"{name}: is a folder, expected a CSV file")
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise DataError(f"{name}: cannot read: {e.strerror}") from None


def _parse(buffer: io.BytesIO, name: str, **kw) -> pd.DataFrame:
    buffer.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            # index_col=False: a trailing comma on every row is an empty last field, not a row label
            return pd.read_csv(buffer, encoding="utf-8", index_col=False, **kw)
    except pd.errors.ParserWarning:
        raise DataError(f"{name}: some rows have more fields than the header; their extra values would be "
                        "lost (check for a stray comma or a missing header name)") from None
    except UnicodeDecodeError:
        raise DataError(f"{name}: not UTF-8 text ({_first_bad_byte(buffer)}); save the file as UTF-8") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{name}: file is empty") from None
    except pd.errors.ParserError as e:
        raise DataError(f"{name}: cannot parse CSV: {str(e).strip().splitlines()[-1]}") from None


def _first_bad_byte(buffer: io.BytesIO) -> str:
    raw = buffer.getvalue()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        return f"byte {raw[e.start]:#04x} on line {line}"
    return "an undecodable byte"


def read_csv(source, name: str, float_dtype=np.float32, exact: tuple[str, ...] = (),
             text: tuple[str, ...] = (), role: str | None = None) -> pd.DataFrame:
    """Read a CSV file (a path), stream or file content (bytes) into a data frame, rows numbered from 0 as in
    the file.

    Columns that look numeric are parsed straight to `float_dtype`, except those in `exact` (targets, pass-through
    columns), which keep pandas' own types; columns in `text` are read as text.
    """
    buffer = _open(source, name, role)
    header = _parse(buffer, name, header=None, nrows=1, dtype=str, keep_default_na=False).iloc[0].tolist()
    seen = set()
    for col in header:
        if col in seen:
            raise DataError(f"{name}: column '{col}' appears twice in the header; column names must be unique")
        seen.add(col)
    peek = _parse(buffer, name, nrows=_PEEK_ROWS)
    dtypes = {c: str for c in text if c in peek.columns}
    for c in peek.columns:  # text stays text ("true" is a category, not a boolean), numbers go straight to floats
        if c not in exact and c not in dtypes:
            dtypes[c] = float_dtype if is_numeric(peek[c]) else str
    try:
        df = _parse(buffer, name, dtype=dtypes)
    except (ValueError, TypeError):  # a column that looked numeric holds text further down
        df = _parse(buffer, name, dtype={c: str for c in text if c in peek.columns})
    if df.empty:
        raise DataError(f"{name}: has a header but no data rows")
    return df


def file_sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()  # through one reused buffer


def content_sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()  # releases the GIL while it hashes


def require_columns(df: pd.DataFrame, columns, name: str, what: str = "column") -> None:
    for c in columns:
        if c not in df.columns:
            match = closest(c, [x for x in df.columns if x not in columns])  # not one that is needed as itself
            hint = f"did you mean '{match}'? " if match else ""
            raise DataError(f"{name}: {what} '{c}' not found ({hint}columns: {_shorten(list(df.columns))})")


def _shorten(items: list, most: int = 8) -> str:
    shown = ", ".join(map(str, items[:most]))
    return shown + (f", ... ({len(items)} in all)" if len(items) > most else "")


# ---- the data set ----


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


def feature_columns(df: pd.DataFrame, data_cfg, name: str) -> list[str]:
    """The configured features, or every column except the target and the ignored ones."""
    require_columns(df, [data_cfg.target], name, "target column")
    require_columns(df, data_cfg.ignore, name, "column (in data.ignore)")
    if data_cfg.features is not None:
        require_columns(df, data_cfg.features, name, "feature column")
        return list(data_cfg.features)
    features = [c for c in df.columns if c != data_cfg.target and c not in data_cfg.ignore]
    if not features:
        raise DataError(f"{name}: no feature columns left after removing the target and data.ignore")
    return features


def drop_missing_target(df: pd.DataFrame, target: str, name: str, notes: list[str]) -> pd.DataFrame:
    missing = df[target].isna()
    if missing.all():
        raise DataError(f"{name}: target column '{target}' has no values (all {len(df)} rows are missing)")
    if missing.any():
        notes.append(f"{name}: dropped {int(missing.sum())} rows with a missing target '{target}'")
        df = df[~missing]
    return df


def fit_classes(series: pd.Series, cfg: Config, name: str) -> list | None:
    """Class labels (binary: [negative, positive]) from the training target, or None for regression."""
    target, task = cfg.data.target, cfg.task
    if task == "regression":
        y = regression_values(series, target, name)
        if np.all(y == y[0]):
            raise DataError(f"{name}: target column '{target}' is constant (every row is {y[0]:g}): nothing to learn")
        return None
    classes = sorted_labels(label_values(series))
    shown = _shorten([repr(c) for c in classes])
    if len(classes) < 2:
        raise DataError(f"{name}: target column '{target}' has only one class ({shown}); "
                        f"task '{task}' needs at least two")
    continuous = sum(isinstance(c, float) for c in classes) > 20  # many distinct non-whole numbers
    if continuous:
        raise DataError(f"{name}: target column '{target}' holds {len(classes)} distinct non-whole numbers; that "
                        f"looks like a quantity to predict, not classes (use task: regression)")
    if task == "binary":
        if len(classes) != 2:
            raise DataError(f"{name}: task 'binary' needs exactly 2 classes in '{target}', found {len(classes)}: "
                            f"{shown} (use task: multiclass)")
        if cfg.data.positive is not None:
            keys = [label_key(c) for c in classes]
            if label_key(cfg.data.positive) not in keys:
                raise DataError(f"{name}: data.positive is {cfg.data.positive!r}, which is not a label of "
                                f"'{target}' (labels: {shown})")
            if keys.index(label_key(cfg.data.positive)) == 0:
                classes = classes[::-1]
    elif len(classes) > 1000:
        raise DataError(f"{name}: target column '{target}' has {len(classes)} distinct values; that looks like a "
                        "regression target, not classes (use task: regression)")
    return classes


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


def class_weights(cfg_weight, classes: list, target: np.ndarray, name: str) -> np.ndarray | None:
    """Per-row weights (n,) from train.class_weight: 'balanced' = n / (K * count of the row's class)."""
    if cfg_weight is None:
        return None
    K = len(classes)
    if cfg_weight == "balanced":
        counts = np.bincount(target, minlength=K).astype(np.float64)
        per_class = len(target) / (K * np.maximum(counts, 1))
    else:
        keys = [label_key(c) for c in classes]
        per_class = np.ones(K)
        for label, weight in cfg_weight.items():
            if label_key(label) not in keys:
                raise DataError(f"{name}: train.class_weight names label {label!r}, which is not a class "
                                f"(classes: {_shorten([repr(c) for c in classes])})")
            per_class[keys.index(label_key(label))] = weight
    return per_class[target]


READ_ATTEMPTS = 3  # reads of a file that changes while it is read, before giving up


def load_training_data(cfg: Config, rng: np.random.Generator, cache_dir: Path | None = None) -> Dataset:
    """Read, check, split and preprocess the configured CSV files. Raises DataError before any training starts.

    Each file is read once, into memory; its sha256 (computed in a thread) and the parsed rows come from
    those same bytes. A file whose stat changed while it was read is read again.
    With data.cache on and a cache_dir, a run with the same files and data settings loads the prepared arrays
    instead (see cache.py). dataset.timing tells the seconds spent reading and preprocessing.
    """
    d = cfg.data
    started = time.perf_counter()
    paths = {role: getattr(d, role) for role in ("train", "valid", "test") if getattr(d, role) is not None}
    for attempt in range(1, READ_ATTEMPTS + 1):
        stats = {role: os.stat(p) for role, p in paths.items() if os.path.isfile(p)}
        files = {role: {"size": st.st_size, "mtime_ns": st.st_mtime_ns} for role, st in stats.items()}
        key = None
        if d.cache and cache_dir is not None and len(files) == len(paths):
            from . import cache

            now = time.time()
            fingerprints = {role: cache.fingerprint(paths[role], st, now) for role, st in stats.items()}
            key = cache.cache_key(cfg, files)
            found = cache.load(cache_dir, key)
            if found is not None and found[2] == fingerprints and None not in fingerprints.values():
                return _loaded(found[0], started)  # untouched since they were hashed: the recorded sha256 stand
            if found is not None and found[1] == _file_hashes(paths):  # same size and time, and the same bytes
                if None not in fingerprints.values():
                    cache.remember(cache_dir, key, fingerprints)
                return _loaded(found[0], started)
        try:
            frames, hashes = _read_files(paths, d.target, np.dtype(cfg.train.dtype))
        except DataError:
            if _changed_while_read(paths, stats) is None:
                raise
            frames = None  # a file changed as it was read: that may be what made it unreadable
        changed = _changed_while_read(paths, stats)
        if changed is None:
            break
        if attempt == READ_ATTEMPTS:
            raise DataError(f"data.{changed}: {display_path(paths[changed])} changed while nnfit read it, "
                            f"{READ_ATTEMPTS} times in a row; train again once it is completely written")
    read = time.perf_counter()
    data = prepare_dataset(cfg, frames, rng, hashes.get("train") or "")
    del frames
    _give_back_freed_memory()
    data.timing = {"read": read - started, "preprocess": time.perf_counter() - read}
    if key is not None:
        cache.save(cache_dir, key, data, hashes, fingerprints)
    return data


def _read_files(paths: dict[str, str], target: str, dtype) -> tuple[dict, dict]:
    """({role: (frame, display name)}, {role: sha256}): each file read once, hashed while pandas parses it."""
    frames, hashes = {}, {}
    with ThreadPoolExecutor(1) as pool:
        for role, path in paths.items():
            name = display_path(path)
            content = read_file_bytes(path, name, f"data.{role}")
            hashing = pool.submit(content_sha256, content)
            frames[role] = (read_csv(content, name, dtype, exact=(target,), role=f"data.{role}"), name)
            hashes[role] = hashing.result()
    return frames, hashes


def _changed_while_read(paths: dict[str, str], before: dict[str, os.stat_result]) -> str | None:
    """The role of a file whose stat is no longer what it was before it was read, else None.

    Every write changes a file's change time, but only to the kernel's clock tick (a few ms), so a file that
    is still being written can look unchanged; nnfit cannot tell a file that is complete from one a program
    is still writing.
    """
    for role, st in before.items():
        try:
            after = os.stat(paths[role])
        except OSError:
            return role
        if (after.st_size, after.st_mtime_ns, after.st_ctime_ns, after.st_ino, after.st_dev) != \
                (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev):
            return role
    return None


def _give_back_freed_memory() -> None:
    """Return the memory pandas' parser has freed to the operating system (glibc's malloc_trim).

    glibc keeps freed heap memory for later use, and after parsing a 130 MB CSV that is about 200 MB no
    later allocation takes (numpy maps its large arrays separately); without this, training shows it as
    resident. Elsewhere (macOS, musl) there is nothing to call, and nothing is done.
    """
    try:
        import ctypes

        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    trim(0)


def _loaded(data: Dataset, started: float) -> Dataset:
    data.timing = {"read": time.perf_counter() - started, "preprocess": 0.0}
    return data


def _file_hashes(paths: dict[str, str]) -> dict[str, str | None]:
    """sha256 of each file; None for one that cannot be read (reading it reports why)."""
    hashes = {}
    for role, path in paths.items():
        try:
            hashes[role] = file_sha256(path)
        except OSError:
            hashes[role] = None
    return hashes


def dataset_from_arrays(cfg: Config, X: np.ndarray, y: np.ndarray, rng: np.random.Generator | None = None) -> Dataset:
    """A Dataset from in-memory arrays instead of CSV files: X (n, d) numeric features, y (n,) target.

    Columns are named x0 ... x{d-1}; the config's data section applies as for a CSV (split, standardization,
    labels) except its file names. For library use and benchmarks.
    """
    frame = pd.DataFrame(np.asarray(X), columns=[f"x{i}" for i in range(np.shape(X)[1])])
    frame[cfg.data.target] = np.asarray(y)
    return prepare_dataset(cfg, {"train": (frame, "<arrays>")}, rng or np.random.default_rng(cfg.train.seed), "")


def prepare_dataset(cfg: Config, frames: dict, rng: np.random.Generator, train_sha256: str) -> Dataset:
    """Check, split and preprocess data frames: frames[role] = (frame, name) for role in train, valid, test.

    Each frame becomes one row-major float matrix right away (the training file's rows already in
    train-then-validation order, so both parts are views of it), and the frame is let go.
    """
    d, notes = cfg.data, []
    dtype = np.dtype(cfg.train.dtype)
    train_df, train_name = frames["train"]
    features = feature_columns(train_df, d, train_name)
    train_df = drop_missing_target(train_df, d.target, train_name, notes)
    classes = fit_classes(train_df[d.target], cfg, train_name)
    dtypes = train_df.dtypes
    numeric = [c for c in features if is_numeric(dtypes[c])]
    numeric_set = set(numeric)
    categorical = [c for c in features if c not in numeric_set]
    for c in categorical:  # a number column with a stray word in it is more likely a typo than categories
        values = train_df[c].dropna()
        as_numbers = pd.to_numeric(values, errors="coerce")
        stray = as_numbers.isna()
        if 0 < stray.sum() <= max(1, len(values) // 20) and stray.sum() < len(values):
            notes.append(f"{train_name}: column '{c}' is treated as text categories because of "
                         f"{int(stray.sum())} value(s) that are not numbers ({values[stray].iloc[0]!r} in row "
                         f"{int(values.index[np.argmax(stray.to_numpy())]) + 1}); fix them, or list the column in data.ignore")
    rows: dict[str, Rows | None] = {"train": None, "valid": None, "test": None}
    for role in ("valid", "test"):
        if frames.get(role) is not None:
            df, name = frames[role]
            require_columns(df, [d.target], name, "target column")
            require_columns(df, features, name, "feature column")
            df = drop_missing_target(df, d.target, name, notes)
            rows[role] = extract_rows(df, numeric, categorical, d.target, name, dtype)
    # a bare Preprocessor knows the classes, so it can encode targets before the features are fitted
    probe = Preprocessor(cfg.task, d.target, [], [], [], [], [], {}, {}, d.missing, classes)
    order, n_train = None, len(train_df)
    if rows["valid"] is None and d.valid_fraction > 0:
        labels = None if classes is None else probe.encode_target(train_df[d.target], train_name)
        rows_train, rows_valid = stratified_split(len(train_df), labels, d.valid_fraction, rng)
        if len(rows_valid) == 0:
            notes.append(f"{train_name}: too few rows to hold out {d.valid_fraction:g} for validation; training without")
        order, n_train = np.concatenate([rows_train, rows_valid]), len(rows_train)
    whole = extract_rows(train_df, numeric, categorical, d.target, train_name, dtype, order, stats_rows=n_train)
    frames.clear()  # the parsed frames are no longer needed: let them go before training allocates
    train_df = None
    rows["train"] = whole.subset(slice(0, n_train))
    rows["train"].stats = whole.stats  # computed over exactly these rows
    if n_train < len(whole):
        rows["valid"] = whole.subset(slice(n_train, None))
        rows["valid"].source = f"{train_name} (validation split)"
    if cfg.train.early_stopping is not None and rows["valid"] is None:
        raise DataError(f"{train_name}: train.early_stopping needs validation rows, and there are none")
    if d.missing == "drop":
        for role, part in rows.items():
            if part is not None:
                rows[role] = _drop_incomplete(part, notes)
    target = probe.encode_target(rows["train"].target, train_name)
    prep = Preprocessor.fit(rows["train"], numeric, categorical, d, cfg.task, classes, target)
    if len(rows["train"]) < prep.n_features:
        raise DataError(f"{train_name}: {len(rows['train'])} training rows but {prep.n_features} input features "
                        f"(after one-hot encoding); that many weights cannot be learned from so few rows: add rows, "
                        "or drop columns with data.ignore or data.features")
    splits = {}
    for role, part in rows.items():
        if part is not None:
            X, encode_notes = prep.encode(part)
            notes += encode_notes
            t = target if role == "train" else prep.encode_target(part.target, part.source)
            splits[role] = Split(X, prep.target_array(t, dtype), t, part.source)
    splits["train"].w = None if classes is None else class_weights(cfg.train.class_weight, classes, target, train_name)
    return Dataset(splits["train"], splits.get("valid"), splits.get("test"), prep, train_sha256, notes)


def _drop_incomplete(rows: Rows, notes: list[str]) -> Rows:
    incomplete = np.isnan(rows.numeric).any(axis=1) | rows.categorical.isna().any(axis=1).to_numpy()
    if incomplete.any():
        if incomplete.all():
            raise DataError(f"{rows.source}: every row has a missing feature value, and data.missing is 'drop'")
        notes.append(f"{rows.source}: dropped {int(incomplete.sum())} rows with missing feature values (data.missing: drop)")
        rows = rows.subset(~incomplete)
    return rows


def load_features(prep: Preprocessor, source, name: str, dtype, keep=(), need_target=False):
    """A CSV to predict on or evaluate: (data frame, X (n, d), notes). Needs every feature column."""
    exact = tuple(keep) + ((prep.target,) if need_target else ())
    df = read_csv(source, name, dtype, exact=exact, text=tuple(prep.categorical))
    require_columns(df, prep.columns, name, "feature column")
    require_columns(df, keep, name, "column (in --keep)")
    notes = []
    if need_target:
        require_columns(df, [prep.target], name, "target column")
        df = drop_missing_target(df, prep.target, name, notes)
    X, transform_notes = prep.transform(df, name, dtype)
    return df, X, notes + transform_notes

