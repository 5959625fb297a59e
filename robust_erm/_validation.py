"""Argument checks shared by robust_erm: every error names the argument and what was expected."""
from __future__ import annotations

import numbers

import numpy as np

__all__ = ["real_scalar", "float_array", "validate_data"]


def real_scalar(x, name, *, lo=None, lo_strict=False, allow_inf=False):
    """Return ``x`` as a float, or raise TypeError/ValueError naming ``name``."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__} {x!r}")
    x = float(x)
    if np.isnan(x) or (np.isinf(x) and not allow_inf):
        raise ValueError(f"{name} must be a finite real number, got {x}")
    if lo is not None and (x < lo or (lo_strict and x == lo)):
        rel = ">" if lo_strict else ">="
        raise ValueError(f"{name} must be {rel} {lo}, got {x}")
    return x


def float_array(a, name, *, ndim=None, finite=True):
    """Real float64 array; complex, object or string input raises TypeError naming ``name``."""
    try:
        arr = np.asarray(a)
        if arr.dtype.kind == "c":
            raise TypeError(f"{name} must be real; got a complex array (imaginary parts would be "
                            "dropped)")
        arr = arr.astype(np.float64, copy=False)
    except (TypeError, ValueError) as e:
        if "complex" in str(e):
            raise
        raise TypeError(f"{name} must be a real numeric array, got {type(a).__name__}") from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {arr.shape}")
    if finite and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN/inf)")
    return arr


def validate_data(X, y, *, classification, sample_weight=None, allow_sparse=False):
    """Check shapes, dtypes and finiteness; return (X, y, w) with X float64 (dense, or CSR if
    ``allow_sparse`` and X is scipy sparse), y and w float64 1-D."""
    import scipy.sparse as sp
    if sp.issparse(X):
        if not allow_sparse:
            raise TypeError("X is a scipy sparse matrix; sparse X is supported on the closed-form "
                            "path (one shared set) only -- pass X.toarray() for per-sample sets")
        if np.iscomplexobj(X.data):
            raise TypeError("X must be real; got a complex sparse matrix")
        X = sp.csr_matrix(X, dtype=np.float64)
        if not np.all(np.isfinite(X.data)):
            raise ValueError("X contains NaN or inf; encode missing features with "
                             "sets.MissingFeatures")
    else:
        X = float_array(X, "X", finite=False)
    y = float_array(y, "y", finite=False)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X must be a nonempty 2-D array (n_samples, n_features), got shape {X.shape}")
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"y must be 1-D with {X.shape[0]} entries (rows of X), got shape {y.shape}")
    if not sp.issparse(X) and not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or inf; encode missing features with sets.MissingFeatures")
    if not np.all(np.isfinite(y)):
        raise ValueError("y contains NaN or inf")
    if classification and not np.all(np.isin(y, (-1.0, 1.0))):
        raise ValueError("classification labels y must be in {-1, +1}")
    if sample_weight is None:
        w = np.ones(X.shape[0])
    else:
        w = float_array(sample_weight, "sample_weight", finite=False)
        if w.shape != y.shape or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError(f"sample_weight must be finite, nonnegative, shape {y.shape}")
        if w.sum() <= 0:
            raise ValueError("sample_weight has all weights zero; at least one must be positive")
    return X, y, w
