"""Wall time of sketched vs exact NTK/NNGP as the number of inputs n grows (CPU, float64).

Han, Zandieh, Lee, Novak, Xiao, Karbasi, "Fast Neural Kernel Embeddings for General Activations"
(NeurIPS 2022, arXiv:2209.04121, abstract and §6; predecessor Zandieh et al. 2021, arXiv:2106.07880):
a sketched feature map ``Φ`` with ``ΦΦᵀ ≈ K`` costs time linear in the number of inputs (one
row-wise map per input, near input-sparsity time), whereas an exact kernel matrix costs one kernel
recursion per *pair* of inputs, ``O(n²)`` — for a CNTK each pair carries all ``(HW)²`` position
pairs.  The paper reports a 106× speedup of its approximate Myrtle-5 CNTK over the exact one on
CIFAR-10 on a GPU; that number is out of reach here (CPU, 2 cores, 8×8 inputs), so the verdicts are
about the *scaling exponents*, which do not depend on the machine's speed; the crossover ``n`` and
the speedup at the largest ``n`` are reported, not asserted.

What is timed (our choices; the paper is silent on them): the exact NNGP+NTK train Gram ``(n, n)``
by :func:`sims.kernels.kernel_matrix` in fixed ``(bs, bs)`` blocks, and the sketch's feature map of
the ``n`` inputs by ``sims.kernels.sketch`` in fixed ``bs``-row batches (the input of a primal ridge
regression, ``O(n m²)``; the ``n × n`` Gram ``ΦΦᵀ`` is not formed).  Both are jitted once per sweep
(warm-up call excluded; the median of >= 3 repeats also drops the first call at each n, which
compiles the eager concatenation of blocks).  Inputs are Gaussian (``x ~ N(0, I_64)`` or ``(8, 8, 1)``
images), the sketch is sampled once from a fixed key, exact and sketch runs alternate at every ``n``
(same load).  Each run records the wall time and the process CPU time (all threads); the verdicts
use the CPU time, because the 2 cores are shared with other jobs that inflate the wall time 2-8x at
random; wall-time exponents, crossovers and speedups are reported beside them.  Timing is a
measurement of this machine.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import jax

from figures.core import Claim, Figure, RunContext, rates
from figures.core.claims import Verdict

ARCHS = ("fc", "conv")
CLOCKS = ("wall", "cpu")
LABEL = {"fc": "FC NTK (ReLU)", "conv": "CNTK (ReLU, 8x8)"}
SKETCH_BAND = (0.8, 1.2)   # accepted exponent of the sketch's time (claimed 1)
EXACT_BAND = (1.8, 2.2)    # accepted exponent of the exact kernel's time (claimed 2)
SPEEDUP_BAND = (0.5, 1.5)  # accepted exponent of t_exact / t_sketch (claimed 1)

_CHOICES = ("CPU, 2 shared cores, float64 (the paper: GPU, CIFAR-10 32x32); timing is a measurement "
            "of this machine, so the verdict is on the fitted exponent, not on absolute times, and on "
            "the process CPU time (all threads; the work done) rather than the wall time, which other "
            "jobs on the shared cores inflate 2-8x at random (wall-time exponents are reported too). "
            "Exact: NNGP+NTK train Gram by sims.kernels.kernel_matrix in fixed (bs, bs) blocks; "
            "sketch: feature map of the n inputs (no n x n Gram) by sims.kernels.sketch in bs-row "
            "batches; both jitted once per sweep, compile excluded (warm-up call; the first call at "
            "a new n also compiles kernel_matrix's eager block concatenation, which the median of "
            ">= 3 repeats discards); exact and sketch alternate at every n; exponent = "
            "fit_loglog of the medians for n >= fit_n_min (pairs bootstrap over points; below it "
            "per-call and per-block overheads - dispatch, eager block concatenation, O(n) "
            "self-covariances - are not negligible, so the local exponent is below the asymptotic one). "
            "Gaussian inputs. ")
_FC = ("FC: x ~ N(0, I_64), [Dense(W_std=sqrt2)-Relu] x depth - Dense(W_std=sqrt2), no bias; "
       "sketch Relu(m, method) per hidden layer.")
_CONV = ("CNTK: (8, 8, 1) Gaussian images, [Conv 3x3 SAME (W_std=sqrt2)-Relu-AvgPool 2x2] x blocks - "
         "Flatten - Dense(W_std=sqrt2), no bias (a Myrtle-style net shrunk to 8x8: the exact CNTK of "
         "Myrtle-5 at 32x32 is out of reach on this CPU); sketch Relu(m, method) per conv layer.")


def _claims(arch: str, detail: str) -> tuple[Claim, ...]:
    src = "arXiv:2209.04121, abstract and Sec. 6 (runtime); arXiv:2106.07880"
    return (
        Claim(id=f"nk_sketch_speed.{arch}_sketch_linear",
              statement=f"{LABEL[arch]}: the sketched feature map costs time linear in the number "
                        "of inputs n",
              claimed=f"t_sketch ~ n^p, p = 1 (accept 95% CI in [{SKETCH_BAND[0]}, {SKETCH_BAND[1]}])",
              source=src, choices=_CHOICES + detail),
        Claim(id=f"nk_sketch_speed.{arch}_exact_quadratic",
              statement=f"{LABEL[arch]}: the exact kernel matrix costs time quadratic in n",
              claimed=f"t_exact ~ n^p, p = 2 (accept 95% CI in [{EXACT_BAND[0]}, {EXACT_BAND[1]}])",
              source=src, choices=_CHOICES + detail),
        Claim(id=f"nk_sketch_speed.{arch}_speedup",
              statement=f"{LABEL[arch]}: the sketch's advantage grows with n, so it wins beyond a "
                        "finite crossover n (paper: 106x for the Myrtle-5 CNTK on CIFAR-10, GPU)",
              claimed=f"t_exact / t_sketch ~ n^q, q = 1 (accept 95% CI in [{SPEEDUP_BAND[0]}, "
                      f"{SPEEDUP_BAND[1]}]); crossover n and speedup at the largest n reported only",
              source="arXiv:2209.04121, abstract (106x, Myrtle-5 CNTK, CIFAR-10, GPU)",
              choices=_CHOICES + detail),
    )


CLAIMS = _claims("fc", _FC) + _claims("conv", _CONV)


# -- the two networks (sims.kernels.nets: one stax description, sketch derived) and their timing --------

def build(arch: str, cfg: dict, *, m: int | None = None):
    """``(kernel_fn, sketch)`` of ``arch`` ('fc' | 'conv') under the figure's config."""
    from sims.kernels import nets

    m = cfg[f"{arch}_m"] if m is None else m
    net = nets.fc(depth=cfg["fc_depth"]) if arch == "fc" else nets.conv(blocks=cfg["conv_blocks"])
    return nets.paired(net, m=m, method=cfg["method"])


def input_shape(arch: str) -> tuple[int, ...]:
    return (64,) if arch == "fc" else (8, 8, 1)


def time_arch(arch: str, cfg: dict, *, ns, repeats: int, rng: np.random.Generator,
              key: jax.Array, m: int | None = None) -> dict[str, np.ndarray]:
    """``{wall,cpu}_{exact,sketch}``, each ``(repeats, len(ns))`` seconds (:func:`sims.kernels.timing.time_pair`)."""
    import jax.numpy as jnp

    from sims.kernels.timing import time_pair

    bs = cfg[f"{arch}_bs"]
    if any(n % bs for n in ns):
        raise ValueError(f"{arch}_ns must be multiples of {arch}_bs={bs}, got {list(ns)}")
    x_all = jnp.asarray(rng.normal(size=(max(ns),) + input_shape(arch)))
    return time_pair(*build(arch, cfg, m=m), x_all, ns, bs=bs, repeats=repeats, key=key)


def compute(cfg: dict, ctx: RunContext) -> dict[str, np.ndarray]:
    # Timing runs inline (not through ctx.sweep): parallel points would time each other's load.
    import jax

    out = {}
    for i, arch in enumerate(ARCHS):
        ns = [int(n) for n in cfg[f"{arch}_ns"]]
        t = time_arch(arch, cfg, ns=ns, repeats=cfg["repeats"], rng=ctx.rng(i),
                      key=jax.random.key(cfg["seed"] + i))
        out[f"{arch}_n"] = np.array(ns, float)
        out.update({f"{arch}_{k}": v for k, v in t.items()})
    return out


# -- claims ------------------------------------------------------------------------------------------

def summary(n, te, ts, *, fit_n_min: float, rng: np.random.Generator) -> dict:
    """Medians, exponent fits (exact, sketch, speedup) and the crossover for one architecture and clock."""
    me, ms = np.median(te, 0), np.median(ts, 0)
    xr = (fit_n_min, np.inf)
    from sims.kernels.timing import crossover

    fits = {k: rates.fit_loglog(n, y, x_range=xr, rng=rng)
            for k, y in (("exact", me), ("sketch", ms), ("speedup", me / ms))}
    return {"med_exact": me, "med_sketch": ms, "speedup": me / ms, "fits": fits,
            "crossover": crossover(n, me / ms)}


def summaries(data, cfg, arch: str) -> dict:
    """:func:`summary` per clock (``'wall'``, ``'cpu'``); raises ValueError with < 3 points to fit."""
    rng = np.random.default_rng(cfg["seed"])
    return {c: summary(data[f"{arch}_n"], data[f"{arch}_{c}_exact"], data[f"{arch}_{c}_sketch"],
                       fit_n_min=cfg[f"{arch}_fit_n_min"], rng=rng) for c in CLOCKS}


def _crossover_text(xo: float, n0: float) -> str:
    if math.isnan(xo):
        return "never within the grid"
    return f"<= {int(n0)} (sketch faster at every n)" if xo == n0 else f"{xo:.0f}"


def check(data, cfg):
    results = []
    for arch, (c_s, c_e, c_q) in zip(ARCHS, (CLAIMS[:3], CLAIMS[3:])):
        n = data[f"{arch}_n"]
        try:
            s = summaries(data, cfg, arch)
        except ValueError as err:  # fewer than 3 points in the fit range (quick runs)
            results += [c.result(verdict=Verdict.INCONCLUSIVE, measured=None, details=str(err))
                        for c in (c_s, c_e, c_q)]
            continue
        f, fw = s["cpu"]["fits"], s["wall"]["fits"]
        times = "; ".join(f"n={int(a)}: exact {e * 1e3:.1f} ms ({ce * 1e3:.1f} CPU), "
                          f"sketch {t * 1e3:.1f} ms ({ct * 1e3:.1f} CPU)" for a, e, ce, t, ct in
                          zip(n, s["wall"]["med_exact"], s["cpu"]["med_exact"], s["wall"]["med_sketch"],
                              s["cpu"]["med_sketch"]))
        base = (f"m = {cfg[f'{arch}_m']} per activation layer, medians of "
                f"{data[f'{arch}_wall_exact'].shape[0]} repeats, verdict on the CPU-time exponent")
        for claim, key, band in ((c_s, "sketch", SKETCH_BAND), (c_e, "exact", EXACT_BAND)):
            results.append(claim.result(
                verdict=f[key].verdict(accept_lo=band[0], accept_hi=band[1]), measured=f[key].rate,
                uncertainty={"ci95": f[key].rate_ci, "bootstrap": f[key].bootstrap,
                             "wall_time_exponent": fw[key].rate, "wall_time_ci95": fw[key].rate_ci},
                fit_range=f[key].t_range,
                details=f"{base}; wall-time exponent {fw[key].rate:.2f} "
                        f"[{fw[key].rate_ci[0]:.2f}, {fw[key].rate_ci[1]:.2f}]; {times}"))
        q = {c: s[c]["speedup"][-1] for c in CLOCKS}
        results.append(c_q.result(
            verdict=f["speedup"].verdict(accept_lo=SPEEDUP_BAND[0], accept_hi=SPEEDUP_BAND[1]),
            measured={"exponent": f["speedup"].rate, "crossover_n_wall": s["wall"]["crossover"],
                      "crossover_n_cpu": s["cpu"]["crossover"],
                      "speedup_wall_at_largest_n": float(q["wall"]),
                      "speedup_cpu_at_largest_n": float(q["cpu"]), "largest_n": int(n[-1])},
            uncertainty={"ci95": f["speedup"].rate_ci, "bootstrap": f["speedup"].bootstrap,
                         "wall_time_exponent": fw["speedup"].rate, "wall_time_ci95": fw["speedup"].rate_ci},
            fit_range=f["speedup"].t_range,
            details=f"{base}; crossover n (wall) {_crossover_text(s['wall']['crossover'], n[0])}, (CPU) "
                    f"{_crossover_text(s['cpu']['crossover'], n[0])}; speedup t_exact/t_sketch at "
                    f"n={int(n[-1])}: {q['wall']:.1f}x wall, {q['cpu']:.1f}x CPU (ours, 2-core CPU; the "
                    f"paper's 106x is a GPU, CIFAR-10, Myrtle-5 number); wall speedups per n "
                    + ", ".join(f"{v:.2g}" for v in s["wall"]["speedup"])))
    return results


def _n_ticks(ax, n):
    from matplotlib.ticker import NullFormatter

    ticks = [v for v in n if int(v) & (int(v) - 1) == 0] or list(n)   # the powers of two of the grid
    ax.set_xticks(ticks, [str(int(v)) for v in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())


def plot(data, cfg):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    for ax, arch in zip(axes[:2], ARCHS):
        n = data[f"{arch}_n"]
        try:
            s = summaries(data, cfg, arch)
        except ValueError:
            s = None
        for key, lab, c in (("exact", "exact NNGP+NTK Gram", "C3"),
                            ("sketch", f"sketch features (m={cfg[f'{arch}_m']})", "C0")):
            for clock, st in (("wall", "o-"), ("cpu", "x--")):
                t = data[f"{arch}_{clock}_{key}"]
                ax.loglog(np.broadcast_to(n, t.shape).ravel(), t.ravel(), ".", color=c, alpha=0.25, ms=3)
                label = f"{lab}, {clock}"
                if s is not None:
                    fit = s[clock]["fits"][key]
                    label += f": n^{fit.rate:.2f} [{fit.rate_ci[0]:.2f}, {fit.rate_ci[1]:.2f}]"
                ax.loglog(n, np.median(t, 0), st, color=c, label=label, ms=4,
                          alpha=1.0 if clock == "cpu" else 0.6)
        if s is not None and not math.isnan(s["wall"]["crossover"]) and s["wall"]["crossover"] > n[0]:
            ax.axvline(s["wall"]["crossover"], color="k", ls=":", lw=1,
                       label=f"crossover n≈{s['wall']['crossover']:.0f} (wall)")
        ax.axvspan(n[0] / 1.1, cfg[f"{arch}_fit_n_min"] / 1.05, color="0.92", zorder=0)
        ax.set(xlabel="n (inputs)", ylabel="seconds (wall; CPU = all threads)",
               title=f"{LABEL[arch]}: medians of {data[f'{arch}_wall_exact'].shape[0]} repeats")
        _n_ticks(ax, n)
        ax.legend(fontsize=7)
    ax = axes[2]
    for arch, c in zip(ARCHS, ("C2", "C4")):
        n = data[f"{arch}_n"]
        for clock, st in (("wall", "o-"), ("cpu", "x--")):
            q = np.median(data[f"{arch}_{clock}_exact"], 0) / np.median(data[f"{arch}_{clock}_sketch"], 0)
            ax.loglog(n, q, st, color=c, label=f"{LABEL[arch]}, {clock} ({q[-1]:.1f}x at n={int(n[-1])})")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set(xlabel="n (inputs)", ylabel="t_exact / t_sketch",
           title="speedup of the sketch (this CPU; paper: 106x, GPU)")
    ax.set_ylim(top=ax.get_ylim()[1] * 6)   # room for the legend above the curves
    ax.legend(fontsize=7.5, loc="upper left")
    fig.suptitle("Sketched vs exact neural kernels (arXiv:2209.04121): time vs n, float64, shared 2-core "
                 "CPU; verdicts on the CPU-time exponents (grey: outside the fit range)", fontsize=10)
    fig.tight_layout()
    return fig


FIGURE = Figure(
    name="nk_sketch_speed",
    title="Sketched NTK feature maps cost ~n, exact NTK/CNTK matrices ~n^2 (time vs n, CPU)",
    paper="Han et al. (NeurIPS 2022), arXiv:2209.04121, abstract / Sec. 6 (106x CNTK speedup)",
    claims=CLAIMS,
    config={"fc_ns": [512, 1024, 1536, 2048, 3072, 4096, 6144, 8192], "fc_bs": 256,
            "fc_fit_n_min": 1024,
            "fc_depth": 2, "fc_m": 1024,
            "conv_ns": [16, 32, 48, 64, 96, 128, 192, 256, 384, 512], "conv_bs": 16, "conv_fit_n_min": 64,
            "conv_blocks": 2, "conv_m": 512, "method": "rf", "repeats": 3},
    quick={"fc_ns": [256, 512, 1024], "fc_fit_n_min": 256, "conv_ns": [16, 32, 48], "conv_fit_n_min": 16},
    compute=compute, check=check, plot=plot, expected_seconds=195, version=2,
    bounds={"method": {"rf", "poly"}})
