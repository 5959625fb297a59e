"""backend="jax": a first-order (L-BFGS with smoothing continuation) solver for the closed-form
set x loss pairs, certified by a closed-form duality gap (Luxenberg et al., arXiv:2306.05649,
problem (1) with the support functions of Sec. 3; the dual is in :mod:`.spec`).

Supported: one shared ``Ball`` (any p), ``Box``, ``Ellipsoid``, ``EllipsoidQuad``, ``Budget``,
optionally centred, optionally inside ``LabelNoise``; losses Hinge, Logistic, Exponential,
Absolute, Squared, Huber, PowerAbs, Pinball; regularizer None or
``robust_erm.regularizers.Ridge``; reduction "mean" or "sum"; sample weights; intercept; dense or
scipy-sparse X.  Anything else raises ValueError naming it and suggesting backend="cvxpy".

jax is imported only when a fit runs.  float64 needs ``jax.config.update("jax_enable_x64",
True)`` at the program's entry point (checked; never switched on here); ``dtype="float32"``
runs the iterations in float32 with the gap floor 1e-4 (the certificate itself is always
evaluated in float64 numpy).
"""
from __future__ import annotations

import dataclasses
import types

import numpy as np

from robust_erm.firstorder.spec import Certificate, certificate, fast_spec

__all__ = ["fit_jax", "solve_jax", "Certificate", "fast_spec", "FLOAT32_TOL", "AUTO_MIN_SIZE"]

FLOAT32_TOL = 1e-4
CHUNK = 200            # L-BFGS iterations between two certificate evaluations
STAGE_ITERS = 2000     # at most this many iterations per smoothing level
# backend="auto" picks jax for supported problems with n * d >= AUTO_MIN_SIZE (see
# benchmarks/bench_robust_erm_scale.py: at d = 50 the first jax fit in a process pays ~12 s of XLA
# compilation, CLARABEL takes longer than that from n ~ 5,000 on)
AUTO_MIN_SIZE = 250_000


@dataclasses.dataclass
class FastBuilt:
    """What a first-order Result keeps of its problem (``worst_case_points`` reads it)."""

    spec: object
    radius: object
    data: tuple
    path: str = "jax"


def _dtype(dtype, tol):
    import jax
    if dtype not in ("float64", "float32"):
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    if dtype == "float64" and not jax.config.jax_enable_x64:
        raise ValueError("backend='jax' runs in float64 by default, but jax x64 is off: call "
                         "jax.config.update('jax_enable_x64', True) at your program's entry "
                         "point, or pass dtype='float32' (gap tolerance >= 1e-4)")
    return (np.float64, tol) if dtype == "float64" else (np.float32, max(tol, FLOAT32_TOL))


def fit_jax(spec, X, y, w, *, tol=1e-6, max_stages=12, max_iter=20_000, theta0=None,
            intercept0=0.0, dtype="float64", radius=None):
    """Minimize the robust objective of ``spec`` on validated (X, y, w); return
    (theta, intercept, Certificate, FastBuilt).  ``theta0``/``intercept0`` warm-start."""
    import jax.numpy as jnp
    from robust_erm._validation import real_scalar
    from robust_erm.firstorder.solver import _stage, make_problem

    tol = real_scalar(tol, "tol", lo=0.0, lo_strict=True)
    max_stages = int(real_scalar(max_stages, "max_stages", lo=1))
    max_iter = int(real_scalar(max_iter, "max_iter", lo=1))
    fs = fast_spec(spec, radius)
    npdt, tol = _dtype(dtype, tol)
    n, d = X.shape
    key, data, xbar = make_problem(fs, X, y, w, dtype=npdt)
    run, dual_point, _ = _stage(key)
    w0 = np.zeros(d + 2)
    if theta0 is not None:
        th0 = np.asarray(theta0, dtype=np.float64).reshape(-1)
        if th0.shape != (d,):
            raise ValueError(f"theta0 must have {d} entries, got shape {th0.shape}")
        w0[:d] = th0
        w0[d] = float(intercept0) + xbar @ th0 if fs.fit_intercept else 0.0
    wj = jnp.asarray(w0, npdt)
    # continuation: L-BFGS in chunks of CHUNK iterations on the mu-smoothed problem, the exact
    # certificate after each chunk (early exit); mu /= 10 when the smoothed problem is solved
    # (gradient test or no line-search progress) or after STAGE_ITERS iterations at this mu
    mu, best, iters, stages, at_mu = 0.1, None, 0, 1, 0
    while iters < max_iter:
        gtol = max(float(np.finfo(npdt).eps) * 10, 1e-3 * mu * tol)
        wj, f, it = run(wj, jnp.asarray(mu, npdt), data, jnp.asarray(gtol, npdt),
                        jnp.asarray(CHUNK))
        iters += int(it)
        u, v = dual_point(wj, jnp.asarray(mu, npdt), data)
        wn = np.asarray(wj, dtype=np.float64)
        theta = wn[:d]
        b = float(wn[d] - xbar @ theta) if fs.fit_intercept else 0.0
        cert = certificate(fs, spec, X, y, w, theta, b, np.asarray(u), np.asarray(v), tol=tol,
                           iterations=iters, mu=mu)
        if best is None or cert.gap < best[2].gap:
            best = (theta, b, cert)
        if cert.ok:
            break
        at_mu += int(it)
        if int(it) < CHUNK or at_mu >= STAGE_ITERS:       # smoothed problem solved (or stuck)
            if stages >= max_stages:
                break
            mu, stages, at_mu = mu * 0.1, stages + 1, 0
    theta, b, cert = best
    built = FastBuilt(spec=spec, radius=types.SimpleNamespace(value=fs.radius)
                      if spec.uncertainty.radius is not None else None, data=(X, y, w))
    return theta, b, cert, built


def solve_jax(spec, X, y, sample_weight=None, *, on_failure="raise", tol=1e-6, max_stages=12,
              max_iter=20_000, theta0=None, intercept0=0.0, dtype="float64", radius=None,
              **unknown):
    """RobustERM.fit(..., backend="jax"): validate with the cvxpy path's code, solve, certify.

    Returns a :class:`robust_erm.Result` (solver "jax-lbfgs"); if the relative duality gap is
    above ``tol`` it raises RobustERMSolveError (on_failure="raise") or warns with
    ConvergenceWarning and returns ``ok=False`` with the gap (on_failure="warn")."""
    import warnings

    import jax

    from robust_erm.problem import Result
    from robust_erm.solving import RobustERMSolveError

    if unknown:
        raise ValueError(f"backend='jax' got unknown option(s) {sorted(unknown)}; it takes tol, "
                         "max_stages, max_iter, theta0, intercept0, dtype")
    if on_failure not in ("raise", "warn"):
        raise ValueError(f"on_failure must be 'raise' or 'warn', got {on_failure!r}")
    X, y, w = spec._validate(X, y, sample_weight)
    theta, b, cert, built = fit_jax(spec, X, y, w, tol=tol, max_stages=max_stages,
                                    max_iter=max_iter, theta0=theta0, intercept0=intercept0,
                                    dtype=dtype, radius=radius)
    msg = ""
    if not cert.ok:
        msg = (f"backend='jax' did not reach the relative duality gap {cert.tol:g}: gap "
               f"{cert.gap:.3g} after {cert.iterations} L-BFGS iterations (smoothing down to "
               f"{cert.mu:g}); raise max_stages, loosen tol, add a ridge, or use backend='cvxpy'")
        if on_failure == "raise":
            raise RobustERMSolveError(msg)
        from sklearn.exceptions import ConvergenceWarning
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
    return Result(theta=theta, intercept=b, status="optimal" if cert.ok else "not_converged",
                  objective=cert.primal, solver="jax-lbfgs", solver_version=jax.__version__,
                  certificate=cert, ok=cert.ok, message=msg, built=built)


def supported(spec):
    """True if backend='jax' can solve ``spec``."""
    try:
        fast_spec(spec)
    except ValueError:
        return False
    return True
