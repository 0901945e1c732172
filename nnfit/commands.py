"""What each command does, as plain functions: train, predict, evaluate, check_data, gradcheck.

The CLI is a thin layer over these: it parses arguments, shows progress and prints results. Messages for the
user (dropped rows, imputed values, advice about the run) go to the `warn` callback; nothing here prints.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .advice import run_notes
from .config import Config, load_config
from .columns import is_numeric
from .csvfiles import read_csv
from .data import load_features, load_training_data, reading
from .dataset import Split
from .errors import (DataError, Interrupted, NnfitError, TrainingError, UsageError, count, display_path,
                     shorten)
from .gradcheck import check_gradients
from .headers import require_columns
from .labels import label_values, sorted_labels
from .model import Model
from .network import Workspace
from .rundir import RunDir
from .summary import result_line, summarize
from .training import Streams, Trainer, build_network, history_columns


def _ignore(_message: str) -> None:
    pass


def default_run_dir(config_path) -> Path:
    """runs/<config file name without extension>, in the working folder."""
    return Path("runs") / Path(config_path).stem


def train(config_path, out=None, overrides=(), force: bool = False, resume: bool = False,
          on_epoch: Callable[[dict], None] | None = None, warn: Callable[[str], None] = _ignore,
          on_start: Callable[[Config, Trainer], None] | None = None,
          should_stop: Callable[[], bool] | None = None, keep_data: bool = False) -> dict:
    """Train the configured network and write a run directory. Returns the line `nnfit train` prints.

    config_path may also be a Config already loaded (a sweep's trial). Config and data problems raise before
    the run directory is touched. With resume, an unfinished run in
    the directory continues from its checkpoint (or from the start when it has none) and ends exactly as an
    uninterrupted run would; a missing directory starts a new run. should_stop() is checked after every
    mini-batch: when it turns true, training stops, saves a checkpoint and raises Interrupted. keep_data keeps
    the prepared data in this process for the next run with the same files and data settings (a sweep's worker).
    """
    started = time.perf_counter()
    if resume and force:
        raise UsageError("--resume and --force contradict each other: continue the run, or replace it")
    cfg = config_path if isinstance(config_path, Config) else load_config(config_path, overrides)
    run = RunDir(out if out is not None else default_run_dir(config_path))
    with run.locked():
        return _train(cfg, run, started, force, resume, on_epoch, warn, on_start, should_stop, keep_data)


def _train(cfg, run: RunDir, started, force, resume, on_epoch, warn, on_start, should_stop, keep_data) -> dict:
    run.check(force, resume)
    resuming = resume and run.started
    if resuming:
        summary = run.check_resumable(cfg)
        more = summary.get("stop_reason") == "epochs" and cfg.train.epochs > summary.get("epochs_run", 0)
        if summary.get("state") == "finished" and not more:
            warn(f"{run.path}: the run has already finished ({summary.get('stop_reason')} after "
                 f"{summary.get('epochs_run')} epochs); nothing to resume")
            return result_line(run.path, summary)
    streams = Streams.from_seed(cfg.train.seed)
    try:
        data = load_training_data(cfg, streams.split, cache_dir=run.path.parent / ".nnfit-cache", memory=keep_data)
    except DataError as e:
        for note in getattr(e, "notes", []):  # what was noticed before the data was refused, often the cause
            warn(note)
        raise
    for note in data.notes:
        warn(note)
    trainer = Trainer(cfg, data, streams.init, streams.shuffle, streams.dropout)
    if should_stop is not None and should_stop():
        raise Interrupted("interrupted before training started; nothing was written")
    if resuming:
        run.resume(trainer, data)
    else:
        run.create(cfg, trainer)
    if on_start is not None:
        on_start(cfg, trainer)

    def epoch_done(row: dict) -> None:
        run.epoch_done(trainer, row, lambda: summarize(cfg, data, trainer, trainer.result(), "running", started, []))
        if on_epoch is not None:
            on_epoch(row)

    def stop(state: str, loop: float | None = None) -> dict:
        result = trainer.result()
        notes = run_notes(cfg, data, result) if state == "finished" else []
        summary = summarize(cfg, data, trainer, result, state, started, notes, scores=True)
        if loop is not None:
            summary["timing"]["loop"] = loop
        run.finish(trainer, summary, started)
        for note in notes:
            warn(note)
        return summary

    run.open_metrics(history_columns(cfg.task))
    loop_started = time.perf_counter()
    try:
        trainer.run(epoch_done, should_stop)
    except Interrupted as e:
        run.checkpoint(trainer, summarize(cfg, data, trainer, trainer.result(), "running", started, []))
        stop("interrupted")
        raise Interrupted(f"{e}; the best weights so far are saved in {run.path}; continue with: "
                          f"nnfit train {run.path / 'config.yaml'} --out {run.path} --resume") from None
    except TrainingError as e:
        stop("failed")
        raise TrainingError(f"{e} (the weights of epoch {trainer.epoch_kept} are saved in {run.path})") from None
    finally:
        run.close_metrics()
    return result_line(run.path, stop("finished", loop=time.perf_counter() - loop_started))


def input_name(source) -> str:
    return "<stdin>" if hasattr(source, "read") else display_path(source)


def as_written(prep, sep: str | None = None, decimal: str | None = None):
    """The model's preprocessing, reading a file that separates its fields (sep: ',', ';', tab, '|' or auto) or
    writes its decimal mark otherwise than its training files did (predict and evaluate's --sep, --decimal)."""
    changes = {"sep": "\t" if sep == "tab" else sep, "decimal": decimal}
    return dataclasses.replace(prep, **{k: v for k, v in changes.items() if v is not None})


def predict(run_dir, source, proba: bool = False, keep=(), warn: Callable[[str], None] = _ignore,
            sep: str | None = None, decimal: str | None = None) -> pd.DataFrame:
    """Predictions for every row of a CSV (path or stream), in order: --keep columns, prediction, probabilities."""
    model = Model.load(run_dir)
    prep = as_written(model.prep, sep, decimal)
    if proba and model.task == "regression":
        raise UsageError("--proba: this is a regression model; it has no class probabilities")
    outputs = {"prediction"} | ({f"proba_{label}" for label in prep.classes} if proba else set())
    for column in keep:
        if column in outputs:
            raise UsageError(f"--keep {column}: the output has its own '{column}' column; rename the input column")
    for note in run_warnings(run_dir, model):
        warn(note)
    df, X, notes = load_features(prep, source, input_name(source), model.dtype, keep=tuple(keep))
    for note in notes:
        warn(note)
    labels, probabilities = model.predict(X)
    out = pd.DataFrame({c: df[c].to_numpy() for c in keep})
    out["prediction"] = labels
    if proba:
        for i, label in enumerate(prep.classes):
            out[f"proba_{label}"] = probabilities[:, i]
    return out


def csv_text(frame: pd.DataFrame) -> str:
    """predict's frame as CSV text. float32 writes 1055389.2 as 1.0553892e+06; such columns get their shortest
    digits written out, as a spreadsheet user expects prices in the millions."""
    big = [c for c in frame.columns if frame[c].dtype == np.float32 and (np.abs(frame[c]) >= 1e6).any()]
    frame = frame.assign(**{c: [np.format_float_positional(v, unique=True, trim="-") if np.isfinite(v) else v
                                for v in frame[c].to_numpy()] for c in big})  # float32's own shortest digits
    return frame.to_csv(index=False, lineterminator="\n")


def run_warnings(run_dir, model: Model) -> list[str]:
    """What predict and evaluate say about the weights they use: untrained, or from a run that has not
    finished (still training, interrupted, killed, failed)."""
    if model.epoch_kept == 0:
        return [f"{run_dir}: the model holds its initial, untrained weights (the run stopped before its first epoch)"]
    run = RunDir(run_dir)
    summary = run.summary()
    state, epochs = summary.get("state"), summary.get("epochs_run")
    kept = f"the best weights so far (epoch {model.epoch_kept})"
    if state == "running" and run.in_use():
        return [f"{run_dir}: the run is still training; these are {kept}"]
    if state in ("running", "interrupted"):
        how = "was interrupted" if state == "interrupted" else "stopped before it finished (killed?)"
        after = f" after {count(epochs, 'epoch')}" if epochs else ""
        return [f"{run_dir}: the run {how}{after}; these are {kept}; continue "
                f"it with nnfit train {Path(run_dir) / 'config.yaml'} --out {run_dir} --resume"]
    if state == "failed":
        return [f"{run_dir}: the run failed ({summary.get('stop_reason')}); these are the weights of epoch "
                f"{model.epoch_kept}, the last good ones"]
    return []


def evaluate(run_dir, source, warn: Callable[[str], None] = _ignore, sep: str | None = None,
             decimal: str | None = None) -> dict:
    """Loss and the task's metrics of a trained model on a labelled CSV, named as in metrics.csv."""
    model = Model.load(run_dir)
    for note in run_warnings(run_dir, model):
        warn(note)
    name = input_name(source)
    df, X, notes = load_features(as_written(model.prep, sep, decimal), source, name, model.dtype, need_target=True)
    target = model.prep.encode_target(df[model.prep.target], name)
    for note in notes:
        warn(note)
    split = Split(X, model.prep.target_array(target, model.dtype), target, name)
    return {"n_rows": len(X), **model.score(split, confusion=True)}


def check_data(cfg: Config) -> tuple[list[str], list[str]]:
    """(report lines, problems) for the configured CSV files; no problems means training can start.

    Lists what it finds in each CSV (rows, column types, missing values, categories, target classes) and
    collects every problem instead of stopping at the first."""
    d = cfg.data
    report, problems = [], []
    for key in ("train", "valid", "test"):
        path = getattr(d, key)
        if path is None:
            continue
        name = display_path(path)
        try:
            df = read_csv(path, name, role=f"data.{key}", **reading(cfg))
        except NnfitError as e:
            problems.append(str(e))
            continue
        report.append(f"data.{key}: {name}: {len(df)} rows, {len(df.columns)} columns")
        wanted = ([(d.target, "target column")] + [(c, "feature column") for c in d.features or []]
                  + [(c, "column (in data.ignore)") for c in (d.ignore if key == "train" else [])])
        for col, what in wanted:  # the messages train gives, each problem listed
            try:
                require_columns(df.columns, [col], name, what, d.sep)
            except DataError as e:
                problems.append(str(e))
        features = d.features or [c for c in df.columns if c != d.target and c not in d.ignore]
        for col in features:
            if col not in df.columns:
                continue
            s = df[col]
            missing = int(s.isna().sum())
            declared = " (data.types)" if col in d.types else ""
            if is_numeric(s) and d.types.get(col) != "categorical":
                kind = f"{d.types.get(col, 'numeric')}{declared}"
            else:
                kind = f"categorical{declared}, {s.nunique()} categories"
                if s.nunique() > d.max_categories:
                    kind += f" (the {d.max_categories} most frequent get an input each, the rest one 'other')"
            report.append(f"  {col}: {kind}" + (f", {missing} missing" if missing else ""))
            if missing and d.missing == "error":
                problems.append(f"{name}: column '{col}' has {missing} missing values and data.missing is 'error'")
        if d.target in df.columns:
            report.append(_target_line(cfg, df))
    if not problems:
        try:
            data = load_training_data(cfg, Streams.from_seed(cfg.train.seed).split)
        except NnfitError as e:
            report += [f"note: {n}" for n in getattr(e, "notes", [])]
            problems.append(str(e))
        else:
            report += [f"note: {n}" for n in data.notes]
            sizes = [data.prep.n_features, *cfg.model.hidden, data.prep.n_outputs]
            report.append(f"network: {' -> '.join(map(str, sizes))} "
                          f"({sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:]))} parameters); "
                          f"rows: {len(data.train.X)} train, {0 if data.valid is None else len(data.valid.X)} valid"
                          f"{'' if data.test is None else f', {len(data.test.X)} test'}")
    return report, problems


def _target_line(cfg: Config, df: pd.DataFrame) -> str:
    target = cfg.data.target
    s = df[target].dropna()
    line = f"  {target}: target"
    if cfg.task == "regression":
        line += f", numeric, {s.min():g} to {s.max():g}" if is_numeric(s) else ", text (regression needs numbers)"
    else:
        counts = pd.Series(label_values(s), dtype=object).value_counts()
        labels = sorted_labels(list(counts.index))
        line += f", {len(labels)} classes: " + shorten([f"{v!r} ({count(counts[v], 'row')})" for v in labels], 10)
    if len(s) < len(df):
        line += f"; {len(df) - len(s)} rows without a target"
    return line


def gradcheck(cfg: Config, rows: int = 8) -> dict:
    """Backprop versus finite differences (float64) for the configured network and loss on a few training
    rows, at the initial weights `nnfit train` starts from."""
    cfg64 = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, dtype="float64"))
    streams = Streams.from_seed(cfg.train.seed)
    data = load_training_data(cfg64, streams.split)
    params = build_network(cfg64, data, streams.init)
    X, Y = data.train.X[:rows], data.train.Y[:rows]
    w = None if data.train.w is None else data.train.w[:rows]
    masks = None
    if cfg.model.dropout > 0:  # one draw of the masks, held fixed while the weights are moved
        masks = Workspace(params.sizes, len(X), np.float64, dropout=True).draw_masks(cfg.model.dropout, streams.dropout)
    errors = check_gradients(params, X, Y, cfg.model.activation, cfg.loss, w, cfg.train.weight_decay, masks=masks)
    return {"rows": len(X), "errors": errors, "max_relative_error": max(errors.values())}
