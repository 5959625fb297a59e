"""nk_empirical_ntk: the cost claims can FAIL (synthetic timings), and the quick run reports verdicts."""
import numpy as np
import pytest

from figures.core.claims import Verdict
from figures.nk_empirical_ntk import CLAIMS, FIGURE, IMPLS


def _synthetic(jac_exponent, speedup, *, noise=0.02, repeats=4, seed=0):
    """Timings ``t_jac = 1e-6 N^jac_exponent``, ``t_struct = t_jac / speedup``, ``t_ntkv = t_jac / 2``,
    with multiplicative log-normal noise (sd ``noise``) per repeat."""
    rng = np.random.default_rng(seed)
    w = np.array([64.0, 128, 256, 512, 1024])
    base = {"jacobian": 1e-6 * w ** jac_exponent}
    base["ntk_vector"] = base["jacobian"] / 2
    base["structured"] = base["jacobian"] / speedup
    data = {"widths": w, "max_diff": np.full(w.size, 1e-15)}
    for i in IMPLS:
        for c in ("wall", "cpu"):
            data[f"{c}_{i}"] = base[i] * np.exp(noise * rng.standard_normal((repeats, w.size)))
    return data


def _verdicts(data):
    cfg = FIGURE.resolve_config(quick=False, seed=0)
    return {r.claim_id: r.verdict for r in FIGURE.check(data, cfg)}


def test_timings_matching_the_paper_pass():
    v = _verdicts(_synthetic(2.0, 60.0))
    assert v == {c.id: Verdict.PASS for c in CLAIMS}


@pytest.mark.parametrize("jac_exponent, speedup, failing", [
    (1.0, 60.0, "nk_empirical_ntk.jacobian_quadratic"),    # linear growth: not the N^2 of P ~ N^2
    (3.0, 60.0, "nk_empirical_ntk.jacobian_quadratic"),    # cubic growth
    (2.0, 2.0, "nk_empirical_ntk.structured_speedup"),      # structured only 2x faster
    (2.0, 0.5, "nk_empirical_ntk.structured_speedup"),      # structured slower
])
def test_timings_violating_a_claim_fail(jac_exponent, speedup, failing):
    v = _verdicts(_synthetic(jac_exponent, speedup))
    assert v[failing] == Verdict.FAIL
    assert all(verdict == Verdict.PASS for cid, verdict in v.items() if cid != failing)


def test_noisy_speedup_near_the_threshold_is_inconclusive():
    # a ratio of 10x measured with 40% scatter over 4 repeats: the interval straddles the threshold
    v = _verdicts(_synthetic(2.0, 10.0, noise=0.4, seed=3))
    assert v["nk_empirical_ntk.structured_speedup"] == Verdict.INCONCLUSIVE


def test_quick_run_measures_and_methods_agree(tmp_path):
    from figures.core.atomic import read_npz
    from figures.core.runner import run_figure

    rec = run_figure(FIGURE, out=tmp_path, quick=True, progress=False)
    assert rec.error is None
    assert {c.claim_id for c in rec.claims} == {c.id for c in FIGURE.claims}
    data = read_npz(tmp_path / FIGURE.name / f"{FIGURE.name}.npz")
    assert np.all(data["max_diff"] < 1e-10)   # the three methods compute the same kernel
    for i in IMPLS:
        assert np.all(data[f"cpu_{i}"] > 0) and np.all(np.isfinite(data[f"wall_{i}"]))
