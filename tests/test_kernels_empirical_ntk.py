"""The three empirical-NTK methods (Novak et al. 2022) agree to round-off on FC and conv networks."""
import jax
import numpy as np
import pytest

from sims.kernels import stax
from sims.kernels.empirical_ntk import empirical_ntk_fn


def _nets():
    fc = stax.serial(stax.Dense(32, W_std=1.5, b_std=0.1), stax.Relu(), stax.Dense(16, W_std=1.2),
                     stax.Erf(), stax.Dense(3, W_std=1.1, b_std=0.2))
    fc_std = stax.serial(stax.Dense(24, W_std=1.3, b_std=0.3, parameterization="standard"), stax.Gelu(),
                         stax.Dense(2, W_std=0.9, b_std=0.1, parameterization="standard"))
    conv = stax.serial(stax.Conv(6, (3, 3), padding="SAME", W_std=1.4, b_std=0.1), stax.Relu(),
                       stax.Conv(5, (2, 2), strides=(2, 1), padding="VALID", W_std=1.3), stax.Relu(),
                       stax.AvgPool((2, 2), strides=(2, 2), padding="SAME"), stax.Flatten(),
                       stax.Dense(2, W_std=1.2, b_std=0.1))
    return {"fc": (fc, (5, 7)), "fc_standard": (fc_std, (5, 4)), "conv": (conv, (4, 6, 5, 2))}


@pytest.mark.parametrize("net", ["fc", "fc_standard", "conv"])
def test_implementations_agree(rng, net):
    (init_fn, apply_fn, _), shape = _nets()[net]
    x1, x2 = rng.normal(size=shape), rng.normal(size=(3,) + shape[1:])
    _, params = init_fn(jax.random.key(0), x1.shape)
    ks = {impl: np.asarray(empirical_ntk_fn(apply_fn, implementation=impl)(x1, x2, params))
          for impl in ("jacobian", "ntk_vector", "structured")}
    scale = np.abs(ks["jacobian"]).max()
    for impl in ("ntk_vector", "structured"):
        assert np.abs(ks[impl] - ks["jacobian"]).max() <= 1e-12 * scale, impl
    k11 = np.asarray(empirical_ntk_fn(apply_fn, implementation="structured")(x1, None, params))
    np.testing.assert_allclose(k11, k11.T, rtol=1e-12)
    assert np.linalg.eigvalsh(k11).min() > -1e-10 * scale


def test_bad_arguments(rng):
    (init_fn, apply_fn, _), shape = _nets()["fc"]
    with pytest.raises(ValueError, match="implementation must be one of"):
        empirical_ntk_fn(apply_fn, implementation="fast")
    _, params = init_fn(jax.random.key(0), shape)
    with pytest.raises(TypeError, match="x1 must be float64"):
        empirical_ntk_fn(apply_fn)(np.ones(shape, np.float32), None, params)
    ln = stax.serial(stax.Dense(4), stax.LayerNorm(), stax.Dense(1))
    _, p = ln[0](jax.random.key(0), shape)
    assert empirical_ntk_fn(ln[1], implementation="structured")(rng.normal(size=shape), None, p).shape == (5, 5)
    with pytest.raises(NotImplementedError, match="needs the apply_fn of sims.kernels.stax.serial"):
        empirical_ntk_fn(lambda p, x: apply_fn(p, x), implementation="structured")(rng.normal(size=shape), None, params)
