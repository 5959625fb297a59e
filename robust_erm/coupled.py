"""Uncertainty coupled across samples, and distributional (Wasserstein) uncertainty.

Luxenberg et al., arXiv:2306.05649, treat per-sample sets X_i; these sets perturb the whole data
set at once, each with a closed-form worst case (used both in the fit and, numerically, in the
certificate):

* :class:`MatrixBall` -- {Delta X : ||Delta X||_2 <= rho} (spectral) or ||Delta X||_F <= rho, and
  with ``labels=True`` the same ball on [Delta X, Delta y].  For the squared loss
  max ||(X + Delta X) theta + b - (y + Delta y)||_2 = ||X theta + b - y||_2 + rho ||z||_2 with
  z = theta (or (theta, -1) with labels), attained by the rank-one
  Delta = rho r z^T / (||r|| ||z||), whose spectral and Frobenius norms are both rho
  (El Ghaoui & Lebret, SIAM J. Matrix Anal. Appl. 18(4), 1997).  Objective: (||r|| + rho||z||)^2
  ("sum") or that / n ("mean"); uniform sample weights only.
* :class:`SampleBudget` -- {(delta_i) : sum_i ||delta_i||_p <= c}: a total perturbation budget
  shared by the samples.  sum_i w_i l_i(c_i), with l_i(c_i) the worst loss of sample i over a ball
  of radius c_i, is convex in each c_i, so its max over the simplex {c_i >= 0, sum c_i <= c} is at a
  vertex: the whole budget on one sample.  Value: sum_i w_i l_i(0) + max_i w_i (l_i(c) - l_i(0)).
  For the hinge loss with every margin in the linear region this is c ||theta||_q + sum hinge
  (Xu, Caramanis, Mannor, JMLR 10, 2009, non-separable case).
* :class:`Wasserstein1` -- type-1 Wasserstein ball of radius eps around the (weighted) empirical
  distribution, transport cost ||x - x'||_p on the features (labels not moved).  For a loss with
  Lipschitz constant L equal to its growth rate (hinge, logistic, absolute, Huber, pinball):
  sup_Q E_Q l = E_P l + eps L ||theta||_q (Shafieezadeh-Abadeh, Kuhn, Mohajerin Esfahani,
  "Regularization via mass transportation", JMLR 20, 2019, Thm. 10); reduction "mean" only.

q is the dual exponent of p.  All radii enter the cvxpy problem as ``cp.Parameter`` (DPP).
"""
from __future__ import annotations

import numpy as np
import cvxpy as cp

from robust_erm import losses as _losses
from robust_erm.sets._base import _radius
from robust_erm.sets.norms import Ball

__all__ = ["CoupledSet", "MatrixBall", "SampleBudget", "Wasserstein1"]


def _p(p):
    ball = Ball(p=p, radius=0.0)          # validates p, gives q
    return ball.p, ball.q


class CoupledSet:
    """Base of the sets that perturb all samples together (not an ``UncertaintySet``)."""

    radius: float
    closed_form = True

    def with_radius(self, r):
        if r is None or float(r) == self.radius:
            return self
        out = object.__new__(type(self))
        out.__dict__.update(self.__dict__, radius=_radius(float(r)))
        return out

    def check(self, spec, w):
        """Raise if the loss / reduction / weights do not fit this set."""

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


class MatrixBall(CoupledSet):
    """{Delta : ||Delta||_2 <= radius} (``norm="spectral"``) or ||Delta||_F <= radius
    (``norm="frobenius"``) on Delta X, or on [Delta X, Delta y] with ``labels=True``.
    Squared loss, regression, uniform sample weights (see the module docstring)."""

    def __init__(self, *, radius, norm="spectral", labels=False):
        if norm not in ("spectral", "frobenius"):
            raise ValueError(f"norm must be 'spectral' or 'frobenius', got {norm!r}")
        if not isinstance(labels, (bool, np.bool_)):
            raise TypeError(f"labels must be a bool, got {labels!r}")
        self.radius, self.norm, self.labels = _radius(radius), norm, bool(labels)

    def check(self, spec, w):
        if not isinstance(spec.loss, _losses.Squared) or spec.classification:
            raise ValueError("MatrixBall has a closed form for the squared loss in regression only; "
                             f"got {type(spec.loss).__name__} ({spec.mode})")
        if not np.all(w == w[0]):
            raise ValueError("MatrixBall perturbs the unweighted data matrix; sample_weight must be "
                             "None or uniform")
        if not isinstance(spec.reduction, str):
            raise ValueError("MatrixBall supports reduction 'mean' or 'sum'")

    def _z_norm(self, theta):
        if self.labels:
            return cp.norm(cp.hstack([theta, np.ones(1)]), 2) if isinstance(
                theta, cp.Expression) else float(np.sqrt(theta @ theta + 1.0))
        return cp.norm(theta, 2) if isinstance(theta, cp.Expression) else float(
            np.linalg.norm(theta))

    def worst_perturbation(self, theta, b, X, y):
        """The rank-one maximizer (Delta X, Delta y) of ||(X + Delta X) theta + b - y - Delta y||."""
        theta = np.asarray(theta, dtype=np.float64)
        r = X @ theta + b - y
        z = np.r_[theta, -1.0] if self.labels else theta
        nr, nz = np.linalg.norm(r), np.linalg.norm(z)
        u = r / nr if nr > 0 else np.eye(r.size)[0]
        D = self.radius * np.outer(u, z / nz) if nz > 0 else np.zeros((r.size, z.size))
        return (D[:, :-1], D[:, -1]) if self.labels else (D, np.zeros_like(y))


class SampleBudget(CoupledSet):
    """{(delta_i) : sum_i ||delta_i||_p <= radius}: one perturbation budget for the whole sample."""

    def __init__(self, *, radius, p=2):
        self.radius = _radius(radius)
        self.p, self.q = _p(p)

    def check(self, spec, w):
        if not isinstance(spec.reduction, str):
            raise ValueError("SampleBudget supports reduction 'mean' or 'sum'")


class Wasserstein1(CoupledSet):
    """Type-1 Wasserstein ball of radius ``radius`` around the empirical distribution, feature
    transport cost ||x - x'||_p (labels fixed); Lipschitz losses, reduction "mean"."""

    def __init__(self, *, radius, p=2):
        self.radius = _radius(radius)
        self.p, self.q = _p(p)

    def check(self, spec, w):
        if spec.loss.lipschitz is None:
            raise ValueError(f"Wasserstein1 needs a Lipschitz loss (its worst case is then "
                             f"mean loss + radius * L * ||theta||_q); {type(spec.loss).__name__} "
                             "is not Lipschitz")
        if spec.reduction != "mean":
            raise ValueError("Wasserstein1 is a ball of probability distributions: reduction must "
                             "be 'mean'")


def _weights(reduction, w):
    return w if reduction == "sum" else w / w.sum()


def objective(U, spec, per_sample, theta_v, b, X, y, w, radius):
    """(objective expr, constraints, per-sample expr) of the robust problem over a coupled set.

    ``per_sample(radius)`` returns (expr, constraints): the per-sample worst losses over an l_p
    ball of that radius (radius 0: the nominal losses); ``radius`` is the set's cp.Parameter."""
    c = _weights(spec.reduction, w)
    if isinstance(U, MatrixBall):
        r = X @ theta_v + (0.0 if b is None else b) - y
        t = cp.Variable(nonneg=True)
        scale = 1.0 if spec.reduction == "sum" else 1.0 / X.shape[0]
        return scale * cp.square(t), [t >= cp.norm(r, 2) + radius * U._z_norm(theta_v)], cp.square(r)
    nom, cons = per_sample(Ball(p=U.p, radius=0.0), 0.0)
    if isinstance(U, Wasserstein1):
        return (c @ nom + radius * spec.loss.lipschitz * cp.norm(theta_v, U.q), cons, nom)
    worst, c2 = per_sample(Ball(p=U.p, radius=U.radius), radius)
    n = X.shape[0]
    u, v, t = cp.Variable(n), cp.Variable(n), cp.Variable()
    cons = cons + c2 + [u >= nom, v >= worst, t >= c @ u - cp.multiply(c, u) + cp.multiply(c, v)]
    return t, cons, nom


def robust_loss_np(U, spec, theta, b, X, y, w):
    """(per-sample losses at a worst-case perturbation, robust objective), numerically."""
    from robust_erm.evaluate import score_bounds_np
    c = _weights(spec.reduction, w)
    if isinstance(U, MatrixBall):
        r = np.asarray(X @ theta).reshape(-1) + b - y
        nr = np.linalg.norm(r)
        tot = nr + U.radius * U._z_norm(theta)
        per = (r * (tot / nr)) ** 2 if nr > 0 else np.full(r.size, tot ** 2 / r.size)
        scale = 1.0 if spec.reduction == "sum" else 1.0 / r.size
        return per, float(scale * tot ** 2)

    def per(radius):
        bd = score_bounds_np(Ball(p=U.p, radius=radius), theta, b, X, y,
                             classification=spec.classification)
        return spec.loss.worst_np(bd.lo, bd.hi)

    nom = per(0.0)
    if isinstance(U, Wasserstein1):
        return nom, float(c @ nom + U.radius * spec.loss.lipschitz * np.linalg.norm(theta, U.q))
    inc = c * (per(U.radius) - nom)
    k = int(np.argmax(inc))
    out = nom.copy()
    out[k] = nom[k] + inc[k] / c[k] if c[k] > 0 else nom[k]
    return out, float(c @ nom + max(inc[k], 0.0))
