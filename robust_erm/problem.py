"""RobustERM: specify, build (a cp.Problem the user can extend) and solve robust ERM.

Luxenberg, Malik, Li, Singh, Boyd, arXiv:2306.05649, problem (1):
    minimize  (1/sum w) sum_i w_i sup_{x_i in X_i} l(score_i) + r(theta)
    subject to theta in Theta,
score_i = theta^T x_i + b - y_i (regression) or y_i (theta^T x_i + b) (classification), intercept b
unperturbed.  Choices where the paper is silent: weighted *mean* over samples (the paper's code
mixes sum and mean); a single set is a perturbation set shared by all samples (X_i = x_i + U), a
list gives one absolute set per sample.
"""
from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Callable, Sequence

import numpy as np
import cvxpy as cp

from robust_erm import losses as _losses
from robust_erm.sets import General, UncertaintySet
from robust_erm.dualize.closed_form import score_bounds_shared
from robust_erm.dualize.general import Shifted, score_bounds_per_sample

__all__ = ["RobustERM", "Built", "Result", "validate_data"]


def validate_data(X, y, *, classification, sample_weight=None):
    """Check shapes, dtypes and finiteness; return float64 arrays (X, y, w)."""
    try:
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError("X and y must be numeric arrays") from None
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X must be a nonempty 2-D array (n_samples, n_features), got shape {X.shape}")
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"y must be 1-D with {X.shape[0]} entries (rows of X), got shape {y.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or inf; encode missing features with sets.MissingFeatures")
    if not np.all(np.isfinite(y)):
        raise ValueError("y contains NaN or inf")
    if classification and not np.all(np.isin(y, (-1.0, 1.0))):
        raise ValueError("classification labels y must be in {-1, +1}")
    if sample_weight is None:
        w = np.ones(X.shape[0])
    else:
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.shape != y.shape or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError(f"sample_weight must be finite, nonnegative, shape {y.shape}")
        if w.sum() <= 0:
            raise ValueError("sample_weight has all weights zero; at least one must be positive")
    return X, y, w


@dataclasses.dataclass
class Result:
    """A solved robust ERM: parameters, status and solver provenance."""

    theta: np.ndarray
    intercept: float
    status: str
    objective: float
    solver: str
    solver_version: str
    built: "Built" = dataclasses.field(repr=False)

    def worst_case_points(self, X, y, *, check=True, rtol=1e-4):
        """Per-sample maximizers x_i* of the loss (see ``robust_erm.worst_case``)."""
        from robust_erm.worst_case import worst_case_points
        return worst_case_points(self, X, y, check=check, rtol=rtol)


@dataclasses.dataclass
class Built:
    """The compiled-ready cvxpy problem and its handles; extend ``problem`` freely."""

    problem: cp.Problem
    theta: cp.Variable
    intercept: cp.Variable | None
    radius: cp.Parameter | None
    per_sample_loss: cp.Expression
    path: str
    spec: "RobustERM"
    sets: Any

    def solve(self, *, solver="CLARABEL", warm_start=True, **opts) -> Result:
        if not isinstance(solver, str):
            raise TypeError("solver must be a cvxpy solver name such as 'CLARABEL'")
        if solver not in cp.installed_solvers():
            raise ValueError(f"solver {solver!r} is not installed; installed: {cp.installed_solvers()}")
        try:
            with warnings.catch_warnings():   # per-sample path: cvxpy's vectorize hint
                warnings.filterwarnings("ignore", message=".*too many subexpressions.*")
                self.problem.solve(solver=solver, warm_start=warm_start, **opts)
        except cp.error.SolverError as e:
            raise RuntimeError(f"solver {solver} failed: {e}") from None
        st = self.problem.status
        if st not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
            raise RuntimeError(f"robust ERM not solved: solver {solver} returned status {st!r} "
                               "(infeasible theta constraints or unbounded problem?)")
        import importlib.metadata as md
        try:
            ver = md.version(solver.lower())
        except md.PackageNotFoundError:
            ver = "unknown"
        th = np.array(self.theta.value, dtype=np.float64)
        b = 0.0 if self.intercept is None else float(self.intercept.value)
        if not np.all(np.isfinite(th)):
            raise RuntimeError(f"solver {solver} returned non-finite theta (status {st})")
        return Result(theta=th, intercept=b, status=st, objective=float(self.problem.value),
                      solver=solver, solver_version=ver, built=self)


class RobustERM:
    """Robust empirical risk minimization with convex uncertainty sets.

    Parameters
    ----------
    loss : robust_erm.losses.Loss
    uncertainty : UncertaintySet or sequence of UncertaintySet
        One set: perturbation set U, X_i = x_i + U (fast closed-form path; its ``radius`` becomes the
        ``cp.Parameter`` ``built.radius``). A list of n sets: absolute per-sample sets (general path).
    mode : "regression" or "classification" (default: the loss's natural mode)
    fit_intercept : bool, unperturbed intercept.
    regularizer : callable theta -> convex scalar cvxpy expression, optional.
    theta_constraints : callable theta -> list of cvxpy constraints, optional.
    path : "auto", "closed_form" or "general" ("general" expands a shared set per sample).
    """

    def __init__(self, *, loss, uncertainty, mode=None, fit_intercept=True, regularizer=None,
                 theta_constraints=None, path="auto"):
        if not isinstance(loss, _losses.Loss):
            raise TypeError("loss must be a robust_erm.losses.Loss (use losses.Custom for your own)")
        mode = loss.mode if mode is None else mode
        if mode not in ("regression", "classification"):
            raise ValueError(f"mode must be 'regression' or 'classification', got {mode!r}")
        if mode == "classification" and loss.form != "nonincreasing":
            raise ValueError(f"classification needs a non-increasing margin loss; {type(loss).__name__} "
                             f"has form {loss.form!r}")
        if mode == "regression" and loss.mode == "classification":
            raise ValueError(f"{type(loss).__name__} is a margin loss; use mode='classification'")
        if isinstance(uncertainty, UncertaintySet):
            pass
        elif isinstance(uncertainty, Sequence) and all(isinstance(s, UncertaintySet) for s in uncertainty):
            uncertainty = list(uncertainty)
        else:
            raise TypeError("uncertainty must be an UncertaintySet or a list of them (one per sample)")
        if path not in ("auto", "closed_form", "general"):
            raise ValueError(f"path must be 'auto', 'closed_form' or 'general', got {path!r}")
        if path == "closed_form" and isinstance(uncertainty, list):
            raise ValueError("path='closed_form' needs one shared uncertainty set")
        for name, f in (("regularizer", regularizer), ("theta_constraints", theta_constraints)):
            if f is not None and not callable(f):
                raise TypeError(f"{name} must be a callable of theta")
        self.loss, self.uncertainty, self.mode = loss, uncertainty, mode
        self.fit_intercept, self.regularizer = bool(fit_intercept), regularizer
        self.theta_constraints, self.path = theta_constraints, path

    @property
    def classification(self):
        return self.mode == "classification"

    def build(self, X, y, *, sample_weight=None) -> Built:
        X, y, w = validate_data(X, y, classification=self.classification, sample_weight=sample_weight)
        n, d = X.shape
        theta = cp.Variable(d, name="theta")
        b = cp.Variable(name="intercept") if self.fit_intercept else None
        U = self.uncertainty
        radius, cons = None, []
        self.loss._epi = []
        if isinstance(U, list):
            if len(U) != n:
                raise ValueError(f"uncertainty list has {len(U)} sets, X has {n} rows")
            for S in U:
                S._check_dim(d)
            sets, path = U, "general"
        elif self.path == "general":
            U._check_dim(d)
            sets, path = [Shifted(U, X[i]) for i in range(n)], "general"
        else:
            U._check_dim(d)
            sets, path = U, "closed_form"
        if path == "closed_form":
            base = getattr(U, "radius", None)
            if base is not None:
                radius = cp.Parameter(nonneg=True, value=base, name="radius")
            lo, hi, sym, cons = score_bounds_shared(U, theta, b, X, y,
                                                    classification=self.classification,
                                                    radius=radius)
            if sym is not None:
                per = self.loss.worst_fast(*sym)
            else:
                per = self.loss.worst(lo, hi, n)
        else:
            lo, hi, cons = score_bounds_per_sample(sets, theta, b, X, y,
                                                   classification=self.classification)
            # epigraph variable: the per-sample value is readable after the solve (cvxpy cannot
            # evaluate SuppFunc atoms on expressions); tight wherever w_i > 0
            # lo/hi lifted to variables (worst is non-increasing in lo, non-decreasing in hi), so
            # no atom ever has to evaluate a SuppFunc expression during canonicalization
            lo_v = cp.Variable(n)
            cons = cons + [lo_v <= lo]
            if hi is not None:
                hi_v = cp.Variable(n)
                cons = cons + [hi_v >= hi]
                hi = hi_v
            lo = lo_v
            per_expr = self.loss.worst(lo, hi, n)
            per = cp.Variable(n, name="robust_loss")
            cons = cons + [per >= per_expr]
        cons = cons + list(getattr(self.loss, "_epi", []))
        obj = (w / w.sum()) @ per
        if self.regularizer is not None:
            r = self.regularizer(theta)
            if not isinstance(r, cp.Expression) or r.size != 1 or not r.is_convex():
                raise ValueError("regularizer(theta) must return a convex scalar cvxpy expression")
            obj = obj + r
        if self.theta_constraints is not None:
            tc = list(self.theta_constraints(theta))
            if not all(isinstance(c, cp.constraints.constraint.Constraint) and c.is_dcp() for c in tc):
                raise ValueError("theta_constraints(theta) must return DCP cvxpy constraints")
            cons += tc
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*too many subexpressions.*")
            prob = cp.Problem(cp.Minimize(obj), cons)
        if not prob.is_dcp():
            raise ValueError("the robust problem is not DCP; check the loss form and sets")
        return Built(problem=prob, theta=theta, intercept=b, radius=radius, per_sample_loss=per,
                     path=path, spec=self, sets=sets)

    def fit(self, X, y, *, sample_weight=None, solver="CLARABEL", **opts) -> Result:
        """Build and solve; raises on any status other than optimal."""
        return self.build(X, y, sample_weight=sample_weight).solve(solver=solver, **opts)
