"""Vectorized path for one set shared by all samples, X_i = x_i + U (arXiv:2306.05649, Sec. 3).

sup_{x in X_i} theta^T x = x_i^T theta + S_U(theta): two scalar support-function expressions
S_U(theta), S_U(-theta) serve all n samples, so the problem size is O(nd) like nominal ERM.
The radius of U enters as a nonnegative ``cp.Parameter`` (DPP), so an eps-path re-solves the
compiled problem without rebuilding it.  X may be a scipy sparse matrix.
"""
from __future__ import annotations

import cvxpy as cp

from robust_erm.sets import Ball, Box, Budget, Ellipsoid, LabelNoise

__all__ = ["score_bounds_shared", "is_symmetric"]

SYMMETRIC = (Ball, Box, Ellipsoid, Budget)


def is_symmetric(U):
    """U = -U (then S_U(theta) = S_U(-theta) and one support expression serves both sides)."""
    if isinstance(U, LabelNoise):
        return U.features is None or is_symmetric(U.features)
    return isinstance(U, SYMMETRIC) and getattr(U, "center", None) is None


def score_bounds_shared(U, theta, b, X, y, *, classification, radius):
    """Return (lo, hi, sym, constraints): score bounds, or sym = (score, delta) if U = -U.

    ``radius`` is a cp.Parameter scaling the set (None if the set has no radius)."""
    inner = U.features if isinstance(U, LabelNoise) else U
    eta = U.eta if isinstance(U, LabelNoise) else 0.0
    cons = []
    if inner is None:
        up = dn = 0.0
    else:
        up, c1 = inner.support(theta, radius=radius)
        cons += c1
        if is_symmetric(inner):
            dn = up
        else:
            dn, c2 = inner.support(-theta, radius=radius)
            cons += c2
    pred = X @ theta + (0.0 if b is None else b)
    if classification:
        if eta:
            raise ValueError("LabelNoise is for regression; classification labels are in {-1, +1}")
        m = cp.multiply(y, pred)
        if dn is up:
            return None, None, (m, up), cons
        pos = (1 + y) / 2
        return m - (cp.multiply(pos, dn) + cp.multiply(1 - pos, up)), None, None, cons
    r = pred - y
    if dn is up:
        return None, None, (r, up + eta), cons
    return r - dn - eta, r + up + eta, None, cons
