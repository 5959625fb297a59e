"""Robust least squares with missing location on Airbnb London (arXiv:2306.05649, Sec. 5, Fig. 3).

(lng, lat) is hidden in every training row. "S": each hidden location lies in its known 1 km grid
cell (half side 0.5 km); "D ∩ S": the cell intersected with the disk of the known distance to the
centre. Both are fitted with ``robust_erm`` (squared loss, unperturbed intercept, per-sample
MissingFeatures sets, general path); "OLS" uses the full training data, "Drop" refits without
(lng, lat). Metric: percentage increase of test MSE over OLS, over resampled train/test splits.

Choices where the paper is silent (also in the claims): the grid is anchored at the city centre;
splits are redrawn with numpy default_rng(seed + k) (the paper uses one split, seed 0); error
bars are t-intervals over splits; "no worse" allows a 1 percentage-point margin.
"""
from __future__ import annotations


import numpy as np

from figures.core import Claim, Figure, RunContext
from figures.core.claims import Measurement, t_interval
from figures.core.controls import fails, passes

SRC = "Luxenberg et al., arXiv:2306.05649, Sec. 5 (Airbnb experiment, bar chart)"
CHOICES = ("1 km grid anchored at the city centre (-0.127249, 51.507972); km/deg 111.30 cos(lat0) "
           "and 110.574; splits resampled with default_rng(seed+k), 95% t-interval over splits; "
           "'no worse' margin 1 percentage point; CLARABEL solver; mean squared loss; a distance "
           "disk that misses its listing's cell by rounding is widened to touch it + 10 m")
MARGIN_PP = 1.0


DISK_SLACK_KM = 0.01


def disk_radius(centers, cell, dist):
    """Radius of each listing's distance disk: ``dist``, or, where the published distance puts
    the disk just short of the listing's own grid cell (the data's distance and our planar
    km/deg conversion differ by ~20 m), the cell's nearest point plus ``DISK_SLACK_KM``, so that
    D ∩ S is never empty (1 of 3,400 listings, 2.5 m short).  CHOICE, ours."""
    from robust_erm.datasets import CITY_CENTER, KM_PER_DEG

    c0, k = np.array(CITY_CENTER), np.array(KM_PER_DEG)
    near = np.clip(c0, centers - cell / 2, centers + cell / 2)
    d_near = np.sqrt((((near - c0) * k) ** 2).sum(1))
    return np.where(dist < d_near + DISK_SLACK_KM / 2, np.maximum(dist, d_near + DISK_SLACK_KM), dist)


def _sets(X, dist, cell_km):
    import robust_erm as rerm
    from robust_erm.datasets import CITY_CENTER, KM_PER_DEG
    c0, k = np.array(CITY_CENTER), np.array(KM_PER_DEG)
    cell = cell_km / k                                  # cell side in degrees (lng, lat)
    loc = X[:, 6:8]
    centers = c0 + (np.floor((loc - c0) / cell) + 0.5) * cell
    radius = disk_radius(centers, cell, dist)
    S, DS = [], []
    for i in range(X.shape[0]):
        vals = X[i].copy()
        vals[6:8] = np.nan
        box = rerm.sets.Box(widths=cell / 2, center=centers[i])
        disk = rerm.sets.EllipsoidQuad(sigma=np.diag(1 / k ** 2), radius=float(radius[i]), center=c0)
        S.append(rerm.sets.MissingFeatures(vals, box))
        DS.append(rerm.sets.MissingFeatures(vals, rerm.sets.Intersection(box, disk)))
    return S, DS, centers


def split_point(point):
    import robust_erm as rerm
    from robust_erm.datasets import load_airbnb_london
    d = load_airbnb_london()
    X, y, dist = d["X"], d["y"], d["dist"]
    rng = np.random.default_rng(point["seed"])
    idx = rng.permutation(X.shape[0])
    tr, te = idx[:point["n_train"]], idx[point["n_train"]:point["n_train"] + point["n_test"]]

    def mse(theta, b):
        return float(np.mean((X[te] @ theta + b - y[te]) ** 2))

    A = np.c_[X[tr], np.ones(tr.size)]
    w = np.linalg.lstsq(A, y[tr], rcond=None)[0]
    out = {"ols": mse(w[:-1], w[-1])}
    A = np.c_[X[tr][:, :6], np.ones(tr.size)]
    w = np.linalg.lstsq(A, y[tr], rcond=None)[0]
    out["drop"] = mse(np.r_[w[:-1], 0.0, 0.0], w[-1])
    S, DS, centers = _sets(X[tr], dist[tr], point["cell_km"])
    # the hidden (lng, lat) never reach the robust fits: X carries the cell centres (the per-sample
    # sets are absolute, so these entries are only placeholders)
    Xf = X[tr].copy()
    Xf[:, 6:8] = centers
    for name, sets in (("S", S), ("DS", DS)):
        res = rerm.RobustERM(loss=rerm.losses.Squared(), uncertainty=sets).fit(
            Xf, y[tr], solver="CLARABEL")
        out[name] = mse(res.theta, res.intercept)
    return {k: np.array(v) for k, v in out.items()}


def compute(cfg, ctx: RunContext):
    pts = [{"seed": int(cfg["seed"]) + k, "n_train": cfg["n_train"], "n_test": cfg["n_test"],
            "cell_km": cfg["cell_km"]} for k in range(cfg["n_splits"])]
    outs = ctx.sweep(split_point, pts, desc="splits")
    return {k: np.array([float(o[k]) for o in outs]) for k in ("ols", "drop", "S", "DS")}


def _pct(data, k):
    return 100 * (data[k] - data["ols"]) / data["ols"]


def _summary(pct):
    return "; ".join(f"{k}: {np.mean(v):+.2f}% ± {np.std(v, ddof=1) if v.size > 1 else 0:.2f}"
                     for k, v in pct.items())


def _measure_beats_drop(data, cfg):
    pct = {k: _pct(data, k) for k in ("drop", "S", "DS")}
    iv = {k: t_interval(pct["drop"] - pct[k]) for k in ("S", "DS")}
    # both must hold: the weaker of the two decides (min of the means, lows and highs)
    return Measurement(value=min(v[0] for v in iv.values()),
                       ci=(min(v[1] for v in iv.values()), min(v[2] for v in iv.values())),
                       extra={f"drop_minus_{k}_pp": v[0] for k, v in iv.items()},
                       seeds=int(np.asarray(data["ols"]).size),
                       uncertainty={"method": "95% t-interval over splits, weaker of S and D ∩ S",
                                    **{f"ci_{k}": [v[1], v[2]] for k, v in iv.items()}},
                       details=f"test-MSE % increase over OLS (mean ± sd over splits): {_summary(pct)}")


def _measure_ds_vs_s(data, cfg):
    pct = {k: _pct(data, k) for k in ("drop", "S", "DS")}
    m, lo, hi = t_interval(pct["DS"] - pct["S"])
    return Measurement(value=m, ci=(lo, hi), seeds=int(np.asarray(data["ols"]).size),
                       uncertainty={"method": "95% t-interval over splits (paired)"},
                       details=f"paired difference %inc(D∩S) - %inc(S); {_summary(pct)}")


def _synthetic_mse(drop, s, ds):
    """Test MSEs over 10 splits with the given % increases over OLS (0.2 pp noise)."""
    def data(cfg):
        rng = np.random.default_rng(4)
        ols = 1.0 + 0.05 * rng.standard_normal(10)
        inc = {"drop": drop, "S": s, "DS": ds}
        return {"ols": ols} | {k: ols * (1 + (v + 0.2 * rng.standard_normal(10)) / 100)
                               for k, v in inc.items()}
    return data


CLAIMS = (
    Claim(id="rerm_airbnb.robust_beats_drop",
          statement="Both robust fits (S and D ∩ S) have lower test MSE than dropping (lng, lat)",
          claimed="MSE(Drop) - MSE(robust) > 0 for S and D ∩ S (in % of OLS's MSE)",
          quantity="min over S, D∩S of %inc(Drop) - %inc(robust) [pp]", accept=(0.0, None),
          measure=_measure_beats_drop,
          controls=(fails("S worse than Drop by 3 pp", _synthetic_mse(5.0, 8.0, 2.0)),
                    passes("both 3 pp better", _synthetic_mse(5.0, 2.0, 2.0))),
          source=SRC, choices=CHOICES),
    Claim(id="rerm_airbnb.ds_no_worse_than_s",
          statement="The tighter set D ∩ S is no worse than S",
          claimed="%inc(D ∩ S) - %inc(S) at most the 'no worse' margin",
          quantity="%inc(D∩S) - %inc(S) [pp]", accept=(None, MARGIN_PP), measure=_measure_ds_vs_s,
          controls=(fails("D∩S 3 pp worse", _synthetic_mse(5.0, 2.0, 5.0)),
                    passes("D∩S equal to S", _synthetic_mse(5.0, 2.0, 2.0))),
          source=SRC, choices=CHOICES),
)


def plot(data, cfg):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5.5, 4))
    names = [("S", "S"), ("DS", "D ∩ S"), ("drop", "Drop")]
    vals = [_pct(data, k) for k, _ in names]
    err = [np.std(v, ddof=1) if v.size > 1 else 0 for v in vals]
    ax.bar([lab for _, lab in names], [np.mean(v) for v in vals], yerr=err, capsize=4,
           color=["C0", "C2", "C3"])
    ax.axhline(0, color="k", lw=0.8)
    ax.set(ylabel="Percentage increase in test error over OLS",
           title=f"Airbnb London, (lng, lat) missing in all {cfg['n_train']} training rows\n"
                 f"mean ± sd over {data['ols'].size} resampled splits")
    fig.tight_layout()
    return fig


FIGURE = Figure(
    name="rerm_airbnb",
    title="Robust least squares with missing location (Airbnb London): S, D ∩ S vs OLS and Drop",
    paper="Luxenberg, Malik, Li, Singh, Boyd, arXiv:2306.05649, Sec. 5 (Airbnb bar chart)",
    claims=CLAIMS,
    config={"n_train": 1000, "n_test": 500, "n_splits": 8, "cell_km": 1.0},
    quick={"n_train": 100, "n_test": 100, "n_splits": 2},
    compute=compute, plot=plot, expected_seconds=150,
)
