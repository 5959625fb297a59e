"""Exact NNGP/NTK (sims.kernels.stax, theory.dual_activations) against independent references.

References: 2-d Gauss-Hermite / 1-d quadrature of E[f(u)f(v)] (scipy), Monte Carlo over finite networks
(tolerance ~5σ/√N from the sample spread), the former KIP kernel tests/kip_reference.py (a second
implementation), and the unit-sphere arc-cosine closed forms.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate
from scipy.special import erf as sp_erf

from sims.kernels import kernel_matrix, stax
from theory import dual_activations as dual


def _gauss_expect(f, g, q11, q22, q12, n=120):
    """E[f(u) g(v)] by 2-d Gauss-Hermite on the Cholesky factor (smooth f, g)."""
    z, w = np.polynomial.hermite_e.hermegauss(n)
    w = w / np.sqrt(2 * np.pi)
    l11 = np.sqrt(q11); l21 = q12 / l11; l22 = np.sqrt(max(q22 - l21 ** 2, 0.0))
    u = l11 * z[:, None]; v = l21 * z[:, None] + l22 * z[None, :]
    return float(np.sum(w[:, None] * w[None, :] * f(u) * g(v)))


def _relu_expect(q11, q22, q12, deg):
    """E[step^deg... ] for ReLU (deg=1) or step (deg=0) by adaptive quadrature over the angle."""
    # u = √q11 r cos a, v = √q22 r (ρ cos a + √(1-ρ²) sin a); integrate in polar coordinates
    rho = q12 / np.sqrt(q11 * q22)
    s = np.sqrt(1 - rho ** 2)
    def inner(a):
        cu, cv = np.cos(a), rho * np.cos(a) + s * np.sin(a)
        if cu <= 0 or cv <= 0:
            return 0.0
        # ∫ r^{2deg} r e^{-r²/2} dr /(2π) = 2^deg deg! /(2π)
        return (cu * cv) ** deg * (2.0 if deg == 1 else 1.0) / (2 * np.pi)
    a0 = np.arctan2(-rho, s)  # zero of cv; breakpoints at every sign change of cu, cv
    pts = sorted({-np.pi / 2, np.pi / 2, a0, a0 + np.pi if a0 < 0 else a0 - np.pi})
    val, _ = integrate.quad(inner, -np.pi, np.pi, points=pts, limit=200, epsabs=1e-13)
    return val * (np.sqrt(q11 * q22) if deg == 1 else 1.0)


@pytest.mark.parametrize("q", [(1.0, 1.0, 0.3), (2.0, 0.5, -0.7), (0.7, 1.3, 0.9)])
def test_relu_dual_matches_quadrature(q):
    t, tdot = dual.abrelu(*map(jnp.asarray, q))
    assert float(t) == pytest.approx(_relu_expect(*q, 1), abs=1e-9)
    assert float(tdot) == pytest.approx(_relu_expect(*q, 0), abs=1e-9)


@pytest.mark.parametrize("rho", [-0.9, -0.2, 0.0, 0.5, 0.99])
def test_arccos_unit_sphere_relation(rho):
    # ReLU dual on the unit sphere is κ1/2 and its derivative κ0/2 (Cho & Saul 2009); κ0 = dκ1/dρ
    t, tdot = dual.abrelu(jnp.asarray(1.0), jnp.asarray(1.0), jnp.asarray(rho))
    assert float(t) == pytest.approx(float(dual.arccos1(rho)) / 2, abs=1e-14)
    assert float(tdot) == pytest.approx(float(dual.arccos0(rho)) / 2, abs=1e-14)
    assert float(jax.grad(dual.arccos1)(rho)) == pytest.approx(float(dual.arccos0(rho)), abs=1e-10)


@pytest.mark.parametrize("name,f,df,dualf", [
    ("erf", sp_erf, lambda x: 2 / np.sqrt(np.pi) * np.exp(-x ** 2), dual.erf),
    ("sin", np.sin, np.cos, dual.sin),
    ("gelu", lambda x: x * 0.5 * (1 + sp_erf(x / np.sqrt(2))),
     lambda x: 0.5 * (1 + sp_erf(x / np.sqrt(2))) + x * np.exp(-x ** 2 / 2) / np.sqrt(2 * np.pi), dual.gelu),
    ("mono3", lambda x: x ** 3, lambda x: 3 * x ** 2, lambda a, b, c: dual.monomial(a, b, c, degree=3)),
])
@pytest.mark.parametrize("q", [(1.0, 1.0, 0.3), (2.0, 0.5, -0.7), (0.4, 1.3, 0.6)])
def test_smooth_duals_match_gauss_hermite(name, f, df, dualf, q):
    t, tdot = dualf(*map(jnp.asarray, q))
    # smooth integrands: 120x120 Gauss-Hermite is accurate to ~1e-10 here
    assert float(t) == pytest.approx(_gauss_expect(f, f, *q), abs=1e-8)
    assert float(tdot) == pytest.approx(_gauss_expect(df, df, *q), abs=1e-8)


def _net(W=1.5, b=0.05, act=stax.Relu, width=512):
    return stax.serial(stax.Dense(width, W_std=W, b_std=b), act(), stax.Dense(1, W_std=W, b_std=b))


def test_fc_matches_kip_reference(rng):
    from kip_reference import relu_fc1_kernel
    x1, x2 = rng.normal(size=(6, 9)), rng.normal(size=(4, 9))
    _, _, kf = _net(W=2 ** 0.5, b=0.1)
    for g in ("nngp", "ntk"):
        np.testing.assert_allclose(kf(x1, x2, get=g), relu_fc1_kernel(x1, x2, get=g, W_std=2 ** 0.5, b_std=0.1),
                                   rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("act", [stax.Relu, stax.Erf, stax.Gelu])
def test_nngp_matches_monte_carlo_of_finite_nets(rng, act):
    # NNGP = E_params[f(x) f(x')]: average over n_nets networks with a wide final layer (k outputs each)
    x = rng.normal(size=(4, 5))
    init_fn, apply_fn, kernel_fn = stax.serial(stax.Dense(64, W_std=1.5, b_std=0.05), act(),
                                               stax.Dense(64, W_std=1.5, b_std=0.05), act(),
                                               stax.Dense(256, W_std=1.5, b_std=0.05))
    exact = np.asarray(kernel_fn(x, None, get="nngp"))
    keys = jax.random.split(jax.random.key(0), 64)

    @jax.jit
    def emp(key):
        _, p = init_fn(key, x.shape)
        y = apply_fn(p, x)
        return y @ y.T / y.shape[1]

    samples = np.asarray(jax.vmap(emp)(keys))
    mean, se = samples.mean(0), samples.std(0) / np.sqrt(len(keys))
    # finite-width bias of a width-64 hidden layer is O(1/64) relative; MC spread 5σ
    assert np.all(np.abs(mean - exact) <= 5 * se + 0.03 * np.abs(exact).max())


def test_kernel_matrix_blocks_equal_unbatched(rng):
    x1, x2 = rng.normal(size=(7, 3)), rng.normal(size=(5, 3))
    _, _, kf = _net()
    for g in ("nngp", "ntk"):
        np.testing.assert_allclose(kernel_matrix(kf, x1, x2, get=g, batch_size=3), kf(x1, x2, get=g), rtol=1e-13)
    both = kernel_matrix(kf, x1, get=("nngp", "ntk"), batch_size=4)
    np.testing.assert_allclose(both.ntk, kf(x1, None, get="ntk"), rtol=1e-13)


def test_kernel_matrix_traces_once_per_sweep(rng):
    traces = []
    _, _, kf0 = _net()

    def kf(a, b, get):
        traces.append(1)
        return kf0(a, b, get=get)

    x = rng.normal(size=(10, 3))
    kernel_matrix(kf, x, rng.normal(size=(7, 3)), get="ntk", batch_size=4)
    kernel_matrix(kf, x, rng.normal(size=(8, 3)), get="ntk", batch_size=4)
    assert len(traces) == 1


def test_bad_inputs(rng):
    _, _, kf = _net()
    with pytest.raises(TypeError, match="x1 must be float64"):
        kf(np.ones((2, 3), np.float32), get="ntk")
    with pytest.raises(ValueError, match="x1 contains non-finite"):
        kf(np.array([[np.nan, 1.0]]), get="ntk")
    with pytest.raises(ValueError, match="x2 must have per-example shape"):
        kf(rng.normal(size=(2, 3)), rng.normal(size=(2, 4)), get="ntk")
    with pytest.raises(ValueError, match="get must be"):
        kf(rng.normal(size=(2, 3)), get="foo")
    with pytest.raises(ValueError, match="out_dim"):
        stax.Dense(0)
    with pytest.raises(ValueError, match="parameterization"):
        stax.Dense(3, parameterization="mup")
    with pytest.raises(TypeError, match="layers\\[1\\]"):
        stax.serial(stax.Dense(3), stax.Relu)
    _, _, kc = stax.serial(stax.Conv(4, (3, 3)), stax.Relu())
    with pytest.raises(ValueError, match="spatial axes"):
        kc(rng.normal(size=(2, 5)), get="nngp")
    with pytest.raises(ValueError, match="batch_size"):
        kernel_matrix(kf, rng.normal(size=(2, 3)), get="ntk", batch_size=0)


def test_hermite_layers_match_closed_forms(rng):
    # x^3 = He_3 + 3 He_1 = √6 h_3 + 3 h_1: Hermite dual (non-unit variances) equals Isserlis' closed form
    x1, x2 = rng.normal(size=(3, 4)) * 1.7, rng.normal(size=(2, 4)) * 0.6
    def net(act):
        return stax.serial(stax.Dense(8, W_std=1.1, b_std=0.3), act, stax.Dense(1))[2]
    kh, km = net(stax.Hermite([0.0, 3.0, 0.0, np.sqrt(6.0)])), net(stax.Monomial(3))
    for g in ("nngp", "ntk"):
        np.testing.assert_allclose(kh(x1, x2, get=g), km(x1, x2, get=g), rtol=1e-11)
    # smooth erf: its Hermite series truncated at degree 41 (variances up to ~4 here) is within ~1e-5
    ke, kx = net(stax.ElementwiseHermite(jax.scipy.special.erf, 41)), net(stax.Erf())
    for g in ("nngp", "ntk"):
        np.testing.assert_allclose(ke(x1, x2, get=g), kx(x1, x2, get=g), rtol=3e-5, atol=1e-6)
    with pytest.raises(ValueError, match="coeffs"):
        stax.Hermite([np.inf])
    with pytest.raises(TypeError, match="fn must be callable"):
        stax.ElementwiseHermite(3.0, 4)


@pytest.mark.parametrize("get", ["nngp", "ntk"])
def test_conv_gap_matches_kip_conv_reference(rng, get):
    # second implementation (patch inner products, tests/kip_reference.py) of Conv(3x3,SAME)-Relu-GAP-Dense
    from kip_reference import relu_conv_gap_kernel
    x1, x2 = rng.normal(size=(3, 5, 4, 2)), rng.normal(size=(2, 5, 4, 2))
    w, b = 2 ** 0.5, 0.1
    _, _, kf = stax.serial(stax.Conv(16, (3, 3), padding="SAME", W_std=w, b_std=b), stax.Relu(),
                           stax.GlobalAvgPool(), stax.Dense(1, W_std=w, b_std=b))
    np.testing.assert_allclose(kf(x1, x2, get=get), relu_conv_gap_kernel(x1, x2, get=get, W_std=w, b_std=b),
                               rtol=1e-11, atol=1e-13)


def test_avgpool_too_small_input_is_a_clear_error(rng):
    _, _, kf = stax.serial(stax.Conv(4, (3, 3), padding="SAME"), stax.Relu(), stax.AvgPool((4, 4)))
    with pytest.raises(ValueError, match="AvgPool.*spatial size"):
        kf(rng.normal(size=(2, 3, 3, 1)), get="nngp")


def test_kernels_symmetric_psd_and_ntk_dominates_nngp():
    # properties that hold for any inputs: K(x, x) symmetric PSD, and NTK - NNGP = W²·(ntk ⊙ Ṫ) is PSD (Schur product)
    from hypothesis import given, settings, strategies as st
    from hypothesis.extra.numpy import arrays

    _, _, kf = stax.serial(stax.Dense(16, W_std=1.4, b_std=0.1), stax.Gelu(), stax.Dense(16, W_std=1.4),
                           stax.Relu(), stax.Dense(1, W_std=1.4, b_std=0.1))
    kj = jax.jit(kf, static_argnames="get")

    @settings(max_examples=25, deadline=None, derandomize=True)
    @given(arrays(np.float64, (6, 3), elements=st.floats(-3, 3)))
    def prop(x):
        k = kj(x, None, get=("nngp", "ntk"))
        for m in (k.nngp, k.ntk, k.ntk - k.nngp):
            m = np.asarray(m)
            np.testing.assert_allclose(m, m.T, atol=1e-12)
            assert np.linalg.eigvalsh(m).min() > -1e-9 * max(1.0, np.abs(m).max())

    prop()


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("strides", [(1, 1), (2, 3)])
def test_conv_kernel_equals_patch_inner_products(rng, padding, strides):
    # independent reference: XLA's own patches (its SAME padding) give Σ¹ = W²·<patch, patch'>/(C·F) + b²
    x1, x2 = rng.normal(size=(2, 7, 6, 2)), rng.normal(size=(3, 7, 6, 2))
    w, b = 1.3, 0.2
    got = stax.serial(stax.Conv(4, (3, 2), strides=strides, padding=padding, W_std=w, b_std=b))[2](x1, x2, get="nngp")
    def patches(x):
        return jax.lax.conv_general_dilated_patches(jnp.asarray(x), (3, 2), strides, padding,
                                                    dimension_numbers=("NHWC", "HWIO", "NHWC"))
    p1, p2 = patches(x1), patches(x2)
    ref = w ** 2 * jnp.einsum("ahwk,bHWk->abhwHW", p1, p2) / p1.shape[-1] + b ** 2
    np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-14)


# -- the activation list of issue #4: every dual map against an independent reference ----------------

def _abrelu_reference(q11, q22, q12, a, b):
    # f = b relu(x) - a relu(-x): expand E[f(u) f(v)] into ReLU / step quadratures with sign flips
    r = lambda c, d: _relu_expect(q11, q22, c, d)  # noqa: E731
    t = (b * b + a * a) * r(q12, 1) - 2 * a * b * r(-q12, 1)
    # f' = b 1[x>0] + a 1[x<0]: E[f'(u) f'(v)] = (a² + b²) P(u>0, v>0) + 2ab P(u>0, v<0)
    tdot = (a * a + b * b) * r(q12, 0) + 2 * a * b * r(-q12, 0)
    return t, tdot


@pytest.mark.parametrize("a,b", [(-0.3, 1.2), (0.1, 1.0), (-1.0, 1.0)])  # ABRelu, LeakyRelu(0.1), Abs
@pytest.mark.parametrize("q", [(1.0, 1.0, 0.3), (2.0, 0.5, -0.7)])
def test_abrelu_dual_matches_quadrature(a, b, q):
    t, tdot = dual.abrelu(*map(jnp.asarray, q), a=a, b=b)
    rt, rtdot = _abrelu_reference(*q, a, b)
    assert float(t) == pytest.approx(rt, abs=1e-9) and float(tdot) == pytest.approx(rtdot, abs=1e-9)


@pytest.mark.parametrize("degree", range(6))
def test_monomial_duals_match_gauss_hermite(degree):
    # polynomial integrands: 120-node Gauss-Hermite is exact up to round-off
    q = (0.8, 1.7, -0.5)
    t, tdot = dual.monomial(*map(jnp.asarray, q), degree=degree)
    f = lambda x: x ** degree  # noqa: E731
    df = (lambda x: degree * x ** (degree - 1)) if degree else (lambda x: 0 * x)
    assert float(t) == pytest.approx(_gauss_expect(f, f, *q), rel=1e-11, abs=1e-12)
    assert float(tdot) == pytest.approx(_gauss_expect(df, df, *q), rel=1e-11, abs=1e-12)


def test_sin_with_amplitude_frequency_phase_matches_gauss_hermite():
    a, b, c, q = 1.3, 0.7, 0.4, (1.2, 0.6, 0.5)
    t, tdot = dual.sin(*map(jnp.asarray, q), a=a, b=b, c=c)
    f, df = (lambda x: a * np.sin(b * x + c)), (lambda x: a * b * np.cos(b * x + c))
    assert float(t) == pytest.approx(_gauss_expect(f, f, *q), abs=1e-10)
    assert float(tdot) == pytest.approx(_gauss_expect(df, df, *q), abs=1e-10)


def _exp_normalized_fns(gamma, shift, s):
    # the fixed-variance realization of theory.dual_activations.exp_normalized (see its docstring)
    c = np.exp(gamma * (1 + shift) / 2)
    f = lambda u: c * s * np.exp(np.sqrt(gamma) * u / s - gamma)  # noqa: E731
    df = lambda u: c * np.sqrt(gamma) * np.exp(np.sqrt(gamma) * u / s - gamma)  # noqa: E731
    return f, df


@pytest.mark.parametrize("gamma,shift", [(1.0, -1.0), (0.6, 0.2)])
def test_exp_normalized_closed_form(gamma, shift):
    q11, q22, q12 = 1.7, 0.4, -0.5
    t, tdot = dual.exp_normalized(jnp.asarray(q11), jnp.asarray(q22), jnp.asarray(q12), gamma=gamma, shift=shift)
    p = np.sqrt(q11 * q22)
    assert float(t) == pytest.approx(p * np.exp(gamma * (q12 / p + shift)), rel=1e-14)
    # Price's theorem: Ṫ = ∂T/∂q12 (autodiff), and E[f1'(u) f2'(v)] by Gauss-Hermite (smooth)
    g = jax.grad(lambda c: dual.exp_normalized(jnp.asarray(q11), jnp.asarray(q22), c, gamma=gamma, shift=shift)[0])
    assert float(tdot) == pytest.approx(float(g(jnp.asarray(q12))), rel=1e-13)
    (f1, df1), (f2, df2) = _exp_normalized_fns(gamma, shift, np.sqrt(q11)), _exp_normalized_fns(gamma, shift, np.sqrt(q22))
    assert float(t) == pytest.approx(_gauss_expect(f1, f2, q11, q22, q12), rel=1e-10)
    assert float(tdot) == pytest.approx(_gauss_expect(df1, df2, q11, q22, q12), rel=1e-10)


def test_exp_normalized_network_is_normalized_gaussian_kernel(rng):
    # Dense(W=1, no bias) then ExpNormalized(γ, -1) then Dense(W=1): NNGP = ‖x‖‖y‖/d · exp(-γ‖x̂ - ŷ‖²/2)
    x = rng.normal(size=(5, 6))
    gamma = 0.8
    init_fn, apply_fn, kf = stax.serial(stax.Dense(4), stax.ExpNormalized(gamma=gamma), stax.Dense(1))
    nrm = np.linalg.norm(x, axis=1)
    xh = x / nrm[:, None]
    d2 = ((xh[:, None] - xh[None]) ** 2).sum(-1)
    ref = np.outer(nrm, nrm) / 6 * np.exp(-gamma * d2 / 2)
    np.testing.assert_allclose(kf(x, get="nngp"), ref, rtol=1e-12)
    # NTK diagonal: Dense gives ntk = q; the activation multiplies by Ṫ = γ (ρ = 1, shift = -1); Dense adds q
    np.testing.assert_allclose(np.diag(kf(x, get="ntk")), (1 + gamma) * nrm ** 2 / 6, rtol=1e-12)
    _, params = init_fn(jax.random.key(0), x.shape)
    with pytest.raises(NotImplementedError, match="ExpNormalized has no finite-width apply_fn"):
        apply_fn(params, x)


def _mc_pairs(q11, q22, q12, n, seed):
    z = np.random.default_rng(seed).normal(size=(2, n))
    u = np.sqrt(q11) * z[0]
    v = q12 / np.sqrt(q11) * z[0] + np.sqrt(q22 - q12 ** 2 / q11) * z[1]
    return u, v


_MC_CASES = {
    "relu": (lambda x: np.maximum(x, 0), lambda x: (x > 0) * 1.0, lambda *q: dual.abrelu(*q)),
    "abrelu": (lambda x: np.where(x > 0, 1.2 * x, -0.3 * x), lambda x: np.where(x > 0, 1.2, -0.3),
               lambda *q: dual.abrelu(*q, a=-0.3, b=1.2)),
    "erf": (sp_erf, lambda x: 2 / np.sqrt(np.pi) * np.exp(-x ** 2), dual.erf),
    "gelu": (lambda x: x * 0.5 * (1 + sp_erf(x / np.sqrt(2))),
             lambda x: 0.5 * (1 + sp_erf(x / np.sqrt(2))) + x * np.exp(-x ** 2 / 2) / np.sqrt(2 * np.pi), dual.gelu),
    "sin": (lambda x: 1.3 * np.sin(0.7 * x + 0.4), lambda x: 0.91 * np.cos(0.7 * x + 0.4),
            lambda *q: dual.sin(*q, a=1.3, b=0.7, c=0.4)),
    "monomial2": (lambda x: x ** 2, lambda x: 2 * x, lambda *q: dual.monomial(*q, degree=2)),
}


@pytest.mark.parametrize("name", list(_MC_CASES) + ["exp_normalized"])
def test_dual_maps_match_monte_carlo(name):
    # E[f(u)f(v)], E[f'(u)f'(v)] over N bivariate normal pairs (seed 7); tolerance 5σ/√N from the sample spread
    q11, q22, q12, n = 1.3, 0.7, 0.45, 1 << 18
    u, v = _mc_pairs(q11, q22, q12, n, seed=7)
    if name == "exp_normalized":
        (f1, df1), (f2, df2) = (_exp_normalized_fns(0.6, 0.2, np.sqrt(q)) for q in (q11, q22))
        dual_fn = lambda *q: dual.exp_normalized(*q, gamma=0.6, shift=0.2)  # noqa: E731
    else:
        f1, df1, dual_fn = _MC_CASES[name]
        f2, df2 = f1, df1
    t, tdot = dual_fn(jnp.asarray(q11), jnp.asarray(q22), jnp.asarray(q12))
    for exact, s in ((t, f1(u) * f2(v)), (tdot, df1(u) * df2(v))):
        assert abs(float(exact) - s.mean()) <= 5 * s.std() / np.sqrt(n), name


def test_elementwise_hermite_tanh_within_truncation_bound():
    # tanh has no closed-form dual: truncated Hermite dual vs 2-d Gauss-Hermite of tanh itself, error <= the
    # Cauchy-Schwarz truncation bound sqrt(tail(s1) tail(s2)) of theory.hermite (plus quadrature error 1e-9)
    from theory.hermite import truncation_bound
    deg = 15
    layer = stax.ElementwiseHermite("tanh", deg)
    q11, q22, q12 = 0.9, 1.6, 0.7
    k = stax.Kernel(jnp.asarray([[q12]]), jnp.ones((1, 1)), jnp.asarray([q11]), jnp.asarray([q22]), 0, 1)
    out = layer.kernel_fn(k)
    bound = np.sqrt(truncation_bound("tanh", deg, scale=np.sqrt(q11)) * truncation_bound("tanh", deg, scale=np.sqrt(q22)))
    ref = _gauss_expect(np.tanh, np.tanh, q11, q22, q12)
    assert abs(float(out.nngp[0, 0]) - ref) <= bound + 1e-9
    assert 0 < bound < 1e-3  # the check is not vacuous


# -- bad input: clear ValueError / TypeError naming the argument -------------------------------------

def test_bad_inputs_layers_and_shapes(rng):
    img = rng.normal(size=(2, 4, 4, 3))
    _, _, kv = stax.serial(stax.Conv(4, (5, 5), padding="VALID"), stax.Relu())
    with pytest.raises(ValueError, match=r"x: Conv .*VALID.* spatial size"):
        kv(img, get="nngp")
    _, _, kg = stax.serial(stax.Dense(4), stax.Relu(), stax.GlobalAvgPool())
    with pytest.raises(ValueError, match="GlobalAvgPool needs inputs with spatial axes"):
        kg(rng.normal(size=(2, 3)), get="nngp")
    with pytest.raises(ValueError, match="filter_shape"):
        stax.Conv(4, (0, 3))
    with pytest.raises(TypeError, match="filter_shape"):
        stax.Conv(4, 3)
    with pytest.raises(ValueError, match="strides"):
        stax.Conv(4, (3, 3), strides=(1,))
    with pytest.raises(ValueError, match="window_shape"):
        stax.AvgPool((2, -1))
    _, _, kf = _net()
    with pytest.raises(ValueError, match=r"x1 must have shape \(n, \*spatial, channels\)"):
        kf(np.zeros((0, 3)), get="nngp")
    with pytest.raises(ValueError, match="x2 contains non-finite"):
        kf(rng.normal(size=(2, 3)), np.array([[1.0, np.inf, 0.0]]), get="nngp")
    with pytest.raises(TypeError, match="x1 must be an array"):
        kf([[1.0, 2.0, 3.0]], get="nngp")
    with pytest.raises(TypeError, match="x2 must be float64"):
        kf(rng.normal(size=(2, 3)), np.ones((2, 3), np.float32), get="nngp")
    with pytest.raises(ValueError, match="AvgPool.*spatial size"):
        # shape errors are raised while tracing (eval_shape: nothing is computed)
        jax.eval_shape(lambda a: stax.Myrtle(5)[2](a, get="nngp"), jnp.zeros((1, 8, 8, 3)))


def test_bad_inputs_activations():
    with pytest.raises(ValueError, match=r"fn: activation 'swish' has no Hermite coefficients.*'tanh'"):
        stax.ElementwiseHermite("swish", 4)
    with pytest.raises(TypeError, match="fn must be jax-traceable"):
        stax.ElementwiseHermite(lambda x: float(x[0]), 4)
    with pytest.raises(ValueError, match="fn must be elementwise"):
        stax.ElementwiseHermite(lambda x: x.sum(), 4)
    for bad in (0, -2):
        with pytest.raises(ValueError, match="degree must be >= 1"):
            stax.ElementwiseHermite("erf", bad)
    with pytest.raises(TypeError, match="degree must be an int"):
        stax.ElementwiseHermite("erf", 2.5)
    with pytest.raises(ValueError, match="nodes must be"):
        stax.ElementwiseHermite("erf", 8, nodes=3)
    with pytest.raises(ValueError, match="degree must be an int in 0..5"):
        stax.Monomial(6)
    with pytest.raises(ValueError, match="gamma must be >= 0"):
        stax.ExpNormalized(gamma=-1.0)
    with pytest.raises(ValueError, match="shift must be a finite number"):
        stax.ExpNormalized(shift=np.nan)
    with pytest.raises(ValueError, match="alpha must be a finite number"):
        stax.LeakyRelu(np.inf)
    with pytest.raises(ValueError, match="b must be a finite number"):
        stax.Sin(b=np.nan)
    from theory.hermite import hermite_coefficients
    with pytest.raises(ValueError, match="has no Hermite coefficients"):
        hermite_coefficients("swish", 4)
    with pytest.raises(ValueError, match="degree must be >= 0"):
        hermite_coefficients("erf", -1)


def test_conv_kernel_paths_agree_and_differentiate(rng):
    # the fast paths (patch Gram for the first Conv, NTK skipped for get='nngp', nngp + i·ntk packing around
    # Conv/GAP) against each other, and autodiff against central finite differences (h = 1e-5, error ~h²)
    x1, x2 = rng.normal(size=(2, 4, 3, 2)), rng.normal(size=(2, 4, 3, 2))
    _, _, kf = stax.serial(stax.Conv(8, (3, 3), padding="SAME", W_std=1.4, b_std=0.1), stax.Relu(),
                           stax.Conv(8, (2, 3), padding="VALID", W_std=1.3), stax.Gelu(),
                           stax.GlobalAvgPool(), stax.Dense(1, W_std=1.2, b_std=0.1))
    kj = jax.jit(kf, static_argnames="get")
    both = kj(x1, x2, get=("nngp", "ntk"))
    np.testing.assert_allclose(kj(x1, x2, get="nngp"), both.nngp, rtol=1e-14)
    full = kj(x1, x2)
    np.testing.assert_allclose(full.ntk, both.ntk, rtol=1e-14)
    np.testing.assert_allclose(kj(x1, None, get="ntk"), kj(x1, x1 + 0.0, get="ntk"), rtol=1e-13)
    f = jax.jit(lambda a: jnp.sum(kf(a, x2, get="ntk") ** 2))
    v = rng.normal(size=x1.shape)
    g = float(jnp.vdot(jax.jit(jax.grad(f))(jnp.asarray(x1)), v))
    h = 1e-5
    fd = (float(f(x1 + h * v)) - float(f(x1 - h * v))) / (2 * h)
    assert g == pytest.approx(fd, rel=1e-6)


def test_kernel_matrix_symmetric_mode_mirrors_blocks(rng):
    # x2=None evaluates the blocks j >= i only and mirrors the rest: same values, exactly symmetric
    x = rng.normal(size=(9, 3))
    _, _, kf0 = _net()
    full = kernel_matrix(kf0, x, get=("nngp", "ntk"), batch_size=4, symmetric=False)
    sym = kernel_matrix(kf0, x, get=("nngp", "ntk"), batch_size=4)
    for a, b in zip(sym, full):
        np.testing.assert_allclose(a, b, rtol=1e-13)
        np.testing.assert_array_equal(a, np.asarray(a).T)  # exactly symmetric


def test_elementwise_hermite_high_degree_and_reported_truncation_error():
    # degree 200 (was OverflowError from degree 171): tanh at variance 7, ρ = 1 (x with itself).  The
    # reported tails are the exact errors there: T, Ṫ vs scipy adaptive quadrature of E[tanh²], E[tanh'²]
    from scipy import integrate
    from sims.kernels.activations import hermite_truncation_error
    from theory.hermite import HermiteDegreeError, MAX_DEGREE
    q, deg = 7.0, 200
    layer = stax.ElementwiseHermite("tanh", deg)
    k = stax.Kernel(jnp.asarray([[q]]), jnp.ones((1, 1)), jnp.asarray([q]), jnp.asarray([q]), 0, 1)
    out = layer.kernel_fn(k)
    phi = lambda z: np.exp(-z * z / 2) / np.sqrt(2 * np.pi)  # noqa: E731
    e_f2 = integrate.quad(lambda z: np.tanh(np.sqrt(q) * z) ** 2 * phi(z), -40, 40, epsabs=1e-14, limit=400)[0]
    e_d2 = integrate.quad(lambda z: (1 - np.tanh(np.sqrt(q) * z) ** 2) ** 2 * phi(z), -40, 40,
                          epsabs=1e-14, limit=400)[0]
    rep = hermite_truncation_error("tanh", deg, variance=q)
    assert e_f2 - float(out.nngp[0, 0]) == pytest.approx(rep["nngp"], rel=1e-3, abs=1e-12)
    assert e_d2 - float(out.ntk[0, 0]) == pytest.approx(rep["ntk"], rel=1e-3, abs=1e-12)
    assert 1e-9 < rep["ntk"] < 1e-4 and rep["nngp"] < rep["ntk"]  # not vacuous: the NTK tail is the larger
    with pytest.raises(HermiteDegreeError, match="MAX_DEGREE"):
        stax.ElementwiseHermite("tanh", MAX_DEGREE + 1)


def test_kernel_matrix_with_a_memory_bound_picks_a_fitting_block(rng):
    from sims.kernels.batching import block_memory, choose_batch_size

    _, _, kf = stax.serial(stax.Conv(4, (3, 3), padding="SAME"), stax.Relu(), stax.AvgPool((2, 2), strides=(2, 2)),
                           stax.Flatten(), stax.Dense(1))
    x = rng.normal(size=(21, 6, 6, 2))
    b = choose_batch_size(kf, x, get=("nngp", "ntk"), max_memory="4MB")
    assert block_memory(kf, x, get=("nngp", "ntk"), batch_size=b) <= 4e6           # fits ...
    assert b == 21 or block_memory(kf, x, get=("nngp", "ntk"), batch_size=b + 2) > 4e6   # ... and is not tiny
    ref = kernel_matrix(kf, x, get=("nngp", "ntk"), batch_size=5)
    got = kernel_matrix(kf, x, get=("nngp", "ntk"), max_memory="4MB")
    for a, r in zip(got, ref):
        np.testing.assert_allclose(a, r, rtol=1e-13, atol=1e-15)
    with pytest.raises(ValueError, match="max_memory must be bytes"):
        kernel_matrix(kf, x, get="ntk", max_memory="lots")
    with pytest.raises(ValueError, match="not both"):
        kernel_matrix(kf, x, get="ntk", max_memory=10 ** 9, batch_size=4)
    with pytest.raises(ValueError, match="even a 1x1 block"):
        kernel_matrix(kf, x, get="ntk", max_memory=100)


def test_kernel_matrix_resumes_from_finished_blocks_on_disk(rng, tmp_path):
    import json

    _, _, kf = _net(W=1.3, b=0.2)
    x = rng.normal(size=(19, 4))
    ref = kernel_matrix(kf, x, get=("nngp", "ntk"), batch_size=5)
    d = tmp_path / "K"
    first = kernel_matrix(kf, x, get=("nngp", "ntk"), batch_size=5, directory=d)
    for a, r in zip(first, ref):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(r))
    blocks = json.loads((d / "blocks.json").read_text())
    assert len(blocks) == 10 and [0, 5] in blocks          # 4x4 blocks, those on and above the diagonal
    # a "killed" run: only two blocks recorded; a recorded block keeps what is on disk (sentinel),
    # unrecorded ones (NaN) are recomputed
    (d / "blocks.json").write_text(json.dumps([[0, 0], [0, 5]]))
    mm = np.load(d / "ntk.npy", mmap_mode="r+")
    mm[5:, 5:] = np.nan                                    # blocks (5, 5) ... (15, 15) and
    mm[:5, 10:] = mm[10:, :5] = np.nan                     # (0, 10), (0, 15) with their mirrors
    mm[0, 7] = 123.0
    mm.flush()
    again = kernel_matrix(kf, x, get=("nngp", "ntk"), batch_size=5, directory=d)
    assert again.ntk[0, 7] == 123.0                        # block (0, 5) was not recomputed
    fixed = np.array(again.ntk)
    fixed[0, 7] = ref.ntk[0, 7]
    np.testing.assert_array_equal(fixed, np.asarray(ref.ntk))
    assert not np.any(np.isnan(np.asarray(again.ntk)))
    assert sorted(p.name for p in d.iterdir()) == ["blocks.json", "meta.json", "nngp.npy", "ntk.npy"]
    with pytest.raises(ValueError, match="another kernel matrix.*inputs"):
        kernel_matrix(kf, x + 1.0, get=("nngp", "ntk"), batch_size=5, directory=d)
    with pytest.raises(ValueError, match="another kernel matrix.*batch_size"):
        kernel_matrix(kf, x, get=("nngp", "ntk"), batch_size=4, directory=d)
