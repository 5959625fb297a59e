"""End-to-end quick runs of the BN figure modules (arXiv:2306.11680)."""
import importlib

import pytest

from figures.core.claims import Verdict
from figures.core.runner import paths, run_figure


@pytest.mark.parametrize("module", ["figures.bn_rate", "figures.bn_cnn"])
def test_bn_figure_quick(module, tmp_path):
    fig = importlib.import_module(module).FIGURE
    rec = run_figure(fig, out=tmp_path, quick=True, progress=False)
    assert rec.error is None, rec.error
    for p in paths(tmp_path, fig.name).values():
        assert p.exists() and p.stat().st_size > 0, p
    assert {r.claim_id for r in rec.claims} == {c.id for c in fig.claims}
    assert all(isinstance(r.verdict, Verdict) for r in rec.claims)
