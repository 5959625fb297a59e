"""Sketched NNGP / NTK features: error vs feature dimension m and vs Hermite degree D.

Zandieh et al. 2021 (arXiv:2106.07880, Thm 1, 2: ReLU random features + TensorSRHT give
``(1−ε)(K+λI) ⪯ ΦΦᵀ+λI ⪯ (1+ε)(K+λI)`` with feature dimension ``m ~ s_λ/ε²·polylog``, i.e. ``ε ~ m^{-1/2}``)
and Han et al. 2022 (arXiv:2209.04121, §3–4, Thm 4.1: any activation through a Hermite series truncated
at degree ``D`` and sketched with PolySketch; the truncation error is the Hermite tail ``Σ_{n>D} a_n²``).
Sketches: :mod:`sims.kernels.sketch`; exact kernels: :mod:`sims.kernels.stax` (same conventions).

Choices the papers leave open (also in each claim's ``choices``):
- data: ``n = 32`` inputs ``x ~ N(0, I_16)`` with row norms scaled by U(0.5, 2) (not on the sphere); CNTK:
  ``n = 16`` images ``6×6×3``, N(0, 1) pixels;
- networks: FC ``Dense(1.5, b=0.1)-Relu(rf)-Dense(1.5, b=0.1)-Relu(rf)-Dense(1, b=0.1)``; FC
  ``Dense(1.5, b=0.1)-Gelu(poly, D=8)-Dense(1, b=0.1)``; CNTK ``Conv3×3 SAME(1.4, b=0.1)-Relu(rf)-AvgPool2-
  Conv3×3 SAME(1.4)-Relu(rf)-GAP-Dense``; every activation outputs ``m`` NNGP and ``m`` NTK features;
- errors: relative Frobenius ``‖K̂−K‖_F/‖K‖_F`` and spectral ``‖K̂−K‖₂/‖K‖₂``;
  ``ε = max|eig((K+λI)^{-1/2}(K̂+λI)(K+λI)^{-1/2}) − 1|`` with ``λ = 0.1·tr(K)/n``;
- rates: ``figures.core.rates.fit_loglog`` over all m, CI bootstrapped over seeds; accept a slope whose
  95% CI lies in [−0.7, −0.3] (claim −1/2);
- degree: the ``m → ∞`` limit of the sketch (the truncated series it estimates without bias,
  :func:`sims.kernels.sketch.polyfeatures.truncated_dual`), one hidden layer ``Dense(1)-σ-Dense(1)`` on
  equal-norm inputs (pre-activation variance 1), so the worst entry error equals
  :func:`theory.hermite.truncation_bound` (attained at ρ = 1); ReLU's tail is ``~ D^{-3/2}`` (accept
  the CI of the max-error slope over even ``D ≥ 4`` in [−1.7, −1.3]); "much faster" for smooth ``σ``
  (erf, GELU, and ``sin`` through the generic quadrature route) means that an exponential law
  ``e^{−cD}`` fits ``D ∈ [2, 16]`` better than a power law (``rates.compare_laws``, bootstrap win rate
  ≥ 0.8), while ReLU's best law is the power law.  (A first formulation, "log-log slope below −3",
  failed for erf: −2.90, a geometric tail looks shallow on a log-log plot at small D.)
"""
from __future__ import annotations

import dataclasses

import numpy as np

from figures.core import Claim, Figure, RunContext, rates
from figures.core.claims import Verdict

NETS = ("fc_relu_rf", "fc_gelu_poly", "cntk_relu_rf")
ACTS = ("relu", "erf", "gelu", "sin")
CHOICES = ("n = 32 inputs N(0, I_16), row norms x U(0.5, 2); CNTK 16 images 6x6x3; every activation "
           "outputs m NNGP and m NTK features; fit_loglog over all m with bootstrap over seeds; "
           "accept the 95% CI in [-0.7, -0.3]")



def _rate_claim(short, statement, source, net):
    return Claim(id=f"nk_sketch_error.{short}", statement=statement, source=source,
                 claimed="||K_hat - K||_F/||K||_F ~ m^p, p = -1/2", choices=f"{CHOICES}; {net}, NTK")


CLAIMS = (
    _rate_claim("fc_rate", "The relative Frobenius error of sketched FC NTK features (ReLU random features "
                "+ TensorSRHT) decreases like m^(-1/2)",
                "Zandieh et al. 2021, arXiv:2106.07880, Thm 1-2 (m ~ 1/eps^2)",
                "FC Dense(1.5,b=.1)-Relu-Dense-Relu-Dense"),
    _rate_claim("poly_rate", "Hermite/PolySketch features of a GELU net converge at rate m^(-1/2) until "
                "the degree-8 truncation floor", "Han et al. 2022, arXiv:2209.04121, Thm 4.1 (PolySketch)",
                "Dense(1.5,b=.1)-Gelu(D=8)-Dense"),
    _rate_claim("cntk_rate", "Sketched CNTK features (exact conv/pool, sketched ReLU) converge at rate "
                "m^(-1/2)", "Zandieh et al. 2021, arXiv:2106.07880, §4 (CNTK features)",
                "Conv-Relu-AvgPool-Conv-Relu-GAP-Dense, SAME"),
    Claim(id="nk_sketch_error.spectral_eps",
          statement="The spectral approximation (1±eps)(K+lam I) of the FC NTK holds with eps ~ m^(-1/2), "
                    "eps < 0.5 at the largest m",
          claimed="eps(m) ~ m^p, p = -1/2; eps(m_max) < 0.5",
          source="Zandieh et al. 2021, arXiv:2106.07880, Thm 2; Han et al. 2022, Thm 4.1",
          choices=CHOICES + "; lam = 0.1 tr(K)/n; FC ReLU-rf NTK; eps = max over seeds at m_max"),
    Claim(id="nk_sketch_error.relu_degree",
          statement="The ReLU Hermite truncation error decays as its tail, ~ D^(-3/2), and equals "
                    "theory.hermite.truncation_bound",
          claimed="max |T_D - T| = sum_{n>D} a_n^2 ~ D^p, p = -3/2",
          source="Han et al. 2022, arXiv:2209.04121, §3 (truncated Hermite expansion)",
          choices="m -> infinity limit of the sketch; Dense(1)-Relu-Dense(1), equal-norm inputs (q = 1); "
                  "even D >= 4; accept the slope CI in [-1.7, -1.3]"),
    Claim(id="nk_sketch_error.smooth_degree",
          statement="For smooth activations (erf, GELU, sin via generic quadrature) the truncation error "
                    "decays geometrically (much faster than ReLU's power law)",
          claimed="max |T_D - T| ~ exp(-c D) for smooth sigma; ~ D^p for ReLU",
          source="Han et al. 2022, arXiv:2209.04121, §3",
          choices="m -> infinity limit; Dense(1)-sigma-Dense(1), q = 1; D in [2, 16] above the 1e-14 floor; "
                  "figures.core.rates.compare_laws('exp', 'power'): PASS when exp is best with bootstrap "
                  "win rate >= 0.8 for every smooth sigma and power is best for ReLU (even D >= 4)"),
)


def _fc_inputs(seed, n, d):
    g = np.random.default_rng([seed, 41])
    return g.normal(size=(n, d)) * g.uniform(0.5, 2.0, size=(n, 1))


def _nets(name, m):
    """``(sketch (init, feature), stax kernel_fn, inputs(seed))`` of one network."""
    from sims.kernels import sketch, stax

    if name == "fc_relu_rf":
        sk = sketch.serial(sketch.Dense(W_std=1.5, b_std=0.1), sketch.Relu(m=m),
                           sketch.Dense(W_std=1.5, b_std=0.1), sketch.Relu(m=m), sketch.Dense(b_std=0.1))
        kf = stax.serial(stax.Dense(1, W_std=1.5, b_std=0.1), stax.Relu(), stax.Dense(1, W_std=1.5, b_std=0.1),
                         stax.Relu(), stax.Dense(1, b_std=0.1))[2]
        return sk, kf, lambda s: _fc_inputs(s, 32, 16)
    if name == "fc_gelu_poly":
        sk = sketch.serial(sketch.Dense(W_std=1.5, b_std=0.1), sketch.Gelu(m=m, degree=8), sketch.Dense(b_std=0.1))
        kf = stax.serial(stax.Dense(1, W_std=1.5, b_std=0.1), stax.Gelu(), stax.Dense(1, b_std=0.1))[2]
        return sk, kf, lambda s: _fc_inputs(s, 32, 16)
    if name == "cntk_relu_rf":
        sk = sketch.serial(sketch.Conv((3, 3), padding="SAME", W_std=1.4, b_std=0.1), sketch.Relu(m=m),
                           sketch.AvgPool((2, 2), strides=(2, 2)), sketch.Conv((3, 3), padding="SAME", W_std=1.4),
                           sketch.Relu(m=m), sketch.GlobalAvgPool(), sketch.Dense())
        kf = stax.serial(stax.Conv(1, (3, 3), padding="SAME", W_std=1.4, b_std=0.1), stax.Relu(),
                         stax.AvgPool((2, 2), strides=(2, 2)), stax.Conv(1, (3, 3), padding="SAME", W_std=1.4), stax.Relu(),
                         stax.GlobalAvgPool(), stax.Dense(1))[2]
        return sk, kf, lambda s: np.random.default_rng([s, 42]).normal(size=(16, 6, 6, 3))
    raise ValueError(f"net must be one of {NETS}, got {name!r}")


def _errors(kh: np.ndarray, k: np.ndarray, lam_frac: float) -> np.ndarray:
    """``(relative Frobenius, relative spectral, ε)`` of ``kh`` against ``k``."""
    n = k.shape[0]
    lam = lam_frac * np.trace(k) / n
    w, v = np.linalg.eigh(k + lam * np.eye(n))
    isq = (v / np.sqrt(w)) @ v.T
    eps = np.max(np.abs(np.linalg.eigvalsh(isq @ (kh + lam * np.eye(n)) @ isq) - 1.0))
    d = kh - k
    return np.array([np.linalg.norm(d) / np.linalg.norm(k), np.linalg.norm(d, 2) / np.linalg.norm(k, 2), eps])


def _m_point(point):
    """Errors ``(n_seeds, 2 kernels, 3 metrics)`` of one network at one feature dimension ``m``."""
    import jax

    (init_fn, feature_fn), kf, inputs = _nets(point["net"], point["m"])
    x = inputs(point["seed"])
    exact = kf(x, None, get=("nngp", "ntk"))

    @jax.jit   # traced once per (net, m); seeds run sequentially inside (lax.map)
    def kernels(keys):
        def one(key):
            f = feature_fn(init_fn(key, x.shape), x)
            return f.nngp @ f.nngp.T, f.ntk @ f.ntk.T
        return jax.lax.map(one, keys)

    keys = jax.random.split(jax.random.key(point["seed"] * 7919 + point["m"]), point["n_seeds"])
    nngp, ntk = (np.asarray(a) for a in kernels(keys))
    err = np.array([[_errors(nngp[s], np.asarray(exact.nngp), point["lam"]),
                     _errors(ntk[s], np.asarray(exact.ntk), point["lam"])] for s in range(point["n_seeds"])])
    return {"err": err}


def _degree_point(point):
    """Truncated-series errors vs degree for one activation: max-abs and relative Frobenius, NNGP/NTK."""
    import jax.numpy as jnp
    from sims.kernels import stax
    from sims.kernels.sketch import polyfeatures
    from theory import hermite

    name = point["act"]
    layer = {"relu": stax.Relu, "erf": stax.Erf, "gelu": stax.Gelu, "sin": stax.Sin}[name]
    g = np.random.default_rng([point["seed"], 43])
    x = g.normal(size=(point["n"], 16))
    x = x / np.linalg.norm(x, axis=1, keepdims=True) * 4.0          # x·x/16 = 1: unit pre-activation variance
    exact = stax.serial(stax.Dense(1), layer(), stax.Dense(1))[2](x, None, get=("nngp", "ntk"))
    q = jnp.asarray(x @ x.T / 16)
    dq = jnp.diag(q)
    out = {"max_nngp": [], "frob_nngp": [], "frob_ntk": [], "bound": []}
    for deg in point["degrees"]:
        t, tdot = polyfeatures.truncated_dual(polyfeatures.hermite_radial(name, deg), dq[:, None], dq[None, :], q)
        ntk = np.asarray(q * tdot + t)                              # Dense(1)-σ-Dense(1): ntk = q Ṫ + T
        t = np.asarray(t)
        out["max_nngp"].append(np.abs(t - exact.nngp).max())
        out["frob_nngp"].append(np.linalg.norm(t - exact.nngp) / np.linalg.norm(exact.nngp))
        out["frob_ntk"].append(np.linalg.norm(ntk - exact.ntk) / np.linalg.norm(exact.ntk))
        out["bound"].append(hermite.truncation_bound(name, deg))
    return {k: np.asarray(v) for k, v in out.items()}


def compute(cfg: dict, ctx: RunContext) -> dict[str, np.ndarray]:
    ms = [2 ** e for e in range(cfg["log2_m_min"], cfg["log2_m_max"] + 1)]
    nets = list(cfg["nets"])
    points = [{"net": net, "m": m, "seed": cfg["seed"], "n_seeds": cfg["n_seeds"], "lam": cfg["lam"]}
              for net in nets for m in ms]
    res = ctx.sweep(_m_point, points, desc="nets x m", name="m_sweep")
    err = np.full((len(NETS), len(ms), cfg["n_seeds"], 2, 3), np.nan)   # nets not run stay NaN
    for i, net in enumerate(nets):
        err[NETS.index(net)] = np.stack([r["err"] for r in res[i * len(ms):(i + 1) * len(ms)]])
    deg_pts = [{"act": a, "seed": cfg["seed"], "n": cfg["n_degree"], "degrees": list(cfg["degrees"])}
               for a in ACTS]
    dres = ctx.sweep(_degree_point, deg_pts, desc="degrees", name="degree_sweep")
    out = {"m": np.array(ms, float), "degrees": np.array(cfg["degrees"], float),
           "err": np.moveaxis(err, 2, 0)}                  # (n_seeds, nets, m, kernel, metric)
    for key in ("max_nngp", "frob_nngp", "frob_ntk", "bound"):
        out[key] = np.stack([r[key] for r in dres])         # (acts, degrees)
    return out


def _rate_result(claim, m, e, cfg, extra=""):
    fit = rates.fit_loglog(m, e, rng=np.random.default_rng(cfg["seed"]))
    return fit, claim.result(
        verdict=fit.verdict(accept_lo=-0.7, accept_hi=-0.3), measured=fit.rate,
        uncertainty={"ci95": fit.rate_ci, "bootstrap": fit.bootstrap}, fit_range=fit.t_range,
        details=f"{e.shape[0]} seeds; median error {np.median(e[:, 0]):.3g} at m={int(m[0])}, "
                f"{np.median(e[:, -1]):.3g} at m={int(m[-1])}{extra}")


def check(data, cfg):
    m, err = data["m"], data["err"]                          # err: (seeds, nets, m, kernel, metric)
    results = []
    for claim, i in zip(CLAIMS[:3], range(3)):
        if np.isnan(err[:, i]).any():
            results.append(claim.result(verdict=Verdict.INCONCLUSIVE, measured=None,
                                        details=f"{NETS[i]} not in this config (quick run)"))
            continue
        spec = np.median(err[:, i, -1, 1, 1])
        results.append(_rate_result(claim, m, err[:, i, :, 1, 0], cfg,
                                    f"; spectral {spec:.3g}, NNGP Frobenius "
                                    f"{np.median(err[:, i, -1, 0, 0]):.3g} at m={int(m[-1])}")[1])
    e_cntk = err[:, 2, :, 1, 0]
    if not np.isnan(e_cntk).any() and len(m) > 4:
        f_hi = rates.fit_loglog(m[2:], e_cntk[:, 2:], rng=np.random.default_rng(cfg["seed"]))
        results[2] = dataclasses.replace(results[2], details=results[2].details + (
            f"; slope over m >= {int(m[2])}: {f_hi.rate:.3f} CI [{f_hi.rate_ci[0]:.3f}, {f_hi.rate_ci[1]:.3f}]"))
    eps = err[:, 0, :, 1, 2]
    fit, res = _rate_result(CLAIMS[3], m, eps, cfg)
    eps_max = float(eps[:, -1].max())
    verdict = res.verdict if eps_max < 0.5 else Verdict.FAIL
    results.append(CLAIMS[3].result(verdict=verdict, measured={"slope": fit.rate, "eps_at_m_max": eps_max},
                                    uncertainty={"ci95": fit.rate_ci}, fit_range=fit.t_range,
                                    details=res.details + f"; max eps over seeds at m={int(m[-1])}: {eps_max:.3g}"))
    deg = data["degrees"]
    relu = data["max_nngp"][0]
    gap = float(np.max(np.abs(relu - data["bound"][0]) / data["bound"][0]))
    sel = (deg >= 4) & (deg % 2 == 0)
    fit = rates.fit_loglog(deg[sel], relu[sel], rng=np.random.default_rng(cfg["seed"]))
    results.append(CLAIMS[4].result(
        verdict=fit.verdict(accept_lo=-1.7, accept_hi=-1.3), measured=fit.rate,
        uncertainty={"ci95": fit.rate_ci}, fit_range=fit.t_range,
        details=f"max |error/bound - 1| = {gap:.2g}; error {relu[sel][0]:.3g} at D={int(deg[sel][0])}, "
                f"{relu[sel][-1]:.3g} at D={int(deg[sel][-1])}; NTK Frobenius "
                f"{data['frob_ntk'][0][-1]:.3g} at D={int(deg[-1])} (derivative tail ~ D^-1/2)"))
    best, details = {}, []
    for j, a in enumerate(ACTS[1:], start=1):
        keep = (deg >= 2) & (deg <= 16)
        cmp = rates.compare_laws(deg[keep], data["max_nngp"][j][keep], ("exp", "power"), floor=1e-14,
                                 rng=np.random.default_rng(cfg["seed"]))
        best[a] = {"best": cmp.best, "win_rate": cmp.win_rate, "exp_rate": cmp.fits["exp"].rate}
        details.append(f"{a}: best {cmp.best} (win {cmp.win_rate:.2f}, power/exp residual "
                       f"{cmp.ratio('power') if cmp.best == 'exp' else 1.0:.2g}x), error "
                       f"{data['max_nngp'][j][deg <= 16][-1]:.2g} at D=16")
    relu_cmp = rates.compare_laws(deg[sel], relu[sel], ("exp", "power"), rng=np.random.default_rng(cfg["seed"]))
    ok = all(b["best"] == "exp" and b["win_rate"] >= 0.8 for b in best.values()) and relu_cmp.best == "power"
    results.append(CLAIMS[5].result(
        verdict=Verdict.PASS if ok else Verdict.FAIL, measured=best,
        uncertainty={"win_rates": {a: b["win_rate"] for a, b in best.items()}},
        fit_range=(2.0, 16.0),
        details="; ".join(details) + f"; ReLU best law: {relu_cmp.best} (win {relu_cmp.win_rate:.2f})"))
    return results


def plot(data, cfg):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    m, err = data["m"], data["err"]
    ax = axes[0]
    for i, net in enumerate(NETS):
        if np.isnan(err[:, i]).any():
            continue
        for k, (kern, ls) in enumerate((("NNGP", "--"), ("NTK", "-"))):
            ax.loglog(m, np.median(err[:, i, :, k, 0], 0), ls, marker="o", color=f"C{i}", label=f"{net} {kern}")
    ax.loglog(m, np.median(err[:, 0, 0, 1, 0]) * np.sqrt(m[0] / m), "k:", label=r"$\propto m^{-1/2}$")
    ax.set_xlabel("feature dimension m"); ax.set_ylabel(r"$\|\hat K-K\|_F/\|K\|_F$ (median over seeds)")
    ax.legend(fontsize=7); ax.set_title("Frobenius error vs m")
    ax = axes[1]
    for i, net in enumerate(NETS):
        if np.isnan(err[:, i]).any():
            continue
        ax.loglog(m, np.median(err[:, i, :, 1, 1], 0), "-o", color=f"C{i}", label=f"{net} NTK spectral")
        ax.loglog(m, np.median(err[:, i, :, 1, 2], 0), "-s", color=f"C{i}", alpha=0.5, label=f"{net} NTK ε")
    ax.loglog(m, np.median(err[:, 0, 0, 1, 2]) * np.sqrt(m[0] / m), "k:", label=r"$\propto m^{-1/2}$")
    ax.set_xlabel("feature dimension m"); ax.set_ylabel("spectral error / ε on K+λI")
    ax.legend(fontsize=7); ax.set_title(r"spectral error and $(1\pm\varepsilon)$ guarantee")
    ax = axes[2]
    deg = data["degrees"]
    for j, a in enumerate(ACTS):
        ax.semilogy(deg, np.maximum(data["max_nngp"][j], 1e-17), "-o", color=f"C{j}", label=f"{a}: max error")
        ax.semilogy(deg, np.maximum(data["bound"][j], 1e-17), "x", color=f"C{j}", ms=8)
    ax.set_xscale("log"); ax.set_xlabel("Hermite degree D"); ax.set_ylabel(r"$\max|T_D - T|$ (x: tail bound)")
    ax.legend(fontsize=7); ax.set_title("truncation error vs degree (m → ∞)")
    fig.tight_layout()
    return fig


def _ordered(lo_key: str, hi_key: str):
    """``validate`` hook: config[lo_key] <= config[hi_key]."""
    def validate(cfg):
        if cfg[lo_key] > cfg[hi_key]:
            raise ValueError(f"{lo_key}={cfg[lo_key]} must be <= {hi_key}={cfg[hi_key]}")
    return validate


FIGURE = Figure(
    name="nk_sketch_error",
    title="Sketched NNGP/NTK features: error ~ m^-1/2, (1±ε) spectral bound, Hermite-tail degree error",
    paper="Zandieh et al. 2021 (arXiv:2106.07880), Thm 1-2; Han et al. 2022 (arXiv:2209.04121), §3-4, Thm 4.1",
    claims=CLAIMS,
    config={"nets": list(NETS), "log2_m_min": 7, "log2_m_max": 12, "n_seeds": 4, "lam": 0.1, "n_degree": 24,
            "degrees": [1, 2, 3, 4, 6, 8, 10, 12, 16, 24, 32, 48, 64]},
    quick={"nets": ["fc_relu_rf"], "log2_m_min": 5, "log2_m_max": 7, "n_seeds": 2, "n_degree": 8,
           "degrees": [2, 4, 8, 16]},
    compute=compute, check=check, plot=plot, expected_seconds=120,  # measured 104 s, quick 12.5 s,
    validate=_ordered("log2_m_min", "log2_m_max"))
