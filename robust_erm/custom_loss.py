"""A user's convex scalar loss written in cvxpy, with its form found or checked numerically.

The worst case over a score interval (arXiv:2306.05649, Sec. 2, extended to any convex loss by
the monotone split of :mod:`robust_erm.losses`) needs the loss's shape: non-increasing,
non-decreasing, even, or a minimizer z*.  ``form="split"`` brackets a minimizer outward from 0
(steps 1, 2, 4, ... up to 2**60) until the loss rises on both sides and refines it with Brent's
method; a loss that keeps decreasing in one direction is monotone and is routed to the
non-increasing / non-decreasing form (so a linear loss is l(hi), never a grid edge).
"""
from __future__ import annotations

import numpy as np
import cvxpy as cp

from robust_erm.losses import FORMS, Loss

__all__ = ["Custom"]

_FAR = 2.0 ** 60


def _elementwise(fn, z):
    e = fn(z)
    if isinstance(e, cp.Expression) and e.shape == z.shape:
        return e
    return cp.hstack([fn(z[i]) for i in range(z.shape[0])])


class Custom(Loss):
    """A user convex scalar loss ``fn(z)`` written in cvxpy.

    Parameters
    ----------
    fn : callable mapping a cvxpy expression to a convex (DCP) scalar cvxpy expression.
    form : {"split", "nonincreasing", "nondecreasing", "symmetric"}
        "split" (default): any convex loss; the minimizer is found by outward bracketing, and a
        loss without one (monotone) is routed to the matching monotone form (``self.form``).
        A claimed monotone/even form is checked on a geometric grid out to +-512.
    mode : {"regression", "classification"}

    Raises ValueError for a non-convex fn, a loss that is not finite on R, or a wrong claim.
    """

    def __init__(self, fn, *, form="split", mode="regression"):
        if not callable(fn):
            raise TypeError("fn must be a callable mapping a cvxpy expression to a cvxpy expression")
        if form not in FORMS:
            raise ValueError(f"form must be one of {FORMS}, got {form!r}")
        if mode not in ("regression", "classification"):
            raise ValueError(f"mode must be 'regression' or 'classification', got {mode!r}")
        self.fn, self.form, self.mode = fn, form, mode
        z = cp.Variable()
        e = fn(z)
        if not isinstance(e, cp.Expression) or e.size != 1 or not e.is_convex():
            raise ValueError("loss fn(z) must return a convex (DCP) scalar cvxpy expression")
        g = 2.0 ** np.arange(-4, 10)
        grid = np.r_[-g[::-1], 0.0, g]
        with np.errstate(all="ignore"):
            vals = self.value_np(grid)
        if not np.all(np.isfinite(vals)):
            raise ValueError("loss must be finite on the real line (checked out to |z| = 512)")
        tol = 1e-9 * (1 + np.abs(vals))
        if form == "nonincreasing" and np.any(np.diff(vals) > tol[1:]):
            raise ValueError("loss declared 'nonincreasing' increases somewhere; use form='split'")
        if form == "nondecreasing" and np.any(np.diff(vals) < -tol[1:]):
            raise ValueError("loss declared 'nondecreasing' decreases somewhere; use form='split'")
        if form == "symmetric" and np.any(np.abs(vals - vals[::-1]) > tol):
            raise ValueError("loss declared 'symmetric' is not even, l(z) != l(-z); "
                             "use form='split'")
        if form == "split":
            self.form, self.zstar, self.attains_min = self._shape()
        elif form == "nonincreasing":
            self.attains_min = bool(np.any(np.diff(vals[grid > 0]) == 0))
        elif form == "nondecreasing":
            self.attains_min = bool(np.any(np.diff(vals[grid < 0]) == 0))
        if self.form in ("nondecreasing",) and mode == "classification":
            raise ValueError("a margin loss for classification must be non-increasing")

    def _f(self, s):
        with np.errstate(all="ignore"):
            v = float(self.value_np(np.float64(s)))
        return v if np.isfinite(v) else np.inf

    def _shape(self):
        """(form, zstar, attains_min) by outward bracketing and Brent refinement."""
        from scipy.optimize import minimize_scalar
        f0 = self._f(0.0)
        rtol = 1e-12
        for sgn in (1.0, -1.0):
            x, fx, s, flat = 0.0, f0, 1.0, False
            while True:
                xn = sgn * s
                fn = self._f(xn)
                if fn > fx + rtol * (1 + abs(fx)):         # rose: minimizer bracketed
                    break
                flat |= (fn == fx and s <= 512)
                x, fx, s = xn, fn, 2 * s
                if s > _FAR:                               # never rose: monotone
                    form = "nonincreasing" if sgn > 0 else "nondecreasing"
                    return form, 0.0, flat
            if x != 0.0:                                   # descended (or flat) this way
                a, b = sorted((x / 2 if abs(x) > 1 else 0.0, xn))
                break
        else:                                              # rises on both sides of 0
            a, b = -1.0, 1.0
        res = minimize_scalar(self._f, bounds=(a, b), method="bounded",
                              options={"xatol": 1e-10 * max(1.0, abs(a), abs(b))})
        zs = float(res.x)
        if self._f(zs) > min(self._f(a), self._f(b), f0) + 1e-9 * (1 + abs(self._f(zs))):
            raise ValueError("could not locate the minimizer of the custom loss")
        return "split", zs, True

    def expr(self, z):
        return self.fn(z)

    def h(self, t):
        return self.fn(t)

    def value_np(self, z):
        z = np.asarray(z, dtype=np.float64)
        var = cp.Variable(z.shape) if z.shape else cp.Variable()
        var.value = z
        e = _elementwise(self.fn, var) if z.ndim == 1 else self.fn(var)
        v = e.value
        return np.full(z.shape, np.inf) if v is None else np.asarray(v, dtype=np.float64).reshape(z.shape)
