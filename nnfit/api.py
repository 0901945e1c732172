"""What each command does, as plain functions: train, predict, evaluate, check, gradcheck.

The CLI is a thin layer over these: it parses arguments, shows progress and prints results. Messages for the
user (dropped rows, imputed values) go to the `warn` callback; nothing here prints.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from . import __version__
from .activations import ACTIVATIONS, OUTPUTS
from .advice import constant_loss, training_note
from .artifacts import (CHECKPOINT, MetricsLog, atomic_write, check_run_dir, create_run_dir, load_checkpoint, load_model,
                        metrics_text, model_files, remove_stale_temporaries, save_checkpoint, save_model, to_json)
from .config import Config, config_to_dict, dump_config, load_config
from .errors import display_path
from .data import Dataset, Split, load_features, load_training_data
from .errors import DataError, TrainingError, UsageError
from .metrics import confusion_matrix
from .network import Params, layer_sizes, predict_logits
from .training import FitResult, Interrupted, Trainer, evaluate_split, history_columns

OUTPUT_UNIT = {"regression": "identity", "binary": "sigmoid", "multiclass": "softmax"}


def _ignore(_message: str) -> None:
    pass


def default_run_dir(config_path) -> Path:
    """runs/<config file name without extension>, in the working folder."""
    return Path("runs") / Path(config_path).stem


def train(config_path, out=None, overrides=(), force: bool = False, resume: bool = False,
          on_epoch: Callable[[dict], None] | None = None, warn: Callable[[str], None] = _ignore,
          on_start: Callable[[Config, Dataset], None] | None = None,
          should_stop: Callable[[], bool] | None = None) -> dict:
    """Train the configured network and write a run directory. Returns the kept epoch and its metrics.

    Config and data problems raise before the run directory is touched. With resume, an unfinished run in
    the directory continues from its checkpoint (or from the start when it has none) and ends exactly as an
    uninterrupted run would; a missing directory starts a new run. should_stop() is checked after every
    mini-batch: when it turns true, training stops, saves a checkpoint and raises Interrupted.
    """
    started = time.perf_counter()
    if resume and force:
        raise UsageError("--resume and --force contradict each other: continue the run, or replace it")
    cfg = load_config(config_path, overrides)
    run_dir = Path(out) if out is not None else default_run_dir(config_path)
    check_run_dir(run_dir, force, resume)
    resuming = resume and (run_dir / "config.yaml").exists()
    if resume and not resuming and run_dir.is_dir() and any(p for p in run_dir.iterdir() if not p.name.startswith(".")):
        raise UsageError(f"{run_dir}: not an nnfit run (no config.yaml); nothing to resume")
    if resuming:
        summary = _check_resumable(run_dir, cfg)
        if summary.get("state") == "finished":
            warn(f"{run_dir}: the run has already finished; nothing to resume")
            return _result_line(run_dir, summary)
    split_rng, fit_rng = np.random.default_rng(cfg.train.seed).spawn(2)
    data = load_training_data(cfg, split_rng, cache_dir=run_dir.parent / ".nnfit-cache")
    for note in data.notes:
        warn(note)
    trainer = Trainer(cfg, data, fit_rng)
    if should_stop is not None and should_stop():
        raise Interrupted("interrupted before training started; nothing was written")
    columns = history_columns(cfg.task)
    if resuming:
        _continue_from_checkpoint(run_dir, trainer, data)
        remove_stale_temporaries(run_dir)
        atomic_write(run_dir / "metrics.csv", metrics_text(columns, trainer.history))
    else:
        _create(run_dir, {
            "config.yaml": dump_config(cfg),
            **model_files(trainer.kept, _model_info(cfg, data, trainer.epoch_kept)),
            "metrics.csv": metrics_text(columns, []),
            "summary.json": to_json({"state": "running", "nnfit_version": __version__}),
        })
    if on_start is not None:
        on_start(cfg, data)
    log = MetricsLog(run_dir / "metrics.csv", columns)

    def epoch_done(row: dict) -> None:
        log.append(row)
        if on_epoch is not None:
            on_epoch(row)

    def checkpoint(t: Trainer) -> None:  # first the checkpoint, then the best weights so far
        save_checkpoint(run_dir, t.state())
        save_model(run_dir, t.kept, _model_info(cfg, data, t.epoch_kept))
        atomic_write(run_dir / "summary.json", to_json(_summary(cfg, data, t.result(), "running", started)))

    loop_started = time.perf_counter()
    try:
        result = trainer.run(epoch_done, should_stop, checkpoint, cfg.train.checkpoint_every)
    except Interrupted as e:
        checkpoint(trainer)
        _finish(run_dir, cfg, data, trainer.result(), "interrupted", started)
        raise Interrupted(f"{e}; the best weights so far are saved in {run_dir}; continue with: "
                          f"nnfit train {run_dir / 'config.yaml'} --out {run_dir} --resume") from None
    except TrainingError as e:
        _finish(run_dir, cfg, data, e.result, "failed", started)
        raise TrainingError(f"{e} (the weights of epoch {e.result.epoch_kept} are saved in {run_dir})") from None
    finally:
        log.close()
    summary = _finish(run_dir, cfg, data, result, "finished", started, loop=time.perf_counter() - loop_started)
    (run_dir / CHECKPOINT).unlink(missing_ok=True)
    for note in summary["notes"][len(data.notes):]:
        warn(note)
    return _result_line(run_dir, summary)


def _create(run_dir: Path, files: dict) -> None:
    try:
        create_run_dir(run_dir, files)
    except OSError as e:
        raise UsageError(f"{run_dir}: cannot create the run directory: {e.strerror or e}") from None


def _result_line(run_dir: Path, summary: dict) -> dict:
    """What `nnfit train` prints: the run directory, the epoch kept, its metrics.csv row (validation metrics)
    and, without a validation set, the kept weights' metrics on the training rows (train_accuracy, ...)."""
    line = {"run_dir": str(run_dir), "epoch": summary["epoch_kept"], "stop_reason": summary["stop_reason"]}
    row = summary["best"] or summary["final"] or {}
    line.update({k: v for k, v in row.items() if v is not None and k != "epoch"})
    line.update({"train_" + k: v for k, v in (summary["train"] or {}).items() if k != "loss"})
    if summary["test"]:
        line.update({"test_" + k: v for k, v in summary["test"].items() if k not in ("confusion_matrix", "classes")})
    return line


def _check_resumable(run_dir: Path, cfg: Config) -> dict:
    """The run's summary.json, after checking that it was started with this very config."""
    saved = config_to_dict(load_config(run_dir / "config.yaml"))
    now = config_to_dict(cfg)
    for section in (saved, now):
        section["train"].pop("checkpoint_every", None)  # when to checkpoint does not change the result
    difference = _first_difference(saved, now)
    if difference:
        key, before, after = difference
        raise UsageError(f"{run_dir}: cannot resume: the config changed since the run started ({key} was "
                         f"{before!r}, is {after!r}); start a new run with --force or another --out")
    try:
        return json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _first_difference(a, b, prefix: str = ""):
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            found = _first_difference(a.get(key), b.get(key), f"{prefix}{key}.")
            if found:
                return found
        return None
    return None if a == b else (prefix.rstrip("."), a, b)


def _continue_from_checkpoint(run_dir: Path, trainer: Trainer, data: Dataset) -> None:
    arrays = load_checkpoint(run_dir)
    if arrays is not None:
        started_with = json.loads(bytes(arrays["meta"]).decode("utf-8")).get("train_sha256")
    else:  # killed before its first checkpoint: the run starts again, from weights model.json describes
        try:
            started_with = json.loads((run_dir / "model.json").read_text(encoding="utf-8")).get("train_sha256")
        except (OSError, ValueError):
            started_with = data.train_sha256
    if started_with != data.train_sha256:
        raise DataError(f"{run_dir}: cannot resume: the training data changed since the run started "
                        f"(sha256 of {display_path(trainer.cfg.data.train)} differs); start a new run with --force")
    if arrays is not None:
        trainer.load_state(arrays)


def _model_info(cfg: Config, data: Dataset, epoch_kept: int) -> dict:
    return {
        "task": cfg.task, "loss": cfg.loss, "layer_sizes": layer_sizes(data.prep.n_features, cfg.model.hidden,
                                                                       data.prep.n_outputs),
        "hidden_activation": cfg.model.activation, "output_activation": OUTPUT_UNIT[cfg.task],
        "dtype": cfg.train.dtype, "epoch_kept": epoch_kept,
        "train_file": cfg.data.train, "train_sha256": data.train_sha256, "preprocessing": data.prep.to_dict(),
    }


def _summary(cfg: Config, data: Dataset, result: FitResult, state: str, started: float) -> dict:
    by_epoch = {row["epoch"]: row for row in result.history}
    return {
        "state": state,
        "nnfit_version": __version__,
        "task": cfg.task,
        "stop_reason": result.stop_reason,
        "epochs_run": len(result.history),
        "epoch_kept": result.epoch_kept,
        "best": by_epoch.get(result.epoch_kept) if data.valid is not None else None,
        "final": result.history[-1] if result.history else None,
        "train": None,  # metrics of the kept weights on the training rows, when there is no validation set
        "test": None,
        "wall_seconds": time.perf_counter() - started,
        "timing": {**data.timing, "train": result.seconds},  # seconds: read (hash, parse), preprocess, train, ...
        "notes": [*data.notes, *filter(None, [_training_note(cfg, data, result)])],
    }


def _training_note(cfg: Config, data: Dataset, result: FitResult) -> str | None:
    if data.valid is None:
        return None
    constant = constant_loss(data.valid, cfg.loss, data.prep.n_outputs)
    return training_note(result.history, result.stop_reason, constant, cfg.train.learning_rate)


def _finish(run_dir: Path, cfg: Config, data: Dataset, result: FitResult, state: str, started: float,
            loop: float | None = None) -> dict:
    """Score the kept weights (test set; training rows when there is no validation set), save them and
    summary.json; returns the summary.

    timing: read (hash, parse) and preprocess; train, the mini-batches (over every session of a resumed run);
    loop, this session's whole training loop (mini-batches, per-epoch validation, metrics.csv lines,
    checkpoints), when it finished; evaluate (test set, training rows) and write (the final weights)."""
    t0 = time.perf_counter()
    prep, act = data.prep, cfg.model.activation
    summary = _summary(cfg, data, result, state, started)
    if data.test is not None:
        summary["test"] = {"n_rows": len(data.test.X), **_scores(result.params, data.test, prep, cfg.loss, act)}
    if data.valid is None:
        summary["train"] = evaluate_split(result.params, data.train, prep, cfg.loss, act)
    t1 = time.perf_counter()
    save_model(run_dir, result.params, _model_info(cfg, data, result.epoch_kept))
    summary["timing"].update({} if loop is None else {"loop": loop})
    summary["timing"].update(evaluate=t1 - t0, write=time.perf_counter() - t1)
    summary["wall_seconds"] = time.perf_counter() - started
    atomic_write(run_dir / "summary.json", to_json(summary))
    return summary


def _scores(params: Params, split: Split, prep, loss: str, activation: str) -> dict:
    """Loss and metrics on a split, plus a confusion matrix (rows: true class) for classification."""
    scores = evaluate_split(params, split, prep, loss, activation)
    if prep.task != "regression":
        proba = OUTPUTS[prep.task](predict_logits(params, split.X, ACTIVATIONS[activation], exact=False))
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
    outputs = {"prediction"} | ({f"proba_{label}" for label in prep.classes} if proba else set())
    for column in keep:
        if column in outputs:
            raise UsageError(f"--keep {column}: the output has its own '{column}' column; rename the input column")
    if info.get("epoch_kept") == 0:
        warn(f"{run_dir}: the model holds its initial, untrained weights (the run stopped before its first epoch)")
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
