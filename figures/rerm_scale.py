"""Robust ERM at scale: time to a certified 1e-6 duality gap vs n, jax backend vs CVXPY/CLARABEL
(robust_erm, arXiv:2306.05649 problem (1); issue #18).

Robust logistic regression with an l2 ball (radius 0.1) and ridge 1e-4, d = 50 Gaussian features,
labels from a noisy linear rule.  For each n: the median wall time of ``RobustERM.fit`` with
``backend="jax"`` (certified: relative duality gap <= 1e-6, compiled once beforehand), with the
cvxpy path (CLARABEL, certified by the library, n up to ``n_cvxpy_max``), and of scikit-learn's
nominal ``LogisticRegression`` on the same data (reference only).  The crossover is the smallest n
at which the jax fit is faster than CLARABEL.

Claim (ours, issue #18): the jax backend's time grows as n^p with p ~ 1 (each L-BFGS iteration is
two products with X, and the iteration count does not grow with n).  Choices: the problem above,
the n grid, medians of ``repeats`` calls (``benchmarks/_timing.py``), the log-log fit on
n >= ``fit_min_n`` (below it fixed per-call overhead dominates), acceptance band [0.8, 1.25] for
the bootstrap CI of p.  Timings depend on the machine and its load; they are recorded with the
result.
"""
from __future__ import annotations

import numpy as np

from figures.core import Claim, Figure, RunContext
from figures.core.claims import Measurement
from figures.core.controls import fails, passes

SRC = "issue #18 (robust_erm at scale); problem (1) of Luxenberg et al., arXiv:2306.05649"
CHOICES = ("robust logistic, l2 ball radius 0.1, ridge 1e-4, d = 50, Gaussian X, labels "
           "sign(X w + noise); median of `repeats` fits after one untimed (compiling) fit; "
           "log-log least squares with bootstrap CI on n >= fit_min_n; band [0.8, 1.25]")


def median_time(fn, *, repeats: int, warmup: int = 1) -> float:
    """Median wall seconds of ``fn()`` over ``repeats`` calls after ``warmup`` calls (figures do
    not import ``benchmarks/``, which is not an installed package)."""
    import statistics
    import time

    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def _data(n, d, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.where(X @ rng.normal(size=d) + 0.5 * rng.normal(size=n) > 0, 1.0, -1.0)
    return X, y


def time_point(point):
    """Median seconds of the jax fit, the CLARABEL fit (or NaN) and sklearn, and the gaps."""
    import jax
    jax.config.update("jax_enable_x64", True)        # the figure's entry point: float64
    from sklearn.linear_model import LogisticRegression

    import robust_erm as rerm
    from robust_erm.regularizers import Ridge

    n, d, reps = point["n"], point["d"], point["repeats"]
    X, y = _data(n, d, point["seed"])
    alpha = 1e-4
    spec = rerm.RobustERM(loss=rerm.losses.Logistic(), uncertainty=rerm.sets.Ball(p=2, radius=0.1),
                          regularizer=Ridge(alpha))
    res = spec.fit(X, y, backend="jax")
    out = {"jax": median_time(lambda: spec.fit(X, y, backend="jax"), repeats=reps),
           "jax_gap": res.certificate.gap,
           "sklearn": median_time(lambda: LogisticRegression(C=1 / (2 * alpha * n), tol=1e-8,
                                                             max_iter=1000).fit(X, y),
                                  repeats=reps)}
    if n <= point["n_cvxpy_max"]:
        cv = spec.fit(X, y)
        out["cvxpy"] = median_time(lambda: spec.fit(X, y), repeats=1, warmup=0)
        out["objective_rel_diff"] = abs(res.objective - cv.objective) / abs(cv.objective)
    else:
        out["cvxpy"], out["objective_rel_diff"] = np.nan, np.nan
    return {k: np.array(float(v)) for k, v in out.items()}


def compute(cfg, ctx: RunContext):
    pts = [{"n": int(n), "d": cfg["d"], "repeats": cfg["repeats"], "seed": int(cfg["seed"]),
            "n_cvxpy_max": cfg["n_cvxpy_max"]} for n in cfg["ns"]]
    outs = ctx.sweep(time_point, pts, desc="n")
    data = {k: np.array([float(o[k]) for o in outs]) for k in outs[0]}
    data["n"] = np.array(cfg["ns"], dtype=np.float64)
    return data


def _measure_exponent(data, cfg):
    from figures.core import rates
    n, t = np.asarray(data["n"], float), np.asarray(data["jax"], float)
    keep = n >= cfg["fit_min_n"]
    if keep.sum() < 3:
        raise ValueError(f"need >= 3 sizes n >= {cfg['fit_min_n']} for the fit, got {keep.sum()}")
    fit = rates.fit_loglog(n[keep], t[keep])
    gaps = np.asarray(data.get("jax_gap", np.zeros_like(n)), float)
    return Measurement(value=fit.rate, ci=fit.rate_ci, fit_range=fit.t_range,
                       extra={"max_certified_gap": float(np.max(gaps))},
                       uncertainty={"method": "bootstrap CI of the log-log slope"},
                       details=f"jax fit time {t[keep][0]:.3g} s at n = {n[keep][0]:.0f} to "
                               f"{t[keep][-1]:.3g} s at n = {n[keep][-1]:.0f}",
                       refuse="" if np.all(gaps <= 1e-6) else "a jax fit was not certified")


def _synthetic(power):
    """Timings c * n^power with 3 % multiplicative noise (a control for the exponent check)."""
    def data(cfg):
        rng = np.random.default_rng(3)
        n = np.array([1e4, 2e4, 5e4, 1e5, 2e5, 5e5])
        return {"n": n, "jax": 1e-5 * n ** power * np.exp(0.03 * rng.standard_normal(n.size)),
                "jax_gap": np.full(n.size, 1e-7)}
    return data


CLAIMS = (
    Claim(id="rerm_scale.jax_linear_in_n",
          statement="The jax backend's time to a certified 1e-6 gap grows linearly in n",
          claimed="time ~ n^p with p ~ 1", quantity="log-log slope p of jax time vs n",
          accept=(0.8, 1.25), measure=_measure_exponent,
          controls=(fails("quadratic timings n^2", _synthetic(2.0)),
                    passes("linear timings n", _synthetic(1.0))),
          source=SRC, choices=CHOICES),
)


def plot(data, cfg):
    import matplotlib.pyplot as plt
    n = data["n"]
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.loglog(n, data["jax"], "o-", label="robust_erm backend='jax' (gap <= 1e-6)")
    ok = np.isfinite(data["cvxpy"])
    ax.loglog(n[ok], data["cvxpy"][ok], "s-", label="robust_erm backend='cvxpy' (CLARABEL)")
    ax.loglog(n, data["sklearn"], "^--", label="sklearn LogisticRegression (nominal)")
    faster = np.flatnonzero(ok & (data["jax"] < data["cvxpy"]))
    if faster.size:
        ax.axvline(n[faster[0]], color="gray", ls=":", lw=1)
        ax.annotate("jax faster", (n[faster[0]], ax.get_ylim()[1]), fontsize=8, va="top",
                    ha="left", color="gray")
    ax.set(xlabel="n (rows), d = 50", ylabel="fit time [s] (median)",
           title="Robust logistic, l2 ball: time to a certified fit")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


FIGURE = Figure(
    name="rerm_scale",
    title="Robust ERM at scale: jax backend vs CLARABEL vs sklearn, time vs n",
    paper="robust_erm (Luxenberg et al., arXiv:2306.05649, problem (1)); issue #18",
    claims=CLAIMS,
    config={"d": 50, "ns": [1000, 3000, 10000, 30000, 100000, 300000], "n_cvxpy_max": 10000,
            "repeats": 3, "fit_min_n": 10000},
    quick={"d": 10, "ns": [1000, 3000, 10000, 30000], "n_cvxpy_max": 3000, "repeats": 1,
           "fit_min_n": 1000},
    bounds={"d": (1, 1000), "repeats": (1, 20), "fit_min_n": (1, 10**7), "n_cvxpy_max": (0, 10**7)},
    compute=compute, plot=plot, expected_seconds=240,
)
