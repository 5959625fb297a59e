"""Exact output law of every sampler on an isotropic Gaussian target (no Monte Carlo).

For ``q = N(mu 1, var I_d)`` and the score ``s_t(x) = -(x - e^{-t} mu)/lam_t + b`` (exact when
``b = 0``; ``b`` is the per-coordinate constant of :func:`theory.ou.biased_score`), every step of
every scheme is affine in the state plus independent Gaussian noise, and coordinates do not
interact.  So the output is exactly ``N(m 1, P I_d)`` and ``(m, P)`` follow from propagating a
per-coordinate mean and variance (a 2x2 covariance inside a ULMC corrector, whose fresh velocity
is ``N(0, 1)`` independent of ``z``).

The affine maps are obtained by applying the *same* one-step kernels the particle sampler uses
(:mod:`sims.pfode.steps`) to basis states with zero noise, so this oracle checks the sampler's
loops and time grid, and the particle sampler checks this oracle.

Step counts are traced (``lax.fori_loop``), so one compiled program serves a whole grid of step
counts (``jax.vmap`` over them).  Cost is independent of d: the exact TV in any dimension
follows from :func:`theory.ou.tv_isotropic_gaussians`.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

from sims.pfode.schemes import Scheme
from sims.pfode.steps import ddpm_step, lmc_step, ode2_step, ode_step, ulmc_coefficients, ulmc_step

__all__ = ["isotropic_law", "scheme_law", "law_over_steps"]


def _score(t, x, var, mean, bias):
    a = jnp.exp(-t)
    lam = a * a * var - jnp.expm1(-2.0 * t)
    return -(x - a * mean) / lam + bias


def _affine1(f):
    """(A, B) of an affine scalar map f."""
    b = f(jnp.zeros(()))
    return f(jnp.ones(())) - b, b


@functools.partial(jax.jit, static_argnames=("predictor", "corrector"))
def isotropic_law(n_outer, n_pred, n_corr, T, t_end, t_corr, friction, *, predictor: str,
                  corrector: str, var, mean=0.0, bias=0.0, mean0=0.0, var0=1.0):
    """Per-coordinate output mean and variance ``(m, P)`` of a scheme (see module docstring).

    All numeric arguments may be traced / vmapped (step counts included); ``predictor`` and
    ``corrector`` are as in :class:`sims.pfode.schemes.Scheme`.  Start: ``N(0, 1)``.
    """
    f64 = jnp.float64
    n_outer, n_pred, n_corr = (jnp.asarray(v, jnp.int64) for v in (n_outer, n_pred, n_corr))
    T, t_end, t_corr, friction = (jnp.asarray(v, f64) for v in (T, t_end, t_corr, friction))
    h = (T - t_end) / (n_outer * n_pred)
    sc = functools.partial(_score, var=var, mean=mean, bias=bias)

    def pred(k, mp):
        m, p = mp
        t = T - k * h
        if predictor == "ode":
            A, B = _affine1(lambda x: ode_step(x, sc(t, x), h))
            q = 0.0
        elif predictor == "ddpm":
            A, B = _affine1(lambda x: ddpm_step(x, sc(t, x), h, 0.0))
            q = jnp.expm1(2.0 * h)
        else:
            t_r = jnp.maximum(t - h, t_end)
            A, B = _affine1(lambda x: ode2_step(x, sc(t, x), h, lambda a: sc(t_r, a))[0])
            q = 0.0
        return A * m + B, A * A * p + q

    def corr(t, mp):
        m, p = mp
        delta = t_corr / n_corr
        if corrector == "lmc":
            A, B = _affine1(lambda x: lmc_step(x, sc(t, x), delta, 0.0))
            return lax.fori_loop(0, n_corr, lambda i, s: (A * s[0] + B, A * A * s[1] + 2 * delta),
                                 (m, p))
        coeffs = ulmc_coefficients(friction, delta)
        _, _, _, vz, czv, vv = coeffs

        def step(z, v):
            return ulmc_step(z, v, sc(t, z), coeffs, 0.0, 0.0)

        b = jnp.stack(step(jnp.zeros(()), jnp.zeros(())))
        A = jnp.stack([jnp.stack(step(jnp.ones(()), jnp.zeros(()))) - b,
                       jnp.stack(step(jnp.zeros(()), jnp.ones(()))) - b], axis=1)
        Q = jnp.array([[vz, czv], [czv, vv]])

        def body(i, s):
            mu, C = s
            return A @ mu + b, A @ C @ A.T + Q

        mu, C = lax.fori_loop(0, n_corr, body, (jnp.stack([m, 0.0]), jnp.diag(jnp.stack([p, 1.0]))))
        return mu[0], C[0, 0]

    def outer(j, mp):
        mp = lax.fori_loop(j * n_pred, (j + 1) * n_pred, pred, mp)
        if corrector != "none":
            t = jnp.maximum(T - (j + 1) * n_pred * h, t_end)
            mp = corr(t, mp)
        return mp

    start = (jnp.asarray(mean0, f64), jnp.asarray(var0, f64))
    return lax.fori_loop(0, n_outer, outer, start)


def scheme_law(scheme: Scheme, *, var: float, mean: float = 0.0, bias: float = 0.0):
    """``(m, P)`` for one :class:`Scheme` (floats)."""
    m, p = isotropic_law(scheme.n_outer, scheme.n_pred, max(scheme.n_corr, 1), scheme.T,
                         scheme.t_end, scheme.t_corr if scheme.n_corr else 1.0, scheme.friction,
                         predictor=scheme.predictor, corrector=scheme.corrector, var=var,
                         mean=mean, bias=bias)
    return float(m), float(p)


def law_over_steps(scheme: Scheme, ks, *, var: float, mean: float = 0.0, bias: float = 0.0):
    """``(m, P)`` arrays for the family of ``scheme`` with ``n_pred`` (and ``n_corr``, when a
    corrector is used) replaced by each ``k`` in ``ks``: one compiled program for the whole grid.

    The structure (predictor, corrector, ``n_outer``, ``T``, ``t_end``, ``t_corr``, friction)
    is ``scheme``'s; only the step counts vary.
    """
    import numpy as np

    ks = np.asarray(ks, dtype=np.int64)
    if ks.ndim != 1 or ks.size == 0 or np.any(ks < 1):
        raise ValueError(f"ks: expected a non-empty 1-D array of positive step counts, got {ks!r}")
    corr = scheme.n_corr > 0
    f = jax.vmap(lambda k: isotropic_law(
        scheme.n_outer, k, k if corr else 1, scheme.T, scheme.t_end,
        scheme.t_corr if corr else 1.0, scheme.friction, predictor=scheme.predictor,
        corrector=scheme.corrector, var=var, mean=mean, bias=bias))
    m, p = f(jnp.asarray(ks))
    return np.asarray(m), np.asarray(p)
