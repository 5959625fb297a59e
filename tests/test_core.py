"""The figure machinery: sweeps resume, runs cache, files are atomic, the CLI answers."""
import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from figures.core import Claim, Figure, PointStore, run_sweep
from figures.core.claims import Verdict, verdict_from_interval, worst
from figures.core.report import write_report
from figures.core.runner import run_figure

CALLS = []


def _square(point):
    CALLS.append(point["x"])
    return {"y": np.array(point["x"] ** 2, dtype=float)}


def _fails_at_3(point):
    if point["x"] == 3:
        raise KeyboardInterrupt  # simulate an interrupted sweep
    return _square(point)


def test_sweep_resumes_without_redoing_points(tmp_path):
    store = PointStore(tmp_path / "pts")
    points = [{"x": x} for x in range(6)]
    CALLS.clear()
    with pytest.raises(KeyboardInterrupt):
        run_sweep(_fails_at_3, points, store=store, progress=False)
    assert sorted(CALLS) == [0, 1, 2] and len(store) == 3
    CALLS.clear()
    out = run_sweep(_square, points, store=store, progress=False)
    assert sorted(CALLS) == [3, 4, 5]
    assert [float(r["y"]) for r in out] == [x**2 for x in range(6)]


def test_sweep_on_an_executor_keeps_order(tmp_path):
    with ThreadPoolExecutor(2) as ex:
        out = run_sweep(_square, [{"x": x} for x in range(8)], executor=ex, progress=False)
    assert [float(r["y"]) for r in out] == [x**2 for x in range(8)]


def test_sweep_rejects_duplicate_points():
    with pytest.raises(ValueError, match="distinct"):
        run_sweep(_square, [{"x": 1}, {"x": 1}], progress=False)


CLAIM = Claim(id="toy.slope", statement="slope is 2", claimed="2", source="toy")


def _toy_figure(counter):
    def compute(cfg, ctx):
        counter.append(1)
        x = np.linspace(1, 2, cfg["n"])
        return {"x": x, "y": cfg["slope"] * x}

    def check(data, cfg):
        s = float(np.polyfit(data["x"], data["y"], 1)[0])
        v = verdict_from_interval(s, s, accept_lo=1.9, accept_hi=2.1)
        return [CLAIM.result(verdict=v, measured=s, fit_range=[1, 2])]

    def plot(data, cfg):
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        ax.plot(data["x"], data["y"])
        return fig

    return Figure(name="toy", title="toy", paper="none", claims=(CLAIM,),
                  config={"n": 5, "slope": 2.0}, quick={"n": 3}, compute=compute, check=check,
                  plot=plot)


def test_run_figure_writes_files_caches_and_reports(tmp_path):
    calls = []
    fig = _toy_figure(calls)
    rec = run_figure(fig, out=tmp_path, progress=False)
    assert not rec.cached and rec.claims[0].verdict == Verdict.PASS
    for ext in ("png", "pdf", "npz", "json"):
        assert (tmp_path / "toy" / f"toy.{ext}").stat().st_size > 0
    side = json.loads((tmp_path / "toy" / "toy.json").read_text())
    assert side["config"]["n"] == 5 and side["seed"] == 0
    assert {"numpy", "jax"} <= set(side["provenance"]["packages"])
    assert "x64" in side["provenance"]["jax"]
    assert not list(tmp_path.rglob("*.tmp*"))  # no temporary files left behind
    rec2 = run_figure(fig, out=tmp_path, progress=False)
    assert rec2.cached and len(calls) == 1
    run_figure(fig, out=tmp_path, progress=False, force=True)
    assert len(calls) == 2
    run_figure(fig, out=tmp_path, progress=False, overrides={"slope": 3.0})  # new config: recompute
    assert len(calls) == 3
    md, js = write_report(tmp_path)
    text = md.read_text()
    assert "toy.slope" not in text or "FAIL" in text  # slope 3 fails the claim
    rep = json.loads(js.read_text())
    assert rep["figures"][0]["claims"][0]["verdict"] == "FAIL"


def test_unknown_override_is_named():
    with pytest.raises(ValueError, match="unknown config keys"):
        _toy_figure([]).resolve_config(nope=1)


def test_verdict_logic():
    assert verdict_from_interval(0.9, 1.1, accept_lo=0.5, accept_hi=1.5) == Verdict.PASS
    assert verdict_from_interval(1.6, 2.0, accept_lo=0.5, accept_hi=1.5) == Verdict.FAIL
    assert verdict_from_interval(1.4, 1.6, accept_lo=0.5, accept_hi=1.5) == Verdict.INCONCLUSIVE
    assert verdict_from_interval(float("nan"), 1.0) == Verdict.INCONCLUSIVE
    assert worst([Verdict.PASS, Verdict.INCONCLUSIVE]) == Verdict.INCONCLUSIVE
    assert worst([Verdict.PASS, Verdict.FAIL]) == Verdict.FAIL


def test_cli_list_and_info_run(capsys):
    from figures.core.cli import main

    assert main(["info"]) == 0
    assert "x64: True" in capsys.readouterr().out
    assert main(["list"]) == 0
    assert main(["run", "no_such_figure*"]) == 2


def test_t_interval_matches_scipy_interval_and_edge_cases():
    from scipy import stats

    from figures.core.claims import t_interval

    x = np.array([0.3, -1.2, 2.5, 0.7, 1.1])
    m, lo, hi = t_interval(x)
    ref = stats.t.interval(0.95, x.size - 1, loc=x.mean(), scale=stats.sem(x))
    np.testing.assert_allclose([m, lo, hi], [x.mean(), *ref], rtol=1e-12)
    assert t_interval([4.0]) == (4.0, -np.inf, np.inf)
    assert all(np.isnan(t_interval([])))
    assert np.isnan(t_interval([1.0, np.nan, 2.0])[0])                 # NaN propagates by default
    np.testing.assert_allclose(t_interval([1.0, np.nan, 2.0, np.inf], finite_only=True),
                               t_interval([1.0, 2.0]), rtol=1e-12)
