"""theory.hermite: coefficients vs adaptive quadrature / sympy, dual series vs closed forms."""
import math

import numpy as np
import pytest
import sympy as sp
from scipy import integrate, special

from theory import dual_activations as da
from theory import hermite


def _quad_coeff(fn, n, scale=1.0):
    """Independent reference: scipy adaptive quad of σ(s z) He_n(z) φ(z)/√n!, split at 0 (kinks)."""
    he = special.eval_hermitenorm
    f = lambda z: fn(scale * z) * he(n, z) * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    lo, _ = integrate.quad(f, -40.0, 0.0, epsabs=1e-13, epsrel=1e-12, limit=400)
    hi, _ = integrate.quad(f, 0.0, 40.0, epsabs=1e-13, epsrel=1e-12, limit=400)
    return (lo + hi) / math.sqrt(math.factorial(n))


def test_relu_closed_form_vs_sympy():
    # exact symbolic integrals, n <= 8 (sympy integrates polynomial x Gaussian exactly)
    z = sp.symbols("z", real=True)
    a = hermite.hermite_coefficients("relu", 8)
    for n in range(9):
        expr = z * sp.hermite_prob(n, z) * sp.exp(-z ** 2 / 2) / sp.sqrt(2 * sp.pi)
        ref = sp.integrate(expr, (z, 0, sp.oo)) / sp.sqrt(sp.factorial(n))
        assert a[n] == pytest.approx(float(ref), abs=1e-14)


@pytest.mark.parametrize("name", ["erf", "gelu", "sin", "tanh"])
@pytest.mark.parametrize("scale", [1.0, 0.7])
def test_smooth_coefficients_vs_adaptive_quad(name, scale):
    a = hermite.hermite_coefficients(name, 10, scale=scale)
    ref = [_quad_coeff(hermite.ACTIVATIONS[name], n, scale) for n in range(11)]
    np.testing.assert_allclose(a, ref, atol=1e-10)  # two quadratures of smooth integrands agree to ~1e-12


def test_parity_and_relu_high_degree():
    # erf, sin, tanh odd -> even coefficients vanish; gelu - x/2 is even -> odd n >= 3 vanish
    for name in ("erf", "sin", "tanh"):
        assert np.max(np.abs(hermite.hermite_coefficients(name, 12)[0::2])) < 1e-13
    assert np.max(np.abs(hermite.hermite_coefficients("gelu", 13)[3::2])) < 1e-13
    a = hermite.hermite_coefficients("relu", 400)
    assert np.all(a[3::2] == 0) and np.all(np.isfinite(a))
    # squared coefficients sum to E[relu^2] = 1/2; tail ~ D^{-1/2} -> at D = 400 still > 0 and < 1e-2
    tail = 0.5 - np.sum(a ** 2)
    assert 0 < tail < 1e-2


@pytest.mark.parametrize("degree", [2, 6, 20, 80])
def test_relu_dual_series_vs_arccos(degree):
    rho = np.linspace(-1.0, 1.0, 41)
    a = hermite.hermite_coefficients("relu", degree)
    bound = hermite.truncation_bound("relu", degree)
    err = np.abs(hermite.dual_series(a, rho) - np.asarray(da.arccos1(rho)) / 2)
    assert np.max(err) <= bound + 1e-14
    assert err[-1] == pytest.approx(bound, abs=1e-13)  # attained at rho = 1
    # derivative's dual: relu' = step -> arccos0/2; series converges slowly, check interior points only
    inner = np.abs(rho) <= 0.5
    derr = np.abs(hermite.dual_derivative_series(a, rho) - np.asarray(da.arccos0(rho)) / 2)[inner]
    assert np.max(derr) <= 0.5 ** (degree - 1) + 1e-14  # n a_n^2 <= 1, geometric tail at |rho| <= 1/2


@pytest.mark.parametrize("q1,q2", [(1.0, 1.0), (0.5, 2.0)])
def test_erf_and_gelu_dual_general_variance(q1, q2):
    rho = np.linspace(-1.0, 1.0, 21)
    q12 = rho * math.sqrt(q1 * q2)
    for name, closed in (("erf", da.erf), ("gelu", da.gelu)):
        a1 = hermite.hermite_coefficients(name, 30, scale=math.sqrt(q1))
        a2 = hermite.hermite_coefficients(name, 30, scale=math.sqrt(q2))
        ref = np.asarray(closed(q1, q2, q12)[0])  # (T, Tdot)
        got = hermite.dual_series(a1, rho, coeffs2=a2)
        b = math.sqrt(hermite.truncation_bound(name, 30, scale=math.sqrt(q1))
                      * hermite.truncation_bound(name, 30, scale=math.sqrt(q2)))
        assert np.max(np.abs(got - ref)) <= b + 1e-10


def test_bad_inputs():
    with pytest.raises(ValueError, match="degree"):
        hermite.hermite_coefficients("relu", -1)
    with pytest.raises(TypeError, match="degree"):
        hermite.hermite_coefficients("relu", 2.5)
    with pytest.raises(ValueError, match="activation"):
        hermite.hermite_coefficients("swish42", 3)
    with pytest.raises(ValueError, match="scale"):
        hermite.hermite_coefficients("erf", 3, scale=0.0)
    with pytest.raises(TypeError, match="coeffs"):
        hermite.dual_series(np.ones(3, dtype=np.float32), np.zeros(2))
    with pytest.raises(ValueError, match="rho"):
        hermite.dual_series(np.ones(3), np.array([np.nan]))
    with np.errstate(over="ignore"), pytest.raises(ValueError, match="finite"):
        hermite.hermite_coefficients(lambda x: np.exp(x ** 2), 3)


@pytest.mark.parametrize("degree", [10, 171, 400, hermite.MAX_DEGREE])
def test_stable_basis_is_exact_past_factorial_overflow(degree):
    # numpy's hermegauss / float(n!) overflow from degree ~171 on; the log-space basis stays exact:
    # z³ = √6 h_3 + 3 h_1 (a polynomial: Gauss quadrature is exact), tanh against the 200-node
    # numpy quadrature for n < 60, and the Christoffel weights give the orthonormal Gram of ψ_n
    z, basis = hermite.gauss_hermite_basis(degree, 2 * degree + 2)
    ref = np.zeros(degree + 1)
    ref[1], ref[3] = 3.0, np.sqrt(6.0)
    np.testing.assert_allclose(basis @ z ** 3, ref, atol=1e-11)
    zt, bt = hermite.gauss_hermite_basis(59, max(2 * degree + 2, 200))
    np.testing.assert_allclose(bt @ np.tanh(zt), hermite.hermite_coefficients("tanh", 59), atol=1e-12)
    m_all, log_all = hermite._log_psi(z, 2 * degree + 1)
    top = log_all.max(axis=0)
    psi = (m_all * np.exp(log_all - top))[:degree + 1]  # ψ_n e^{-top}: the Gram below is scale-free
    norm = np.sum((m_all * np.exp(log_all - top)) ** 2, axis=0)
    np.testing.assert_allclose((psi / norm) @ psi.T, np.eye(degree + 1), atol=1e-12)
    assert basis[0].sum() == pytest.approx(1.0, abs=1e-13)


def test_degree_past_supported_is_a_named_error():
    with pytest.raises(hermite.HermiteDegreeError, match="MAX_DEGREE"):
        hermite.gauss_hermite_basis(hermite.MAX_DEGREE + 1, 2 * hermite.MAX_DEGREE + 4)
    assert issubclass(hermite.HermiteDegreeError, ValueError)
