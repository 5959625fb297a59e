"""Compose sketch layers; Myrtle CNNs; blocked kernel matrices from features.

``init_fn, feature_fn = serial(Dense(W_std=1.0), Relu(m=1024), Dense(W_std=1.0))``;
``params = init_fn(key, input_shape)`` draws every sketch once (a pytree of arrays);
``feats = feature_fn(params, x)`` is pure and jittable, ``Features(nngp=(n, m₁), ntk=(n, m₂))`` once the
spatial axes are flattened or pooled, with ``K_nngp ≈ feats.nngp @ feats.nngp.T`` and
``K_ntk ≈ feats.ntk @ feats.ntk.T`` in the conventions of :func:`sims.kernels.stax.serial`.
The input features are ``x/√C`` per position (input covariance ``x·x'/C``) and the input NTK features are
empty (input NTK 0).
"""
from __future__ import annotations

import functools
import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from sims.kernels.sketch import layers as L
from sims.kernels.stax import NNGPNTK

__all__ = ["serial", "Myrtle", "kernel_matrices"]

_X64 = "float64 required; enable jax_enable_x64 at the entry point"


def _check_x64(name: str):
    if jnp.asarray(0.0).dtype != jnp.float64:
        raise TypeError(f"{name}: {_X64} (jax_enable_x64 is off, sketches would be drawn in float32)")


def _validate_x(x, name: str, *, like=None):
    """Array, ``(n, ..., channels)``, float64, finite (when concrete); per-example shape of ``like``."""
    if not isinstance(x, (jax.Array, np.ndarray)):
        raise TypeError(f"{name} must be an array, got {type(x).__name__}")
    if x.ndim < 2:
        raise ValueError(f"{name} must have shape (n, ..., channels), got {x.shape}")
    if x.dtype != jnp.float64:
        raise TypeError(f"{name}: {_X64}; got dtype {x.dtype}")
    if not isinstance(x, jax.core.Tracer) and not bool(np.all(np.isfinite(np.asarray(x)))):
        raise ValueError(f"{name} contains non-finite values")
    if like is not None and x.shape[1:] != like.shape[1:]:
        raise ValueError(f"{name} must have per-example shape {like.shape[1:]}, got {x.shape}")


def serial(*layers: L.Layer) -> tuple[Callable, Callable]:
    """Compose sketch layers into ``(init_fn, feature_fn)``.

    ``init_fn(key, input_shape) -> params``: ``input_shape = (n, *spatial, channels)`` (``n`` is ignored),
    ``key`` from ``jax.random.key(seed)``; each layer gets its own split of ``key``.
    ``feature_fn(params, x) -> Features``: ``x`` float64 ``(n, *spatial, channels)`` with the per-example
    shape given to ``init_fn``.
    """
    for i, layer in enumerate(layers):
        if not isinstance(layer, L.Layer):
            raise TypeError(f"layers[{i}] must be a sketch Layer (call it: sketch.Relu(m=...)), got {layer!r}")

    def init_fn(key, input_shape):
        _check_x64("init_fn")
        shape = tuple(input_shape)
        if len(shape) < 2 or not all(isinstance(s, (int, np.integer)) and s >= 1 for s in shape[1:]):
            raise ValueError(f"input_shape must be (n, *spatial, channels) of positive ints, got {input_shape!r}")
        sh = L.Shape(tuple(int(s) for s in shape[1:-1]), int(shape[-1]), 0)
        params = []
        for layer, k in zip(layers, jax.random.split(key, max(len(layers), 1))):
            sh, p = layer.init_fn(k, sh)
            params.append(p)
        return tuple(params)

    def feature_fn(params, x) -> L.Features:
        _validate_x(x, "x")
        if len(params) != len(layers):
            raise ValueError(f"params: expected {len(layers)} layer entries (from init_fn), got {len(params)}")
        x = jnp.asarray(x)
        f = L.Features(x / math.sqrt(x.shape[-1]), jnp.zeros(x.shape[:-1] + (0,), x.dtype))
        for layer, p in zip(layers, params):
            f = layer.feature_fn(p, f)
        return f

    return init_fn, feature_fn


def Myrtle(depth: int = 5, *, m: int, degree: int = 8, W_std: float = 2 ** 0.5, b_std: float | None = None,
           method: str = "poly") -> tuple[Callable, Callable]:
    """Sketch of :func:`sims.kernels.stax.Myrtle` (same layout, ReLU, readout ``Dense(W_std)``).

    ``[Conv(3×3, SAME)-Relu]×n0, AvgPool(2), [Conv-Relu]×n1, AvgPool(2), [Conv-Relu]×n2, AvgPool(2)×3,
    Flatten, Dense`` with ``(n0, n1, n2) = {5: (2,1,1), 7: (2,2,2), 10: (3,3,3)}`` (Shankar et al. 2020;
    Han et al. 2022, arXiv:2209.04121 §6).  Needs 32×32 inputs.  ReLU features by ``method``
    (``"poly"``: Hermite degree ``degree`` with PolySketch, as the paper; ``"rf"``: random features).
    """
    layout = {5: (2, 1, 1), 7: (2, 2, 2), 10: (3, 3, 3)}
    if depth not in layout:
        raise ValueError(f"depth must be one of {sorted(layout)}, got {depth!r}")
    blocks = []
    for i, n in enumerate(layout[depth]):
        for _ in range(n):
            blocks += [L.Conv((3, 3), padding="SAME", W_std=W_std, b_std=b_std),
                       L.Relu(m=m, method=method, degree=degree)]
        blocks += [L.AvgPool((2, 2), strides=(2, 2))] * (1 if i < 2 else 3)
    return serial(*blocks, L.Flatten(), L.Dense(W_std=W_std, b_std=b_std))


@functools.lru_cache(maxsize=64)
def _jitted(feature_fn: Callable):
    return jax.jit(feature_fn)


def _features(jf, params, x, bs: int) -> L.Features:
    n = x.shape[0]
    b = min(bs, n)
    padded = -(-n // b) * b
    if padded != n:   # repeat the last row: every block has one shape, so jf is traced once
        x = jnp.concatenate([x, jnp.repeat(x[-1:], padded - n, axis=0)], axis=0)
    blocks = [jf(params, x[i:i + b]) for i in range(0, padded, b)]
    out = L.Features(*(jnp.concatenate(parts, axis=0)[:n] for parts in zip(*blocks)))
    if out.nngp.ndim != 2:
        raise ValueError(f"feature_fn must end with Flatten/GlobalAvgPool (features (n, m)), got per-example "
                         f"feature shape {out.nngp.shape[1:]}")
    return out


def kernel_matrices(feature_fn: Callable, params, x1, x2=None, *, batch_size: int = 256) -> NNGPNTK:
    """Approximate ``NNGPNTK(nngp, ntk)`` matrices ``(n1, n2)`` from features computed in blocks under jit.

    ``feature_fn`` from :func:`serial` is jitted once per ``(feature_fn, block shape)`` (cached), rows are
    padded to a multiple of ``batch_size``; then ``K = Φ(x1) Φ(x2)ᵀ``.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    _validate_x(x1, "x1")
    if x2 is not None:
        _validate_x(x2, "x2", like=x1)
    jf = _jitted(feature_fn)
    f1 = _features(jf, params, jnp.asarray(x1), batch_size)
    f2 = f1 if x2 is None else _features(jf, params, jnp.asarray(x2), batch_size)
    return NNGPNTK(f1.nngp @ f2.nngp.T, f1.ntk @ f2.ntk.T)
