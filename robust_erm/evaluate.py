"""Fixed-theta evaluation: per-sample worst-case losses and worst-case points, numerically.

Independent of the dual the fit minimizes (arXiv:2306.05649, Sec. 3): the sup of a convex loss
of theta^T x - y over a compact convex X_i is attained where theta^T x is extreme, so it needs
S_{X_i}(theta) and S_{X_i}(-theta) and their maximizers, which each set gives in closed form
(vectorized numpy, O(n d) for balls, boxes, ellipsoids, budgets, hulls, missing features) or from
its primal description (one batched conic problem for the other sets).  This is the fit's
certificate and the engine of ``RobustERM.robust_loss`` and ``worst_case_points``.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from robust_erm.sets import UncertaintySet, primal_max

__all__ = ["Bounds", "score_bounds_np", "per_sample_sets"]


@dataclasses.dataclass
class Bounds:
    """Numeric score interval [lo, hi] per sample (hi None for classification), the maximizers
    x attaining each end (``x_lo``/``x_hi``) and the label shift of each end."""

    lo: np.ndarray
    hi: np.ndarray | None
    x_lo: np.ndarray | None
    x_hi: np.ndarray | None
    eta: np.ndarray


def per_sample_sets(uncertainty, n):
    """The list of absolute sets, or None for a shared perturbation set."""
    if isinstance(uncertainty, UncertaintySet):
        return None
    if len(uncertainty) != n:
        raise ValueError(f"the fit has {len(uncertainty)} per-sample sets; X has {n} rows "
                         "(per-sample sets evaluate only the rows they belong to)")
    return list(uncertainty)


def _support_list(sets, V, points):
    """S_{sets[i]}(V[i]) (and maximizers) for a list of sets, closed form where possible."""
    n, d = V.shape
    vals = np.empty(n)
    pts = np.empty((n, d)) if points else None
    rest = []
    for i, S in enumerate(sets):
        if S.closed_form:
            x = S._argmax_np(V[i:i + 1])
            vals[i] = V[i] @ x[0]
            if points:
                pts[i] = x[0]
        else:
            rest.append(i)
    if rest:
        v, x = primal_max([sets[i] for i in rest], V[rest])
        vals[rest] = v
        if points:
            pts[rest] = x
    return vals, pts


def score_bounds_np(uncertainty, theta, b, X, y, *, classification, radius=None, points=False):
    """Score bounds of every sample at fixed (theta, b), numerically.  ``X`` dense or sparse."""
    n, d = X.shape
    theta = np.asarray(theta, dtype=np.float64)
    pred = np.asarray(X @ theta).reshape(-1) + b
    sets = per_sample_sets(uncertainty, n)
    if sets is None:
        U = uncertainty.with_radius(radius)
        eta = np.full(n, getattr(U, "eta", 0.0))
        V = np.vstack([theta, -theta])
        if U.closed_form:
            P = U._argmax_np(V)
            s = np.einsum("kd,kd->k", V, P)
        else:
            s, P = U.support_value(V), U.argmax(V) if points else None
        up, dn = np.full(n, s[0]), np.full(n, s[1])
        xu = xd = None
        if points:
            Xd = X.toarray() if hasattr(X, "toarray") else X
            xu, xd = Xd + P[0], Xd + P[1]
    else:
        eta = np.array([getattr(S, "eta", 0.0) for S in sets])
        if classification:      # only S(-y_i theta) is needed
            V = -y[:, None] * theta[None, :]
            s, P = _support_list(sets, V, points)
            up = dn = s + y * (pred - b)        # relative to the placeholder row x_i
            xu = xd = P
        else:
            su, xu = _support_list(sets, np.tile(theta, (n, 1)), points)
            sd, xd = _support_list(sets, np.tile(-theta, (n, 1)), points)
            # sup theta^T x over x_i + (centred set) is x_i^T theta + S; absolute sets: S itself
            up, dn = su - pred + b, sd + pred - b
    if classification:
        if np.any(eta):
            raise ValueError("LabelNoise is for regression; classification labels are in {-1, +1}")
        # robust margin: y (theta^T x + b) minimized over X_i = y pred - S(-y theta) (shifted form)
        s_neg = np.where(y > 0, dn, up)
        lo = y * pred - s_neg
        x_lo = None if not points else np.where((y > 0)[:, None], xd, xu)
        return Bounds(lo=lo, hi=None, x_lo=x_lo, x_hi=None, eta=eta)
    r = pred - y
    return Bounds(lo=r - dn - eta, hi=r + up + eta, x_lo=xd, x_hi=xu, eta=eta)
