"""Full-batch gradient descent at constant step size, ``lax.scan``, vmapped over step sizes.

``theta_{t+1} = theta_t - eta * grad L(theta_t)`` for every ``eta`` of a sweep in one compiled
program (``jax.vmap`` over ``eta``, and over ``theta_0`` when a batch of starts is given).
Every ``record_every`` steps the run records the loss, optionally the sharpness (jitted Lanczos
on Hessian-vector products, :func:`sims.eos.sharpness.lanczos_top`) and user metrics.

Divergence is an outcome, not a crash: a step whose loss or gradient is non-finite, or whose
loss exceeds ``max_loss``, marks the run diverged at that step; the parameters are frozen from
then on, every later record is NaN, and :class:`GDResult` carries ``diverged`` and
``diverged_at`` so a figure can mark the step size as diverged instead of plotting NaN.
"""
from __future__ import annotations

import functools
import math
from typing import Callable, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from sims.eos.sharpness import hvp, lanczos_top, require_f64

__all__ = ["GDResult", "gd_sweep", "gd_single"]


class GDResult(NamedTuple):
    """Output of :func:`gd_sweep`; leading axis = the step sizes of the sweep.

    Attributes
    ----------
    eta : (B,) step sizes.
    t : (R,) recorded iteration indices (0, record_every, ..., steps).
    loss, sharpness : (B, R) recorded values (NaN after divergence; sharpness NaN if untracked).
    metrics : dict name -> (B, R).
    theta : (B, p) final parameters (the last finite iterate for diverged runs).
    diverged : (B,) bool.
    diverged_at : (B,) int, first bad step (-1 if the run did not diverge).
    """

    eta: np.ndarray
    t: np.ndarray
    loss: np.ndarray
    sharpness: np.ndarray
    metrics: dict
    theta: np.ndarray
    diverged: np.ndarray
    diverged_at: np.ndarray


def _validate(theta0, etas, steps, record_every):
    require_f64(theta0, "theta0")
    if theta0.ndim not in (1, 2):
        raise ValueError(f"theta0 must have shape (p,) or (B, p), got {tuple(theta0.shape)}")
    etas = np.asarray(etas, dtype=np.float64)
    if etas.ndim != 1 or etas.size == 0:
        raise ValueError(f"etas must be a non-empty 1-D array of step sizes, got shape {etas.shape}")
    if not np.all(np.isfinite(etas)) or np.any(etas <= 0):
        raise ValueError(f"every step size eta must be finite and > 0, got {etas.tolist()}")
    if theta0.ndim == 2 and theta0.shape[0] != etas.size:
        raise ValueError(f"theta0 batch {theta0.shape[0]} must match the number of etas {etas.size}")
    for name, v in (("steps", steps), ("record_every", record_every)):
        if not (isinstance(v, (int, np.integer)) and v >= 1):
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if steps % record_every:
        raise ValueError(f"steps ({steps}) must be a multiple of record_every ({record_every})")
    return etas


@functools.lru_cache(maxsize=32)
def _compiled(loss, steps, record_every, track_sharpness, lanczos_iters, metric_items, max_loss,
              batched):
    """One jitted, vmapped runner per (loss, schedule, metrics): reused across data and seeds."""
    vg = jax.value_and_grad(loss)
    nrec = steps // record_every

    def measure(theta, v0, data, mdata):
        out = {"loss": loss(theta, *data)}
        if track_sharpness:
            out["sharpness"] = lanczos_top(lambda v: hvp(loss, theta, v, *data), v0,
                                           iters=lanczos_iters)
        else:
            out["sharpness"] = jnp.asarray(jnp.nan, theta.dtype)
        for k, fn in metric_items:
            out[k] = fn(theta, *mdata)
        return out

    def run(theta0, eta, stop, v0, data, mdata):
        def step(carry, _):
            theta, div, div_at, t = carry
            val, g = vg(theta, *data)
            bad = ~(jnp.isfinite(val) & (val <= max_loss) & jnp.all(jnp.isfinite(g))) & (t < stop)
            div_at = jnp.where(bad & ~div, t, div_at)
            div = div | bad
            theta = jnp.where(div | (t >= stop), theta, theta - eta * g)
            return (theta, div, div_at, t + 1), None

        def record(carry, _):
            carry, _ = jax.lax.scan(step, carry, None, length=record_every)
            m = measure(carry[0], v0, data, mdata)
            bad = carry[1] | ~jnp.isfinite(m["loss"]) | (m["loss"] > max_loss)
            return carry, {k: jnp.where(bad, jnp.nan, v) for k, v in m.items()}

        m0 = measure(theta0, v0, data, mdata)
        init = (theta0, jnp.array(False), jnp.array(-1), jnp.array(0))
        carry, recs = jax.lax.scan(record, init, None, length=nrec)
        recs = {k: jnp.concatenate([jnp.reshape(m0[k], (1,)), recs[k]]) for k in recs}
        return carry[0], carry[1], carry[2], recs

    return jax.jit(jax.vmap(run, in_axes=(0 if batched else None, 0, 0, None, None, None)))


def gd_sweep(loss: Callable, theta0, etas, *, steps: int, record_every: int, data: tuple = (),
             track_sharpness: bool = False, lanczos_iters: int = 20,
             metrics: Mapping[str, Callable] | None = None, metric_data: tuple = (),
             max_loss: float = 1e6, key: jax.Array | None = None,
             stop_at=None) -> GDResult:
    """Run GD at every step size in ``etas`` (vmapped, one compilation) and record trajectories.

    Parameters
    ----------
    loss : callable
        ``(theta, *data) -> scalar`` full-batch loss.  The compiled program is cached per
        ``loss`` (and schedule/metrics), so a new ``data`` set (another seed) reuses it.
    theta0 : jax.Array
        float64 start, shape ``(p,)`` (shared) or ``(B, p)`` (one per step size).
    etas : array_like
        ``(B,)`` step sizes, each finite and ``> 0``.
    steps, record_every : int, keyword-only
        Number of GD steps and the recording period (``steps % record_every == 0``).
    data : tuple, keyword-only
        Arguments of ``loss`` after ``theta`` (e.g. ``(x, y)``).
    track_sharpness : bool, keyword-only
        Record the top Hessian eigenvalue (Lanczos, ``lanczos_iters`` HVPs per record).
    metrics : mapping, keyword-only
        ``name -> (theta, *metric_data) -> scalar`` recorded alongside the loss.
    metric_data : tuple, keyword-only
        Arguments of every metric after ``theta`` (e.g. a test set).
    max_loss : float, keyword-only
        A loss above this (or non-finite) marks divergence.
    key : jax.Array, keyword-only
        PRNG key for the Lanczos start vector (required when ``track_sharpness``).
    stop_at : array_like of int, keyword-only
        ``(B,)`` per-step-size number of GD steps, each in ``[0, steps]`` (default: ``steps`` for
        all).  Run ``i`` is frozen after ``stop_at[i]`` steps (later records repeat its final
        state), e.g. ``stop_at = horizon / eta`` for a fixed elapsed time ``eta * t``.  The
        compiled program runs ``steps`` iterations for every step size.
    """
    etas = _validate(theta0, etas, steps, record_every)
    if not (math.isfinite(max_loss) and max_loss > 0):
        raise ValueError(f"max_loss must be finite and > 0, got {max_loss!r}")
    metrics = dict(metrics or {})
    for k in metrics:
        if k in ("loss", "sharpness"):
            raise ValueError(f"metric name {k!r} is reserved")
    for name, tup in (("data", data), ("metric_data", metric_data)):
        if not isinstance(tup, tuple):
            raise TypeError(f"{name} must be a tuple of arrays, got {type(tup).__name__}")
    if stop_at is None:
        stop = np.full(etas.size, int(steps), np.int64)
    else:
        stop = np.asarray(stop_at)
        if (stop.shape != etas.shape or not np.issubdtype(stop.dtype, np.integer)
                or np.any(stop < 0) or np.any(stop > steps)):
            raise ValueError(f"stop_at must be {etas.size} integers in [0, steps={steps}], got "
                             f"{np.asarray(stop_at).tolist()}")
    p = theta0.shape[-1]
    if track_sharpness:
        if key is None:
            raise ValueError("key is required when track_sharpness=True (Lanczos start vector)")
        v0 = jax.random.normal(key, (p,), jnp.float64)
    else:
        v0 = jnp.ones((p,), jnp.float64)
    run = _compiled(loss, int(steps), int(record_every), bool(track_sharpness),
                    int(lanczos_iters), tuple(sorted(metrics.items())), float(max_loss),
                    theta0.ndim == 2)
    theta, div, div_at, recs = run(theta0, jnp.asarray(etas), jnp.asarray(stop), v0, data,
                                   metric_data)
    recs = {k: np.asarray(v) for k, v in recs.items()}
    return GDResult(eta=etas, t=np.arange(0, steps + 1, record_every),
                    loss=recs.pop("loss"), sharpness=recs.pop("sharpness"), metrics=recs,
                    theta=np.asarray(theta), diverged=np.asarray(div),
                    diverged_at=np.asarray(div_at))


def gd_single(loss: Callable, theta0, eta: float, *, steps: int, data: tuple = ()) -> jax.Array:
    """Plain GD for one step size, no recording: the final iterate (reference / benchmarks)."""
    _validate(theta0, [eta], steps, 1)
    return _single(loss, int(steps))(theta0, jnp.asarray(eta, jnp.float64), data)


@functools.lru_cache(maxsize=16)
def _single(loss, steps):
    g = jax.grad(loss)

    def run(theta0, eta, data):
        def step(theta, _):
            return theta - eta * g(theta, *data), None

        return jax.lax.scan(step, theta0, None, length=steps)[0]

    return jax.jit(run)
