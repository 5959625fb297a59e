"""Diagonal-spatial propagation (neural-tangents ``diagonal_spatial``): chosen from the readout, equal to the
full-covariance path, and refused where a layer needs the off-diagonal position pairs.

References: the full ``(n1, n2, *s, *s)`` path of the same network (``diagonal_spatial=False``, an
independent code path through ``spatial.conv_lin`` and ``spatial.diag_mean``) and, for the
pooling-free CNNs, neural-tangents 0.6.5 values stored in ``tests/data/nt_reference``
(``cnn_flatten_*``, ``conv_flatten_*``; checked in ``tests/test_kernels_nt_parity.py``).  Both
compute the same closed forms in another order: rtol 1e-12.
"""
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sims.kernels import stax
from sims.kernels.stax import diagonal_from


def _cnn(depth=3, c=8):
    layers = []
    for _ in range(depth):
        layers += [stax.Conv(c, (3, 3), padding="SAME", W_std=1.5, b_std=0.1), stax.Relu()]
    return stax.serial(*layers, stax.Flatten(), stax.Dense(1, W_std=1.5, b_std=0.1))


NETS = {
    "cnn3": _cnn,
    "strided_erf_pool": lambda: stax.serial(
        stax.Conv(8, (3, 3), padding="SAME"), stax.Relu(), stax.AvgPool((2, 2), strides=(2, 2)),
        stax.Conv(8, (3, 3), strides=(2, 2), padding="SAME"), stax.Erf(), stax.Flatten(), stax.Dense(1)),
    "flatten_first": lambda: stax.serial(stax.Flatten(), stax.Dense(3, W_std=2 ** 0.5, b_std=0.1), stax.Relu(),
                                         stax.Dense(1)),
    "layernorm_spatial": lambda: stax.serial(stax.Conv(8, (3, 3), padding="VALID"), stax.LayerNorm(axis=(1, 2, 3)),
                                             stax.Gelu(), stax.Flatten(), stax.Dense(1)),
    "residual": lambda: stax.serial(
        stax.Conv(8, (3, 3), padding="SAME"), stax.FanOut(2),
        stax.parallel(stax.serial(stax.Relu(), stax.Conv(8, (3, 3), padding="SAME")), stax.Identity()),
        stax.FanInSum(), stax.Relu(), stax.Flatten(), stax.Dense(1)),
    "dropout_standard": lambda: stax.serial(
        stax.Conv(8, (2, 2), padding="VALID", parameterization="standard", b_std=0.2), stax.Sin(),
        stax.Dropout(0.8), stax.Conv(4, (3, 3), strides=(2, 1), padding="SAME", parameterization="standard"),
        stax.Abs(), stax.Flatten(), stax.Dense(1, parameterization="standard")),
}


@pytest.mark.parametrize("name", sorted(NETS))
def test_diagonal_path_equals_the_full_covariance_path(rng, name):
    _, _, kf = NETS[name]()
    x1, x2 = rng.normal(size=(4, 7, 6, 3)), rng.normal(size=(3, 7, 6, 3))
    for a, b in ((x1, x2), (x1, None)):
        full = kf(a, b, get=("nngp", "ntk"), diagonal_spatial=False)
        auto = kf(a, b, get=("nngp", "ntk"))
        for f, d in zip(full, auto):
            np.testing.assert_allclose(d, f, rtol=1e-12, atol=1e-14)


def test_the_readout_chooses_where_the_diagonal_path_starts():
    assert diagonal_from(_cnn().apply_fn.layers) == 0                         # pooling-free: from the input
    assert diagonal_from(NETS["strided_erf_pool"]().apply_fn.layers) == 3     # after the last pooling layer
    gap = stax.serial(stax.Conv(4, (3, 3)), stax.Relu(), stax.GlobalAvgPool(), stax.Dense(1))
    assert diagonal_from(gap.apply_fn.layers) is None                         # GAP needs all pairs; after it
                                                                              # nothing spatial is left
    nohead = stax.serial(stax.Conv(4, (3, 3)), stax.Relu())
    assert diagonal_from(nohead.apply_fn.layers) is None                      # output keeps all pairs


def test_forced_diagonal_output_and_clear_errors(rng):
    x = rng.normal(size=(3, 5, 5, 2))
    nohead = stax.serial(stax.Conv(4, (3, 3), padding="SAME"), stax.Relu())
    full = nohead.kernel_fn(x, None, get="nngp")
    diag = nohead.kernel_fn(x, None, get="nngp", diagonal_spatial=True)
    assert full.shape == (3, 3, 5, 5, 5, 5) and diag.shape == (3, 3, 5, 5)
    np.testing.assert_allclose(diag, np.einsum("abijij->abij", np.asarray(full)), rtol=1e-13)
    _, _, kf = NETS["strided_erf_pool"]()
    with pytest.raises(ValueError, match=r"diagonal_spatial=True, but layers\[2\] needs the full"):
        kf(x, None, get="ntk", diagonal_spatial=True)
    with pytest.raises(NotImplementedError, match="diagonal_batch"):
        kf(x, None, get="ntk", diagonal_batch=False)
    with pytest.raises(ValueError, match="diagonal_spatial must be"):
        kf(x, None, get="ntk", diagonal_spatial="yes")


def test_pooling_free_cnn_is_much_faster_on_the_diagonal_path(rng):
    # issue #20: [Conv3x3 SAME-Relu]x3-Flatten-Dense on 8x8x3; the full path carries (8*8)^2 = 4096
    # position pairs per example pair, the diagonal one 64: a >= 5x lower bound on the speedup
    # (measured ~20-60x on the shared 2-core CPU; the bound leaves room for a loaded machine)
    _, _, kf = _cnn(c=16)
    x = jnp.asarray(rng.normal(size=(24, 8, 8, 3)))
    times = {}
    for ds in (False, None):
        jax.block_until_ready(kf(x, None, get=("nngp", "ntk"), diagonal_spatial=ds))   # compile
        t0 = time.perf_counter()
        for _ in range(3):
            jax.block_until_ready(kf(x, None, get=("nngp", "ntk"), diagonal_spatial=ds))
        times[ds] = time.perf_counter() - t0
    assert times[False] > 5 * times[None], times
