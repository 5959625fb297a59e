"""How per-sample worst-case losses are combined: weighted mean, sum, or CVaR (weight uncertainty).

Weight (distributional) uncertainty over the sample weights (arXiv:2306.05649 treats the mean;
the DSP paper's robust model fitting uses sum_largest): with p_i = w_i / sum w,
CVaR_alpha(l) = sup{q^T l : 0 <= q_i <= p_i / alpha, sum q = 1}
             = min_tau tau + (1/alpha) sum_i p_i (l_i - tau)_+   (Rockafellar-Uryasev),
which for uniform weights and integer k = alpha n is (1/k) * sum_largest(l, k).
"""
from __future__ import annotations

import numpy as np
import cvxpy as cp

from robust_erm._validation import real_scalar

__all__ = ["CVaR", "check_reduction", "reduce_expr", "reduce_np"]


class CVaR:
    """Worst-case reweighting: the mean of the worst alpha-fraction (by weight) of the losses.

    alpha in (0, 1]; alpha = 1 is the mean, alpha -> 0 the max."""

    def __init__(self, alpha):
        a = real_scalar(alpha, "alpha")
        if not 0 < a <= 1:
            raise ValueError(f"alpha must lie in (0, 1], got {a}")
        self.alpha = a

    def __repr__(self):
        return f"CVaR(alpha={self.alpha!r})"


def check_reduction(reduction):
    if isinstance(reduction, CVaR) or reduction in ("mean", "sum"):
        return reduction
    raise ValueError(f"reduction must be 'mean', 'sum' or reduction.CVaR(alpha), got {reduction!r}")


def reduce_expr(per, w, reduction):
    """(expr, constraints) combining the per-sample cvxpy expression ``per`` with weights w."""
    if reduction == "sum":
        return w @ per, []
    p = w / w.sum()
    if reduction == "mean":
        return p @ per, []
    tau = cp.Variable(name="cvar_tau")
    return tau + (p / reduction.alpha) @ cp.pos(per - tau), []


def reduce_np(vals, w, reduction):
    """The same, numerically (CVaR by sorting: the top alpha of the weight mass)."""
    vals = np.asarray(vals, dtype=np.float64)
    if reduction == "sum":
        return float(w @ vals)
    p = w / w.sum()
    if reduction == "mean":
        return float(p @ vals)
    a = reduction.alpha
    order = np.argsort(-vals, kind="stable")
    cum = np.cumsum(p[order])
    take = np.clip(np.minimum(cum, a) - np.r_[0.0, np.minimum(cum, a)[:-1]], 0, None)
    return float(take @ vals[order] / a)
