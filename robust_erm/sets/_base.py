"""Base class of the uncertainty sets and the primal (conic) support-function evaluator.

Luxenberg, Malik, Li, Singh, Boyd, arXiv:2306.05649, Sec. 2-3.  Every set ``X`` exposes

- ``support(v, *, radius=None)`` -> ``(expr, constraints)``: S_X(v) = sup_{x in X} v^T x as a DCP
  expression of an affine cvxpy ``v`` (closed form, or explicit conic dual variables plus
  constraints) -- what the fit minimizes over;
- ``constraints(x)``: the primal description ``x in X``;
- ``support_value(V, *, radius=None)`` and ``argmax(V, *, radius=None)``: numeric S_X(v_k) and a
  maximizer for each row v_k of a (k, d) array.  Norm balls, boxes, ellipsoids, budgets, hulls and
  compositions of them do this in closed form (vectorized numpy, O(k d)); the others solve the
  primal max v^T x over ``constraints`` (one batched conic problem) -- either way independently of
  the dual that the fit uses, so it serves as the fit's certificate.
"""
from __future__ import annotations

import copy

import numpy as np
import cvxpy as cp

from robust_erm._validation import float_array, real_scalar

__all__ = ["UncertaintySet", "primal_max"]


def _vec(a, name, dim=None):
    arr = float_array(a, name, ndim=1)
    if dim is not None and arr.shape[0] != dim:
        raise ValueError(f"{name} must have length {dim}, got {arr.shape[0]}")
    return arr


def _radius(r, name="radius"):
    return real_scalar(r, name, lo=0.0)


def _rows(V):
    V = np.asarray(V, dtype=np.float64)
    return V[None, :] if V.ndim == 1 else V


class UncertaintySet:
    """Base class: a nonempty compact convex set in R^dim (``dim`` None = any dimension).

    Class attributes: ``closed_form`` (numeric support/argmax in closed form) and ``absolute``
    (the set pins absolute coordinates, e.g. observed features of one sample: it cannot be a
    perturbation shared by all samples)."""

    dim: int | None = None
    radius: float | None = None
    closed_form = False
    absolute = False

    def support(self, v, *, radius=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def constraints(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def with_radius(self, r):
        """A shallow copy with ``radius`` replaced (self if the set has no radius)."""
        if self.radius is None or r is None or float(r) == self.radius:
            return self
        out = copy.copy(self)
        out.radius = _radius(float(r))
        return out

    def support_value(self, V, *, radius=None):
        """S_X(v) for each row of V (numeric)."""
        S = self.with_radius(radius)
        V = _rows(V)
        if S.closed_form:
            return S._support_np(V)
        return primal_max([S] * V.shape[0], V)[0]

    def argmax(self, V, *, radius=None):
        """A maximizer of v^T x over X for each row of V (numeric, shape (k, d))."""
        S = self.with_radius(radius)
        V = _rows(V)
        if S.closed_form:
            return S._argmax_np(V)
        return primal_max([S] * V.shape[0], V)[1]

    def _support_np(self, V):
        return np.einsum("kd,kd->k", V, self._argmax_np(V))

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


def primal_max(sets, V, *, solver="CLARABEL"):
    """max v_k^T x over x in sets[k] for every k, from the primal descriptions.

    Separable, so one conic problem holds many blocks; a set object appearing several times (its
    ``constraints`` may reuse one cvxpy variable, as ``General`` does) goes to separate rounds.
    Returns (values (k,), points (k, d))."""
    V = _rows(V)
    k, d = V.shape
    vals, pts = np.empty(k), np.empty((k, d))
    todo = list(range(k))
    while todo:
        seen, now, later = set(), [], []
        for i in todo:
            (later if id(sets[i]) in seen else now).append(i)
            seen.add(id(sets[i]))
        xs = {i: cp.Variable(d) for i in now}
        cons = [c for i in now for c in sets[i].constraints(xs[i])]
        obj = cp.sum(cp.hstack([V[i] @ xs[i] for i in now]))
        pr = cp.Problem(cp.Maximize(obj), cons)
        pr.solve(solver=solver)
        if pr.status != cp.OPTIMAL:
            raise RuntimeError(f"primal support evaluation (max v^T x over the sets) returned "
                               f"{pr.status!r}: a set is empty, unbounded, or badly scaled")
        for i in now:
            pts[i] = xs[i].value
            vals[i] = V[i] @ pts[i]
        todo = later
    return vals, pts
