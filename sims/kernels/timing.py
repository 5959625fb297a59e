"""Timing exact kernel matrices against sketched features at growing ``n`` (wall and CPU time).

Han et al. 2022 (arXiv:2209.04121, abstract and §6): a sketch's feature map costs time linear in the
number of inputs, an exact kernel matrix one recursion per *pair* of inputs, ``O(n²)``.  What is timed
(choices of the ``nk_sketch_speed`` figure, stated there): the exact NNGP+NTK train Gram ``(n, n)`` by
:func:`sims.kernels.kernel_matrix` in fixed ``(bs, bs)`` blocks, and the sketch's features of the ``n``
inputs in fixed ``bs``-row batches (no ``n × n`` Gram), both compiled once per sweep; at every ``n`` the
two alternate, so a background load hits both alike.  Each call records the wall time and the process
CPU time over all threads (``time.process_time``: the work done, which other jobs on shared cores
inflate far less than the wall time).
"""
from __future__ import annotations

import math
import time
from typing import Callable

import jax
import numpy as np

from sims.kernels.batching import kernel_matrix

__all__ = ["seconds", "timers", "time_pair", "crossover", "time_empirical_ntk"]

CLOCKS = ("wall", "cpu")


def seconds(fn: Callable) -> tuple[float, float]:
    """``(wall, cpu)`` seconds of ``fn()`` until its (pytree) result is ready."""
    w, c = time.perf_counter(), time.process_time()
    jax.block_until_ready(fn())
    return time.perf_counter() - w, time.process_time() - c


def timers(kernel_fn: Callable, sk, x_warm, *, bs: int, key: jax.Array, with_exact: bool = True):
    """Compiled ``exact(x)`` and ``sketched(x)`` for row counts divisible by ``bs`` (warmed up once).

    ``sk = (init_fn, feature_fn)``; the sketch is drawn once from ``key``.  ``exact`` is ``None`` unless
    ``with_exact``.
    """
    init_fn, feature_fn = sk
    params = init_fn(key, (bs,) + tuple(x_warm.shape[1:]))
    feats = jax.jit(feature_fn)

    def exact(x):
        return kernel_matrix(kernel_fn, x, get=("nngp", "ntk"), batch_size=bs)

    def sketched(x):
        return [feats(params, x[i:i + bs]) for i in range(0, x.shape[0], bs)]

    fns = (exact, sketched) if with_exact else (None, sketched)
    for f in fns:  # compile once (one block / one batch shape for the whole sweep)
        if f is not None:
            jax.block_until_ready(f(x_warm[:bs]))
    return fns


def time_pair(kernel_fn: Callable, sk, x_all, ns, *, bs: int, repeats: int,
              key: jax.Array) -> dict[str, np.ndarray]:
    """``{wall,cpu}_{exact,sketch}``, each ``(repeats, len(ns))`` seconds on ``x_all[:n]``; the two alternate."""
    if any(int(n) % bs for n in ns):
        raise ValueError(f"ns must be multiples of bs={bs}, got {list(ns)}")
    if max(ns) > x_all.shape[0]:
        raise ValueError(f"x_all has {x_all.shape[0]} rows, fewer than max(ns) = {max(ns)}")
    exact, sketched = timers(kernel_fn, sk, x_all, bs=bs, key=key)
    t = {f"{c}_{k}": np.empty((repeats, len(ns))) for c in CLOCKS for k in ("exact", "sketch")}
    for j, n in enumerate(ns):
        x = x_all[:n]
        for r in range(repeats):
            for k, f in (("exact", exact), ("sketch", sketched)):
                t[f"wall_{k}"][r, j], t[f"cpu_{k}"][r, j] = seconds(lambda: f(x))
    return t


def crossover(n, speedup) -> float:
    """Smallest n (log-log interpolated) from which on the sketch is faster; nan if never, n[0] if always."""
    n, speedup = np.asarray(n, float), np.asarray(speedup, float)
    win = speedup > 1.0
    if not win[-1]:
        return math.nan
    j = len(win) - 1
    while j > 0 and win[j - 1]:
        j -= 1
    if j == 0:
        return float(n[0])
    la, lb = np.log(speedup[j - 1]), np.log(speedup[j])
    t = -la / (lb - la)
    return float(np.exp(np.log(n[j - 1]) + t * (np.log(n[j]) - np.log(n[j - 1]))))


def time_empirical_ntk(widths, *, n: int, d: int, k: int, depth: int, repeats: int, key: jax.Array,
                       implementations=None) -> dict[str, np.ndarray]:
    """Time the empirical-NTK methods of Novak et al. 2022 (arXiv:2206.08720) on an FCN vs width.

    Network ``[Dense(N, W_std=1.5, b_std=0.05) - Relu] x depth - Dense(k)`` ('ntk' parameterization)
    at every width ``N`` of ``widths``, ``x ~ N(0, I_d)`` (``n`` rows, from ``key``), the ``(n, n)``
    kernel ``Θ̂(x, x)`` by each implementation of :func:`sims.kernels.empirical_ntk.empirical_ntk_fn`,
    jitted once per width (compile excluded), the implementations alternating within every repeat.
    Returns ``{f"{clock}_{impl}": (repeats, len(widths))}`` seconds and ``"max_diff"`` ``(len(widths),)``,
    the largest difference between any method's kernel and the Jacobian one (relative to its max).
    """
    from sims.kernels import stax
    from sims.kernels.empirical_ntk import IMPLEMENTATIONS, empirical_ntk_fn

    impls = tuple(IMPLEMENTATIONS if implementations is None else implementations)
    kx, kp = jax.random.split(key)
    x = jax.random.normal(kx, (n, d), dtype=jax.numpy.float64)
    out = {f"{c}_{i}": np.empty((repeats, len(widths))) for c in CLOCKS for i in impls}
    out["max_diff"] = np.empty(len(widths))
    for j, width in enumerate(widths):
        layers = []
        for _ in range(depth):
            layers += [stax.Dense(int(width), W_std=1.5, b_std=0.05), stax.Relu()]
        init_fn, apply_fn, _ = stax.serial(*layers, stax.Dense(k, W_std=1.5, b_std=0.05))
        _, params = init_fn(jax.random.fold_in(kp, j), x.shape)
        fns = {i: empirical_ntk_fn(apply_fn, implementation=i) for i in impls}
        vals = {i: np.asarray(jax.block_until_ready(f(x, None, params))) for i, f in fns.items()}
        ref = vals[impls[0]]
        out["max_diff"][j] = max(float(np.max(np.abs(v - ref))) for v in vals.values()) / float(np.max(np.abs(ref)))
        for r in range(repeats):
            for i, f in fns.items():
                out[f"wall_{i}"][r, j], out[f"cpu_{i}"][r, j] = seconds(lambda: f(x, None, params))
    return out
