"""Rate laws, fits with bootstrap confidence intervals, and comparisons of rival laws.

Every law here is linear in log space with two parameters,

    log e(t) = log A - c * phi(t),

so a fit is ordinary least squares of ``log e`` on ``phi(t)`` and rival laws have
the same number of parameters (comparing residuals is comparing AIC).

=================  =========================  ===============  ===========
law                e(t)                       phi(t)           rate
=================  =========================  ===============  ===========
``POWER``          A t^(-c)                   log t            c
``LOG_POWER``      A (log t)^(-c)             log log t        c (1/log t: c = 1)
``EXP_LOG2``       A exp(-c log^2 t)          log^2 t          c
``EXP``            A exp(-c t)                t                c
=================  =========================  ===============  ===========

Uncertainty is a percentile bootstrap: over seeds when ``e`` has one row per
seed (resample rows, fit the mean of ``log e``), else over points (pairs
bootstrap).  Points at or below a float64 floor are cut off, from the first
such point on, and the range actually used is reported (``FitResult.t_range``),
following diffrax's order tests which stop at the round-off floor.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import numpy as np

from figures.core.claims import Verdict, verdict_from_interval


@dataclasses.dataclass(frozen=True)
class Law:
    """A two-parameter rate law ``log e = log A - c * phi(t)``."""

    name: str
    formula: str
    phi: Callable[[np.ndarray], np.ndarray]
    t_min: float = 0.0  # phi is defined for t > t_min

    def predict(self, t: np.ndarray, log_a: float, c: float) -> np.ndarray:
        return np.exp(log_a - c * self.phi(np.asarray(t, dtype=np.float64)))


POWER = Law("power", "A * t**(-c)", np.log)
LOG_POWER = Law("log_power", "A * log(t)**(-c)", lambda t: np.log(np.log(t)), t_min=1.0)
EXP_LOG2 = Law("exp_log2", "A * exp(-c * log(t)**2)", lambda t: np.log(t) ** 2)
EXP = Law("exp", "A * exp(-c * t)", lambda t: t)
LAWS = {law.name: law for law in (POWER, LOG_POWER, EXP_LOG2, EXP)}


@dataclasses.dataclass(frozen=True)
class FitResult:
    """A fitted law with its percentile-bootstrap CI and goodness of fit."""

    law: str
    formula: str
    rate: float
    rate_ci: tuple[float, float]
    log_prefactor: float
    rms_log_residual: float
    r2: float
    aic: float
    t_range: tuple[float, float]
    n_points: int
    n_seeds: int
    bootstrap: str
    ci_level: float

    def verdict(self, *, accept_lo: float = -np.inf, accept_hi: float = np.inf) -> Verdict:
        """PASS if the CI of the rate lies in ``[accept_lo, accept_hi]``, FAIL if outside."""
        return verdict_from_interval(*self.rate_ci, accept_lo=accept_lo, accept_hi=accept_hi)

    def as_report(self) -> dict:
        return {"law": self.formula, "rate": self.rate, "ci": list(self.rate_ci),
                "ci_level": self.ci_level, "rms_log_residual": self.rms_log_residual,
                "r2": self.r2, "bootstrap": self.bootstrap}


def _prepare(t, e, *, t_range, floor, law: Law | None):
    t = np.asarray(t, dtype=np.float64)
    e = np.asarray(e, dtype=np.float64)
    if t.ndim != 1:
        raise ValueError(f"t must be 1-D, got shape {t.shape}")
    if e.ndim == 1:
        e = e[None, :]
    if e.ndim != 2 or e.shape[1] != t.shape[0]:
        raise ValueError(f"e must have shape (len(t),) or (n_seeds, len(t)) = (*, {t.shape[0]}), "
                         f"got {np.shape(e)}")
    if not np.all(np.isfinite(t)):
        raise ValueError("t contains non-finite values")
    mask = np.ones(t.shape, bool)
    if t_range is not None:
        lo, hi = t_range
        mask &= (t >= lo) & (t <= hi)
    if law is not None:
        mask &= t > law.t_min
    # cut at the floor: from the first point where any seed is at/below it (or not finite) on
    bad = ~np.all(np.isfinite(e) & (e > (floor if floor is not None else 0.0)), axis=0)
    if np.any(bad & mask):
        first = np.argmax(bad & mask)
        mask[first:] = False
    if mask.sum() < 3:
        raise ValueError(f"fewer than 3 usable points for the fit (t_range={t_range}, floor={floor}); "
                         f"usable t: {t[mask].tolist()}")
    return t[mask], np.log(e[:, mask])


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[float, float, np.ndarray]:
    xm, ym = x.mean(), y.mean()
    sxx = np.sum((x - xm) ** 2)
    slope = np.sum((x - xm) * (y - ym)) / sxx
    icpt = ym - slope * xm
    return icpt, slope, y - (icpt + slope * x)


def _fit_features(
    t: np.ndarray, logs: np.ndarray, phi: np.ndarray, *, sign: float, rng: np.random.Generator,
    n_boot: int, ci: float,
):
    y = logs.mean(axis=0)
    icpt, slope, resid = _ols(phi, y)
    n_seeds, n = logs.shape
    boots = np.empty(n_boot)
    if n_seeds > 1:
        method = f"seeds (n={n_seeds})"
        for b in range(n_boot):
            rows = rng.integers(0, n_seeds, n_seeds)
            boots[b] = _ols(phi, logs[rows].mean(axis=0))[1]
    else:
        method = f"points (n={n})"
        b = 0
        while b < n_boot:
            idx = rng.integers(0, n, n)
            if np.ptp(phi[idx]) == 0:
                continue
            boots[b] = _ols(phi[idx], y[idx])[1]
            b += 1
    lo, hi = _percentile_ci(sign * boots, ci)
    rms, r2, aic = _goodness(y, float(np.sum(resid**2)), n_params=2)
    return sign * slope, (lo, hi), icpt, rms, r2, aic, method


def _percentile_ci(boots: np.ndarray, ci: float) -> tuple[float, float]:
    """Percentile bootstrap interval; unbounded if any resample could not be fitted (NaN)."""
    boots = np.asarray(boots, float)
    if np.any(~np.isfinite(boots)):
        return -np.inf, np.inf
    alpha = (1 - ci) / 2
    lo, hi = np.quantile(boots, [alpha, 1 - alpha])
    return float(lo), float(hi)


def _goodness(y: np.ndarray, rss: float, *, n_params: int) -> tuple[float, float, float]:
    """``(rms log residual, R^2, AIC)`` of a least-squares fit of ``y`` with ``n_params``."""
    n = y.size
    tss = float(np.sum((y - y.mean()) ** 2))
    aic = n * np.log(max(rss, 1e-300) / n) + 2 * n_params
    return float(np.sqrt(rss / n)), (1 - rss / tss if tss > 0 else 1.0), float(aic)


def fit_law(
    t: Sequence[float],
    e: Sequence[float] | np.ndarray,
    law: Law | str,
    *,
    t_range: tuple[float, float] | None = None,
    floor: float | None = None,
    rng: np.random.Generator | None = None,
    n_boot: int = 2000,
    ci: float = 0.95,
) -> FitResult:
    """Fit ``law`` to errors ``e(t)`` and bootstrap a CI for its rate ``c``.

    Parameters
    ----------
    t
        Times / step counts / sizes, shape ``(n,)``.
    e
        Positive errors, shape ``(n,)`` or ``(n_seeds, n)``.
    law
        A :class:`Law` or its name in :data:`LAWS`.
    t_range
        Only points with ``t_range[0] <= t <= t_range[1]`` are used.
    floor
        Points from the first one with ``e <= floor`` on are dropped (float64 floor).
    rng
        Generator for the bootstrap (default: ``numpy.random.default_rng(0)``).
    """
    law = LAWS[law] if isinstance(law, str) else law
    rng = rng if rng is not None else np.random.default_rng(0)
    tt, logs = _prepare(t, e, t_range=t_range, floor=floor, law=law)
    rate, rci, icpt, rms, r2, aic, method = _fit_features(
        tt, logs, law.phi(tt), sign=-1.0, rng=rng, n_boot=n_boot, ci=ci)
    return FitResult(law.name, law.formula, float(rate), rci, float(icpt), rms, float(r2), aic,
                     (float(tt[0]), float(tt[-1])), len(tt), logs.shape[0], method, ci)


def fit_loglog(
    x: Sequence[float],
    y: Sequence[float] | np.ndarray,
    *,
    x_range: tuple[float, float] | None = None,
    floor: float | None = None,
    rng: np.random.Generator | None = None,
    n_boot: int = 2000,
    ci: float = 0.95,
) -> FitResult:
    """Slope ``p`` of ``log y = log A + p log x`` with a bootstrap CI.

    Use for orders of convergence (``err ~ h^p``) and scaling exponents
    (``steps ~ d^p``).  Unlike :func:`fit_law` the slope is returned with its sign.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    xx, logs = _prepare(x, y, t_range=x_range, floor=floor, law=POWER)
    rate, rci, icpt, rms, r2, aic, method = _fit_features(
        xx, logs, np.log(xx), sign=1.0, rng=rng, n_boot=n_boot, ci=ci)
    return FitResult("loglog", "A * x**p", float(rate), rci, float(icpt), rms, float(r2), aic,
                     (float(xx[0]), float(xx[-1])), len(xx), logs.shape[0], method, ci)


@dataclasses.dataclass(frozen=True)
class Comparison:
    """Rival laws fitted to the same points, ranked by residual RMS in log space."""

    fits: dict[str, FitResult]
    best: str
    win_rate: float  # fraction of bootstrap resamples in which ``best`` still fits best

    def ratio(self, other: str) -> float:
        """Residual RMS of ``other`` over that of the best law (>= 1)."""
        return self.fits[other].rms_log_residual / max(self.fits[self.best].rms_log_residual, 1e-300)

    def as_report(self) -> dict:
        return {"best": self.best, "win_rate": self.win_rate,
                "rms_log_residual": {k: f.rms_log_residual for k, f in self.fits.items()}}


def compare_laws(
    t: Sequence[float],
    e: Sequence[float] | np.ndarray,
    laws: Sequence[Law | str] = (EXP_LOG2, LOG_POWER, POWER),
    *,
    t_range: tuple[float, float] | None = None,
    floor: float | None = None,
    rng: np.random.Generator | None = None,
    n_boot: int = 500,
) -> Comparison:
    """Fit each law on the same points and rank them by goodness of fit.

    All laws are fitted on the intersection of their domains, so the comparison is
    on identical data.  ``win_rate`` is the fraction of bootstrap resamples (seeds
    or points, as in :func:`fit_law`) in which the best law keeps the smallest residual.
    """
    laws = [LAWS[l] if isinstance(l, str) else l for l in laws]
    if len(laws) < 2:
        raise ValueError("compare_laws needs at least two laws")
    t_min = max(l.t_min for l in laws)
    t_arr = np.asarray(t, dtype=np.float64)
    lo = max(t_min + 1e-12, t_range[0]) if t_range else t_min + 1e-12
    hi = t_range[1] if t_range else np.inf
    rng = rng if rng is not None else np.random.default_rng(0)
    fits = {l.name: fit_law(t_arr, e, l, t_range=(lo, hi), floor=floor, rng=rng, n_boot=n_boot)
            for l in laws}
    best = min(fits, key=lambda k: fits[k].rms_log_residual)
    tt, logs = _prepare(t_arr, e, t_range=(lo, hi), floor=floor, law=None)
    phis = {l.name: l.phi(tt) for l in laws}
    wins = 0
    n_seeds, n = logs.shape
    for _ in range(n_boot):
        if n_seeds > 1:
            y = logs[rng.integers(0, n_seeds, n_seeds)].mean(axis=0)
            idx = np.arange(n)
        else:
            idx = rng.integers(0, n, n)
            y = logs[0, idx]
        rss = {k: np.sum(_ols(p[idx], y)[2] ** 2) if np.ptp(p[idx]) > 0 else np.inf
               for k, p in phis.items()}
        wins += min(rss, key=rss.get) == best
    return Comparison(fits, best, wins / n_boot)


# --------------------------------------------------------------------------- nonlinear laws
# Three-parameter laws users need beyond the log-linear four.  Each is fitted by least
# squares in log space; the CI is the same percentile bootstrap (over seeds, else points).
# A profile search whose optimum sits on the edge of its bracket is refused (ValueError),
# never reported as a fit: a clipped grid is a silently wrong answer.

K_BRACKET = (0.25, 8.0)


def _profile_k(lt: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float]:
    """Best ``k`` of ``y = a - c * lt**k`` (``lt = log t > 0``): ``(k, c, a, rss)``."""
    from scipy.optimize import minimize_scalar

    def rss(k):
        return float(np.sum(_ols(lt**k, y)[2] ** 2))

    grid = np.linspace(np.log(K_BRACKET[0]), np.log(K_BRACKET[1]), 97)
    vals = np.array([rss(np.exp(g)) for g in grid])
    i = int(np.argmin(vals))
    if i in (0, len(grid) - 1):
        raise ValueError(f"exp_logk: the best exponent k lies at the edge of the searched bracket "
                         f"{K_BRACKET} (k = {np.exp(grid[i]):.3g}); the data do not follow "
                         "A exp(-c log^k t) with a k inside it")
    r = minimize_scalar(lambda g: rss(np.exp(g)), bracket=(grid[i - 1], grid[i], grid[i + 1]),
                        tol=1e-10)
    k = float(np.exp(r.x))
    a, slope, res = _ols(lt**k, y)
    return k, -float(slope), float(a), float(np.sum(res**2))


def _power_floor(t: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float]:
    """Fit ``log e = log(A t^-c + B)``, ``B >= 0``: ``(c, log A, B, rss)``."""
    from scipy.optimize import least_squares

    lt = np.log(t)
    a0, s0, _ = _ols(lt, y)

    def resid(p):
        la, c, lb = p
        return np.logaddexp(la - c * lt, lb) - y

    best = None
    for lb0 in (np.min(y) - 3.0, np.min(y) - 1.0, np.min(y) - 0.1):
        r = least_squares(resid, x0=[a0, -s0, lb0], method="lm", xtol=1e-14, ftol=1e-14)
        if best is None or r.cost < best.cost:
            best = r
    la, c, lb = best.x
    return float(c), float(la), float(np.exp(lb)), float(2 * best.cost)


@dataclasses.dataclass(frozen=True)
class NonlinearLaw:
    """A three-parameter law fitted by profile / nonlinear least squares in log space."""

    name: str
    formula: str
    rate_name: str
    t_min: float = 0.0


EXP_LOGK = NonlinearLaw("exp_logk", "A * exp(-c * log(t)**k)", "k", t_min=1.0)
POWER_FLOOR = NonlinearLaw("power_floor", "A * t**(-c) + B", "c")
NONLINEAR_LAWS = {law.name: law for law in (EXP_LOGK, POWER_FLOOR)}


def fit_nonlinear(
    t: Sequence[float],
    e: Sequence[float] | np.ndarray,
    law: NonlinearLaw | str,
    *,
    t_range: tuple[float, float] | None = None,
    floor: float | None = None,
    rng: np.random.Generator | None = None,
    n_boot: int = 300,
    ci: float = 0.95,
) -> FitResult:
    """Fit :data:`EXP_LOGK` (rate = the exponent ``k``) or :data:`POWER_FLOOR` (rate = ``c``).

    ``exp_logk``: ``e = A exp(-c log^k t)``; ``k = 2`` is the BN-rate form of arXiv
    2306.11680, ``k = 1`` a power law, so a CI of ``k`` above 1 rejects every power law.
    ``power_floor``: ``e = A t^-c + B`` with ``B >= 0`` (a bias floor, e.g. SGD at constant step).
    """
    law = NONLINEAR_LAWS[law] if isinstance(law, str) else law
    rng = rng if rng is not None else np.random.default_rng(0)
    tt, logs = _prepare(t, e, t_range=t_range, floor=floor, law=POWER)
    keep = tt > law.t_min
    tt, logs = tt[keep], logs[:, keep]
    if tt.size < 4:
        raise ValueError(f"{law.name}: fewer than 4 usable points for a 3-parameter fit")
    one = (lambda y: _profile_k(np.log(tt), y)) if law is EXP_LOGK else \
        (lambda y: _power_floor(tt, y))
    y = logs.mean(axis=0)
    est = one(y)
    rate = est[0]
    n_seeds, n = logs.shape
    boots = []
    for _ in range(n_boot):
        if n_seeds > 1:
            yb, tb = logs[rng.integers(0, n_seeds, n_seeds)].mean(axis=0), None
        else:
            idx = np.sort(rng.integers(0, n, n))
            if np.unique(idx).size < 4:
                continue
            yb, tb = y[idx], tt[idx]
        try:
            if tb is None:
                boots.append(one(yb)[0])
            else:
                boots.append((_profile_k(np.log(tb), yb) if law is EXP_LOGK
                              else _power_floor(tb, yb))[0])
        except ValueError:
            boots.append(np.nan)  # an edge optimum in a resample widens the CI to infinity
    lo, hi = _percentile_ci(np.asarray(boots), ci)
    rms, r2, aic = _goodness(y, est[-1], n_params=3)
    method = f"seeds (n={n_seeds})" if n_seeds > 1 else f"points (n={n})"
    return FitResult(law.name, law.formula, float(rate), (lo, hi), float(est[2]), rms, r2, aic,
                     (float(tt[0]), float(tt[-1])), int(tt.size), n_seeds, method, ci)


def fit_exponent_slope(
    t: Sequence[float],
    e: Sequence[float] | np.ndarray,
    *,
    t_range: tuple[float, float] | None = None,
    floor: float | None = None,
    rng: np.random.Generator | None = None,
    n_boot: int = 2000,
    ci: float = 0.95,
) -> FitResult:
    """Slope of the local power exponent ``p(t) = -d log e / d log t`` against ``log t``.

    Fits ``log e = a - b log t - q log^2 t`` by least squares, so ``p(t) = b + 2 q log t``
    and the returned rate is ``s = dp/d log t = 2q`` with its percentile-bootstrap CI (over
    seeds, else points).  Every power law ``A t^-a`` has ``s = 0``; ``A exp(-c log^2 t)``
    has ``s = 2c``; a super-polynomial decay has ``p(t) -> inf``, i.e. ``s > 0`` over any
    long enough range.  This is the test of a super-polynomial rate that a polynomial
    cannot pass (arXiv 2306.11680's ``exp(-Omega(log^2 t))``: ``s >= 2c > 0``).
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    tt, logs = _prepare(t, e, t_range=t_range, floor=floor, law=POWER)
    if tt.size < 4:
        raise ValueError("fit_exponent_slope: fewer than 4 usable points for a 3-parameter fit")
    L = np.log(tt)
    X = np.stack([np.ones_like(L), L, L**2], axis=1)

    def slope(y, rows=slice(None)):
        coef = np.linalg.lstsq(X[rows], y, rcond=None)[0]
        return -2.0 * coef[2], coef

    y = logs.mean(axis=0)
    s, coef = slope(y)
    n_seeds, n = logs.shape
    boots = np.empty(n_boot)
    for b in range(n_boot):
        if n_seeds > 1:
            boots[b] = slope(logs[rng.integers(0, n_seeds, n_seeds)].mean(axis=0))[0]
        else:
            idx = rng.integers(0, n, n)
            boots[b] = slope(y[idx], idx)[0] if np.unique(idx).size >= 4 else np.nan
    if n_seeds == 1:
        boots = boots[np.isfinite(boots)]
    lo, hi = _percentile_ci(boots, ci)
    rms, r2, aic = _goodness(y, float(np.sum((y - X @ coef) ** 2)), n_params=3)
    method = f"seeds (n={n_seeds})" if n_seeds > 1 else f"points (n={n})"
    return FitResult("exponent_slope", "A * exp(-b log t - q log(t)**2); s = 2q", float(s),
                     (lo, hi), float(coef[0]), rms, r2, aic, (float(tt[0]), float(tt[-1])),
                     int(tt.size), n_seeds, method, ci)


def local_rates(t: np.ndarray, e: np.ndarray, law: Law, *, window: int | None = None) -> np.ndarray:
    """The law's rate fitted on sliding windows of consecutive points (mean over seeds).

    For an asymptotic range these are stable; a drift says the fit range is
    pre-asymptotic (the GCI-style check of Roache's asymptotic range).
    """
    t = np.asarray(t, float)
    y = np.log(np.atleast_2d(np.asarray(e, float))).mean(axis=0)
    n = t.size
    w = window or max(3, n // 4)
    if n < w + 1:
        return np.array([])
    phi = law.phi(t)
    return np.array([-_ols(phi[i:i + w], y[i:i + w])[1] for i in range(n - w + 1)
                     if np.ptp(phi[i:i + w]) > 0])
