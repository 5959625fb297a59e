"""How KIP evaluates a kernel: any ``sims.kernels.stax`` kernel_fn or any ``sims.kernels.sketch``.

KIP (Nguyen, Chen, Lee 2021, arXiv:2011.00050, eq. (2)-(3)) predicts targets from a support
set ``(X_s, y_s)`` by kernel ridge regression, ``ŷ_t = K_ts (K_ss + λ̃ I)^{-1} y_s`` with the ridge
relative to the mean diagonal, ``λ̃ = λ · tr(K_ss)/n_s`` (the convention of
:mod:`sims.kernels.krr`, which holds both the differentiable solve KIP trains with and the
checked solve it is evaluated with).

A kernel is described to KIP by a :class:`KipKernel`:

- :func:`exact_kernel` — a ``kernel_fn`` of :func:`sims.kernels.stax.serial` (any architecture,
  ``get='nngp'`` or ``'ntk'``) or any jittable ``k(x1, x2) -> (n1, n2)``; both blocks are recomputed
  from the support images every step;
- :func:`sketch_kernel` — a sketch ``(init_fn, feature_fn)`` of :mod:`sims.kernels.sketch` (random
  features, PolySketch, CNTK features; e.g. ``sketch.from_stax(net, m=...)``), drawn **once** from a
  key, ``k(x, x') = Φ(x)·Φ(x')``; :func:`feature_kernel` the same for any fixed feature map ``phi``.
  The training set is embedded once, so a step costs ``O(n_s · cost(Φ) + n_t n_s m)``: linear in the
  support size, without the ``(H W)²`` factor of an exact convolutional kernel (Han et al. 2022,
  arXiv:2209.04121; Loo et al. 2022, RFAD, for the same idea in KIP).

:func:`fc_network` is the notebook's FC kernel network ``Flatten - [Dense(W, b) - Relu] x depth -
Dense(W, b)`` (google-research ``kip/KIP.ipynb``: ``W = √2, b = 0.1``) as one stax description:
the exact kernel and the finite network of :mod:`sims.kip.transfer` come from it.
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from sims.kernels import krr as _krr

Array = jax.Array

__all__ = ["KipKernel", "exact_kernel", "feature_kernel", "sketch_kernel", "embed_batched",
           "support_accuracy", "fc_network"]


class KipKernel(NamedTuple):
    """How KIP evaluates a kernel.

    Attributes
    ----------
    embed
        Applied once to target and test inputs (identity for an exact kernel, ``phi``
        for features).  Must be jittable.
    blocks
        ``blocks(x_s, e_t) -> (K_ts, K_ss)`` from support images ``x_s`` and an embedded
        target batch ``e_t``; differentiable in ``x_s``.
    name
        Label for figures and benchmarks.
    """

    embed: Callable[[Array], Array]
    blocks: Callable[[Array, Array], tuple[Array, Array]]
    name: str


def _identity(x):
    return x


def fc_network(*, depth: int = 1, W_std: float = math.sqrt(2.0), b_std: float | None = 0.1,
               width: int = 512, n_out: int = 10):
    """``Flatten - [Dense(width, W_std, b_std) - Relu] x depth - Dense(n_out, W_std, b_std)`` (stax).

    The KIP notebook's FC kernels (``W = √2, b = 0.1``, 'ntk' parameterization).  Returns the
    :func:`sims.kernels.stax.serial` triple; ``width`` and ``n_out`` only matter for the finite net.
    """
    from sims.kernels import stax

    layers = [stax.Flatten()]
    for _ in range(int(depth)):
        layers += [stax.Dense(width, W_std=W_std, b_std=b_std), stax.Relu()]
    return stax.serial(*layers, stax.Dense(n_out, W_std=W_std, b_std=b_std))


def exact_kernel(kernel_fn: Callable, *, get: str | None = "ntk", name: str = "exact") -> KipKernel:
    """KIP kernel from a stax ``kernel_fn`` (called as ``kernel_fn(x1, x2, get=get)``).

    ``get=None``: ``kernel_fn`` is any jittable ``k(x1, x2) -> (n1, n2)`` (called without ``get``).
    """
    if not callable(kernel_fn):
        raise TypeError(f"kernel_fn must be a callable kernel_fn(x1, x2, get=...) -> (n1, n2), got "
                        f"{type(kernel_fn).__name__}")
    if get not in (None, "nngp", "ntk"):
        raise ValueError(f"get must be 'nngp', 'ntk' or None (a plain k(x1, x2)), got {get!r}")

    def k(a, b):
        return kernel_fn(a, b) if get is None else kernel_fn(a, b, get=get)

    def blocks(x_s, x_t):
        return k(x_t, x_s), k(x_s, x_s)

    return KipKernel(_identity, blocks, name)


def feature_kernel(phi: Callable[[Array], Array], *, name: str = "features") -> KipKernel:
    """KIP kernel ``k(x, x') = phi(x)·phi(x')`` from a fixed (seeded) feature map ``phi``.

    ``phi`` must not change between steps (sample any sketch once from a fixed key),
    otherwise the gradients see a moving kernel (kernels note, pitfall 6).
    """
    if not callable(phi):
        raise TypeError(f"phi must be a callable phi(x) -> (n, m), got {type(phi).__name__}")

    def blocks(x_s, e_t):
        p = phi(x_s)
        return e_t @ p.T, p @ p.T

    return KipKernel(phi, blocks, name)


def sketch_kernel(sketch, *, key: jax.Array, input_shape, get: str = "nngp",
                  name: str | None = None) -> KipKernel:
    """KIP kernel ``Φ(x)·Φ(x')`` of a :mod:`sims.kernels.sketch` ``(init_fn, feature_fn)``.

    The sketch is drawn once, ``params = init_fn(key, input_shape)``, so ``Φ`` is a fixed,
    differentiable function of the images; ``get`` picks the NNGP or the NTK features.
    """
    try:
        init_fn, feature_fn = sketch
    except (TypeError, ValueError):
        raise TypeError("sketch must be the pair (init_fn, feature_fn) of sims.kernels.sketch.serial / "
                        f"from_stax, got {type(sketch).__name__}") from None
    if get not in ("nngp", "ntk"):
        raise ValueError(f"get must be 'nngp' or 'ntk', got {get!r}")
    params = init_fn(key, tuple(input_shape))

    def phi(x):
        return getattr(feature_fn(params, x), get)

    return feature_kernel(phi, name=name or f"sketch-{get}")


def embed_batched(kernel: KipKernel, x, *, batch: int = 512) -> Array:
    """``kernel.embed`` over ``x`` in row batches (bounded memory for big feature maps)."""
    x = jnp.asarray(x)
    f = jax.jit(kernel.embed)
    return jnp.concatenate([f(x[i:i + batch]) for i in range(0, x.shape[0], batch)], axis=0)


def support_accuracy(kernel: KipKernel, x_s, y_s, x_eval, labels_eval, *, reg=1e-6,
                     batch: int = 1024) -> float:
    """Test accuracy of KRR on the support set ``(x_s, y_s)``: the checked
    :func:`sims.kernels.krr.krr_accuracy` with ``K_ss`` and ``K_eval,s`` from ``kernel``.

    ``x_eval`` are raw inputs (embedded here with ``kernel.embed``), evaluated in row batches of
    ``batch`` under one jitted kernel evaluation; ``reg`` is the relative ridge.
    """
    x_s = jnp.asarray(x_s)
    _krr.check_float64("x_s", x_s)
    y_s = np.asarray(y_s, np.float64)
    f = _blocks_fn(kernel)
    k_ss, rows = None, []
    for i in range(0, len(labels_eval), batch):
        k_es, k_ss = f(x_s, jnp.asarray(x_eval[i:i + batch]))
        rows.append(np.asarray(k_es))
    return _krr.krr_accuracy(np.asarray(k_ss), y_s, np.concatenate(rows), np.asarray(labels_eval),
                             ridge=reg)


_BLOCKS_CACHE: dict = {}


def _blocks_fn(kernel: KipKernel):
    if kernel not in _BLOCKS_CACHE:
        _BLOCKS_CACHE[kernel] = jax.jit(lambda x_s, x: kernel.blocks(x_s, kernel.embed(x)))
    return _BLOCKS_CACHE[kernel]
