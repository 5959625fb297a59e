"""Finite-width kernels converge to the exact NNGP / NTK at rate 1/√width.

Jacot et al. 2018 (arXiv:1806.07572, Thm. 1-2): the empirical NTK of a network in the NTK
parameterization converges to a deterministic kernel as the widths grow; Lee et al. 2018
(arXiv:1711.00165): the outputs converge to a GP with the NNGP kernel.  Fluctuations of these
empirical averages over ``width`` i.i.d. units are O(1/√width) (CLT; e.g. Hanin & Nica 2020,
arXiv:1909.05989, for the NTK at fixed depth).  The papers state the limits, not the rate.

Choices (not fixed by the papers): ``n = 8`` inputs ``x ~ N(0, I_16)``; network
``Dense(w, W_std=1.5, b_std=0.05) - Relu - Dense(k, W_std=1.5, b_std=0.05)``, 'ntk'
parameterization; empirical NTK = Jacobian inner product with ``k = 1``; empirical NNGP = ``f f'ᵀ/k``
of one network with ``k = w`` readout units; error = relative Frobenius ``‖K̂ − K‖_F/‖K‖_F``;
widths 2⁶..2¹³; exponent fitted by ``figures.core.rates.fit_loglog`` with a bootstrap CI over seeds;
accept when the 95% CI lies inside [−0.6, −0.4].
"""
from __future__ import annotations

import numpy as np

from figures.core import Claim, Figure, RunContext, rates

CHOICES = ("n = 8 inputs x ~ N(0, I_16); Dense(w)-Relu-Dense(k), W_std = 1.5, b_std = 0.05, 'ntk' "
           "parameterization; relative Frobenius error; fit_loglog with bootstrap over seeds; "
           "accept the 95% CI inside [-0.6, -0.4]")

CLAIMS = (
    Claim(id="nk_finite_width.ntk_rate",
          statement="The empirical NTK of a finite network converges to the exact NTK as width grows, "
                    "with fluctuations of order 1/sqrt(width)",
          claimed="||NTK_w - NTK||_F/||NTK||_F ~ w^p, p = -1/2",
          source="Jacot et al. 2018, arXiv:1806.07572, Thm. 1-2 (limit); CLT rate",
          choices=CHOICES + "; k = 1 output"),
    Claim(id="nk_finite_width.nngp_rate",
          statement="The empirical NNGP f f'/k of one finite network converges to the exact NNGP at "
                    "rate 1/sqrt(width)",
          claimed="||NNGP_w - NNGP||_F/||NNGP||_F ~ w^p, p = -1/2",
          source="Lee et al. 2018, arXiv:1711.00165, Sec. 2.3 (limit); CLT rate",
          choices=CHOICES + "; k = w readout units"),
)


def _net(width, k):
    from sims.kernels import stax

    return stax.serial(stax.Dense(width, W_std=1.5, b_std=0.05), stax.Relu(),
                       stax.Dense(k, W_std=1.5, b_std=0.05))


def _inputs(seed, n, d):
    return np.random.default_rng([seed, 11]).normal(size=(n, d))


def _point(point):
    """Relative errors of the empirical NTK / NNGP at one width, for ``n_seeds`` initialisations."""
    import jax
    from sims.kernels.empirical import empirical_nngp, empirical_ntk

    w, n, d = point["width"], point["n"], point["d"]
    x = _inputs(point["seed"], n, d)
    init1, apply1, kf = _net(w, 1)
    initw, applyw, _ = _net(w, w)
    exact = kf(x, None, get=("nngp", "ntk"))
    keys = jax.random.split(jax.random.key(point["seed"] * 1000 + w), point["n_seeds"])

    @jax.jit  # traced once per width; seeds run sequentially (lax.map): the w x w readout of the
    # NNGP net has 67M weights at w = 8192, so vmapping 16 seeds would need ~9 GB
    def one(key):
        _, p1 = init1(key, x.shape)
        _, pw = initw(key, x.shape)
        return empirical_ntk(apply1, p1, x), empirical_nngp(applyw, pw, x)

    ntk, nngp = jax.lax.map(one, keys)
    rel = lambda a, b: np.linalg.norm(np.asarray(a) - np.asarray(b), axis=(-2, -1)) / np.linalg.norm(b)  # noqa: E731
    return {"err_ntk": rel(ntk, exact.ntk), "err_nngp": rel(nngp, exact.nngp),
            "ntk_emp": np.asarray(ntk[0]), "ntk_exact": np.asarray(exact.ntk),
            "nngp_emp": np.asarray(nngp[0]), "nngp_exact": np.asarray(exact.nngp)}


def compute(cfg: dict, ctx: RunContext) -> dict[str, np.ndarray]:
    widths = [2 ** e for e in range(cfg["log2_width_min"], cfg["log2_width_max"] + 1)]
    points = [{"width": w, "n": cfg["n"], "d": cfg["d"], "seed": cfg["seed"], "n_seeds": cfg["n_seeds"]}
              for w in widths]
    res = ctx.sweep(_point, points, desc="widths")
    out = {"width": np.array(widths, float),
           "err_ntk": np.stack([r["err_ntk"] for r in res], axis=1),     # (n_seeds, n_widths)
           "err_nngp": np.stack([r["err_nngp"] for r in res], axis=1)}
    for key in ("ntk_emp", "ntk_exact", "nngp_emp", "nngp_exact"):
        out[key] = np.stack([r[key] for r in res])                        # (n_widths, n, n)
    return out


def check(data, cfg):
    results = []
    for claim, key in zip(CLAIMS, ("err_ntk", "err_nngp")):
        fit = rates.fit_loglog(data["width"], data[key], rng=np.random.default_rng(cfg["seed"]))
        results.append(claim.result(
            verdict=fit.verdict(accept_lo=-0.6, accept_hi=-0.4), measured=fit.rate,
            uncertainty={"ci95": fit.rate_ci, "bootstrap": fit.bootstrap},
            fit_range=fit.t_range,
            details=f"{data[key].shape[0]} seeds x {data[key].shape[1]} widths; median rel. error "
                    f"{np.median(data[key][:, 0]):.3g} at w={int(data['width'][0])}, "
                    f"{np.median(data[key][:, -1]):.3g} at w={int(data['width'][-1])}"))
    return results


def plot(data, cfg):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    w = data["width"]
    ax = axes[0]
    for key, label, c in (("err_ntk", "empirical NTK", "C0"), ("err_nngp", "empirical NNGP", "C1")):
        e = data[key]
        ax.loglog(w, e.T, color=c, alpha=0.15, lw=0.8)
        ax.loglog(w, np.median(e, 0), "o-", color=c, label=label)
    ref = np.median(data["err_ntk"][:, 0]) * np.sqrt(w[0] / w)
    ax.loglog(w, ref, "k--", label=r"$\propto w^{-1/2}$")
    ax.set_xlabel("width w"); ax.set_ylabel(r"$\|\hat K - K\|_F / \|K\|_F$"); ax.legend()
    ax.set_title("finite-width kernel error (seeds faint)")
    ax = axes[1]
    for i, (mk, a) in ((0, ("s", 0.6)), (-1, ("o", 0.9))):
        ax.plot(data["ntk_exact"][i].ravel(), data["ntk_emp"][i].ravel(), mk, alpha=a,
                label=f"NTK, w={int(w[i])}")
    lo, hi = data["ntk_exact"].min(), data["ntk_exact"].max()
    ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
    ax.set_xlabel("exact NTK entry"); ax.set_ylabel("empirical NTK entry (seed 0)"); ax.legend()
    ax.set_title("exact vs empirical entries")
    fig.tight_layout()
    return fig


def _ordered(lo_key: str, hi_key: str):
    """``validate`` hook: config[lo_key] <= config[hi_key]."""
    def validate(cfg):
        if cfg[lo_key] > cfg[hi_key]:
            raise ValueError(f"{lo_key}={cfg[lo_key]} must be <= {hi_key}={cfg[hi_key]}")
    return validate


FIGURE = Figure(
    name="nk_finite_width",
    title="Empirical NTK / NNGP of finite ReLU nets converge to the exact kernels at rate 1/sqrt(width)",
    paper="Jacot et al. 2018 (arXiv:1806.07572); Lee et al. 2018 (arXiv:1711.00165); kernels as in "
          "neural-tangents (Novak et al. 2020)",
    claims=CLAIMS,
    config={"n": 8, "d": 16, "log2_width_min": 6, "log2_width_max": 13, "n_seeds": 16},
    quick={"log2_width_max": 9, "n_seeds": 4},
    compute=compute, check=check, plot=plot, expected_seconds=40,
    validate=_ordered("log2_width_min", "log2_width_max"))
