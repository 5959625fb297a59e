"""Two-layer single-filter linear CNN with BN: patch-wise uniform margin and its test error.

Y. Cao, D. Zou, Y. Li, Q. Gu, arXiv:2306.11680 (COLT 2023), CNN theorem and the examples where
the patch-wise uniform-margin classifier generalises better than the max-margin one.

CHOICE (the paper's two example distributions are out of reach here): a signal/noise patch
distribution of our own, x = (y mu e1, xi) with xi ~ N(0, sigma^2 I) on e1-perp, P = 2 patches,
second layer summing the patches.  Test error of the patch-wise uniform-margin filter (least
squares, theory.bn) vs the max-margin filter (hard-margin SVM on the summed patches, cvxpy) over
seeds; and BN GD patch margins z_ip(t) on one training set.
"""
from __future__ import annotations

import numpy as np

from figures.core import Claim, Figure, RunContext
from figures.core.claims import Measurement
from figures.core.controls import fails, passes

_CHOICES = ("Example distribution is ours (paper's out of reach): P=2 patches, signal patch "
            "y*mu*e1, noise patch N(0, sigma^2 I) on e1-perp, mu=1, sigma=1, n=20, d=200; "
            "second layer sums patches; BN GD: w0 ~ N(0,I/d) (norm ~1), gamma0=1, eta=0.05 "
            "(a large first step inflates ||w|| and freezes the direction), exp loss; "
            "no-BN contrast: w0=0, same eta; "
            "test error on 2000 fresh samples, mean +- 2 SE over seeds.")

def _sample(rng, n, d, mu, sig):
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    x = np.zeros((n, 2, d))
    x[:, 0, 0] = y * mu
    x[:, 1, 1:] = sig * rng.standard_normal((n, d - 1))
    return x, y


def compute(cfg: dict, ctx: RunContext) -> dict:
    from sims.bn import patch_margins, run_bn, run_nobn
    from theory.bn import patchwise_uniform_margin_direction, svm_direction

    eu, es = [], []
    for k in range(cfg["n_seeds"]):
        rng = ctx.rng(k)
        x, y = _sample(rng, cfg["n"], cfg["d"], cfg["mu"], cfg["sigma"])
        xt, yt = _sample(rng, cfg["n_test"], cfg["d"], cfg["mu"], cfg["sigma"])
        wu = patchwise_uniform_margin_direction(x, y)
        ws = svm_direction(x.sum(1), y)
        eu.append(np.mean(np.sign(xt.sum(1) @ wu) != yt))
        es.append(np.mean(np.sign(xt.sum(1) @ ws) != yt))
    rng = ctx.rng(1000)
    x, y = _sample(rng, cfg["n"], cfg["d"], cfg["mu"], cfg["sigma"])
    r = run_bn(x, y, rng.standard_normal(cfg["d"]) / np.sqrt(cfg["d"]), eta=cfg["eta"],
               steps=cfg["steps"])
    z = np.sign(r["gamma"])[:, None, None] * patch_margins(r["w"], x, y)
    # contrast: the same CNN without BN (w0 = 0, same eta), patch margins Sigma-normalised
    rn = run_nobn(x, y, np.zeros(cfg["d"]), eta=cfg["eta"], steps=cfg["steps"])
    zn = patch_margins(rn["w"][1:], x, y)
    return {"err_uniform": np.array(eu), "err_svm": np.array(es), "t": r["t"],
            "z": z.reshape(len(r["t"]), -1), "t_nobn": rn["t"][1:],
            "z_nobn": zn.reshape(len(rn["t"]) - 1, -1)}


PATCH_TOL = 1e-6


def _measure_patch(data, cfg):
    dev = float(np.max(np.abs(np.asarray(data["z"])[-1] - 1.0)))
    extra = {}
    if "z_nobn" in data:
        extra["no_bn_max_dev_T"] = float(np.max(np.abs(np.asarray(data["z_nobn"])[-1] - 1.0)))
    t_end = float(np.asarray(data["t"])[-1])
    return Measurement(value=dev, fit_range=(t_end, t_end), extra=extra,
                       uncertainty={"method": "exact (single training set)"},
                       details="no-BN CNN shown for contrast")


def _measure_test_error(data, cfg):
    from figures.core.claims import t_interval

    eu, es = np.asarray(data["err_uniform"]), np.asarray(data["err_svm"])
    m, lo, hi = t_interval(es - eu)             # paired over seeds (same test set per seed)
    return Measurement(value=m, ci=(lo, hi), seeds=int(eu.size),
                       extra={"err_uniform": float(eu.mean()), "err_svm": float(es.mean())},
                       uncertainty={"method": "95% t-interval of the paired per-seed difference"})


def _synthetic_cnn(dev=None, gain=None):
    def data(cfg):
        rng = np.random.default_rng(2)
        k = cfg["n_seeds"]
        es = 0.3 + 0.01 * rng.standard_normal(k)
        return {"z": 1.0 + (dev if dev is not None else 1e-9) * np.ones((1, 4)),
                "t": np.array([float(cfg["steps"])]),
                "err_svm": es, "err_uniform": es - (gain if gain is not None else 0.1)
                + 0.005 * rng.standard_normal(k)}
    return data


CLAIMS = (
    Claim(id="bn_cnn.patch_uniform", statement="GD on the two-layer single-filter linear CNN with "
          "BN converges to a patch-wise uniform-margin classifier",
          claimed="max_{i,p} |z_ip(T) - 1| -> 0", quantity="max_{i,p} |z_ip(T) - 1|",
          accept=(0.0, PATCH_TOL), measure=_measure_patch,
          controls=(fails("margins stuck 1e-3 from uniform", _synthetic_cnn(dev=1e-3)),
                    passes("margins uniform to 1e-9", _synthetic_cnn(dev=1e-9))),
          source="arXiv:2306.11680, CNN theorem", choices=_CHOICES),
    Claim(id="bn_cnn.test_error", statement="On a signal/noise patch example the patch-wise "
          "uniform-margin classifier has lower test error than the max-margin classifier",
          claimed="err(max margin) - err(uniform) > 0", quantity="err(svm) - err(uniform)",
          accept=(0.0, None), measure=_measure_test_error,
          controls=(fails("max margin better by 0.1", _synthetic_cnn(gain=-0.1)),
                    passes("uniform better by 0.1", _synthetic_cnn(gain=0.1))),
          source="arXiv:2306.11680, examples (our stand-in distribution)", choices=_CHOICES),
)


def plot(data, cfg):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(15, 3.8))
    ax[0].semilogx(data["t"], data["z"], lw=0.7)
    ax[0].set(xlabel="t", ylabel="z_ip", title="BN CNN: patch-wise margins")
    ax[2].semilogx(data["t_nobn"], data["z_nobn"], lw=0.7)
    ax[2].set(xlabel="t", ylabel="z_ip (Sigma-normalised)", title="no-BN CNN: patch-wise margins")
    k = len(data["err_uniform"])
    m = [data["err_uniform"].mean(), data["err_svm"].mean()]
    e = [2 * data[key].std(ddof=1) / np.sqrt(k) for key in ("err_uniform", "err_svm")]
    ax[1].bar(["patch-wise uniform", "max margin"], m, yerr=e, capsize=4)
    ax[1].set(ylabel="test error", title="signal/noise patch example")
    fig.tight_layout()
    return fig


FIGURE = Figure(name="bn_cnn", title="BN CNN: patch-wise uniform margin and test error",
                paper="Cao, Zou, Li, Gu (2023), arXiv:2306.11680, CNN theorem and examples",
                claims=CLAIMS,
                config={"n_seeds": 10, "n": 20, "d": 200, "mu": 1.0, "sigma": 1.0,
                        "n_test": 2000, "eta": 0.05, "steps": 100_000},
                quick={"n_seeds": 3, "steps": 2000, "n_test": 500},
                compute=compute, plot=plot, expected_seconds=30)
