"""C <- beta C + alpha A^T B in one BLAS call, which numpy's matmul cannot do (it has no beta).

The SGD step W <- W - lr dL/dW is, for each layer, W <- W - h^T (lr delta): a matrix product added to the
weights. numpy can only write the product to a buffer and subtract it in a second pass over every weight,
and on a multi-core machine that pass costs more than its arithmetic: the BLAS threads wrote the product from
other cores, so its cache lines move across before the main thread can subtract them (docs/performance.md
has the measurements). GEMM's beta folds the update into the product, on the threads that compute it.

This calls the sgemm/dgemm that numpy itself uses: the OpenBLAS bundled in numpy's wheels (ctypes is the
standard library; nothing new is installed). It fails safe: only when numpy's own build information names that
library with 64-bit integers, the symbols are there, and a small product computes right; otherwise (numpy
built against MKL or Accelerate, a renamed library or symbol) and for any array layout BLAS is not given,
gemm_tn does the same arithmetic with numpy.
"""

from __future__ import annotations

import ctypes
import glob
import os

import numpy as np

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112  # CBLAS enum values
_SYMBOLS = {np.dtype(np.float32): ("scipy_cblas_sgemm64_", ctypes.c_float),
            np.dtype(np.float64): ("scipy_cblas_dgemm64_", ctypes.c_double)}
_gemm: dict | None = None  # dtype -> the C function, once looked up; {} when there is no usable library


def _library_paths() -> list[str]:
    """numpy's bundled OpenBLAS, only when numpy says it was built with it and with 64-bit integers (the
    argument types below). numpy built against MKL, Accelerate or a 32-bit-integer OpenBLAS gives none."""
    blas = getattr(np, "__config__", None)
    blas = getattr(blas, "CONFIG", {}).get("Build Dependencies", {}).get("blas", {})
    if blas.get("name") != "scipy-openblas" or "USE64BITINT" not in str(blas.get("openblas configuration", "")):
        return []
    root = os.path.dirname(np.__file__)
    return (glob.glob(os.path.join(root, os.pardir, "numpy.libs", "*scipy_openblas64_*"))  # Linux, Windows
            + glob.glob(os.path.join(root, ".dylibs", "*scipy_openblas64_*")))  # macOS


def _load(paths: list[str]) -> dict:
    """The gemm of the first library in paths that has both symbols and computes a small product right;
    {} when none does (then gemm_tn uses numpy)."""
    for path in paths:
        try:
            lib = ctypes.CDLL(path)  # already loaded by numpy: this returns the same library, same threads
            found = {}
            for dtype, (name, scalar) in _SYMBOLS.items():
                fn = getattr(lib, name)
                i, p = ctypes.c_int64, ctypes.c_void_p
                fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, i, i, i, scalar, p, i, p, i, scalar, p, i]
                fn.restype = None
                found[dtype] = fn
        except (OSError, AttributeError):
            continue
        if all(_computes_right(fn, dtype) for dtype, fn in found.items()):
            return found
    return {}


def _computes_right(fn, dtype) -> bool:
    """One small product through fn against numpy's: a library that answers differently is not used."""
    A = np.arange(1.0, 7.0, dtype=dtype).reshape(3, 2)
    B = np.arange(2.0, 14.0, dtype=dtype).reshape(3, 4)
    C = np.ones((2, 4), dtype)
    fn(_ROW_MAJOR, _TRANS, _NO_TRANS, 2, 4, 3, -1.0, A.ctypes.data, 2, B.ctypes.data, 4, 0.5, C.ctypes.data, 4)
    return bool(np.array_equal(C, 0.5 - A.T @ B))


def _functions() -> dict:
    """dtype -> the BLAS gemm, looked up on first use; {} when there is none to use."""
    global _gemm
    if _gemm is None:
        _gemm = _load(_library_paths())
    return _gemm


def available(dtype) -> bool:
    """Whether gemm_tn runs as one BLAS call for this dtype (else it falls back to numpy)."""
    return np.dtype(dtype) in _functions()


def worth_it(sizes: list[int], dtype) -> bool:
    """Whether folding the SGD step into gemm_tn pays for a network of these layer sizes.

    A ctypes call costs a few microseconds more than numpy's matmul, and the pass over the weights it saves
    costs a fraction of a nanosecond per weight, so it pays only on layers of many weights: from about 16k a
    layer on average (784-256-128-10 gains, 8-32-32-1 would lose; docs/performance.md).
    """
    weights = sum(i * o for i, o in zip(sizes[:-1], sizes[1:]))
    return available(dtype) and weights >= FUSE_MIN_WEIGHTS_PER_LAYER * (len(sizes) - 1)


FUSE_MIN_WEIGHTS_PER_LAYER = 16384


def gemm_tn(alpha: float, A: np.ndarray, B: np.ndarray, beta: float, C: np.ndarray,
            scratch: np.ndarray | None = None) -> np.ndarray:
    """C <- beta C + alpha A^T B, in place. A (k, m), B (k, n), C (m, n) C-contiguous, all one float dtype.

    A and B may be row slices with rows spaced apart (a batch of a wider matrix); any other layout, a
    read-only C, or no BLAS goes through numpy (which refuses a read-only C), using scratch (m, n) for the
    product when given.
    """
    fn = _functions().get(C.dtype)
    item = C.itemsize
    (sa0, sa1), (sb0, sb1) = A.strides, B.strides
    k, m = A.shape
    n = C.shape[1]
    if (fn is not None and sa1 == item and sb1 == item and sa0 % item == 0 and sb0 % item == 0
            and sa0 >= m * item and sb0 >= n * item and C.flags.c_contiguous and C.flags.writeable and m and n
            and A.flags.aligned and B.flags.aligned and C.flags.aligned
            and A.dtype == B.dtype == C.dtype and B.shape[0] == k and C.shape[0] == m and B.shape[1] == n):
        fn(_ROW_MAJOR, _TRANS, _NO_TRANS, m, n, k, alpha, A.ctypes.data, sa0 // item, B.ctypes.data, sb0 // item,
           beta, C.ctypes.data, n)
        return C
    product = np.matmul(A.T, B, out=scratch)
    if alpha != 1.0:
        product *= alpha
    if beta != 1.0:
        C *= beta
    C += product
    return C
