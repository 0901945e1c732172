"""Learning-rate schedules: the rate of each epoch, as a pure function of the config and the run so far.

  constant  lr
  step      lr * factor ^ floor((epoch - 1) / every)
  cosine    min_rate + (lr - min_rate) (1 + cos(pi (epoch - 1) / epochs)) / 2: from lr down towards min_rate
  plateau   lr, multiplied by factor (not below min_rate) after `patience` epochs in a row without a new lowest
            validation loss (the training loss without a validation set), as Keras' ReduceLROnPlateau
  warmup    (any schedule) the first `warmup` epochs ramp linearly up to the schedule's rate: lr * epoch / (warmup + 1)

Because the rate is computed from the history itself (no hidden state), a resumed run takes exactly the rates
of one that never stopped. Only cosine depends on train.epochs, so only there does continuing a run with more
epochs change the rates it already took.
"""

from __future__ import annotations

import math


def rate(train, epoch: int, history: list[dict]) -> float:
    """The learning rate for `epoch` (1-based), given the rows of the epochs before it."""
    s, lr = train.schedule, train.learning_rate
    if s.name == "step":
        value = lr * s.factor ** ((epoch - 1) // s.every)
    elif s.name == "cosine":
        value = s.min_rate + (lr - s.min_rate) * (1 + math.cos(math.pi * (epoch - 1) / train.epochs)) / 2
    elif s.name == "plateau":
        value = _plateau(lr, s, history)
    else:
        value = lr
    if epoch <= s.warmup:
        value *= epoch / (s.warmup + 1)
    return value


def _plateau(lr: float, s, history: list[dict]) -> float:
    """Replay the run so far: each time `patience` epochs pass without a new lowest loss, cut the rate."""
    value, best, waited = lr, math.inf, 0
    for row in history:
        loss = row["valid_loss"] if row.get("valid_loss") is not None else row["train_loss"]
        if loss < best:
            best, waited = loss, 0
        else:
            waited += 1
            if waited >= s.patience:
                value, waited = max(value * s.factor, s.min_rate), 0
    return value
