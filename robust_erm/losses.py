"""Scalar convex losses and their worst case over a score interval.

Luxenberg et al., arXiv:2306.05649, Sec. 2: for a score z ranging over [lo, hi]
(regression: z = theta^T x + b - y; classification: margin m = y (theta^T x + b)),
- non-increasing l (margin losses): sup l = l(lo);
- l(z) = h(|z|) with h non-decreasing on R_+: sup l = h(max(hi, -lo));
- any convex l with minimizer z*: sup l = max(l(max(hi, z*)), l(min(lo, z*))) (not in the paper;
  the split into non-decreasing and non-increasing parts).
Each loss gives ``worst(lo, hi, n)`` (a DCP expression of n worst-case losses) and ``value(z)``
(numpy).  Huber convention: cvxpy's, huber_M(z) = z^2 for |z| <= M, 2M|z| - M^2 otherwise.
"""
from __future__ import annotations

import numpy as np
import cvxpy as cp

__all__ = ["Loss", "Hinge", "Logistic", "Exponential", "Absolute", "Squared", "PowerAbs",
           "Huber", "Pinball", "Custom"]


class Loss:
    """Base loss. ``form`` is "nonincreasing", "symmetric" or "split"."""

    form = "split"
    mode = "regression"

    def expr(self, z):  # pragma: no cover - abstract
        raise NotImplementedError

    def value(self, z):
        z = np.asarray(z, dtype=np.float64)
        var = cp.Variable(z.shape) if z.shape else cp.Variable()
        var.value = z
        return np.asarray(self.expr(var).value, dtype=np.float64)

    def worst(self, lo, hi, n):
        if self.form == "nonincreasing":
            return self.expr(lo)
        if self.form == "symmetric":
            t = cp.Variable(n, nonneg=True)
            self._epi = [t >= hi, t >= -lo]
            return self.h(t)
        raise NotImplementedError

    def worst_fast(self, r, delta):
        """Worst case when the score interval is [r - delta, r + delta] (symmetric sets)."""
        if self.form == "nonincreasing":
            return self.expr(r - delta)
        if self.form == "symmetric":
            return self.h(cp.abs(r) + delta)
        return self.worst(r - delta, r + delta, r.shape[0])

    def h(self, t):
        return self.expr(t)


class Hinge(Loss):
    """max(0, 1 - m)."""
    form, mode = "nonincreasing", "classification"

    def expr(self, m):
        return cp.pos(1 - m)


class Logistic(Loss):
    """log(1 + exp(-m))."""
    form, mode = "nonincreasing", "classification"

    def expr(self, m):
        return cp.logistic(-m)


class Exponential(Loss):
    """exp(-m)."""
    form, mode = "nonincreasing", "classification"

    def expr(self, m):
        return cp.exp(-m)


class Absolute(Loss):
    """|r|."""
    form = "symmetric"

    def expr(self, z):
        return cp.abs(z)


class Squared(Loss):
    """r^2."""
    form = "symmetric"

    def expr(self, z):
        return cp.square(z)


class PowerAbs(Loss):
    """|r|^p, p >= 1."""
    form = "symmetric"

    def __init__(self, p):
        p = float(p)
        if not p >= 1:
            raise ValueError(f"p must be >= 1 for |r|^p to be convex, got {p}")
        self.p = p

    def expr(self, z):
        return cp.power(cp.abs(z), self.p)

    def h(self, t):
        return cp.power(t, self.p)


class Huber(Loss):
    """cvxpy convention: z^2 for |z| <= M, 2M|z| - M^2 otherwise (twice the z^2/2 convention)."""
    form = "symmetric"

    def __init__(self, M=1.0):
        if not float(M) > 0:
            raise ValueError(f"M must be positive, got {M}")
        self.M = float(M)

    def expr(self, z):
        return cp.huber(z, self.M)


class Pinball(Loss):
    """Quantile loss rho_tau(u) = max(tau u, (tau - 1) u), u = y - prediction = -z."""

    def __init__(self, tau=0.5):
        if not 0 < float(tau) < 1:
            raise ValueError(f"tau must lie in (0, 1), got {tau}")
        self.tau = float(tau)

    def expr(self, z):
        return cp.maximum(-self.tau * z, (1 - self.tau) * z)

    def worst(self, lo, hi, n):
        return cp.maximum(-self.tau * lo, (1 - self.tau) * hi)


class Custom(Loss):
    """A user convex scalar loss ``fn(z)`` written in cvxpy, with its claimed ``form``.

    form "nonincreasing" (margin losses), "symmetric" (l(z) = h(|z|), h non-decreasing) or
    "split" (any convex l; its minimizer is found numerically). Curvature is checked with cvxpy's
    DCP analysis and monotonicity/symmetry numerically on a grid; a wrong form raises ValueError.
    """

    def __init__(self, fn, *, form="split", mode="regression", grid=np.linspace(-20, 20, 401)):
        if not callable(fn):
            raise TypeError("fn must be a callable mapping a cvxpy expression to a cvxpy expression")
        if form not in ("nonincreasing", "symmetric", "split"):
            raise ValueError(f"form must be 'nonincreasing', 'symmetric' or 'split', got {form!r}")
        if mode not in ("regression", "classification"):
            raise ValueError(f"mode must be 'regression' or 'classification', got {mode!r}")
        self.fn, self.form, self.mode = fn, form, mode
        z = cp.Variable()
        e = fn(z)
        if not isinstance(e, cp.Expression) or e.size != 1 or not e.is_convex():
            raise ValueError("loss fn(z) must return a convex (DCP) scalar cvxpy expression")
        vals = self.value(grid)
        if not np.all(np.isfinite(vals)):
            raise ValueError("loss must be finite on the real line")
        tol = 1e-9 * (1 + np.abs(vals).max())
        if form == "nonincreasing" and np.any(np.diff(vals) > tol):
            raise ValueError("loss declared 'nonincreasing' increases somewhere; use form='split'")
        if form == "symmetric":
            if np.max(np.abs(vals - vals[::-1])) > tol:
                raise ValueError("loss declared 'symmetric' is not even, l(z) != l(-z); "
                                 "use form='split'")
        if form == "split":
            from scipy.optimize import minimize_scalar
            k = int(np.argmin(vals))
            lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, grid.size - 1)]
            res = minimize_scalar(lambda s: float(self.value(s)), bounds=(lo, hi),
                                  method="bounded", options={"xatol": 1e-10})
            self.zstar = float(res.x)

    def expr(self, z):
        return self.fn(z)

    def worst(self, lo, hi, n):
        if self.form != "split":
            return super().worst(lo, hi, n)
        up = cp.Variable(n)
        dn = cp.Variable(n)
        self._epi = [up >= hi, up >= self.zstar, dn <= lo, dn <= self.zstar]
        return cp.maximum(_elementwise(self.fn, up, n), _elementwise(self.fn, dn, n))

    def h(self, t):
        return self.fn(t)


def _elementwise(fn, z, n):
    e = fn(z)
    if isinstance(e, cp.Expression) and e.shape == (n,):
        return e
    return cp.hstack([fn(z[i]) for i in range(n)])
