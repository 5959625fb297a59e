"""Norm balls, boxes, ellipsoids and budget sets: closed-form support functions and maximizers.

S(v) for each (arXiv:2306.05649, Sec. 2; dual norms, Boyd & Vandenberghe Sec. 3.3):
ball c + {||u||_p <= r}: c^T v + r ||v||_q;  box: c^T v + r sum_j w_j |v_j|;  ellipsoid
c + r P {||u||_2 <= 1}: c^T v + r ||P^T v||_2;  Bertsimas-Sim budget: r (sum of the floor(Gamma)
largest |v_j| + frac(Gamma) times the next).
"""
from __future__ import annotations

import numbers

import numpy as np
import cvxpy as cp

from robust_erm.sets._base import UncertaintySet, _radius, _vec

__all__ = ["Ball", "Box", "Ellipsoid", "EllipsoidQuad", "Budget"]


def _safe_div(a, b):
    return np.divide(a, b, out=np.zeros_like(a), where=b > 0)


class Ball(UncertaintySet):
    """l_p ball {center + u : ||u||_p <= radius}, p in [1, inf]; S(v) = c^T v + radius ||v||_q."""

    closed_form = True

    def __init__(self, *, p=2, radius=1.0, center=None):
        if isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Real):
            raise TypeError(f"p must be a real number >= 1 (np.inf for the max-norm), got {p!r}")
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

    def _argmax_np(self, V):
        a = np.abs(V)
        if np.isinf(self.p):
            g = np.sign(V)
        elif self.p == 1:
            g = np.zeros_like(V)
            j = np.argmax(a, axis=1)
            g[np.arange(V.shape[0]), j] = np.sign(V[np.arange(V.shape[0]), j])
        else:
            q = self.q
            nq = np.linalg.norm(V, q, axis=1, keepdims=True)
            g = np.sign(V) * _safe_div(a ** (q - 1), nq ** (q - 1) + 0 * a)
        out = self.radius * g
        return out if self.center is None else out + self.center

    def _support_np(self, V):
        s = self.radius * np.linalg.norm(V, self.q, axis=1)
        return s if self.center is None else s + V @ self.center


class Box(UncertaintySet):
    """Per-feature box {center + u : |u_j| <= radius * widths_j}; S(v) = c^T v + radius sum w_j|v_j|."""

    closed_form = True

    def __init__(self, *, widths, radius=1.0, center=None):
        self.widths = _vec(widths, "widths")
        if np.any(self.widths < 0):
            raise ValueError("widths must be nonnegative")
        self.radius, self.dim = _radius(radius), self.widths.shape[0]
        self.center = None if center is None else _vec(center, "center", self.dim)

    @classmethod
    def from_bounds(cls, lower, upper):
        lo = _vec(lower, "lower")
        hi = _vec(upper, "upper", lo.shape[0])
        if np.any(hi < lo):
            raise ValueError("upper must be >= lower (empty box)")
        return cls(widths=(hi - lo) / 2, center=(hi + lo) / 2)

    def support(self, v, *, radius=None):
        r = self.radius if radius is None else radius
        return self._center_term(v) + r * (self.widths @ cp.abs(v)), []

    def constraints(self, x):
        return [cp.abs(self._c(x)) <= self.radius * self.widths]

    def _argmax_np(self, V):
        out = self.radius * self.widths * np.sign(V)
        return out if self.center is None else out + self.center


class Ellipsoid(UncertaintySet):
    """{center + radius P u : ||u||_2 <= 1}; S(v) = c^T v + radius ||P^T v||_2."""

    closed_form = True

    def __init__(self, *, P, radius=1.0, center=None):
        self.P = np.asarray(P, dtype=np.float64) if not np.iscomplexobj(P) else None
        if self.P is None or self.P.ndim != 2 or not np.all(np.isfinite(self.P)):
            raise ValueError(f"P must be a finite real 2-D matrix, got {np.shape(P)}")
        self.radius, self.dim = _radius(radius), self.P.shape[0]
        self.center = None if center is None else _vec(center, "center", self.dim)

    def support(self, v, *, radius=None):
        r = self.radius if radius is None else radius
        return self._center_term(v) + r * cp.norm(self.P.T @ v, 2), []

    def constraints(self, x):
        u = cp.Variable(self.P.shape[1])
        return [self._c(x) == self.radius * (self.P @ u), cp.norm(u, 2) <= 1]

    def _argmax_np(self, V):
        W = V @ self.P                                       # rows P^T v
        nrm = np.linalg.norm(W, axis=1, keepdims=True)
        out = self.radius * (_safe_div(W, nrm + 0 * W) @ self.P.T)
        return out if self.center is None else out + self.center


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


class Budget(UncertaintySet):
    """Budget set {u : ||u||_inf <= radius, ||u||_1 <= radius*gamma} (Bertsimas-Sim).

    S(v) = radius * min_{lam >= 0} gamma*lam + sum_j (|v_j| - lam)_+ (LP duality) = radius * (sum
    of the floor(gamma) largest |v_j| + (gamma - floor(gamma)) * the next largest)."""

    closed_form = True

    def __init__(self, *, gamma, radius=1.0):
        self.gamma, self.radius = _radius(gamma, "gamma"), _radius(radius)

    def support(self, v, *, radius=None):
        r = self.radius if radius is None else radius
        lam = cp.Variable(nonneg=True)
        return r * (self.gamma * lam + cp.sum(cp.pos(cp.abs(v) - lam))), []

    def constraints(self, x):
        return [cp.norm(x, "inf") <= self.radius, cp.norm(x, 1) <= self.radius * self.gamma]

    def _argmax_np(self, V):
        k, d = V.shape
        order = np.argsort(-np.abs(V), axis=1, kind="stable")
        full = min(int(np.floor(self.gamma)), d)
        mag = np.zeros(d)
        mag[:full] = 1.0
        if full < d:
            mag[full] = self.gamma - np.floor(self.gamma)
        U = np.zeros_like(V)
        np.put_along_axis(U, order, np.broadcast_to(mag, (k, d)), axis=1)
        return self.radius * U * np.sign(V)
