"""Normalized Hermite expansions of activations and their dual (NNGP) power series.

For ``z ~ N(0, 1)`` an activation with ``E[σ(z)²] < ∞`` expands as ``σ(s z) = Σ_n a_n h_n(z)`` in the
*normalized* probabilists' Hermite polynomials ``h_n = He_n / √(n!)`` (orthonormal under N(0, 1)),
``a_n = E[σ(s z) h_n(z)]``.  For ``(u, v)`` centred Gaussian with variances ``q11 = s1²``, ``q22 = s2²``
and correlation ``ρ``, Mehler's formula gives the dual activation

    T(q11, q22, q12) = E[σ(u) σ(v)] = Σ_n a_n(s1) a_n(s2) ρⁿ,

and, by Price's theorem, ``Ṫ = ∂T/∂q12 = Σ_n n a_n(s1) a_n(s2) ρ^{n−1} / (s1 s2)``.  For unit variances
(``s = 1``) this is ``Σ a_n² ρⁿ`` — the truncated series that Han et al. (2022), "Fast Neural Kernel
Embeddings for General Activations", arXiv:2209.04121, §3, sketch with PolySketch.  General variances
enter through the scale ``s`` (the paper's "radial factors"): ``hermite_coefficients(..., scale=s)``.

Coefficients: closed form for ReLU (derived from ``He_n φ = (−1)ⁿ φ^{(n)}``:
``E[relu(z) He_{2k}(z)] = φ(0) (−1)^{k+1} (2k−3)!!`` for ``k ≥ 1``; odd ``n ≥ 3`` vanish; ReLU is
1-homogeneous so ``a_n(s) = s a_n(1)``), Gauss–Hermite quadrature otherwise (``numpy.polynomial.
hermite_e.hermegauss`` with the stable normalized three-term recurrence).  Quadrature is accurate to
~1e-12 for smooth activations (erf, GELU, sin, tanh) but *not* for kinked ones (ReLU, abs): use the
closed form there.

Truncation: on ``|ρ| ≤ 1`` the error of the degree-``D`` series is at most ``√(tail(s1) tail(s2))``
(Cauchy–Schwarz), ``tail(s) = E[σ(s z)²] − Σ_{n≤D} a_n(s)²`` (``truncation_bound``); for equal
scales it is exactly ``tail`` and attained at ρ = 1.

Pure numpy; imports no project package.  Float64 throughout.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
from numpy.polynomial import hermite_e
from scipy import special

__all__ = ["ACTIVATIONS", "hermite_coefficients", "second_moment", "dual_series",
           "dual_derivative_series", "truncation_bound", "normalized_hermite", "gauss_hermite_basis",
           "MAX_DEGREE", "HermiteDegreeError"]

#: Highest degree of :func:`gauss_hermite_basis` (checked: the quadrature Gram matrix of
#: ``h_0..h_D`` is the identity to < 1e-12 up to here, ``tests/test_hermite.py``).
MAX_DEGREE = 1000


class HermiteDegreeError(ValueError):
    """A Hermite degree past :data:`MAX_DEGREE` (the verified range of the stable quadrature)."""

ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": lambda x: np.maximum(x, 0.0),
    "erf": special.erf,
    "gelu": lambda x: x * special.ndtr(x),
    "sin": np.sin,
    "tanh": np.tanh,
    "abs": np.abs,
}
_QUAD_NODES = 200


def _check_degree(degree) -> int:
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)):
        raise TypeError(f"degree must be an int, got {type(degree).__name__}")
    if degree < 0:
        raise ValueError(f"degree must be >= 0, got {degree}")
    return int(degree)


def _check_scale(scale) -> float:
    scale = float(scale)
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a finite positive number, got {scale}")
    return scale


def _resolve(activation) -> tuple[str | None, Callable]:
    if isinstance(activation, str):
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation {activation!r} has no Hermite coefficients here; expected one of "
                             f"{sorted(ACTIVATIONS)} or a callable")
        return activation, ACTIVATIONS[activation]
    if callable(activation):
        return None, activation
    raise TypeError(f"activation must be a name or a callable, got {type(activation).__name__}")


def normalized_hermite(x, degree: int) -> np.ndarray:
    """``h_n(x) = He_n(x)/√(n!)`` for ``n = 0..degree``, shape ``(degree + 1, *x.shape)``.

    Stable recurrence ``h_{n+1} = (x h_n − √n h_{n−1}) / √(n+1)`` (no factorial overflow).
    """
    degree = _check_degree(degree)
    x = np.asarray(x, dtype=np.float64)
    out = np.empty((degree + 1,) + x.shape)
    out[0] = 1.0
    if degree >= 1:
        out[1] = x
    for n in range(1, degree):
        out[n + 1] = (x * out[n] - math.sqrt(n) * out[n - 1]) / math.sqrt(n + 1)
    return out


def _log_psi(z, degree: int):
    """Hermite functions ``ψ_n(z) = h_n(z) e^{−z²/4}`` as mantissa and log-scale, ``n = 0..degree``.

    Same three-term recurrence as :func:`normalized_hermite` started from ``ψ_0 = e^{−z²/4}``;
    ``|ψ_n| ≤ 1.09`` (Cramér's inequality) but ``ψ_0`` underflows for ``|z| > 38``, so the
    recurrence carries ``ψ_n = m_n · exp(L_n)`` and renormalizes ``m`` when it grows past 1e150.
    """
    m = np.zeros((degree + 1, z.size))
    log = np.zeros((degree + 1, z.size))
    m[0], log[0] = 1.0, -z * z / 4
    if degree >= 1:
        m[1], log[1] = z, log[0]
    for n in range(1, degree):
        nxt = (z * m[n] - math.sqrt(n) * m[n - 1] * np.exp(log[n - 1] - log[n])) / math.sqrt(n + 1)
        big = np.abs(nxt) > 1e150
        scale = np.where(big, 1e-150, 1.0)
        m[n + 1] = nxt * scale
        log[n + 1] = log[n] - np.log(scale)
    return m, log


def gauss_hermite_basis(degree: int, nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``z`` and the weighted basis ``B[n, i] = w_i h_n(z_i)`` of ``nodes``-point Gauss–Hermite
    quadrature for ``N(0, 1)``, so that ``E[f(z) h_n(z)] ≈ B @ f(z)`` (exact for polynomials of degree
    ``< 2·nodes − n``).

    Stable to ``degree`` = :data:`MAX_DEGREE` (``numpy.polynomial.hermite_e.hermegauss`` overflows
    past ~170 nodes-halves): the nodes are the eigenvalues of the Jacobi matrix (off-diagonal ``√k``,
    Golub & Welsch 1969), the weights the Christoffel numbers ``w_i = 1/Σ_{n<nodes} h_n(z_i)²``, and
    ``w_i h_n(z_i) = e^{−z_i²/4} ψ_n(z_i) / Σ_k ψ_k(z_i)²`` is formed in log space from Hermite
    functions (:func:`_log_psi`), so nothing overflows and negligible terms underflow to 0.

    Raises
    ------
    HermiteDegreeError
        ``degree > MAX_DEGREE``.
    """
    from scipy.linalg import eigh_tridiagonal

    degree = _check_degree(degree)
    if degree > MAX_DEGREE:
        raise HermiteDegreeError(f"degree must be <= MAX_DEGREE = {MAX_DEGREE} (the verified range of the "
                                 f"stable Gauss-Hermite basis), got {degree}")
    if isinstance(nodes, bool) or not isinstance(nodes, (int, np.integer)) or nodes < degree + 1:
        raise ValueError(f"nodes must be an int >= degree + 1 = {degree + 1}, got {nodes!r}")
    nodes = int(nodes)
    if nodes == 1:
        z = np.zeros(1)
    else:
        z = eigh_tridiagonal(np.zeros(nodes), np.sqrt(np.arange(1.0, nodes)), eigvals_only=True)
    m, log = _log_psi(z, nodes - 1)
    top = log.max(axis=0)  # log Σ_k ψ_k² = log Σ_k m_k² e^{2 L_k}, max-shifted
    log_sum = 2 * top + np.log(np.sum(m * m * np.exp(2 * (log - top)), axis=0))
    basis = m[:degree + 1] * np.exp(-z * z / 4 + log[:degree + 1] - log_sum)
    return z, basis


def _relu_coefficients(degree: int) -> np.ndarray:
    a = np.zeros(degree + 1)
    phi0 = 1.0 / math.sqrt(2.0 * math.pi)
    a[0] = phi0
    if degree >= 1:
        a[1] = 0.5
    for n in range(2, degree + 1, 2):
        k = n // 2
        # log((2k-3)!!) with (-1)!! = 1; (2k-3)!! = (2k-2)! / (2^{k-1} (k-1)!)
        log_df = math.lgamma(2 * k - 1) - (k - 1) * math.log(2.0) - math.lgamma(k)
        a[n] = (-1) ** (k + 1) * phi0 * math.exp(log_df - 0.5 * math.lgamma(n + 1))
    return a


def hermite_coefficients(activation, degree: int, *, scale: float = 1.0,
                         nodes: int = _QUAD_NODES) -> np.ndarray:
    """Normalized Hermite coefficients ``a_n = E[σ(scale·z) h_n(z)]``, ``n = 0..degree``.

    Parameters
    ----------
    activation : str or callable
        ``"relu"`` (closed form), ``"erf"``, ``"gelu"`` (``x Φ(x)``), ``"sin"``, ``"tanh"``, ``"abs"``
        or a vectorized numpy callable (Gauss–Hermite quadrature).
    degree : int
        Highest Hermite degree ``D >= 0``.
    scale : float, keyword-only
        Standard deviation ``s`` of the pre-activation (``√q``); 1 for unit variance.
    nodes : int, keyword-only
        Gauss–Hermite nodes (choice: 200; exact for polynomials of degree < 400).

    Returns
    -------
    numpy.ndarray, shape ``(degree + 1,)``, float64.
    """
    degree = _check_degree(degree)
    scale = _check_scale(scale)
    name, fn = _resolve(activation)
    if name == "relu":
        return scale * _relu_coefficients(degree)
    if degree >= nodes // 2:
        raise ValueError(f"degree must be < nodes/2 = {nodes // 2} for quadrature, got {degree}")
    x, w = hermite_e.hermegauss(nodes)
    w = w / math.sqrt(2.0 * math.pi)
    vals = np.asarray(fn(scale * x), dtype=np.float64)
    if vals.shape != x.shape or not np.all(np.isfinite(vals)):
        raise ValueError("activation must return finite values of the input's shape")
    return normalized_hermite(x, degree) @ (w * vals)


def second_moment(activation, *, scale: float = 1.0, nodes: int = _QUAD_NODES) -> float:
    """``E[σ(scale·z)²]`` (= ``Σ_n a_n²``): closed form for ReLU (``s²/2``) and erf
    (``(2/π) arcsin(2s²/(1+2s²))``), quadrature otherwise."""
    scale = _check_scale(scale)
    name, fn = _resolve(activation)
    if name == "relu":
        return 0.5 * scale ** 2
    if name == "erf":
        q = scale ** 2
        return 2.0 / math.pi * math.asin(2 * q / (1 + 2 * q))
    x, w = hermite_e.hermegauss(nodes)
    return float(np.sum(w * np.asarray(fn(scale * x), dtype=np.float64) ** 2) / math.sqrt(2 * math.pi))


def _check_coeffs(coeffs) -> np.ndarray:
    c = np.asarray(coeffs)
    if c.dtype != np.float64:
        raise TypeError(f"coeffs must be float64, got {c.dtype}")
    if c.ndim != 1 or c.size == 0 or not np.all(np.isfinite(c)):
        raise ValueError("coeffs must be a non-empty finite 1-D array")
    return c


def _check_rho(rho) -> np.ndarray:
    r = np.asarray(rho)
    if r.dtype != np.float64:
        raise TypeError(f"rho must be float64, got {r.dtype}")
    if not np.all(np.isfinite(r)) or np.any(np.abs(r) > 1.0 + 1e-12):
        raise ValueError("rho must be finite with |rho| <= 1")
    return r


def dual_series(coeffs, rho, *, coeffs2=None) -> np.ndarray:
    """Truncated dual ``Σ_n a_n b_n ρⁿ`` (``b = coeffs2``, default ``a``): ``E[σ(u)σ(v)]`` at correlation ρ.

    With coefficients from ``hermite_coefficients(σ, D, scale=s_i)`` this is ``T(s1², s2², ρ s1 s2)``.
    """
    a = _check_coeffs(coeffs)
    b = a if coeffs2 is None else _check_coeffs(coeffs2)
    if b.shape != a.shape:
        raise ValueError("coeffs2 must have the shape of coeffs")
    r = _check_rho(rho)
    return np.polynomial.polynomial.polyval(r, a * b)


def dual_derivative_series(coeffs, rho, *, coeffs2=None) -> np.ndarray:
    """``d/dρ Σ a_n b_n ρⁿ = Σ n a_n b_n ρ^{n−1}``.  For unit variances this is the NTK factor
    ``Ṫ = E[σ'(u)σ'(v)]``; for scales ``s1, s2`` divide by ``s1 s2``."""
    a = _check_coeffs(coeffs)
    b = a if coeffs2 is None else _check_coeffs(coeffs2)
    if b.shape != a.shape:
        raise ValueError("coeffs2 must have the shape of coeffs")
    r = _check_rho(rho)
    n = np.arange(a.size)
    return np.polynomial.polynomial.polyval(r, (n * a * b)[1:]) if a.size > 1 else np.zeros_like(r)


def truncation_bound(activation, degree: int, *, scale: float = 1.0) -> float:
    """Sup over ``|ρ| ≤ 1`` of the error of the degree-``degree`` dual series (equal scales):
    the tail ``E[σ(s z)²] − Σ_{n≤D} a_n²`` (attained at ρ = 1)."""
    a = hermite_coefficients(activation, degree, scale=scale)
    return max(second_moment(activation, scale=scale) - float(np.sum(a ** 2)), 0.0)
