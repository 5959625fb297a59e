"""Regularizers r(theta) known to every backend (a plain callable works on the cvxpy path only)."""
from __future__ import annotations

import cvxpy as cp

from robust_erm._validation import real_scalar

__all__ = ["Ridge"]


class Ridge:
    """r(theta) = alpha ||theta||_2^2, alpha >= 0 (the intercept is not penalized)."""

    def __init__(self, alpha):
        self.alpha = real_scalar(alpha, "alpha", lo=0.0)

    def __call__(self, theta):
        return self.alpha * cp.sum_squares(theta)

    def __repr__(self):
        return f"Ridge(alpha={self.alpha!r})"
