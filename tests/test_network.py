"""The fast forward and backward passes (bias column, in-place activations, the SGD step inside backprop)
against the textbook forms in network.py, which read like the equations."""

import numpy as np
import pytest

from nnfit import blas
from nnfit.activations import ACTIVATIONS
from nnfit.network import Params, Workspace, backward, backward_plain, forward, forward_plain, init_params


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("sizes", [[5, 3], [5, 7, 3], [6, 16, 8, 4, 2]])
def test_fast_passes_equal_the_textbook_ones(activation, sizes):
    act = ACTIVATIONS[activation]
    rng = np.random.default_rng(len(sizes))
    params = init_params(sizes, "glorot", rng, np.float64)
    X = rng.normal(size=(13, sizes[0]))
    dz = rng.normal(size=(13, sizes[-1])) / 13
    z_plain, hs_plain = forward_plain(params, X, act)
    grads_plain = backward_plain(params, X, hs_plain, dz, act)

    space = Workspace(params.sizes, 13, np.float64)
    z, hs = forward(params, X, act, space)
    np.testing.assert_allclose(z, z_plain, rtol=1e-12, atol=1e-14)
    for h, h_plain in zip(hs, hs_plain):
        np.testing.assert_allclose(h, h_plain, rtol=1e-12, atol=1e-14)
    grads = backward(params, X, hs, dz, act, Params(params.sizes, np.float64), space)
    np.testing.assert_allclose(grads.flat, grads_plain.flat, rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("gemm", ["blas", "numpy"])
def test_the_sgd_step_inside_backprop_is_the_textbook_step(gemm, monkeypatch):
    """step=True: W <- W - h^T delta and b <- b - sum delta, with delta already times the learning rate."""
    if gemm == "numpy":
        monkeypatch.setattr(blas, "_gemm", {})
    act = ACTIVATIONS["relu"]
    rng = np.random.default_rng(5)
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 1e-5)):
        params = init_params([6, 16, 8, 3], "glorot", rng, dtype)
        X = rng.normal(size=(11, 6)).astype(dtype)
        dz = (0.1 * rng.normal(size=(11, 3)) / 11).astype(dtype)
        z, hs = forward_plain(params, X, act)
        expected = params.flat - backward_plain(params, X, hs, dz, act).flat
        space = Workspace(params.sizes, 11, dtype)
        _, hs = forward(params, X, act, space)
        backward(params, X, hs, dz, act, Params(params.sizes, dtype), space, step=True)
        np.testing.assert_allclose(params.flat, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_textbook_gradients_come_in_the_dtype_of_dz(dtype):
    """A float32 batch gets float32 gradients from backward_plain and from backward without a workspace (one type
    per input type), and a float32 network float32 weight masks."""
    act = ACTIVATIONS["tanh"]
    rng = np.random.default_rng(6)
    params = init_params([4, 5, 2], "glorot", rng, dtype)
    X = rng.normal(size=(3, 4)).astype(dtype)
    _, hs = forward_plain(params, X, act)
    dz = (rng.normal(size=(3, 2)) / 3).astype(dtype)
    grads = backward_plain(params, X, hs, dz, act)
    assert grads.flat.dtype == dtype
    fast = backward(params, X, hs, dz, act, Params(params.sizes, dtype))  # without a workspace: it makes its own
    np.testing.assert_allclose(fast.flat, grads.flat, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-7)
    mask = params.weight_mask()  # 1 on weights, 0 on biases, in the parameters' dtype
    assert mask.dtype == dtype
    assert all(W.all() for W in Params(params.sizes, dtype, mask).W)
    assert not any(b.any() for b in Params(params.sizes, dtype, mask).b)


def test_params_come_back_from_their_arrays_in_their_own_dtype():
    """to_arrays then from_arrays (what model.npz holds) gives the same bits, float64 staying float64."""
    params = init_params([3, 4, 2], "glorot", np.random.default_rng(7), np.float64)
    back = Params.from_arrays(params.sizes, params.to_arrays(), np.float64)
    assert back.flat.dtype == np.float64
    np.testing.assert_array_equal(back.flat, params.flat)


def test_a_misshaped_array_names_its_layer_even_when_numpy_could_broadcast_it():
    """A W of shape (1, 2) would broadcast into the (4, 2) it replaces; it is refused, as a wrong b is."""
    arrays = init_params([3, 4, 2], "glorot", np.random.default_rng(8), np.float64).to_arrays()
    with pytest.raises(ValueError, match=r"^layer 1: W1 \(1, 2\), b1 \(2,\); expected \(4, 2\), \(2,\)$"):
        Params.from_arrays([3, 4, 2], {**arrays, "W1": arrays["W1"][:1]}, np.float64)
    with pytest.raises(ValueError, match=r"^layer 0: W0 \(3, 4\), b0 \(1,\); expected \(3, 4\), \(4,\)$"):
        Params.from_arrays([3, 4, 2], {**arrays, "b0": arrays["b0"][:1]}, np.float64)
