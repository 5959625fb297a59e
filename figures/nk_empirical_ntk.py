"""Cost of the three finite-width (empirical) NTK methods vs width: Jacobian contraction, NTK-vector
products, structured derivatives (Novak, Sohl-Dickstein, Schoenholz, ICML 2022, arXiv:2206.08720).

The paper's cost analysis (§3-4, Table 1) for a fully connected net of depth ``L`` and width ``N``
with ``P ~ L N²`` parameters, ``n`` inputs and ``O`` outputs: Jacobian contraction forms the
``(nO × P)`` Jacobians and contracts them, time ``~ nO·[FP] + n²O²·P`` — quadratic in the width;
structured derivatives never form weight Jacobians (an affine layer's is ``a ⊗ I``), time
``~ nO·[FP] + n²O²·L N`` — the contraction term only linear in ``N`` — so it is much faster at the
same width (the paper's FCN example: well over an order of magnitude).  NTK-vector products
(``n O`` VJP+JVP pairs, no stored Jacobian) are reported, not asserted.

Claims (stated before measuring; choices ours): (1) the Jacobian-contraction time grows as ``N^p``
with ``p`` in ``[1.5, 2.5]`` (claimed 2); (2) structured derivatives are at least 10x faster than
Jacobian contraction at the widest width (t-interval of the log ratio over repeats).  Either FAILs
when the measurement says otherwise (``tests/test_nk_empirical_ntk_figure.py`` feeds synthetic
timings that violate each claim and checks the FAIL).  Choices: FCN ``[Dense(N)-Relu] x 2 - Dense(4)``,
``W_std = 1.5, b_std = 0.05``, ``n = 16`` inputs ``x ~ N(0, I_32)``, widths 64..1024, CPU, float64,
jitted once per width (compile excluded), the three methods alternating in every repeat; verdicts on
the process CPU time (the 2 cores are shared; wall time is reported).  All three kernels agree to
``max_diff`` (reported; ``tests/test_kernels_empirical_ntk.py`` asserts 1e-12).
"""
from __future__ import annotations

import math

import numpy as np

from figures.core import Claim, Figure, RunContext, rates
from figures.core.claims import Verdict, t_interval, verdict_from_interval

IMPLS = ("jacobian", "ntk_vector", "structured")
EXPONENT_BAND = (1.5, 2.5)
MIN_SPEEDUP = 10.0

_CHOICES = ("FCN [Dense(N, W_std=1.5, b_std=0.05)-Relu] x depth - Dense(k), 'ntk' parameterization; "
            "n inputs x ~ N(0, I_d); the (n, n) empirical NTK by each method of "
            "sims.kernels.empirical_ntk, jitted once per width (compile excluded), methods alternating "
            "in every repeat; CPU, float64, shared 2-core machine: verdicts on the process CPU time "
            "(all threads), wall time reported; exponent = fit_loglog of the medians for N >= fit_n_min.")

CLAIMS = (
    Claim(id="nk_empirical_ntk.jacobian_quadratic",
          statement="The Jacobian-contraction empirical NTK of a fully connected net costs time quadratic "
                    "in the width (its Jacobians have P ~ L N^2 columns)",
          claimed=f"t_jacobian ~ N^p, p = 2 (accept 95% CI in [{EXPONENT_BAND[0]}, {EXPONENT_BAND[1]}])",
          source="Novak, Sohl-Dickstein, Schoenholz, ICML 2022, arXiv:2206.08720, Sec. 3-4, Table 1",
          choices=_CHOICES),
    Claim(id="nk_empirical_ntk.structured_speedup",
          statement="Structured derivatives compute the same empirical NTK much faster than Jacobian "
                    "contraction: their contraction term is linear, not quadratic, in the width",
          claimed=f"t_jacobian / t_structured >= {MIN_SPEEDUP:g} at the widest width (95% t-interval of "
                  "the log ratio over repeats; our threshold, the paper reports over an order of "
                  "magnitude on its FCN)",
          source="arXiv:2206.08720, Sec. 4 (FCN / CNN benchmarks), Table 1",
          choices=_CHOICES + f" The {MIN_SPEEDUP:g}x threshold is ours, fixed before measuring."),
)


def compute(cfg: dict, ctx: RunContext) -> dict[str, np.ndarray]:
    # timing runs inline (not through ctx.sweep): parallel points would time each other's load
    import jax

    from sims.kernels.timing import time_empirical_ntk

    widths = [int(w) for w in cfg["widths"]]
    t = time_empirical_ntk(widths, n=cfg["n"], d=cfg["d"], k=cfg["k"], depth=cfg["depth"],
                           repeats=cfg["repeats"], key=jax.random.key(cfg["seed"]))
    return {"widths": np.array(widths, float), **t}


def check(data, cfg):
    w = np.asarray(data["widths"], float)
    rng = np.random.default_rng(cfg["seed"])
    med = {f"{c}_{i}": np.median(data[f"{c}_{i}"], 0) for c in ("wall", "cpu") for i in IMPLS}
    per_w = "; ".join(f"N={int(n)}: " + ", ".join(f"{i} {1e3 * med[f'wall_{i}'][j]:.2f} ms" for i in IMPLS)
                      for j, n in enumerate(w))
    base = f"medians of {data['cpu_jacobian'].shape[0]} repeats; wall times {per_w}"
    if "max_diff" in data:
        base += f"; max relative difference between the methods' kernels {float(np.max(data['max_diff'])):.1e}"
    try:
        fits = {(c, i): rates.fit_loglog(w, med[f"{c}_{i}"], x_range=(cfg["fit_n_min"], np.inf), rng=rng)
                for c in ("cpu", "wall") for i in IMPLS}
    except ValueError as err:   # fewer than 3 widths in the fit range
        return [c.result(verdict=Verdict.INCONCLUSIVE, measured=None, details=str(err)) for c in CLAIMS]
    f, fw = fits[("cpu", "jacobian")], fits[("wall", "jacobian")]
    others = ", ".join(f"{i} {fits[('cpu', i)].rate:.2f} [{fits[('cpu', i)].rate_ci[0]:.2f}, "
                       f"{fits[('cpu', i)].rate_ci[1]:.2f}]" for i in IMPLS[1:])
    r1 = CLAIMS[0].result(
        verdict=f.verdict(accept_lo=EXPONENT_BAND[0], accept_hi=EXPONENT_BAND[1]), measured=f.rate,
        uncertainty={"ci95": f.rate_ci, "bootstrap": f.bootstrap, "wall_time_exponent": fw.rate,
                     "wall_time_ci95": fw.rate_ci},
        fit_range=f.t_range,
        details=f"{base}; CPU-time exponents of the other methods (reported): {others}; wall-time exponent "
                f"of Jacobian contraction {fw.rate:.2f} [{fw.rate_ci[0]:.2f}, {fw.rate_ci[1]:.2f}]")
    lr = np.log10(data["cpu_jacobian"][:, -1] / data["cpu_structured"][:, -1])
    m, lo, hi = t_interval(lr)
    ratio = {i: (med["cpu_jacobian"] / med[f"cpu_{i}"]).tolist() for i in IMPLS[1:]}
    r2 = CLAIMS[1].result(
        verdict=verdict_from_interval(lo, hi, accept_lo=math.log10(MIN_SPEEDUP)), measured=float(10 ** m),
        uncertainty={"ci95_t_over_repeats": [float(10 ** lo), float(10 ** hi)],
                     "n_repeats": int(lr.size)},
        fit_range={"width": int(w[-1])},
        details=f"{base}; CPU-time speedup of structured derivatives over Jacobian contraction per width "
                + ", ".join(f"{v:.1f}x" for v in ratio["structured"]) + "; of NTK-vector products "
                + ", ".join(f"{v:.1f}x" for v in ratio["ntk_vector"]))
    return [r1, r2]


def plot(data, cfg):
    import matplotlib.pyplot as plt

    w = np.asarray(data["widths"], float)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.3))
    ax = axes[0]
    for i, c in zip(IMPLS, ("C3", "C1", "C0")):
        for clock, st in (("cpu", "o-"), ("wall", "x--")):
            t = data[f"{clock}_{i}"]
            ax.loglog(np.broadcast_to(w, t.shape).ravel(), t.ravel(), ".", color=c, alpha=0.25, ms=3)
            ax.loglog(w, np.median(t, 0), st, color=c, ms=4, label=f"{i}, {clock}",
                      alpha=1.0 if clock == "cpu" else 0.6)
    ref = np.median(data["cpu_jacobian"], 0)[-1] * (w / w[-1]) ** 2
    ax.loglog(w, ref, "k:", lw=1, label="~ N^2")
    ax.axvspan(w[0] / 1.1, cfg["fit_n_min"] / 1.05, color="0.92", zorder=0)
    ax.set(xlabel="width N", ylabel="seconds per (n, n) kernel",
           title=f"empirical NTK, FCN depth {cfg['depth']}, n = {cfg['n']}, k = {cfg['k']}")
    ax.legend(fontsize=7)
    ax = axes[1]
    for i, c in zip(IMPLS[1:], ("C1", "C0")):
        q = np.median(data["cpu_jacobian"], 0) / np.median(data[f"cpu_{i}"], 0)
        ax.loglog(w, q, "o-", color=c, label=f"jacobian / {i} (CPU)")
    ax.axhline(MIN_SPEEDUP, color="k", ls="--", lw=0.8, label=f"claimed >= {MIN_SPEEDUP:g}x")
    ax.axhline(1.0, color="k", lw=0.6)
    ax.set(xlabel="width N", ylabel="speedup over Jacobian contraction", title="speedup (this CPU)")
    ax.legend(fontsize=7.5)
    fig.suptitle("Fast finite-width NTK (arXiv:2206.08720): cost vs width, float64, shared 2-core CPU",
                 fontsize=10)
    fig.tight_layout()
    return fig


FIGURE = Figure(
    name="nk_empirical_ntk",
    title="Empirical NTK cost vs width: Jacobian contraction ~N^2, structured derivatives much faster",
    paper="Novak, Sohl-Dickstein, Schoenholz (ICML 2022), arXiv:2206.08720, Sec. 3-4, Table 1",
    claims=CLAIMS,
    config={"widths": [64, 128, 256, 512, 1024], "n": 16, "d": 32, "k": 4, "depth": 2, "repeats": 3,
            "fit_n_min": 128},
    quick={"widths": [32, 64, 128, 256], "repeats": 2, "fit_n_min": 64},
    compute=compute, check=check, plot=plot, expected_seconds=60,
)
