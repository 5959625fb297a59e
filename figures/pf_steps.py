"""Error vs number of score evaluations for every sampler (Chen et al. 2023, arXiv:2305.11798).

Panels:
(a) exact TV on Gaussian data in d = 10 (exact output law, no Monte Carlo) -- the order in h;
(b) TV on a separated 1-D mixture (non-log-concave) from particles, histogram (60 bins on
    [-5, 5]) against exact bin masses, mean +- sd over seeds, with the Monte-Carlo floor
    (qualitative: the floor hides the order; the mixture's quantitative claim is in pf_score);
(c) W2 (Gaussian fitted to the particles) and sliced W2 on Gaussian data in d = 16, with the
    exact-law W2 as a reference and the floor of two exact samples;
(d) unbiased MMD^2 (Gaussian kernel) in d = 16, same runs.

The paper proves rates, not figures; these panels are our regenerator.  Choices in
:mod:`figures.pf_common` and in each Claim.
"""
from __future__ import annotations

import math

import numpy as np

from figures.core import Claim, Figure, RunContext, rates
from figures.core.claims import Measurement
from figures.core.controls import fails, passes
from figures.pf_common import (CHOICES, COLORS, FIRST_ORDER, LABELS, MARKERS, SAMPLERS, VAR,
                               k_for_nfe, law_moments, mixture, nfe, scheme)

def _mixture_point(point):
    import jax
    from sims.pfode import sample
    from theory.ou import tv_histogram_1d

    q = mixture()
    s = scheme(point["sampler"], point["k"])
    keys = jax.random.split(jax.random.key(point["seed"]), point["n_seeds"])
    x = np.asarray(sample(keys, q.score, s, n=point["n"], d=1).x)
    edges = np.linspace(-5, 5, 61)
    tv = [tv_histogram_1d(xi, lambda z: q.cdf_1d(0.0, z), edges=edges) for xi in x]
    return {"tv": np.array([t for t, _ in tv]), "floor": np.array([f for _, f in tv]),
            "nfe": np.asarray(s.nfe)}


def _gauss_point(point):
    import jax
    from sims.pfode import sample
    from sims.pfode.metrics import mmd2, sliced_w2
    from theory.ou import isotropic_gaussian, w2_gaussians

    d = point["d"]
    q = isotropic_gaussian(d, VAR)
    s = scheme(point["sampler"], point["k"])
    keys = jax.random.split(jax.random.key(point["seed"]), point["n_seeds"])
    x = np.asarray(sample(keys, q.score, s, n=point["n"], d=d).x)
    rng = np.random.default_rng([point["seed"], 7])
    w2, sw2, mmd = [], [], []
    for xi in x:
        ref = rng.standard_normal(xi.shape) * math.sqrt(VAR)
        w2.append(w2_gaussians(xi.mean(0), np.cov(xi.T), np.zeros(d), VAR * np.eye(d)))
        sw2.append(sliced_w2(xi, ref, rng=rng))
        m = min(point["n_mmd"], xi.shape[0])
        mmd.append(mmd2(xi[:m], ref[:m], bandwidth=math.sqrt(2 * VAR * d)))
    return {"w2": np.array(w2), "sw2": np.array(sw2), "mmd": np.array(mmd),
            "nfe": np.asarray(s.nfe)}


def _floors(cfg, rng):
    from sims.pfode.metrics import mmd2, sliced_w2
    from theory.ou import w2_gaussians

    d, n = cfg["gauss_d"], cfg["gauss_n"]
    f_w2, f_sw2, f_mmd = [], [], []
    for _ in range(cfg["n_seeds"]):
        a = rng.standard_normal((n, d)) * math.sqrt(VAR)
        b = rng.standard_normal((n, d)) * math.sqrt(VAR)
        f_w2.append(w2_gaussians(a.mean(0), np.cov(a.T), np.zeros(d), VAR * np.eye(d)))
        f_sw2.append(sliced_w2(a, b, rng=rng))
        m = min(cfg["n_mmd"], n)
        f_mmd.append(mmd2(a[:m], b[:m], bandwidth=math.sqrt(2 * VAR * d)))
    return np.array(f_w2), np.array(f_sw2), np.array(f_mmd)


def compute(cfg: dict, ctx: RunContext) -> dict[str, np.ndarray]:
    from theory.ou import tv_isotropic_gaussians

    out: dict[str, np.ndarray] = {}
    # (a) exact law, d = law_d
    ks = np.unique(np.round(np.geomspace(1, cfg["law_kmax"], cfg["law_knobs"])).astype(np.int64))
    for name in SAMPLERS:
        kk = ks[nfe(name, ks) <= cfg["law_kmax"] * 2]
        _, p = law_moments(name, kk)
        out[f"law_k_{name}"] = kk
        out[f"law_nfe_{name}"] = nfe(name, kk)
        out[f"law_tv_{name}"] = tv_isotropic_gaussians(p, VAR, cfg["law_d"])
        out[f"law_w2_{name}"] = math.sqrt(cfg["gauss_d"]) * np.abs(np.sqrt(p) - math.sqrt(VAR))
    out["oracle_rel_diff"] = np.asarray(_oracle_rel_diff(cfg))
    # (b), (c), (d) particles
    samplers = cfg["particle_samplers"]
    pts = [{"kind": kind, "sampler": s, "k": k_for_nfe(s, b), "seed": cfg["seed"],
            "n_seeds": cfg["n_seeds"], **extra}
           for kind, extra in (("mix", {"n": cfg["mix_n"]}),
                               ("gauss", {"n": cfg["gauss_n"], "d": cfg["gauss_d"],
                                          "n_mmd": cfg["n_mmd"]}))
           for s in samplers for b in cfg["budgets"]]
    res = ctx.sweep(_point, pts, desc="pf_steps")
    for kind in ("mix", "gauss"):
        for s in samplers:
            rows = [r for p, r in zip(pts, res) if p["kind"] == kind and p["sampler"] == s]
            out[f"{kind}_nfe_{s}"] = np.array([int(r["nfe"]) for r in rows])
            for key in (("tv", "floor") if kind == "mix" else ("w2", "sw2", "mmd")):
                out[f"{kind}_{key}_{s}"] = np.stack([r[key] for r in rows], axis=1)  # (seeds, n)
    fw2, fsw2, fmmd = _floors(cfg, ctx.rng(11))
    out.update(floor_w2=fw2, floor_sw2=fsw2, floor_mmd=fmmd)
    return out


def _point(point):
    return _mixture_point(point) if point["kind"] == "mix" else _gauss_point(point)


ORACLE_KNOBS = (1, 4, 16)


def _oracle_rel_diff(cfg) -> float:
    """Max relative difference of the output variance: sims law oracle vs theory.pf_gaussian."""
    from theory.pf_gaussian import gaussian_law

    worst = 0.0
    for name in SAMPLERS:
        _, p = law_moments(name, ORACLE_KNOBS)
        for k, pk in zip(ORACLE_KNOBS, p):
            sc = scheme(name, k)
            _, q = gaussian_law(sc.predictor, sc.corrector, n_outer=sc.n_outer, n_pred=sc.n_pred,
                                n_corr=sc.n_corr, T=float(sc.T), t_end=float(sc.t_end),
                                t_corr=float(sc.t_corr), friction=float(sc.friction), var=VAR)
            worst = max(worst, abs(float(pk) - q) / q)
    return worst


def _measure_oracle(data, cfg):
    return Measurement(value=float(data["oracle_rel_diff"]),
                       extra={"knobs": list(ORACLE_KNOBS), "samplers": list(SAMPLERS)},
                       uncertainty={"method": "exact (float64 round-off)"},
                       details="theory.pf_gaussian derives every step's affine map on paper; "
                               "sims.pfode.law applies the samplers' own kernels")


def _measure_order(data, cfg):
    fits = {}
    for name in FIRST_ORDER:
        k, tv = np.asarray(data[f"law_k_{name}"]), np.asarray(data[f"law_tv_{name}"])
        m = tv < 0.3
        fits[name] = rates.fit_loglog(1.0 / k[m], tv[m], floor=1e-13)  # h ~ 1/k
    # the scheme that decides: the one whose CI lies furthest from order 1
    decider = max(fits, key=lambda n: max(abs(fits[n].rate_ci[0] - 1), abs(fits[n].rate_ci[1] - 1)))
    f = fits[decider]
    extra = {f"order_{n}": g.rate for n, g in fits.items()}
    extra |= {f"ci_{n}": list(g.rate_ci) for n, g in fits.items()}
    if "law_k_pfode2" in data:
        k2, tv2 = np.asarray(data["law_k_pfode2"]), np.asarray(data["law_tv_pfode2"])
        m2 = (tv2 < 0.05) & (tv2 > 1e-12)
        if m2.sum() >= 3:
            extra["order_etd_rk2_not_claimed"] = rates.fit_loglog(1.0 / k2[m2], tv2[m2]).rate
    return Measurement(value=f.rate, ci=f.rate_ci, fit_range={n: g.t_range for n, g in fits.items()},
                       extra=extra, uncertainty={"method": f.bootstrap + ", pairs over knobs"},
                       details=f"deciding scheme: {decider} (CI furthest from 1)")


def _synthetic_orders(p_bad):
    def data(cfg):
        k = np.unique(np.round(np.geomspace(4, 4000, 30)))
        out = {}
        for i, name in enumerate(FIRST_ORDER):
            p = p_bad if i == 1 else 1.0
            out[f"law_k_{name}"], out[f"law_tv_{name}"] = k, 0.2 * (4 / k) ** p
        return out
    return data


CLAIMS = (
    Claim(id="pf_steps.order1",
          statement="The first-order schemes (exponential-integrator PF-ODE, DDPM, and the "
                    "PF-ODE predictor with ULMC / LMC correctors) converge at order 1 in h",
          claimed="TV ~ h^p, p = 1 for each of PF-ODE, DDPM, DPUM, DPOM (the scheme furthest "
                  "from 1 decides)",
          quantity="order p", accept=(0.9, 1.1), law="power", measure=_measure_order,
          controls=(fails("one scheme (DDPM) at order 2", _synthetic_orders(2.0)),
                    fails("one scheme (DDPM) at order 1/2", _synthetic_orders(0.5)),
                    passes("all order 1", _synthetic_orders(1.0))),
          source="arXiv:2305.11798, discretisation analysis (error linear in h_pred, h_corr)",
          choices=CHOICES + "; exact TV of the exact output law on N(0, 0.25 I_10); fit on the "
                            "knobs with TV < 0.3"),
    Claim(id="pf_steps.oracle",
          statement="The exact-law oracle behind every TV curve (built from the samplers' own step "
                    "kernels) agrees with an independent derivation of the Gaussian recursion",
          claimed="sims.pfode.law = theory.pf_gaussian for every sampler, to round-off",
          quantity="max relative difference of the output variance", accept=(0.0, 1e-10),
          measure=_measure_oracle,
          controls=(fails("oracle off by 1e-6", lambda c: {"oracle_rel_diff": np.asarray(1e-6)}),
                    passes("agreement at 1e-15", lambda c: {"oracle_rel_diff": np.asarray(1e-15)})),
          source="arXiv:2305.11798, Sections 2-3 (the update rules)", choices=CHOICES),
)


def plot(data, cfg):
    import matplotlib.pyplot as plt

    fig, axs = plt.subplots(2, 2, figsize=(11, 8.2))
    ax = axs[0, 0]
    for name in SAMPLERS:
        ax.loglog(data[f"law_nfe_{name}"], data[f"law_tv_{name}"], "-", color=COLORS[name],
                  label=LABELS[name])
    n = np.geomspace(50, 5e4, 10)
    ax.loglog(n, 20 / n, "k:", label="1/nfe")
    ax.set(xlabel="score evaluations", ylabel=f"exact TV (d = {cfg['law_d']})",
           title="(a) Gaussian N(0, 0.25 I): exact output law", ylim=(1e-6, 1.5))
    ax.legend(fontsize=7)
    for key, ax, title in (("mix_tv", axs[0, 1], "(b) mixture 0.3N(-2.5,.25)+0.7N(2.5,.25), d=1"),
                           ("gauss_sw2", axs[1, 0], f"(c) Gaussian d={cfg['gauss_d']}: W2, sliced W2"),
                           ("gauss_mmd", axs[1, 1], f"(d) Gaussian d={cfg['gauss_d']}: MMD^2")):
        for name in cfg["particle_samplers"]:
            x = data[f"{key.split('_')[0]}_nfe_{name}"]
            y = data[f"{key}_{name}"]
            ax.errorbar(x, y.mean(0), yerr=y.std(0, ddof=1) if y.shape[0] > 1 else None,
                        fmt=MARKERS[name] + "-", color=COLORS[name], ms=4, capsize=2,
                        label=LABELS[name] + (" (sliced)" if key == "gauss_sw2" else ""))
            if key == "gauss_sw2":
                w = data[f"gauss_w2_{name}"]
                ax.errorbar(x, w.mean(0), yerr=w.std(0, ddof=1) if w.shape[0] > 1 else None,
                            fmt=MARKERS[name] + "--", color=COLORS[name], ms=3, alpha=0.6,
                            label=LABELS[name] + " (W2, fitted Gaussian)")
        if key == "mix_tv":
            fl = data[f"mix_floor_{cfg['particle_samplers'][0]}"].mean()
            ax.axhline(fl, color="gray", ls=":", label="Monte-Carlo floor")
            ax.set_ylabel("histogram TV")
        elif key == "gauss_sw2":
            ax.axhline(data["floor_sw2"].mean(), color="gray", ls=":", label="floor (sliced)")
            ax.axhline(data["floor_w2"].mean(), color="gray", ls="-.", label="floor (W2)")
            ax.set_ylabel("distance to target")
        else:
            ax.axhline(abs(data["floor_mmd"]).mean() + 1e-12, color="gray", ls=":",
                       label="|floor|")
            ax.set_yscale("symlog", linthresh=1e-5)
            ax.set_ylabel("MMD^2 (unbiased)")
        ax.set_xscale("log")
        if key != "gauss_mmd":
            ax.set_yscale("log")
        ax.set(xlabel="score evaluations", title=title)
        ax.legend(fontsize=6)
    fig.suptitle("PF-ODE samplers (arXiv:2305.11798): error vs score evaluations "
                 f"(mean +- sd over {cfg['n_seeds']} seeds)")
    fig.tight_layout()
    return fig


FIGURE = Figure(
    name="pf_steps",
    title="PF-ODE samplers: error vs score evaluations (exact TV, mixture TV, W2/SW2/MMD)",
    paper="Chen, Chewi, Lee, Li, Lu, Salim (2023), arXiv:2305.11798 (rates; figure is ours)",
    claims=CLAIMS,
    config={"law_d": 10, "law_kmax": 20_000, "law_knobs": 60,
            "particle_samplers": ["pfode", "ddpm", "dpum", "dpom"],
            "budgets": [64, 128, 256, 512], "n_seeds": 4,
            "mix_n": 25_000, "gauss_d": 16, "gauss_n": 2000, "n_mmd": 1000},
    quick={"law_kmax": 2000, "law_knobs": 20, "budgets": [64], "n_seeds": 2,
           "mix_n": 2000, "gauss_n": 300, "n_mmd": 200, "particle_samplers": ["dpum"]},
    compute=compute, plot=plot, expected_seconds=150,
)
