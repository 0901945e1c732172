"""Exact products (nnfit/exact.py): what `nnfit predict` computes does not depend on the order of any sum.

These tests do not depend on the CPU they run on, and must pass under every OpenBLAS kernel family
(see docs/contributing.md); the last one checks the bits against a value computed on another machine.
"""

import hashlib
from fractions import Fraction

import numpy as np
import pytest

from nnfit.activations import ACTIVATIONS
from nnfit.exact import SLICES, ExactLayer, slice_bits, split_rows
from nnfit.network import Params, init_params, predict_logits


def awkward(rng, shape, dtype):
    """Values of every size: full mantissas, exponents spread over 2^-30 .. 2^30, zeros and sign changes."""
    values = rng.normal(size=shape) * np.exp2(rng.integers(-30, 30, size=shape))
    values[rng.random(shape) < 0.1] = 0.0
    return values.astype(dtype)


@pytest.mark.parametrize("k", [1, 7, 100, 3000])
def test_split_rows_is_exact_and_its_slices_have_the_promised_size(k):
    rng = np.random.default_rng(k)
    A = awkward(rng, (20, k), np.float64)
    A[3] = 0.0  # a row of zeros
    rho = slice_bits(k)
    assert k * 2.0 ** (2 * rho) <= 2.0 ** 53 < k * 2.0 ** (2 * rho + 2)
    scale, joined = split_rows(A, rho, 3)
    parts = [joined[:, t * k:(t + 1) * k] for t in range(3)]
    for t, H in enumerate(parts):
        whole = H * 2.0 ** (t * rho)
        np.testing.assert_array_equal(whole, np.rint(whole))  # whole numbers on the slice's grid
        assert np.abs(H).max() <= 2.0 ** (rho - t * rho)
    for i in range(0, 20, 3):  # A = scale (H_1 + H_2 + H_3) + a rest below 2^-(3 rho) of the row's largest
        rest = sum(Fraction(A[i, j]) - Fraction(scale[i, 0]) * sum(Fraction(H[i, j]) for H in parts) for j in range(k))
        largest = np.abs(A[i]).max()
        assert abs(rest) <= k * largest * 2.0 ** (-3 * rho)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("spread", [4, 60])
def test_exact_products_are_within_the_documented_bound_of_the_exact_rational_result(dtype, spread):
    """|z - exact| <= 4 (s + 1) k 2^-(s rho) max|h_i| max|W_j| (the slices left out) plus a few roundings of
    the float64 additions. With inputs of similar sizes (spread 2^4) that is far below float32's rounding."""
    rng = np.random.default_rng(1)
    k, m = 50, 4
    values = lambda shape: (rng.normal(size=shape) * np.exp2(rng.integers(-spread // 2, spread // 2, size=shape))).astype(dtype)  # noqa: E731
    h, W, b = values((30, k)), values((k, m)), values((m,))
    s = SLICES[np.dtype(dtype)]
    z = ExactLayer(W, b, s)(h)
    h64, W64 = h.astype(np.float64), W.astype(np.float64)
    left_out = 4 * (s + 1) * k * 2.0 ** (-s * slice_bits(k)) * np.abs(h64).max(axis=1)[:, None] * np.abs(W64).max(axis=0)
    rounding = 8 * 2.0 ** -53 * (np.abs(h64) @ np.abs(W64) + np.abs(b))
    for i in range(30):
        for j in range(m):
            exact = sum(Fraction(float(h[i, l])) * Fraction(float(W[l, j])) for l in range(k)) + Fraction(float(b[j]))
            error = abs(Fraction(z[i, j]) - exact)
            assert error <= left_out[i, j] + rounding[i, j]
            if spread == 4 and dtype == np.float32:  # the result rounded to float32 is the exact one's rounding
                assert abs(float(error)) < 2.0 ** -30 * float(abs(exact)) or abs(exact) < 1e-3


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_no_order_of_the_sums_changes_a_bit(dtype):
    """Reordering the inputs makes BLAS add the same terms in another order; plain products change their last
    bits, exact ones do not. So do one row alone, a row inside a big matrix, and a row computed by numpy's own
    loop (a transposed, strided copy that BLAS is not given)."""
    rng = np.random.default_rng(2)
    k, m = 300, 64
    h, W, b = awkward(rng, (500, k), dtype), awkward(rng, (k, m), dtype), awkward(rng, (m,), dtype)
    layer = ExactLayer(W, b, SLICES[np.dtype(dtype)])
    z = layer(h)
    plain_changed = False
    for seed in range(3):
        order = np.random.default_rng(seed).permutation(k)
        shuffled = ExactLayer(W[order], b, SLICES[np.dtype(dtype)])(h[:, order])
        np.testing.assert_array_equal(shuffled, z)
        plain = h.astype(np.float64) @ W.astype(np.float64)
        plain_changed |= not np.array_equal(h[:, order].astype(np.float64) @ W[order].astype(np.float64), plain)
    assert plain_changed  # otherwise this test would show nothing
    for i in (0, 7, 499):
        np.testing.assert_array_equal(layer(h[i:i + 1]), z[i:i + 1])
    rows = rng.permutation(500)[:123]
    np.testing.assert_array_equal(layer(h[rows]), z[rows])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sizes", [[20, 128, 128, 10], [5, 300, 64, 3], [7, 64, 1], [784, 256, 128, 10]])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_a_rows_logits_do_not_depend_on_the_rows_around_it_or_its_position(sizes, dtype, activation):
    """What `nnfit predict` computes (exact=True). numpy's float32 OpenBLAS kernels sum rows 0-5 and 6-11 of
    every 12 in different orders on AMD's AVX2 kernels, and its float64 AVX-512 kernels (Intel) also depend on
    a row's position; the exact products do not."""
    act = ACTIVATIONS[activation]
    params = init_params(sizes, "glorot", np.random.default_rng(0), dtype)
    n = 1100 if sizes[0] > 100 else 2500
    X = np.random.default_rng(1).normal(size=(n, sizes[0])).astype(dtype)
    everything = predict_logits(params, X, act)
    assert everything.dtype == dtype
    fast = predict_logits(params, X, act, exact=False)  # the metrics' path: BLAS in the model's dtype
    assert fast.dtype == dtype
    np.testing.assert_allclose(everything, fast, rtol=1e-4, atol=1e-5)
    for seed in range(3):
        rows = np.random.default_rng(seed).permutation(n)[:777]
        np.testing.assert_array_equal(predict_logits(params, X[rows], act), everything[rows])
    np.testing.assert_array_equal(predict_logits(params, X[5:6], act), everything[5:6])
    # the metrics' path: the same rows in the same places give the same bits (on one machine)
    np.testing.assert_array_equal(predict_logits(params, X[:1030], act, exact=False), fast[:1030])


def _hashed_values(count: int, dtype) -> np.ndarray:
    """Values with full mantissas made by integer arithmetic only (no libm, no generator floats), so every
    machine makes the same ones."""
    bits = 24 if dtype == np.float32 else 53
    i = np.arange(1, count + 1, dtype=np.uint64)
    whole = (i * np.uint64(2654435761) + np.uint64(12345)) % np.uint64(2 ** bits)  # a multiplicative hash
    return ((whole.astype(np.float64) - 2.0 ** (bits - 1)) / 2.0 ** (bits - 1)).astype(dtype)


# sha256 of the logits below, the same on an AMD EPYC under OpenBLAS's Zen, Haswell, Sandybridge, Nehalem and
# Prescott kernels (where the plain float32 products gave three different digests); every machine must agree
CROSS_MACHINE = {
    "float32": "e8b1ee67649725a628c74b6d052a5269a836ee361e1e2c8f64c77305d7bd3207",
    "float64": "b8710ca6158e21e1f4ce3dedfdab7a326305db994f19402a76f47bdf6ce14f7f",
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exact_logits_are_the_same_bits_on_every_machine(dtype):
    sizes = [30, 64, 32, 3]
    params = Params(sizes, dtype, flat=_hashed_values(sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:])), dtype))
    params.flat *= dtype(0.2)  # weights of a usual size; multiplying by a power of two's neighbour keeps full mantissas
    X = _hashed_values(1500 * 30, dtype).reshape(1500, 30)[::-1] * dtype(3)
    logits = predict_logits(params, np.ascontiguousarray(X), ACTIVATIONS["relu"])
    digest = hashlib.sha256(np.ascontiguousarray(logits).tobytes()).hexdigest()
    assert digest == CROSS_MACHINE[np.dtype(dtype).name]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_an_overflowing_model_predicts_inf_and_nan_without_numpy_warnings(dtype):
    """Weights that overflow the dtype give inf (and inf - inf = NaN further on), as training's forward pass
    does, and numpy says nothing: the command reports what it makes of such a model itself."""
    import warnings

    params = init_params([2, 3, 2], "glorot", np.random.default_rng(0), dtype=dtype)
    params.W[0][...] = np.finfo(dtype).max
    params.W[1][...] = np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, 1.0]], dtype)  # inf - inf in the output layer
    X = np.array([[1.0, 1.0], [2.0, 3.0]], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for exact in (True, False):
            logits = predict_logits(params, X, ACTIVATIONS["relu"], exact=exact)
            assert not np.isfinite(logits).any(), (exact, logits)
