"""The independent Gaussian-law oracle (theory.pf_gaussian) against the samplers (arXiv:2305.11798).

theory.pf_gaussian derives each step's affine map on paper; sims.pfode.law builds it from the
samplers' own kernels; the particle sampler draws.  Agreement of the first two to round-off on
random schemes, and of the oracle with closed-form limits, checks the step code independently.
"""
import itertools
import math

import numpy as np
import pytest

from theory.pf_gaussian import gaussian_law, ulmc_noise_covariance

CASES = list(itertools.product(["ode", "ode2", "ddpm"], ["none", "lmc", "ulmc"]))


@pytest.mark.parametrize("pred,corr", CASES)
def test_matches_the_sims_law_oracle(pred, corr):
    from sims.pfode.law import isotropic_law

    rng = np.random.default_rng(hash((pred, corr)) % 2**32)
    for _ in range(3):
        n_outer, n_pred, n_corr = (int(v) for v in rng.integers(1, 9, 3))
        T, t_end = float(rng.uniform(2, 6)), float(rng.uniform(0, 0.05))
        t_corr, fr = float(rng.uniform(0.05, 0.6)), float(rng.uniform(0.5, 3))
        var, mean, bias = float(rng.uniform(0.1, 2)), float(rng.normal()), float(rng.normal(0, 0.1))
        a = gaussian_law(pred, corr, n_outer=n_outer, n_pred=n_pred, n_corr=n_corr if corr != "none" else 0,
                         T=T, t_end=t_end, t_corr=t_corr, friction=fr, var=var, mean=mean, bias=bias)
        b = isotropic_law(n_outer, n_pred, n_corr, T, t_end, t_corr, fr, predictor=pred,
                          corrector=corr, var=var, mean=mean, bias=bias)
        np.testing.assert_allclose(a, [float(v) for v in b], rtol=1e-12, atol=1e-14)


def test_ulmc_noise_covariance_by_quadrature():
    from scipy.integrate import quad

    g, dl = 1.3, 0.37
    kz = lambda r: (1 - math.exp(-g * r)) / g  # noqa: E731
    kv = lambda r: math.exp(-g * r)            # noqa: E731
    ref = 2 * g * np.array([[quad(lambda r: kz(r) ** 2, 0, dl)[0], quad(lambda r: kz(r) * kv(r), 0, dl)[0]],
                            [quad(lambda r: kz(r) * kv(r), 0, dl)[0], quad(lambda r: kv(r) ** 2, 0, dl)[0]]])
    np.testing.assert_allclose(ulmc_noise_covariance(g, dl), ref, rtol=1e-12)


def test_pfode_converges_to_the_target_at_order_one():
    # the exact flow maps q_T to q_0; from N(0, 1) (= q_inf) at T = 12 the start error is ~e^{-24},
    # so the variance error is the discretisation error: first order, 4x smaller at 4x the steps
    errs = [gaussian_law("ode", "none", n_outer=1, n_pred=n, n_corr=0, T=12.0, var=0.25)[1] - 0.25
            for n in (2000, 8000)]
    assert 3.6 < errs[0] / errs[1] < 4.4 and 0 < errs[1] < 1e-3, errs


def test_long_lmc_corrector_converges_to_the_current_target():
    # LMC at fixed time t targets q_t = N(a mu, lam_t) up to O(delta): many small steps -> lam_t
    t, var = 0.5, 0.25
    lam = math.exp(-2 * t) * var + 1 - math.exp(-2 * t)
    m, p = gaussian_law("ode", "lmc", n_outer=1, n_pred=1, n_corr=200000, T=t + 1e-9,
                        t_end=t, t_corr=200.0, var=var)
    assert abs(p - lam) < 5e-3 * lam


@pytest.mark.parametrize("bad,match", [({"n_outer": 0}, "n_outer"), ({"var": -1.0}, "var")])
def test_bad_input(bad, match):
    kw = dict(n_outer=1, n_pred=1, n_corr=0, T=1.0, var=0.25) | bad
    with pytest.raises(ValueError, match=match):
        gaussian_law("ode", "none", **kw)
