"""Activations. Each hidden-unit entry pairs phi with its derivative, so the calculus can be checked by eye.

Hidden units (ACTIVATIONS), used in place to keep the training loop free of allocations:
  fn(z)      -> phi(z), computed in z's own memory (the pre-activation is not needed afterwards);
  grad(a, g) -> g * phi'(z), computed in g's memory, with phi'(z) written in terms of a = phi(z).
Every activation here has a derivative that its output determines, so backprop only keeps outputs.

Output units (OUTPUTS) turn the last layer's logits into predictions: identity for regression, sigmoid for
binary P(y = positive), softmax for a K-class distribution. They allocate their result.
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np

LEAKY_SLOPE = 0.01  # leaky_relu's slope for z < 0


@dataclass(frozen=True)
class Activation:
    fn: Callable[[np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray, np.ndarray], np.ndarray]
    keeps_one: bool = False  # phi(1) = 1: fn may run over [z, 1] and leave the column of ones as it is


def _relu(z):  # max(0, z)
    return np.maximum(z, 0, out=z)


def _relu_grad(a, g):  # 1 where z > 0, else 0; z > 0 exactly where a > 0
    return np.multiply(g, a > 0, out=g)


def _leaky_relu(z):  # z for z > 0, else 0.01 z; max(z, 0.01 z) is exactly that
    return np.maximum(z, z * LEAKY_SLOPE, out=z)


def _leaky_relu_grad(a, g):  # 1 where z > 0, else 0.01; a has z's sign
    return np.multiply(g, np.where(a > 0, 1.0, LEAKY_SLOPE).astype(g.dtype, copy=False), out=g)


def _tanh(z):
    return np.tanh(z, out=z)


def _tanh_grad(a, g):  # 1 - tanh(z)^2
    return np.multiply(g, 1 - a * a, out=g)


def _sigmoid(z):  # 1 / (1 + exp(-z)) = exp(-log(1 + exp(-z))): logaddexp never overflows
    np.negative(z, out=z)
    np.logaddexp(0, z, out=z)
    np.negative(z, out=z)
    return np.exp(z, out=z)


def _sigmoid_grad(a, g):  # sigma(z) (1 - sigma(z))
    return np.multiply(g, a * (1 - a), out=g)


def _identity(z):
    return z


def _identity_grad(a, g):  # 1
    return g


ACTIVATIONS = {
    "relu": Activation(_relu, _relu_grad, keeps_one=True),
    "leaky_relu": Activation(_leaky_relu, _leaky_relu_grad, keeps_one=True),
    "tanh": Activation(_tanh, _tanh_grad),
    "sigmoid": Activation(_sigmoid, _sigmoid_grad),
    "identity": Activation(_identity, _identity_grad, keeps_one=True),
}


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function, (n, k) -> (n, k), never exp of a large positive number."""
    return _sigmoid(np.array(z, copy=True))


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, (n, K) -> (n, K); shifting by the row max keeps exp in range."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    return e


def log_sum_exp(z: np.ndarray) -> np.ndarray:
    """log(sum_k exp(z_k)) per row, (n, K) -> (n,), stable for any logits."""
    m = z.max(axis=1)
    return m + np.log(np.exp(z - m[:, None]).sum(axis=1))


OUTPUTS = {  # output unit by task: logits (n, k) -> predictions (n, k)
    "regression": lambda z: np.array(z, copy=True),
    "binary": sigmoid,
    "multiclass": softmax,
}
OUTPUT_NAMES = {"regression": "identity", "binary": "sigmoid", "multiclass": "softmax"}  # as model.json names them
