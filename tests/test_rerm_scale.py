"""rerm_scale's claim can fail: synthetic timings ~ n^2 FAIL, ~ n PASS, an uncertified fit is
INCONCLUSIVE, too few sizes refuse the fit."""
import numpy as np

from figures.core.claims import Verdict
from figures.rerm_scale import CLAIMS, FIGURE, _synthetic

CLAIM = CLAIMS[0]
CFG = dict(FIGURE.config, fit_min_n=10000)


def test_quadratic_timings_fail_linear_pass():
    assert CLAIM.check(_synthetic(2.0)(CFG), CFG).verdict == Verdict.FAIL
    assert CLAIM.check(_synthetic(1.0)(CFG), CFG).verdict == Verdict.PASS
    assert CLAIM.check(_synthetic(0.5)(CFG), CFG).verdict == Verdict.FAIL


def test_uncertified_or_too_few_points_are_inconclusive():
    data = _synthetic(1.0)(CFG)
    data["jax_gap"] = data["jax_gap"].copy()
    data["jax_gap"][2] = 1e-3
    assert CLAIM.check(data, CFG).verdict == Verdict.INCONCLUSIVE
    few = {k: np.asarray(v)[:2] for k, v in _synthetic(1.0)(CFG).items()}
    assert CLAIM.check(few, CFG).verdict == Verdict.INCONCLUSIVE
