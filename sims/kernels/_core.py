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

from sims.kernels.spatial import diag

__all__ = ["Kernel", "Layer", "NNGPNTK", "check_ntk_params", "check_out", "finite_number", "FULL", "DIAG",
           "positionwise", "spatial_requirement", "to_diagonal", "described"]

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


# -- which spatial covariance a layer needs (diagonal-spatial propagation) ------------------------------
#
# A layer's ``kernel_fn`` may carry ``spatial_req(req_out) -> req_in``: given what the rest of the
# network needs from this layer's *output* (``FULL``: all position pairs ``(p, p')``; ``DIAG``: only
# ``p = p'``), what it needs from its *input*.  Position-wise layers (Dense, Conv, activations,
# LayerNorm, Dropout, fan-out/in) pass the requirement through — a Conv's output at ``(p, p)`` reads
# its input at ``(p·s + δ, p·s + δ)`` only; ``Flatten`` needs ``DIAG`` whatever follows (it averages
# the spatial diagonal); pooling and ``Aggregate`` need ``FULL``.  A layer without the attribute
# (a user's own ``kernel_fn``) is assumed to need ``FULL`` — the safe choice.

FULL, DIAG = "full", "diag"


def _passthrough(req_out):
    return req_out


def positionwise(kernel_fn):
    """Mark ``kernel_fn`` as position-wise (it passes the spatial requirement through); returns it."""
    kernel_fn.spatial_req = _passthrough
    return kernel_fn


def spatial_requirement(layer, req_out: str) -> str:
    """What ``layer`` needs from its input given ``req_out`` needed from its output (``FULL``/``DIAG``)."""
    rule = getattr(layer.kernel_fn, "spatial_req", None)
    return FULL if rule is None else rule(req_out)


def to_diagonal(k):
    """The same kernel state with only the same-position entries ``(n1, n2, *s)`` / ``(n, *s)`` kept."""
    if isinstance(k, list):
        return [to_diagonal(b) for b in k]
    if k.diagonal_spatial or k.ns == 0:
        return k
    return k._replace(nngp=diag(k.nngp, 2, k.ns), ntk=None if k.ntk is None else diag(k.ntk, 2, k.ns),
                      cov1=diag(k.cov1, 1, k.ns), cov2=diag(k.cov2, 1, k.ns), diagonal_spatial=True)


def described(layer: Layer, name: str, **options) -> Layer:
    """Attach ``(name, options)`` — what the layer is — as ``layer.kernel_fn.spec``; returns ``layer``.

    Read by :func:`sims.kernels.sketch.from_stax` to derive a network's sketch from its stax
    description (so the finite net, the exact kernel and the sketched features come from one object).
    """
    layer.kernel_fn.spec = (name, dict(options))
    return layer
