"""Backpropagation checked against central finite differences, in float64.

For each parameter array, the error is the norm-wise relative difference ||a - n|| / (||a|| + ||n||) between
the backprop gradient a and the finite-difference gradient n = (L(theta + eps) - L(theta - eps)) / (2 eps),
which is robust to entries that are 0 or tiny. float64 and eps = 1e-6 leave an error near 1e-9 for a
correct gradient; a wrong sign, factor or transpose gives an error near 1.
"""

from __future__ import annotations

import numpy as np

from .activations import ACTIVATIONS
from .losses import LOSSES, batch_loss_and_grad
from .network import Params, backward, forward, forward_plain

EPS = 1e-6
TOLERANCE = 1e-6  # what `nnfit gradcheck` accepts
MAX_ENTRIES = 100  # per parameter array; larger arrays are checked on a random sample of entries


def objective(params: Params, X, Y, activation: str, loss: str, w=None, weight_decay: float = 0.0,
              masks=None) -> float:
    """The training objective on rows X: mean loss plus (weight_decay / 2) * ||W||^2 (the textbook forward),
    with the dropout masks fixed when given."""
    z, _ = forward_plain(params, X, ACTIVATIONS[activation], masks)
    rows = LOSSES[loss].value(z, Y)
    value = float(rows.mean() if w is None else np.dot(rows, w) / len(rows))
    return value + 0.5 * weight_decay * sum(float(np.sum(W * W)) for W in params.W)


def analytic_gradient(params: Params, X, Y, activation: str, loss: str, w=None, weight_decay: float = 0.0,
                      masks=None) -> Params:
    """Backprop gradient of objective(), as a Params of the same shape: the fast passes training uses."""
    act = ACTIVATIONS[activation]
    z, hs = forward(params, X, act, masks=masks)
    _, dz = batch_loss_and_grad(LOSSES[loss], z, Y, w)
    grads = backward(params, X, hs, dz, act, Params(params.sizes, params.flat.dtype), masks=masks)
    grads.flat += weight_decay * params.weight_mask() * params.flat
    return grads


def check_gradients(params: Params, X, Y, activation: str, loss: str, w=None, weight_decay: float = 0.0,
                    rng: np.random.Generator | None = None, masks=None) -> dict[str, float]:
    """Relative error per parameter array ({'W0': ..., 'b0': ...}); params must be float64. masks: fixed
    dropout masks (the loss with them is an ordinary function of the weights, which finite differences check)."""
    assert params.flat.dtype == np.float64, "gradient checks need float64"
    rng = rng if rng is not None else np.random.default_rng(0)
    analytic = analytic_gradient(params, X, Y, activation, loss, w, weight_decay, masks)
    f = lambda: objective(params, X, Y, activation, loss, w, weight_decay, masks)  # noqa: E731
    errors = {}
    for name, a_arr in analytic.to_arrays().items():
        p_arr = params.to_arrays()[name].reshape(-1)  # a view into params.flat
        entries = np.arange(p_arr.size)
        if p_arr.size > MAX_ENTRIES:
            entries = np.sort(rng.choice(p_arr.size, MAX_ENTRIES, replace=False))
        numeric = np.empty(len(entries))
        for j, i in enumerate(entries):
            saved = p_arr[i]
            p_arr[i] = saved + EPS
            up = f()
            p_arr[i] = saved - EPS
            down = f()
            p_arr[i] = saved
            numeric[j] = (up - down) / (2 * EPS)
        a = a_arr.reshape(-1)[entries]
        scale = np.linalg.norm(a) + np.linalg.norm(numeric)
        errors[name] = float(np.linalg.norm(a - numeric) / scale) if scale > 0 else 0.0
    return errors
