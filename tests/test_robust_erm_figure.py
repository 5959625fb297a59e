"""The rerm_airbnb figure runs end to end in quick mode and reports a verdict for every claim."""
from figures.core.claims import Verdict
from figures.core.runner import run_figure
from figures.rerm_airbnb import FIGURE


def test_rerm_airbnb_quick(tmp_path):
    rec = run_figure(FIGURE, out=tmp_path, quick=True, progress=False)
    assert rec.error is None
    for ext in ("png", "pdf", "npz", "json"):
        assert (tmp_path / "rerm_airbnb" / f"rerm_airbnb.{ext}").exists()
    assert {c.claim_id for c in rec.claims} == {c.id for c in FIGURE.claims}
    assert all(isinstance(c.verdict, Verdict) for c in rec.claims)


def test_airbnb_loader_matches_paper_filter():
    from robust_erm.datasets import load_airbnb_london
    d = load_airbnb_london()
    assert d["X"].shape == (3400, 8)          # the paper's code: 3400 rows after filtering
    assert d["X"].dtype.name == "float64"
