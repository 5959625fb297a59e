"""Fig. 1 of Ahn et al.: final bias and test accuracy of network (2) vs step size, sparse coding.

K. Ahn, S. Bubeck, S. Chewi, Y. T. Lee, F. Suarez, Y. Zhang, "Learning threshold neurons via
the edge of stability", NeurIPS 2023, arXiv:2212.07469, Fig. 1.  Caption (NeurIPS text,
https://object.cloud.sdsc.edu/v1/AUTH_da4962d3368042ac8337e2dfdd3e7bf3/ml-papers-txt/NeurIPS/
2023/learning_threshold_neurons_via_edge_of_stability__b8328d46.txt): "Large step sizes are
necessary to learn the threshold neuron of a ReLU network (2) for a simple binary classification
task (1).  We choose d = 200, n = 300, lambda = 3, and run gradient descent with the logistic
loss.  The weights are initialized as a-, a+ ~ N(0, 1/(2d)) and b = 0.  For each learning rate
eta, we set the iteration number such that the total time elapsed (iteration x eta) is 10.  The
vertical dashed lines indicate our theoretical prediction of the phase transition phenomenon
(precise threshold at eta = 8 pi / d^2)."  The text: "We train the parameters a-, a+, b using
gradient descent with step size eta > 0 on the logistic loss sum_i l_logi(y_i f(x_i; a-, a+, b))".
Panels: final bias and final test accuracy (%) vs eta in [0, 0.012], insets on [0, 0.0015],
a tick at 58 = Phi(lam / sqrt d).

Network (2) is :class:`sims.eos.ThresholdNet`,
``f(x) = sum_j [a+ relu(x_j + b) + a- relu(-x_j + b)]`` (first layer fixed to ``+-e_j``, one
shared bias, three trained parameters).  The claims, the choices the paper leaves open and the
verdict logic are in :mod:`figures._eos_fig1_claims`; this module simulates and plots.
Each seed draws its own training set, test set and initialisation; uncertainties are
t-intervals over seeds.  Divergence is an outcome of a step size (marked, never plotted).

Gradient-flow reference (claim ``below_is_gradient_flow``, added after the pre-registered
``below_bias`` failed; see its ``choices``): per seed, ``d theta/dt = -grad L`` from the same
init is solved by :func:`sims.eos.gradient_flow` (scipy DOP853) on the NumPy field
:func:`sims.eos.network2_field`; panel (a) shows ``b_GF`` (band: mean +- sd over seeds,
diamonds: seeds), panel (c) its trajectories.

Implementation: one :func:`sims.eos.gd_sweep` (``lax.scan``, vmapped over eta, eta traced)
per bucket of step sizes with similar ``10 / eta`` (``stop_at`` freezes each run at its own
iteration count); the loss is evaluated from sorted rows and prefix sums
(:meth:`sims.eos.ThresholdNet.loss`, exact, ~10x faster than the ReLU formula, see
``benchmarks/bench_eos.py``).  Thresholds: the paper's ``8 pi / d^2``
(:func:`theory.eos.network2_threshold`) and ``2 / S`` at ``a = 0, b = 0`` of our implementation
(Lanczos on HVPs; population value :func:`theory.eos.network2_sharpness_at_zero`).
"""
from __future__ import annotations

import functools
import math

import numpy as np

from figures._eos_fig1_claims import CLAIMS, check
from figures._eos_fig1_claims import _check_gradient_flow, gf_deviation, onset  # noqa: F401 (re-exported)
from figures.core import Figure, RunContext


@functools.lru_cache(maxsize=4)
def _net(d: int):
    """One model instance per d: its bound methods hit gd_sweep's compilation cache."""
    from sims.eos import ThresholdNet

    return ThresholdNet(d)


@functools.lru_cache(maxsize=4)
def _accuracy_fn(d: int):
    """Jitted accuracy, vmapped over parameter vectors (compiled once per process)."""
    import jax

    return jax.jit(jax.vmap(_net(d).accuracy, in_axes=(0, None, None, None)))


def _groups(etas, horizon, rec):
    """Bucket step sizes so each bucket's longest run is <= 1.6x its shortest (less waste)."""
    order = np.argsort(etas)
    stops = np.maximum(1, np.round(horizon / np.asarray(etas)).astype(np.int64))
    out, cur = [], []
    for i in order:
        if cur and stops[cur[0]] > 1.6 * stops[i]:
            out.append(cur)
            cur = []
        cur.append(int(i))
    out.append(cur)
    return [(g, stops[g], int(math.ceil(stops[g].max() / rec) * rec)) for g in out]


def _point(point: dict) -> dict:
    """One seed: every eta of the grid (vmapped per bucket), S at 0 and init, trajectories."""
    import jax
    import jax.numpy as jnp

    from sims.eos import gd_sweep, gradient_flow, network2_field, sparse_coding, top_eigenvalues

    seed, d = int(point["seed"]), int(point["d"])
    k_tr, k_te, k_init, k_lz = jax.random.split(jax.random.key(seed), 4)
    tr = sparse_coding(k_tr, int(point["n"]), d, lam=float(point["lam"]))
    te = sparse_coding(k_te, int(point["n_test"]), d, lam=float(point["lam"]))
    net = _net(d)
    ftr, fte = net.features(tr.x), net.features(te.x)
    data = (*ftr, tr.y)
    theta0 = net.init(k_init)
    s_zero = float(top_eigenvalues(net.loss, jnp.zeros(3), data=data)[0])
    s_init = float(top_eigenvalues(net.loss, theta0, data=data)[0])
    etas = np.asarray(point["etas"], float)
    horizon = float(point["horizon"])
    theta = np.zeros((etas.size, 3))
    div = np.zeros(etas.size, bool)
    for idx, stop, steps in _groups(etas, horizon, 1):
        r = gd_sweep(net.loss, theta0, etas[idx], steps=int(stop.max()),
                     record_every=int(stop.max()), data=data, stop_at=stop)
        theta[idx], div[idx] = r.theta, r.diverged
    # gradient-flow reference: same data, init and loss, ODE solve (independent of GD)
    elapsed = etas * np.maximum(1, np.round(horizon / etas))     # each run's own eta * T
    gf = gradient_flow(network2_field(np.asarray(tr.x), np.asarray(tr.y)), np.asarray(theta0),
                       max(horizon, float(elapsed.max())), rtol=float(point["gf_rtol"]))
    t_gf = np.linspace(0.0, horizon, 201)
    acc = _accuracy_fn(d)
    th = jnp.asarray(theta)
    test_acc = np.where(div, np.nan, np.asarray(acc(th, *fte, te.y)))
    train_acc = np.where(div, np.nan, np.asarray(acc(th, *ftr, tr.y)))
    # trajectories (bias, sharpness) just below / just above the threshold, time eta*t
    # (none in the quick config: panels (c), (d) then show the gradient flow only)
    te_ = np.asarray(point["traj_etas"], float)
    rec = int(point["traj_record_every"])
    stop = np.round(horizon / te_).astype(np.int64)
    if te_.size:
        steps = int(math.ceil(stop.max() / rec) * rec)
        rt = gd_sweep(net.loss, theta0, te_, steps=steps, record_every=rec, data=data,
                      stop_at=stop, track_sharpness=True, lanczos_iters=3, key=k_lz,
                      metrics={"bias": net.bias, "a_sum": lambda t: t[0] + t[1]})
        traj = {"t_traj": rt.t, "traj_bias": rt.metrics["bias"], "traj_asum": rt.metrics["a_sum"],
                "traj_sharp": rt.sharpness, "traj_div": rt.diverged}
    else:
        traj = {"t_traj": np.zeros(1), "traj_bias": np.zeros((0, 1)),
                "traj_asum": np.zeros((0, 1)), "traj_sharp": np.zeros((0, 1)),
                "traj_div": np.zeros(0, bool)}
    return {"theta": theta, "diverged": div, "test_acc": test_acc, "train_acc": train_acc,
            "s_zero": np.array(s_zero), "s_init": np.array(s_init), **traj, "traj_stop": stop,
            "theta_gf": gf.sol(horizon), "b_gf_at_eta": gf.sol(elapsed)[2],
            "t_gf": t_gf, "traj_gf_bias": gf.sol(t_gf)[2], "gf_nfev": np.array(gf.nfev)}


def compute(cfg: dict, ctx: RunContext) -> dict:
    from theory.eos import network2_threshold

    es = network2_threshold(cfg["d"])
    etas = sorted(set(float(e) for e in cfg["etas"]))
    traj = [float(r * es) for r in cfg["traj_ratios"]] + [float(e) for e in cfg["traj_etas"]]
    seeds = [1000 * cfg["seed"] + s for s in range(cfg["n_seeds"])]
    pts = [{"seed": s, "d": cfg["d"], "n": cfg["n"], "lam": cfg["lam"], "n_test": cfg["n_test"],
            "etas": etas, "horizon": cfg["horizon"], "traj_etas": traj,
            "traj_record_every": cfg["traj_record_every"], "gf_rtol": cfg["gf_rtol"]}
           for s in seeds]
    out = ctx.sweep(_point, pts, desc="eta sweep per seed")
    st = lambda k: np.stack([np.asarray(o[k]) for o in out])  # noqa: E731
    return {"eta": np.array(etas), "eta_star": np.array(es), "eta_traj": np.array(traj),
            "t_traj": out[0]["t_traj"], "traj_stop": out[0]["traj_stop"],
            "t_gf": out[0]["t_gf"],
            **{k: st(k) for k in ("theta", "diverged", "test_acc", "train_acc", "s_zero",
                                  "s_init", "traj_bias", "traj_asum", "traj_sharp",
                                  "traj_div", "theta_gf", "b_gf_at_eta", "traj_gf_bias",
                                  "gf_nfev")}}


def _band(ax, eta, y, div, color, label=None, ms=3):
    """Seed mean +- sd of the non-diverged runs; diverged step sizes marked with red x."""
    ok = ~div.any(0)
    m = np.nanmean(np.where(div, np.nan, y), 0)
    sd = np.nanstd(np.where(div, np.nan, y), 0)
    ax.plot(eta[ok], m[ok], "o-", ms=ms, lw=1, color=color, label=label)
    ax.fill_between(eta[ok], (m - sd)[ok], (m + sd)[ok], color=color, alpha=0.25, lw=0)
    if (~ok).any():
        top = np.nanmax(y) if np.isfinite(y).any() else 1.0
        ax.plot(eta[~ok], np.full((~ok).sum(), top), "rx", ms=7, label="diverged")


def _gf_band(ax, b_gf, *, ms, label=None):
    """Gradient-flow bias: mean +- sd over seeds as a band, each seed as a diamond at eta = 0."""
    m, sd = float(np.mean(b_gf)), float(np.std(b_gf))
    ax.axhspan(m - sd, m + sd, color="C2", alpha=0.2, lw=0)
    ax.axhline(m, color="C2", lw=1, label=label)
    ax.plot(np.zeros_like(b_gf), b_gf, "D", color="C2", ms=ms, clip_on=False)


def plot(data, cfg):
    import matplotlib.pyplot as plt

    from theory.eos import linear_accuracy_bound

    eta, es = data["eta"], float(data["eta_star"])
    phi = 100 * linear_accuracy_bound(cfg["lam"], cfg["d"])
    div = data["diverged"]
    b = np.where(div, np.nan, data["theta"][:, :, 2])
    acc = 100 * data["test_acc"]
    thr_s0 = float(np.mean(2 / data["s_zero"]))
    b_gf = data["theta_gf"][:, 2]
    fig, axs = plt.subplots(2, 2, figsize=(12, 8.5))
    inset = eta <= cfg["inset_max"] + 1e-15
    for ax, y, lab, title in ((axs[0, 0], b, "final bias b", "(a) final bias vs eta"),
                              (axs[0, 1], acc, "final test accuracy (%)",
                               "(b) final test accuracy vs eta")):
        _band(ax, eta, y, div, "C0", label=f"mean +- sd over {y.shape[0]} seeds")
        ax.axvline(es, color="k", ls="--", lw=1, label="8 pi / d^2 (paper)")
        ax.axvline(thr_s0, color="C3", ls=":", lw=1, label="2 / S(a=0, b=0) (ours)")
        if y is acc:
            ax.axhline(phi, color="gray", ls="-.", lw=1, label=f"Phi(lam/sqrt d) = {phi:.1f}")
        else:
            _gf_band(ax, b_gf, ms=5, label="gradient flow b_GF(T): mean +- sd, seeds at eta=0")
        ax.set(xlabel="learning rate eta", ylabel=lab, title=title, xlim=(0, eta.max() * 1.03))
        ins = ax.inset_axes([0.55, 0.45, 0.42, 0.4] if y is b else [0.55, 0.08, 0.42, 0.4])
        _band(ins, eta[inset], y[:, inset], div[:, inset], "C0", ms=2)
        ins.axvline(es, color="k", ls="--", lw=0.8)
        ins.axvline(thr_s0, color="C3", ls=":", lw=0.8)
        if y is acc:
            ins.axhline(phi, color="gray", ls="-.", lw=0.8)
        else:
            _gf_band(ins, b_gf, ms=3)
        ins.set_xlim(0, cfg["inset_max"])
        ins.set_xticks(np.linspace(0, cfg["inset_max"], 4))
        ins.tick_params(labelsize=6)
        ins.set_title(f"eta in [0, {cfg['inset_max']}]", fontsize=7)
        ax.legend(fontsize=7, loc="lower left" if y is b else "upper left")
    t = data["t_traj"]
    ax, ax2 = axs[1, 0], axs[1, 1]
    for i, e in enumerate(data["eta_traj"]):
        lab = f"eta = {e:.3g} ({e / es:.2f} x 8pi/d^2)"
        for s in range(data["traj_bias"].shape[0]):
            ok = (t <= data["traj_stop"][i]) & np.isfinite(data["traj_bias"][s, i])
            ax.plot(e * t[ok], data["traj_bias"][s, i, ok], color=f"C{i}", lw=1, alpha=0.8,
                    label=lab if s == 0 else None)
            sh = data["traj_sharp"][s, i]
            ok = ok & np.isfinite(sh)
            ax2.plot(e * t[ok], sh[ok], color=f"C{i}", lw=0.8, alpha=0.8,
                     label=f"S_t, {lab}" if s == 0 else None)
        ax2.axhline(2 / e, color=f"C{i}", ls="--", lw=1)
    for s in range(data["traj_gf_bias"].shape[0]):
        ax.plot(data["t_gf"], data["traj_gf_bias"][s], "k--", lw=0.8,
                label="gradient flow (ODE)" if s == 0 else None)
    ax.axhline(0, color="gray", lw=0.5)
    ax.set(xlabel="time eta * t", ylabel="bias b_t",
           title="(c) bias trajectories just below / above the threshold")
    ax.legend(fontsize=7)
    ax2.set(xlabel="time eta * t", ylabel="sharpness S_t (Lanczos on HVPs)",
            ylim=(0, 1.15 * 2 / float(np.min(data["eta_traj"]))) if data["eta_traj"].size
            else None,
            title="(d) sharpness S_t; dashed: 2/eta of the same colour")
    if data["eta_traj"].size:
        ax2.legend(fontsize=7)
    else:
        ax2.text(0.5, 0.5, "no trajectories in this config", ha="center", transform=ax2.transAxes)
    fig.suptitle(f"Network (2) f(x) = sum_j [a+ relu(x_j+b) + a- relu(-x_j+b)], sparse coding "
                 f"d={cfg['d']}, n={cfg['n']}, lam={cfg['lam']}, logistic loss, eta*T = "
                 f"{cfg['horizon']:g} (arXiv:2212.07469 Fig. 1 setting)", fontsize=10)
    fig.tight_layout()
    return fig


_ETAS = ([2e-4, 3e-4, 4e-4, 5e-4, 5.5e-4, 5.75e-4, 6e-4, 6.25e-4, 6.5e-4, 6.75e-4, 7e-4, 7.5e-4,
          8e-4, 9e-4, 1e-3, 1.25e-3, 1.5e-3]
         + [2e-3, 3e-3, 4e-3, 5e-3, 6e-3, 7e-3, 8e-3, 9e-3, 1e-2, 1.1e-2, 1.2e-2])

FIGURE = Figure(
    name="eos_fig1",
    title="Threshold neurons via EoS: final bias and test accuracy vs step size (network (2))",
    paper="Ahn, Bubeck, Chewi, Lee, Suarez, Zhang (NeurIPS 2023), arXiv:2212.07469, Fig. 1",
    claims=CLAIMS,
    config={"d": 200, "n": 300, "lam": 3.0, "n_test": 50000, "n_seeds": 5, "horizon": 10.0,
            "etas": _ETAS, "inset_max": 1.5e-3, "onset_delta": 2e-3, "acc_range": [6e-3, 1.2e-2],
            "traj_ratios": [0.9, 1.2], "traj_etas": [4e-3], "traj_record_every": 10,
            "gf_rtol": 1e-7},
    quick={"n_test": 5000, "n_seeds": 2,
           "etas": [4e-4, 5e-4, 6e-4, 7e-4, 1e-3, 1.5e-3, 3e-3, 6e-3, 1.2e-2],
           "traj_ratios": [], "traj_etas": [], "traj_record_every": 50, "gf_rtol": 1e-5},
    compute=compute, check=check, plot=plot, expected_seconds=145,
)
