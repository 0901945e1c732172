"""What to tell the user about how a run went: why it diverged, and what its validation losses show.

The training loop raises or finishes; these functions turn the numbers into one line of advice that names
the config key to change. They never print: the CLI shows them, and summary.json keeps the notes.
"""

from __future__ import annotations

import numpy as np

from .dataset import Split
from .losses import LOSSES


def divergence_hint(train) -> str:
    """What to change when the loss became inf or NaN.

    With gradient descent, weight decay alone multiplies the weights by 1 - learning_rate * weight_decay a
    step. From a product of 2 on that factor is below -1, so the weights grow whatever the loss's gradient
    does; heavy-ball momentum mu moves that limit to 2 (1 + mu). From 1 on, the decay overshoots zero, and
    either setting can be the one to lower. Adam divides the decay by its own running scale, so there the
    learning rate is the one to blame.
    """
    rate, decay = train.learning_rate, train.weight_decay
    shrink = rate * decay
    limit = 2 * (1 + train.momentum) if train.optimizer == "momentum" else 2.0
    if train.optimizer != "adam" and shrink >= limit:
        return (f"train.weight_decay is too large for this learning rate: learning_rate * weight_decay = "
                f"{shrink:g}, and from {limit:g} on the decay alone makes the weights grow; try a "
                f"train.weight_decay below {1 / rate:g}, where it only shrinks them (it is {decay:g})")
    if train.optimizer != "adam" and shrink >= 1:
        return (f"try a smaller train.learning_rate (it is {rate:g}) or train.weight_decay (it is {decay:g}; "
                f"learning_rate * weight_decay = {shrink:g} makes the decay overshoot zero)")
    heaviest = max(train.class_weight.values()) if isinstance(train.class_weight, dict) else 0
    if heaviest >= 10:  # a row's gradient is multiplied by its class's weight
        return (f"try a smaller train.learning_rate (it is {rate:g}) or smaller train.class_weight values (the "
                f"largest, {heaviest:g}, multiplies its rows' steps)")
    return f"try a smaller train.learning_rate (it is {rate:g})"


def constant_loss(split: Split, loss_name: str, n_outputs: int) -> float:
    """Mean loss of logits 0 on every row of a split: equal class probabilities, or the target's training mean
    (with data.scale_target). A network whose loss stays above it has learned nothing."""
    z = np.zeros((len(split.X), n_outputs), split.X.dtype)  # (n, k)
    return float(LOSSES[loss_name].value(z, split.Y).mean(dtype=np.float64))


SHARE_OF_FALL = 0.02  # "still falling": the last tenth of the run brought this share of the whole fall, or more


def training_note(history: list[dict], stop_reason: str, constant: float, learning_rate: float,
                  outlier: str | None = None) -> str | None:
    """Advice on how a finished run went, from its validation losses; None when there is nothing to say.

    - Blown up: the loss went above 10 times what a constant prediction gives (`constant`), and its best is
      still worse than that: the learning rate, or, when the target has a far-off value (`outlier`), that.
    - Still falling: the epochs ran out while the loss was falling. The best epoch is in the last tenth of the
      run (at least 5 epochs), and the loss fell over that tenth by more than SHARE_OF_FALL of its fall over
      the whole run; or the last epoch is the best, and it is more than 1% below the epoch a tenth of the run
      earlier, or every epoch since then was better than the one before it.
    """
    if stop_reason not in ("epochs", "early_stopping") or not history or history[-1]["valid_loss"] is None:
        return None
    losses = [row["valid_loss"] for row in history]
    best = min(losses)
    if best > constant and max(losses) > 10 * constant:
        cause = (f"the training target's {outlier} squeezes every other value towards its mean; fix or drop that "
                 "row" if outlier else f"train.learning_rate (it is {learning_rate:g}) is probably too large")
        return (f"the validation loss reached {max(losses):.4g}, and its best, {best:.4g}, is worse than a "
                f"constant prediction gives ({constant:.4g}): {cause}")
    window = max(len(losses) // 10, 5)
    kept = losses.index(best)
    if stop_reason != "epochs" or len(losses) <= window or kept < len(losses) - window:
        return None
    recent = losses[-1 - window:]
    falling = (losses[-1] == best and (best < 0.99 * recent[0] or all(b < a for a, b in zip(recent, recent[1:])))
               or recent[0] - best > SHARE_OF_FALL * (losses[0] - best))  # a noisy last epoch hides no trend
    if falling:
        return (f"the validation loss was still falling when training ended ({recent[0]:.4g} in epoch "
                f"{history[-1 - window]['epoch']}, {best:.4g} in epoch {history[kept]['epoch']}): more epochs "
                f"(train.epochs), or a larger train.learning_rate, would probably lower it further")
    return None


EARLY_SHARE = 0.05  # "overfits early": the kept epoch in the first 5% of the run ...
ROSE = 1.5  # ... and the validation loss then rose to 1.5 times its lowest or more


def overfit_note(cfg, history: list[dict], epoch_kept: int) -> str | None:
    """The network overfits almost at once: its best validation loss comes early and the loss then climbs."""
    losses = [row["valid_loss"] for row in history]
    if len(losses) < 20 or epoch_kept < 1 or epoch_kept > EARLY_SHARE * len(losses):
        return None
    best, last = losses[epoch_kept - 1], losses[-1]
    if not last >= ROSE * best:
        return None
    hidden = cfg.model.hidden
    smaller = f", or a smaller network (model.hidden is {hidden})" if hidden else ""
    decay = cfg.train.weight_decay
    return (f"the network overfits almost at once: the validation loss was lowest in epoch {epoch_kept} of "
            f"{len(losses)} ({best:.4g}) and rose to {last:.4g} by the end; regularize it: train.weight_decay "
            f"(it is {decay:g}; try {max(10 * decay, 1e-3):g} and up), model.dropout (it is {cfg.model.dropout:g}; "
            f"try 0.2){smaller}")


def linear_r2(data) -> float:
    """Validation R² of a linear model fitted to the same training rows by least squares (closed form)."""
    X = np.c_[data.train.X.astype(np.float64), np.ones(len(data.train.X))]
    coef = np.linalg.lstsq(X, data.train.Y[:, 0].astype(np.float64), rcond=None)[0]
    z = np.c_[data.valid.X.astype(np.float64), np.ones(len(data.valid.X))] @ coef
    truth = data.valid.target
    predicted = data.prep.target_values(z[:, None])
    total = np.sum((truth - truth.mean()) ** 2)
    return float(1 - np.sum((truth - predicted) ** 2) / total) if total > 0 else float("nan")


def below_linear_note(cfg, data, history: list[dict], epoch_kept: int) -> str | None:
    """A regression network whose validation R² is below that of a straight line through the same rows."""
    if cfg.task != "regression" or not cfg.model.hidden or epoch_kept < 1:
        return None
    ours = history[epoch_kept - 1].get("r2")
    line = linear_r2(data)
    if ours is None or not line > ours + 0.01:
        return None
    return (f"the validation R² ({ours:.3f}) is below a linear model's on the same rows ({line:.3f}): the network "
            "adds nothing yet; try model.hidden: [] (a linear model), or regularize it (train.weight_decay, "
            "model.dropout)")


NO_VALIDATION = ("without validation rows nothing can tell when the network starts to overfit, and the metrics "
                 "shown are on the training rows it learned from: hold some rows out with data.valid_fraction "
                 "(e.g. 0.2), or give a file as data.valid")  # not said of a sweep's refit, which means it


def run_notes(cfg, data, result) -> list[str]:
    """The advice about a finished run (kept in summary.json's notes)."""
    if data.valid is None:
        return [NO_VALIDATION]
    constant = constant_loss(data.valid, cfg.loss, data.prep.n_outputs)
    notes = [training_note(result.history, result.stop_reason, constant, cfg.train.learning_rate, data.outlier)]
    if result.stop_reason in ("epochs", "early_stopping") and result.history:
        notes += [overfit_note(cfg, result.history, result.epoch_kept),
                  below_linear_note(cfg, data, result.history, result.epoch_kept)]
    return [note for note in notes if note]
