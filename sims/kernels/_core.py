"""The kernel state and the layer triple shared by every ``stax`` layer module.

:class:`Kernel` carries the cross arrays ``nngp``, ``ntk`` of shape ``(n1, n2, *s, *s)`` and the
per-example self-covariances ``cov1``, ``cov2`` of shape ``(n, *s, *s)`` between layers (or, with
``diagonal_spatial``, ``(n1, n2, *s)`` and ``(n, *s)``: only the same-position entries), plus the
bookkeeping that some layers need (neural-tangents ``Kernel``, Novak et al. 2020, arXiv:1912.02803):

- ``is_gaussian``: the pre-activations are a mean-zero Gaussian process (true right after
  ``Dense``/``Conv``; pooling, ``Flatten``, ``Aggregate``, ``LayerNorm`` keep it; activations,
  train-mode ``Dropout`` and ``FanInConcat`` clear it).  ``FanInSum`` of several branches and
  ``LayerNorm`` need it, as in neural-tangents;
- ``x1_is_x2``: the two inputs are the same (``x2=None``), which train-mode ``Dropout`` needs;
- ``pattern``: the graph adjacency pair ``(A1, A2)`` passed to ``kernel_fn(..., pattern=...)``
  for ``Aggregate``.

A network state between branching layers is a list of :class:`Kernel` (``FanOut`` makes it, ``parallel``
maps it, ``FanInSum``/``FanInConcat`` merge it).
"""
from __future__ import annotations

import collections
import math
from typing import Any, Callable, NamedTuple

import jax
import numpy as np

__all__ = ["Kernel", "Layer", "NNGPNTK", "check_ntk_params", "check_out", "finite_number"]

NNGPNTK = collections.namedtuple("NNGPNTK", ["nngp", "ntk"])


class Kernel(NamedTuple):
    """Kernel state between layers (see the module docstring)."""

    nngp: jax.Array
    ntk: jax.Array | None  # None when the NTK was not requested (``get='nngp'``): layers skip it
    cov1: jax.Array
    cov2: jax.Array
    ns: int          # number of spatial dimensions
    channels: int    # current channel count (enters only the 'standard' NTK and FanInConcat)
    inputs: tuple | None = None  # (x1, x2) on the input kernel only (then ntk = 0); serial clears it
    is_gaussian: bool = False
    x1_is_x2: Any = False        # python or traced bool
    pattern: tuple | None = None
    diagonal_spatial: bool = False


class Layer(NamedTuple):
    """``(init_fn, apply_fn, kernel_fn)`` of one layer; ``kernel_fn: Kernel -> Kernel``.

    ``apply_fn(params, x, **kwargs)``: ``rng=`` (``Dropout``), ``pattern=`` (``Aggregate``).
    """

    init_fn: Callable
    apply_fn: Callable
    kernel_fn: Callable


def check_ntk_params(W_std, b_std, parameterization):
    if parameterization not in ("ntk", "standard"):
        raise ValueError(f"parameterization must be 'ntk' or 'standard', got {parameterization!r}")
    if not (isinstance(W_std, (int, float)) and math.isfinite(W_std) and W_std >= 0):
        raise ValueError(f"W_std must be a finite non-negative number, got {W_std!r}")
    if b_std is not None and not (isinstance(b_std, (int, float)) and math.isfinite(b_std) and b_std >= 0):
        raise ValueError(f"b_std must be None or a finite non-negative number, got {b_std!r}")


def check_out(name, value):
    if not (isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1):
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def finite_number(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)
