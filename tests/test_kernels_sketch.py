"""Sketched NNGP/NTK feature maps (sims.kernels.sketch) against independent references.

References: the Walsh–Hadamard matrix of scipy; exact inner products ⟨x,y⟩^k (unbiasedness over seeds,
tolerance 4σ/√seeds with σ the sample std); the arc-cosine closed forms of theory.dual_activations;
the exact kernels of sims.kernels.stax (closed-form duals); Hermite coefficients and truncation bounds
of theory.hermite.  Sketch errors are random: every such test fixes its keys, and bounds are ≥ 2× the
values measured with those keys (stated per test).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats
from scipy.linalg import hadamard

from sims.kernels import sketch, stax
from sims.kernels.sketch import polyfeatures, sketching
from theory import dual_activations, hermite


def _rel(a, b):
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(np.asarray(b)))


def _inputs(seed, n, d, *, spread=True):
    g = np.random.default_rng(seed)
    x = g.normal(size=(n, d))
    if spread:  # non-unit-norm rows: the radial factors / norm tracking must be right
        x *= g.uniform(0.5, 2.0, size=(n, 1))
    return x


def _pair_unit(rho, d, seed):
    g = np.random.default_rng(seed)
    q, _ = np.linalg.qr(g.normal(size=(d, 2)))
    return q[:, 0], rho * q[:, 0] + np.sqrt(1 - rho ** 2) * q[:, 1]


def _within(samples, target, k=4.0):
    s = np.asarray(samples)
    se = s.std(axis=0, ddof=1) / np.sqrt(s.shape[0])
    return np.abs(s.mean(axis=0) - target) <= k * se + 1e-12


# -- primitives --------------------------------------------------------------------------------

def test_fwht_is_orthonormal_hadamard():
    x = np.random.default_rng(0).normal(size=(3, 16))
    np.testing.assert_allclose(sketching.fwht(jnp.asarray(x)), x @ hadamard(16) / 4.0, atol=1e-14)
    with pytest.raises(ValueError, match="power-of-two"):
        sketching.fwht(jnp.ones((2, 6)))


def test_srht_and_tensor_srht_unbiased_variance_shrinks():
    """E⟨Sx,Sy⟩ = ⟨x,y⟩, E⟨T(x,y),T(x',y')⟩ = ⟨x,x'⟩⟨y,y'⟩ (4σ/√N, N = 3000 seeds); Var ∝ 1/m."""
    g = np.random.default_rng(1)
    x, xp = g.normal(size=(2, 30))
    y, yp = g.normal(size=(2, 20))
    n_seeds = 3000

    def draw(m):
        def one(key):
            k1, k2 = jax.random.split(key)
            s = sketching.srht_init(k1, 30, m)
            t = sketching.tensor_srht_init(k2, 30, 20, m)
            a = sketching.srht_apply(s, jnp.stack([x, xp]))
            b = sketching.tensor_srht_apply(t, jnp.stack([x, xp]), jnp.stack([y, yp]))
            return a[0] @ a[1], b[0] @ b[1]
        return jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(m), n_seeds))

    lin, ten = draw(16)
    assert _within(lin, x @ xp)
    assert _within(ten, (x @ xp) * (y @ yp))
    _, ten4 = draw(64)
    assert _within(ten4, (x @ xp) * (y @ yp))
    ratio = np.var(ten) / np.var(ten4)
    assert 2.5 < ratio < 6.5, ratio           # 4× more of the 32·32 index pairs: variance / ~4.2


def test_polysketch_unbiased_all_degrees_and_variance_shrinks():
    u, v = _pair_unit(0.7, 6, 2)
    degree, n_seeds = 3, 600           # degree 3 in a 4-leaf tree: one e₁ leaf

    def draw(m):
        def one(key):
            p = sketching.polysketch_init(key, 6, m, degree)
            sk = sketching.polysketch_apply(p, jnp.stack([u, v]), degree)
            return jnp.stack([s[0] @ s[1] for s in sk])
        return np.asarray(jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(m), n_seeds)))

    d32 = draw(32)
    assert np.all(_within(d32, 0.7 ** np.arange(degree + 1))), d32.mean(0)
    d128 = draw(128)
    assert np.all(_within(d128, 0.7 ** np.arange(degree + 1)))
    ratio = d32[:, 1:].var(0) / d128[:, 1:].var(0)
    assert np.all((ratio > 2.5) & (ratio < 6.5)), ratio


def test_arccos_random_features_match_closed_forms():
    """NT normalisation: ⟨Φ₁x,Φ₁y⟩ → ‖x‖‖y‖κ₁(ρ)/2, ⟨Φ₀x,Φ₀y⟩ → κ₀(ρ)/2; 5 standard errors."""
    m = 1 << 16
    p = sketch.arccos.arccos_init(jax.random.key(3), 6, m)
    for rho in (-0.9, 0.0, 0.5, 0.99):
        u, v = _pair_unit(rho, 6, 4)
        x, y = 1.7 * u, 0.6 * v
        (f1x, f0x), (f1y, f0y) = sketch.arccos.arccos_apply(p, jnp.asarray(x)), \
            sketch.arccos.arccos_apply(p, jnp.asarray(y))
        for a, b, exact in ((f1x, f1y, 1.7 * 0.6 * dual_activations.arccos1(rho) / 2),
                            (f0x, f0y, dual_activations.arccos0(rho) / 2)):
            prod = np.asarray(a * b) * m                  # m i.i.d. samples of the integrand
            assert abs(prod.mean() - exact) <= 5 * prod.std() / np.sqrt(m) + 1e-12, (rho, prod.mean(), exact)


# -- radial factors and truncation ------------------------------------------------------------

@pytest.mark.parametrize("name", ["relu", "abs", "erf", "gelu", "tanh", "sin"])
def test_radial_factors_match_theory_hermite(name):
    radial = polyfeatures.hermite_radial(name, 12)
    for s in (0.3, 1.0, 2.5):
        ref = hermite.hermite_coefficients(name, 12, scale=s) if name != "abs" else s * _abs_coefficients(12)
        np.testing.assert_allclose(radial.alpha(jnp.asarray(s)), ref, atol=1e-11)


def _abs_coefficients(degree):
    """E[|z| h_n(z)] = 2∫_0^∞ z h_n(z) φ(z) dz for even n, 0 for odd n (adaptive quadrature)."""
    from scipy import integrate

    def h(n, z):
        return hermite.normalized_hermite(np.array(z), degree)[n]

    phi = lambda z: np.exp(-z * z / 2) / np.sqrt(2 * np.pi)  # noqa: E731
    return np.array([0.0 if n % 2 else 2 * integrate.quad(lambda z: z * h(n, z) * phi(z), 0, np.inf,
                                                           epsabs=1e-14, epsrel=1e-13)[0]
                     for n in range(degree + 1)])


@pytest.mark.parametrize("name,layer", [("relu", stax.Relu), ("erf", stax.Erf), ("gelu", stax.Gelu)])
def test_truncation_error_tracks_hermite_bound(name, layer):
    """The m → ∞ limit of the Hermite sketch vs the exact stax dual: max error ≤ truncation_bound,
    attained on the diagonal (ρ = 1), decreasing in the degree; ReLU's tail decays like D^{-3/2}."""
    x = _inputs(5, 12, 8, spread=False)
    x = x / np.linalg.norm(x, axis=1, keepdims=True) * np.sqrt(8) * 1.3   # equal norms: q = 1.69
    w = 1.2
    _, _, kf = stax.serial(stax.Dense(1, W_std=w), layer())
    exact = kf(x, None, get="nngp")
    q = w ** 2 * x @ x.T / 8
    errs, bounds, degrees = [], [], [2, 4, 8, 16, 32]
    for deg in degrees:
        t, _ = polyfeatures.truncated_dual(polyfeatures.hermite_radial(name, deg), jnp.diag(q)[:, None],
                                           jnp.diag(q)[None, :], q)
        err = np.abs(np.asarray(t) - np.asarray(exact))
        bound = hermite.truncation_bound(name, deg, scale=w * 1.3)
        assert err.max() <= bound * (1 + 1e-8) + 1e-13
        np.testing.assert_allclose(np.diag(err), bound, rtol=1e-6, atol=1e-13)
        errs.append(err.max()); bounds.append(bound)
    assert all(a >= b for a, b in zip(errs, errs[1:]))
    if name == "relu":
        slope = stats.linregress(np.log(degrees[2:]), np.log(errs[2:])).slope
        assert -1.7 < slope < -1.3, slope


# -- FC networks against stax ------------------------------------------------------------------

def _fc(act_s, act_e, depth, b_std):
    s_layers, e_layers = [], []
    for i in range(depth):
        s_layers += [sketch.Dense(W_std=1.5, b_std=b_std), act_s()]
        e_layers += [stax.Dense(8, W_std=1.5, b_std=b_std), act_e()]
    return (sketch.serial(*s_layers, sketch.Dense(W_std=1.2, b_std=b_std)),
            stax.serial(*e_layers, stax.Dense(1, W_std=1.2, b_std=b_std))[2])


def _sketch_errors(sk, kf, x, seeds):
    init_fn, feature_fn = sk
    exact = kf(x, None, get=("nngp", "ntk"))

    @jax.jit
    def kern(key):
        f = feature_fn(init_fn(key, x.shape), x)
        return f.nngp @ f.nngp.T, f.ntk @ f.ntk.T

    out = [kern(jax.random.key(s)) for s in seeds]
    return (np.array([_rel(a, exact.nngp) for a, _ in out]), np.array([_rel(b, exact.ntk) for _, b in out]))


@pytest.mark.parametrize("act_s,act_e,depth,b_std,bound", [
    # measured with these keys (m = 4096, n = 10): 0.03-0.1; bound ≈ 2x
    (lambda: sketch.Relu(m=4096), stax.Relu, 1, None, 0.12),
    (lambda: sketch.Relu(m=4096), stax.Relu, 3, 0.3, 0.2),
    (lambda: sketch.Relu(m=4096, method="poly", degree=8), stax.Relu, 2, 0.3, 0.2),
    (lambda: sketch.Erf(m=4096, degree=8), stax.Erf, 1, None, 0.2),
    (lambda: sketch.Gelu(m=4096, degree=8), stax.Gelu, 1, 0.3, 0.2),
])
def test_fc_sketch_matches_stax_at_large_m(act_s, act_e, depth, b_std, bound):
    x = _inputs(6, 10, 16) * (0.4 if act_e is stax.Erf else 1.0)   # erf: q ≲ 1, else its tail is slow
    sk, kf = _fc(act_s, act_e, depth, b_std)
    e_nngp, e_ntk = _sketch_errors(sk, kf, x, [0])
    assert e_nngp[0] < bound and e_ntk[0] < bound, (e_nngp, e_ntk)


@pytest.mark.parametrize("act_s,act_e", [(lambda m: sketch.Relu(m=m), stax.Relu),
                                         (lambda m: sketch.Gelu(m=m, degree=8), stax.Gelu)])
def test_fc_error_decays_like_inverse_sqrt_m(act_s, act_e):
    """Relative Frobenius error (mean over 3 seeds) vs m ∈ {64, 256, 1024}: log-log slope in
    [-0.8, -0.3] (claim -1/2; GELU degree 8: its truncation floor ~1e-3 is below the sketch error)."""
    x = _inputs(7, 10, 16)
    ms = [64, 256, 1024]
    rows = []
    for m in ms:
        sk, kf = _fc(lambda: act_s(m), act_e, 2 if act_e is stax.Relu else 1, 0.2)
        rows.append(np.stack(_sketch_errors(sk, kf, x, range(3))).mean(axis=1))
    rows = np.array(rows)                    # (len(ms), 2): nngp, ntk
    for col in range(2):
        slope = stats.linregress(np.log(ms), np.log(rows[:, col])).slope
        assert -0.8 < slope < -0.3, (col, slope, rows)


def test_any_activation_via_hermite_matches_stax_truncated_dual():
    """Activation(tanh) / Activation(callable) vs stax.ElementwiseHermite at the same degree: sketch noise
    only (tanh measured 0.05-0.07 at m = 4096, decreasing like m^{-1/2}: 0.12, 0.06, 0.024 at m = 1024,
    4096, 16384); here m = 2048."""
    x = _inputs(8, 10, 16)
    for s_act, e_act in ((lambda: sketch.Activation("tanh", m=2048, degree=8),
                          lambda: stax.ElementwiseHermite(jnp.tanh, 8)),
                         (lambda: sketch.Activation(lambda z: jnp.cos(z) + 0.5 * z, m=2048, degree=8),
                          lambda: stax.ElementwiseHermite(lambda z: jnp.cos(z) + 0.5 * z, 8))):
        sk, kf = _fc(s_act, e_act, 1, 0.1)
        e_nngp, e_ntk = _sketch_errors(sk, kf, x, [1])
        assert e_nngp[0] < 0.2 and e_ntk[0] < 0.2, (e_nngp, e_ntk)


def test_exp_normalized_matches_closed_form():
    x = _inputs(9, 8, 16)
    init_fn, feature_fn = sketch.serial(sketch.Dense(W_std=1.3), sketch.ExpNormalized(m=1024, degree=8,
                                                                                       gamma=1.5))
    f = jax.jit(feature_fn)(init_fn(jax.random.key(2), x.shape), x)
    q = 1.69 * x @ x.T / 16
    s = np.sqrt(np.diag(q))
    rho = q / np.outer(s, s)
    t = np.outer(s, s) * np.exp(1.5 * (rho - 1))
    ntk = q * 1.5 * np.exp(1.5 * (rho - 1))              # ntk' = ntk·Ṫ, ntk after Dense = q
    assert _rel(f.nngp @ f.nngp.T, t) < 0.25          # measured 0.06 at m = 4096
    assert _rel(f.ntk @ f.ntk.T, ntk) < 0.25
    # the same closed form in stax (written independently), and the m -> infinity limit of the sketch
    ref = stax.serial(stax.Dense(1, W_std=1.3), stax.ExpNormalized(gamma=1.5))[2](x, None, get=("nngp", "ntk"))
    np.testing.assert_allclose(ref.nngp, t, rtol=1e-10)
    np.testing.assert_allclose(ref.ntk, ntk, rtol=1e-10)
    lim, lim_dot = polyfeatures.truncated_dual(polyfeatures.exp_normalized_radial(1.5, 30), jnp.diag(q)[:, None],
                                               jnp.diag(q)[None, :], jnp.asarray(q))
    np.testing.assert_allclose(lim, t, rtol=1e-12)
    np.testing.assert_allclose(q * lim_dot, ntk, rtol=1e-12)


# -- convolutional networks -----------------------------------------------------------------------

@pytest.mark.parametrize("padding,tail", [("SAME", "flatten"), ("VALID", "gap")])
def test_cntk_sketch_matches_stax(padding, tail):
    """6×6×3 images, Conv-Relu-AvgPool-Conv-Relu-(Flatten|GAP)-Dense; measured 0.03-0.07 at m = 2048."""
    x = np.random.default_rng(10).normal(size=(4, 6, 6, 3))
    sk_tail, st_tail = {"flatten": (sketch.Flatten(), stax.Flatten()),
                        "gap": (sketch.GlobalAvgPool(), stax.GlobalAvgPool())}[tail]
    sk = sketch.serial(sketch.Conv((3, 3), padding=padding, W_std=1.4, b_std=0.2), sketch.Relu(m=2048),
                       sketch.AvgPool((2, 2), strides=(2, 2)), sketch.Conv((2, 2), padding=padding, W_std=1.4),
                       sketch.Relu(m=2048), sk_tail, sketch.Dense())
    kf = stax.serial(stax.Conv(8, (3, 3), padding=padding, W_std=1.4, b_std=0.2), stax.Relu(),
                     stax.AvgPool((2, 2), strides=(2, 2)), stax.Conv(8, (2, 2), padding=padding, W_std=1.4), stax.Relu(),
                     st_tail, stax.Dense(1))[2]
    e_nngp, e_ntk = _sketch_errors(sk, kf, x, [0])
    assert e_nngp[0] < 0.15 and e_ntk[0] < 0.15, (e_nngp, e_ntk)


def test_linear_conv_layers_are_exact():
    """Without activations every layer is exact: features reproduce stax to round-off."""
    x = np.random.default_rng(11).normal(size=(3, 7, 6, 2))
    init_fn, feature_fn = sketch.serial(sketch.Conv((3, 3), padding="SAME", W_std=1.4, b_std=0.2),
                                        sketch.AvgPool((2, 2), strides=(2, 2), padding="SAME"),
                                        sketch.Conv((3, 2), padding="VALID", strides=(1, 2)),
                                        sketch.Flatten(), sketch.Dense(b_std=0.1))
    kf = stax.serial(stax.Conv(4, (3, 3), padding="SAME", W_std=1.4, b_std=0.2),
                     stax.AvgPool((2, 2), strides=(2, 2), padding="SAME"), stax.Conv(4, (3, 2), padding="VALID", strides=(1, 2)),
                     stax.Flatten(), stax.Dense(1, b_std=0.1))[2]
    exact = kf(x, None, get=("nngp", "ntk"))
    f = feature_fn(init_fn(jax.random.key(0), x.shape), x)
    np.testing.assert_allclose(f.nngp @ f.nngp.T, exact.nngp, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(f.ntk @ f.ntk.T, exact.ntk, rtol=1e-12, atol=1e-13)


@pytest.mark.slow
def test_myrtle5_sketch_matches_stax_myrtle():
    x = np.random.default_rng(12).normal(size=(3, 32, 32, 3))
    kf = stax.Myrtle(5)[2]
    exact = kf(x, None, get=("nngp", "ntk"))
    # measured (key 0): poly 0.196 / 0.147, rf 0.015 / 0.134 (NNGP / NTK); the degree-8 ReLU series is
    # worst near ρ = 1, where the 7 stacked ReLUs of Myrtle-5 push the correlations
    for method, b_nngp, b_ntk in (("poly", 0.3, 0.3), ("rf", 0.1, 0.25)):
        init_fn, feature_fn = sketch.Myrtle(5, m=1024, degree=8, method=method)
        f = jax.jit(feature_fn)(init_fn(jax.random.key(0), x.shape), x)
        assert _rel(f.nngp @ f.nngp.T, exact.nngp) < b_nngp, method
        assert _rel(f.ntk @ f.ntk.T, exact.ntk) < b_ntk, method


# -- convergence, determinism, jit, errors ----------------------------------------------------

def test_high_degree_large_m_converges():
    """erf, 1 hidden layer, inputs with q ≤ 1: degree 12, m = 4096 vs degree 4, m = 256."""
    x = _inputs(13, 8, 16) * 0.5
    errs = []
    kf = stax.serial(stax.Dense(1), stax.Erf(), stax.Dense(1, b_std=0.2))[2]
    for m, deg in ((256, 4), (4096, 12)):
        sk = sketch.serial(sketch.Dense(), sketch.Erf(m=m, degree=deg), sketch.Dense(b_std=0.2))
        errs.append(_sketch_errors(sk, kf, x, [3]))
    assert errs[1][0][0] < 0.06 and errs[1][1][0] < 0.06, errs
    assert errs[1][0][0] < errs[0][0][0] / 3


def test_seeded_and_kernel_matrices_jit_once():
    x1 = _inputs(14, 10, 6)
    x2 = _inputs(15, 10, 6)
    init_fn, feature_fn = sketch.serial(sketch.Dense(b_std=0.1), sketch.Relu(m=64), sketch.Dense())
    p = init_fn(jax.random.key(0), x1.shape)
    f = feature_fn(p, x1)
    np.testing.assert_array_equal(feature_fn(init_fn(jax.random.key(0), x1.shape), x1).nngp, f.nngp)
    assert not np.allclose(feature_fn(init_fn(jax.random.key(1), x1.shape), x1).nngp, f.nngp)
    traces = []

    def counted(params, x):
        traces.append(x.shape)
        return feature_fn(params, x)

    k = sketch.kernel_matrices(counted, p, x1, batch_size=4)           # 10 rows -> 3 padded blocks
    np.testing.assert_allclose(k.nngp, f.nngp @ f.nngp.T, rtol=1e-12)
    np.testing.assert_allclose(k.ntk, f.ntk @ f.ntk.T, rtol=1e-12)
    k12 = sketch.kernel_matrices(counted, p, x1, x2, batch_size=4)
    f2 = feature_fn(p, x2)
    np.testing.assert_allclose(k12.ntk, f.ntk @ f2.ntk.T, rtol=1e-12)
    assert traces == [(4, 6)]                                          # one trace for the whole sweep


def test_bad_inputs_raise_clear_errors():
    x = _inputs(16, 4, 6)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="m must be a positive int"):
            sketch.Relu(m=bad)
    with pytest.raises(ValueError, match="degree"):
        sketch.Erf(m=8, degree=0)
    with pytest.raises(ValueError, match="method"):
        sketch.Relu(m=8, method="exact")
    with pytest.raises(ValueError, match="no Hermite coefficients"):
        sketch.Activation("softplus", m=8, degree=4)
    with pytest.raises(TypeError, match="activation"):
        sketch.Activation(3, m=8, degree=4)
    with pytest.raises(TypeError, match="activation"):
        sketch.Activation(lambda z: np.asarray(z).item(), m=8, degree=4)
    with pytest.raises(ValueError, match="gamma"):
        sketch.ExpNormalized(m=8, gamma=-1.0)
    with pytest.raises(ValueError, match="W_std"):
        sketch.Dense(W_std=-1.0)
    with pytest.raises(ValueError, match="padding"):
        sketch.Conv((3, 3), padding="FULL")
    with pytest.raises(ValueError, match="depth"):
        sketch.Myrtle(6, m=8)
    with pytest.raises(TypeError, match="layers"):
        sketch.serial(sketch.Dense(), stax.Relu())
    init_fn, feature_fn = sketch.serial(sketch.Dense(), sketch.Relu(m=16), sketch.Dense())
    p = init_fn(jax.random.key(0), x.shape)
    with pytest.raises(TypeError, match="float64 required; enable jax_enable_x64"):
        feature_fn(p, x.astype(np.float32))
    with pytest.raises(ValueError, match="non-finite"):
        feature_fn(p, np.where(np.eye(4, 6) > 0, np.nan, x))
    with pytest.raises(ValueError, match="input features"):
        feature_fn(p, _inputs(16, 4, 9))
    with pytest.raises(ValueError, match="spatial axes"):
        sketch.serial(sketch.Conv((3, 3)), sketch.Relu(m=8))[0](jax.random.key(0), (4, 6))
    conv_init, conv_fn = sketch.serial(sketch.Conv((3, 3)), sketch.GlobalAvgPool())
    with pytest.raises(ValueError, match="spatial axes"):
        conv_fn(conv_init(jax.random.key(0), (4, 6, 6, 1)), x)
    with pytest.raises(ValueError, match="smaller than the window"):
        sketch.serial(sketch.Conv((5, 5)))[0](jax.random.key(0), (2, 3, 3, 1))
    spatial_init, spatial_fn = sketch.serial(sketch.Conv((2, 2)))
    xi = np.ones((2, 4, 4, 1))
    with pytest.raises(ValueError, match="Flatten/GlobalAvgPool"):
        sketch.kernel_matrices(spatial_fn, spatial_init(jax.random.key(0), xi.shape), xi)
    with pytest.raises(ValueError, match="batch_size"):
        sketch.kernel_matrices(feature_fn, p, x, batch_size=0)


def test_from_stax_equals_the_hand_written_sketch(rng):
    """One description: the sketch derived from the stax net draws exactly the hand-written sketch."""
    import jax
    from sims.kernels import nets, sketch as sk, stax as sx

    key = jax.random.key(7)
    x = rng.normal(size=(5, 8, 8, 1))
    _, (i1, f1) = nets.paired(nets.conv(blocks=2), m=32)
    i2, f2 = sk.serial(*[l for _ in range(2) for l in (sk.Conv((3, 3), padding="SAME", W_std=2 ** 0.5),
                                                        sk.Relu(m=32), sk.AvgPool((2, 2), strides=(2, 2)))],
                       sk.Flatten(), sk.Dense(W_std=2 ** 0.5))
    a, b = f1(i1(key, x.shape), x), f2(i2(key, x.shape), x)
    np.testing.assert_array_equal(a.ntk, b.ntk)
    np.testing.assert_array_equal(a.nngp, b.nngp)
    # GELU through its Hermite series, nested serial flattened, bias kept
    net = sx.serial(sx.Dense(16, W_std=1.3, b_std=0.2), sx.serial(sx.Gelu(), sx.Dense(1, W_std=1.3, b_std=0.2)))
    i3, f3 = sk.from_stax(net, m=16, degree=4)
    i4, f4 = sk.serial(sk.Dense(W_std=1.3, b_std=0.2), sk.Gelu(m=16, degree=4), sk.Dense(W_std=1.3, b_std=0.2))
    z = rng.normal(size=(3, 6))
    np.testing.assert_array_equal(f3(i3(key, z.shape), z).ntk, f4(i4(key, z.shape), z).ntk)


def test_from_stax_converges_to_the_exact_kernel_and_refuses_what_it_cannot_sketch(rng):
    import jax
    from sims.kernels import sketch as sk, stax as sx

    net = sx.serial(sx.Dense(8, W_std=1.4, b_std=0.1), sx.Relu(), sx.Dense(1, W_std=1.4, b_std=0.1))
    x = rng.normal(size=(6, 5))
    m = 20_000
    init_fn, feature_fn = sk.from_stax(net, m=m)
    f = feature_fn(init_fn(jax.random.key(0), x.shape), x)
    exact = np.asarray(net.kernel_fn(x, None, get="nngp"))
    rel = np.abs(np.asarray(f.nngp @ f.nngp.T) - exact) / np.sqrt(np.outer(np.diag(exact), np.diag(exact)))
    assert rel.max() < 4 * 2 / np.sqrt(m)   # Monte Carlo over m features: 4-sigma band, sigma <= 2/sqrt(m)
    with pytest.raises(ValueError, match=r"layer 1 \(LayerNorm\) has no sketch"):
        sk.from_stax(sx.serial(sx.Dense(4), sx.LayerNorm(), sx.Dense(1)), m=8)
    with pytest.raises(ValueError, match="'ntk' parameterization only"):
        sk.from_stax(sx.serial(sx.Dense(4, parameterization="standard"), sx.Relu()), m=8)
    with pytest.raises(ValueError, match="Sin.*has no sketch|layer 1"):
        sk.from_stax(sx.serial(sx.Dense(4), sx.Sin(), sx.Dense(1)), m=8)
    with pytest.raises(ValueError, match="method must be"):
        sk.from_stax(net, m=8, method="exact")
