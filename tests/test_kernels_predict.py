"""sims.kernels.predict: stored neural-tangents values, and linearized GD of wide finite networks."""
import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sims.kernels import predict, stax
from sims.kernels.empirical import empirical_ntk

DATA = pathlib.Path(__file__).parent / "data" / "nt_reference"


def _build(spec):
    if spec[0] == "serial":
        return stax.serial(*(_build(s) for s in spec[1]))
    name, args, kwargs = spec
    return getattr(stax, name)(*args, **kwargs)


@pytest.mark.parametrize("name", ["predict_00.npz", "predict_01.npz"])
def test_ensemble_matches_neural_tangents(name):
    # NT 0.6.5 gradient_descent_mse_ensemble (tests/nt_reference/generate.py): t in {0, .3, 2, 20} and ∞
    d = np.load(DATA / name)
    _, _, kernel_fn = _build(json.loads(d["spec"].item()))
    fn = predict.gradient_descent_mse_ensemble(kernel_fn, d["x_train"], d["y_train"],
                                               learning_rate=float(d["learning_rate"]),
                                               diag_reg=float(d["diag_reg"]))
    for g in ("nngp", "ntk"):
        m, c = fn(t=d["times"], x_test=d["x_test"], get=g, compute_cov=True)
        mi, ci = fn(t=None, x_test=d["x_test"], get=g, compute_cov=True)
        mtr = fn(t=d["times"], get=g)
        for got, ref in ((m, f"{g}_mean"), (c, f"{g}_cov"), (mi, f"{g}_mean_inf"), (ci, f"{g}_cov_inf"),
                         (mtr, f"{g}_mean_train")):
            scale = np.abs(d[ref]).max()
            assert np.abs(np.asarray(got) - d[ref]).max() <= 1e-9 * scale + 1e-12, (g, ref)


def test_single_network_formulas_agree_with_ensemble_mean(rng):
    # gradient_descent_mse with f_0 = 0 is the ensemble mean; at t = ∞ and diag_reg = 0 it interpolates
    x, y, xt = rng.normal(size=(6, 3)), rng.normal(size=(6, 2)), rng.normal(size=(4, 3))
    _, _, kf = stax.serial(stax.Dense(8, W_std=1.4, b_std=0.1), stax.Relu(), stax.Dense(1, W_std=1.4))
    ens = predict.gradient_descent_mse_ensemble(kf, x, y)
    single = predict.gradient_descent_mse(kf(x, None, get="ntk"), y)
    t = np.array([0.5, 3.0])
    ftr, fte = single(t, k_test_train=kf(xt, x, get="ntk"))
    np.testing.assert_allclose(fte, ens(t, xt, get="ntk"), rtol=1e-11)
    np.testing.assert_allclose(single(None), y, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(single(0.0), 0.0, atol=1e-15)
    with pytest.raises(ValueError, match="learning_rate"):
        predict.gradient_descent_mse(kf(x, None, get="ntk"), y, learning_rate=-1.0)
    with pytest.raises(ValueError, match="get must be"):
        ens(1.0, xt, get="foo")


@pytest.mark.slow
def test_ensemble_matches_linearized_gd_of_wide_networks(rng):
    # explicit GD (Euler steps dt = 0.02) in parameter space on the linearization of each of 64 finite
    # networks of width 1024 (keys split from jax.random.key(11)), loss ‖f − y‖²/(2N): the sample
    # mean and variance of the test outputs at t = 1.5 against the NTK predictions; tolerance 5σ/√64
    # from the spread plus the O(dt) Euler and O(1/width) finite-width biases (0.05·max)
    x, y, xt = rng.normal(size=(6, 3)), rng.normal(size=(6, 1)), rng.normal(size=(3, 3))
    width, n_nets, dt, t_end = 1024, 64, 0.02, 1.5
    init_fn, apply_fn, kernel_fn = stax.serial(stax.Dense(width, W_std=1.5, b_std=0.1), stax.Erf(),
                                               stax.Dense(1, W_std=1.5, b_std=0.1))
    pred = predict.gradient_descent_mse_ensemble(kernel_fn, x, y)(t_end, xt, get="ntk", compute_cov=True)
    xa = jnp.concatenate([jnp.asarray(x), jnp.asarray(xt)])

    @jax.jit
    def run(key):
        _, p0 = init_fn(key, x.shape)
        f0, lin = jax.linearize(lambda p: apply_fn(p, xa), p0)
        lin_t = jax.linear_transpose(lin, p0)

        def step(dp, _):
            f = f0 + lin(dp)
            g = lin_t(jnp.concatenate([(f[:6] - y) / y.size, jnp.zeros((3, 1))]))[0]
            return jax.tree_util.tree_map(lambda a, b: a - dt * b, dp, g), None

        dp0 = jax.tree_util.tree_map(jnp.zeros_like, p0)
        dp, _ = jax.lax.scan(step, dp0, None, length=int(round(t_end / dt)))
        return (f0 + lin(dp))[6:, 0]

    out = np.asarray(jax.lax.map(run, jax.random.split(jax.random.key(11), n_nets)))
    mean, se = out.mean(0), out.std(0, ddof=1) / np.sqrt(n_nets)
    pm, pv = np.asarray(pred.mean)[:, 0], np.diag(np.asarray(pred.covariance))
    assert np.all(np.abs(mean - pm) <= 5 * se + 0.05 * np.abs(pm).max())
    var = out.var(0, ddof=1)
    assert np.all(np.abs(var - pv) <= 5 * np.sqrt(2 / n_nets) * pv + 0.05 * pv.max())
    # the empirical NTK of one such net is the kernel the dynamics used, to O(1/√width)
    _, p = init_fn(jax.random.key(12), x.shape)
    np.testing.assert_allclose(empirical_ntk(apply_fn, p, x), kernel_fn(x, None, get="ntk"), rtol=0.15, atol=0.05)
