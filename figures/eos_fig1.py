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
shared bias, three trained parameters).  Choices the paper leaves open are in ``_CHOICES``.
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

from figures.core import Claim, Figure, RunContext
from figures.core.claims import Verdict

T975 = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776, 6: 2.571, 7: 2.447, 8: 2.365, 9: 2.306,
        10: 2.262}

_CHOICES = ("Paper's setting (Fig. 1 caption): network (2) with trained (a-, a+, b), scalar "
            "a+-, one shared bias, first layer fixed to +-e_j; d=200, n=300, lam=3; logistic "
            "loss; a-, a+ ~ N(0, 1/(2d)) (variance), b=0; eta * iterations = 10. Ours: loss "
            "normalised by 1/n (the read text shows sum_i; only the mean matches the paper's "
            "threshold 8 pi/d^2); noise xi ~ N(0, I_d); iterations = round(10/eta); eta grid "
            "as in config (the paper's grid is not given); test set of n_test fresh samples; "
            "several seeds (data + init; the paper shows one run). Transition eta_c: first eta "
            "where b leaves the line fitted on eta <= 0.8*8pi/d^2 by more than onset_delta "
            "(interpolated). Diverged runs (loss > 1e6 or non-finite) are reported as such "
            "and excluded.")


_GF_CHOICES = (
    "ADDED AFTER SEEING THE (b2) RESULT (eos_fig1.below_bias FAILed: the final bias below the "
    "threshold is eta-independent to < 1e-3 but -0.10..-0.30 per seed); below_bias keeps its "
    "pre-registered form and verdict, this claim does not replace it. Why it is the theory's "
    "prediction: below the threshold GD is stable (eta S < 2 along the run), so over the fixed "
    "time eta*T = 10 it follows gradient flow up to O(eta); only above the threshold does the "
    "EoS mechanism move the bias away from the flow. The paper text we could read (abstract, "
    "Fig. 1 caption) says there is 'a sharp phase transition for the step size below which the "
    "neural network fails to learn threshold-like neurons (i.e., neurons with a non-zero "
    "first-layer bias)'; it gives no number for the bias below the threshold and does not say "
    "'gradient flow' in the parts we read. Reading 'bias ~ 0' as 'the small-step (gradient-flow) "
    "value, small next to the EoS-driven bias' is OUR interpretation, not a quote. Reference "
    "b_GF: gradient flow d theta/dt = -grad L from the same init, data and ThresholdNet loss, "
    "solved by scipy solve_ivp (DOP853, rtol = gf_rtol, atol 1e-10) on a hand-written NumPy "
    "gradient (sims.eos.network2_field, no autodiff), evaluated by dense output at each run's "
    "own elapsed time eta * round(10/eta). An ODE solve rather than GD at eta*/50 because it "
    "shares nothing with the GD runs (neither the Euler discretisation nor the autodiff "
    "gradient) and costs ~1e5 field evaluations per seed instead of ~8e5 GD steps; tiny-step "
    "GD is the second method, in tests/test_eos.py (agreement within this tolerance, first-order "
    "convergence and Richardson extrapolation onto b_GF on a small instance). gf_rtol = 1e-7 "
    "(quick: 1e-5): on seed 0 three rtol 1e-7 solves (NumPy and jax.grad fields) lie within "
    "4e-6 of the rtol 1e-9 value of b_GF, and rtol 1e-5 within 1e-5 of rtol 1e-7 (seeds 0, 1), "
    "far below the tolerance. Tolerance below: "
    "1e-2 |b_GF| + 1e-3 (an O(eta) Euler error of ~1e-3 at 0.8 eta*, as the measured eta "
    "dependence suggests); above: at least 10x that. Verdict per seed (every seed must meet "
    "both), t-interval over seeds reported.")


def _claim(cid: str, statement: str, claimed: str, source: str, *,
           choices: str = _CHOICES) -> Claim:
    return Claim(id=f"eos_fig1.{cid}", statement=statement, claimed=claimed, source=source,
                 choices=choices)


CLAIMS = (
    _claim("transition",
           "The final bias has a sharp phase transition in the step size, at the paper's "
           "threshold 8 pi/d^2 (= 2/S at a=0, b=0 to leading order in d)",
           "eta_c / (8 pi/d^2) in [0.9, 1.1] (95% CI over seeds); below, b does not move with "
           "eta: |b(0.8 eta*) - b(eta_min)| < 0.05 |b(1.5 eta*) - b(eta_min)|",
           "arXiv:2212.07469, Fig. 1 caption and abstract"),
    _claim("below_bias",
           "Below the threshold no threshold neuron is learned: the final bias ~ 0",
           "for eta <= 0.8 * 8pi/d^2: |b| <= 0.15 (1/10 of |b| at eta = 0.012) for every seed",
           "arXiv:2212.07469, abstract and Fig. 1"),
    _claim("below_linear",
           "Below the threshold the test accuracy stays at the best linear classifier's level "
           "Phi(lam/sqrt d)",
           "for eta <= 0.8 * 8pi/d^2: test accuracy = Phi(3/sqrt 200) = 58.40% +- 1 point "
           "(95% CI over seeds)",
           "arXiv:2212.07469, Fig. 1 (tick at 58) and Section 1"),
    _claim("above_threshold",
           "Above the threshold the bias goes negative (a threshold neuron) and test accuracy "
           "rises clearly above the linear level",
           "b(eta) < min(0, b(eta_min)) for every eta >= 1.5 * 8pi/d^2 and seed; test accuracy "
           "> Phi(lam/sqrt d) + 5 points (95% CI) for eta in [0.006, 0.012]",
           "arXiv:2212.07469, Fig. 1"),
    _claim("below_is_gradient_flow",
           "Below the threshold GD tracks gradient flow: the final bias equals the gradient-flow "
           "value b_GF of the same seed (eta-independent), while above the threshold it departs "
           "from it",
           "|b(eta) - b_GF| <= 1e-2 |b_GF| + 1e-3 for every eta <= 0.8 * 8pi/d^2 and seed; "
           "|b(eta) - b_GF| >= 10 x (1e-2 |b_GF| + 1e-3) for every eta >= 1.5 * 8pi/d^2 and seed",
           "arXiv:2212.07469, abstract and Fig. 1 (our reading; see choices)",
           choices=_GF_CHOICES + " Setting as in the other claims: " + _CHOICES),
)


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


def _t_ci(x):
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    n = x.size
    if n == 0:
        return math.nan, math.nan, math.nan
    m = float(x.mean())
    h = T975.get(n, 1.96) * float(x.std(ddof=1)) / math.sqrt(n) if n > 1 else math.inf
    return m, m - h, m + h


def onset(eta, b, *, eta_below: float, delta: float):
    """Step size where the final bias leaves its below-threshold plateau by more than ``delta``.

    A straight line is fitted to ``b`` on ``eta <= eta_below`` (the plateau: there ``b`` is the
    gradient-flow value and barely depends on ``eta``); ``eta_c`` is the first downward
    crossing of ``residual = -delta`` above ``eta_below``, linearly interpolated between grid
    points.  NaN if fewer than two plateau points or no crossing (diverged points dropped).
    """
    eta, b = np.asarray(eta, float), np.asarray(b, float)
    ok = np.isfinite(b)
    eta, b = eta[ok], b[ok]
    pl = eta <= eta_below
    if pl.sum() < 2:
        return math.nan
    c1, c0 = np.polyfit(eta[pl], b[pl], 1)
    r = b - (c0 + c1 * eta)
    for i in range(1, eta.size):
        if eta[i] > eta_below and r[i] < -delta <= r[i - 1]:
            w = (r[i - 1] + delta) / (r[i - 1] - r[i])
            return float(eta[i - 1] + (eta[i] - eta[i - 1]) * w)
    return math.nan


def check(data, cfg):
    from theory.eos import linear_accuracy_bound, network2_sharpness_at_zero

    eta, es = data["eta"], float(data["eta_star"])
    b = np.where(data["diverged"], np.nan, data["theta"][:, :, 2])         # (seeds, etas)
    acc = 100 * data["test_acc"]
    ns = b.shape[0]
    phi = 100 * linear_accuracy_bound(cfg["lam"], cfg["d"])
    div = data["diverged"]
    n_div = [(float(e), int(div[:, i].sum())) for i, e in enumerate(eta) if div[:, i].any()]
    div_note = f"diverged (eta, n_seeds): {n_div}" if n_div else "no run diverged"
    s_pop = network2_sharpness_at_zero(cfg["d"], cfg["lam"])
    thr_s0 = 2.0 / data["s_zero"]
    # --- (a) transition
    inset = eta <= cfg["inset_max"] + 1e-15
    ec = np.array([onset(eta[inset], b[s, inset], eta_below=0.8 * es + 1e-15,
                         delta=cfg["onset_delta"]) for s in range(ns)])
    m, lo, hi = _t_ci(ec / es)
    b_min = b[:, 0]
    lo_b = np.array([np.interp(0.8 * es, eta, b[s]) for s in range(ns)]) - b_min
    hi_b = np.array([np.interp(1.5 * es, eta, b[s]) for s in range(ns)]) - b_min
    sharp = np.abs(lo_b) < 0.05 * np.abs(hi_b)
    if not np.isfinite(lo) or not np.all(np.isfinite(lo_b + hi_b)):
        v1 = Verdict.INCONCLUSIVE
    elif 0.9 <= lo and hi <= 1.1 and sharp.all():
        v1 = Verdict.PASS
    elif hi < 0.9 or lo > 1.1 or not sharp.any():
        v1 = Verdict.FAIL
    else:
        v1 = Verdict.INCONCLUSIVE
    r1 = CLAIMS[0].result(
        verdict=v1,
        measured={"eta_c": m * es, "eta_c / (8pi/d^2)": m,
                  "eta_c / (2/S(0)) (seed mean)": float(np.nanmean(ec / thr_s0)),
                  "|db(0.8 eta*)| / |db(1.5 eta*)| (max over seeds)":
                      float(np.max(np.abs(lo_b) / np.abs(hi_b)))},
        uncertainty={"eta_c/(8pi/d^2) ci95_t_over_seeds": [lo, hi],
                     "eta_c per seed": ec.tolist(), "n_seeds": ns,
                     "grid spacing near eta* / eta*": float(np.min(np.diff(eta[inset])) / es)},
        fit_range={"eta": [float(eta[inset][0]), float(eta[inset][-1])]},
        details=f"paper threshold 8pi/d^2 = {es:.4g}; 2/S(a=0,b=0) of our implementation "
                f"= {np.mean(thr_s0):.4g} +- {np.std(thr_s0):.2g} (seeds; population value "
                f"2/S = {2 / s_pop:.4g}, 3% below 8pi/d^2 at d=200); 2/S(theta_0) at the random "
                f"init = {np.mean(2 / data['s_init']):.3g} (the init sits away from a+ + a- = 0, "
                f"where l'' is smaller). {div_note}")
    # --- (b) below: bias and accuracy
    below = eta <= 0.8 * es + 1e-15
    bb = b[:, below]
    bmax = float(np.nanmax(np.abs(bb))) if bb.size else math.nan
    bm, blo, bhi = _t_ci(np.nanmean(bb, 1)) if bb.size else (math.nan,) * 3
    if not np.isfinite(bmax):
        v2 = Verdict.INCONCLUSIVE
    else:
        v2 = Verdict.PASS if bmax <= 0.15 else Verdict.FAIL
    spread = float(np.nanmax(np.nanmax(bb, 1) - np.nanmin(bb, 1))) if bb.size else math.nan
    r2 = CLAIMS[1].result(
        verdict=v2,
        measured={"max_abs_bias": bmax, "mean_bias": bm,
                  "bias per seed": np.nanmean(bb, 1).round(4).tolist() if bb.size else None,
                  "|b below| / |b(eta_max)| per seed":
                      (np.abs(np.nanmean(bb, 1)) / np.abs(b[:, int(np.argmax(eta))])).round(3)
                      .tolist() if bb.size else None,
                  "bias spread over eta (max over seeds)": spread},
        uncertainty={"mean_bias_ci95_t_over_seeds": [blo, bhi], "n_seeds": ns},
        fit_range={"eta": [float(eta[below][0]), float(eta[below][-1])]} if below.any() else None,
        details="Below the threshold b does not depend on eta (spread above): it is what "
                "gradient flow learns by time eta*T = 10, a slow drift that accelerates in "
                "time (trajectory panel), not an EoS effect; the per-seed values set the "
                "verdict.")
    a_lo = np.nanmean(acc[:, below], 1)
    m2, lo2, hi2 = _t_ci(a_lo)
    if not below.any() or not np.isfinite(lo2):
        v2b = Verdict.INCONCLUSIVE
    elif phi - 1 <= lo2 and hi2 <= phi + 1:
        v2b = Verdict.PASS
    elif hi2 < phi - 1 or lo2 > phi + 1:
        v2b = Verdict.FAIL
    else:
        v2b = Verdict.INCONCLUSIVE
    r2b = CLAIMS[2].result(
        verdict=v2b,
        measured={"test_acc_pct": m2,
                  "train_acc_pct": float(100 * np.nanmean(data["train_acc"][:, below]))},
        uncertainty={"test_acc_ci95_t_over_seeds": [lo2, hi2], "n_seeds": ns,
                     "test_acc_binomial_se_per_run": 100 * math.sqrt(phi / 100 * (1 - phi / 100)
                                                                     / cfg["n_test"])},
        fit_range={"eta": [float(eta[below][0]), float(eta[below][-1])]} if below.any() else None,
        details=f"Phi(lam/sqrt d) = {phi:.2f}%; n_test = {cfg['n_test']} per seed.")
    # --- (c) above
    above = (eta >= 1.5 * es - 1e-15)
    hi_rng = (eta >= cfg["acc_range"][0] - 1e-15) & (eta <= cfg["acc_range"][1] + 1e-15)
    if above.any() and hi_rng.any():
        bab = b[:, above]
        neg = bool(np.all(bab < np.minimum(0.0, b_min[:, None])))
        a_hi = np.nanmean(acc[:, hi_rng], 1)
        m3, lo3, hi3 = _t_ci(a_hi)
        if not np.isfinite(lo3) or np.isnan(bab).any():
            v3 = Verdict.INCONCLUSIVE
        elif lo3 > phi + 5 and neg:
            v3 = Verdict.PASS
        elif hi3 < phi + 5 or not neg:
            v3 = Verdict.FAIL
        else:
            v3 = Verdict.INCONCLUSIVE
        top = int(np.argmax(eta))
        r3 = CLAIMS[3].result(
            verdict=v3,
            measured={"test_acc_pct (eta in acc_range, seed mean)": m3,
                      "test_acc_pct at eta_max": float(np.nanmean(acc[:, top])),
                      "bias at eta_max": float(np.nanmean(b[:, top])),
                      "all b(eta >= 1.5 eta*) < min(0, b(eta_min))": neg},
            uncertainty={"test_acc_ci95_t_over_seeds": [lo3, hi3], "n_seeds": ns,
                         "test_acc_at_eta_max_ci95": list(_t_ci(acc[:, top])[1:]),
                         "bias_at_eta_max_ci95": list(_t_ci(b[:, top])[1:])},
            fit_range={"eta (bias)": [float(eta[above][0]), float(eta[above][-1])],
                       "eta (accuracy)": [float(eta[hi_rng][0]), float(eta[hi_rng][-1])]},
            details=f"linear level {phi:.2f}%; eta_max = {eta[top]:.4g}. {div_note}")
    else:
        r3 = CLAIMS[3].result(verdict=Verdict.INCONCLUSIVE, measured=None,
                              details=f"no step size in the above-threshold ranges; {div_note}")
    return [r1, r2, r2b, r3, _check_gradient_flow(eta, es, b, data, cfg)]


def gf_deviation(b, b_gf, *, rel: float = 1e-2, abs_: float = 1e-3):
    """``|b - b_GF| / (rel |b_GF| + abs_)``: the deviation from gradient flow in tolerance units.

    ``b`` and ``b_gf`` broadcast (e.g. ``(seeds, etas)``); NaN where ``b`` is NaN (diverged).
    """
    b, b_gf = np.asarray(b, float), np.asarray(b_gf, float)
    return np.abs(b - b_gf) / (rel * np.abs(b_gf) + abs_)


def _check_gradient_flow(eta, es, b, data, cfg):
    """Claim (e): b(eta) = b_GF below the threshold (<= 1 tolerance), departs above (>= 10)."""
    b_gf = data["b_gf_at_eta"]                                  # (seeds, etas), own eta * T
    b_gf10 = data["theta_gf"][:, 2]                              # at T = horizon
    dev = np.abs(b - b_gf)
    ratio = gf_deviation(b, b_gf)
    below, above = eta <= 0.8 * es + 1e-15, eta >= 1.5 * es - 1e-15
    ns = b.shape[0]
    if not below.any() or not above.any():
        return CLAIMS[4].result(verdict=Verdict.INCONCLUSIVE, measured=None,
                                details="no step size below 0.8 eta* or above 1.5 eta*")
    r_lo = np.max(ratio[:, below], 1)                            # per seed: worst below
    r_hi = np.min(ratio[:, above], 1)                            # per seed: closest above
    if np.isnan(ratio[:, below | above]).any():
        v = Verdict.INCONCLUSIVE
    elif np.all(r_lo <= 1.0) and np.all(r_hi >= 10.0):
        v = Verdict.PASS
    else:
        v = Verdict.FAIL
    m_lo, lo_lo, hi_lo = _t_ci(r_lo)
    m_hi, lo_hi, hi_hi = _t_ci(r_hi)
    return CLAIMS[4].result(
        verdict=v,
        measured={"b_GF(T) per seed": b_gf10.round(5).tolist(),
                  "max |b - b_GF| below, per seed": np.max(dev[:, below], 1).tolist(),
                  "max |b - b_GF| / tol below, per seed": r_lo.round(4).tolist(),
                  "max |b - b_GF| / tol below (max over seeds)": float(np.max(r_lo)),
                  "min |b - b_GF| above, per seed": np.min(dev[:, above], 1).tolist(),
                  "min |b - b_GF| / tol above, per seed": r_hi.round(2).tolist(),
                  "min |b - b_GF| / tol above (min over seeds)": float(np.min(r_hi))},
        uncertainty={"max dev/tol below: ci95_t_over_seeds": [lo_lo, hi_lo],
                     "min dev/tol above: ci95_t_over_seeds": [lo_hi, hi_hi],
                     "b_GF(T): mean, ci95_t_over_seeds": list(_t_ci(b_gf10)), "n_seeds": ns,
                     "ODE": f"solve_ivp DOP853, rtol {cfg['gf_rtol']:g}, atol 1e-10; "
                            f"field evaluations per seed {data['gf_nfev'].tolist()}"},
        fit_range={"eta below": [float(eta[below][0]), float(eta[below][-1])],
                   "eta above": [float(eta[above][0]), float(eta[above][-1])]},
        details="tol = 1e-2 |b_GF| + 1e-3; b_GF at each run's elapsed time eta*round(T/eta) "
                f"(T = {cfg['horizon']:g}). Per seed the below-threshold runs sit on the flow "
                "(O(eta) Euler error), the runs at >= 1.5 eta* are at least 10 tolerances off it.")


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
            _gf_band(ax, b_gf, ms=5, label=f"gradient flow b_GF(T): mean +- sd, seeds at eta=0")
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
