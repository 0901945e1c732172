"""C <- beta C + alpha A^T B in one BLAS call, which numpy's matmul cannot do (it has no beta).

The SGD step W <- W - lr dL/dW is, for each layer, W <- W - h^T (lr delta): a matrix product added to the
weights. numpy can only write the product to a buffer and subtract it in a second pass over every weight,
and on a two-core machine that pass costs more than its arithmetic: the BLAS threads wrote the product from
the other core, so its cache lines move across before the main thread can subtract them (measured: the
update took 140 us of a 1000 us batch-128 step on 784-256-128-10). GEMM's beta folds the update into the
product, on the threads that compute it.

This calls the sgemm/dgemm that numpy itself uses: the OpenBLAS bundled in numpy's wheels (ctypes is the
standard library; nothing new is installed). Where that library is not found (numpy built against MKL or
Accelerate, say) or an array's layout is not one BLAS takes, gemm_tn does the same arithmetic with numpy.
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


def _load() -> dict:
    """numpy's bundled OpenBLAS (64-bit integer interface, scipy_ prefix), or {} when there is none."""
    root = os.path.dirname(np.__file__)
    candidates = (glob.glob(os.path.join(root, os.pardir, "numpy.libs", "*scipy_openblas64_*"))  # Linux, Windows
                  + glob.glob(os.path.join(root, ".dylibs", "*scipy_openblas64_*")))  # macOS
    for path in candidates:
        try:
            lib = ctypes.CDLL(path)  # already loaded by numpy: this returns the same library, same threads
            found = {}
            for dtype, (name, scalar) in _SYMBOLS.items():
                fn = getattr(lib, name)
                i, p = ctypes.c_int64, ctypes.c_void_p
                fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, i, i, i, scalar, p, i, p, i, scalar, p, i]
                fn.restype = None
                found[dtype] = fn
            return found
        except (OSError, AttributeError):
            continue
    return {}


def _rows(a: np.ndarray) -> int | None:
    """The leading dimension of a row-major matrix whose rows may be spaced apart, else None."""
    item = a.itemsize
    if a.ndim != 2 or a.strides[1] != item or a.strides[0] % item or a.strides[0] // item < max(1, a.shape[1]):
        return None
    return a.strides[0] // item


def available(dtype) -> bool:
    """Whether gemm_tn runs as one BLAS call for this dtype (else it falls back to numpy)."""
    global _gemm
    if _gemm is None:
        _gemm = _load()
    return np.dtype(dtype) in _gemm


def gemm_tn(alpha: float, A: np.ndarray, B: np.ndarray, beta: float, C: np.ndarray,
            scratch: np.ndarray | None = None) -> np.ndarray:
    """C <- beta C + alpha A^T B, in place. A (k, m), B (k, n), C (m, n) C-contiguous, all one float dtype.

    scratch: an (m, n) buffer for the numpy fallback (allocated when None).
    """
    assert A.dtype == B.dtype == C.dtype and A.shape[0] == B.shape[0] and C.shape == (A.shape[1], B.shape[1])
    lda, ldb = _rows(A), _rows(B)
    if available(C.dtype) and lda is not None and ldb is not None and C.flags.c_contiguous and C.size:
        k, m = A.shape
        _gemm[C.dtype](_ROW_MAJOR, _TRANS, _NO_TRANS, m, C.shape[1], k, alpha, A.ctypes.data, lda,
                       B.ctypes.data, ldb, beta, C.ctypes.data, max(1, C.shape[1]))
        return C
    product = np.matmul(A.T, B, out=scratch)
    if alpha != 1.0:
        product *= alpha
    if beta != 1.0:
        C *= beta
    C += product
    return C
