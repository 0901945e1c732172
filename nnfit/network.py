"""The feed-forward network: parameters, forward pass and backpropagation.

A layer computes z = h @ W + b with W of shape (fan_in, fan_out), then h' = phi(z); the last layer stops at
the logits z (the output unit and the loss live in activations.OUTPUTS and losses.LOSSES). All weights and
biases live in one flat buffer, so an optimizer updates every parameter with a few vectorized operations
whatever the depth, and a checkpoint is one array.
"""

from __future__ import annotations

import numpy as np

from .activations import Activation
from .blas import gemm_tn


def layer_sizes(n_inputs: int, hidden: list[int], n_outputs: int) -> list[int]:
    """[inputs, hidden..., outputs]"""
    return [n_inputs, *hidden, n_outputs]


class Params:
    """Weights and biases of every layer in one flat buffer; W[l] (fan_in, fan_out) and b[l] (fan_out,) are views."""

    def __init__(self, sizes: list[int], dtype=np.float32, flat: np.ndarray | None = None):
        self.sizes = list(sizes)
        self.n_layers = len(sizes) - 1
        total = sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:]))
        self.flat = np.zeros(total, dtype) if flat is None else flat
        assert self.flat.shape == (total,), (self.flat.shape, total)
        self.W: list[np.ndarray] = []
        self.b: list[np.ndarray] = []
        offset = 0
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            self.W.append(self.flat[offset:offset + fan_in * fan_out].reshape(fan_in, fan_out))
            offset += fan_in * fan_out
            self.b.append(self.flat[offset:offset + fan_out])
            offset += fan_out

    def copy(self) -> Params:
        return Params(self.sizes, flat=self.flat.copy())

    def weight_mask(self) -> np.ndarray:
        """1 on weight entries, 0 on bias entries, (n_params,): weight decay applies to weights only."""
        mask = Params(self.sizes, self.flat.dtype)
        for W in mask.W:
            W[...] = 1
        return mask.flat

    def to_arrays(self) -> dict[str, np.ndarray]:
        """{'W0': ..., 'b0': ..., 'W1': ...}: plain arrays for model.npz."""
        out = {}
        for l, (W, b) in enumerate(zip(self.W, self.b)):
            out[f"W{l}"], out[f"b{l}"] = W, b
        return out

    @classmethod
    def from_arrays(cls, sizes: list[int], arrays, dtype) -> Params:
        """Inverse of to_arrays; raises KeyError or ValueError when an array is missing or mis-shaped."""
        params = cls(sizes, dtype)
        for l in range(params.n_layers):
            W, b = np.asarray(arrays[f"W{l}"]), np.asarray(arrays[f"b{l}"])
            if W.shape != params.W[l].shape or b.shape != params.b[l].shape:
                raise ValueError(f"layer {l}: W{l} {W.shape}, b{l} {b.shape}; expected {params.W[l].shape}, {params.b[l].shape}")
            params.W[l][...] = W
            params.b[l][...] = b
        return params


def init_params(sizes: list[int], init: str, rng: np.random.Generator, dtype=np.float32) -> Params:
    """Random initial weights and biases.

    glorot: W and b ~ U(-a, +a), a = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010), as scikit-learn's
            MLP does; random biases spread the ReLU kinks instead of putting them all through the origin.
    he:     W ~ U(-sqrt(6 / fan_in), +sqrt(6 / fan_in)), b = 0 (He et al. 2015).
    """
    params = Params(sizes, dtype)
    for W, b in zip(params.W, params.b):
        fan_in, fan_out = W.shape
        if init == "he":
            W[...] = rng.uniform(-np.sqrt(6.0 / fan_in), np.sqrt(6.0 / fan_in), size=W.shape)
        else:
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            W[...] = rng.uniform(-limit, limit, size=W.shape)
            b[...] = rng.uniform(-limit, limit, size=b.shape)
    return params


class Workspace:
    """Preallocated per-layer buffers for batches of n rows, reused from one batch to the next."""

    def __init__(self, sizes: list[int], n: int, dtype):
        self.z = [np.empty((n, fan_out), dtype) for fan_out in sizes[1:]]  # pre-activations, then activations
        self.dh = [np.empty((n, width), dtype) for width in sizes[1:-1]]  # dL/dh of each hidden layer


def forward(params: Params, X: np.ndarray, act: Activation, ws: Workspace | None = None):
    """Logits and hidden activations.

    X: (n, d). Returns (z: (n, k) logits of the last layer, hs: [h_1 ... h_{L-1}] each (n, width)).
    With a workspace the results live in its buffers until the next call.
    """
    h, z, hs = X, None, []
    outs = ws.z if ws is not None else [None] * params.n_layers
    for W, b, out in zip(params.W, params.b, outs):
        if z is not None:  # every layer but the first reads the previous layer's activations
            h = act.fn(z)  # in place: z's buffer now holds h
            hs.append(h)
        z = np.matmul(h, W, out=out)  # (n, fan_out)
        z += b
    return z, hs


def backward(params: Params, X: np.ndarray, hs: list[np.ndarray], dz: np.ndarray, act: Activation,
             grads: Params, ws: Workspace | None = None, descend: float | None = None) -> Params:
    """Backpropagation: fills `grads` with dL/dW, dL/db of every layer and returns it.

    dz: (n, k), dL/dz of the last layer, already averaged over the batch. Walking back, layer l gets
    dL/dW_l = h_{l-1}^T delta_l and dL/db_l = sum_rows delta_l, and passes on
    delta_{l-1} = (delta_l W_l^T) * phi'(z_{l-1}). The input's own gradient is never needed, so it is skipped.

    descend: take the plain SGD step on the way instead: W_l <- descend * W_l - h_{l-1}^T delta_l and
    b_l <- b_l - sum_rows delta_l, with dz already multiplied by the learning rate and descend = 1 - lr *
    weight_decay. Each layer's product and update are then one BLAS call (blas.gemm_tn), after delta_l W_l^T
    has used the old W_l. grads.b then holds the bias gradients and grads.W is scratch.
    """
    delta = dz
    for l in range(params.n_layers - 1, -1, -1):
        h_prev = X if l == 0 else hs[l - 1]
        if l > 0:
            dh = np.matmul(delta, params.W[l].T, out=ws.dh[l - 1] if ws else None)  # (n, fan_in)
        np.add.reduce(delta, axis=0, out=grads.b[l])  # (fan_out,); np.sum without its Python wrapper
        if descend is None:
            np.matmul(h_prev.T, delta, out=grads.W[l])  # (fan_in, fan_out)
        else:
            gemm_tn(-1.0, h_prev, delta, descend, params.W[l], scratch=grads.W[l])
            params.b[l] -= grads.b[l]
        if l > 0:
            delta = act.grad(h_prev, dh)  # in place: dh * phi'(z_{l-1})
    return grads


PREDICT_ROWS = 1024  # rows per forward pass when predicting


def predict_logits(params: Params, X: np.ndarray, act: Activation) -> np.ndarray:
    """Logits for any number of rows, (n, d) -> (n, k).

    Rows go through in blocks of exactly PREDICT_ROWS (the last block padded with zeros): BLAS sums in an
    order that depends on the matrix shape, so this is what makes a row's prediction the same to the last
    bit whichever other rows it is predicted with. Memory stays bounded too.
    """
    n = len(X)
    out = np.empty((n, params.sizes[-1]), np.result_type(X.dtype, params.flat.dtype))
    space = Workspace(params.sizes, PREDICT_ROWS, out.dtype)
    padded = np.zeros((PREDICT_ROWS, X.shape[1]), X.dtype)
    for start in range(0, n, PREDICT_ROWS):
        block = X[start:start + PREDICT_ROWS]
        m = len(block)
        if m < PREDICT_ROWS:
            padded[:m] = block
            padded[m:] = 0
            block = padded
        out[start:start + m] = forward(params, block, act, space)[0][:m]
    return out
