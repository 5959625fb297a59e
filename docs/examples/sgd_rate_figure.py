"""A figure of your own, outside theorylab: ``theorylab run docs/examples/sgd_rate_figure.py``.

SGD with step 1/t on f(w) = E (w - X)^2 / 2, X ~ N(mu, sigma^2), is the running mean,
so E|w_t - mu| = sigma sqrt(2 / (pi t)): the claimed O(1/sqrt t) rate is exact here.
The file defines ``FIGURE``; theorylab caches it, writes PNG/PDF/npz/JSON sidecar under
``--out`` and puts its claim into ``theorylab report`` like a built-in one.
"""
import numpy as np

from figures import check_rate
from figures.core import Claim, Figure

CLAIM = Claim(id="sgd_rate.sqrt_t", statement="SGD's error decays as 1/sqrt(t)",
              claimed="E|w_t - mu| = Theta(t^-1/2): power-law rate in [0.45, 0.55]",
              source="Robbins-Monro; e.g. Bach & Moulines 2011", choices="mu=1, sigma=2, 200 runs/seed")


def _sgd(rng, t_max, n_runs):
    w = np.zeros(n_runs)
    err = np.empty((t_max, n_runs))
    for t in range(1, t_max + 1):
        x = 1.0 + 2.0 * rng.standard_normal(n_runs)
        w -= (w - x) / t                       # gradient step, step size 1/t
        err[t - 1] = np.abs(w - 1.0)
    return err.mean(axis=1)


def compute(cfg, ctx):
    t = np.unique(np.logspace(0, np.log10(cfg["t_max"]), 25).astype(int))
    e = np.stack([_sgd(ctx.rng(s), cfg["t_max"], cfg["n_runs"])[t - 1]
                  for s in range(cfg["n_seeds"])])
    return {"t": t.astype(float), "err": e}


def check(data, cfg):
    r = check_rate(data["t"], data["err"], law="power", accept=(0.45, 0.55), seeds_axis=0,
                   t_range=(10, np.inf), compare=("log_power", "exp"))
    return [CLAIM.result(verdict=r.verdict, measured=r.rate, uncertainty={"ci95": list(r.ci)},
                         fit_range=list(r.t_range), details=repr(r))]


def plot(data, cfg):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.loglog(data["t"], data["err"].T, color="C0", alpha=0.4)
    ax.loglog(data["t"], 2 * np.sqrt(2 / (np.pi * data["t"])), "k:", label="2 sqrt(2/(pi t))")
    ax.set(xlabel="t", ylabel="E|w_t - mu|")
    ax.legend()
    return fig


FIGURE = Figure(name="sgd_rate", title="SGD on a mean: error 1/sqrt(t)", paper="(example)",
                claims=(CLAIM,), config={"t_max": 2000, "n_runs": 200, "n_seeds": 5},
                quick={"t_max": 300}, compute=compute, check=check, plot=plot)
