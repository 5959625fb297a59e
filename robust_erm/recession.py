"""Is the infimum of the robust problem attained?  (Losses without a minimizer: logistic, exp.)

For a strictly decreasing margin loss with no minimizer, sum_i l(m_i(theta, b)) has a minimizer
unless some direction (theta, b) makes every robust margin m_i(theta, b) = y_i b +
inf_{x in X_i} y_i theta^T x nonnegative and one positive: robust margins are positively
homogeneous, so along that ray the objective decreases strictly forever.  One convex problem
max sum_i t_i s.t. t_i <= m_i, t_i <= 1, m_i >= 0, ||(theta, b)||_inf <= 1 decides it.  Applied
when there is no regularizer and no theta constraint (a coercive regularizer makes it attained;
user constraints are not analysed).
"""
from __future__ import annotations

import cvxpy as cp

from robust_erm import coupled
from robust_erm.dualize.closed_form import score_bounds_shared
from robust_erm.dualize.general import score_bounds_per_sample
from robust_erm.sets import Ball

__all__ = ["infimum_attained"]


def infimum_attained(spec, built):
    if spec.loss.attains_min or spec.regularizer is not None or spec.theta_constraints is not None:
        return True
    if not spec.classification:       # regression losses without a minimizer are monotone:
        return True                   # unbounded below, which the solver reports itself
    U = spec.uncertainty
    if isinstance(U, coupled.Wasserstein1):
        return True       # radius * L * ||theta|| grows linearly along every ray with theta != 0
    if isinstance(U, coupled.SampleBudget):
        # the whole budget on one sample: a ray decreasing every robust margin's loss must keep
        # every margin over the full ball nonnegative, the shared-ball test below
        U = Ball(p=U.p, radius=U.radius if built.radius is None else float(built.radius.value))
    X, y, _ = built.data
    n, d = X.shape
    th = cp.Variable(d)
    b = cp.Variable() if spec.fit_intercept else None
    if built.path in ("closed_form", "coupled"):
        radius = None if built.radius is None or built.path == "coupled" else float(
            built.radius.value)
        lo, _, sym, cons = score_bounds_shared(U, th, b, X, y,
                                               classification=True, radius=radius)
        m = lo if sym is None else sym[0] - sym[1]
    else:
        m, _, cons = score_bounds_per_sample(built.sets, th, b, X, y, classification=True)
    t = cp.Variable(n)
    cons = cons + [t <= m, t <= 1, m >= 0, cp.norm(th, "inf") <= 1]
    if b is not None:
        cons.append(cp.abs(b) <= 1)
    pr = cp.Problem(cp.Maximize(cp.sum(t)), cons)
    pr.solve(solver="CLARABEL")
    if pr.status != cp.OPTIMAL:
        return True
    scale = 1.0 + float(abs(X).max()) if not hasattr(X, "toarray") else 1.0 + float(abs(X.data).max())
    return not (pr.value > 1e-6 * scale)
