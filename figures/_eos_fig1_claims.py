"""The claims of Fig. 1 of Ahn et al. (arXiv:2212.07469) and their verdicts, for :mod:`figures.eos_fig1`.

Not a figure (no ``FIGURE``; the leading ``_`` keeps the registry from importing it as one).
:mod:`figures.eos_fig1` runs the simulation and draws the panels; this module holds what is
checked on its output:

- ``CLAIMS``: the five claims (phase transition at ``8 pi / d^2``, bias and accuracy below the
  threshold, threshold neuron above it, gradient flow below it), with the choices the paper
  leaves open (``_CHOICES``, ``_GF_CHOICES``);
- :func:`check`: measured values, t-intervals over seeds and a verdict per claim, from the data
  :func:`figures.eos_fig1.compute` returns;
- :func:`onset` (the transition step size ``eta_c``) and :func:`gf_deviation` (distance to the
  gradient-flow bias in tolerance units), the two measurements the verdicts rest on.
"""
from __future__ import annotations

import math

import numpy as np

from figures.core import Claim
from figures.core.claims import Verdict, t_interval



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
    m, lo, hi = t_interval(ec / es, finite_only=True)
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
    bm, blo, bhi = t_interval(np.nanmean(bb, 1), finite_only=True) if bb.size else (math.nan,) * 3
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
    m2, lo2, hi2 = t_interval(a_lo, finite_only=True)
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
        m3, lo3, hi3 = t_interval(a_hi, finite_only=True)
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
                         "test_acc_at_eta_max_ci95": list(t_interval(acc[:, top], finite_only=True)[1:]),
                         "bias_at_eta_max_ci95": list(t_interval(b[:, top], finite_only=True)[1:])},
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
    m_lo, lo_lo, hi_lo = t_interval(r_lo, finite_only=True)
    m_hi, lo_hi, hi_hi = t_interval(r_hi, finite_only=True)
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
                     "b_GF(T): mean, ci95_t_over_seeds": list(t_interval(b_gf10, finite_only=True)),
                     "n_seeds": ns,
                     "ODE": f"solve_ivp DOP853, rtol {cfg['gf_rtol']:g}, atol 1e-10; "
                            f"field evaluations per seed {data['gf_nfev'].tolist()}"},
        fit_range={"eta below": [float(eta[below][0]), float(eta[below][-1])],
                   "eta above": [float(eta[above][0]), float(eta[above][-1])]},
        details="tol = 1e-2 |b_GF| + 1e-3; b_GF at each run's elapsed time eta*round(T/eta) "
                f"(T = {cfg['horizon']:g}). Per seed the below-threshold runs sit on the flow "
                "(O(eta) Euler error), the runs at >= 1.5 eta* are at least 10 tolerances off it.")
