"""`nnfit check` and `nnfit gradcheck`: look at a config and its data without training.

check_data lists what it finds in each CSV (rows, column types, missing values, categories, target classes)
and collects every problem instead of stopping at the first.
"""

from __future__ import annotations

import dataclasses

from .config import Config
from .errors import NnfitError, display_path


def check_data(cfg: Config) -> tuple[list[str], list[str]]:
    """(report lines, problems) for the configured CSV files; no problems means training can start."""
    import numpy as np
    import pandas as pd

    from .csvfiles import read_csv
    from .data import load_training_data
    from .csvfiles import is_numeric
    from .preprocess import label_values, sorted_labels

    d = cfg.data
    report, problems = [], []
    for key in ("train", "valid", "test"):
        path = getattr(d, key)
        if path is None:
            continue
        name = display_path(path)
        try:
            df = read_csv(path, name, np.dtype(cfg.train.dtype), exact=(d.target,), role=f"data.{key}")
        except NnfitError as e:
            problems.append(str(e))
            continue
        report.append(f"data.{key}: {name}: {len(df)} rows, {len(df.columns)} columns")
        wanted = [d.target] + (d.features or []) + (d.ignore if key == "train" else [])
        for col in wanted:
            if col not in df.columns:
                problems.append(f"{name}: column '{col}' not found (columns: {', '.join(map(str, df.columns[:8]))}"
                                f"{', ...' if len(df.columns) > 8 else ''})")
        features = d.features or [c for c in df.columns if c != d.target and c not in d.ignore]
        for col in features:
            if col not in df.columns:
                continue
            s = df[col]
            missing = int(s.isna().sum())
            kind = "numeric" if is_numeric(s) else f"categorical, {s.nunique()} categories"
            report.append(f"  {col}: {kind}" + (f", {missing} missing" if missing else ""))
            if missing and d.missing == "error":
                problems.append(f"{name}: column '{col}' has {missing} missing values and data.missing is 'error'")
        if d.target in df.columns:
            s = df[d.target].dropna()
            line = f"  {d.target}: target"
            if cfg.task == "regression":
                line += f", numeric, {s.min():g} to {s.max():g}" if is_numeric(s) else ", text (regression needs numbers)"
            else:
                counts = pd.Series(label_values(s), dtype=object).value_counts()
                labels = sorted_labels(list(counts.index))
                line += f", {len(labels)} classes: " + ", ".join(f"{v!r} ({counts[v]} rows)" for v in labels[:10])
                line += ", ..." if len(labels) > 10 else ""
            if len(s) < len(df):
                line += f"; {len(df) - len(s)} rows without a target"
            report.append(line)
    if not problems:
        try:
            data = load_training_data(cfg, np.random.default_rng(cfg.train.seed).spawn(2)[0])
        except NnfitError as e:
            problems.append(str(e))
        else:
            report += [f"note: {n}" for n in data.notes]
            sizes = [data.prep.n_features, *cfg.model.hidden, data.prep.n_outputs]
            report.append(f"network: {' -> '.join(map(str, sizes))} "
                          f"({sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:]))} parameters); "
                          f"rows: {len(data.train.X)} train, {0 if data.valid is None else len(data.valid.X)} valid"
                          f"{'' if data.test is None else f', {len(data.test.X)} test'}")
    return report, problems


def gradcheck(cfg: Config, rows: int = 8) -> dict:
    """Backprop versus finite differences (float64) for the configured network and loss on a few training rows."""
    import numpy as np

    from .data import load_training_data
    from .gradcheck import check_gradients
    from .training import build_network

    cfg64 = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, dtype="float64"))
    split_rng, fit_rng = np.random.default_rng(cfg.train.seed).spawn(2)  # as in api.train: the same weights
    data = load_training_data(cfg64, split_rng)
    params = build_network(cfg64, data, fit_rng.spawn(2)[0])
    X, Y = data.train.X[:rows], data.train.Y[:rows]
    w = None if data.train.w is None else data.train.w[:rows]
    errors = check_gradients(params, X, Y, cfg.model.activation, cfg.loss, w, cfg.train.weight_decay)
    return {"rows": len(X), "errors": errors, "max_relative_error": max(errors.values())}
