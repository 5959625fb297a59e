"""``Aggregate``: graph aggregation (graph neural networks) and its kernel.

``apply_fn(params, x, pattern=A)`` with ``x`` of shape ``(n, *s, C)`` and a dense (weighted)
adjacency ``A`` of shape ``(n, *s, *s)`` replaces every vertex ``q`` by ``Σ_p A[p, q] x[p]`` (the
sum over its predecessors); ``pattern=None`` is the identity.  The kernel is linear in both
arguments: ``nngp'[a, b] = A1[a]ᵀ nngp[a, b] A2[b]`` over flattened positions, and the same for
``ntk``, ``cov1`` (with ``A1`` twice), ``cov2``; pass ``kernel_fn(x1, x2, pattern=(A1, A2))``.
Du et al. 2019, "Graph Neural Tangent Kernel", arXiv:1905.13192; neural-tangents 0.6.5
``stax.Aggregate`` (``aggregate_axis=None``: all spatial axes, ``implementation='DENSE'``).
"""
from __future__ import annotations

import math

import jax.numpy as jnp

from sims.kernels._core import Kernel, Layer

__all__ = ["Aggregate"]


def _flat_pattern(a, ns, size, name):
    a = jnp.asarray(a)
    p = math.prod(size)
    if a.ndim != 1 + 2 * ns or tuple(a.shape[1:]) != tuple(size) * 2:
        raise ValueError(f"{name} must have shape (n, *spatial, *spatial) = (n, {size}, {size}), got {a.shape}")
    return a.reshape(a.shape[0], p, p)


def Aggregate(aggregate_axis=None) -> Layer:
    """Sum over graph predecessors given by ``pattern`` (see the module docstring)."""
    if aggregate_axis is not None:
        raise NotImplementedError("aggregate_axis: only None (aggregate over all spatial axes) is "
                                  f"supported, got {aggregate_axis!r}")

    def apply_fn(params, x, *, pattern=None, **kwargs):
        if pattern is None:
            return x
        ns = x.ndim - 2
        size = x.shape[1:-1]
        a = _flat_pattern(pattern, ns, size, "pattern")
        if a.shape[0] != x.shape[0]:
            raise ValueError(f"pattern must have one adjacency per example ({x.shape[0]}), got {a.shape[0]}")
        xf = x.reshape(x.shape[0], -1, x.shape[-1])
        return jnp.einsum("npc,npq->nqc", xf, a.astype(x.dtype)).reshape(x.shape)

    def kernel_fn(k: Kernel) -> Kernel:
        if k.ns == 0:
            raise ValueError("x: Aggregate needs inputs with spatial (vertex) axes (n, *vertices, channels)")
        if k.diagonal_spatial:
            raise ValueError("Aggregate needs the full spatial covariance; it cannot follow a "
                             "diagonal_spatial kernel")
        if k.pattern is None or k.pattern[0] is None:
            return k
        ns = k.ns
        size = k.nngp.shape[2:2 + ns]
        p = math.prod(size)
        a1 = _flat_pattern(k.pattern[0], ns, size, "pattern[0]").astype(k.nngp.dtype)
        a2 = _flat_pattern(k.pattern[1], ns, size, "pattern[1]").astype(k.nngp.dtype)
        n1, n2 = k.nngp.shape[:2]
        if a1.shape[0] != n1 or a2.shape[0] != n2:
            raise ValueError(f"pattern must have one adjacency per example ({n1}, {n2}), got "
                             f"({a1.shape[0]}, {a2.shape[0]})")

        def cross(m):
            if m is None:
                return None
            out = jnp.einsum("aip,abij,bjq->abpq", a1, m.reshape(n1, n2, p, p), a2)
            return out.reshape(m.shape)

        def self_(c, a):
            n = c.shape[0]
            return jnp.einsum("aip,aij,ajq->apq", a, c.reshape(n, p, p), a).reshape(c.shape)

        return k._replace(nngp=cross(k.nngp), ntk=cross(k.ntk), cov1=self_(k.cov1, a1),
                          cov2=self_(k.cov2, a2))

    return Layer(lambda key, input_shape: (input_shape, ()), apply_fn, kernel_fn)
