"""The sketch speed and KRR figures run end to end in --quick mode; the sims helpers they call against references."""
import numpy as np
import pytest

from figures.core.atomic import read_npz
from figures.core.claims import Verdict
from figures.core.runner import run_figure


def _run(fig, tmp_path):
    rec = run_figure(fig, out=tmp_path, quick=True, progress=False)
    assert rec.error is None
    for ext in ("png", "pdf", "npz", "json"):
        assert (tmp_path / fig.name / f"{fig.name}.{ext}").exists()
    assert {c.claim_id for c in rec.claims} == {c.id for c in fig.claims}
    assert all(isinstance(c.verdict, Verdict) for c in rec.claims)
    return rec, read_npz(tmp_path / fig.name / f"{fig.name}.npz"), fig.resolve_config(quick=True, seed=0)


def test_nk_sketch_speed_quick(tmp_path):
    from figures.nk_sketch_speed import ARCHS, FIGURE

    rec, data, cfg = _run(FIGURE, tmp_path)
    for arch in ARCHS:
        for key in ("wall_exact", "wall_sketch", "cpu_exact", "cpu_sketch"):
            t = data[f"{arch}_{key}"]
            assert t.shape == (cfg["repeats"], len(cfg[f"{arch}_ns"])) and np.all(t > 0), key
    by_id = {c.claim_id: c for c in rec.claims}
    # the exact CNTK cost per pair is large (all (HW)^2 position pairs): quadratic growth is
    # visible even at the quick sizes; a generous band, since the 2 cores are shared
    conv = by_id["nk_sketch_speed.conv_exact_quadratic"]
    assert conv.measured is not None and 1.4 < conv.measured < 2.6


def test_nk_sketch_krr_quick(tmp_path):
    from figures.nk_sketch_krr import FIGURE, KERNELS, _n_seeds

    rec, data, cfg = _run(FIGURE, tmp_path)
    for k in KERNELS:
        net = k.rsplit("_", 1)[0]
        assert data[f"{k}_acc"].shape == (_n_seeds(cfg, net), len(cfg[f"{net}_ms"]))
        assert np.all((data[f"{k}_acc"] >= 0) & (data[f"{k}_acc"] <= 1))
    # sanity that can fail: exact FC kernels on digits are strong classifiers (>= 0.9; KIP note §3),
    # and the CNTK on its small class-balanced subset beats chance by far
    for k in ("fc_relu_ntk", "fc_relu_nngp", "fc_gelu_ntk"):
        assert float(data[f"{k}_exact_acc"]) > 0.9, k
    assert float(data["conv_relu_ntk_exact_acc"]) > 0.6
    # sketches improve with m: the largest quick m is not worse than the smallest on average
    assert data["fc_relu_ntk_acc"][:, -1].mean() >= data["fc_relu_ntk_acc"][:, 0].mean() - 0.01


def test_crossover_interpolates_in_log_log():
    from sims.kernels.timing import crossover

    n = np.array([10.0, 100.0, 1000.0, 10000.0])
    assert crossover(n, n / 300.0) == pytest.approx(300.0)   # speedup = n/300 crosses 1 at n = 300
    assert crossover(n, np.full(4, 2.0)) == 10.0               # faster everywhere: the first n
    assert np.isnan(crossover(n, np.full(4, 0.5)))              # never faster


def test_validated_ridge_matches_direct_solves(rng):
    """The one-eigendecomposition ridge path equals a Cholesky solve per ridge (independent method)."""
    from scipy.linalg import cho_factor, cho_solve

    from sims.kernels.krr import validated_ridge
    from sims.kip.data import centered_one_hot

    x = rng.normal(size=(120, 5))
    y = (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] > 0).astype(int)
    k = np.exp(-0.5 * np.sum((x[:, None] - x[None]) ** 2, -1) / 5)
    val = np.zeros(120, bool)
    val[::4] = True
    grid = np.logspace(-6, 1, 8)
    lam, accs = validated_ridge(k, centered_one_hot(y, 10), y, val, grid)
    f = ~val
    kff = k[np.ix_(f, f)]
    yf = centered_one_hot(y[f], 10)
    direct = []
    for g in grid:
        a = cho_solve(cho_factor(kff + g * np.trace(kff) / kff.shape[0] * np.eye(f.sum())), yf)
        direct.append(np.mean(np.argmax(k[np.ix_(val, f)] @ a, 1) == y[val]))
    np.testing.assert_array_equal(accs, direct)
    assert lam == grid[np.flatnonzero(accs == max(accs))[-1]]
