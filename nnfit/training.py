"""Mini-batch gradient descent: fit(config, dataset, rng, on_epoch) -> FitResult. No printing.

Each epoch reshuffles the training rows (one contiguous shuffled copy, so every mini-batch is a slice), then
for each mini-batch B: forward, loss and dL/dz, backprop, one optimizer step (plain SGD on a network big
enough for it to pay takes its step inside backprop, see network.backward's step). That is the lecture's
estimate (1/|B|) sum_{j in B} grad l(y_j, f(x_j)) of the full gradient. After each epoch the validation set is
scored in large chunks; the weights with the lowest validation loss are kept (the last ones without a
validation set), and early stopping ends training when the validation loss stops improving.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .advice import divergence_hint
from .activations import ACTIVATIONS
from .blas import worth_it
from .config import Config
from .dataset import Dataset
from .errors import Interrupted, TrainingError
from .losses import LOSSES, batch_loss_and_grad
from .metrics import METRICS
from .model import Model
from .network import Params, Workspace, backward, forward, init_params, layer_sizes
from .optimizers import make_optimizer
from .schedules import rate


def history_columns(task: str) -> list[str]:
    """The columns of metrics.csv, in order."""
    return ["epoch", "train_loss", "valid_loss", *METRICS[task], "learning_rate", "seconds"]


@dataclass
class FitResult:
    params: Params  # the kept weights
    history: list[dict]  # one row per epoch, keyed by history_columns
    epoch_kept: int  # the epoch whose weights are kept (0 = the initial weights)
    stop_reason: str  # epochs | early_stopping | diverged | interrupted
    seconds: float  # wall time of the mini-batches, over every session of the run


@dataclass
class Streams:
    """The random generators of a run, all from train.seed: the validation split, the initial weights and the
    shuffling. Each is its own stream, so changing one (say, valid_fraction) leaves the others as they were."""

    split: np.random.Generator | None
    init: np.random.Generator
    shuffle: np.random.Generator
    dropout: np.random.Generator

    @classmethod
    def from_seed(cls, seed: int) -> Streams:
        """The streams of `nnfit train` with train.seed = seed."""
        split, training = np.random.default_rng(seed).spawn(2)
        return cls.for_training(training, split)

    @classmethod
    def for_training(cls, rng: np.random.Generator, split: np.random.Generator | None = None) -> Streams:
        init, shuffle, dropout = rng.spawn(3)  # spawning a third child leaves the first two as they were
        return cls(split, init, shuffle, dropout)


def build_network(cfg: Config, data: Dataset, rng: np.random.Generator) -> Params:
    sizes = layer_sizes(data.prep.n_features, cfg.model.hidden, data.prep.n_outputs)
    return init_params(sizes, cfg.model.init, rng, np.dtype(cfg.train.dtype))


def fit(cfg: Config, data: Dataset, rng: np.random.Generator,
        on_epoch: Callable[[dict], None] | None = None) -> FitResult:
    """Train a new network on data.train; rng seeds the initial weights and the shuffling (Streams.from_seed
    gives `nnfit train`'s streams)."""
    streams = Streams.for_training(rng)
    return Trainer(cfg, data, streams.init, streams.shuffle, streams.dropout).run(on_epoch)


class Trainer:
    """One training run, which can stop after any mini-batch and later continue exactly where it stopped.

    state() / load_state() capture everything the rest of the run depends on (weights, kept weights,
    optimizer state, the shuffling generator, the position inside the epoch, the history), so a run that
    is checkpointed, stopped and resumed ends with the same weights, bit for bit, as one that never stopped.
    """

    def __init__(self, cfg: Config, data: Dataset, init_rng: np.random.Generator, shuffle_rng: np.random.Generator,
                 dropout_rng: np.random.Generator | None = None):
        self.cfg, self.data, self.shuffle_rng = cfg, data, shuffle_rng
        self.dropout_rng = dropout_rng if dropout_rng is not None else np.random.default_rng(0)
        self.params = build_network(cfg, data, init_rng)
        self.model = Model(self.params, cfg.task, cfg.loss, cfg.model.activation, data.prep,
                           train_file=cfg.data.train, train_sha256=data.train_sha256)  # the weights as they train
        self.grads = Params(self.params.sizes, self.params.flat.dtype)
        self.optimizer = make_optimizer(cfg.train, self.params)
        self.kept = self.params.copy()  # the weights to keep: best validation loss so far (else the latest)
        self.epoch_kept, self.best_loss = 0, math.inf  # the kept epoch and its validation loss
        self.patience_loss, self.waited = math.inf, 0  # early stopping: the reference loss, epochs since
        self.epoch = 0  # epochs completed
        self.history: list[dict] = []
        self.position: dict | None = None  # inside an epoch: {"order", "next", "total", "seconds"}
        self.seconds = 0.0  # training time so far, over every session of this run
        self.stop_reason: str | None = None  # epochs | early_stopping, once finished
        self._shuffled = None  # the epoch's shuffled copies of X, Y, w, allocated once
        self._workspaces: dict[int, Workspace] = {}  # per mini-batch size

    # ---- running ----

    def run(self, on_epoch: Callable[[dict], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> FitResult:
        """Train until the configured epochs or early stopping; on_epoch(row) after every epoch (the run
        directory writes metrics.csv and checkpoints from there). Raises Interrupted when should_stop() turns
        true (checked after every mini-batch), TrainingError when the loss stops being finite."""
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is caught by its loss, not by warnings
            while self.stop_reason is None:
                row = self._epoch(should_stop)
                if on_epoch is not None:
                    on_epoch(row)
                if self.stop_reason is None and should_stop is not None and should_stop():
                    raise Interrupted(f"interrupted after epoch {self.epoch}")
        return self.result()

    def result(self) -> FitResult:
        return FitResult(self.kept, self.history, self.epoch_kept, self.stop_reason or "interrupted", self.seconds)

    def kept_model(self) -> Model:
        """The weights to keep (best validation loss so far, else the latest) as a Model."""
        return self.model.with_params(self.kept, self.epoch_kept)

    def _epoch(self, should_stop) -> dict:
        """Finish the current epoch (or run a new one); returns its metrics.csv row."""
        cfg, data, params, optimizer = self.cfg, self.data, self.params, self.optimizer
        act, loss, grads = ACTIVATIONS[cfg.model.activation], LOSSES[cfg.loss], self.grads
        X, Y, w = data.train.X, data.train.Y, data.train.w
        n = len(X)
        batch = n if cfg.train.batch_size == "full" else min(cfg.train.batch_size, n)
        t0 = time.perf_counter()
        optimizer.set_learning_rate(rate(cfg.train, self.epoch + 1, self.history))  # this epoch's, from the run so far
        dropout = cfg.model.dropout
        if self.position is None:  # a new epoch; a full batch sums the same rows in any order: no shuffle
            order = self.shuffle_rng.permutation(n) if batch < n else None
            self.position = {"order": order, "next": 0, "total": 0.0, "seconds": 0.0}
        position = self.position
        order = position["order"]
        if order is not None:  # one contiguous shuffled copy, so every mini-batch is a slice
            if self._shuffled is None:
                self._shuffled = (np.empty_like(X), np.empty_like(Y), None if w is None else np.empty_like(w))
            # mode="clip": a permutation is always in range, and mode="raise" would buffer `out`
            Xs = np.take(X, order, axis=0, out=self._shuffled[0], mode="clip")
            Ys = np.take(Y, order, axis=0, out=self._shuffled[1], mode="clip")
            ws = None if w is None else np.take(w, order, out=self._shuffled[2], mode="clip")
        else:
            Xs, Ys, ws = X, Y, w
        workspaces = self._workspaces
        in_backward = optimizer.steps_in_backward and worth_it(params.sizes, params.flat.dtype)
        total = position["total"]
        for start in range(position["next"], n, batch):
            xb, yb = Xs[start:start + batch], Ys[start:start + batch]  # (B, d), (B, k): views, no copies
            space = workspaces.get(len(xb))
            if space is None:
                space = workspaces[len(xb)] = Workspace(params.sizes, len(xb), params.flat.dtype, dropout > 0)
            masks = space.draw_masks(dropout, self.dropout_rng) if dropout > 0 else None
            z, hs = forward(params, xb, act, space, masks)
            loss_sum, dz = batch_loss_and_grad(loss, z, yb, None if ws is None else ws[start:start + batch],
                                               optimizer.grad_scale)
            total += loss_sum
            if in_backward:  # plain SGD: backprop updates the weights as it goes, one pass over them, not three
                backward(params, xb, hs, dz, act, grads, space, step=True, masks=masks)
            else:
                backward(params, xb, hs, dz, act, grads, space, masks=masks)
                optimizer.step(params.flat, grads.flat)  # grads are grad_scale * dL/dp
            if should_stop is not None and should_stop() and start + batch < n:
                elapsed = time.perf_counter() - t0
                position.update(next=start + batch, total=total, seconds=position["seconds"] + elapsed)
                self.seconds += elapsed
                raise Interrupted(f"interrupted in epoch {self.epoch + 1} after mini-batch "
                                  f"{(start + batch) // batch} of {-(-n // batch)}")
        elapsed = time.perf_counter() - t0
        self.seconds += elapsed
        self.position = None
        self.epoch += 1
        return self._end_epoch(total / n, position["seconds"] + elapsed, should_stop)

    def _end_epoch(self, train_loss: float, seconds: float, should_stop) -> dict:
        cfg, data = self.cfg, self.data
        row = {"epoch": self.epoch, "train_loss": train_loss, "valid_loss": None}
        if not math.isfinite(train_loss):
            self.stop_reason = "diverged"
            raise TrainingError(f"training diverged: the training loss became {train_loss} in epoch {self.epoch}; "
                                f"{divergence_hint(cfg.train)}", self.result())
        stopping = cfg.train.early_stopping
        if data.valid is not None:
            scores = self.model.score(data.valid)
            row["valid_loss"] = scores.pop("loss")
            row.update(scores)
            loss = row["valid_loss"]
            if loss < self.best_loss:  # the kept weights: the lowest validation loss so far
                self.best_loss, self.epoch_kept = loss, self.epoch
                self.kept.flat[...] = self.params.flat
            # patience: epochs since the loss last fell by more than min_delta below where it then stood
            if loss < self.patience_loss - (stopping.min_delta if stopping else 0.0):
                self.patience_loss, self.waited = loss, 0
            else:
                self.waited += 1
        else:
            row.update({name: None for name in METRICS[cfg.task]})
            self.epoch_kept = self.epoch
            self.kept.flat[...] = self.params.flat
        row["learning_rate"] = self.optimizer.learning_rate
        row["seconds"] = seconds
        self.history.append(row)
        if stopping is not None and self.waited >= stopping.patience:
            self.stop_reason = "early_stopping"
        elif self.epoch >= cfg.train.epochs:
            self.stop_reason = "epochs"
        return row

    # ---- checkpoints ----

    def state(self) -> dict[str, np.ndarray]:
        """Everything the rest of the run depends on, as plain arrays (metadata as JSON text in 'meta')."""
        arrays = {"params": self.params.flat, "kept": self.kept.flat}
        arrays.update({f"optimizer_{k}": v for k, v in self.optimizer.state().items()})
        position = None
        if self.position is not None:
            position = {k: v for k, v in self.position.items() if k != "order"}
            if self.position["order"] is not None:
                arrays["order"] = self.position["order"]
        meta = {"format": 1, "epoch": self.epoch, "position": position, "rng": self.shuffle_rng.bit_generator.state,
                "dropout_rng": self.dropout_rng.bit_generator.state,
                "optimizer_t": self.optimizer.t, "history": self.history, "epoch_kept": self.epoch_kept,
                "best_loss": self.best_loss, "patience_loss": self.patience_loss, "waited": self.waited,
                "seconds": self.seconds,
                "train_sha256": self.data.train_sha256}
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
        return arrays

    def load_state(self, arrays) -> None:
        """Continue from state(); arrays must come from the same config and data."""
        meta = json.loads(bytes(arrays["meta"]).decode("utf-8"))
        self.params.flat[...] = arrays["params"]
        self.kept.flat[...] = arrays["kept"]
        self.optimizer.load_state(meta["optimizer_t"], {k[len("optimizer_"):]: arrays[k]
                                                        for k in arrays if k.startswith("optimizer_")})
        self.shuffle_rng.bit_generator.state = meta["rng"]
        if "dropout_rng" in meta:  # checkpoints of nnfit 1.0 have none (and no dropout)
            self.dropout_rng.bit_generator.state = meta["dropout_rng"]
        self.epoch, self.history, self.epoch_kept = meta["epoch"], meta["history"], meta["epoch_kept"]
        self.best_loss, self.waited, self.seconds = meta["best_loss"], meta["waited"], meta["seconds"]
        self.patience_loss = meta.get("patience_loss", self.best_loss)  # checkpoints of nnfit 1.0 lack it
        self.position = None
        if meta["position"] is not None:
            self.position = {**meta["position"], "order": np.array(arrays["order"]) if "order" in arrays else None}
