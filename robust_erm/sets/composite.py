"""Sets built from other sets: missing features, label noise, intersection, Minkowski sum, affine
image, product, and a general DCP-described set (cvxpy ``SuppFunc``).

Support functions (convex analysis; arXiv:2306.05649, Sec. 3): S_{A+B} = S_A + S_B,
S_{c+MA}(v) = c^T v + S_A(M^T v), S_{AxB}(v) = S_A(v_1) + S_B(v_2),
S_{A∩B}(v) = min_{v_1+v_2=v} S_A(v_1) + S_B(v_2) (needs a Slater point; emptiness is checked at
construction).  Dimensions are checked at construction.
"""
from __future__ import annotations

import numpy as np
import cvxpy as cp

from robust_erm._validation import float_array
from robust_erm.sets._base import UncertaintySet, _radius, _vec

__all__ = ["MissingFeatures", "LabelNoise", "Intersection", "MinkowskiSum", "AffineImage",
           "Product", "General"]


def _check_sets(sets, who):
    if not all(isinstance(s, UncertaintySet) for s in sets):
        bad = [type(s).__name__ for s in sets if not isinstance(s, UncertaintySet)]
        raise TypeError(f"{who} arguments must be UncertaintySets, got {bad}")


def _common_dim(sets, who):
    dims = {s.dim for s in sets if s.dim is not None}
    if len(dims) > 1:
        raise ValueError(f"{who} of sets of different dimensions {sorted(dims)}")
    return dims.pop() if dims else None


class MissingFeatures(UncertaintySet):
    """Observed coordinates pinned, missing ones (NaN in ``values``) in ``inner`` (a set in R^|M|).

    Absolute: it describes one sample's feature vector, so it is used in a per-sample list (one
    per row); passing it as the shared set raises (it would add its observed values to every
    row's)."""

    absolute = True

    def __init__(self, values, inner):
        v = float_array(values, "values", ndim=1, finite=False)
        self.missing = np.flatnonzero(np.isnan(v))
        self.observed = np.flatnonzero(~np.isnan(v))
        if not np.all(np.isfinite(v[self.observed])):
            raise ValueError("observed values must be finite")
        if not isinstance(inner, UncertaintySet):
            raise TypeError("inner must be an UncertaintySet")
        inner._check_dim(self.missing.size)
        self.values, self.inner, self.dim = v, inner, v.shape[0]
        self.closed_form = inner.closed_form

    def support(self, v, *, radius=None):
        s, cons = self.inner.support(v[self.missing])
        return self.values[self.observed] @ v[self.observed] + s, cons

    def constraints(self, x):
        return [x[self.observed] == self.values[self.observed]] + self.inner.constraints(
            x[self.missing])

    def _argmax_np(self, V):
        out = np.empty_like(V)
        out[:, self.observed] = self.values[self.observed]
        out[:, self.missing] = self.inner._argmax_np(V[:, self.missing])
        return out


class LabelNoise(UncertaintySet):
    """Label uncertainty |Delta y| <= eta (regression), optionally with a feature set.

    Lifting x~ = (x, y), theta~ = (theta, -1): the product set adds eta to the worst residual."""

    def __init__(self, *, eta, features=None):
        self.eta = _radius(eta, "eta")
        if features is not None and not isinstance(features, UncertaintySet):
            raise TypeError("features must be an UncertaintySet or None")
        self.features = features
        self.dim = None if features is None else features.dim
        self.radius = None if features is None else features.radius
        self.closed_form = features is None or features.closed_form
        self.absolute = features is not None and features.absolute

    def with_radius(self, r):
        if self.features is None or self.radius is None or r is None or float(r) == self.radius:
            return self
        return LabelNoise(eta=self.eta, features=self.features.with_radius(r))

    def support(self, v, *, radius=None):
        if self.features is None:
            return 0.0, []
        return self.features.support(v, radius=radius)

    def constraints(self, x):
        return [] if self.features is None else self.features.constraints(x)

    def _argmax_np(self, V):
        return np.zeros_like(V) if self.features is None else self.features._argmax_np(V)


class Intersection(UncertaintySet):
    """A_1 ∩ ... ∩ A_k; S(v) = min_{sum v_k = v} sum S_k(v_k) (needs a Slater point).

    An empty intersection raises at construction (its support function would be -inf)."""

    def __init__(self, *sets):
        if len(sets) < 2:
            raise TypeError("Intersection needs at least two UncertaintySet arguments")
        _check_sets(sets, "Intersection")
        self.sets = sets
        self.dim = _common_dim(sets, "Intersection")
        self.absolute = any(s.absolute for s in sets)
        if self.dim is not None:    # sets without a dimension are centred at 0 and contain it
            x = cp.Variable(self.dim)
            pr = cp.Problem(cp.Minimize(0), self.constraints(x))
            pr.solve(solver="CLARABEL")
            if pr.status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
                raise ValueError("Intersection is empty: the sets have no common point")

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
    """A_1 + ... + A_k (all of one dimension); S(v) = sum S_k(v)."""

    def __init__(self, *sets):
        if len(sets) < 1:
            raise TypeError("MinkowskiSum needs at least one UncertaintySet")
        _check_sets(sets, "MinkowskiSum")
        self.sets = sets
        self.dim = _common_dim(sets, "MinkowskiSum")
        self.closed_form = all(s.closed_form for s in sets)
        self.absolute = any(s.absolute for s in sets)

    def support(self, v, *, radius=None):
        expr, cons = 0, []
        for s in self.sets:
            e, c = s.support(v)
            expr, cons = expr + e, cons + c
        return expr, cons

    def constraints(self, x):
        xs = [cp.Variable(x.shape) for _ in self.sets]
        return [x == sum(xs)] + [c for s, xk in zip(self.sets, xs) for c in s.constraints(xk)]

    def _argmax_np(self, V):
        return sum(s._argmax_np(V) for s in self.sets)


class AffineImage(UncertaintySet):
    """{offset + M z : z in A}; S(v) = offset^T v + S_A(M^T v)."""

    def __init__(self, inner, *, M, offset=None):
        if not isinstance(inner, UncertaintySet):
            raise TypeError("inner must be an UncertaintySet")
        self.inner, self.M = inner, float_array(M, "M", ndim=2)
        inner._check_dim(self.M.shape[1])
        self.dim = self.M.shape[0]
        self.center = None if offset is None else _vec(offset, "offset", self.dim)
        self.closed_form, self.absolute = inner.closed_form, inner.absolute

    def support(self, v, *, radius=None):
        e, c = self.inner.support(self.M.T @ v)
        return self._center_term(v) + e, c

    def constraints(self, x):
        z = cp.Variable(self.M.shape[1])
        return [self._c(x) == self.M @ z] + self.inner.constraints(z)

    def _argmax_np(self, V):
        out = self.inner._argmax_np(V @ self.M) @ self.M.T
        return out if self.center is None else out + self.center


class Product(UncertaintySet):
    """A_1 x ... x A_k (each with a fixed ``dim``); S(v) = sum S_k(v_k)."""

    def __init__(self, *sets):
        _check_sets(sets, "Product")
        if len(sets) < 1 or any(s.dim is None for s in sets):
            raise ValueError("every factor of a Product needs a fixed dimension")
        self.sets, self.dims = sets, [s.dim for s in sets]
        self.dim = int(sum(self.dims))
        self.closed_form = all(s.closed_form for s in sets)
        self.absolute = any(s.absolute for s in sets)

    def _split(self, v, axis=0):
        out, i = [], 0
        for d in self.dims:
            out.append(v[i:i + d] if axis == 0 else v[:, i:i + d])
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

    def _argmax_np(self, V):
        return np.hstack([s._argmax_np(Vk) for s, Vk in zip(self.sets, self._split(V, axis=1))])


class General(UncertaintySet):
    """{x : constraints} for a cvxpy ``variable`` and DCP ``constraints`` (no Parameters).

    The support function is the conic dual computed by cvxpy's ``SuppFunc``; each use wraps the
    argument in a fresh expression so that several atoms on the same theta do not collide
    (cvxpy 1.9 canonicalization pitfall).  Shared: a perturbation set (the constraints describe
    u, X_i = x_i + U); per sample: absolute."""

    def __init__(self, variable, constraints):
        if not isinstance(variable, cp.Variable) or variable.ndim != 1:
            raise TypeError("variable must be a 1-D cvxpy Variable")
        if isinstance(constraints, cp.constraints.constraint.Constraint):
            constraints = [constraints]
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
        u = cp.Variable(self.dim)
        return self._sf(u), [u == v]

    def constraints(self, x):
        return [x == self.variable] + self.cons
