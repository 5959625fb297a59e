"""Full-batch GD on linear models and single-filter linear CNNs, with and without batch norm.

Y. Cao, D. Zou, Y. Li, Q. Gu, "The Implicit Bias of Batch Normalization in Linear Models and
Two-layer Linear CNNs", COLT 2023, arXiv:2306.11680.

Models (``x`` of shape ``(n, P, d)``; the linear model is ``P = 1``):

* BN:  ``f(x) = gamma * sum_p <w, x^(p)> / ||w||_Sigma``, ``Sigma = sum_{i,p} x_i^(p) x_i^(p)T/(nP)``
  (uncentred, no shift; both ``w`` and ``gamma`` trained).  CHOICE: the fixed second layer of the
  CNN *sums* the patches (the paper's normalisation of the second layer is out of reach; a
  constant factor only rescales ``gamma``).
* no BN: ``f(x) = sum_p <w, x^(p)>``.

Loss ``L = mean_i l(y_i f(x_i))`` with ``l(u) = exp(-u)`` or ``log(1 + exp(-u))``; constant step
``eta`` on ``(w, gamma)``.  The gradient is analytic (checked against autodiff in the tests):
with ``m_i = <w, a_i>/s``, ``a_i = y_i sum_p x_i^(p)``, ``s = ||w||_Sigma``,

    dL/dgamma = mean_i l'(gamma m_i) m_i,
    dL/dw     = (gamma/n) sum_i l'(gamma m_i) (a_i - m_i Sigma w / s) / s.

The step loop is a ``lax.scan`` over a log-spaced grid of record times with a ``fori_loop``
between them, so 10^6 steps cost no memory; the runner is ``jax.jit``-ed once and vmappable over
initialisations and step sizes (``eta`` is a traced value).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["log_grid", "prepare", "bn_grad", "bn_loss", "run_bn", "run_nobn", "patch_margins"]

LOSSES = ("exp", "logistic")


def _require_x64() -> None:
    if jnp.zeros(()).dtype != jnp.float64:
        raise RuntimeError("sims.bn needs float64: enable jax x64 at the entry point "
                           "(jax.config.update('jax_enable_x64', True))")


def log_grid(steps: int, *, per_decade: int = 20) -> np.ndarray:
    """Sorted unique integer record times in ``[1, steps]``, log-spaced (``per_decade`` a decade)."""
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    n = max(2, int(np.ceil(np.log10(max(steps, 10)) * per_decade)) + 1)
    t = np.unique(np.round(np.logspace(0, np.log10(steps), n)).astype(np.int64))
    return t


def prepare(x, y) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Validate data and return ``(a, Sigma)``: ``a_i = y_i sum_p x_i^(p)``, pooled ``Sigma``.

    ``x`` is ``(n, d)`` (linear model) or ``(n, P, d)`` (patches); ``y`` is ``(n,)`` in {-1, +1}.
    """
    from theory.bn import check_data, check_patches

    _require_x64()
    xa = np.asarray(x)
    if xa.ndim == 2:
        xa, ya = check_data(xa, y)
        xa = xa[:, None, :]
    else:
        xa, ya = check_patches(xa, y)
    n, p, d = xa.shape
    a = ya[:, None] * xa.sum(axis=1)
    flat = xa.reshape(n * p, d)
    sig = flat.T @ flat / (n * p)
    return jnp.asarray(a), jnp.asarray(sig)


def _lprime(u, loss):
    if loss == "exp":
        return -jnp.exp(-u)
    return -jax.nn.sigmoid(-u)


def _l(u, loss):
    if loss == "exp":
        return jnp.exp(-u)
    return jnp.logaddexp(0.0, -u)


def bn_loss(w, gamma, a, sig, *, loss: str = "exp"):
    """BN training loss ``mean_i l(gamma <w, a_i> / ||w||_Sigma)`` (used for autodiff checks)."""
    s = jnp.sqrt(w @ sig @ w)
    return jnp.mean(_l(gamma * (a @ w) / s, loss))


def bn_grad(w, gamma, a, sig, *, loss: str = "exp"):
    """Analytic gradient ``(dL/dw, dL/dgamma)`` of :func:`bn_loss`."""
    sw = sig @ w
    s = jnp.sqrt(w @ sw)
    m = (a @ w) / s
    lp = _lprime(gamma * m, loss)
    n = a.shape[0]
    gw = gamma / n * (lp @ a - (lp @ m) * sw / s) / s
    gg = jnp.mean(lp * m)
    return gw, gg


def _check_run_args(w0, eta, loss, steps, d):
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    eta_a = np.asarray(eta, dtype=np.float64)
    if not np.all(np.isfinite(eta_a)) or np.any(eta_a <= 0):
        raise ValueError(f"eta (step size) must be finite and > 0, got {eta!r}")
    w0a = np.asarray(w0, dtype=np.float64)
    if w0a.shape[-1] != d:
        raise ValueError(f"w0 must have last dimension d={d}, got shape {w0a.shape}")
    if not np.all(np.isfinite(w0a)):
        raise ValueError("w0 contains NaN or inf")
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")


UNROLL = 8  # GD steps per loop iteration (the step is ~1 us of dependent work; unrolling
            # lets XLA fuse across steps and cuts loop overhead: see benchmarks/bench_bn.py)


def _lowrank_step(F, ysgn, n, P, loss, bn):
    """One GD step through the data matrix ``F = (x_i^(p))`` of shape ``(n P, d)``.

    Uses ``Sigma w = F^T (F w)/(nP)``, ``<w, a_i> = y_i sum_p (F w)_ip`` and
    ``sum_i c_i a_i = F^T (y_i c_i)_ip``: two matvecs with ``F`` instead of one with the
    ``d x d`` Sigma and two with ``a`` -- cheaper whenever ``2 n P < d + 2 n``.  Same gradient
    as :func:`bn_grad` (checked to 1e-13 in the tests).
    """
    N = n * P

    def expand(c):                       # (n,) -> (nP,), entry (i, p) = y_i c_i
        return jnp.repeat(ysgn * c, P)

    def step(eta, st):
        w, g = st
        u = F @ w
        aw = ysgn * u.reshape(n, P).sum(axis=1)
        if not bn:
            lp = _lprime(aw, loss)
            return w - eta * (F.T @ expand(lp)) / n, g
        s = jnp.sqrt(u @ u / N)
        m = aw / s
        lp = _lprime(g * m, loss)
        lm = lp @ m
        v = (g / (n * s)) * (expand(lp) - (lm / (s * N)) * u)
        return w - eta * (F.T @ v), g - eta * (lm / n)

    return step


@functools.partial(jax.jit, static_argnames=("loss", "bn", "P", "lowrank"))
def _scan(a, sig, F, ysgn, w0, g0, eta, diffs, *, loss, bn, P, lowrank):
    n = a.shape[0]

    if lowrank:
        one = _lowrank_step(F, ysgn, n, P, loss, bn)

        def step(st):
            return one(eta, st)
    else:
        def step(st):
            w, g = st
            if bn:
                gw, gg = bn_grad(w, g, a, sig, loss=loss)
                return w - eta * gw, g - eta * gg
            lp = _lprime(a @ w, loss)
            return w - eta * (lp @ a) / n, g

    def unrolled(_, st):
        for _ in range(UNROLL):
            st = step(st)
        return st

    def seg(st, k):
        st = jax.lax.fori_loop(0, k // UNROLL, unrolled, st)
        st = jax.lax.fori_loop(0, k % UNROLL, lambda _, s_: step(s_), st)
        w, g = st
        if bn:
            s = jnp.sqrt(w @ sig @ w)
            m = (a @ w) / s
            lval = jnp.mean(_l(g * m, loss))
        else:
            m = a @ w
            lval = jnp.mean(_l(m, loss))
        return st, (w, g, m, lval)

    _, out = jax.lax.scan(seg, (w0, g0), diffs)
    return out


def _run(x, y, w0, *, gamma0, eta, steps, loss, per_decade, bn):
    _require_x64()
    a, sig = prepare(x, y)
    _check_run_args(w0, eta, loss, steps, a.shape[1])
    xa = np.asarray(x, dtype=np.float64)
    xa = xa[:, None, :] if xa.ndim == 2 else xa
    n, P, d = xa.shape
    F = jnp.asarray(xa.reshape(n * P, d))
    ysgn = jnp.asarray(np.asarray(y, dtype=np.float64))
    lowrank = 2 * n * P < d + 2 * n
    t = log_grid(steps, per_decade=per_decade)
    diffs = jnp.asarray(np.diff(np.concatenate([[0], t])))
    w0 = jnp.asarray(w0, dtype=jnp.float64)
    eta = jnp.asarray(eta, dtype=jnp.float64)
    g0 = jnp.asarray(gamma0, dtype=jnp.float64)
    fn = functools.partial(_scan, loss=loss, bn=bn, P=P, lowrank=lowrank)
    if w0.ndim == 2 or eta.ndim == 1:  # vmap over a batch of inits and/or step sizes
        w0b = w0 if w0.ndim == 2 else jnp.broadcast_to(w0, (eta.shape[0],) + w0.shape)
        etab = eta if eta.ndim == 1 else jnp.broadcast_to(eta, (w0b.shape[0],))
        g0b = jnp.broadcast_to(g0, etab.shape)
        w, g, m, lval = jax.vmap(fn, in_axes=(None, None, None, None, 0, 0, 0, None))(
            a, sig, F, ysgn, w0b, g0b, etab, diffs)
    else:
        w, g, m, lval = fn(a, sig, F, ysgn, w0, g0, eta, diffs)
    out = {"t": t, "w": np.asarray(w), "margins": np.asarray(m), "loss": np.asarray(lval)}
    if bn:
        out["gamma"] = np.asarray(g)
    # Divergence is an outcome of this (w0, eta), as in sims.eos.gd: reported, not raised.
    bad = ~np.all(np.isfinite(out["margins"]), axis=-1)          # (..., T)
    out["diverged"] = np.any(bad, axis=-1)
    out["diverged_at"] = np.where(out["diverged"], t[np.argmax(bad, axis=-1)], -1)
    return out


def run_bn(x, y, w0, *, gamma0: float = 1.0, eta: float = 0.05, steps: int = 10_000,
           loss: str = "exp", per_decade: int = 20) -> dict:
    """Full-batch GD on the BN model; record on a log grid of ``t``.

    Parameters
    ----------
    x, y
        Data ``(n, d)`` or patches ``(n, P, d)``; labels ``(n,)`` in {-1, +1}.
    w0
        Initial weights ``(d,)`` or a batch ``(B, d)`` (vmapped).
    gamma0, eta, steps, loss, per_decade
        Initial BN scale, step size (scalar or ``(B,)``, vmapped), number of steps, ``"exp"`` or
        ``"logistic"``, record points per decade.

    Returns
    -------
    dict with ``t (T,)``, ``w (.., T, d)``, ``gamma (.., T)``, ``loss (.., T)``, normalised
    example margins ``margins (.., T, n)`` = ``y_i sum_p <w, x_i^(p)> / ||w||_Sigma``, and the
    outcome ``diverged (..,)`` (bool: a recorded margin is not finite) with ``diverged_at (..,)``
    (first recorded ``t`` with a non-finite margin, ``-1`` if none).  A diverged run is an
    outcome of its ``(w0, eta)``, never an exception; records after it are NaN/inf.
    """
    return _run(x, y, w0, gamma0=gamma0, eta=eta, steps=steps, loss=loss,
                per_decade=per_decade, bn=True)


def run_nobn(x, y, w0, *, eta: float = 0.1, steps: int = 10_000, loss: str = "exp",
             per_decade: int = 20) -> dict:
    """Full-batch GD without BN (``f = <w, sum_p x^(p)>``); margins are un-normalised."""
    return _run(x, y, w0, gamma0=0.0, eta=eta, steps=steps, loss=loss,
                per_decade=per_decade, bn=False)


def patch_margins(w, x, y) -> np.ndarray:
    """Patch-wise normalised margins ``z_ip = y_i <w, x_i^(p)> / ||w||_Sigma~``, shape ``(.., n, P)``."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, p, d = x.shape
    flat = x.reshape(n * p, d)
    s = np.sqrt(np.mean((w @ flat.T) ** 2, axis=-1))[..., None, None]
    return y[:, None] * np.einsum("...d,npd->...np", w, x) / s
