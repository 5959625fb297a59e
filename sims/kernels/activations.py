"""Activation layers: the finite elementwise map and its dual (NNGP ``T``) and derivative dual (NTK ``Ṫ``).

Each layer maps ``nngp ← T(q11, q22, q12)``, ``ntk ← ntk·Ṫ(q11, q22, q12)`` with ``q11, q22`` the
per-position variances (spatial diagonals of the self-covariances) — Lee et al. 2018 (arXiv:1711.00165),
Jacot et al. 2018 (arXiv:1806.07572).  Closed forms are in :mod:`theory.dual_activations`.

``ExpNormalized(gamma, shift)`` is the normalized Gaussian kernel (Shankar et al. 2020,
arXiv:2003.02237; neural-tangents ``ExpNormalized``); it has no finite-width ``apply_fn`` (see there).

``Hermite(coeffs)`` is ``f = Σ_n a_n He_n/√(n!)`` and ``ElementwiseHermite(fn, degree)`` truncates ``fn``
at ``degree`` (up to ``theory.hermite.MAX_DEGREE``; past it ``HermiteDegreeError``), and
:func:`hermite_truncation_error` reports the sup-norm error of the truncated NNGP and NTK duals.  For variances ``q`` the coefficients of ``x ↦ f(√q x)`` are computed by Gauss–Hermite
quadrature per example, so inputs need not lie on the unit sphere; then
``T = Σ_n a_n(q11) a_n(q22) ρ^n`` and ``Ṫ = ∂T/∂q12`` with ``ρ = q12/√(q11 q22)`` (Daniely et al. 2016;
Han et al. 2022, arXiv:2209.04121, §3).  Choice: ``nodes = max(2·degree + 2, 64)`` quadrature nodes,
exact for polynomial ``f`` of degree ≤ ``degree``; for non-polynomial ``fn`` it is the truncated dual.
The basis ``w_i h_n(z_i)`` comes from the normalized recurrence in log space
(:func:`theory.hermite.gauss_hermite_basis`): no factorials, no overflow at any supported degree.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import erf as _erf

from sims.kernels import spatial
from sims.kernels._core import Layer, described, positionwise
from sims.kernels._core import finite_number as _finite_number
from theory import dual_activations as dual
from theory import dual_exponential, hermite

__all__ = ["Relu", "ABRelu", "LeakyRelu", "Abs", "Erf", "Sigmoid_like", "Sin", "Cos", "Rbf", "Exp",
           "Gaussian", "Gelu", "Monomial", "ExpNormalized", "Hermite", "ElementwiseHermite",
           "HERMITE_ACTIVATIONS", "activation_layer", "hermite_truncation_error"]


def activation_layer(fn: Callable, dual_fn: Callable):
    """Layer from an elementwise ``fn`` and ``dual_fn(q11, q22, q12) -> (T, Ṫ)``."""

    def init_fn(key, input_shape):
        return tuple(input_shape), ()

    def apply_fn(params, x, **kwargs):
        return fn(x)

    @positionwise
    def kernel_fn(k):
        ns = k.ns
        if k.diagonal_spatial:  # (n1, n2, *s) and (n, *s): positions pair with themselves only
            v1, v2 = k.cov1, k.cov2
            t, tdot = dual_fn(v1[:, None], v2[None, :], k.nngp)
            s1, _ = dual_fn(v1, v1, v1)
            s2, _ = dual_fn(v2, v2, v2)
        else:
            v1 = spatial.diag(k.cov1, 1, ns)
            v2 = spatial.diag(k.cov2, 1, ns)
            one = (1,) * ns
            a1 = v1.reshape(v1.shape[:1] + (1,) + v1.shape[1:] + one)
            a2 = v2.reshape((1,) + v2.shape[:1] + one + v2.shape[1:])
            t, tdot = dual_fn(a1, a2, k.nngp)
            s1, _ = dual_fn(v1.reshape(v1.shape + one), v1.reshape(v1.shape[:1] + one + v1.shape[1:]), k.cov1)
            s2, _ = dual_fn(v2.reshape(v2.shape + one), v2.reshape(v2.shape[:1] + one + v2.shape[1:]), k.cov2)
        return k._replace(nngp=t, ntk=None if k.ntk is None else k.ntk * tdot, cov1=s1, cov2=s2,
                          is_gaussian=False)

    return Layer(init_fn, apply_fn, kernel_fn)


def ABRelu(a: float, b: float):
    """``f(x) = a·min(x, 0) + b·max(x, 0)`` (arc-cosine kernels; NT ``ABRelu``)."""
    a, b = _finite_number("a", a), _finite_number("b", b)
    return described(activation_layer(lambda x: a * jnp.minimum(x, 0) + b * jnp.maximum(x, 0),
                                      lambda q1, q2, c: dual.abrelu(q1, q2, c, a=a, b=b)), "ABRelu", a=a, b=b)


def Relu():
    """``max(x, 0)``: ``T = √P(sin θ + (π−θ)cos θ)/(2π)``, ``Ṫ = (π−θ)/(2π)`` (no factor 2)."""
    return ABRelu(0.0, 1.0)


def LeakyRelu(alpha: float):
    """``max(x, 0) + α min(x, 0)``."""
    _finite_number("alpha", alpha)
    return ABRelu(alpha, 1.0)


def Abs():
    """``|x|``."""
    return ABRelu(-1.0, 1.0)


def Erf(*, a: float = 1.0, b: float = 1.0, c: float = 0.0):
    """``a·erf(b x) + c`` (Williams 1997 arcsine kernel; NT ``Erf(a, b, c)``).

    ``T = a² T_erf(b² q) + c²`` (``E[erf] = 0``), ``Ṫ = a² b² Ṫ_erf(b² q)``.
    """
    a, b, c = _finite_number("a", a), _finite_number("b", b), _finite_number("c", c)

    def dual_fn(q1, q2, q):
        t, tdot = dual.erf(b * b * q1, b * b * q2, b * b * q)
        return a * a * t + c * c, a * a * b * b * tdot

    return described(activation_layer(lambda x: a * _erf(b * x) + c, dual_fn), "Erf", a=a, b=b, c=c)


def Sigmoid_like():
    """``0.5·erf(x/2.4020563531719796) + 0.5`` (NT ``Sigmoid_like``: the erf closest to the logistic
    sigmoid in squared error on [−5, 5])."""
    return Erf(a=0.5, b=1 / 2.4020563531719796, c=0.5)


def Sin(*, a: float = 1.0, b: float = 1.0, c: float = 0.0):
    """``a·sin(b x + c)``."""
    a, b, c = _finite_number("a", a), _finite_number("b", b), _finite_number("c", c)
    return activation_layer(lambda x: a * jnp.sin(b * x + c),
                            lambda q1, q2, q: dual.sin(q1, q2, q, a=a, b=b, c=c))


def Cos(*, a: float = 1.0, b: float = 1.0, c: float = 0.0):
    """``a·cos(b x + c) = a·sin(b x + c + π/2)`` (NT ``Cos``)."""
    c = _finite_number("c", c)
    return Sin(a=a, b=b, c=c + math.pi / 2)


def Rbf(*, gamma: float = 1.0):
    """``√2·sin(√(2γ) x + π/4)``, whose dual is the RBF kernel ``T = exp(−γ(q11 + q22 − 2 q12))``,
    ``Ṫ = 2γ T`` (random Fourier features, Rahimi & Recht 2007; NT ``Rbf``)."""
    gamma = _finite_number("gamma", gamma)
    if gamma < 0:
        raise ValueError(f"gamma must be >= 0, got {gamma!r}")
    return Sin(a=math.sqrt(2.0), b=math.sqrt(2.0 * gamma), c=math.pi / 4)


def Exp(*, a: float = 1.0, b: float = 1.0):
    """``a·exp(b x)``: ``T = a² exp(b²(q11 + q22 + 2q12)/2)``, ``Ṫ = b² T`` (NT ``Exp``;
    :mod:`theory.dual_exponential`)."""
    a, b = _finite_number("a", a), _finite_number("b", b)
    return activation_layer(lambda x: a * jnp.exp(b * x),
                            lambda q1, q2, q: dual_exponential.exp(q1, q2, q, a=a, b=b))


def Gaussian(*, a: float = 1.0, b: float = -1.0):
    """``a·exp(b x²)`` (NT ``Gaussian``; :mod:`theory.dual_exponential`); ``b <= 0`` keeps it finite
    for every variance."""
    a, b = _finite_number("a", a), _finite_number("b", b)
    if b > 0:
        raise ValueError(f"b must be <= 0 (E[exp(2b z²)] diverges for large variances), got {b!r}")
    return activation_layer(lambda x: a * jnp.exp(b * x * x),
                            lambda q1, q2, q: dual_exponential.gaussian(q1, q2, q, a=a, b=b))


def Gelu(*, approximate: bool = False):
    """GELU ``x Φ(x)``; the kernel is always the exact GELU's (``approximate`` affects ``apply_fn``
    only, as in NT)."""
    return described(activation_layer(lambda x: jax.nn.gelu(x, approximate=bool(approximate)), dual.gelu),
                     "Gelu", approximate=bool(approximate))


def Monomial(degree: int):
    """``x**degree`` (0..5), Isserlis' theorem."""
    if isinstance(degree, bool) or not isinstance(degree, int) or not 0 <= degree <= 5:
        raise ValueError(f"degree must be an int in 0..5, got {degree!r}")
    return activation_layer(lambda x: x ** degree,
                            lambda q1, q2, c: dual.monomial(q1, q2, c, degree=degree))


def ExpNormalized(*, gamma: float = 1.0, shift: float = -1.0, do_clip: bool = False):
    """Normalized Gaussian kernel ``T = √P exp(γ(ρ + shift))``, ``Ṫ = γ exp(γ(ρ + shift))``.

    neural-tangents ``ExpNormalized(gamma=1, shift=-1, do_clip=False)``; Shankar et al. 2020
    (arXiv:2003.02237, p. 6).  Closed form in :func:`theory.dual_activations.exp_normalized`.

    ``apply_fn`` raises ``NotImplementedError`` (as in neural-tangents): the kernel is
    ``E[f_1(u) f_2(v)]`` for ``f_i(u) = e^{γ(1+shift)/2} s_i exp(√γ u/s_i − γ)``, which depends on the
    pre-activation's standard deviation ``s_i`` of *each input*, so no elementwise map of a finite
    network has it as its infinite-width limit.

    Parameters
    ----------
    gamma : float, keyword-only
        ``γ >= 0`` (the kernel ``exp(γρ)`` has non-negative Taylor coefficients, hence is PSD, only then).
    shift : float, keyword-only
        Finite shift; ``−1`` makes ``T(q, q, q) = q``.
    do_clip : bool, keyword-only
        Clip ``ρ`` to ``[−1, 1]``.
    """
    gamma = _finite_number("gamma", gamma)
    if gamma < 0:
        raise ValueError(f"gamma must be >= 0 (the kernel is not PSD otherwise), got {gamma!r}")
    shift = _finite_number("shift", shift)

    def fn(x):
        raise NotImplementedError(
            "ExpNormalized has no finite-width apply_fn: its kernel is not the limit of an elementwise "
            "activation (it needs each input's pre-activation variance); use kernel_fn only. For "
            f"unit-variance pre-activations f(z) = exp({gamma ** 0.5:.6g} z - {gamma:.6g}) has the kernel of "
            "ExpNormalized(gamma, shift=-1)")

    return described(activation_layer(fn, lambda q1, q2, c: dual.exp_normalized(q1, q2, c, gamma=gamma,
                                                                                shift=shift, do_clip=do_clip)),
                     "ExpNormalized", gamma=gamma, shift=shift, do_clip=bool(do_clip))


# -- Hermite-expansion duals -------------------------------------------------------------------

def _hermite_dual(fn: Callable, degree: int, nodes: int):
    # w_i h_n(z_i) from the stable normalized recurrence (theory.hermite.gauss_hermite_basis);
    # nodes whose weights underflow to 0 for every n are dropped (fn could overflow there)
    z, basis = hermite.gauss_hermite_basis(degree, nodes)
    keep = np.any(basis != 0.0, axis=0)
    basis, zz = jnp.asarray(basis[:, keep]), jnp.asarray(z[keep])
    n_idx = jnp.arange(degree + 1)

    def coeffs(q):  # q (...,) -> (..., D+1): a_n(q) = E[f(√q z) h_n(z)]
        vals = fn(jnp.sqrt(q)[..., None] * zz)
        return vals @ basis.T

    def dual_fn(q1, q2, q12):
        a1, a2 = coeffs(q1), coeffs(q2)
        p = jnp.sqrt(jnp.where(q1 * q2 > 0, q1 * q2, 1.0))
        rho = jnp.clip(q12 / p, -1.0, 1.0)[..., None]
        prod = a1 * a2
        t = jnp.sum(prod * rho ** n_idx, axis=-1)
        tdot = jnp.sum(prod[..., 1:] * n_idx[1:] * rho ** (n_idx[1:] - 1), axis=-1) / p
        return t, tdot

    return dual_fn


#: Named activations for :func:`ElementwiseHermite` (jax versions of ``theory.hermite.ACTIVATIONS``).
HERMITE_ACTIVATIONS: dict[str, Callable] = {
    "relu": jax.nn.relu,
    "erf": _erf,
    "gelu": lambda x: jax.nn.gelu(x, approximate=False),
    "sin": jnp.sin,
    "tanh": jnp.tanh,
    "abs": jnp.abs,
}


def _check_activation_fn(fn):
    """Resolve a name; check that ``fn`` traces on a jax array and is elementwise (keeps the shape)."""
    if isinstance(fn, str):
        if fn not in HERMITE_ACTIVATIONS:
            raise ValueError(f"fn: activation {fn!r} has no Hermite coefficients here; expected one of "
                             f"{sorted(HERMITE_ACTIVATIONS)} or a jax-traceable callable")
        return HERMITE_ACTIVATIONS[fn]
    if not callable(fn):
        raise TypeError(f"fn must be callable or one of {sorted(HERMITE_ACTIVATIONS)}, got {fn!r}")
    probe = jnp.linspace(-3.0, 3.0, 7)
    try:
        out = jax.eval_shape(lambda z: fn(z), probe)
    except Exception as e:  # noqa: BLE001 -- any failure to trace means "not usable here"
        raise TypeError(f"fn must be jax-traceable (elementwise on a jax array), calling it on a traced "
                        f"array failed with {type(e).__name__}: {e}") from None
    if getattr(out, "shape", None) != probe.shape:
        raise ValueError(f"fn must be elementwise (output shape {probe.shape}), got "
                         f"{getattr(out, 'shape', type(out).__name__)}")
    return fn


def ElementwiseHermite(fn: Callable | str, degree: int, *, nodes: int | None = None):
    """Any elementwise ``fn`` through its Hermite expansion truncated at ``degree`` (see module doc).

    Parameters
    ----------
    fn : callable or str
        A jax-traceable elementwise activation, or a name in :data:`HERMITE_ACTIVATIONS`.
    degree : int
        Truncation degree ``D >= 1`` (Han et al. 2022, arXiv:2209.04121, §3: the dual is
        ``Σ_{n<=D} a_n(s1) a_n(s2) ρⁿ``).  Degree 0 would be a constant activation, so it is refused.
    nodes : int, keyword-only
        Gauss–Hermite nodes (default ``max(2·degree + 2, 64)``); at least ``degree + 1``.
    """
    name_or_fn = fn
    fn = _check_activation_fn(fn)
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)):
        raise TypeError(f"degree must be an int, got {type(degree).__name__}")
    if degree < 1:
        raise ValueError(f"degree must be >= 1 (the Hermite truncation degree), got {degree!r}")
    degree = int(degree)
    if degree > hermite.MAX_DEGREE:
        raise hermite.HermiteDegreeError(
            f"degree must be <= MAX_DEGREE = {hermite.MAX_DEGREE} (the verified range of the stable "
            f"Gauss-Hermite basis), got {degree}")
    if nodes is not None and (isinstance(nodes, bool) or not isinstance(nodes, (int, np.integer))
                              or nodes < degree + 1):
        raise ValueError(f"nodes must be an int >= degree + 1 = {degree + 1}, got {nodes!r}")
    nodes = int(nodes) if nodes is not None else max(2 * degree + 2, 64)
    return described(activation_layer(fn, _hermite_dual(fn, degree, nodes)), "ElementwiseHermite",
                     fn=name_or_fn, degree=degree)


def hermite_truncation_error(fn: Callable | str, degree: int, *, variance: float,
                             nodes: int | None = None) -> dict:
    """Truncation error of :func:`ElementwiseHermite` ``(fn, degree)`` at pre-activation ``variance``.

    With ``a_n`` the normalized Hermite coefficients of ``z ↦ f(√q z)`` (every term of both series is
    non-negative at equal variances), the sup over ``|ρ| ≤ 1`` of the error is, attained at ρ = 1,

    - NNGP (``T``): ``E[f(√q z)²] − Σ_{n≤D} a_n²``;
    - NTK factor (``Ṫ``): ``E[f'(√q z)²] − Σ_{n≤D} n a_n² / q`` (``Ṫ = Σ n a_n² ρ^{n−1}/q``);

    for two variances the error is at most the geometric mean of the two tails (Cauchy–Schwarz).
    The expectations use Gauss–Hermite with ``2·nodes`` points; ``f'`` is ``jax.grad`` of ``fn``.

    Returns
    -------
    dict with ``"nngp"`` and ``"ntk"`` (floats, the two tails) and ``"degree"``, ``"variance"``.
    """
    fn = _check_activation_fn(fn)
    variance = _finite_number("variance", variance)
    if variance <= 0:
        raise ValueError(f"variance must be > 0, got {variance!r}")
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or degree < 1:
        raise ValueError(f"degree must be an int >= 1, got {degree!r}")
    nodes = int(nodes) if nodes is not None else max(2 * int(degree) + 2, 64)
    s = math.sqrt(variance)
    z, basis = hermite.gauss_hermite_basis(int(degree), nodes)
    z2, b2 = hermite.gauss_hermite_basis(0, 2 * nodes)
    keep, keep2 = np.any(basis != 0, axis=0), b2[0] != 0
    a = basis[:, keep] @ np.asarray(fn(jnp.asarray(s * z[keep])), dtype=np.float64)
    w2, zz2 = b2[0, keep2], jnp.asarray(s * z2[keep2])
    f2 = np.asarray(fn(zz2), dtype=np.float64) ** 2
    df2 = np.asarray(jax.vmap(jax.grad(lambda x: fn(x)))(zz2), dtype=np.float64) ** 2
    n = np.arange(a.size)
    return {"nngp": max(float(w2 @ f2 - np.sum(a * a)), 0.0),
            "ntk": max(float(w2 @ df2 - np.sum(n * a * a) / variance), 0.0),
            "degree": int(degree), "variance": variance}


def Hermite(coeffs: Sequence[float]):
    """``f(x) = Σ_n coeffs[n]·He_n(x)/√(n!)`` (normalized probabilists' Hermite basis)."""
    c = np.asarray(coeffs, dtype=float)
    if c.ndim != 1 or c.size == 0 or not np.all(np.isfinite(c)):
        raise ValueError(f"coeffs must be a non-empty finite 1-d sequence, got {coeffs!r}")
    deg = c.size - 1
    if deg > hermite.MAX_DEGREE:
        raise hermite.HermiteDegreeError(f"coeffs: degree {deg} > MAX_DEGREE = {hermite.MAX_DEGREE}")
    cj = jnp.asarray(c)

    def fn(x):  # Σ c_n h_n(x) with the normalized recurrence h_{n+1} = (x h_n − √n h_{n−1})/√(n+1)
        h_prev, h = jnp.ones_like(x), x
        out = cj[0] * h_prev
        if deg >= 1:
            out = out + cj[1] * h
        for n in range(1, deg):
            h_prev, h = h, (x * h - math.sqrt(n) * h_prev) / math.sqrt(n + 1)
            out = out + cj[n + 1] * h
        return out

    return activation_layer(fn, _hermite_dual(fn, deg, max(2 * deg + 2, 16)))
