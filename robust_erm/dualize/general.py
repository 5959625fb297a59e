"""General path: one arbitrary convex set per sample (arXiv:2306.05649, Sec. 3, eq. for z_i).

Each set writes its support function S_{X_i}(v) in closed form or through explicit conic dual
variables (see ``robust_erm.sets``); sets given only as a cvxpy Variable plus DCP constraints use
cvxpy's ``SuppFunc`` on a fresh expression per use.  Cost: O(n) small blocks, built in a loop.
"""
from __future__ import annotations

import numpy as np
import cvxpy as cp

from robust_erm.sets import UncertaintySet

__all__ = ["score_bounds_per_sample", "Shifted"]


def score_bounds_per_sample(sets, theta, b, X, y, *, classification):
    """Return (lo, hi, constraints) with lo_i <= score_i <= hi_i tight over X_i."""
    lo, hi, cons = [], [], []
    bb = 0.0 if b is None else b
    for i, S in enumerate(sets):
        eta = getattr(S, "eta", 0.0)
        if classification:
            if eta:
                raise ValueError("LabelNoise is for regression")
            e, c = S.support(-y[i] * theta)
            lo.append(-e + y[i] * bb)
            cons += c
            continue
        e1, c1 = S.support(theta)
        e2, c2 = S.support(-theta)
        hi.append(e1 + bb - y[i] + eta)
        lo.append(-e2 + bb - y[i] - eta)
        cons += c1 + c2
    lo = cp.hstack(lo)
    hi = None if classification else cp.hstack(hi)
    return lo, hi, cons


class Shifted(UncertaintySet):
    """x_i + U: a shared perturbation set U centred at sample i."""

    def __init__(self, U, x):
        self.U, self.x = U, np.asarray(x, dtype=np.float64)
        self.eta = getattr(U, "eta", 0.0)
        self.dim = self.x.shape[0]
        self.closed_form = U.closed_form

    def support(self, v, *, radius=None):
        e, c = self.U.support(v, radius=radius)
        return self.x @ v + e, c

    def constraints(self, x):
        return self.U.constraints(x - self.x)

    def _argmax_np(self, V):
        return self.x + self.U._argmax_np(V)
