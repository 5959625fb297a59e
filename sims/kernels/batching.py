"""Blocked evaluation of a kernel function under one ``jax.jit`` (neural-tangents ``nt.batch`` analogue).

``kernel_matrix(kernel_fn, x1, x2, *, get, batch_size)`` pads ``x1``/``x2`` to multiples of
``batch_size`` (repeating the last row, so every block has one shape and the jitted block function is
traced once), evaluates ``(batch_size, batch_size)`` blocks and crops.  Valid for any kernel whose
``(i, j)`` entry depends only on ``x1[i], x2[j]`` (all ``stax`` kernels).  With ``x2=None`` the
kernel is assumed symmetric, ``K(x, x')ᵀ = K(x', x)`` (true of NNGP and NTK): only the blocks on
and above the diagonal are evaluated and the others are their transposes, which halves the work
and makes the result exactly symmetric (``symmetric=False`` evaluates every block).
"""
from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["kernel_matrix"]


@functools.lru_cache(maxsize=64)
def _jitted_block(kernel_fn: Callable, get):
    return jax.jit(lambda a, b: kernel_fn(a, b, get=get))


def _pad(x, bs):
    n = x.shape[0]
    m = -(-n // bs) * bs
    if m == n:
        return x
    return jnp.concatenate([x, jnp.repeat(x[-1:], m - n, axis=0)], axis=0)


def kernel_matrix(kernel_fn: Callable, x1, x2=None, *, get="ntk", batch_size: int = 256,
                  symmetric: bool = True):
    """Full ``(n1, n2)`` kernel from ``(batch_size, batch_size)`` blocks of a jitted ``kernel_fn``.

    Parameters
    ----------
    kernel_fn
        ``kernel_fn(a, b, get=...)`` as returned by :func:`sims.kernels.stax.serial`.
    x1, x2
        Inputs ``(n, ..., channels)``, float64; ``x2=None`` means ``x1``.
    get
        ``'nngp'``, ``'ntk'`` or a tuple of them (then a tuple/namedtuple of matrices is returned).
    batch_size
        Block edge; the block function is compiled once per (kernel_fn, get, shapes).
    symmetric
        With ``x2=None``, evaluate only the blocks ``j >= i`` and mirror the rest (module docstring).
    """
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    x1 = jnp.asarray(x1)
    x2 = x1 if x2 is None else jnp.asarray(x2)
    for name, x in (("x1", x1), ("x2", x2)):
        if x.dtype != jnp.float64:
            raise TypeError(f"{name} must be float64 (enable jax_enable_x64 at the entry point), got {x.dtype}")
        if not bool(jnp.all(jnp.isfinite(x))):
            raise ValueError(f"{name} contains non-finite values")
    get_key = get if isinstance(get, str) else tuple(get)
    block = _jitted_block(kernel_fn, get_key)
    mirror = symmetric and x2 is x1
    n1, n2 = x1.shape[0], x2.shape[0]
    b1, b2 = min(batch_size, n1), min(batch_size, n2)
    p1, p2 = _pad(x1, b1), _pad(x2, b2)
    done = {}
    rows = []
    for i in range(0, p1.shape[0], b1):
        cols = []
        for j in range(0, p2.shape[0], b2):
            if mirror and j < i:
                cols.append(jax.tree_util.tree_map(lambda a: a.T, done[(j, i)]))
            else:
                b = block(p1[i:i + b1], p2[j:j + b2])
                if mirror and i == j:  # exactly symmetric diagonal blocks too
                    b = jax.tree_util.tree_map(lambda a: (a + a.T) / 2, b)
                done[(i, j)] = b
                cols.append(b)
        rows.append(jax.tree_util.tree_map(lambda *c: jnp.concatenate(c, axis=1), *cols))
    full = jax.tree_util.tree_map(lambda *r: jnp.concatenate(r, axis=0), *rows)
    return jax.tree_util.tree_map(lambda a: a[:n1, :n2], full)
