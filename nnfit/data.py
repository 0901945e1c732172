"""CSV files -> Dataset: column selection, target checks, splits and class weights (reading is csvfiles.py).

Every problem a user can cause (a missing file, a wrong column, a target that does not fit the task) is a
DataError naming the file and the column. Preprocessing (preprocess.py) is fitted on the training split only.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from . import cache
from .config import Config
from .columns import is_numeric
from .csvfiles import (changed_since, file_hashes, give_back_freed_memory, read_as_written, read_csv, read_files,
                       read_source)
from .datanotes import check_memory, column_notes, target_outlier, widest
from .dataset import Dataset, Split
from .errors import DataError, count, display_path
from .headers import feature_columns, require_columns
from .labels import Target, drop_missing_target
from .preprocess import Preprocessor, Rows, extract_rows
from .splits import class_weights, kfold, stratified_split


# ---- checks ----


READ_ATTEMPTS = 3  # reads of a file that changes while it is read, before giving up


def load_training_data(cfg: Config, rng: np.random.Generator, cache_dir: Path | None = None,
                       memory: bool = False) -> Dataset:
    """Read, check, split and preprocess the configured CSV files. Raises DataError before any training starts.

    Each file is read once, into memory; its sha256 (computed in a thread) and the parsed rows come from
    those same bytes. A file whose stat changed while it was read is read again.
    With data.cache on and a cache_dir, a run with the same files and data settings loads the prepared arrays
    instead (see cache.py). With memory, this process keeps what it prepared, and a later call with the same
    files and settings gets it back without reading (cache.recall), and a call with other settings for the
    same files (another seed, another fold) gets the parsed files back (cache.recall_parsed). dataset.timing
    tells the seconds spent reading and preprocessing.
    """
    d = cfg.data
    started = time.perf_counter()
    paths = {role: getattr(d, role) for role in ("train", "valid", "test") if getattr(d, role) is not None}
    for attempt in range(1, READ_ATTEMPTS + 1):
        stats = {role: os.stat(p) for role, p in paths.items() if os.path.isfile(p)}
        files = {role: {"size": st.st_size, "mtime_ns": st.st_mtime_ns} for role, st in stats.items()}
        key = None
        on_disk = d.cache and cache_dir is not None
        if (on_disk or memory) and len(files) == len(paths):
            now = time.time()
            fingerprints = {role: cache.fingerprint(paths[role], st, now) for role, st in stats.items()}
            key = cache.cache_key(cfg, files)
            found = cache.recall(key, fingerprints) if memory else None
            if found is not None:
                return _loaded(found, started)
            found = cache.load(cache_dir, key) if on_disk else None
            if found is not None and found[2] == fingerprints and None not in fingerprints.values():
                return _kept(found[0], started, memory, key, fingerprints)  # untouched since they were hashed
            if found is not None and found[1] == file_hashes(paths):  # same size and time, and the same bytes
                if None not in fingerprints.values():
                    cache.remember(cache_dir, key, fingerprints)
                return _kept(found[0], started, memory, key, fingerprints)
        parsed_key = cache.parse_key(paths, reading(cfg), files) if memory and key is not None else None
        parsed = cache.recall_parsed(parsed_key, fingerprints) if parsed_key is not None else None
        if parsed is not None:  # the same files, parsed by this process for an earlier seed or fold
            frames, hashes = parsed
            break
        try:
            frames, hashes = read_files(paths, reading(cfg))
            changed = changed_since(paths, stats)
        except DataError:
            changed = changed_since(paths, stats)  # a change as it was read may be what made it unreadable
            if changed is None:
                raise
        if changed is None:
            if parsed_key is not None:
                cache.keep_parsed(parsed_key, fingerprints, frames, hashes)
            break
        if attempt == READ_ATTEMPTS:
            raise DataError(f"data.{changed}: {display_path(paths[changed])} changed while nnfit read it, "
                            f"{READ_ATTEMPTS} times in a row; train again once it is completely written")
    read = time.perf_counter()
    data = prepare_dataset(cfg, frames, rng, hashes.get("train") or "")
    del frames
    give_back_freed_memory()
    data.timing = {"read": read - started, "preprocess": time.perf_counter() - read}
    if key is not None and on_disk:
        cache.save(cache_dir, key, data, hashes, fingerprints)
    if key is not None and memory:
        cache.keep(key, fingerprints, data)
    return data


def _loaded(data: Dataset, started: float) -> Dataset:
    data.timing = {"read": time.perf_counter() - started, "preprocess": 0.0}
    return data


def _kept(data: Dataset, started: float, memory: bool, key: str, fingerprints: dict) -> Dataset:
    """A Dataset from the disk cache, also kept in memory when asked."""
    if memory:
        cache.keep(key, fingerprints, data)
    return _loaded(data, started)


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
    train-then-validation order, so both parts are views of it), and the frame is let go. A DataError carries
    the notes found before it (error.notes): a column read as text is often why there are too many inputs.
    """
    notes: list[str] = []
    try:
        return _prepare(cfg, frames, rng, train_sha256, notes)
    except DataError as e:
        e.notes = notes
        raise


def _prepare(cfg: Config, frames: dict, rng: np.random.Generator, train_sha256: str, notes: list[str]) -> Dataset:
    d = cfg.data
    dtype = np.dtype(cfg.train.dtype)
    train_df, train_name = frames["train"]
    percent, sep = train_df.attrs.get("percent", []), train_df.attrs.get("sep", d.sep)  # as the file was read
    dayfirst = dict(train_df.attrs.get("dayfirst", {}))
    notes += [f"{train_name}: column '{c}' (data.types: date): no date such as 13/01/2023 says whether the day or "
              "the month comes first, so they are read month first (05/01/2023 as 1 May); if the day comes first, "
              "write them as 2023-01-05" for c in train_df.attrs.get("assumed", [])]
    features = feature_columns(train_df.columns, d, train_name)
    train_df = drop_missing_target(train_df, d.target, train_name, notes, d.missing_values)
    labels = Target.fit(train_df[d.target], cfg.task, d.target, train_name, d.positive, d.decimal)
    dtypes = train_df.dtypes
    numeric = [c for c in features if is_numeric(dtypes[c]) and d.types.get(c) != "categorical"]
    categorical = [c for c in features if c not in set(numeric)]
    notes += column_notes(train_df, numeric, categorical, d.types, d.decimal, train_name)
    rows: dict[str, Rows | None] = {"train": None, "valid": None, "test": None}
    others = {}  # the validation and test files' frames, taken after the training rows (their offsets)
    for role in ("valid", "test"):
        if frames.get(role) is not None:
            df, name = frames[role]
            require_columns(df.columns, [d.target], name, "target column", d.sep)
            require_columns(df.columns, features, name, "feature column", d.sep)
            others[role] = (drop_missing_target(df, d.target, name, notes, d.missing_values), name)
    order, n_train = None, len(train_df)
    if "valid" not in others and (d.valid_fraction > 0 or d.folds is not None):
        strata = None if cfg.task == "regression" else labels.encode(train_df[d.target], train_name)
        if d.folds is not None:
            if len(train_df) < d.folds:
                raise DataError(f"{train_name}: {len(train_df)} rows cannot be dealt into data.folds = {d.folds} folds")
            fold = kfold(len(train_df), strata, d.folds, rng)
            rows_train, rows_valid = np.flatnonzero(fold != d.fold - 1), np.flatnonzero(fold == d.fold - 1)
        else:
            rows_train, rows_valid = stratified_split(len(train_df), strata, d.valid_fraction, rng)
        if len(rows_valid) == 0:
            notes.append(f"{train_name}: too few rows to hold out {d.valid_fraction:g} for validation; training without")
        order, n_train = np.concatenate([rows_train, rows_valid]), len(rows_train)
    # a column that dtype would blur is centred on its training mean in float64 first (columns.blurred)
    whole = extract_rows(train_df, numeric, categorical, d.target, train_name, dtype, order, stats_rows=n_train,
                         offset="mean" if d.standardize else None)
    for role, (df, name) in others.items():
        rows[role] = extract_rows(df, numeric, categorical, d.target, name, dtype, offset=whole.offset)
    frames.clear()  # the parsed frames are no longer needed: let them go before training allocates
    train_df = others = df = None
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
    target = labels.encode(rows["train"].target, train_name)
    outlier = target_outlier(target, rows["train"].lines) if cfg.task == "regression" else None
    if outlier:
        notes.append(f"{train_name}: target column '{d.target}' has {outlier[0]}, {outlier[1]:.0f} standard deviations "
                     "from the mean; one value like that dominates the loss and squeezes the rest: check it")
    if cfg.task != "regression":
        notes += labels.notes(np.bincount(target, minlength=len(labels.classes)), train_name)
    prep, fit_notes = Preprocessor.fit(rows["train"], numeric, categorical, d, cfg.task, labels.classes, target,
                                       percent)
    prep.sep = sep  # predict reads with the separator found here, not by detecting it again in another file
    prep.dayfirst = dayfirst  # and the dates in the order found here
    notes += fit_notes
    if len(rows["train"]) < prep.n_features:
        where = f"; most of them from {widest(prep)}" if categorical else ""
        raise DataError(f"{train_name}: {len(rows['train'])} training rows but {prep.n_features} input features "
                        f"(after one-hot encoding{where}); that many weights cannot be learned from so few rows: add "
                        "rows, lower data.max_categories, or drop columns with data.ignore or data.features")
    check_memory(sum(len(part) for part in rows.values() if part is not None), prep, dtype, train_name)
    splits = {}
    for role, part in rows.items():
        if part is not None:
            X, encode_notes = prep.encode(part)
            notes += encode_notes
            t = target if role == "train" else prep.encode_target(part.target, part.source)
            splits[role] = Split(X, prep.target_array(t, dtype), t, part.source)
    if cfg.task != "regression":
        splits["train"].w = class_weights(cfg.train.class_weight, labels, target, train_name)
    return Dataset(splits["train"], splits.get("valid"), splits.get("test"), prep, train_sha256, notes,
                   outlier=outlier[0] if outlier else None)


def _drop_incomplete(rows: Rows, notes: list[str]) -> Rows:
    incomplete = np.isnan(rows.numeric).any(axis=1) | rows.categorical.isna().any(axis=1).to_numpy()
    if incomplete.any():
        if incomplete.all():
            raise DataError(f"{rows.source}: every row has a missing feature value, and data.missing is 'drop'")
        notes.append(f"{rows.source}: dropped {count(int(incomplete.sum()), 'row')} with missing feature values "
                     "(data.missing: drop)")
        rows = rows.subset(~incomplete)
    return rows


def reading(cfg: Config) -> dict:
    """How the configured CSV files are read (read_csv's options): the target as text for classification,
    as numbers for regression; the separator, the decimal mark and the declared column types."""
    d = cfg.data
    label = (d.target,)
    return {"float_dtype": np.dtype(cfg.train.dtype), "exact": label if cfg.task == "regression" else (),
            "text": () if cfg.task == "regression" else label, "sep": d.sep, "decimal": d.decimal, "types": d.types,
            "missing_values": tuple(d.missing_values), "strip": True}


def load_features(prep: Preprocessor, source, name: str, dtype, keep=(), need_target=False):
    """A CSV to predict on or evaluate: (data frame, X (n, d), notes). Needs every feature column, read the
    way the training files were. The --keep columns come back exactly as the file writes them, and a file with
    a header but no rows gives no rows (predict only; evaluate needs rows to score)."""
    content = read_source(source, name)
    label = (prep.target,) if need_target else ()
    exact = (label if prep.task == "regression" else ()) + tuple(prep.wide)
    df = read_csv(content, name, dtype, exact=exact,
                  text=tuple(prep.categorical) + (label if prep.task != "regression" else ()),
                  sep=prep.sep, decimal=prep.decimal, types=prep.types, allow_empty=not need_target,
                  missing_values=tuple(prep.missing_values), strip=prep.strip, named=False,
                  percent=None if prep.percent is None else tuple(prep.percent),
                  used=(*prep.columns, *keep, *label), dayfirst=prep.dayfirst)
    require_columns(df.columns, prep.columns, name, "feature column", prep.sep, model=True, decimal=prep.decimal)
    require_columns(df.columns, keep, name, "column (in --keep)", prep.sep, model=True, decimal=prep.decimal)
    notes = []
    if need_target:
        require_columns(df.columns, [prep.target], name, "target column", prep.sep, model=True, decimal=prep.decimal)
        df = drop_missing_target(df, prep.target, name, notes, prep.missing_values)
    if df.empty:
        X = np.zeros((0, prep.n_features), dtype)
    else:
        check_memory(len(df), prep, dtype, name, copies=1.0)
        X, transform_notes = prep.transform(df, name, dtype)
        notes += transform_notes
    if keep:
        written = read_as_written(content, name, keep, prep.sep, prep.decimal, prep.strip)
        for c in keep:
            df[c] = written[c].to_numpy(object)
    return df, X, notes
