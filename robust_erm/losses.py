"""Scalar convex losses and their worst case over a score interval [lo, hi].

Luxenberg et al., arXiv:2306.05649, Sec. 2: for a score z ranging over [lo, hi]
(regression: z = theta^T x + b - y; classification: margin m = y (theta^T x + b)),
- non-increasing l (margin losses): sup l = l(lo);  non-decreasing l: sup l = l(hi);
- l(z) = h(|z|) with h non-decreasing on R_+: sup l = h(max(hi, -lo));
- any convex l with minimizer z*: sup l = max(l(max(hi, z*)), l(min(lo, z*))) (not in the paper;
  the split into non-decreasing and non-increasing parts).
Every loss gives ``worst(lo, hi)`` -> ``(expr, constraints)`` (DCP; no state is kept on the loss),
``worst_sym(r, delta)`` for the interval [r - delta, r + delta], and the numpy versions
``value_np(z)`` / ``worst_np(lo, hi)`` used by the certificate (written without cvxpy atoms).
Huber convention: cvxpy's, huber_M(z) = z^2 for |z| <= M, 2M|z| - M^2 otherwise.
"""
from __future__ import annotations

import numpy as np
import cvxpy as cp

from robust_erm._validation import real_scalar

__all__ = ["Loss", "Hinge", "Logistic", "Exponential", "Absolute", "Squared", "PowerAbs",
           "Huber", "Pinball", "Custom"]

FORMS = ("nonincreasing", "nondecreasing", "symmetric", "split")


class Loss:
    """Base loss.  ``form`` in FORMS; ``attains_min``: inf_z l(z) is attained (logistic and
    exponential are not: the robust problem needs a regularizer on separable data);
    ``lipschitz``: Lipschitz constant of l (None if not Lipschitz)."""

    form = "split"
    mode = "regression"
    attains_min = True
    lipschitz = None
    zstar = 0.0
    degree = None        # l(s z) = s^degree l(z) for s > 0 (positively homogeneous), else None

    def expr(self, z):  # pragma: no cover - abstract
        raise NotImplementedError

    def value_np(self, z):  # pragma: no cover - abstract
        raise NotImplementedError

    def value(self, z):
        return self.value_np(np.asarray(z, dtype=np.float64))

    def h(self, t):
        return self.expr(t)

    def worst(self, lo, hi):
        """(expr, constraints): sup of l over [lo, hi] (hi may be None for margin losses)."""
        if self.form == "nonincreasing":
            return self.expr(lo), []
        if self.form == "nondecreasing":
            return self.expr(hi), []
        if self.form == "symmetric":
            t = cp.Variable(lo.shape, nonneg=True)
            return self.h(t), [t >= hi, t >= -lo]
        up, dn = cp.Variable(lo.shape), cp.Variable(lo.shape)
        cons = [up >= hi, up >= self.zstar, dn <= lo, dn <= self.zstar]
        return cp.maximum(_elementwise(self.expr, up), _elementwise(self.expr, dn)), cons

    def worst_sym(self, r, delta):
        """(expr, constraints): worst case over [r - delta, r + delta] (symmetric sets)."""
        if self.form == "nonincreasing":
            return self.expr(r - delta), []
        if self.form == "nondecreasing":
            return self.expr(r + delta), []
        if self.form == "symmetric":
            return self.h(cp.abs(r) + delta), []
        return self.worst(r - delta, r + delta)

    def worst_np(self, lo, hi):
        """numpy sup of l over [lo, hi] (hi None: margin loss, sup = l(lo))."""
        if self.form == "nonincreasing":
            return self.value_np(lo)
        if self.form == "nondecreasing":
            return self.value_np(hi)
        if self.form == "symmetric":
            return self.value_np(np.maximum(hi, -lo))
        return np.maximum(self.value_np(np.maximum(hi, self.zstar)),
                          self.value_np(np.minimum(lo, self.zstar)))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class Hinge(Loss):
    """max(0, 1 - m)."""
    form, mode, lipschitz = "nonincreasing", "classification", 1.0

    def expr(self, m):
        return cp.pos(1 - m)

    def value_np(self, m):
        return np.maximum(0.0, 1.0 - m)


class Logistic(Loss):
    """log(1 + exp(-m))."""
    form, mode, lipschitz, attains_min = "nonincreasing", "classification", 1.0, False

    def expr(self, m):
        return cp.logistic(-m)

    def value_np(self, m):
        return np.logaddexp(0.0, -m)


class Exponential(Loss):
    """exp(-m)."""
    form, mode, attains_min = "nonincreasing", "classification", False

    def expr(self, m):
        return cp.exp(-m)

    def value_np(self, m):
        return np.exp(-m)


class Absolute(Loss):
    """|r|."""
    form, lipschitz, degree = "symmetric", 1.0, 1.0

    def expr(self, z):
        return cp.abs(z)

    def value_np(self, z):
        return np.abs(z)


class Squared(Loss):
    """r^2."""
    form, degree = "symmetric", 2.0

    def expr(self, z):
        return cp.square(z)

    def value_np(self, z):
        return z * z


class PowerAbs(Loss):
    """|r|^p, p >= 1."""
    form = "symmetric"

    def __init__(self, p):
        p = real_scalar(p, "p")
        if not p >= 1:
            raise ValueError(f"p must be >= 1 for |r|^p to be convex, got {p}")
        self.p, self.degree = p, p
        self.lipschitz = 1.0 if p == 1 else None

    def expr(self, z):
        return cp.power(cp.abs(z), self.p)

    def h(self, t):
        return cp.power(t, self.p)

    def value_np(self, z):
        return np.abs(z) ** self.p


class Huber(Loss):
    """cvxpy convention: z^2 for |z| <= M, 2M|z| - M^2 otherwise (twice the z^2/2 convention)."""
    form = "symmetric"

    def __init__(self, M=1.0):
        self.M = real_scalar(M, "M", lo=0.0, lo_strict=True)
        self.lipschitz = 2 * self.M

    def expr(self, z):
        return cp.huber(z, self.M)

    def value_np(self, z):
        a = np.abs(z)
        return np.where(a <= self.M, a * a, 2 * self.M * a - self.M ** 2)


class Pinball(Loss):
    """Quantile loss rho_tau(u) = max(tau u, (tau - 1) u), u = y - prediction = -z."""

    def __init__(self, tau=0.5):
        tau = real_scalar(tau, "tau")
        if not 0 < tau < 1:
            raise ValueError(f"tau must lie in (0, 1), got {tau}")
        self.tau, self.degree = tau, 1.0
        self.lipschitz = max(tau, 1 - tau)

    def expr(self, z):
        return cp.maximum(-self.tau * z, (1 - self.tau) * z)

    def value_np(self, z):
        return np.maximum(-self.tau * z, (1 - self.tau) * z)

    def worst(self, lo, hi):
        return cp.maximum(-self.tau * lo, (1 - self.tau) * hi), []

    def worst_sym(self, r, delta):
        return self.worst(r - delta, r + delta)

    def worst_np(self, lo, hi):
        return np.maximum(-self.tau * lo, (1 - self.tau) * hi)


from robust_erm.custom_loss import Custom, _elementwise  # noqa: E402  (Custom subclasses Loss)
