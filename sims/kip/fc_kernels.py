"""Deprecated name: the one-hidden-layer ReLU NNGP/NTK of KIP's notebook, now built from ``sims.kernels.stax``.

Use :func:`sims.kip.kernel.fc_network` (``Flatten - Dense(W, b) - Relu - Dense(W, b)``) and its
``kernel_fn``; this module keeps the old call ``relu_fc1_kernel(x1, x2, get=..., W_std=..., b_std=...)``
working for code written against it.
"""
from __future__ import annotations

import functools
import math

from sims.kip.kernel import fc_network

__all__ = ["relu_fc1_kernel"]


@functools.lru_cache(maxsize=16)
def _kernel_fn(W_std: float, b_std: float | None):
    return fc_network(W_std=W_std, b_std=b_std)[2]


def relu_fc1_kernel(x1, x2, *, get: str = "ntk", W_std: float = math.sqrt(2.0), b_std: float | None = 0.1):
    """NNGP or NTK ``(n1, n2)`` of ``Flatten-Dense(W,b)-Relu-Dense(W,b)`` (NT conventions)."""
    if get not in ("nngp", "ntk"):
        raise ValueError(f"get must be 'nngp' or 'ntk', got {get!r}")
    return _kernel_fn(float(W_std), None if b_std is None else float(b_std))(x1, x2, get=get)
