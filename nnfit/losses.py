"""Losses, each computed from the logits z of the last layer (before its output unit).

Each entry pairs the per-row loss l(y, z) with its gradient dl/dz, so the calculus sits in one place.
The loss of a batch is the (optionally weighted) mean over its rows: batch_loss_and_grad applies the 1/n.

Targets, always 2-D: regression y (n, 1), standardized when data.scale_target is on; binary y (n, 1) in
{0, 1}, where 1 is the positive class (the lecture's y = 1) and 0 the other (its y = -1); multiclass Y (n, K)
one-hot.

Why from logits: binary cross-entropy behind a sigmoid, and cross-entropy behind a softmax, have
dl/dz = prediction - target exactly (the fused output gradient): the output unit's derivative cancels against
the derivative of the log. That is cheaper than chaining the two derivatives and never divides by a
probability that rounded to 0; the loss itself uses log-sum-exp, so it stays finite for any logit.
MSE follows the lecture: (y - y_hat)^2 with no 1/2, so its gradient is 2 (y_hat - y).
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .activations import log_sum_exp, sigmoid, softmax

HUBER_DELTA = 1.0  # huber: quadratic for |residual| <= 1, linear beyond (in standardized target units)


@dataclass(frozen=True)
class Loss:
    value: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (z (n, k), y (n, k)) -> per-row loss (n,)
    grad: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (z, y) -> per-row dl/dz (n, k)
    # optional (z, y, c) -> (sum of row losses, c * dl/dz): the same numbers in fewer numpy calls, which is
    # what a tiny network's mini-batch costs; tests check it against value and grad
    sum_and_scaled_grad: Callable | None = None


def _mse(z, y):  # (y - z)^2
    r = z - y
    return np.einsum("ij,ij->i", r, r)


def _mse_grad(z, y):  # 2 (z - y)
    g = z - y
    g *= 2
    return g


def _mse_sum_and_scaled_grad(z, y, c):  # sum (z - y)^2 and c * 2 (z - y), sharing z - y
    r = z - y
    total = float(np.vdot(r, r))
    r *= 2 * c
    return total, r


def _mae(z, y):  # |y - z|
    return np.abs(z - y).sum(axis=1)


def _mae_grad(z, y):  # sign(z - y), 0 at the kink
    return np.sign(z - y)


def _huber(z, y):  # r^2 / 2 for |r| <= delta, else delta (|r| - delta / 2)
    a = np.abs(z - y)
    quad = np.minimum(a, HUBER_DELTA)
    return (quad * (a - 0.5 * quad)).sum(axis=1)


def _huber_grad(z, y):  # r clipped to [-delta, delta]
    return np.clip(z - y, -HUBER_DELTA, HUBER_DELTA)


def _binary_cross_entropy(z, y):  # -log sigma(z) if y = 1, -log(1 - sigma(z)) if y = 0; = log(1 + e^z) - y z
    return (np.logaddexp(0, z) - y * z).sum(axis=1)


def _binary_cross_entropy_grad(z, y):  # sigma(z) - y  (fused with the sigmoid output)
    g = sigmoid(z)
    g -= y
    return g


def _binary_cross_entropy_sum_and_scaled_grad(z, y, c):
    total = float(np.add.reduce(np.logaddexp(0, z), axis=None, dtype=np.float64)) - float(np.vdot(y, z))
    g = _binary_cross_entropy_grad(z, y)
    g *= c
    return total, g


def _cross_entropy(z, y):  # -log softmax(z)_y = log sum_k e^{z_k} - z_y
    return log_sum_exp(z) - np.einsum("ij,ij->i", z, y)


def _cross_entropy_grad(z, y):  # softmax(z) - onehot(y)  (fused with the softmax output)
    g = softmax(z)
    g -= y
    return g


def _cross_entropy_sum_and_scaled_grad(z, y, c):  # log-sum-exp and softmax share the shifted exponentials
    e = z - z.max(axis=1, keepdims=True)  # z - m
    picked = float(np.vdot(e, y))  # sum over rows of z_y - m
    np.exp(e, out=e)
    s = np.add.reduce(e, axis=1, keepdims=True)  # sum_k e^{z_k - m}
    total = float(np.add.reduce(np.log(s), axis=None, dtype=np.float64)) - picked
    e /= s  # softmax(z)
    e -= y
    e *= c
    return total, e


LOSSES = {
    "mse": Loss(_mse, _mse_grad, _mse_sum_and_scaled_grad),
    "mae": Loss(_mae, _mae_grad),
    "huber": Loss(_huber, _huber_grad),
    "binary_cross_entropy": Loss(_binary_cross_entropy, _binary_cross_entropy_grad,
                                 _binary_cross_entropy_sum_and_scaled_grad),
    "cross_entropy": Loss(_cross_entropy, _cross_entropy_grad, _cross_entropy_sum_and_scaled_grad),
}


def batch_loss_and_grad(loss: Loss, z: np.ndarray, y: np.ndarray, w: np.ndarray | None = None,
                        scale: float = 1.0):
    """Mean loss over the batch and its gradient dL/dz.

    z, y: (n, k); w: per-row weights (n,) or None. Returns (loss_sum: float, dz: (n, k)) where loss_sum is
    the weighted sum of row losses (the caller divides by the number of rows of the whole pass) and dz is
    dL/dz of the batch mean, times `scale` (see Optimizer.grad_scale).
    """
    n = len(z)
    if w is None and loss.sum_and_scaled_grad is not None:
        return loss.sum_and_scaled_grad(z, y, scale / n)
    rows = loss.value(z, y)
    dz = loss.grad(z, y)
    if w is None:
        dz *= scale / n
        return float(np.add.reduce(rows, dtype=np.float64)), dz
    dz *= (w * (scale / n))[:, None]
    return float(np.dot(rows, w)), dz
