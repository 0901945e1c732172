"""Mini-batch gradient descent: fit(config, dataset, rng, on_epoch) -> FitResult. No printing.

Each epoch reshuffles the training rows (one contiguous shuffled copy, so every mini-batch is a slice), then
for each mini-batch B: forward, loss and dL/dz, backprop, one optimizer step. That is the lecture's
estimate (1/|B|) sum_{j in B} grad l(y_j, f(x_j)) of the full gradient. After each epoch the validation set is
scored in large chunks; the weights with the lowest validation loss are kept (the last ones without a
validation set), and early stopping ends training when the validation loss stops improving.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .activations import ACTIVATIONS, OUTPUTS
from .config import Config
from .data import Dataset, Split
from .errors import TrainingError
from .losses import LOSSES, batch_loss_and_grad
from .metrics import METRICS
from .network import Params, Workspace, backward, forward, init_params, layer_sizes, predict_logits
from .optimizers import make_optimizer
from .preprocess import Preprocessor


def history_columns(task: str) -> list[str]:
    """The columns of metrics.csv, in order."""
    return ["epoch", "train_loss", "valid_loss", *METRICS[task], "learning_rate", "seconds"]


@dataclass
class FitResult:
    params: Params  # the kept weights
    history: list[dict]  # one row per epoch, keyed by history_columns
    epoch_kept: int  # the epoch whose weights are kept (0 = the initial weights)
    stop_reason: str  # epochs | early_stopping | diverged
    seconds: float  # wall time of training


def evaluate_split(params: Params, split: Split, prep: Preprocessor, loss_name: str, activation: str) -> dict:
    """Mean loss (unweighted) and the task's metrics of `params` on a split: {'loss': ..., 'accuracy': ...}."""
    z = predict_logits(params, split.X, ACTIVATIONS[activation])  # (n, k)
    result = {"loss": float(LOSSES[loss_name].value(z, split.Y).mean(dtype=np.float64))}
    if prep.task == "regression":
        predicted = z[:, 0].astype(np.float64) * prep.target_scale + prep.target_center
    else:
        predicted = OUTPUTS[prep.task](z).astype(np.float64)
    for name, metric in METRICS[prep.task].items():
        result[name] = metric(split.target, predicted)
    return result


def build_network(cfg: Config, data: Dataset, rng: np.random.Generator) -> Params:
    sizes = layer_sizes(data.prep.n_features, cfg.model.hidden, data.prep.n_outputs)
    return init_params(sizes, cfg.model.init, rng, np.dtype(cfg.train.dtype))


def fit(cfg: Config, data: Dataset, rng: np.random.Generator,
        on_epoch: Callable[[dict], None] | None = None) -> FitResult:
    """Train a new network on data.train; rng seeds the initial weights and the shuffling."""
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is caught by its loss, not by warnings
        return _fit(cfg, data, rng, on_epoch)


def _fit(cfg, data, rng, on_epoch):
    started = time.perf_counter()
    init_rng, shuffle_rng = rng.spawn(2)
    params = build_network(cfg, data, init_rng)
    grads = Params(params.sizes, params.flat.dtype)
    optimizer = make_optimizer(cfg.train, params)
    act, loss = ACTIVATIONS[cfg.model.activation], LOSSES[cfg.loss]
    X, Y, w = data.train.X, data.train.Y, data.train.w
    n = len(X)
    batch = n if cfg.train.batch_size == "full" else min(cfg.train.batch_size, n)
    shuffled = (np.empty_like(X), np.empty_like(Y), None if w is None else np.empty_like(w))
    workspaces: dict[int, Workspace] = {}
    stopping = cfg.train.early_stopping
    min_delta = stopping.min_delta if stopping else 0.0
    kept, epoch_kept, best_loss, waited = params.copy(), 0, math.inf, 0
    history, stop_reason = [], "epochs"

    for epoch in range(1, cfg.train.epochs + 1):
        t0 = time.perf_counter()
        if batch < n:  # a full batch sums the same rows in any order, so it skips the shuffle
            order = shuffle_rng.permutation(n)  # mode="clip": a permutation is always in range, and "raise" buffers `out`
            Xs = np.take(X, order, axis=0, out=shuffled[0], mode="clip")
            Ys = np.take(Y, order, axis=0, out=shuffled[1], mode="clip")
            ws = None if w is None else np.take(w, order, out=shuffled[2], mode="clip")
        else:
            Xs, Ys, ws = X, Y, w
        total = 0.0
        for start in range(0, n, batch):
            xb, yb = Xs[start:start + batch], Ys[start:start + batch]  # (B, d), (B, k): views, no copies
            space = workspaces.get(len(xb))
            if space is None:
                space = workspaces[len(xb)] = Workspace(params.sizes, len(xb), params.flat.dtype)
            z, hs = forward(params, xb, act, space)
            loss_sum, dz = batch_loss_and_grad(loss, z, yb, None if ws is None else ws[start:start + batch],
                                               optimizer.grad_scale)
            total += loss_sum
            backward(params, xb, hs, dz, act, grads, space)
            optimizer.step_scaled(params.flat, grads.flat)
        train_loss = total / n

        row = {"epoch": epoch, "train_loss": train_loss, "valid_loss": None}
        if not math.isfinite(train_loss):
            result = FitResult(kept, history, epoch_kept, "diverged", time.perf_counter() - started)
            raise TrainingError(
                f"training diverged: the training loss became {train_loss} in epoch {epoch}; "
                f"try a smaller train.learning_rate (it is {cfg.train.learning_rate:g})", result)
        if data.valid is not None:
            scores = evaluate_split(params, data.valid, data.prep, cfg.loss, cfg.model.activation)
            row["valid_loss"] = scores.pop("loss")
            row.update(scores)
            if row["valid_loss"] < best_loss - min_delta:
                best_loss, epoch_kept, waited = row["valid_loss"], epoch, 0
                kept.flat[...] = params.flat
            else:
                waited += 1
        else:
            row.update({name: None for name in METRICS[cfg.task]})
            epoch_kept = epoch
            kept.flat[...] = params.flat
        row["learning_rate"] = optimizer.learning_rate
        row["seconds"] = time.perf_counter() - t0
        history.append(row)
        if on_epoch is not None:
            on_epoch(row)
        if stopping is not None and waited >= stopping.patience:
            stop_reason = "early_stopping"
            break
    return FitResult(kept, history, epoch_kept, stop_reason, time.perf_counter() - started)
