"""RobustERM: specify, build (a cp.Problem the user can extend), solve and certify robust ERM.

Luxenberg, Malik, Li, Singh, Boyd, arXiv:2306.05649, problem (1):
    minimize  reduce_i( sup_{x_i in X_i} l(score_i) ) + r(theta)   subject to theta in Theta,
score_i = theta^T x_i + b - y_i (regression) or y_i (theta^T x_i + b) (classification), intercept b
unperturbed; reduce = weighted mean (default; the paper's code mixes sum and mean), "sum", or a
CVaR over the sample weights (``robust_erm.reduction``).  A single set is a perturbation set
shared by all samples (X_i = x_i + U); a list gives one absolute set per sample.  Every solve is
certified: the robust objective is re-evaluated at the returned theta without the solver's dual.
"""
from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Sequence

import numpy as np
import cvxpy as cp

from robust_erm import coupled as _coupled
from robust_erm import losses as _losses
from robust_erm._validation import float_array, real_scalar, validate_data
from robust_erm.dualize.closed_form import score_bounds_shared
from robust_erm.dualize.general import Shifted, score_bounds_per_sample
from robust_erm.evaluate import score_bounds_np
from robust_erm.reduction import check_reduction, reduce_expr, reduce_np
from robust_erm.sets import UncertaintySet
from robust_erm.solving import (Certificate, RobustERMSolveError, check_solver, duality_gap,
                                run_solver, solver_version, status_message)
from robust_erm import worst_case as _wc

__all__ = ["RobustERM", "Built", "Result", "RobustLoss", "validate_data", "BACKENDS"]

BACKENDS = ("cvxpy", "jax", "auto")


@dataclasses.dataclass(frozen=True)
class RobustLoss:
    """Fixed-theta evaluation: per-sample worst-case losses, their weighted mean, and the
    reduction's value (= mean for reduction="mean")."""

    per_sample: np.ndarray
    mean: float
    value: float


@dataclasses.dataclass
class Result:
    """A solved robust ERM: parameters, status, certificate and solver provenance.

    ``ok`` is False only when the solve was run with ``on_failure="warn"`` and failed (status,
    certificate gap or unattained infimum); then ``message`` says why."""

    theta: np.ndarray
    intercept: float
    status: str
    objective: float
    solver: str
    solver_version: str
    certificate: Certificate | None
    ok: bool
    message: str
    built: "Built" = dataclasses.field(repr=False)

    @property
    def gap(self):
        return None if self.certificate is None else self.certificate.gap

    @property
    def converged(self):
        """Certified: status optimal and the certificate (gap) within its tolerance."""
        return self.ok and self.certificate is not None and self.certificate.ok

    def worst_case_points(self, X, y, *, check=True, rtol=1e-6):
        """Per-sample maximizers x_i* of the loss (see ``robust_erm.worst_case``)."""
        return _wc.worst_case_points(self, X, y, check=check, rtol=rtol)


@dataclasses.dataclass
class Built:
    """The cvxpy problem and its handles; extend ``problem`` freely (the certificate checks the
    spec's objective and theta constraints)."""

    problem: cp.Problem
    theta: cp.Expression                # a Variable, or s * Variable under label scaling
    intercept: cp.Expression | None     # c - mu^T theta (centred parametrization), or None
    radius: cp.Parameter | None
    per_sample_loss: cp.Expression
    path: str
    spec: "RobustERM"
    sets: Any
    data: tuple = dataclasses.field(repr=False, default=())
    regularizer_expr: Any = dataclasses.field(repr=False, default=None)
    theta_cons: list = dataclasses.field(repr=False, default_factory=list)
    theta_var: Any = dataclasses.field(repr=False, default=None)
    label_scale: float = 1.0     # theta = label_scale * theta_var (see RobustERM.build)

    def solve(self, *, solver="CLARABEL", warm_start=True, on_failure="raise",
              allow_inaccurate=False, cert_rtol=1e-5, **opts) -> Result:
        """Solve and certify.

        on_failure : "raise" (RobustERMSolveError) or "warn" (sklearn ConvergenceWarning and a
            Result with ok=False).  allow_inaccurate : accept ``*_inaccurate`` statuses and rely on
            the certificate alone.  cert_rtol : tolerance of the certificate's relative gap.
        """
        if on_failure not in ("raise", "warn"):
            raise ValueError(f"on_failure must be 'raise' or 'warn', got {on_failure!r}")
        cert_rtol = real_scalar(cert_rtol, "cert_rtol", lo=0.0)
        solver = check_solver(solver, self.problem)
        st = run_solver(self.problem, solver, dict(warm_start=warm_start, **opts)
                        if solver != "HIGHS" else opts)
        accepted = (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) if allow_inaccurate else (cp.OPTIMAL,)
        fail, cert = None, None
        th = self.theta.value
        if st not in accepted or th is None:
            fail = status_message(st, solver)
        else:
            th = np.array(th, dtype=np.float64)
            if not np.all(np.isfinite(th)):
                fail = f"solver {solver} returned non-finite theta (status {st})"
        b = 0.0 if self.intercept is None or self.intercept.value is None else float(
            self.intercept.value)
        if fail is None:
            cert = self.certify(th, b, rtol=cert_rtol)
            if not cert.ok:
                fail = (f"certificate failed: solver {solver} reports objective "
                        f"{cert.solver_objective:.8g}, the robust objective at its theta is "
                        f"{cert.robust_objective:.8g} (relative gap {cert.gap:.3g}, tolerance "
                        f"{cert_rtol:g}; constraint violation {cert.constraint_violation:.3g}; "
                        f"solver duality gap {cert.duality_gap}, tolerance {cert.dual_rtol:g})")
        if fail is None and not self.spec._infimum_attained(self):
            fail = ("the infimum is not attained: the data are (robustly) separable and "
                    f"{type(self.spec.loss).__name__} has no minimizer, so theta diverges; add a "
                    "regularizer or bound theta")
        if fail is not None:
            if on_failure == "raise":
                raise RobustERMSolveError(fail)
            from sklearn.exceptions import ConvergenceWarning
            warnings.warn(fail, ConvergenceWarning, stacklevel=2)
        theta = th if isinstance(th, np.ndarray) else np.full(self.theta.shape, np.nan)
        obj = self.problem.value
        return Result(theta=theta, intercept=b, status=st,
                      objective=float(obj) if obj is not None else np.nan, solver=solver,
                      solver_version=solver_version(solver), certificate=cert, ok=fail is None,
                      message=fail or "", built=self)

    def certify(self, theta, b, *, rtol=1e-5) -> Certificate:
        """Certificate of (theta, b) against the problem's reported objective value."""
        X, y, w = self.data
        radius = None if self.radius is None else float(self.radius.value)
        rl = self.spec.robust_loss(theta, X, y, intercept=b, sample_weight=w, radius=radius)
        reg = 0.0
        if self.regularizer_expr is not None:
            self.theta_var.value = np.asarray(theta) / self.label_scale
            reg = float(self.regularizer_expr.value)
        rob = rl.value + reg
        sol = float(self.problem.value)
        viol = max([float(np.max(c.violation())) for c in self.theta_cons] or [0.0])
        gap = (sol - rob) / max(1.0, abs(rob))
        return Certificate(solver_objective=sol, robust_objective=rob, gap=gap,
                           constraint_violation=viol / max(1.0, float(np.abs(theta).max())),
                           rtol=rtol, duality_gap=duality_gap(self.problem),
                           dual_rtol=max(1e-4, rtol))


class RobustERM:
    """Robust empirical risk minimization with convex uncertainty sets (arXiv:2306.05649).

    Parameters (keyword-only)
    ----------
    loss : robust_erm.losses.Loss
    uncertainty : UncertaintySet or sequence of UncertaintySet
        One set: perturbation set U, X_i = x_i + U (fast closed-form path; its ``radius`` becomes
        the ``cp.Parameter`` ``built.radius``).  Any set can be a perturbation set (for
        ``ConvexHull``, ``Polyhedron``, ``General`` the description is of u, not of x) except
        ``MissingFeatures`` (absolute: pins observed values), which is refused.  A list of n sets:
        absolute per-sample sets (general path).  A ``robust_erm.coupled`` set (``MatrixBall``,
        ``SampleBudget``, ``Wasserstein1``): one perturbation of the whole data set (closed form).
    mode : "regression" or "classification" (default: the loss's natural mode)
    fit_intercept : bool, unperturbed intercept.
    regularizer : callable theta -> convex scalar cvxpy expression, optional.
    theta_constraints : callable theta -> cvxpy constraint or list of them, optional.
    path : "auto", "closed_form" or "general" ("general" expands a shared set per sample).
    reduction : "mean" (weighted mean, default), "sum", or ``robust_erm.reduction.CVaR(alpha)``.

    Assumptions: every X_i nonempty, compact, convex; l convex (the paper's setting).
    """

    def __init__(self, *, loss, uncertainty, mode=None, fit_intercept=True, regularizer=None,
                 theta_constraints=None, path="auto", reduction="mean"):
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
        if isinstance(uncertainty, _coupled.CoupledSet):
            if path == "general":
                raise ValueError(f"path='general' is for per-sample sets; "
                                 f"{type(uncertainty).__name__} couples the samples")
        elif isinstance(uncertainty, UncertaintySet):
            if uncertainty.absolute:
                raise ValueError(f"{type(uncertainty).__name__} pins absolute coordinates (observed "
                                 "feature values) and cannot be a perturbation shared by all "
                                 "samples; pass a list with one set per sample")
        elif isinstance(uncertainty, Sequence) and len(uncertainty) > 0 and all(
                isinstance(s, UncertaintySet) for s in uncertainty):
            uncertainty = list(uncertainty)
        else:
            raise TypeError("uncertainty must be an UncertaintySet, a list of them (one per "
                            "sample) or a robust_erm.coupled set")
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
        self.reduction = check_reduction(reduction)

    @property
    def classification(self):
        return self.mode == "classification"

    def _validate(self, X, y, sample_weight):
        shared = isinstance(self.uncertainty, UncertaintySet) and self.path != "general"
        X, y, w = validate_data(X, y, classification=self.classification,
                                sample_weight=sample_weight, allow_sparse=shared)
        d = X.shape[1]
        if isinstance(self.uncertainty, _coupled.CoupledSet):
            self.uncertainty.check(self, w)
        elif isinstance(self.uncertainty, list):
            if len(self.uncertainty) != X.shape[0]:
                raise ValueError(f"uncertainty list has {len(self.uncertainty)} sets, X has "
                                 f"{X.shape[0]} rows")
            for S in self.uncertainty:
                S._check_dim(d)
        else:
            self.uncertainty._check_dim(d)
        return X, y, w

    def _label_scale(self, y, w):
        if (self.classification or self.loss.degree is None
                or isinstance(self.uncertainty, _coupled.CoupledSet)):
            return 1.0
        U = self.uncertainty
        if any(getattr(S, "eta", 0.0) for S in (U if isinstance(U, list) else [U])):
            return 1.0
        s = float(np.sqrt(w @ (y * y) / w.sum()))
        return s if (s > 10.0 or 0 < s < 0.1) else 1.0

    def _theta_cons(self, theta):
        if self.theta_constraints is None:
            return []
        tc = self.theta_constraints(theta)
        if isinstance(tc, cp.constraints.constraint.Constraint):
            tc = [tc]
        try:
            tc = list(tc)
        except TypeError:
            raise TypeError("theta_constraints(theta) must return a cvxpy constraint or a list of "
                            f"them, got {type(tc).__name__}") from None
        if not all(isinstance(c, cp.constraints.constraint.Constraint) and c.is_dcp() for c in tc):
            raise ValueError("theta_constraints(theta) must return DCP cvxpy constraints")
        return tc

    def build(self, X, y, *, sample_weight=None) -> Built:
        X, y, w = self._validate(X, y, sample_weight)
        n, d = X.shape
        # label scaling (regression, positively homogeneous loss of degree k, no label noise):
        # the solver sees y / s and theta~ = theta / s, the objective is s^k * mean l~ + r(theta);
        # the same problem, but interior-point methods stay accurate when |y| >> 1 (Airbnb
        # prices: 'optimal_inaccurate' at s = 1, 'optimal' with gaps ~1e-7 at s = rms(y))
        s = self._label_scale(y, w)
        theta_v = cp.Variable(d, name="theta")
        theta = theta_v if s == 1.0 else s * theta_v
        yy = y if s == 1.0 else y / s
        b = None
        if self.fit_intercept:
            # b = c - mu^T theta with mu the weighted column mean: the solver sees centred
            # features (x_i - mu), which keeps interior-point methods accurate on uncentred data
            c = cp.Variable(name="intercept")
            if hasattr(X, "toarray"):
                b = c
            else:
                mu = (w @ X) / w.sum()
                b = c - mu @ theta_v if np.any(mu) else c
        U = self.uncertainty
        radius = None
        if isinstance(U, _coupled.CoupledSet):
            sets, path = U, "coupled"
        elif isinstance(U, list):
            sets, path = U, "general"
        elif self.path == "general":
            sets, path = [Shifted(U, X[i]) for i in range(n)], "general"
        else:
            sets, path = U, "closed_form"
        if path in ("closed_form", "coupled") and getattr(U, "radius", None) is not None:
            radius = cp.Parameter(nonneg=True, value=U.radius, name="radius")

        def per_sample(V, r):
            lo, hi, sym, cons = score_bounds_shared(V, theta_v, b, X, yy,
                                                    classification=self.classification, radius=r)
            per, c2 = self.loss.worst_sym(*sym) if sym is not None else self.loss.worst(lo, hi)
            return per, cons + c2

        if path == "coupled":
            obj, cons, per = _coupled.objective(U, self, per_sample, theta_v, b, X, yy, w, radius)
        elif path == "closed_form":
            per, cons = per_sample(U, radius)
        else:
            lo, hi, cons = score_bounds_per_sample(sets, theta_v, b, X, yy,
                                                   classification=self.classification)
            # lo/hi lifted to variables (worst is non-increasing in lo, non-decreasing in hi) and
            # an epigraph for the per-sample value (readable after the solve: cvxpy cannot
            # evaluate SuppFunc atoms on expressions)
            lo_v = cp.Variable(n)
            cons = cons + [lo_v <= lo]
            if hi is not None:
                hi_v = cp.Variable(n)
                cons = cons + [hi_v >= hi]
                hi = hi_v
            per_expr, c2 = self.loss.worst(lo_v, hi)
            per = cp.Variable(n, name="robust_loss")
            cons = cons + c2 + [per >= per_expr]
        if s != 1.0:
            per = s ** self.loss.degree * per
            b = s * b
        if path != "coupled":
            obj, c3 = reduce_expr(per, w, self.reduction)
            cons = cons + c3
        reg = None
        if self.regularizer is not None:
            reg = self.regularizer(theta)
            if not isinstance(reg, cp.Expression) or reg.size != 1 or not reg.is_convex():
                raise ValueError("regularizer(theta) must return a convex scalar cvxpy expression")
            obj = obj + reg
        tc = self._theta_cons(theta)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*too many subexpressions.*")
            prob = cp.Problem(cp.Minimize(obj), cons + tc)
        if not prob.is_dcp():
            raise ValueError("the robust problem is not DCP; check the loss form and sets")
        return Built(problem=prob, theta=theta, intercept=b, radius=radius, per_sample_loss=per,
                     path=path, spec=self, sets=sets, data=(X, y, w), regularizer_expr=reg,
                     theta_cons=tc, theta_var=theta_v, label_scale=s)

    def _backend(self, backend, X):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if backend != "auto":
            return backend
        from robust_erm import firstorder
        n, d = np.shape(X) if not hasattr(X, "shape") else X.shape
        return "jax" if n * d >= firstorder.AUTO_MIN_SIZE and firstorder.supported(self) else "cvxpy"

    def fit(self, X, y, *, sample_weight=None, solver="CLARABEL", on_failure="raise",
            backend="cvxpy", **opts) -> Result:
        """Build, solve and certify; raises RobustERMSolveError unless certified optimal.

        backend : "cvxpy" (conic solve, every set; ``solver`` and ``opts`` go to cvxpy), "jax"
            (first-order solve of the closed-form sets with a duality-gap certificate,
            ``robust_erm.firstorder``; ``opts``: tol=1e-6, max_stages, theta0, intercept0,
            dtype) or "auto" (jax for supported problems with n * d >= AUTO_MIN_SIZE)."""
        if self._backend(backend, X) == "jax":
            from robust_erm.firstorder import solve_jax
            return solve_jax(self, X, y, sample_weight, on_failure=on_failure, **opts)
        return self.build(X, y, sample_weight=sample_weight).solve(
            solver=solver, on_failure=on_failure, **opts)

    def fit_path(self, X, y, radii, *, sample_weight=None, backend="cvxpy", **opts):
        """Fits along the radius path ``radii`` (in the given order), each warm-started from the
        previous one: cvxpy re-solves one build with the radius ``cp.Parameter`` changed; jax
        starts L-BFGS at the previous (theta, intercept).  Returns a list of Results."""
        if getattr(self.uncertainty, "radius", None) is None:
            raise ValueError(f"{type(self.uncertainty).__name__} has no radius to follow a path in")
        radii = [real_scalar(r, "radii[k]", lo=0.0) for r in radii]
        if self._backend(backend, X) == "jax":
            from robust_erm.firstorder import solve_jax
            out, th, b = [], None, 0.0
            for r in radii:
                out.append(solve_jax(self, X, y, sample_weight, radius=r, theta0=th,
                                     intercept0=b, **opts))
                th, b = out[-1].theta, out[-1].intercept
            return out
        built = self.build(X, y, sample_weight=sample_weight)
        out = []
        for r in radii:
            built.radius.value = r
            out.append(built.solve(**opts))
        return out

    def robust_loss(self, theta, X, y, intercept=0.0, *, sample_weight=None,
                    radius=None) -> RobustLoss:
        """Per-sample worst-case losses sup_{x in X_i} l(score) at fixed (theta, intercept).

        Closed form for balls, boxes, ellipsoids, budgets, hulls, missing features and their
        compositions; the primal conic max for the other sets.  ``radius`` overrides the shared
        set's radius.  For a shared set X may be any data; for per-sample sets, the n rows the
        sets belong to."""
        X, y, w = self._validate(X, y, sample_weight)
        theta = float_array(theta, "theta", ndim=1)
        if theta.shape[0] != X.shape[1]:
            raise ValueError(f"theta has {theta.shape[0]} entries, X has {X.shape[1]} features")
        b = real_scalar(intercept, "intercept")
        if radius is not None:
            radius = real_scalar(radius, "radius", lo=0.0)
        U = self.uncertainty
        if isinstance(U, _coupled.CoupledSet):
            per, value = _coupled.robust_loss_np(U.with_radius(radius), self, theta, b, X, y, w)
            return RobustLoss(per_sample=per, mean=float(w @ per / w.sum()), value=value)
        bd = score_bounds_np(U, theta, b, X, y, classification=self.classification, radius=radius)
        per = self.loss.worst_np(bd.lo, bd.hi)
        return RobustLoss(per_sample=per, mean=float(w @ per / w.sum()),
                          value=reduce_np(per, w, self.reduction))

    def _infimum_attained(self, built):
        from robust_erm.recession import infimum_attained
        return infimum_attained(self, built)
