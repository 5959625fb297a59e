"""Worst-case points: the maximizer x_i* of l(score) over X_i at the fitted theta.

arXiv:2306.05649, Sec. 3: the sup over a convex set of l(theta^T x - y) with l convex is attained
where theta^T x is extreme, so x_i* maximizes or minimizes theta^T x over X_i: in closed form for
balls, boxes, ellipsoids, budgets, hulls and missing features (vectorized, O(n d)), by one
batched primal conic problem for the other sets.  With ``check=True`` the loss evaluated at
(x_i*, label_i*) must reproduce the robust per-sample loss.  For a shared set any data (X, y) can
be evaluated; per-sample sets need the rows they belong to.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from robust_erm.coupled import CoupledSet
from robust_erm.evaluate import score_bounds_np

__all__ = ["WorstCase", "worst_case_points"]


@dataclasses.dataclass
class WorstCase:
    points: np.ndarray        # (n, d) maximizing features
    labels: np.ndarray        # (n,) maximizing labels (differs from y only under LabelNoise)
    loss: np.ndarray          # loss at (points, labels)
    robust_loss: np.ndarray   # per-sample robust loss at theta (support functions)


def worst_case_points(result, X, y, *, check=True, rtol=1e-6):
    """Return a :class:`WorstCase` at ``result``'s (theta, intercept); raises ValueError if
    ``check`` and the loss at the points disagrees with the robust loss."""
    built = result.built
    spec = built.spec
    if isinstance(spec.uncertainty, CoupledSet):
        raise ValueError(f"{type(spec.uncertainty).__name__} couples the samples: there are no "
                         "per-sample worst-case points (MatrixBall.worst_perturbation gives the "
                         "matrix one)")
    X, y, _ = spec._validate(X, y, None)
    if X.shape[1] != result.theta.shape[0]:
        raise ValueError(f"X has {X.shape[1]} features, the fit has {result.theta.shape[0]}")
    th, b = result.theta, result.intercept
    radius = None if built.radius is None else float(built.radius.value)
    bd = score_bounds_np(spec.uncertainty, th, b, X, y, classification=spec.classification,
                         radius=radius, points=True)
    rob = spec.loss.worst_np(bd.lo, bd.hi)
    if spec.classification:
        pts, labs = bd.x_lo, y.copy()
        vals = spec.loss.value_np(y * (pts @ th + b))
    else:
        up = spec.loss.value_np(bd.hi) >= spec.loss.value_np(bd.lo)
        pts = np.where(up[:, None], bd.x_hi, bd.x_lo)
        labs = np.where(up, y - bd.eta, y + bd.eta)
        vals = spec.loss.value_np(pts @ th + b - labs)
    if check and not np.allclose(vals, rob, rtol=rtol, atol=rtol):
        k = int(np.argmax(np.abs(vals - rob)))
        raise ValueError(f"worst-case check failed at sample {k}: loss at x* = {vals[k]:.6g}, "
                         f"robust loss = {rob[k]:.6g}")
    return WorstCase(points=pts, labels=labs, loss=vals, robust_loss=rob)
