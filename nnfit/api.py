"""What each command does, as plain functions: train, predict, evaluate, check, gradcheck.

The CLI is a thin layer over these: it parses arguments, shows progress and prints results. Messages for the
user (dropped rows, imputed values) go to the `warn` callback; nothing here prints.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from . import __version__
from .activations import ACTIVATIONS, OUTPUTS
from .artifacts import MetricsLog, atomic_write, check_run_dir, load_model, save_model, start_run_dir, to_json
from .config import Config, display_path, dump_config, load_config
from .data import Dataset, Split, load_features, load_training_data
from .errors import TrainingError, UsageError
from .metrics import confusion_matrix
from .network import Params, predict_logits
from .training import FitResult, evaluate_split, fit, history_columns

OUTPUT_UNIT = {"regression": "identity", "binary": "sigmoid", "multiclass": "softmax"}


def _ignore(_message: str) -> None:
    pass


def default_run_dir(config_path) -> Path:
    """runs/<config file name without extension>, in the working folder."""
    return Path("runs") / Path(config_path).stem


def train(config_path, out=None, overrides=(), force: bool = False,
          on_epoch: Callable[[dict], None] | None = None, warn: Callable[[str], None] = _ignore,
          on_start: Callable[[Config, Dataset], None] | None = None) -> dict:
    """Train the configured network and write a run directory. Returns the kept epoch and its metrics.

    Config and data problems raise before the run directory is touched.
    """
    started = time.perf_counter()
    cfg = load_config(config_path, overrides)
    run_dir = Path(out) if out is not None else default_run_dir(config_path)
    check_run_dir(run_dir, force)
    split_rng, fit_rng = np.random.default_rng(cfg.train.seed).spawn(2)
    data = load_training_data(cfg, split_rng, cache_dir=run_dir.parent / ".nnfit-cache")
    for note in data.notes:
        warn(note)
    start_run_dir(run_dir, force)
    atomic_write(run_dir / "config.yaml", dump_config(cfg))
    atomic_write(run_dir / "summary.json", to_json({"state": "running", "nnfit_version": __version__}))
    if on_start is not None:
        on_start(cfg, data)
    log = MetricsLog(run_dir / "metrics.csv", history_columns(cfg.task))

    def epoch_done(row: dict) -> None:
        log.append(row)
        if on_epoch is not None:
            on_epoch(row)

    try:
        result = fit(cfg, data, fit_rng, epoch_done)
    except TrainingError as e:
        _finish(run_dir, cfg, data, e.result, "failed", started)
        raise TrainingError(f"{e} (the weights of epoch {e.result.epoch_kept} are saved in {run_dir})") from None
    except KeyboardInterrupt:
        atomic_write(run_dir / "summary.json", to_json({"state": "interrupted", "nnfit_version": __version__}))
        raise
    finally:
        log.close()
    summary = _finish(run_dir, cfg, data, result, "finished", started)
    line = {"run_dir": str(run_dir), "epoch": result.epoch_kept, "stop_reason": result.stop_reason}
    line.update(summary["best"] or {"train_" + k: v for k, v in summary["train"].items()})  # no validation: train
    if summary["test"]:
        line.update({"test_" + k: v for k, v in summary["test"].items() if k not in ("confusion_matrix", "classes")})
    return line


def _finish(run_dir: Path, cfg: Config, data: Dataset, result: FitResult, state: str, started: float) -> dict:
    """Score the kept weights (test set; training rows when there is no validation set), save them and
    summary.json; returns the summary."""
    t0 = time.perf_counter()
    prep, act = data.prep, cfg.model.activation
    test = None
    if data.test is not None:
        test = {"n_rows": len(data.test.X), **_scores(result.params, data.test, prep, cfg.loss, act)}
    train = None if data.valid is not None else evaluate_split(result.params, data.train, prep, cfg.loss, act)
    t1 = time.perf_counter()
    save_model(run_dir, result.params, {
        "task": cfg.task, "loss": cfg.loss, "layer_sizes": result.params.sizes,
        "hidden_activation": act, "output_activation": OUTPUT_UNIT[cfg.task],
        "dtype": cfg.train.dtype, "epoch_kept": result.epoch_kept,
        "train_file": cfg.data.train, "train_sha256": data.train_sha256, "preprocessing": prep.to_dict(),
    })
    by_epoch = {row["epoch"]: row for row in result.history}
    timing = {**data.timing, "train": result.seconds, "evaluate": t1 - t0, "write": time.perf_counter() - t1}
    summary = {
        "state": state,
        "nnfit_version": __version__,
        "task": cfg.task,
        "stop_reason": result.stop_reason,
        "epochs_run": len(result.history),
        "epoch_kept": result.epoch_kept,
        "best": by_epoch.get(result.epoch_kept) if data.valid is not None else None,
        "final": result.history[-1] if result.history else None,
        "train": train,  # metrics of the kept weights on the training rows, when there is no validation set
        "test": test,
        "wall_seconds": time.perf_counter() - started,
        "timing": timing,  # seconds: read (hash and parse the CSV), preprocess, train, evaluate, write
        "notes": data.notes,
    }
    atomic_write(run_dir / "summary.json", to_json(summary))
    return summary


def _scores(params: Params, split: Split, prep, loss: str, activation: str) -> dict:
    """Loss and metrics on a split, plus a confusion matrix (rows: true class) for classification."""
    scores = evaluate_split(params, split, prep, loss, activation)
    if prep.task != "regression":
        proba = OUTPUTS[prep.task](predict_logits(params, split.X, ACTIVATIONS[activation]))
        scores["classes"] = prep.classes
        scores["confusion_matrix"] = confusion_matrix(split.target, proba, len(prep.classes))
    return scores


def input_name(source) -> str:
    return "<stdin>" if hasattr(source, "read") else display_path(source)


def predict(run_dir, source, proba: bool = False, keep=(), warn: Callable[[str], None] = _ignore) -> pd.DataFrame:
    """Predictions for every row of a CSV (path or stream), in order: --keep columns, prediction, probabilities."""
    params, info, prep = load_model(run_dir)
    if proba and prep.task == "regression":
        raise UsageError("--proba: this is a regression model; it has no class probabilities")
    df, X, notes = load_features(prep, source, input_name(source), np.dtype(info["dtype"]), keep=tuple(keep))
    for note in notes:
        warn(note)
    labels, probabilities = prep.decode(predict_logits(params, X, ACTIVATIONS[info["hidden_activation"]]))
    out = pd.DataFrame({c: df[c].to_numpy() for c in keep})
    out["prediction"] = labels
    if proba:
        for i, label in enumerate(prep.classes):
            out[f"proba_{label}"] = probabilities[:, i]
    return out


def evaluate(run_dir, source, warn: Callable[[str], None] = _ignore) -> dict:
    """Loss and the task's metrics of a trained model on a labelled CSV, named as in metrics.csv."""
    params, info, prep = load_model(run_dir)
    name = input_name(source)
    dtype = np.dtype(info["dtype"])
    df, X, notes = load_features(prep, source, name, dtype, need_target=True)
    target = prep.encode_target(df[prep.target], name)
    for note in notes:
        warn(note)
    split = Split(X, prep.target_array(target, dtype), target, name)
    return {"n_rows": len(X), **_scores(params, split, prep, info["loss"], info["hidden_activation"])}
