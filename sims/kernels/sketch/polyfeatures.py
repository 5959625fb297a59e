"""Sketched features of a dual activation given by a power series with radial factors.

Han et al. (2022), "Fast Neural Kernel Embeddings for General Activations", arXiv:2209.04121, §3–4: for a
pre-activation feature ``f`` (per example and position) with norm ``s = ‖f‖`` and direction ``u = f/s``,
every dual we sketch has the form

    T(q₁₁, q₂₂, q₁₂) = Σ_{n=0}^{D} α_n(s₁) α_n(s₂) ρⁿ,      ρ = ⟨u₁, u₂⟩,
    Ṫ = ∂T/∂q₁₂      = Σ_{n=1}^{D} n α_n(s₁) α_n(s₂) ρ^{n−1} / (s₁ s₂)

(Mehler's formula and Price's theorem).  ``α_n(s)`` are the *radial factors*:

- activation ``σ`` (Hermite route): ``α_n(s) = E[σ(s z) h_n(z)]``, ``h_n = He_n/√(n!)``, ``z ~ N(0, 1)``
  (:mod:`theory.hermite`).  ReLU and ``|x|`` are 1-homogeneous, ``α_n(s) = s·a_n`` with the closed-form
  ``a_n`` of :func:`theory.hermite.hermite_coefficients`; any other activation is integrated by
  200-node Gauss–Hermite quadrature in JAX (accurate to ~1e-12 for smooth ``σ``, *not* for kinks).
  Truncating at ``D`` costs at most ``E[σ(sz)²] − Σ_{n≤D} α_n(s)²`` per entry (``truncation_bound``).
- normalized Gaussian (NT ``ExpNormalized``, Shankar et al. 2020): ``T = √(q₁₁q₂₂) e^{γ(ρ−1)}``, so
  ``α_n(s) = s √(e^{−γ} γⁿ/n!)`` (Taylor coefficients, factorial decay).

Features (*choices* where the paper leaves them open: every PolySketch degree has dimension ``m``; the
blocks are concatenated and compressed to ``m`` by one more SRHT, which keeps the estimate unbiased
because distinct blocks occupy disjoint coordinates before the rotation; norms ``s`` are those of the
incoming (already sketched) features, as in NT PR #142):

    Φ_T(f) = SRHT[α₀(s)·1, α₁(s)·S₁u, ..., α_D(s)·S_D u],
    Φ_Ṫ(f) = SRHT'[√1 α₁(s)/s·1, √2 α₂(s)/s·S₁u, ..., √D α_D(s)/s·S_{D−1}u],

with ``S_k`` the PolySketch of :mod:`sims.kernels.sketch.sketching`, so ``E⟨Φ_T f₁, Φ_T f₂⟩ = T`` and
``E⟨Φ_Ṫ f₁, Φ_Ṫ f₂⟩ = Ṫ`` of the degree-``D`` truncation.
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from numpy.polynomial import hermite_e

from sims.kernels.activations import HERMITE_ACTIVATIONS
from sims.kernels.sketch import sketching
from theory import hermite

__all__ = ["Radial", "hermite_radial", "exp_normalized_radial", "truncated_dual", "poly_features_init",
           "poly_features_apply"]

_NODES = 200
_HOMOGENEOUS = ("relu", "abs")   # α_n(s) = s·a_n, closed-form a_n


class Radial(NamedTuple):
    """Radial factors ``alpha(s) -> (..., degree + 1)`` of a dual series (see module docstring)."""

    alpha: Callable[[jax.Array], jax.Array]
    degree: int
    name: str


def _check_degree(degree) -> int:
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or degree < 1:
        raise ValueError(f"degree must be a positive int, got {degree!r}")
    if degree >= _NODES // 2:
        raise ValueError(f"degree must be < {_NODES // 2} (Gauss-Hermite with {_NODES} nodes), got {degree}")
    return int(degree)


def hermite_radial(activation, degree: int) -> Radial:
    """Radial factors ``α_n(s) = E[σ(s z) h_n(z)]``, ``n = 0..degree``, of an activation.

    Parameters
    ----------
    activation : str or callable
        ``"relu"``, ``"abs"`` (closed form, 1-homogeneous), ``"erf"``, ``"gelu"`` (exact ``xΦ(x)``),
        ``"sin"``, ``"tanh"``, or a JAX-traceable elementwise callable (quadrature).
    degree : int
        Truncation degree ``D >= 1``.
    """
    degree = _check_degree(degree)
    if isinstance(activation, str):
        if activation in _HOMOGENEOUS:
            a1 = hermite.hermite_coefficients("relu", degree)
            if activation == "abs":        # |x| = relu(x) + relu(−x): a_n(|·|) = (1 + (−1)ⁿ) a_n(relu)
                a1 = a1 * (1 + (-1.0) ** np.arange(degree + 1))
            a1 = jnp.asarray(a1)
            return Radial(lambda s: s[..., None] * a1, degree, activation)
        if activation not in HERMITE_ACTIVATIONS:   # the names stax.ElementwiseHermite accepts
            raise ValueError(f"activation {activation!r} has no Hermite coefficients here; expected one of "
                             f"{sorted(HERMITE_ACTIVATIONS)} or a JAX callable")
        fn, name = HERMITE_ACTIVATIONS[activation], activation
    elif callable(activation):
        fn, name = activation, getattr(activation, "__name__", "callable")
    else:
        raise TypeError(f"activation must be a name or a callable, got {type(activation).__name__}")
    z, w = hermite_e.hermegauss(_NODES)
    basis = jnp.asarray(hermite.normalized_hermite(z, degree) * (w / math.sqrt(2 * math.pi)))  # (D+1, nodes)
    zz = jnp.asarray(z)
    try:
        probe = jnp.asarray(fn(zz))
    except Exception as exc:  # noqa: BLE001 - any failure means the callable is not usable here
        raise TypeError(f"activation {name!r} must be an elementwise function of a JAX array: {exc}") from exc
    if probe.shape != zz.shape or not bool(jnp.all(jnp.isfinite(probe))):
        raise ValueError(f"activation {name!r} must return finite values of its input's shape")
    return Radial(lambda s: fn(s[..., None] * zz) @ basis.T, degree, name)


def exp_normalized_radial(gamma: float, degree: int) -> Radial:
    """Radial factors of the normalized Gaussian dual ``√(q₁₁q₂₂) e^{γ(ρ−1)}``: ``s √(e^{−γ}γⁿ/n!)``."""
    degree = _check_degree(degree)
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not math.isfinite(gamma) or gamma <= 0:
        raise ValueError(f"gamma must be a finite positive number, got {gamma!r}")
    n = np.arange(degree + 1)
    c = jnp.asarray(np.sqrt(np.exp(-gamma + n * math.log(gamma) - [math.lgamma(k + 1) for k in n])))
    return Radial(lambda s: s[..., None] * c, degree, f"exp_normalized(gamma={gamma})")


def _safe(s):
    return jnp.where(s > 0, s, 1.0)


def truncated_dual(radial: Radial, q11, q22, q12):
    """The ``m → ∞`` limit of the sketch: ``(T, Ṫ)`` of the degree-``D`` series at given (co)variances."""
    s1, s2 = jnp.sqrt(q11), jnp.sqrt(q22)
    rho = jnp.clip(q12 / _safe(s1 * s2), -1.0, 1.0)
    a = radial.alpha(s1) * radial.alpha(s2)
    n = jnp.arange(radial.degree + 1)
    t = jnp.sum(a * rho[..., None] ** n, axis=-1)
    tdot = jnp.sum((n * a)[..., 1:] * rho[..., None] ** (n[1:] - 1), axis=-1) / _safe(s1 * s2)
    return t, tdot


def poly_features_init(key: jax.Array, input_dim: int, m: int, degree: int) -> dict:
    """PolySketch ``input_dim → m`` of degree ``degree`` plus the two compressing SRHTs."""
    kp, kt, kd = jax.random.split(key, 3)
    return {"poly": sketching.polysketch_init(kp, input_dim, m, degree),
            "out": sketching.srht_init(kt, 1 + degree * m, m),
            "out_dot": sketching.srht_init(kd, 1 + (degree - 1) * m, m)}


def poly_features_apply(params: dict, f: jax.Array, radial: Radial) -> tuple[jax.Array, jax.Array]:
    """``(Φ_T(f), Φ_Ṫ(f))``, each ``(..., m)``, for features ``f`` on the last axis (module docstring)."""
    degree = radial.degree
    s = jnp.sqrt(jnp.sum(f * f, axis=-1))
    u = f / _safe(s)[..., None]
    sk = sketching.polysketch_apply(params["poly"], u, degree)
    a = radial.alpha(s)                                                    # (..., D+1)
    nngp = jnp.concatenate([a[..., n:n + 1] * sk[n] for n in range(degree + 1)], axis=-1)
    w = a / _safe(s)[..., None] * jnp.sqrt(jnp.arange(degree + 1.0))
    tdot = jnp.concatenate([w[..., n:n + 1] * sk[n - 1] for n in range(1, degree + 1)], axis=-1)
    return sketching.srht_apply(params["out"], nngp), sketching.srht_apply(params["out_dot"], tdot)
