"""Random features for the arc-cosine kernels of ReLU, in neural-tangents normalisation.

For ``w ~ N(0, I_d)`` (Cho & Saul 2009, "Kernel methods for deep learning"; Zandieh et al. 2021,
arXiv:2106.07880, §3.1 and Alg. 3):

    E[relu(w·x) relu(w·y)] = ‖x‖‖y‖ κ₁(ρ)/2 = T(q₁₁, q₂₂, q₁₂),
    E[1(w·x > 0) 1(w·y > 0)] = κ₀(ρ)/2 = Ṫ(q₁₁, q₂₂, q₁₂),

with ``ρ = ⟨x, y⟩/(‖x‖‖y‖)``, ``κ₀(ρ) = 1 − arccos(ρ)/π``, ``κ₁(ρ) = (√(1−ρ²) + (π − arccos ρ)ρ)/π``
(closed forms: :func:`theory.dual_activations.arccos0`, ``arccos1``).  The
factor ``1/2`` is NT's ``Relu`` (``E[relu·relu]``, no factor 2); 2106.07880 uses ``c_σ = 2`` instead
(``√(2/m)`` features).  So ``Φ₁(x) = relu(W x)/√m`` and ``Φ₀(x) = 1(W x > 0)/√m`` give unbiased estimates
of the NT ReLU NNGP map ``T`` and of its derivative ``Ṫ`` with variance ``O(1/m)``.

*Choice*: ``Φ₀`` and ``Φ₁`` share ``W`` — they are then exactly the activations and derivatives of one
finite hidden layer of width ``m`` (the empirical-NTK structure); independent ``W`` would be unbiased too.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp

__all__ = ["arccos_init", "arccos_apply"]


def arccos_init(key: jax.Array, input_dim: int, m: int) -> dict:
    """Draw ``W ∈ R^{input_dim × m}`` with i.i.d. ``N(0, 1)`` entries."""
    return {"W": jax.random.normal(key, (input_dim, m), dtype=jnp.float64)}


def arccos_apply(params: dict, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(Φ₁(x), Φ₀(x)) = (relu(x W), 1(x W > 0)) / √m`` on the last axis of ``x``.

    ``⟨Φ₁(x), Φ₁(y)⟩ → ‖x‖‖y‖κ₁(ρ)/2`` and ``⟨Φ₀(x), Φ₀(y)⟩ → κ₀(ρ)/2`` as ``m → ∞``.
    """
    w = params["W"]
    if x.shape[-1] != w.shape[0]:
        raise ValueError(f"x: ReLU random features expect {w.shape[0]} input features, got {x.shape[-1]}")
    z = x @ w
    inv = 1.0 / math.sqrt(w.shape[1])
    return inv * jnp.maximum(z, 0.0), inv * (z > 0).astype(x.dtype)

