"""Closed-form dual activations: ``T(q11, q22, q12) = E[f(u) f(v)]`` and ``Ṫ = E[f'(u) f'(v)]``.

``(u, v)`` is centred Gaussian with ``Var u = q11``, ``Var v = q22``, ``Cov(u, v) = q12``.  ``T`` is the
NNGP map of an activation layer (Neal 1996; Lee et al. 2018, arXiv:1711.00165, Eq. 5) and ``Ṫ`` the
factor that multiplies the NTK (Jacot et al. 2018, arXiv:1806.07572, Thm. 1; by Price's theorem
``Ṫ = ∂T/∂q12``).  The formulas follow the neural-tangents conventions (google/neural-tangents,
``_src/stax/elementwise.py``; ReLU is ``E[relu relu]`` with *no* factor 2):

- ``abrelu``: ``f = a min(x, 0) + b max(x, 0)`` (Cho & Saul 2009 arc-cosine kernels of degree 0 and 1);
- ``erf``: ``f = erf(x)`` (Williams 1997);
- ``sin``: ``f = a sin(b x + c)``;
- ``gelu``: ``f = x Φ(x)`` (exact GELU; Tsuchida et al. 2021 form as in neural-tangents);
- ``monomial``: ``f = x**deg`` (Isserlis' theorem), ``deg`` in 0..5;
- ``exp_normalized``: the normalized Gaussian kernel ``√P exp(γ(ρ + shift))`` (Shankar et al. 2020,
  arXiv:2003.02237, p. 6; neural-tangents ``ExpNormalized``) — not the dual of a fixed elementwise
  ``f`` for all variances (see its docstring).

Also the unit-sphere arc-cosine kernels ``arccos0(ρ) = 1 − arccos(ρ)/π`` and
``arccos1(ρ) = (√(1−ρ²) + (π − arccos ρ) ρ)/π`` (Cho & Saul 2009, Eq. 6 with n = 0, 1).

Pure ``jax.numpy`` functions (jittable, broadcasting); imports no project package.  Inputs are assumed
to be a valid covariance (``q12² ≤ q11 q22``); round-off beyond it is clipped (cosines to ``[-1, 1]``,
``q11 q22 − q12²`` below its own rounding error to 0).
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp

__all__ = ["arccos0", "arccos1", "abrelu", "erf", "sin", "gelu", "monomial", "exp_normalized"]

_SIN2_TOL = 1e-12


@jax.custom_jvp
def _safe_sqrt(z):
    """``√max(z, 0)`` with derivative 0 for ``z < 1e-12`` (no ``1/0`` at coincident inputs)."""
    return jnp.sqrt(jnp.maximum(z, 0.0))


@_safe_sqrt.defjvp
def _safe_sqrt_jvp(primals, tangents):
    (z,), (dz,) = primals, tangents
    big = z > _SIN2_TOL
    return _safe_sqrt(z), jnp.where(big, dz / (2 * jnp.sqrt(jnp.maximum(z, _SIN2_TOL))), 0.0)


def arccos0(rho):
    """Arc-cosine kernel of degree 0 on the unit sphere, ``1 − arccos(ρ)/π`` (Cho & Saul 2009)."""
    return 1.0 - jnp.arccos(jnp.clip(rho, -1.0, 1.0)) / jnp.pi


def arccos1(rho):
    """Arc-cosine kernel of degree 1 on the unit sphere, ``(√(1−ρ²) + (π − arccos ρ)ρ)/π``."""
    rho = jnp.clip(rho, -1.0, 1.0)
    return (_safe_sqrt(1.0 - rho ** 2) + (jnp.pi - jnp.arccos(rho)) * rho) / jnp.pi


_DET_ROUNDOFF_ULPS = 8.0


@jax.custom_jvp
def _sqrt_det(det, prod):
    """``√det`` for ``det = q11 q22 − q12²``, with ``det <= 8 ε P`` treated as 0 (``P = q11 q22``).

    ``8 ε P`` bounds the rounding error of ``P − q12²`` itself, so below it the sign and size of
    ``det`` are noise: coincident inputs whose ``q12`` differs from ``q11 = q22`` by an ulp (a Gram
    entry and a self-covariance summed in another order) get exactly ``θ = 0`` instead of
    ``θ ~ √ε ~ 1e-8``.  The cost is a bias of at most ``√(8ε) ≈ 4e-8`` in ``θ`` for inputs that are
    distinct but closer than rounding can resolve.  Derivative 0 where ``det <= 1e-12·P`` (the
    ``sin²θ <= 1e-12`` rule of :func:`_safe_sqrt`: no ``1/0`` at coincident inputs in KIP gradients).
    """
    eps = jnp.finfo(jnp.result_type(det)).eps
    return jnp.sqrt(jnp.where(det > _DET_ROUNDOFF_ULPS * eps * prod, det, 0.0))


@_sqrt_det.defjvp
def _sqrt_det_jvp(primals, tangents):
    (det, prod), (ddet, _) = primals, tangents
    big = det > _SIN2_TOL * prod
    return _sqrt_det(det, prod), jnp.where(big, ddet / (2 * jnp.sqrt(jnp.where(big, det, 1.0))), 0.0)


def abrelu(q11, q22, q12, *, a: float = 0.0, b: float = 1.0):
    """``(T, Ṫ)`` for ``f(x) = a min(x, 0) + b max(x, 0)``; ReLU is ``a=0, b=1``.

    ``θ = arctan2(√(P − q12²), q12)`` (``= arccos(q12/√P)``); with ``√P sin θ = √(P − q12²)``:
    ``T = (a−b)²/(2π) √P sin θ + [(a²+b²)/2 − (a−b)² θ/(2π)] q12``,
    ``Ṫ = (a²+b²)/2 − (a−b)² θ/(2π)``.  For ReLU on the unit sphere ``T = arccos1(ρ)/2``,
    ``Ṫ = arccos0(ρ)/2``.

    Numerics: ``√P sin θ`` is computed as ``√(q11 q22 − q12²)`` — no square root of ``P``, no division
    (the cheapest form per kernel entry, the same as neural-tangents), 0 for coincident inputs even when
    ``q12`` and ``q11 = q22`` differ by rounding (see ``_sqrt_det``), and 0 where a variance is 0 (then
    ``T = 0``).  ``T`` is insensitive to ``θ`` near 0 (``∂T/∂θ ∝ sin θ``); ``Ṫ`` has the arc-cosine
    kernel's ``√(1 − ρ)`` singularity, so its error near ``ρ = 1`` is ``~√ε`` for any formula.
    """
    prod = q11 * q22
    sin = _sqrt_det(prod - q12 * q12, prod)
    theta = jnp.arctan2(sin, q12)
    tdot = (a * a + b * b) / 2 - (a - b) ** 2 * theta / (2 * jnp.pi)
    t = (a - b) ** 2 / (2 * jnp.pi) * sin + tdot * q12
    return t, tdot


def erf(q11, q22, q12):
    """``(T, Ṫ)`` for ``f = erf``: ``T = (2/π) arcsin(2q12/√((1+2q11)(1+2q22)))``,
    ``Ṫ = (4/π)/√((1+2q11)(1+2q22) − 4q12²)`` (Williams 1997)."""
    prod = (1 + 2 * q11) * (1 + 2 * q22)
    det = jnp.maximum(prod - 4 * q12 ** 2, 0.0)
    t = 2 / jnp.pi * jnp.arctan2(2 * q12, jnp.sqrt(det))
    tdot = 4 / jnp.pi / jnp.sqrt(jnp.where(det > 0, det, jnp.inf))
    return t, tdot


def sin(q11, q22, q12, *, a: float = 1.0, b: float = 1.0, c: float = 0.0):
    """``(T, Ṫ)`` for ``f = a sin(b x + c)``; ``S = q11 + q22``:
    ``T = a²/2 [e^{b²(−S/2+q12)} − cos(2c) e^{b²(−S/2−q12)}]``,
    ``Ṫ = a²b²/2 [e^{b²(−S/2+q12)} + cos(2c) e^{b²(−S/2−q12)}]``."""
    s = q11 + q22
    ep = jnp.exp(b * b * (-s / 2 + q12))
    em = jnp.exp(b * b * (-s / 2 - q12))
    c2 = math.cos(2 * c)
    return a * a / 2 * (ep - c2 * em), a * a * b * b / 2 * (ep + c2 * em)


def gelu(q11, q22, q12):
    """``(T, Ṫ)`` for the exact GELU ``f(x) = x Φ(x)`` (neural-tangents ``Gelu`` closed form).

    ``Δ² = (q11+1)(q22+1) − q12²``, ``φ = arctan2(q12, Δ)``;
    ``T = q12/4 + [(q12² + P Δ²)/((q11+1)(q22+1) Δ) + q12 φ]/(2π)``,
    ``Ṫ = 1/4 + φ/(2π) + q12/(2πΔ) [1/Δ² + (1−P)/((q11+1)(q22+1)) + 1]`` — here obtained exactly
    by differentiating ``T`` in ``q12`` (Price's theorem), which avoids transcription slips.
    """
    def t_of(c):
        p1 = (q11 + 1) * (q22 + 1)
        delta = jnp.sqrt(jnp.maximum(p1 - c ** 2, 1e-300))
        phi = jnp.arctan2(c, delta)
        return c / 4 + ((c ** 2 + q11 * q22 * delta ** 2) / (p1 * delta) + c * phi) / (2 * jnp.pi)

    t, tdot = jax.jvp(t_of, (q12,), (jnp.ones_like(q12),))
    return t, tdot


def _mono(deg, p, c):
    if deg == 0:
        return jnp.ones_like(c)
    if deg == 1:
        return c
    if deg == 2:
        return 2 * c ** 2 + p
    if deg == 3:
        return 6 * c ** 3 + 9 * c * p
    if deg == 4:
        return 3 * (8 * c ** 4 + 3 * p * (8 * c ** 2 + p))
    return 15 * c * (8 * c ** 4 + 5 * p * (8 * c ** 2 + 3 * p))


def monomial(q11, q22, q12, *, degree: int):
    """``(T, Ṫ)`` for ``f = x**degree`` (degree 0..5), Isserlis; ``Ṫ = degree² T_{degree−1}``."""
    if not isinstance(degree, int) or not 0 <= degree <= 5:
        raise ValueError(f"degree must be an int in 0..5, got {degree!r}")
    p = q11 * q22
    t = _mono(degree, p, q12)
    tdot = degree ** 2 * _mono(degree - 1, p, q12) if degree > 0 else jnp.zeros_like(q12)
    return t, tdot


def exp_normalized(q11, q22, q12, *, gamma: float = 1.0, shift: float = -1.0, do_clip: bool = False):
    """``(T, Ṫ)`` of the normalized Gaussian kernel (neural-tangents ``ExpNormalized``).

    ``ρ = q12/√P``, ``T = √P exp(γ(ρ + shift))``, ``Ṫ = ∂T/∂q12 = γ exp(γ(ρ + shift))``; on the
    diagonal ``T(q, q, q) = q exp(γ(1 + shift))``.  With ``shift = −1`` and unit-norm inputs this is
    ``exp(−γ‖x̂ − ŷ‖²/2)``, the kernel of Shankar et al. 2020 (arXiv:2003.02237, p. 6).

    Which activation: for *fixed* variances ``s_i² = q_ii`` it is ``E[f_1(u) f_2(v)]`` with
    ``f_i(u) = e^{γ(1+shift)/2} s_i exp(√γ u/s_i − γ)`` (the Hermite generating function gives
    ``a_n = e^{−γ/2} γ^{n/2}/√(n!)``, i.e. ``Σ a_n² ρⁿ = exp(γ(ρ − 1))``); ``f_i`` depends on the
    pre-activation's variance, so no single elementwise map realizes the kernel for all inputs.

    Parameters
    ----------
    q11, q22, q12
        Variances and covariance (broadcasting).
    gamma : float, keyword-only
        Exponent scale ``γ`` (choice of neural-tangents: default 1).
    shift : float, keyword-only
        Shift of the normalized covariance (default −1, so ``T(q, q, q) = q``).
    do_clip : bool, keyword-only
        Clip ``ρ`` to ``[−1, 1]`` against round-off (neural-tangents' default ``False``).
    """
    prod = q11 * q22
    pos = prod > 0
    nrm = jnp.sqrt(jnp.where(pos, prod, 1.0))
    rho = jnp.where(pos, q12 / nrm, 0.0)
    if do_clip:
        rho = jnp.clip(rho, -1.0, 1.0)
    e = jnp.exp(gamma * (rho + shift))
    return jnp.where(pos, nrm, 0.0) * e, gamma * e
