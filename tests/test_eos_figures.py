"""End-to-end --quick runs of the eos figures: files written, every declared claim has a verdict."""
from __future__ import annotations

import importlib

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
    tr = res["eos_fig1.transition"].measured
    assert 0.9 < tr["eta_c / (8pi/d^2)"] < 1.1, tr
    assert tr["|db(0.8 eta*)| / |db(1.5 eta*)| (max over seeds)"] < 0.05, tr
    assert res["eos_fig1.below_bias"].measured["bias spread over eta (max over seeds)"] < 0.01
    assert abs(res["eos_fig1.below_linear"].measured["test_acc_pct"] - 58.40) < 1.5
    assert res["eos_fig1.above_threshold"].measured["test_acc_pct at eta_max"] > 63.4
