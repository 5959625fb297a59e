"""Dual activations of the exponential family: ``a·e^{bx}`` and ``a·e^{bx²}`` (closed forms).

For centred Gaussian ``(u, v)`` with variances ``q11, q22`` and covariance ``q12``:

- ``f(x) = a·exp(b x)``: ``T = E[f(u) f(v)] = a² exp(b² (q11 + q22 + 2 q12)/2)`` (the Gaussian
  moment generating function), ``Ṫ = E[f'(u) f'(v)] = b² T``;
- ``f(x) = a·exp(b x²)``, ``b < 1/(2 max q)``: ``T = a² / √D``,
  ``D = (1 − 2b q11)(1 − 2b q22) − 4 b² q12²`` (the Gaussian integral of ``exp(b(u² + v²))``,
  ``det(I − 2bΣ)``), and by Price's theorem ``Ṫ = ∂T/∂q12 = 4 a² b² q12 / D^{3/2}``.

These are neural-tangents' ``stax.Exp`` and ``stax.Gaussian`` kernels (google/neural-tangents
``_src/stax/elementwise.py``; Novak et al. 2020, arXiv:1912.02803).  Pure ``jax.numpy``; imports no
project package.
"""
from __future__ import annotations

import jax.numpy as jnp

__all__ = ["exp", "gaussian"]


def exp(q11, q22, q12, *, a: float = 1.0, b: float = 1.0):
    """``(T, Ṫ)`` of ``a·exp(b x)`` (module docstring)."""
    t = a * a * jnp.exp(b * b * (0.5 * (q11 + q22) + q12))
    return t, b * b * t


def gaussian(q11, q22, q12, *, a: float = 1.0, b: float = -1.0):
    """``(T, Ṫ)`` of ``a·exp(b x²)`` (module docstring); finite for ``b < 1/(2 max(q11, q22))``."""
    d = (1 - 2 * b * q11) * (1 - 2 * b * q22) - 4 * b * b * q12 * q12
    r = jnp.sqrt(d)
    return a * a / r, 4 * a * a * b * b * q12 / (r * d)
