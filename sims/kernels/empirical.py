"""Finite-width kernels of a ``stax`` network: empirical NTK and Monte-Carlo NNGP.

- empirical NTK (Jacot et al. 2018, arXiv:1806.07572, Eq. 2): ``Θ̂(x, x') = Σ_p ∂f(x)/∂p · ∂f(x')/∂p / k``
  for ``k`` outputs (averaged over outputs, as neural-tangents ``trace_axes=(-1,)``);
- empirical NNGP: ``f(x)·f(x')/k`` of one network (converges as the readout width ``k`` grows);
- Monte-Carlo NNGP (Lee et al. 2018; neural-tangents ``monte_carlo_kernel_fn``): the mean of the
  empirical NNGP over ``n_samples`` independent initialisations, keys split from ``key``.
Both converge to the exact kernel as widths grow, with fluctuations O(1/√width).
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

__all__ = ["empirical_ntk", "empirical_nngp", "monte_carlo_nngp"]


def _check(x, name):
    if x.dtype != jnp.float64:
        raise TypeError(f"{name} must be float64 (enable jax_enable_x64 at the entry point), got {x.dtype}")


def empirical_ntk(apply_fn: Callable, params, x1, x2=None):
    """``(n1, n2)`` Jacobian inner product of ``apply_fn(params, x)`` (outputs averaged)."""
    x1 = jnp.asarray(x1); _check(x1, "x1")
    x2 = x1 if x2 is None else jnp.asarray(x2); _check(x2, "x2")
    j1 = jax.jacobian(apply_fn)(params, x1)
    j2 = j1 if x2 is x1 else jax.jacobian(apply_fn)(params, x2)
    k = x1.shape[0], x2.shape[0]

    def contract(a, b):  # a: (n1, out, *param_shape)
        out_dim = a.shape[1]
        return jnp.einsum("ik...,jk...->ij", a.reshape(k[0], out_dim, -1), b.reshape(k[1], out_dim, -1))

    terms = jax.tree_util.tree_map(contract, j1, j2)
    out_dim = jax.eval_shape(apply_fn, params, x1[:1]).shape[-1]
    return sum(jax.tree_util.tree_leaves(terms)) / out_dim


def empirical_nngp(apply_fn: Callable, params, x1, x2=None):
    """``f(x1) f(x2)ᵀ / k`` for ``k`` outputs of one network."""
    x1 = jnp.asarray(x1); _check(x1, "x1")
    x2 = x1 if x2 is None else jnp.asarray(x2); _check(x2, "x2")
    y1 = apply_fn(params, x1)
    y2 = y1 if x2 is x1 else apply_fn(params, x2)
    return y1 @ y2.T / y1.shape[-1]


def monte_carlo_nngp(init_fn: Callable, apply_fn: Callable, key: jax.Array, x1, x2=None, *,
                     n_samples: int = 64):
    """Mean and standard error of :func:`empirical_nngp` over ``n_samples`` initialisations."""
    if not isinstance(n_samples, int) or n_samples < 2:
        raise ValueError(f"n_samples must be an int >= 2, got {n_samples!r}")
    x1 = jnp.asarray(x1)
    x2 = x1 if x2 is None else jnp.asarray(x2)

    def one(k):
        _, p = init_fn(k, x1.shape)
        return empirical_nngp(apply_fn, p, x1, x2)

    s = jax.lax.map(one, jax.random.split(key, n_samples))
    return s.mean(0), s.std(0, ddof=1) / jnp.sqrt(n_samples)
