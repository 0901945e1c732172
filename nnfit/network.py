"""The feed-forward network: parameters, forward pass and backpropagation.

A layer computes z = h @ W + b with W of shape (fan_in, fan_out), then h' = phi(z); the last layer stops at
the logits z (the output unit and the loss live in activations.OUTPUTS and losses.LOSSES). Backpropagation
walks back from delta_L = dL/dz_L: dL/dW_l = h_{l-1}^T delta_l, dL/db_l = the sum over rows of delta_l, and
delta_{l-1} = (delta_l W_l^T) * phi'(z_{l-1}). forward_plain and backward_plain say exactly that.

forward and backward compute the same numbers faster, and are what training uses (tests/test_network.py
keeps the two equal). Their speed-ups, each marked where it is made:
  - all weights and biases live in one flat buffer, so an optimizer updates every parameter with a few
    vectorized operations whatever the depth, and a checkpoint is one array;
  - the bias is the weight of an input that is always 1: in the buffer each layer's b follows its W, so
    together they are one (fan_in + 1, fan_out) matrix [W; b] (Params.Wb), hidden activations are kept beside
    a column of ones (Workspace.h1), and from the second layer on z = [h, 1] @ [W; b] and
    dL/d[W; b] = [h, 1]^T delta are one matrix product each, with no separate bias add or bias sum;
  - buffers are allocated once per batch size (Workspace), and activations work in place;
  - plain SGD can take its step inside backprop, in the BLAS call that computes dL/dW (step=True, blas.py).
"""

from __future__ import annotations

import numpy as np

from .activations import Activation
from .blas import gemm_tn
from .exact import SLICES, ExactLayer


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
        self.Wb: list[np.ndarray] = []  # [W; b], (fan_in + 1, fan_out): the same memory as W and b
        offset = 0
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            self.Wb.append(self.flat[offset:offset + (fan_in + 1) * fan_out].reshape(fan_in + 1, fan_out))
            self.W.append(self.Wb[-1][:fan_in])
            self.b.append(self.Wb[-1][fan_in])
            offset += (fan_in + 1) * fan_out

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


def forward_plain(params: Params, X: np.ndarray, act: Activation, masks: list[np.ndarray] | None = None):
    """The textbook forward pass. X (n, d) -> (logits z_L (n, k), [h_1 ... h_{L-1}] each (n, width)).

    masks: dropout, one (n, width) array per hidden layer, 0 for a dropped unit and 1 / (1 - p) for a kept one:
    the next layer sees h * mask (inverted dropout: the expected input is h, so predicting needs no mask)."""
    h, hs = X, []
    for l in range(params.n_layers):
        z = h @ params.W[l] + params.b[l]  # (n, fan_out)
        if l == params.n_layers - 1:
            return z, hs
        h = act.fn(z.copy())  # phi(z)
        hs.append(h)
        if masks is not None:
            h = h * masks[l]


def backward_plain(params: Params, X: np.ndarray, hs: list[np.ndarray], dz: np.ndarray, act: Activation,
                   masks: list[np.ndarray] | None = None) -> Params:
    """Textbook backpropagation: dL/dW_l and dL/db_l of every layer, from dz = dL/dz_L (n, k) of the batch mean.
    With dropout masks, layer l saw h * mask, and dL/dh is dL/d(h * mask) times the mask."""
    grads = Params(params.sizes, dz.dtype)
    delta = dz
    for l in range(params.n_layers - 1, -1, -1):
        h_prev = X if l == 0 else hs[l - 1]  # (n, fan_in)
        seen = h_prev if l == 0 or masks is None else h_prev * masks[l - 1]  # what layer l multiplied
        grads.W[l][...] = seen.T @ delta  # (fan_in, fan_out)
        grads.b[l][...] = delta.sum(axis=0)  # (fan_out,)
        if l > 0:
            dh = delta @ params.W[l].T  # (n, fan_in)
            if masks is not None:
                dh = dh * masks[l - 1]
            delta = act.grad(h_prev, dh)  # (delta_l W_l^T) * phi'(z_{l-1})
    return grads


class Workspace:
    """Preallocated per-layer buffers for batches of n rows, reused from one batch to the next."""

    def __init__(self, sizes: list[int], n: int, dtype, dropout: bool = False):
        # each hidden layer's z, then in place its activation h, with a column of ones after it: [h, 1]
        self.h1 = [np.ones((n, width + 1), dtype) for width in sizes[1:-1]]  # (n, width + 1)
        self.z = [h1[:, :-1] for h1 in self.h1] + [np.empty((n, sizes[-1]), dtype)]  # (n, width) views; logits
        self.dh1 = [np.empty((n, width + 1), dtype) for width in sizes[1:-1]]  # dL/d[h, 1]; the last column unused
        if dropout:  # the masks, and what the next layer sees: [h * mask, 1]
            self.masks = [np.empty((n, width), dtype) for width in sizes[1:-1]]
            self.hm1 = [np.ones((n, width + 1), dtype) for width in sizes[1:-1]]

    def draw_masks(self, p: float, rng: np.random.Generator) -> list[np.ndarray]:
        """Fresh dropout masks for the next batch: each unit dropped with probability p, kept ones scaled."""
        for mask in self.masks:
            rng.random(out=mask, dtype=mask.dtype)
            np.greater_equal(mask, p, out=mask, casting="unsafe")
            mask *= 1.0 / (1.0 - p)
        return self.masks


def forward(params: Params, X: np.ndarray, act: Activation, ws: Workspace | None = None,
            masks: list[np.ndarray] | None = None):
    """forward_plain, faster (see the module's speed-ups): logits and hidden activations.

    X: (n, d). Returns (z: (n, k) logits of the last layer, hs: [h_1 ... h_{L-1}] each (n, width)).
    masks: dropout, as in forward_plain (then ws must have been made with dropout=True).
    The results live in the workspace's buffers until its next use; without one, forward makes its own.
    """
    if ws is None:
        ws = Workspace(params.sizes, len(X), np.result_type(X.dtype, params.flat.dtype), masks is not None)
    z = np.matmul(X, params.W[0], out=ws.z[0])  # (n, fan_out)
    z += params.b[0]
    hs = []
    for l in range(1, params.n_layers):
        act.fn(ws.h1[l - 1] if act.keeps_one else z)  # in place: z's memory now holds h
        hs.append(z)
        seen = ws.h1[l - 1]
        if masks is not None:  # dropout: the next layer sees [h * mask, 1]
            seen = ws.hm1[l - 1]
            np.multiply(z, masks[l - 1], out=seen[:, :-1])
        # speed-up: [h, 1] @ [W; b] = h @ W + b in one product. np.dot has less overhead per call than np.matmul,
        # but writes only to C-contiguous memory: the logits, not a hidden layer's z beside its ones
        product = np.dot if l == params.n_layers - 1 else np.matmul
        z = product(seen, params.Wb[l], out=ws.z[l])
    return z, hs


def backward(params: Params, X: np.ndarray, hs: list[np.ndarray], dz: np.ndarray, act: Activation,
             grads: Params, ws: Workspace | None = None, step: bool = False,
             masks: list[np.ndarray] | None = None) -> Params:
    """backward_plain, faster (see the module's speed-ups): fills `grads` with dL/dW, dL/db of every layer.

    X, hs: forward's input and hidden activations; ws: the workspace forward used (None if it made its own).
    dz: (n, k), dL/dz of the last layer, already averaged over the batch. Walking back, layer l gets
    dL/dW_l = h_{l-1}^T delta_l and dL/db_l = sum_rows delta_l (one product, [h_{l-1}, 1]^T delta_l, from the
    second layer on) and passes on delta_{l-1} = (delta_l W_l^T) * phi'(z_{l-1}). The input's own gradient
    is never needed, so it is skipped.

    step: take the plain SGD step on the way instead, W_l <- W_l - h_{l-1}^T delta_l and b_l <- b_l -
    sum_rows delta_l, with dz already multiplied by the learning rate. Each layer's product and update are
    then one BLAS call (blas.gemm_tn), made after delta_l W_l^T has used the old W_l; grads is scratch.
    masks: the dropout masks forward used.
    """
    if ws is None:
        ws = Workspace(params.sizes, len(X), dz.dtype, masks is not None)
        for l, (h, h1) in enumerate(zip(hs, ws.h1)):
            h1[:, :-1] = h
            if masks is not None:
                np.multiply(h, masks[l], out=ws.hm1[l][:, :-1])
    delta = dz
    for l in range(params.n_layers - 1, -1, -1):
        if l > 0:
            h1 = ws.h1[l - 1]  # [h_{l-1}, 1], (n, fan_in + 1)
            seen = h1 if masks is None else ws.hm1[l - 1]  # what this layer multiplied: [h, 1] or [h * mask, 1]
            dh1 = np.dot(delta, params.Wb[l].T, out=ws.dh1[l - 1])  # (n, fan_in + 1): [delta W^T, delta b]
            if step:  # speed-up: the SGD step in the product's own BLAS call
                gemm_tn(-1.0, seen, delta, 1.0, params.Wb[l], scratch=grads.Wb[l])  # [W; b] -= [h, 1]^T delta
            else:  # speed-up: [dL/dW; dL/db] = [h, 1]^T delta in one product
                np.dot(seen.T, delta, out=grads.Wb[l])  # (fan_in + 1, fan_out)
            if masks is not None:
                dh1[:, :-1] *= masks[l - 1]
            delta = act.grad(h1, dh1)[:, :-1]  # in place: dh * phi'(z_{l-1}); (n, fan_in), a view
        else:
            np.add.reduce(delta, axis=0, out=grads.b[0])  # (fan_out,); np.sum without its Python wrapper
            if step:
                gemm_tn(-1.0, X, delta, 1.0, params.W[0], scratch=grads.W[0])  # W -= X^T delta
                params.b[0] -= grads.b[0]
            else:
                np.dot(X.T, delta, out=grads.W[0])  # (d, fan_out)
    return grads


PREDICT_ROWS = 1024  # rows per BLAS forward pass when scoring: the same rows in the same places, the same bits
EXACT_ROWS = 512  # rows per exact forward pass when predicting (any number gives the same bits; this is quick)


def predict_logits(params: Params, X: np.ndarray, act: Activation, exact: bool = True) -> np.ndarray:
    """Logits for any number of rows, (n, d) -> (n, k), in the model's dtype.

    exact (what `nnfit predict` uses): every layer's h @ W + b is computed with exact sums (see exact.py) and
    rounded once to the model's dtype, so a row's logits depend on that row and the weights alone: the same
    bits whichever other rows are predicted with it, wherever it sits among them, and on every CPU.

    exact=False (the metrics: training's validation pass, summary.json, `nnfit evaluate`): BLAS products in the
    model's dtype, in blocks of exactly PREDICT_ROWS rows, the last one padded with zeros. BLAS sums in an order
    that depends on the CPU's kernels, the threads and a row's position in the block, so here the same rows in
    the same order give the same bits on one machine, and other rows or another CPU agree to within rounding.
    """
    n = len(X)
    dtype = params.flat.dtype
    out = np.empty((n, params.sizes[-1]), dtype)
    if exact:
        with np.errstate(over="ignore", invalid="ignore"):  # an overflowing model predicts inf or NaN, as forward()
            layers = [ExactLayer(W, b, SLICES[dtype]) for W, b in zip(params.W, params.b)]
            for start in range(0, n, EXACT_ROWS):
                h = X[start:start + EXACT_ROWS]
                for l, layer in enumerate(layers):
                    h = layer(h).astype(dtype)  # (rows, fan_out), rounded once to the model's dtype
                    if l < len(layers) - 1:
                        act.fn(h)  # in place
                out[start:start + len(h)] = h
        return out
    space = Workspace(params.sizes, PREDICT_ROWS, dtype)
    block = np.zeros((PREDICT_ROWS, X.shape[1]), dtype)
    with np.errstate(over="ignore", invalid="ignore"):  # as above: inf or NaN, which the callers report
        for start in range(0, n, PREDICT_ROWS):
            m = min(PREDICT_ROWS, n - start)
            block[:m] = X[start:start + m]
            block[m:] = 0
            out[start:start + m] = forward(params, block, act, space)[0][:m]
    return out
