"""What the first-order backend solves, and its duality-gap certificate (numpy, float64).

Problem (Luxenberg et al., arXiv:2306.05649, problem (1) with a shared symmetric set U_0 centred at
c, X_i = x_i + c + U_0, so that sup_{x in X_i} theta^T x = (x_i + c)^T theta + N(theta) with the norm
N = S_{U_0}):
    P(theta, b) = sum_i c_i f_i(z_i, N(theta)) + alpha ||theta||_2^2,   z_i = (x_i + c)^T theta + b,
c_i = w_i / sum w ("mean") or w_i ("sum"), f_i(z, t) the worst loss over the score interval:
margin losses phi(y_i z - t); symmetric losses h(|z - y_i| + t + eta); pinball
max(tau (t + eta - r), (1 - tau)(r + t + eta)), r = z - y_i.  f_i is jointly convex and
non-decreasing in t.

Fenchel dual: f_i(z, t) = sup_{u, v >= 0} u z + v t - f_i^*(u, v), hence for every (u, v) in the
domain (with sum_i c_i u_i = 0 when there is an intercept)
    P* >= D(u, v) = -sum_i c_i f_i^*(u_i, v_i) + min_theta [g^T theta + V N(theta) + alpha ||theta||^2],
g = sum_i c_i u_i (x_i + c), V = sum_i c_i v_i.  The inner minimum is bounded below in closed form:
alpha > 0: >= -||g + s||^2 / (4 alpha) for any s in V U_0 (a projection of -g, or V argmax_{U_0}
theta); alpha = 0: 0 if gauge_{U_0}(g) <= V, and for regression also >= -B (gauge(g) - V)_+ with B
>= N(theta*) from the current objective (h(N(theta*)) <= P(theta_k) / sum c).  Conjugates:
hinge phi^*(-v) = -v (v in [0, 1]); logistic v log v + (1 - v) log(1 - v); exponential v log v - v;
squared/Huber v^2/4 (Huber: v <= 2M); absolute 0 (v <= 1); |r|^p (p-1)(v/p)^(p/(p-1));
pinball 0 on the segment conv{(-tau, tau), (1 - tau, 1 - tau)}; plus u y_i - v eta (regression).
The certificate is P(theta_k) - D(u_k, v_k) >= P(theta_k) - P*, with P evaluated by the library's
closed-form robust loss, not by the solver.
"""
from __future__ import annotations

import copy
import dataclasses

import numpy as np

from robust_erm import losses as L
from robust_erm import sets as S
from robust_erm.coupled import CoupledSet
from robust_erm.regularizers import Ridge

__all__ = ["FastSpec", "fast_spec", "Certificate", "certificate"]

_LOSSES = (L.Hinge, L.Logistic, L.Exponential, L.Absolute, L.Squared, L.Huber, L.PowerAbs, L.Pinball)
_SETS = (S.Ball, S.Box, S.Ellipsoid, S.Budget)


@dataclasses.dataclass(frozen=True)
class FastSpec:
    """The closed-form problem: penalty kind and data, loss, weights convention, ridge."""

    kind: str                 # "zero", "l2", "l1" (weights), "linf", "lq", "ell", "budget"
    radius: float
    U0: object                # the centred set (numeric support / argmax), None for "zero"
    center: np.ndarray | None
    eta: float
    weights: np.ndarray | None  # l1: radius * widths
    q: float
    P: np.ndarray | None      # ell: radius * P
    gamma: float
    loss: object
    classification: bool
    alpha: float
    reduction: str
    fit_intercept: bool


def _unsupported(what, why):
    return ValueError(f"backend='jax' has no closed form for {what} ({why}); use "
                      "backend='cvxpy'")


def fast_spec(spec, radius=None) -> FastSpec:
    """Check that ``spec`` (a RobustERM) is a closed-form set x loss pair; describe it."""
    U = spec.uncertainty
    if isinstance(U, (list, CoupledSet)) or not isinstance(U, S.UncertaintySet):
        name = "per-sample sets" if isinstance(U, list) else type(U).__name__
        raise _unsupported(name, "the first-order backend needs one shared closed-form set")
    if spec.path == "general":
        raise _unsupported("path='general'", "per-sample expansion")
    if not isinstance(spec.loss, _LOSSES):
        raise _unsupported(f"loss {type(spec.loss).__name__}", "only the library's losses")
    if spec.theta_constraints is not None:
        raise _unsupported("theta_constraints", "constraints on theta")
    if spec.regularizer is not None and not isinstance(spec.regularizer, Ridge):
        raise _unsupported("a cvxpy regularizer", "pass robust_erm.regularizers.Ridge(alpha)")
    if not isinstance(spec.reduction, str):
        raise _unsupported(f"reduction {spec.reduction!r}", "mean or sum only")
    U = U.with_radius(radius)
    eta = 0.0
    if isinstance(U, S.LabelNoise):
        eta, U = U.eta, U.features
    if U is not None and not (type(U) in _SETS or isinstance(U, S.EllipsoidQuad)):
        raise _unsupported(f"uncertainty set {type(U).__name__}",
                           "closed form for Ball, Box, Ellipsoid, EllipsoidQuad, Budget, LabelNoise")
    center = None if U is None or getattr(U, "center", None) is None else U.center
    U0 = None
    if U is not None:
        U0 = copy.copy(U)
        if hasattr(U0, "center"):
            U0.center = None
    kw = dict(radius=0.0 if U is None else float(U.radius), U0=U0, center=center, eta=eta,
              weights=None, q=2.0, P=None, gamma=0.0, loss=spec.loss,
              classification=spec.classification,
              alpha=0.0 if spec.regularizer is None else spec.regularizer.alpha,
              reduction=spec.reduction, fit_intercept=spec.fit_intercept)
    if U is None:
        return FastSpec(kind="zero", **kw)
    r = float(U.radius)
    if isinstance(U, S.Ball):
        q = U.q
        if q == 2:
            return FastSpec(kind="l2", **kw)
        if np.isinf(q):
            return FastSpec(kind="linf", **kw)
        if q == 1:
            return FastSpec(kind="l1", **{**kw, "weights": np.array([r])})
        return FastSpec(kind="lq", **{**kw, "q": float(q)})
    if isinstance(U, S.Box):
        return FastSpec(kind="l1", **{**kw, "weights": r * U.widths})
    if isinstance(U, S.Ellipsoid):
        return FastSpec(kind="ell", **{**kw, "P": r * U.P})
    return FastSpec(kind="budget", **{**kw, "gamma": float(U.gamma)})


# ----------------------------------------------------------------------------- norms of U_0
def norm_np(fs, theta):
    """N(theta) = S_{U_0}(theta)."""
    return 0.0 if fs.U0 is None else float(fs.U0.support_value(theta)[0])


def gauge_np(fs, g):
    """gauge_{U_0}(g) = inf{lam >= 0 : g in lam U_0} (the dual norm of N); inf if none."""
    a = np.abs(g)
    if fs.kind == "zero" or fs.radius == 0.0:
        return 0.0 if not np.any(g) else np.inf
    r = fs.radius
    if fs.kind == "l2":
        return float(np.linalg.norm(g)) / r
    if fs.kind == "linf":               # U_0 = l1 ball
        return float(a.sum()) / r
    if fs.kind == "l1":                 # U_0 = box with half-widths `weights`
        wts = np.broadcast_to(fs.weights, a.shape)
        if np.any((wts == 0) & (a > 0)):
            return np.inf
        return float(np.max(np.divide(a, wts, out=np.zeros_like(a), where=wts > 0)))
    if fs.kind == "lq":                 # U_0 = l_p ball, p dual to q
        p = fs.q / (fs.q - 1)
        return float(np.linalg.norm(g, p)) / r
    if fs.kind == "ell":                # U_0 = {P u : ||u|| <= 1}
        u, *_ = np.linalg.lstsq(fs.P, g, rcond=None)
        if np.linalg.norm(fs.P @ u - g) > 1e-10 * (1 + np.linalg.norm(g)):
            return np.inf
        return float(np.linalg.norm(u))
    return max(float(a.max()), float(a.sum()) / fs.gamma if fs.gamma > 0 else (
        np.inf if a.any() else 0.0)) / r      # budget: box cap r, l1 cap r gamma


def _project_candidates(fs, x):
    """Points of U_0 near x (exact Euclidean projections where cheap, else gauge scaling)."""
    out = []
    gx = gauge_np(fs, x)
    if np.isfinite(gx):
        out.append(x / max(1.0, gx))
    if fs.kind in ("l1",):
        out.append(np.clip(x, -fs.weights, fs.weights))
    elif fs.kind == "linf":                 # l1 ball (Duchi et al. 2008, sort-based)
        r, a = fs.radius, np.abs(x)
        if a.sum() > r:
            srt = np.sort(a)[::-1]
            cs = np.cumsum(srt) - r
            k = np.nonzero(srt - cs / np.arange(1, a.size + 1) > 0)[0][-1]
            out.append(np.sign(x) * np.maximum(a - cs[k] / (k + 1), 0.0))
    elif fs.kind == "budget":               # box cap r, l1 cap r gamma: clip(soft(x, lam))
        r, a = fs.radius, np.abs(x)
        clip = np.minimum(a, r)
        if clip.sum() > r * fs.gamma:
            lo, hi = 0.0, float(a.max())
            for _ in range(100):
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if np.minimum(np.maximum(a - mid, 0), r).sum() > r * fs.gamma \
                    else (lo, mid)
            clip = np.minimum(np.maximum(a - hi, 0), r)
        out.append(np.sign(x) * clip)
    return out


# ----------------------------------------------------------------------------- conjugates
def _conj(fs, u, v, y):
    """sum-ready f_i^*(u_i, v_i) (inf outside the domain is avoided by construction)."""
    loss = fs.loss
    if fs.classification:
        if isinstance(loss, L.Hinge):
            return -v
        if isinstance(loss, L.Logistic):
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(v > 0, v * np.log(v), 0.0) + np.where(v < 1, (1 - v) * np.log1p(-v), 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(v > 0, v * np.log(v), 0.0) - v          # exponential
    shift = u * y - v * fs.eta
    if isinstance(loss, L.Pinball):
        return shift
    if isinstance(loss, (L.Squared, L.Huber)):
        return v * v / 4 + shift
    if isinstance(loss, L.Absolute):
        return shift
    p = loss.p                                                        # PowerAbs
    return (0.0 if p == 1 else (p - 1) * (v / p) ** (p / (p - 1))) + shift


def _to_domain(fs, u, v, c, y):
    """Clip (u, v) into the conjugate's domain; enforce sum c u = 0 (intercept) by shrinking the
    dominant-sign part of u toward 0, which keeps every loss's domain."""
    loss = fs.loss
    if fs.classification:
        hi = 1.0 if isinstance(loss, (L.Hinge, L.Logistic)) else np.inf
        v = np.clip(v, 0.0, hi)
        u = -y * v
    elif isinstance(loss, L.Pinball):
        t = loss.tau
        u = np.clip(u, -t, 1 - t)
    else:
        cap = {L.Absolute: 1.0}.get(type(loss), np.inf)
        if isinstance(loss, L.Huber):
            cap = 2 * loss.M
        v = np.clip(v, 0.0, cap)
        u = np.clip(u, -v, v)
    if fs.fit_intercept:
        s = c @ u
        pos, neg = c @ np.maximum(u, 0), -(c @ np.minimum(u, 0))
        if s > 0 and pos > 0:
            u = np.where(u > 0, u * (neg / pos), u)
        elif s < 0 and neg > 0:
            u = np.where(u < 0, u * (pos / neg), u)
    if fs.classification:
        v = np.abs(u)
    elif isinstance(loss, L.Pinball):
        lam = (1 - loss.tau) - u
        v = (1 - loss.tau) - lam * (1 - 2 * loss.tau)
    return u, v


def _h_inv(fs, val):
    loss = fs.loss
    if isinstance(loss, L.Squared):
        return np.sqrt(val)
    if isinstance(loss, L.Absolute):
        return val
    if isinstance(loss, L.Huber):
        M = loss.M
        return np.sqrt(val) if val <= M * M else (val + M * M) / (2 * M)
    if isinstance(loss, L.Pinball):
        return val / (2 * loss.tau * (1 - loss.tau))
    return val ** (1.0 / loss.p)


@dataclasses.dataclass(frozen=True)
class Certificate:
    """Duality-gap certificate of a first-order fit: ``primal`` = P(theta, b) (closed form),
    ``dual`` = D(u, v) <= P*, ``gap`` = (primal - dual) / max(|primal|, 1e-12) >= relative
    suboptimality; ``ok`` when gap <= ``tol``."""

    primal: float
    dual: float
    gap: float
    tol: float
    iterations: int = 0
    mu: float = 0.0

    @property
    def ok(self):
        return bool(np.isfinite(self.gap) and self.gap <= self.tol)

    # the cvxpy path's Certificate names, so Result code can read either
    @property
    def robust_objective(self):
        return self.primal

    @property
    def solver_objective(self):
        return self.primal


def certificate(fs, spec, X, y, w, theta, b, u, v, *, tol, iterations=0, mu=0.0) -> Certificate:
    """The certificate at (theta, b) with dual candidates (u, v) (e.g. gradients of the smoothed
    per-sample losses with respect to the score and the penalty)."""
    c = w / w.sum() if fs.reduction == "mean" else w
    rl = spec.robust_loss(theta, X, y, intercept=b, sample_weight=w, radius=fs.radius)
    P = rl.value + fs.alpha * float(theta @ theta)
    u, v = _to_domain(fs, np.asarray(u, np.float64), np.asarray(v, np.float64), c, y)
    g = np.asarray((c * u) @ X).reshape(-1)
    if fs.center is not None:
        g = g + fs.center * float(c @ u)
    V = float(c @ v)
    if not fs.fit_intercept or abs(c @ u) <= 1e-14 * (c @ np.abs(u) + 1e-300):
        dual = -float(c @ _conj(fs, u, v, y))
        inner = []
        if fs.alpha > 0:
            cands = _project_candidates(fs, -g / V) if V > 0 else []
            if fs.U0 is not None and V > 0:
                cands.append(fs.U0.argmax(theta)[0])
            if fs.kind == "zero" or V == 0:
                cands.append(np.zeros_like(g))
            inner += [-float(np.sum((g + V * s) ** 2)) / (4 * fs.alpha) for s in cands]
        gg = gauge_np(fs, g)
        if gg <= V * (1 + 1e-12):
            inner.append(0.0)
        elif not fs.classification and fs.radius > 0 and np.isfinite(gg):
            B = _h_inv(fs, P / c.sum())       # h(N(theta*)) <= P* / sum c <= P / sum c
            inner.append(-B * (gg - V))
        dual = dual + max(inner) if inner else -np.inf
    else:
        dual = -np.inf
    if isinstance(fs.loss, L.Hinge) and fs.alpha == 0:
        dual = max(dual, 0.0)                               # hinge >= 0
    gap = (P - dual) / max(abs(P), 1e-12)
    return Certificate(primal=P, dual=float(dual), gap=float(gap), tol=tol,
                       iterations=int(iterations), mu=float(mu))
