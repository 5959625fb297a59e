"""Worst-case points: the maximizer x_i* of l(score) over X_i at the fitted theta.

arXiv:2306.05649, Sec. 3: the sup over a convex set of l(theta^T x - y) with l convex is attained
where theta^T x is extreme, so x_i* solves max or min theta^T x over X_i (one small conic problem
each, from the set's *primal* description -- independent of the dual used in the fit).  With
``check=True`` the loss at x_i* must reproduce the robust per-sample loss of the fit.
"""
from __future__ import annotations

import copy
import dataclasses

import numpy as np
import cvxpy as cp

from robust_erm.dualize.general import Shifted
from robust_erm.problem import validate_data

__all__ = ["WorstCase", "worst_case_points"]


@dataclasses.dataclass
class WorstCase:
    points: np.ndarray        # (n, d) maximizing features
    labels: np.ndarray        # (n,) maximizing labels (differs from y only under LabelNoise)
    loss: np.ndarray          # loss at (points, labels)
    robust_loss: np.ndarray   # per-sample robust loss of the fit


def _sets_for(built, X):
    if built.path == "general":
        return built.sets
    U = built.sets
    if built.radius is not None and U.radius is not None and built.radius.value != U.radius:
        U = copy.copy(U)
        if getattr(U, "features", None) is not None:
            U.features = copy.copy(U.features)
            U.features.radius = float(built.radius.value)
        else:
            U.radius = float(built.radius.value)
    return [Shifted(U, X[i]) for i in range(X.shape[0])]


def worst_case_points(result, X, y, *, check=True, rtol=1e-4, solver="CLARABEL"):
    """Return a :class:`WorstCase`; raises ValueError if ``check`` and the losses disagree."""
    built = result.built
    spec = built.spec
    X, y, _ = validate_data(X, y, classification=spec.classification)
    if X.shape[1] != result.theta.shape[0]:
        raise ValueError(f"X has {X.shape[1]} features, the fit has {result.theta.shape[0]}")
    th, b = result.theta, result.intercept
    sets = _sets_for(built, X)
    if len(sets) != X.shape[0]:
        raise ValueError("X must be the training data of the fit (one set per row)")
    n, d = X.shape
    pts, labs, vals = np.empty((n, d)), y.copy(), np.empty(n)
    for i, S in enumerate(sets):
        eta = getattr(S, "eta", 0.0)
        x = cp.Variable(d)
        cons = S.constraints(x)
        cands = []
        sense = [-y[i]] if spec.classification else [1.0, -1.0]
        for s in sense:
            pr = cp.Problem(cp.Maximize(s * (th @ x)), cons)
            pr.solve(solver=solver)
            if pr.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
                raise RuntimeError(f"inner maximization for sample {i} returned {pr.status}")
            xv = np.array(x.value, dtype=np.float64)
            if spec.classification:
                cands.append((float(spec.loss.value(y[i] * (th @ xv + b))), xv, y[i]))
            else:
                yi = y[i] - s * eta
                cands.append((float(spec.loss.value(th @ xv + b - yi)), xv, yi))
        v, xv, yi = max(cands, key=lambda c: c[0])
        pts[i], labs[i], vals[i] = xv, yi, v
    rob = np.asarray(built.per_sample_loss.value, dtype=np.float64).reshape(-1)
    if rob.shape[0] != n:
        rob = np.full(n, np.nan)
    if check and not np.allclose(vals, rob, rtol=rtol, atol=rtol):
        k = int(np.nanargmax(np.abs(vals - rob)))
        raise ValueError(f"worst-case check failed at sample {k}: loss at x* = {vals[k]:.6g}, "
                         f"robust loss = {rob[k]:.6g} (is the problem data the training data?)")
    return WorstCase(points=pts, labels=labs, loss=vals, robust_loss=rob)
