"""Optimizers: update the flat parameter vector from the flat gradient, in place; each has one step.

Small classes, because momentum and Adam carry state between steps. Each step works on the whole flat
buffer at once, so its cost does not grow with the number of layers. Weight decay is an L2 penalty
(weight_decay / 2) * ||W||^2 on the weights (not the biases): it adds weight_decay * W to the gradient
before the optimizer sees it, as in PyTorch's SGD and Adam.
"""

from __future__ import annotations

import numpy as np


class Optimizer:
    """What every optimizer shares: the learning rate, weight decay, and the learning-rate fold (grad_scale).

    step(p, g) updates the flat parameters p (n_params,) from g = grad_scale * dL/dp (n_params,), and may
    overwrite g. The training loop multiplies grad_scale into dL/dz of the output layer, a few numbers, instead
    of into every gradient entry (backprop is linear in dL/dz): one pass less over all parameters a step.
    """

    grad_scale = 1.0
    scales_by_rate = False  # SGD and momentum: grad_scale is the learning rate
    steps_in_backward = False  # plain SGD: backprop can take the step itself (network.backward's step)

    def __init__(self, n: int, dtype, learning_rate: float, weight_decay: float = 0.0,
                 decay_mask: np.ndarray | None = None):
        self.t = 0  # steps taken, where the update depends on it (Adam's bias correction)
        self.weight_decay = weight_decay
        self._mask = None if weight_decay == 0 else (np.ones(n, dtype) if decay_mask is None else decay_mask.astype(dtype))
        self._tmp = np.empty(n, dtype)
        self.set_learning_rate(learning_rate)

    def set_learning_rate(self, learning_rate: float) -> None:
        """The rate of the steps from now on (a schedule changes it between epochs)."""
        self.learning_rate = learning_rate
        if self.scales_by_rate:
            self.grad_scale = learning_rate  # g arrives as lr * dL/dp
        self._decay = None
        if self._mask is not None:
            with np.errstate(over="ignore", invalid="ignore"):  # an absurd decay diverges, and is reported so
                self._decay = self._mask * (self.weight_decay * self.grad_scale)  # on weights, 0 on biases

    def _add_decay(self, p: np.ndarray, g: np.ndarray) -> np.ndarray:
        """g + grad_scale * weight_decay * W: the gradient of the L2 penalty (weight_decay / 2) ||W||^2."""
        if self._decay is not None:
            np.multiply(p, self._decay, out=self._tmp)
            g += self._tmp
        return g

    def step(self, p: np.ndarray, g: np.ndarray) -> None:
        raise NotImplementedError

    def state(self) -> dict[str, np.ndarray]:
        """Arrays that, with t, let a later run continue exactly where this one stopped."""
        return {}

    def load_state(self, t: int, state: dict[str, np.ndarray]) -> None:
        self.t = int(t)
        for name, value in state.items():
            getattr(self, name)[...] = value


class SGD(Optimizer):
    """theta <- theta - lr * g: the lecture's mini-batch gradient descent.

    Without weight decay the training loop lets backprop take this step, in the same BLAS call that computes
    each weight gradient (see blas.py). With weight decay it does not: folded into GEMM as W <- (1 - lr wd) W,
    the factor 1 - lr wd would round to float32's steps of 6e-8, so a small decay would be exaggerated or lost.
    """

    scales_by_rate = True

    def __init__(self, n, dtype, learning_rate, weight_decay=0.0, **kw):
        super().__init__(n, dtype, learning_rate, weight_decay=weight_decay, **kw)
        self.steps_in_backward = weight_decay == 0

    def step(self, p, lr_g):
        p -= self._add_decay(p, lr_g)


class Momentum(Optimizer):
    """Classical momentum: v <- mu * v - lr * g; theta <- theta + v."""

    scales_by_rate = True

    def __init__(self, n, dtype, learning_rate, momentum=0.9, **kw):
        super().__init__(n, dtype, learning_rate, **kw)
        self.momentum = momentum
        self.v = np.zeros(n, dtype)

    def step(self, p, lr_g):
        self.v *= self.momentum
        self.v -= self._add_decay(p, lr_g)
        p += self.v

    def state(self):
        return {"v": self.v}


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015, Algorithm 1), with bias correction:

    m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;  m_hat = m / (1 - b1^t);  v_hat = v / (1 - b2^t);
    theta <- theta - lr * m_hat / (sqrt(v_hat) + eps)
    """

    beta1, beta2, eps = 0.9, 0.999, 1e-8

    def __init__(self, n, dtype, learning_rate, **kw):
        super().__init__(n, dtype, learning_rate, **kw)  # g arrives as dL/dp itself (grad_scale 1)
        self.m = np.zeros(n, dtype)
        self.v = np.zeros(n, dtype)

    def step(self, p, g):
        self.t += 1
        g = self._add_decay(p, g)
        b1, b2, tmp = self.beta1, self.beta2, self._tmp
        self.m *= b1
        np.multiply(g, 1 - b1, out=tmp)
        self.m += tmp
        self.v *= b2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - b2
        self.v += tmp
        np.multiply(self.v, 1.0 / (1 - b2 ** self.t), out=tmp)  # v_hat
        np.sqrt(tmp, out=tmp)
        tmp += self.eps
        np.divide(self.m, tmp, out=tmp)  # m / (sqrt(v_hat) + eps)
        tmp *= self.learning_rate / (1 - b1 ** self.t)  # m_hat = m / (1 - b1^t)
        p -= tmp

    def state(self):
        return {"m": self.m, "v": self.v}


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adam": Adam}


def make_optimizer(train_cfg, params) -> Optimizer:
    """The optimizer named by train.optimizer, sized for `params` (a network.Params)."""
    cls = OPTIMIZERS[train_cfg.optimizer]
    extra = {"momentum": train_cfg.momentum} if cls is Momentum else {}
    return cls(params.flat.size, params.flat.dtype, learning_rate=train_cfg.learning_rate,
               weight_decay=train_cfg.weight_decay, decay_mask=params.weight_mask(), **extra)
