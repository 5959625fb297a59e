"""Compose sketch layers; derive a sketch from a stax description; Myrtle CNNs; blocked features.

``init_fn, feature_fn = serial(Dense(W_std=1.0), Relu(m=1024), Dense(W_std=1.0))``, or from the
network's one description ``from_stax(stax.serial(...), m=1024)``;
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

__all__ = ["serial", "from_stax", "Myrtle", "kernel_matrices", "features"]

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
    try:   # concrete inputs only: a traced x (under jit) cannot be converted, so it is not inspected
        finite = bool(np.all(np.isfinite(np.asarray(x))))
    except jax.errors.TracerArrayConversionError:
        finite = True
    if not finite:
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


def _stax_layers(net) -> list:
    """The flat list of stax layers of ``net`` (a ``stax.serial`` network or a sequence of layers)."""
    if hasattr(net, "apply_fn") and hasattr(net.apply_fn, "layers"):
        net = net.apply_fn.layers
    if not isinstance(net, (list, tuple)) or hasattr(net, "kernel_fn"):
        raise TypeError("net must be a stax.serial(...) network or a sequence of stax layers, got "
                        f"{type(net).__name__}")
    out = []
    for layer in net:
        if hasattr(layer, "apply_fn") and hasattr(layer.apply_fn, "layers"):   # nested serial
            out += _stax_layers(layer)
        else:
            out.append(layer)
    return out


def _sketch_layer(i: int, layer, *, m: int, method: str, degree: int) -> L.Layer:
    spec = getattr(layer.kernel_fn, "spec", None)
    if spec is None:
        kind = getattr(layer.kernel_fn, "__qualname__", "?").split(".")[0]
        raise ValueError(f"net: layer {i} ({kind}) has no sketch (a layer of stax other than Dense, "
                         "Conv, AvgPool, GlobalAvgPool, Flatten, Relu, Erf, Gelu, ExpNormalized, "
                         "ElementwiseHermite, or a user-made layer)")
    name, o = spec
    where = f"net: layer {i} ({name})"
    if name in ("Dense", "Conv") and o["parameterization"] != "ntk":
        raise ValueError(f"{where}: the sketch supports the 'ntk' parameterization only, got "
                         f"{o['parameterization']!r}")
    if name == "Dense":
        return L.Dense(W_std=o["W_std"], b_std=o["b_std"])
    if name == "Conv":
        return L.Conv(o["filter_shape"], padding=o["padding"], strides=o["strides"], W_std=o["W_std"],
                      b_std=o["b_std"])
    if name == "AvgPool":
        return L.AvgPool(o["window_shape"], strides=o["strides"], padding=o["padding"],
                         normalize_edges=o["normalize_edges"])
    if name == "GlobalAvgPool":
        return L.GlobalAvgPool()
    if name == "Flatten":
        return L.Flatten()
    if name == "ABRelu" and (o["a"], o["b"]) == (0.0, 1.0):
        return L.Relu(m=m, method=method, degree=degree)
    if name == "ABRelu" and (o["a"], o["b"]) == (-1.0, 1.0):
        return L.Activation("abs", m=m, degree=degree)
    if name == "Erf" and (o["a"], o["b"], o["c"]) == (1.0, 1.0, 0.0):
        return L.Erf(m=m, degree=degree)
    if name == "Gelu":
        return L.Gelu(m=m, degree=degree)
    if name == "ExpNormalized" and o["shift"] == -1.0 and not o["do_clip"]:
        return L.ExpNormalized(m=m, degree=degree, gamma=o["gamma"])
    if name == "ElementwiseHermite":
        return L.Activation(o["fn"], m=m, degree=o["degree"])
    raise ValueError(f"{where} with options {o} has no sketch (Relu, Abs, Erf(), Gelu, "
                     "ExpNormalized(shift=-1), ElementwiseHermite and the affine/pooling layers do)")


def from_stax(net, *, m: int, method: str = "rf", degree: int = 8) -> tuple[Callable, Callable]:
    """The sketch ``(init_fn, feature_fn)`` of a stax network, from its one description.

    Every stax layer maps to the sketch layer of the same kernel map (module docstring of
    :mod:`.layers`): ``Dense``/``Conv`` ('ntk' parameterization; the width is irrelevant),
    ``AvgPool``, ``GlobalAvgPool``, ``Flatten`` exactly; ``Relu`` by ``method`` (``"rf"`` arc-cosine
    random features, ``"poly"`` Hermite degree ``degree`` + PolySketch); ``Abs``, ``Erf()``, ``Gelu``,
    ``ExpNormalized(gamma)`` by their Hermite/Taylor series truncated at ``degree``;
    ``ElementwiseHermite(fn, D)`` by its own degree ``D``.  ``m`` features per activation layer.
    Nested ``serial`` are flattened; any other layer is a ``ValueError`` naming it.

    Parameters
    ----------
    net : stax network or sequence of stax layers
        ``stax.serial(...)`` (the triple), or the layers themselves.
    m : int, keyword-only
        Sketch dimension of every activation layer.
    method : {"rf", "poly"}, keyword-only
        How ReLU layers are sketched.
    degree : int, keyword-only
        Truncation degree of the series-based activations.

    Examples
    --------
    >>> net = stax.serial(stax.Dense(512, W_std=1.5), stax.Relu(), stax.Dense(1, W_std=1.5))
    >>> init_fn, feature_fn = from_stax(net, m=1024)     # same as serial(Dense(1.5), Relu(m), Dense(1.5))
    """
    if method not in ("rf", "poly"):
        raise ValueError(f"method must be 'rf' or 'poly', got {method!r}")
    layers = _stax_layers(net)
    return serial(*(_sketch_layer(i, layer, m=m, method=method, degree=degree) for i, layer in enumerate(layers)))


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


def features(feature_fn: Callable, params, x, *, batch_size: int = 256) -> L.Features:
    """``feature_fn(params, x)`` in row blocks of ``batch_size`` under one jit (last block padded).

    Bounded memory for large ``n``; ``feature_fn`` must end with ``Flatten``/``GlobalAvgPool``.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    _validate_x(x, "x")
    return _features(_jitted(feature_fn), params, jnp.asarray(x), int(batch_size))


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
