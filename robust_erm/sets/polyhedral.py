"""Polyhedra {x : A x <= b} (LP dual) and convex hulls conv{v_k} (max over vertices)."""
from __future__ import annotations

import numpy as np
import cvxpy as cp

from robust_erm._validation import float_array
from robust_erm.sets._base import UncertaintySet, _vec

__all__ = ["Polyhedron", "ConvexHull"]


class Polyhedron(UncertaintySet):
    """Bounded nonempty polyhedron {x : A x <= b}; S(v) = min{b^T lam : A^T lam = v, lam >= 0}.

    As the shared set of :class:`robust_erm.RobustERM` it is a perturbation set U (X_i = x_i + U,
    so A u <= b constrains the perturbation u); in a per-sample list it is absolute."""

    def __init__(self, *, A, b):
        from scipy.optimize import linprog
        self.A = float_array(A, "A", ndim=2)
        self.b = _vec(b, "b", self.A.shape[0])
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
    """conv{points_k}; S(v) = max_k points_k^T v (attained at a vertex).

    Shared: a perturbation set U = conv{points} (X_i = x_i + U); per sample: absolute."""

    closed_form = True

    def __init__(self, points):
        self.points = float_array(points, "points", ndim=2)
        if self.points.shape[0] == 0:
            raise ValueError("points must be a nonempty (k, d) array")
        self.dim = self.points.shape[1]

    def support(self, v, *, radius=None):
        return cp.max(self.points @ v), []

    def constraints(self, x):
        w = cp.Variable(self.points.shape[0], nonneg=True)
        return [x == self.points.T @ w, cp.sum(w) == 1]

    def _argmax_np(self, V):
        return self.points[np.argmax(V @ self.points.T, axis=1)]

    def _support_np(self, V):
        return (V @ self.points.T).max(axis=1)
