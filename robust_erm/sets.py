"""Convex uncertainty sets and their support functions.

Luxenberg, Malik, Li, Singh, Boyd, *Specifying and Solving Robust Empirical Risk Minimization
Problems Using CVXPY*, arXiv:2306.05649, Sec. 2-3.  Every set ``X`` exposes

- ``support(v)`` -> ``(expr, constraints)``: S_X(v) = sup_{x in X} v^T x written in closed form or
  through an explicit conic dual (new dual variables plus constraints), for an affine cvxpy ``v``;
- ``constraints(x)``: the primal description ``x in X`` (used for worst-case points and tests).

Sets carrying a ``radius`` scale as ``center + radius * unit set``; ``support(v, radius=eps)``
accepts a nonnegative ``cp.Parameter`` so that an eps-path is DPP.
"""
from __future__ import annotations

import numpy as np
import cvxpy as cp

__all__ = ["UncertaintySet", "Ball", "Box", "Ellipsoid", "EllipsoidQuad", "Polyhedron",
           "ConvexHull", "Budget", "MissingFeatures", "LabelNoise", "Intersection",
           "MinkowskiSum", "AffineImage", "Product", "General"]


def _vec(a, name, dim=None):
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {arr.shape}")
    if dim is not None and arr.shape[0] != dim:
        raise ValueError(f"{name} must have length {dim}, got {arr.shape[0]}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN/inf)")
    return arr


def _radius(r, name="radius"):
    if isinstance(r, bool) or not np.isscalar(r):
        raise TypeError(f"{name} must be a nonnegative real scalar, got {type(r).__name__}")
    r = float(r)
    if not np.isfinite(r) or r < 0:
        raise ValueError(f"{name} must be a finite nonnegative number, got {r}")
    return r


class UncertaintySet:
    """Base class: a nonempty compact convex set in R^dim (``dim`` None = any dimension)."""

    dim: int | None = None
    radius: float | None = None

    def support(self, v, *, radius=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def constraints(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def _center_term(self, v):
        c = getattr(self, "center", None)
        return 0.0 if c is None else c @ v

    def _c(self, x):
        c = getattr(self, "center", None)
        return x if c is None else x - c

    def _check_dim(self, d):
        if self.dim is not None and self.dim != d:
            raise ValueError(f"uncertainty set {type(self).__name__} has dimension {self.dim}, "
                             f"data has {d} features")


class Ball(UncertaintySet):
    """l_p ball {center + u : ||u||_p <= radius}, p in [1, inf]; S(v) = c^T v + radius ||v||_q."""

    def __init__(self, *, p=2, radius=1.0, center=None):
        p = float(p)
        if not (p >= 1):
            raise ValueError(f"p must be >= 1 (a norm ball), got {p}")
        self.p, self.radius = p, _radius(radius)
        self.q = np.inf if p == 1 else (1.0 if np.isinf(p) else p / (p - 1))
        self.center = None if center is None else _vec(center, "center")
        self.dim = None if center is None else self.center.shape[0]

    def support(self, v, *, radius=None):
        r = self.radius if radius is None else radius
        return self._center_term(v) + r * cp.norm(v, self.q), []

    def constraints(self, x):
        return [cp.norm(self._c(x), self.p) <= self.radius]


class Box(UncertaintySet):
    """Per-feature box {center + u : |u_j| <= radius * widths_j}; S(v) = c^T v + radius sum w_j|v_j|."""

    def __init__(self, *, widths, radius=1.0, center=None):
        self.widths = _vec(widths, "widths")
        if np.any(self.widths < 0):
            raise ValueError("widths must be nonnegative")
        self.radius, self.dim = _radius(radius), self.widths.shape[0]
        self.center = None if center is None else _vec(center, "center", self.dim)

    @classmethod
    def from_bounds(cls, lower, upper):
        lo, hi = _vec(lower, "lower"), _vec(upper, "upper", len(np.atleast_1d(lower)))
        if np.any(hi < lo):
            raise ValueError("upper must be >= lower (empty box)")
        return cls(widths=(hi - lo) / 2, center=(hi + lo) / 2)

    def support(self, v, *, radius=None):
        r = self.radius if radius is None else radius
        return self._center_term(v) + r * (self.widths @ cp.abs(v)), []

    def constraints(self, x):
        return [cp.abs(self._c(x)) <= self.radius * self.widths]


class Ellipsoid(UncertaintySet):
    """{center + radius P u : ||u||_2 <= 1}; S(v) = c^T v + radius ||P^T v||_2."""

    def __init__(self, *, P, radius=1.0, center=None):
        self.P = np.asarray(P, dtype=np.float64)
        if self.P.ndim != 2 or not np.all(np.isfinite(self.P)):
            raise ValueError(f"P must be a finite 2-D matrix, got shape {self.P.shape}")
        self.radius, self.dim = _radius(radius), self.P.shape[0]
        self.center = None if center is None else _vec(center, "center", self.dim)

    def support(self, v, *, radius=None):
        r = self.radius if radius is None else radius
        return self._center_term(v) + r * cp.norm(self.P.T @ v, 2), []

    def constraints(self, x):
        u = cp.Variable(self.P.shape[1])
        return [self._c(x) == self.radius * (self.P @ u), cp.norm(u, 2) <= 1]


class EllipsoidQuad(Ellipsoid):
    """{x : (x - c)^T Sigma^{-1} (x - c) <= radius^2}, Sigma positive definite (= P = Sigma^{1/2})."""

    def __init__(self, *, sigma, radius=1.0, center=None):
        S = np.asarray(sigma, dtype=np.float64)
        if S.ndim != 2 or S.shape[0] != S.shape[1] or not np.allclose(S, S.T):
            raise ValueError("sigma must be a symmetric square matrix")
        try:
            L = np.linalg.cholesky(S)
        except np.linalg.LinAlgError:
            raise ValueError("sigma must be positive definite") from None
        super().__init__(P=L, radius=radius, center=center)
        self.sigma = S


class Polyhedron(UncertaintySet):
    """Bounded nonempty polyhedron {x : A x <= b}; S(v) = min{b^T lam : A^T lam = v, lam >= 0}."""

    def __init__(self, *, A, b):
        from scipy.optimize import linprog
        self.A = np.asarray(A, dtype=np.float64)
        self.b = _vec(b, "b", self.A.shape[0] if self.A.ndim == 2 else None)
        if self.A.ndim != 2:
            raise ValueError(f"A must be 2-D, got shape {self.A.shape}")
        self.dim = self.A.shape[1]
        for c in np.vstack([np.eye(self.dim), -np.eye(self.dim)]):
            res = linprog(-c, A_ub=self.A, b_ub=self.b, bounds=[(None, None)] * self.dim,
                          method="highs")
            if res.status == 2:
                raise ValueError("Polyhedron {x : A x <= b} is empty")
            if res.status == 3:
                raise ValueError("Polyhedron {x : A x <= b} is unbounded; a compact set is required")

    def support(self, v, *, radius=None):
        lam = cp.Variable(self.A.shape[0], nonneg=True)
        return self.b @ lam, [self.A.T @ lam == v]

    def constraints(self, x):
        return [self.A @ x <= self.b]


class ConvexHull(UncertaintySet):
    """conv{points_k}; S(v) = max_k points_k^T v."""

    def __init__(self, points):
        self.points = np.asarray(points, dtype=np.float64)
        if self.points.ndim != 2 or self.points.shape[0] == 0:
            raise ValueError("points must be a nonempty (k, d) array")
        if not np.all(np.isfinite(self.points)):
            raise ValueError("points must be finite")
        self.dim = self.points.shape[1]

    def support(self, v, *, radius=None):
        return cp.max(self.points @ v), []

    def constraints(self, x):
        w = cp.Variable(self.points.shape[0], nonneg=True)
        return [x == self.points.T @ w, cp.sum(w) == 1]


class Budget(UncertaintySet):
    """Budget set {u : ||u||_inf <= radius, ||u||_1 <= radius*gamma} (Bertsimas-Sim).

    S(v) = radius * min_{lam >= 0} gamma*lam + sum_j (|v_j| - lam)_+ (LP duality)."""

    def __init__(self, *, gamma, radius=1.0):
        self.gamma, self.radius = _radius(gamma, "gamma"), _radius(radius)

    def support(self, v, *, radius=None):
        r = self.radius if radius is None else radius
        lam = cp.Variable(nonneg=True)
        return r * (self.gamma * lam + cp.sum(cp.pos(cp.abs(v) - lam))), []

    def constraints(self, x):
        return [cp.norm(x, "inf") <= self.radius, cp.norm(x, 1) <= self.radius * self.gamma]


class MissingFeatures(UncertaintySet):
    """Observed coordinates pinned, missing ones (NaN in ``values``) in ``inner`` (a set in R^|M|)."""

    def __init__(self, values, inner):
        v = np.asarray(values, dtype=np.float64)
        if v.ndim != 1:
            raise ValueError("values must be 1-D (NaN marks missing features)")
        self.missing = np.flatnonzero(np.isnan(v))
        self.observed = np.flatnonzero(~np.isnan(v))
        if not np.all(np.isfinite(v[self.observed])):
            raise ValueError("observed values must be finite")
        if not isinstance(inner, UncertaintySet):
            raise TypeError("inner must be an UncertaintySet")
        inner._check_dim(self.missing.size)
        self.values, self.inner, self.dim = v, inner, v.shape[0]

    def support(self, v, *, radius=None):
        s, cons = self.inner.support(v[self.missing])
        return self.values[self.observed] @ v[self.observed] + s, cons

    def constraints(self, x):
        return [x[self.observed] == self.values[self.observed]] + self.inner.constraints(
            x[self.missing])


class LabelNoise(UncertaintySet):
    """Label uncertainty |Delta y| <= eta (regression), optionally with a feature set.

    Lifting x~ = (x, y), theta~ = (theta, -1): the product set adds eta to the worst residual."""

    def __init__(self, *, eta, features=None):
        self.eta = _radius(eta, "eta")
        self.features = features
        self.dim = None if features is None else features.dim
        self.radius = None if features is None else features.radius

    def support(self, v, *, radius=None):
        if self.features is None:
            return 0.0, []
        return self.features.support(v, radius=radius)

    def constraints(self, x):
        return [] if self.features is None else self.features.constraints(x)


class Intersection(UncertaintySet):
    """A_1 ∩ ... ∩ A_k; S(v) = min_{sum v_k = v} sum S_k(v_k) (needs a Slater point)."""

    def __init__(self, *sets):
        if len(sets) < 2 or not all(isinstance(s, UncertaintySet) for s in sets):
            raise TypeError("Intersection needs at least two UncertaintySet arguments")
        self.sets = sets
        dims = {s.dim for s in sets if s.dim is not None}
        if len(dims) > 1:
            raise ValueError(f"Intersection of sets of different dimensions {dims}")
        self.dim = dims.pop() if dims else None

    def support(self, v, *, radius=None):
        vs = [cp.Variable(v.shape) for _ in self.sets[1:]]
        parts = [v - sum(vs)] + vs
        expr, cons = 0, []
        for s, vk in zip(self.sets, parts):
            e, c = s.support(vk)
            expr, cons = expr + e, cons + c
        return expr, cons

    def constraints(self, x):
        return [c for s in self.sets for c in s.constraints(x)]


class MinkowskiSum(UncertaintySet):
    """A_1 + ... + A_k; S(v) = sum S_k(v)."""

    def __init__(self, *sets):
        self.sets = sets
        dims = {s.dim for s in sets if s.dim is not None}
        self.dim = dims.pop() if len(dims) == 1 else None

    def support(self, v, *, radius=None):
        expr, cons = 0, []
        for s in self.sets:
            e, c = s.support(v)
            expr, cons = expr + e, cons + c
        return expr, cons

    def constraints(self, x):
        xs = [cp.Variable(x.shape) for _ in self.sets]
        return [x == sum(xs)] + [c for s, xk in zip(self.sets, xs) for c in s.constraints(xk)]


class AffineImage(UncertaintySet):
    """{offset + M z : z in A}; S(v) = offset^T v + S_A(M^T v)."""

    def __init__(self, inner, *, M, offset=None):
        self.inner, self.M = inner, np.asarray(M, dtype=np.float64)
        if self.M.ndim != 2:
            raise ValueError("M must be 2-D")
        inner._check_dim(self.M.shape[1])
        self.dim = self.M.shape[0]
        self.center = None if offset is None else _vec(offset, "offset", self.dim)

    def support(self, v, *, radius=None):
        e, c = self.inner.support(self.M.T @ v)
        return self._center_term(v) + e, c

    def constraints(self, x):
        z = cp.Variable(self.M.shape[1])
        return [self._c(x) == self.M @ z] + self.inner.constraints(z)


class Product(UncertaintySet):
    """A_1 x ... x A_k (each with a fixed ``dim``); S(v) = sum S_k(v_k)."""

    def __init__(self, *sets):
        if any(s.dim is None for s in sets):
            raise ValueError("every factor of a Product needs a fixed dimension")
        self.sets, self.dims = sets, [s.dim for s in sets]
        self.dim = int(sum(self.dims))

    def _split(self, v):
        out, i = [], 0
        for d in self.dims:
            out.append(v[i:i + d])
            i += d
        return out

    def support(self, v, *, radius=None):
        expr, cons = 0, []
        for s, vk in zip(self.sets, self._split(v)):
            e, c = s.support(vk)
            expr, cons = expr + e, cons + c
        return expr, cons

    def constraints(self, x):
        return [c for s, xk in zip(self.sets, self._split(x)) for c in s.constraints(xk)]


class General(UncertaintySet):
    """{x : constraints} for a cvxpy ``variable`` and DCP ``constraints`` (no Parameters).

    The support function is the conic dual computed by cvxpy's ``SuppFunc``; each use wraps the
    argument in a fresh expression so that several atoms on the same theta do not collide
    (cvxpy 1.9 canonicalization pitfall, see the module notes)."""

    def __init__(self, variable, constraints):
        if not isinstance(variable, cp.Variable) or variable.ndim != 1:
            raise TypeError("variable must be a 1-D cvxpy Variable")
        constraints = list(constraints)
        for c in constraints:
            if not isinstance(c, cp.constraints.constraint.Constraint) or not c.is_dcp():
                raise ValueError(f"constraint {c} is not a DCP cvxpy constraint")
            if c.parameters():
                raise ValueError("constraints of a General set may not contain Parameters")
        self.variable, self.cons, self.dim = variable, constraints, variable.shape[0]
        d = self.dim
        for c in (np.ones(d), -np.ones(d)):
            pr = cp.Problem(cp.Maximize(c @ variable), constraints)
            pr.solve(solver="CLARABEL")
            if pr.status in ("infeasible", "infeasible_inaccurate"):
                raise ValueError("General set is empty (constraints infeasible)")
            if pr.status in ("unbounded", "unbounded_inaccurate"):
                raise ValueError("General set is unbounded; a compact set is required")
        from cvxpy.transforms.suppfunc import SuppFunc
        self._sf = SuppFunc(variable, constraints)

    def support(self, v, *, radius=None):
        # cvxpy 1.9 SuppFunc atoms of different sets applied to the same expression collide;
        # a fresh copy variable per use keeps each canonicalization separate.
        u = cp.Variable(self.dim)
        return self._sf(u), [u == v]

    def constraints(self, x):
        return [x == self.variable] + self.cons
