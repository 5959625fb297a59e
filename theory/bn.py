"""Reference quantities for the implicit bias of batch normalization in linear models.

Y. Cao, D. Zou, Y. Li, Q. Gu, "The Implicit Bias of Batch Normalization in Linear Models and
Two-layer Linear CNNs", COLT 2023, arXiv:2306.11680.

Setting (paper abstract; details follow the reference note, unverified against the full text):
the linear model with BN is ``f(x) = gamma <w, x> / ||w||_Sigma`` with ``Sigma = X^T X / n`` the
*uncentred* batch second moment.  Normalised margins ``z_i = y_i <w, x_i> / ||w||_Sigma`` satisfy
``mean(z_i^2) = 1`` for every ``w != 0``.  GD converges to the *uniform margin* classifier
(``z_i = 1`` for all ``i``) at rate ``exp(-Omega(log^2 t))`` (main theorem).  Without BN, GD on
separable data converges in direction to the hard-margin SVM at rate ``O(1/log t)`` (Soudry et
al., JMLR 2018).

Everything here is computed independently of gradient descent (least squares, cvxpy).
"""
from __future__ import annotations

import numpy as np

__all__ = ["check_data", "normalized_margins", "uniform_margin_direction", "svm_direction",
           "patchwise_uniform_margin_direction", "BN_RATE_LAW", "NO_BN_RATE_LAW"]

#: claimed law of the BN deviation from uniform margins (law name in figures.core.rates)
BN_RATE_LAW = "exp_log2"
BN_RATE_CLAIM = "max_i |z_i(t) - 1| <= A exp(-c log^2 t), c > 0"
#: claimed law of the no-BN direction error to the SVM direction (log_power with exponent 1)
NO_BN_RATE_LAW = "log_power"
NO_BN_RATE_CLAIM = "||w_t/||w_t|| - w_svm/||w_svm||| ~ A / log t (exponent 1)"


def check_data(x, y, *, name_x: str = "x", name_y: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """Validate a binary classification data set; return float64 copies.

    Raises ``ValueError`` / ``TypeError`` naming the argument for wrong shapes, non-finite
    values and labels other than +-1.
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise TypeError(f"{name_x} must be a real array, got dtype {x.dtype}")
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"{name_x} must have shape (n, d) with n, d >= 1, got {x.shape}")
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise ValueError(f"{name_y} must have shape ({x.shape[0]},) matching {name_x}, got {y.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name_x} contains NaN or inf")
    if not np.all(np.isin(y, (-1, 1))):
        raise ValueError(f"{name_y} must contain only labels -1 and +1")
    return x.astype(np.float64), y.astype(np.float64)


def normalized_margins(w, x, y) -> np.ndarray:
    """``z_i = y_i <w, x_i> / ||w||_Sigma`` with ``Sigma = X^T X / n`` (uncentred)."""
    x, y = check_data(x, y)
    w = np.asarray(w, dtype=np.float64)
    s = np.sqrt(np.mean((x @ w) ** 2))
    if not s > 0:
        raise ValueError("w has ||w||_Sigma = 0 (orthogonal to every x_i)")
    return y * (x @ w) / s


def uniform_margin_direction(x, y, *, atol: float = 1e-8) -> np.ndarray:
    """Uniform-margin direction in ``span{x_i}``, Sigma-normalised (``z_i(w) = 1`` for all i).

    Solves ``y_i <w, x_i> = 1`` in the least-squares sense (``w = X^+ y``, minimum norm, hence in
    the span of the data) and checks the system is consistent: ``max_i |<w, x_i> - y_i| <= atol``.

    Raises
    ------
    ValueError
        If no uniform-margin classifier exists (the system ``X w = y`` is inconsistent), named
        with the residual.
    """
    x, y = check_data(x, y)
    w, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = np.max(np.abs(x @ w - y))
    if not resid <= atol or not np.any(w):
        raise ValueError(f"no uniform-margin classifier exists for (x, y): X w = y is "
                         f"inconsistent (max residual {resid:.3g})")
    return w / np.sqrt(np.mean((x @ w) ** 2))


def svm_direction(x, y, *, solver: str = "CLARABEL") -> np.ndarray:
    """Hard-margin SVM ``argmin ||w||^2 s.t. y_i <w, x_i> >= 1`` (homogeneous), unit norm.

    Solved with cvxpy (``solver`` explicit, status checked).  Non-separable data raises
    ``ValueError``.
    """
    import cvxpy as cp

    x, y = check_data(x, y)
    w = cp.Variable(x.shape[1])
    prob = cp.Problem(cp.Minimize(cp.sum_squares(w)), [cp.multiply(y, x @ w) >= 1])
    try:
        prob.solve(solver=solver)
    except cp.error.SolverError as exc:  # pragma: no cover - solver failure
        raise ValueError(f"SVM solve failed with solver={solver}: {exc}") from exc
    if prob.status in ("infeasible", "infeasible_inaccurate"):
        raise ValueError("data (x, y) are not linearly separable through the origin: "
                         "the hard-margin SVM is infeasible")
    if prob.status != "optimal":
        raise ValueError(f"SVM solve with solver={solver} ended with status {prob.status}")
    v = np.asarray(w.value, dtype=np.float64)
    return v / np.linalg.norm(v)


def check_patches(x, y) -> tuple[np.ndarray, np.ndarray]:
    """Validate patch data ``x`` of shape ``(n, P, d)`` and labels ``y`` of shape ``(n,)``."""
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"x must have shape (n, P, d) (patches), got {x.shape}")
    n, p, d = x.shape
    xf, yf = check_data(x.reshape(n, p * d), y)
    return xf.reshape(n, p, d), yf


def patchwise_uniform_margin_direction(x, y, *, atol: float = 1e-8) -> np.ndarray:
    """Patch-wise uniform-margin filter: ``y_i <w, x_i^(p)> = 1`` for all ``i, p``.

    For the two-layer single-filter linear CNN (paper, Sec. on CNNs); normalised so that the
    pooled ``||w||_Sigma~ = 1`` with ``Sigma~ = sum_{i,p} x_i^(p) x_i^(p)T / (nP)``.  Raises
    ``ValueError`` if no such filter exists.
    """
    x, y = check_patches(x, y)
    n, p, d = x.shape
    flat = x.reshape(n * p, d)
    lab = np.repeat(y, p)
    try:
        return uniform_margin_direction(flat, lab, atol=atol)
    except ValueError as exc:
        raise ValueError("no patch-wise uniform-margin filter exists for (x, y): "
                         + str(exc).split(": ", 1)[-1]) from None
