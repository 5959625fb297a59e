"""sims.kernels.krr: checked PSD solves and KRR predictions.

References: numpy.linalg.solve on well-conditioned systems (a second solver), the exact interpolation
property of KRR at vanishing ridge, the scaling law solve(cK, Y) = solve(K, Y)/c of the relative
ridge, and exact NTK matrices (sims.kernels.stax) that are singular by construction.
"""
import warnings

import numpy as np
import pytest

from sims.kernels import stax
from sims.kernels.krr import IllConditionedWarning, krr_fit_predict, solve_psd


def _spd(rng, n=8, cond=1e3):
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    return (q * np.geomspace(1.0, 1.0 / cond, n)) @ q.T


def test_matches_numpy_solve_on_well_conditioned(rng):
    k, y = _spd(rng), rng.normal(size=(8, 3))
    for relative in (True, False):
        lam = 1e-3 * (np.trace(k) / 8 if relative else 1.0)
        x, info = solve_psd(k, y, ridge=1e-3, relative=relative, return_info=True)
        np.testing.assert_allclose(x, np.linalg.solve(k + lam * np.eye(8), y), rtol=1e-10)
        assert info.ridge == pytest.approx(lam) and info.increases == 0 and info.residual < 1e-12
        # condition estimate (LAPACK pocon, 1-norm) within a factor 10 of the exact 2-norm value
        exact = np.linalg.cond(k + lam * np.eye(8))
        assert exact / 10 <= info.cond <= 10 * exact


def test_relative_ridge_is_scale_invariant(rng):
    k, y = _spd(rng), rng.normal(size=8)
    np.testing.assert_allclose(solve_psd(7.5 * k, y, ridge=1e-4), solve_psd(k, y, ridge=1e-4) / 7.5, rtol=1e-10)


def test_krr_interpolates_at_small_ridge(rng):
    x = rng.normal(size=(12, 5))
    _, _, kf = stax.serial(stax.Dense(64, W_std=1.5, b_std=0.1), stax.Relu(), stax.Dense(1, W_std=1.5))
    kt = np.asarray(kf(x, get="ntk"))
    y = rng.normal(size=(12, 2))
    np.testing.assert_allclose(krr_fit_predict(kt, y, kt, ridge=1e-12), y, atol=1e-7)
    # large ridge shrinks predictions towards 0 like 1/(1 + λ/eig): ridge 1e6 -> |pred| < 1e-5 |y|
    assert np.abs(krr_fit_predict(kt, y, kt, ridge=1e6)).max() < 1e-5 * np.abs(y).max() * 12


def test_singular_kernel_warns_and_increases_ridge(rng):
    z = rng.normal(size=(10, 3))
    k = z @ z.T  # rank 3 < 10: exactly singular
    y = rng.normal(size=10)
    with pytest.warns(IllConditionedWarning, match=r"condition number .* ridge"):
        x, info = solve_psd(k, y, ridge=0.0, return_info=True)
    assert np.all(np.isfinite(x)) and info.increases > 0 and info.cond <= 1e12 and info.ridge > 0
    # the solution is that of the reported (increased) ridge: backward-stable residual
    a = k + info.ridge * np.eye(10)
    assert np.linalg.norm(a @ x - y) <= 1e-12 * np.linalg.norm(a, 2) * np.linalg.norm(x)
    assert info.residual == pytest.approx(np.linalg.norm(a @ x - y) / np.linalg.norm(y), rel=1e-6)


def test_near_duplicate_inputs_in_an_exact_ntk(rng):
    x = rng.normal(size=(6, 4))
    x = np.concatenate([x, x[:1] + 1e-9], axis=0)  # two inputs 1e-9 apart: K nearly singular
    _, _, kf = stax.serial(stax.Dense(8, W_std=1.4, b_std=0.05), stax.Relu(), stax.Dense(1, W_std=1.4))
    k = np.asarray(kf(x, get="ntk"))
    y = rng.normal(size=7)
    with pytest.warns(IllConditionedWarning, match="condition number"):
        pred = krr_fit_predict(k, y, k[:3], ridge=0.0)
    assert np.all(np.isfinite(pred))
    with pytest.raises(np.linalg.LinAlgError, match="condition number"):
        solve_psd(k, y, ridge=0.0, on_ill_conditioned="raise")
    # the default relative ridge 1e-6 is enough here: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", IllConditionedWarning)
        assert np.all(np.isfinite(krr_fit_predict(k, y, k, ridge=1e-6)))


def test_warn_mode_keeps_a_factorizable_ridge(rng):
    k, y = _spd(rng, cond=1e14), rng.normal(size=8)
    with pytest.warns(IllConditionedWarning, match="kept ridge"):
        _, info = solve_psd(k, y, ridge=0.0, relative=False, on_ill_conditioned="warn", return_info=True)
    assert info.ridge == 0.0 and info.increases == 0 and info.cond > 1e12


def test_bad_inputs(rng):
    k, y = _spd(rng), rng.normal(size=8)
    with pytest.raises(TypeError, match="K must be float64"):
        solve_psd(k.astype(np.float32), y, ridge=1e-6)
    with pytest.raises(ValueError, match="K contains non-finite"):
        solve_psd(np.where(np.eye(8) > 0, np.nan, k), y, ridge=1e-6)
    with pytest.raises(ValueError, match="square"):
        solve_psd(k[:, :5], y, ridge=1e-6)
    with pytest.raises(ValueError, match="symmetric"):
        solve_psd(k + np.triu(np.ones((8, 8)), 1), y, ridge=1e-6)
    with pytest.raises(ValueError, match="Y must have shape"):
        solve_psd(k, y[:5], ridge=1e-6)
    with pytest.raises(ValueError, match="ridge must be"):
        solve_psd(k, y, ridge=-1.0)
    with pytest.raises(ValueError, match="positive mean diagonal"):
        solve_psd(-k, y, ridge=1e-6)
    with pytest.raises(ValueError, match="on_ill_conditioned"):
        solve_psd(k, y, ridge=1e-6, on_ill_conditioned="ignore")
    with pytest.raises(ValueError, match="k_test must have shape"):
        krr_fit_predict(k, y, k[:, :3])
    with pytest.raises(ValueError, match="Y contains non-finite"):
        solve_psd(k, np.full(8, np.inf), ridge=1e-6)


def test_differentiable_and_checked_entries_agree_and_accuracy(rng):
    """One ridge convention: the jnp (differentiable) and scipy (checked) solves give the same KRR."""
    import jax.numpy as jnp

    from sims.kernels.krr import krr_accuracy, krr_predict, ridge_value
    from sims.kip.data import stratified_mask

    x = rng.normal(size=(40, 3))
    k = np.exp(-0.5 * np.sum((x[:, None] - x[None]) ** 2, -1))
    y = (x[:, 0] > 0).astype(int)
    targets = np.eye(2)[y] - 0.5
    val = stratified_mask(y, 0.25, rng=rng)
    assert val.sum() == round(0.25 * (y == 0).sum()) + round(0.25 * (y == 1).sum())
    fit = ~val
    kff, kvf = k[np.ix_(fit, fit)], k[np.ix_(val, fit)]
    a = np.asarray(krr_predict(jnp.asarray(kvf), jnp.asarray(kff), jnp.asarray(targets[fit]), ridge=1e-3))
    b = krr_fit_predict(kff, targets[fit], kvf, ridge=1e-3)
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    assert float(ridge_value(jnp.asarray(kff), 1e-3)) == pytest.approx(1e-3 * np.trace(kff) / fit.sum(), rel=1e-14)
    acc = krr_accuracy(kff, targets[fit], kvf, y[val], ridge=1e-3)
    assert acc == np.mean(np.argmax(b, 1) == y[val]) and acc > 0.8   # a smooth boundary in 3-d
    with pytest.raises(ValueError, match="labels_test must have shape"):
        krr_accuracy(kff, targets[fit], kvf, y[val][:-1], ridge=1e-3)
    with pytest.raises(ValueError, match="fraction must be"):
        stratified_mask(y, 1.5, rng=rng)
