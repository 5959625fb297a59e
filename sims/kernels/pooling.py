"""Pooling and reshaping layers: ``AvgPool``, ``GlobalAvgPool``, ``Flatten`` (neural-tangents semantics).

``AvgPool(window_shape, *, strides=None, padding='VALID', normalize_edges=False)`` follows
neural-tangents 0.6.5 ``stax.AvgPool`` exactly (checked against stored NT values in
``tests/test_kernels_nt_parity.py``):

- ``strides=None`` means stride 1 on every axis (NT and ``jax.example_libraries.stax``; *not* the
  window — write ``strides=window_shape`` for non-overlapping pools);
- ``padding='SAME'`` is XLA's SAME padding, which depends on the stride and the input size
  (``lo = total//2``, ``total = max((⌈n/s⌉ − 1)s + w − n, 0)``);
- ``normalize_edges=False`` divides every window sum by the window size (zero padding counts in
  the mean); ``True`` divides by the number of non-padded positions in the window
  (``jax.example_libraries.stax.AvgPool``).

The kernel of an average over windows is the average of the kernel over pairs of windows: each
spatial axis pair ``(i, i')`` of ``(n1, n2, *s, *s)`` is pooled with the same window, and the
normalization of position ``p`` and ``p'`` multiplies.
"""
from __future__ import annotations

import math
from typing import Sequence

import jax
import jax.numpy as jnp

from sims.kernels import spatial
from sims.kernels._core import DIAG, Kernel, Layer, described

__all__ = ["AvgPool", "GlobalAvgPool", "Flatten"]


def _pool_pads(size, window, strides, padding):
    if padding == "VALID":
        return [(0, 0)] * len(window)
    return [spatial.same_pad(n, w, s) for n, w, s in zip(size, window, strides)]


def _window_counts(size, window, strides, pads):
    """Number of non-padded positions in each output window, ``(*s_out,)``."""
    ones = jnp.ones(tuple(size))
    return jax.lax.reduce_window(ones, 0.0, jax.lax.add, tuple(window), tuple(strides), pads)


def AvgPool(window_shape: Sequence[int], *, strides: Sequence[int] | None = None,
            padding: str = "VALID", normalize_edges: bool = False) -> Layer:
    """Average pooling with neural-tangents' defaults (see the module docstring).

    Parameters
    ----------
    window_shape : sequence of int
        Window per spatial axis.
    strides : sequence of int or None, keyword-only
        ``None``: 1 on every axis (NT default).
    padding : {'VALID', 'SAME'}, keyword-only
    normalize_edges : bool, keyword-only
        Divide by the number of non-padded positions (only differs at SAME edges).
    """
    window = spatial.check_window("window_shape", window_shape)
    ns = len(window)
    strides = spatial.check_window("strides", strides, ns) if strides is not None else (1,) * ns
    spatial.pads(window, padding)
    if not isinstance(normalize_edges, bool):
        raise TypeError(f"normalize_edges must be a bool, got {normalize_edges!r}")
    norm_edges = normalize_edges and padding == "SAME"

    def _check_size(size):
        if padding == "VALID" and any(n < w for n, w in zip(size, window)):
            raise ValueError(f"x: AvgPool{window} (VALID) needs spatial size >= window, got {tuple(size)}")

    def _pool(a, nb, both, size):
        pads = _pool_pads(size, window, strides, padding)
        nsides = 2 if both else 1
        dims = (1,) * nb + window * nsides
        strd = (1,) * nb + strides * nsides
        s = jax.lax.reduce_window(a, 0.0, jax.lax.add, dims, strd,
                                  [(0, 0)] * nb + pads * nsides)
        if not norm_edges:
            return s / math.prod(window) ** nsides
        c = _window_counts(size, window, strides, pads)
        if both:
            c = c.reshape(c.shape + (1,) * ns) * c.reshape((1,) * ns + c.shape)
        return s / c.astype(s.dtype)

    def init_fn(key, input_shape):
        size = tuple(input_shape[1:-1])
        _check_size(size)
        out = jax.eval_shape(lambda z: _pool(z, 1, False, size),
                             jax.ShapeDtypeStruct((1,) + size, jnp.float32)).shape
        return (input_shape[0],) + out[1:] + (input_shape[-1],), ()

    def apply_fn(params, x, **kwargs):
        if x.ndim != ns + 2:
            raise ValueError(f"x: AvgPool{window} expects rank {ns + 2}, got shape {x.shape}")
        _check_size(x.shape[1:-1])
        y = jnp.moveaxis(x, -1, 1)
        return jnp.moveaxis(_pool(y, 2, False, x.shape[1:-1]), 1, -1)

    def kernel_fn(k: Kernel) -> Kernel:
        if k.ns != ns:
            raise ValueError(f"x: AvgPool{window} needs {ns} spatial axes, got {k.ns}")
        if k.diagonal_spatial:
            raise ValueError("AvgPool needs the full spatial covariance; it cannot follow a "
                             "diagonal_spatial kernel")
        size = k.nngp.shape[2:2 + ns]
        _check_size(size)
        return spatial.map_kernel(lambda a, nb: _pool(a, nb, True, size), k, pack=True)

    return described(Layer(init_fn, apply_fn, kernel_fn), "AvgPool", window_shape=window, strides=strides,
                     padding=padding, normalize_edges=normalize_edges)


def GlobalAvgPool() -> Layer:
    """Mean over all spatial positions; the kernel is averaged over all position pairs."""

    def init_fn(key, input_shape):
        return (input_shape[0], input_shape[-1]), ()

    def apply_fn(params, x, **kwargs):
        return jnp.mean(x, axis=tuple(range(1, x.ndim - 1)))

    def kernel_fn(k: Kernel) -> Kernel:
        if k.ns == 0:
            raise ValueError("x: GlobalAvgPool needs inputs with spatial axes (n, *spatial, channels); "
                             "the input to this layer has none (after Flatten/GlobalAvgPool or 2-d input)")
        if k.diagonal_spatial:
            raise ValueError("GlobalAvgPool needs the full spatial covariance; it cannot follow a "
                             "diagonal_spatial kernel")
        return spatial.map_kernel(spatial.mean_spatial, k, pack=True)._replace(ns=0)

    return described(Layer(init_fn, apply_fn, kernel_fn), "GlobalAvgPool")


def Flatten() -> Layer:
    """Flatten ``(n, *s, C) -> (n, |s|·C)``; kernel = mean of the spatial diagonal (NT ``Flatten``)."""

    def init_fn(key, input_shape):
        return (input_shape[0], math.prod(input_shape[1:])), ()

    def apply_fn(params, x, **kwargs):
        return x.reshape(x.shape[0], -1)

    def kernel_fn(k: Kernel) -> Kernel:
        positions = math.prod(k.nngp.shape[2:2 + k.ns])
        if k.inputs is not None and k.ns:  # on the input: one Gram of the flattened inputs, x·x'/(|s|·C)
            a, b = k.inputs
            x1 = a.reshape(a.shape[0], -1)
            x2 = x1 if b is a else b.reshape(b.shape[0], -1)
            cross, s1, s2 = spatial.input_covariances(x1, x2)
            return k._replace(nngp=cross, ntk=None if k.ntk is None else jnp.zeros_like(cross), cov1=s1,
                              cov2=s2, ns=0, channels=k.channels * positions, inputs=None,
                              diagonal_spatial=False)
        if k.diagonal_spatial:
            f = lambda a, nb: jnp.mean(a, axis=tuple(range(nb, nb + k.ns)))  # noqa: E731
        else:
            f = lambda a, nb: spatial.diag_mean(a, nb, k.ns)  # noqa: E731
        return spatial.map_kernel(f, k)._replace(ns=0, channels=k.channels * positions,
                                                 diagonal_spatial=False)

    kernel_fn.spatial_req = lambda req_out: DIAG  # reads the spatial diagonal only
    return described(Layer(init_fn, apply_fn, kernel_fn), "Flatten")
