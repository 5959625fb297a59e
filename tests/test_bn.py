"""Tests for theory.bn and sims.bn (Cao, Zou, Li, Gu, arXiv:2306.11680)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from figures.core import rates
from sims.bn import bn_grad, bn_loss, patch_margins, prepare, run_bn, run_nobn
from theory.bn import (patchwise_uniform_margin_direction, svm_direction,
                       uniform_margin_direction)

X2 = np.array([[1.0, 0.0], [3.0, 1.0]])  # reference note 1.8: SVM e1, uniform (1,-2)/sqrt5
Y2 = np.array([1.0, 1.0])


def _gauss(rng, n=10, d=50):
    x = rng.standard_normal((n, d))
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    return x, y


def test_mean_z_squared_is_one_at_every_iterate(rng):
    x, y = _gauss(rng)
    r = run_bn(x, y, 0.1 * rng.standard_normal(50), eta=0.5, steps=2000)
    np.testing.assert_allclose(np.mean(r["margins"] ** 2, axis=-1), 1.0, rtol=0, atol=1e-12)


@pytest.mark.parametrize("loss", ["exp", "logistic"])
def test_analytic_gradient_matches_autodiff(rng, loss):
    x = rng.standard_normal((6, 3, 4))
    y = np.where(rng.random(6) < 0.5, -1.0, 1.0)
    a, sig = prepare(x, y)
    w = jnp.asarray(rng.standard_normal(4))
    gw, gg = bn_grad(w, 1.7, a, sig, loss=loss)
    aw, ag = jax.grad(lambda w, g: bn_loss(w, g, a, sig, loss=loss), argnums=(0, 1))(w, 1.7)
    np.testing.assert_allclose(gw, aw, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gg, ag, rtol=1e-12, atol=1e-14)


def test_two_point_closed_forms():
    np.testing.assert_allclose(uniform_margin_direction(X2, Y2), [1.0, -2.0], atol=1e-12)
    np.testing.assert_allclose(svm_direction(X2, Y2), [1.0, 0.0], atol=1e-6)


def test_bn_gd_reaches_uniform_margin_direction():
    # note 1.9 check 4: eta=0.05, w0=(1,1): z=(1,1) to round-off by t=1e4
    r = run_bn(X2, Y2, np.array([1.0, 1.0]), eta=0.05, steps=10_000)
    w = r["w"][-1]
    u = w / np.linalg.norm(w)
    ref = np.array([1.0, -2.0]) / np.sqrt(5.0)
    assert np.linalg.norm(u - ref) < 1e-8
    np.testing.assert_allclose(r["margins"][-1], 1.0, atol=1e-10)


def test_bn_gd_endpoint_matches_lstsq_on_gaussian_data(rng):
    x, y = _gauss(rng, n=8, d=20)
    r = run_bn(x, y, 0.1 * rng.standard_normal(20), eta=0.5, steps=3000)
    w = r["w"][-1]
    # only the component in span{x_i} matters: compare predictions x @ w (Sigma-normalised);
    # f is invariant under (w, gamma) -> (-w, -gamma), so orient w by sign(gamma)
    u = np.sign(r["gamma"][-1]) * x @ w / np.sqrt(np.mean((x @ w) ** 2))
    ref = x @ uniform_margin_direction(x, y)
    np.testing.assert_allclose(u, ref, atol=1e-8)


def test_nobn_direction_error_times_log_t_bounded():
    # note 1.9 check 4: ||u_t - e1|| ln t in [0.2, 0.6] for t in [1e2, 1e6]; never near (1,-2)/sqrt5
    r = run_nobn(X2, Y2, np.zeros(2), eta=0.1, steps=10**6, per_decade=5)
    u = r["w"] / np.linalg.norm(r["w"], axis=-1, keepdims=True)
    sel = r["t"] >= 100
    err = np.linalg.norm(u - [1.0, 0.0], axis=-1)[sel] * np.log(r["t"][sel])
    assert np.all((0.2 <= err) & (err <= 0.6)), err
    assert np.min(np.linalg.norm(u - np.array([1, -2]) / np.sqrt(5), axis=-1)[sel]) > 0.5
    fit = rates.fit_law(r["t"][sel], np.linalg.norm(u - [1.0, 0.0], axis=-1)[sel], "log_power")
    # pre-asymptotic: err * ln t still decreases (0.49 -> 0.28), so the local exponent is > 1
    assert 1.0 < fit.rate < 2.0, fit


def test_bn_rate_superpolynomial_and_law_comparison(rng):
    # note 1.9 check 2 (our seed): r(t) = -ln dev / ln^2 t positive and increasing; exp_log2 fits
    # better than power and log_power on the same points.
    x, y = _gauss(rng)
    r = run_bn(x, y, 0.1 * rng.standard_normal(50), eta=0.5, steps=3000)
    dev = np.max(np.abs(r["margins"] - 1.0), axis=-1)
    ts = np.array([100, 300, 1000, 3000])
    idx = [np.argmin(np.abs(r["t"] - t)) for t in ts]
    ratio = -np.log(dev[idx]) / np.log(r["t"][idx]) ** 2
    assert np.all(ratio > 0.05) and np.all(np.diff(ratio) > 0), ratio
    sel = r["t"] >= 30
    cmp_ = rates.compare_laws(r["t"][sel], dev[sel], ("exp_log2", "power", "log_power"),
                              floor=1e-13)
    assert cmp_.best == "exp_log2", cmp_.as_report()
    fit = rates.fit_law(r["t"][sel], dev[sel], "exp_log2", floor=1e-13)
    assert fit.rate_ci[0] > 0


def test_gamma_and_loss_scale():
    # note 1.9 check 3 (scaled down to t=1e4): gamma ~ ln(eta t), eta t L ~ 1
    r = run_bn(X2, Y2, np.array([1.0, 1.0]), eta=0.05, steps=10**5, per_decade=2)
    t, g, l = r["t"][-1], r["gamma"][-1], r["loss"][-1]
    assert abs(g - np.log(0.05 * t)) < 0.1
    assert abs(0.05 * t * l - 1.0) < 0.05


def test_cnn_patchwise_uniform_margin(rng):
    n, p, d = 4, 3, 20
    x = rng.standard_normal((n, p, d))
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    w_ref = patchwise_uniform_margin_direction(x, y)
    np.testing.assert_allclose(patch_margins(w_ref, x, y), 1.0, atol=1e-10)
    r = run_bn(x, y, 0.1 * rng.standard_normal(d), eta=0.5, steps=5000)
    np.testing.assert_allclose(np.mean(patch_margins(r["w"], x, y) ** 2, axis=(-2, -1)), 1.0,
                               atol=1e-12)
    # the example margins returned by the simulator are sums of the patch margins
    np.testing.assert_allclose(r["margins"][-1], patch_margins(r["w"][-1], x, y).sum(-1),
                               rtol=1e-12)
    # Jensen + Cauchy-Schwarz (note 1.5): for any gamma > 0 the patch-wise uniform filter
    # minimises the loss, so it beats the GD iterate at the GD's own gamma
    a, sig = prepare(x, y)
    g = float(r["gamma"][-1])
    assert g > 0
    l_ref = float(bn_loss(jnp.asarray(w_ref), g, a, sig))
    np.testing.assert_allclose(l_ref, np.exp(-g * p), rtol=1e-12)
    assert l_ref <= float(bn_loss(jnp.asarray(r["w"][-1]), g, a, sig))


def test_cnn_gd_converges_to_patchwise_uniform(rng):
    # ||w0|| ~ 1 and a moderate step (note 1.8: a large first step freezes the direction)
    n, p, d = 4, 2, 20
    x = rng.standard_normal((n, p, d))
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    r = run_bn(x, y, rng.standard_normal(d) / np.sqrt(d), eta=0.05, steps=1_000_000, per_decade=2)
    dev = np.max(np.abs(np.sign(r["gamma"])[:, None, None] * patch_margins(r["w"], x, y) - 1.0),
                 axis=(-2, -1))
    # on this draw convergence is slow (~10x per decade late on): monotone, < 1e-3 at 1e6
    assert np.all(np.diff(dev[r["t"] >= 100]) < 0) and dev[-1] < 1e-3, dev
    w_ref = patchwise_uniform_margin_direction(x, y)
    np.testing.assert_allclose(np.sign(r["gamma"][-1]) * x @ r["w"][-1]
                               / np.sqrt(np.mean((x @ r["w"][-1]) ** 2)), x @ w_ref, atol=1e-3)


@pytest.mark.parametrize("bad, match", [
    (dict(y=np.array([1.0, 0.0])), "y must contain only labels"),
    (dict(x=np.array([[np.nan, 0.0], [3.0, 1.0]])), "x contains NaN"),
    (dict(x=np.ones(3)), "x must have shape"),
    (dict(eta=0.0), "eta"),
    (dict(eta=-1.0), "eta"),
    (dict(w0=np.ones(3)), "w0"),
    (dict(loss="hinge"), "loss"),
])
def test_bad_input_errors(bad, match):
    kw = dict(x=X2, y=Y2, w0=np.ones(2), eta=0.05, loss="exp")
    kw.update(bad)
    with pytest.raises((ValueError, TypeError), match=match):
        run_bn(kw["x"], kw["y"], kw["w0"], eta=kw["eta"], loss=kw["loss"], steps=10)


def test_no_uniform_margin_and_non_separable_errors():
    x = np.array([[1.0], [2.0]])
    with pytest.raises(ValueError, match="no uniform-margin"):
        uniform_margin_direction(x, np.array([1.0, 1.0]))
    with pytest.raises(ValueError, match="not linearly separable"):
        svm_direction(np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="patch-wise"):
        patchwise_uniform_margin_direction(np.ones((2, 2, 1)) * [[[1.0], [2.0]]], [1, 1])


def test_higher_dim_set_where_uniform_and_svm_directions_differ(rng):
    # d=8, n=5: a shared signal e1 of strengths s_i plus small noise on other coordinates, so
    # the SVM has few support vectors (the weakest points) while the uniform-margin direction
    # X^+ y must also fit the strong points: the two biases differ visibly.
    s = np.array([1.0, 2.0, 4.0, 6.0, 8.0])
    y = np.array([1.0, -1.0, 1.0, -1.0, 1.0])
    x = np.zeros((5, 8))
    x[:, 0] = y * s
    x[:, 1:] = 0.3 * rng.standard_normal((5, 7))
    u_uni = uniform_margin_direction(x, y)
    u_uni = u_uni / np.linalg.norm(u_uni)
    u_svm = svm_direction(x, y)
    assert np.linalg.norm(u_uni - u_svm) > 0.2  # visibly different directions
    # independent check of the SVM: every margin >= the min, attained by > 0 but < n points
    m = y * (x @ u_svm)
    assert 1 <= np.sum(m < m.min() + 1e-5) < 5
    r = run_bn(x, y, 0.3 * rng.standard_normal(8), eta=0.05, steps=20_000)
    np.testing.assert_allclose(r["margins"][-1] * np.sign(r["gamma"][-1]), 1.0, atol=1e-8)
    w = r["w"][-1] * np.sign(r["gamma"][-1])
    u = w / np.linalg.norm(w)  # w stays in span{x_i} + w0's orthogonal part; compare predictions
    np.testing.assert_allclose(x @ u / np.linalg.norm(x @ u), x @ u_uni / np.linalg.norm(x @ u_uni),
                               atol=1e-8)


@pytest.mark.parametrize("loss", ["exp", "logistic"])
@pytest.mark.parametrize("shape", [(10, 1, 50), (6, 3, 40)])
@pytest.mark.parametrize("bn", [True, False])
def test_lowrank_step_equals_the_sigma_gradient(loss, shape, bn):
    """The simulator's low-rank GD step (through F, never forming Sigma) is the analytic step."""
    import jax.numpy as jnp

    from sims.bn import _lowrank_step, _lprime, bn_grad, prepare

    rng = np.random.default_rng(hash((loss, shape, bn)) % 2**32)
    n, P, d = shape
    x = rng.standard_normal(shape)
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    a, sig = prepare(x, y)
    w, g, eta = jnp.asarray(rng.standard_normal(d)), 1.3, 0.2
    step = _lowrank_step(jnp.asarray(x.reshape(n * P, d)), jnp.asarray(y), n, P, loss, bn)
    w1, g1 = step(eta, (w, g))
    if bn:
        gw, gg = bn_grad(w, g, a, sig, loss=loss)
        w2, g2 = w - eta * gw, g - eta * gg
    else:
        w2, g2 = w - eta * (_lprime(a @ w, loss) @ a) / n, g
    np.testing.assert_allclose(np.asarray(w1), np.asarray(w2), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(float(g1), float(g2), rtol=1e-12, atol=1e-14)
