"""Jitted L-BFGS with smoothing continuation for the closed-form robust ERM objective.

The objective of :mod:`robust_erm.firstorder.spec` is non-smooth where the loss has kinks (hinge,
absolute value, pinball) and where the norm N is not differentiable (l1, l_inf, budget, theta = 0).
Each kink is smoothed with parameter mu (softplus mu log(1 + e^{x/mu}) for (x)_+, sqrt(x^2 + mu^2)
for |x|, mu logsumexp(x/mu) for max), the smoothed problem is minimized by L-BFGS (two-loop
recursion, Armijo backtracking, all inside ``lax.while_loop``), and mu is divided by 10 (warm
start) until the duality-gap certificate, evaluated on the *unsmoothed* problem, is below tol.
The budget norm uses its LP form N(theta) = r min_lam gamma lam + sum_j (|theta_j| - lam)_+
with lam an extra variable.  X stays one array (dense, or a BCOO sparse matrix): every
iteration costs two products with X, O(nnz) work and memory, with no per-sample copies.
"""
from __future__ import annotations

import functools

import numpy as np

from robust_erm import losses as L

__all__ = ["lbfgs", "make_problem"]


KINDS = ("zero", "l2", "l1", "linf", "lq", "ell", "budget")
LOSSES = ("Hinge", "Logistic", "Exponential", "Pinball", "Squared", "Absolute", "Huber", "PowerAbs")


@functools.lru_cache(maxsize=16)
def _stage(key):
    """Jitted L-BFGS stage (params, mu, data, gtol) -> (params, f, iterations), dual point and
    objective for one shape ``key``.  The set kind and the loss are ``lax.switch`` indices in
    ``data``, so every set x loss pair shares one compilation (~4 s of XLA time on CPU)."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    fit_intercept, d, m = key

    def sp(x, mu):                                     # smoothed (x)_+
        return mu * jnp.logaddexp(0.0, x / mu)

    def ab(x, mu):                                     # smoothed |x|
        return jnp.sqrt(x * x + mu * mu)

    def norm_mu(th, lam, mu, data):
        r, wts, P, q, gamma = data["radius"], data["weights"], data["P"], data["q"], data["gamma"]
        budget = jnp.where(gamma >= d, r * jnp.sum(ab(th, mu)),
                           r * (gamma * lam + jnp.sum(sp(ab(th, mu) - lam, mu))))
        branches = (
            lambda: jnp.zeros((), th.dtype),
            lambda: r * jnp.sqrt(th @ th + mu * mu),
            lambda: jnp.sum(wts * ab(th, mu)),
            lambda: r * mu * jax.nn.logsumexp(jnp.concatenate([th, -th]) / mu),
            lambda: r * jnp.sum((th * th + mu * mu) ** (q / 2)) ** (1.0 / q),
            lambda: jnp.sqrt(jnp.sum((P.T @ th) ** 2) + mu * mu),
            lambda: budget,
        )
        return lax.switch(data["kind"], branches)

    def per_sample(z, t, y, mu_s, data):
        par, eta = data["loss_par"], data["eta"]
        mp = y * z - t
        r = z - y
        tt = t + eta
        s = ab(r, mu_s) + tt
        a, b = par * (tt - r), (1 - par) * (r + tt)
        branches = (
            lambda: sp(1.0 - mp, mu_s),
            lambda: jnp.logaddexp(0.0, -mp),
            lambda: jnp.exp(-mp),
            lambda: 0.5 * (a + b) + 0.5 * ab(a - b, mu_s),
            lambda: s * s,
            lambda: s,
            lambda: jnp.where(s <= par, s * s, 2 * par * s - par * par),
            lambda: s ** par,
        )
        return lax.switch(data["loss"], branches)

    def unpack(w):
        return w[:d], w[d], w[d + 1]

    def scores(w, data):
        th, beta, _ = unpack(w)
        return data["X"] @ th + data["shift"] @ th + beta

    def objective(w, mu, data):
        th, _, lam = unpack(w)
        t = norm_mu(th, lam, mu * data["tscale"], data)
        f = per_sample(scores(w, data), t, data["y"], mu * data["sscale"], data)
        return data["c"] @ f + data["alpha"] * (th @ th)

    def dual_point(w, mu, data):
        """(u_i, v_i) = d f_i / d(z_i, t) of the smoothed per-sample losses."""
        th, _, lam = unpack(w)
        z = scores(w, data)
        t = norm_mu(th, lam, mu * data["tscale"], data) * jnp.ones_like(z)

        def tot(zz, tt):
            return jnp.sum(per_sample(zz, tt, data["y"], mu * data["sscale"], data))

        return jax.grad(tot, argnums=(0, 1))(z, t)

    def vg(w, mu, data):
        f, g = jax.value_and_grad(objective)(w, mu, data)
        mask = jnp.ones(d + 2, w.dtype).at[d].set(1.0 if fit_intercept else 0.0).at[d + 1].set(
            data["lam_on"])
        return f, g * mask

    def run(w0, mu, data, gtol, iters):
        return lbfgs(lambda w: vg(w, mu, data), w0, maxiter=iters, gtol=gtol, m=m)

    return jax.jit(run), jax.jit(dual_point), jax.jit(objective)


def lbfgs(value_and_grad, x0, *, maxiter, gtol, m=10):
    """Minimize with L-BFGS (Nocedal & Wright, Alg. 7.4/7.5) and Armijo backtracking, in
    ``lax.while_loop``.  Returns (x, f, iterations).  Stops when ||grad||_inf <= gtol, after
    ``maxiter`` iterations (may be traced), or when a line search makes no progress."""
    import jax.numpy as jnp
    from jax import lax

    p = x0.shape[0]
    f0, g0 = value_and_grad(x0)
    S = jnp.zeros((m, p), x0.dtype)
    Y = jnp.zeros((m, p), x0.dtype)
    R = jnp.zeros((m,), x0.dtype)

    def direction(g, S, Y, R, k):
        nh = jnp.minimum(k, m)

        def back(i, carry):
            qv, al = carry
            j = (k - 1 - i) % m
            a = jnp.where(i < nh, R[j] * (S[j] @ qv), 0.0)
            return qv - a * Y[j], al.at[j].set(a)

        qv, al = lax.fori_loop(0, m, back, (g, jnp.zeros((m,), g.dtype)))
        jn = (k - 1) % m
        gam = jnp.where(k > 0, (S[jn] @ Y[jn]) / jnp.maximum(Y[jn] @ Y[jn], 1e-300),
                        1.0 / jnp.maximum(jnp.max(jnp.abs(g)), 1.0))
        r = gam * qv

        def fwd(i, r):
            j = (k - nh + i) % m
            b = R[j] * (Y[j] @ r)
            return jnp.where(i < nh, r + S[j] * (al[j] - b), r)

        return -lax.fori_loop(0, m, fwd, r)

    def cond(st):
        x, f, g, S, Y, R, k, it, stall = st
        return (it < maxiter) & (jnp.max(jnp.abs(g)) > gtol) & (~stall)

    def body(st):
        x, f, g, S, Y, R, k, it, stall = st
        dvec = direction(g, S, Y, R, k)
        slope = g @ dvec
        bad = slope >= 0                                   # not a descent direction: reset
        dvec = jnp.where(bad, -g / jnp.maximum(jnp.max(jnp.abs(g)), 1.0), dvec)
        slope = jnp.where(bad, g @ dvec, slope)
        k = jnp.where(bad, 0, k)

        def ls_cond(c):                                    # first pass: t = 1
            t, fn, gn, xn, j = c
            return (j == 0) | ((fn > f + 1e-4 * t * slope) & (j < 50))

        def ls_body(c):
            t, _, _, _, j = c
            t = 0.5 * t
            xn = x + t * dvec
            fn, gn = value_and_grad(xn)
            return t, fn, gn, xn, j + 1

        t, fn, gn, xn, j = lax.while_loop(ls_cond, ls_body, (2.0, f, g, x, 0))
        ok = fn <= f + 1e-4 * t * slope
        s, yv = xn - x, gn - g
        sy = s @ yv
        keep = ok & (sy > 1e-16 * jnp.sqrt((s @ s) * (yv @ yv)))
        idx = k % m
        S = jnp.where(keep, S.at[idx].set(s), S)
        Y = jnp.where(keep, Y.at[idx].set(yv), Y)
        R = jnp.where(keep, R.at[idx].set(1.0 / jnp.where(keep, sy, 1.0)), R)
        k = jnp.where(keep, k + 1, k)
        x, f, g = jnp.where(ok, xn, x), jnp.where(ok, fn, f), jnp.where(ok, gn, g)
        stall = ~ok | (jnp.abs(s @ s) == 0)
        return x, f, g, S, Y, R, k, it + 1, stall

    st = (x0, f0, g0, S, Y, R, jnp.asarray(0), jnp.asarray(0), jnp.asarray(False))
    x, f, g, *_, it, _ = lax.while_loop(cond, body, st)
    return x, f, it


def make_problem(fs, X, y, w, *, dtype):
    """(stage key, data dict, mu scales) for a FastSpec and validated data."""
    import jax.numpy as jnp
    import scipy.sparse as sp

    n, d = X.shape
    c = w / w.sum() if fs.reduction == "mean" else w
    xbar = np.asarray((w @ X)).reshape(-1) / w.sum() if fs.fit_intercept else np.zeros(d)
    shift = (np.zeros(d) if fs.center is None else fs.center) - xbar
    if sp.issparse(X):
        from jax.experimental import sparse as jsp
        Xj = jsp.BCOO.from_scipy_sparse(X.astype(dtype))
    else:
        Xj = jnp.asarray(X, dtype=dtype)
    loss = fs.loss
    par = {L.Pinball: lambda: loss.tau, L.Huber: lambda: loss.M,
           L.PowerAbs: lambda: loss.p}.get(type(loss), lambda: 0.0)()
    if fs.classification:
        sscale = 1.0
    else:
        sd = float(np.sqrt(w @ (y - (w @ y) / w.sum()) ** 2 / w.sum()))
        sscale = sd if sd > 0 else 1.0
    rad = fs.radius * (1.0 if fs.weights is None else float(np.max(fs.weights)) / max(
        fs.radius, 1e-300)) if fs.kind != "ell" else float(np.linalg.norm(fs.P, 2))
    tscale = sscale / max(rad * d, 1e-12)
    key = (fs.fit_intercept, d, 10)
    data = {"X": Xj, "y": jnp.asarray(y, dtype), "c": jnp.asarray(c, dtype),
            "shift": jnp.asarray(shift, dtype), "radius": jnp.asarray(fs.radius, dtype),
            "weights": jnp.asarray(np.broadcast_to(
                fs.weights if fs.weights is not None else 0.0, (d,)), dtype),
            "P": jnp.asarray(fs.P if fs.P is not None else np.zeros((d, d)), dtype),
            "eta": jnp.asarray(fs.eta, dtype), "alpha": jnp.asarray(fs.alpha, dtype),
            "sscale": jnp.asarray(sscale, dtype), "tscale": jnp.asarray(tscale, dtype),
            "q": jnp.asarray(fs.q, dtype), "gamma": jnp.asarray(fs.gamma, dtype),
            "loss_par": jnp.asarray(par, dtype),
            "lam_on": jnp.asarray(1.0 if fs.kind == "budget" and fs.gamma < d else 0.0, dtype),
            "kind": jnp.asarray(KINDS.index(fs.kind), jnp.int32),
            "loss": jnp.asarray(LOSSES.index(type(loss).__name__), jnp.int32)}
    return key, data, xbar
