"""h @ W + b with every sum exact, so that no BLAS, CPU, thread count or row position can change a bit.

A BLAS kernel sums each dot product in an order of its own: it depends on the CPU's kernels (Intel's AVX-512
ones and AMD's AVX2 ones differ), on the number of threads, and even on where a row sits in the matrix. In
floating point the order changes the last bits of the sum. An exact sum has no order, so this module only
ever asks BLAS for sums that float64 holds exactly (the error-free splitting of Ozaki, Ogita, Oishi and Rump,
"Error-free transformations of matrix multiplication", 2012):

  Each row of h is written as h = 2^e (H_1 + H_2 + ... + H_s + rest), where 2^e bounds the row, H_1 holds its
  leading rho bits as whole numbers (|H_1| <= 2^rho), H_2 the next rho bits (whole numbers times 2^-rho), and
  so on; each column of W is split the same way into W_1 ... W_s. In the product H_a @ W_b every term is a
  whole multiple of one power of two and below 2^(2 rho) such multiples, so a sum of k terms stays below
  k 2^(2 rho) <= 2^53 multiples: every partial sum is exactly representable, in whatever order BLAS adds.

The products with a + b <= s + 1 are then added in a fixed order, smallest first, with numpy's elementwise
(correctly rounded) additions, and the row's 2^e and the bias applied. The result is a function of the row
and the weights alone: the same bits on every machine. What is left out (the rest below the s-th slice and the
products with a + b > s + 1) is below 2^-(s rho) of the row's largest |h| times the column's largest |W|, far
below the model dtype's own rounding: s = 2 for float32 (24-bit) models, 3 for float64 ones.

The plain form is h @ W + b; tests/test_exact.py checks the result against exact rational arithmetic.
"""

from __future__ import annotations

import math

import numpy as np

SLICES = {np.dtype(np.float32): 2, np.dtype(np.float64): 3}  # by model dtype: enough bits for its mantissa
_LOWEST_EXPONENT = -900  # rows below 2^-900 are treated on that grid (they round to 0): no overflow of 2^(rho - e)


def slice_bits(k: int) -> int:
    """rho for sums of k terms: the largest whole number with k 2^(2 rho) <= 2^53."""
    return (53 - math.ceil(math.log2(max(k, 2)))) // 2


def split_rows(A: np.ndarray, rho: int, s: int, out: np.ndarray | None = None, scratch: np.ndarray | None = None):
    """A (n, k) -> (2^(e - rho) per row (n, 1), [H_1 | ... | H_s] (n, s k) float64), A ~ 2^(e - rho) sum_t H_t.

    H_1 holds whole numbers |H_1| <= 2^rho; H_t (t > 1) whole numbers times 2^(-(t - 1) rho), below 2^-((t-2) rho + 1).
    Every step is exact: scaling by powers of two, rounding to whole numbers, and subtracting the rounded part.
    out (n, s k) and scratch (n, k), when given, are where this computes, so a block costs no new memory.
    """
    n, k = A.shape
    out = np.empty((n, s * k)) if out is None else out
    largest = np.maximum(A.max(axis=1, keepdims=True), -A.min(axis=1, keepdims=True))  # (n, 1)
    _, e = np.frexp(largest)  # |A| < 2^e for every entry of the row
    np.maximum(e, _LOWEST_EXPONENT, out=e)
    r = np.multiply(A, np.ldexp(1.0, rho - e), out=scratch)  # |r| < 2^rho
    for t in range(s):
        H = np.rint(r, out=out[:, t * k:(t + 1) * k])
        if t < s - 1:
            r -= H  # |r| <= 1/2, exact
            r *= 2.0 ** rho
        if t > 0:
            H *= 2.0 ** (-t * rho)
    return np.ldexp(1.0, e - rho), out


class ExactLayer:
    """One layer's weights, split once, for exact products h @ W + b.

    The products with a + b = d are one matrix product, [H_1 | ... | H_{d-1}] @ [W_{d-1}; ...; W_1], a sum of
    (d - 1) k terms; rho is chosen for the longest, s k.
    """

    def __init__(self, W: np.ndarray, b: np.ndarray, slices: int):
        self.k, self.m = W.shape
        self.s = slices
        self.rho = slice_bits(slices * self.k)
        scale, parts = split_rows(np.ascontiguousarray(W.T), self.rho, slices)  # the columns of W: (m, s k)
        parts *= scale  # each column back to its own size: exact, a power of two
        W_b = [np.ascontiguousarray(parts[:, t * self.k:(t + 1) * self.k].T) for t in range(slices)]  # (k, m)
        self.W = {d: np.vstack(W_b[d - 2::-1]) for d in range(2, slices + 2)}  # [W_{d-1}; ...; W_1], ((d-1) k, m)
        self.b = np.asarray(b, np.float64)  # (m,)
        self._buffers: dict[int, tuple] = {}  # rows -> (slices, scratch, product, z)

    def __call__(self, h: np.ndarray) -> np.ndarray:
        """h (n, k) -> h @ W + b (n, m), float64, the same bits whatever computes the matrix products.

        The result lives in a buffer of this layer until its next call with as many rows."""
        n, k = h.shape
        if n not in self._buffers:
            self._buffers[n] = (np.empty((n, self.s * k)), np.empty((n, k)), np.empty((n, self.m)),
                                np.empty((n, self.m)))
        slices, scratch, product, z = self._buffers[n]
        scale, H = split_rows(h, self.rho, self.s, slices, scratch)
        z[...] = 0.0
        for d in range(self.s + 1, 1, -1):  # from the smallest products to the largest
            z += np.matmul(H[:, :(d - 1) * k], self.W[d], out=product)  # exact: any order gives these bits
        z *= scale
        z += self.b
        return z
