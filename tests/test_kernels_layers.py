"""New stax layers against independent references: finite networks (Monte Carlo), ostax, closed forms.

Monte-Carlo checks average ``f(x) f(x')ᵀ / k`` over ``N`` independent initialisations (keys split
from ``jax.random.key(seed)``, seed recorded in each test) of networks with hidden width ``w`` and
readout width ``k``; tolerance ``5σ/√N`` from the sample spread plus the O(1/w) finite-width bias,
bounded by ``c/w·max|K|`` with the constant ``c`` stated per test.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.example_libraries import stax as ostax

from sims.kernels import stax


def _mc_nngp(init_fn, apply_fn, x, *, seed, n, pattern=None, dropout=False):
    keys = jax.random.split(jax.random.key(seed), n)

    @jax.jit
    def one(key):
        kp, kd = jax.random.split(key)
        _, params = init_fn(kp, x.shape)
        kw = {}
        if pattern is not None:
            kw["pattern"] = pattern
        if dropout:
            kw["rng"] = kd
        y = apply_fn(params, x, **kw)
        return y @ y.T / y.shape[-1]

    s = np.asarray(jax.lax.map(one, keys))
    return s.mean(0), s.std(0, ddof=1) / np.sqrt(n)


def _assert_mc(exact, mean, se, *, width, c):
    exact = np.asarray(exact)
    tol = 5 * se + c / width * np.abs(exact).max()
    assert np.all(np.abs(mean - exact) <= tol), (np.abs(mean - exact).max(), tol.max())
    assert np.abs(mean - exact).max() > 0  # a real comparison


@pytest.mark.parametrize("padding,strides,normalize_edges", [
    ("SAME", (2,), True), ("SAME", None, True), ("VALID", (2,), True), ("SAME", (3,), False)])
def test_avgpool_apply_matches_ostax(rng, padding, strides, normalize_edges):
    # jax.example_libraries.stax.AvgPool divides by the true window size at SAME edges (NT's
    # normalize_edges=True); with normalize_edges=False the window size is the divisor
    x = rng.normal(size=(2, 7, 3))
    ours = stax.AvgPool((3,), strides=strides, padding=padding, normalize_edges=normalize_edges)
    _, ref_apply = ostax.AvgPool((3,), strides=strides, padding=padding, spec="NHC")
    got = ours.apply_fn((), jnp.asarray(x))
    if normalize_edges:
        ref = ref_apply((), jnp.asarray(x))
    else:
        _, sum_apply = ostax.SumPool((3,), strides=strides, padding=padding, spec="NHC")
        ref = sum_apply((), jnp.asarray(x)) / 3
    np.testing.assert_allclose(got, ref, rtol=1e-14)
    assert ours.init_fn(None, x.shape)[0] == got.shape


def test_avgpool_default_stride_is_one(rng):
    # neural-tangents / ostax: strides=None is stride 1 (overlapping windows), not the window
    _, apply_fn, _ = stax.serial(stax.AvgPool((2, 2)))
    assert apply_fn(((),), jnp.asarray(rng.normal(size=(1, 5, 4, 2)))).shape == (1, 4, 3, 2)


def test_avgpool_kernel_matches_finite_network(rng):
    # strided SAME pooling with edge normalization: kernel vs MC of the finite net (seed 3, N = 128)
    x = rng.normal(size=(3, 7, 2))
    w = 256
    init_fn, apply_fn, kernel_fn = stax.serial(
        stax.Conv(w, (3,), padding="SAME", W_std=1.4, b_std=0.1), stax.Relu(),
        stax.AvgPool((3,), strides=(2,), padding="SAME", normalize_edges=True), stax.Flatten(),
        stax.Dense(w, W_std=1.2))
    mean, se = _mc_nngp(init_fn, apply_fn, x, seed=3, n=128)
    _assert_mc(kernel_fn(x, None, get="nngp"), mean, se, width=w, c=2.0)


def test_residual_fanin_sum_matches_finite_network(rng):
    # x ↦ z + Dense(Relu(z)), z = Dense(x): the branches are independent given z (fresh zero-mean weights)
    x = rng.normal(size=(4, 5))
    w = 512
    block = [stax.FanOut(2), stax.parallel(stax.serial(stax.Relu(), stax.Dense(w, W_std=1.3, b_std=0.2)),
                                           stax.Identity()), stax.FanInSum()]
    init_fn, apply_fn, kernel_fn = stax.serial(stax.Dense(w, W_std=1.5, b_std=0.1), *block, *block,
                                               stax.Erf(), stax.Dense(w, W_std=1.1))
    mean, se = _mc_nngp(init_fn, apply_fn, x, seed=4, n=96)
    _assert_mc(kernel_fn(x, None, get="nngp"), mean, se, width=w, c=3.0)
    # FanInSum of branches that are not Gaussian is refused (as in neural-tangents)
    _, _, bad = stax.serial(stax.Dense(8), stax.FanOut(2), stax.parallel(stax.Relu(), stax.Identity()),
                            stax.FanInSum())
    with pytest.raises(NotImplementedError, match="FanInSum of several branches"):
        bad(x, None, get="nngp")


def test_fanin_concat_matches_finite_network(rng):
    x = rng.normal(size=(3, 4))
    init_fn, apply_fn, kernel_fn = stax.serial(
        stax.Dense(256, W_std=1.5), stax.FanOut(2),
        stax.parallel(stax.serial(stax.Relu(), stax.Dense(384, W_std=1.2)), stax.Dense(128, W_std=0.7)),
        stax.FanInConcat(), stax.Gelu(), stax.Dense(256, W_std=1.3))
    assert init_fn(jax.random.key(0), x.shape)[0] == (3, 256)
    mean, se = _mc_nngp(init_fn, apply_fn, x, seed=5, n=96)
    _assert_mc(kernel_fn(x, None, get="nngp"), mean, se, width=128, c=2.0)


def test_layernorm_matches_finite_network_and_normalizes(rng):
    x = rng.normal(size=(3, 6)) * 2.0
    w = 512
    init_fn, apply_fn, kernel_fn = stax.serial(stax.Dense(w, W_std=1.7, b_std=0.3), stax.LayerNorm(),
                                               stax.Relu(), stax.Dense(w, W_std=1.2))
    k = kernel_fn(x, None)
    # after LayerNorm every pre-activation has variance 1: Relu then Dense(W=1.2) gives 1.44/2 on the diagonal
    np.testing.assert_allclose(np.diag(k.nngp), 1.44 / 2, rtol=1e-10)
    mean, se = _mc_nngp(init_fn, apply_fn, x, seed=6, n=64)
    _assert_mc(k.nngp, mean, se, width=w, c=2.0)
    _, _, after_act = stax.serial(stax.Dense(8), stax.Relu(), stax.LayerNorm())
    with pytest.raises(NotImplementedError, match="Gaussian inputs"):
        after_act(x, None, get="nngp")
    with pytest.raises(ValueError, match="channel axis"):
        stax.serial(stax.Conv(4, (2,)), stax.LayerNorm(axis=1))[2](rng.normal(size=(2, 5, 3)), get="nngp")


@pytest.mark.parametrize("mode", ["train", "test"])
def test_dropout_matches_finite_network(rng, mode):
    x = rng.normal(size=(3, 5))
    w, rate = 512, 0.6
    init_fn, apply_fn, kernel_fn = stax.serial(stax.Dense(w, W_std=1.5, b_std=0.1), stax.Relu(),
                                               stax.Dropout(rate, mode=mode), stax.Dense(w, W_std=1.3))
    exact = kernel_fn(x, None, get="nngp")
    mean, se = _mc_nngp(init_fn, apply_fn, x, seed=7, n=96, dropout=True)
    _assert_mc(exact, mean, se, width=w, c=2.0)
    ref = stax.serial(stax.Dense(w, W_std=1.5, b_std=0.1), stax.Relu(), stax.Dense(w, W_std=1.3))[2]
    diag_ratio = np.diag(exact) / np.diag(ref(x, None, get="nngp"))
    # train mode: the readout's input second moment is divided by the keep rate (E[m²]/E[m]² = 1/rate)
    if mode == "train":
        assert np.all(diag_ratio > 1.0)
        np.testing.assert_allclose(exact - np.diag(np.diag(exact)), ref(x, None, get="nngp")
                                   - np.diag(np.diag(ref(x, None, get="nngp"))), rtol=1e-12, atol=1e-15)
    else:
        np.testing.assert_allclose(diag_ratio, 1.0, rtol=1e-14)
    with pytest.raises(ValueError, match="rate"):
        stax.Dropout(0.0)


def test_aggregate_matches_finite_network(rng):
    x = rng.normal(size=(3, 5, 2))
    a = (rng.random((3, 5, 5)) < 0.5).astype(np.float64)
    w = 256
    init_fn, apply_fn, kernel_fn = stax.serial(stax.Dense(w, W_std=1.2, b_std=0.1), stax.Aggregate(),
                                               stax.Relu(), stax.Dense(w, W_std=1.1), stax.Aggregate(),
                                               stax.GlobalAvgPool(), stax.Dense(w))
    exact = kernel_fn(x, None, get="nngp", pattern=(a, a))
    mean, se = _mc_nngp(init_fn, apply_fn, x, seed=8, n=96, pattern=jnp.asarray(a))
    _assert_mc(exact, mean, se, width=w, c=3.0)
    # pattern=None is the identity graph
    np.testing.assert_allclose(kernel_fn(x, None, get="nngp", pattern=(np.eye(5)[None].repeat(3, 0),) * 2),
                               kernel_fn(x, None, get="nngp"), rtol=1e-13)
