"""End-to-end --quick runs of the eos figures: files written, every declared claim has a verdict."""
from __future__ import annotations

import importlib

import numpy as np
import pytest

from figures.core.claims import Verdict
from figures.core.runner import paths, run_figure


def _run_quick(module, tmp_path):
    fig = importlib.import_module(module).FIGURE
    rec = run_figure(fig, out=tmp_path, quick=True, progress=False)
    assert rec.error is None, rec.error
    for p in paths(tmp_path, fig.name).values():
        assert p.exists() and p.stat().st_size > 0, p
    got = {r.claim_id for r in rec.claims}
    assert got == {c.id for c in fig.claims}
    assert all(isinstance(r.verdict, Verdict) for r in rec.claims)
    return rec


@pytest.mark.parametrize("module", ["figures.eos_reduced", "figures.eos_sharpening"])
def test_eos_figure_quick(module, tmp_path):
    rec = _run_quick(module, tmp_path)
    if module == "figures.eos_reduced":
        # the reduced-model claims are exact enough to pass even in the quick config
        assert all(r.verdict is Verdict.PASS for r in rec.claims), rec.claims


def test_eos_fig1_quick_locates_the_paper_threshold(tmp_path):
    """Quick run of Fig. 1 (network (2), 2 seeds): files and verdicts written; the bias
    transition sits within 10% of the paper's 8 pi/d^2, the bias below it does not depend on
    eta, the accuracy there is at the linear level (58.40%) and rises above it at eta = 0.012."""
    rec = _run_quick("figures.eos_fig1", tmp_path)
    res = {r.claim_id: r for r in rec.claims}
    assert 0.9 < res["eos_fig1.transition"].measured["eta_c / (8 pi/d^2)"] < 1.1, res["eos_fig1.transition"]
    sharp = res["eos_fig1.transition_sharp"].measured
    assert sharp["max over seeds of |db(0.8 eta*)| / |db(1.5 eta*)|"] < 0.05, sharp
    below = res["eos_fig1.below_bias"].measured
    assert below["bias spread over eta (max over seeds)"] < 0.01
    assert abs(res["eos_fig1.below_linear"].measured["test_acc_pct"] - 58.40) < 1.5
    assert res["eos_fig1.above_accuracy"].measured["test_acc_pct"] > 63.4
    # below the threshold GD sits on the gradient flow (ODE reference), above it does not
    for cid in ("eos_fig1.below_is_gradient_flow", "eos_fig1.above_departs_flow"):
        assert res[cid].verdict is Verdict.PASS, res[cid]
    gf = res["eos_fig1.below_is_gradient_flow"].measured
    np.testing.assert_allclose(gf["b_GF(T) per seed"], below["bias per seed"], atol=3e-3)


def _gf_data(b_gf, b):
    """Synthetic data for the gradient-flow claim: 2 seeds, etas 0.5, 0.8, 1.5, 3 x eta*."""
    from theory.eos import network2_threshold

    es = network2_threshold(200)
    b = np.asarray(b, float)
    theta = np.zeros((*b.shape, 3))
    theta[..., 2] = b
    theta_gf = np.zeros((2, 3))
    theta_gf[:, 2] = b_gf
    return {"eta": es * np.array([0.5, 0.8, 1.5, 3.0]), "eta_star": np.array(es),
            "theta": theta, "diverged": np.isnan(b), "theta_gf": theta_gf,
            "b_gf_at_eta": np.repeat(np.asarray(b_gf, float)[:, None], 4, 1),
            "gf_nfev": np.array([1, 1])}


@pytest.mark.parametrize("b, verdict", [
    # tol = 1e-2 |b_GF| + 1e-3 = 2e-3 (seed 0), 4e-3 (seed 1)
    ([[-0.1015, -0.1019, -0.15, -0.6], [-0.3035, -0.3039, -0.5, -0.9]], "PASS"),
    ([[-0.1015, -0.1021, -0.15, -0.6], [-0.3035, -0.3039, -0.5, -0.9]], "FAIL"),   # 2.1e-3 off
    ([[-0.1015, -0.1019, -0.115, -0.6], [-0.3035, -0.3039, -0.5, -0.9]], "FAIL"),  # 7.5 tol above
    ([[-0.1015, np.nan, -0.15, -0.6], [-0.3035, -0.3039, -0.5, -0.9]], "INCONCLUSIVE"),
])
def test_eos_fig1_gradient_flow_claim_verdicts(b, verdict):
    """The verdict logic of eos_fig1.below_is_gradient_flow on hand-made numbers: it can fail
    below (one run 2.1e-3 > 2e-3 off the flow) and above (a run only 7.5 tolerances off)."""
    from figures.core.claims import worst
    from figures.eos_fig1 import FIGURE

    data = _gf_data([-0.1, -0.3], b)
    cfg = {"gf_rtol": 1e-7, "horizon": 10.0, "lam": 3.0, "d": 200}
    claims = {c.id: c for c in FIGURE.claims}
    rs = [claims[c].check(data, cfg) for c in ("eos_fig1.below_is_gradient_flow",
                                               "eos_fig1.above_departs_flow")]
    assert worst([r.verdict for r in rs]) is Verdict(verdict), rs
