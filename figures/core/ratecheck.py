"""Check a claimed rate on your own numbers: ``check_rate`` -> PASS / FAIL / INCONCLUSIVE.

The replacement for ``assert abs(order - p) < tol``: the rate is fitted with a
bootstrap confidence interval (over seeds when there are several, else over points),
points at or below a float64 floor are cut off (and the range actually used is
reported), rival laws are ranked on the same points, and the verdict compares the
*interval* with the accepted band:

* PASS — the whole CI lies inside ``accept``;
* FAIL — the whole CI lies outside;
* INCONCLUSIVE — the CI straddles an end of the band (more seeds or points would
  decide), or no band was given.

Imports only numpy/scipy: no JAX, no x64 switch.

Laws (``e`` the error, ``t`` the x column)::

    power        e = A t^-c          rate c  (t -> inf: iterations, samples, width)
    order        e = A h^p           rate p  (h -> 0: step sizes; diffrax-style order test)
    log_power    e = A (log t)^-c    rate c
    exp_log2     e = A exp(-c log^2 t)
    exp          e = A exp(-c t)
    exp_logk     e = A exp(-c log^k t)   rate k (free exponent)
    power_floor  e = A t^-c + B          rate c (B >= 0 fitted)

Example
-------
>>> import numpy as np
>>> from figures import check_rate
>>> t = np.logspace(1, 4, 20)
>>> rng = np.random.default_rng(0)
>>> e = t**-0.5 * np.exp(0.05 * rng.standard_normal((5, t.size)))    # 5 seeds
>>> r = check_rate(t, e, law="power", accept=(0.45, 0.55), seeds_axis=0)
>>> r.verdict
'PASS'
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import numpy as np

from figures.core import rates
from figures.core.claims import verdict_from_interval

LAW_NAMES = ("power", "order", *[k for k in rates.LAWS if k != "power"],
             *rates.NONLINEAR_LAWS)


class RateInputError(ValueError):
    """Input ``check_rate`` cannot fit: names the argument and what was expected."""


@dataclasses.dataclass(frozen=True)
class RateCheck:
    """The outcome of :func:`check_rate`.

    Attributes
    ----------
    verdict
        ``"PASS"``, ``"FAIL"`` or ``"INCONCLUSIVE"``.
    rate, ci
        Fitted rate and its bootstrap CI ``(lo, hi)`` (level ``ci_level``).
    t_range
        ``(first, last)`` x actually used (after ``t_range`` and the floor cut).
    law, formula, accept
        The law fitted, its formula, and the accepted band (``None`` if none given).
    rivals
        ``[(law, rms of log residuals, ratio to the best)]`` ranked best first, for
        the laws in ``compare`` plus ``law`` (empty if ``compare`` was empty).
    local_rates
        The rate on sliding windows across the range; ``asymptotic`` says whether
        they are stable (spread within the CI width or 10 % of the rate).
    reason
        Why the verdict is what it is, in words.
    """

    verdict: str
    rate: float
    ci: tuple[float, float]
    t_range: tuple[float, float]
    law: str
    formula: str
    accept: tuple[float, float] | None
    n_points: int
    n_seeds: int
    bootstrap: str
    ci_level: float
    rivals: list = dataclasses.field(default_factory=list)
    local_rates: list = dataclasses.field(default_factory=list)
    asymptotic: bool | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["ci"] = list(self.ci)
        d["range"] = list(self.t_range)
        d["accept"] = list(self.accept) if self.accept is not None else None
        d["rivals"] = [list(r) for r in self.rivals]
        return d

    def __repr__(self) -> str:
        band = (f" vs accepted [{self.accept[0]:g}, {self.accept[1]:g}]"
                if self.accept is not None else "")
        riv = ("; rivals: " + ", ".join(f"{n} (rms x{q:.2g})" for n, _, q in self.rivals)
               if self.rivals else "")
        asym = "" if self.asymptotic is not False else "; PRE-ASYMPTOTIC: local rates drift " \
            f"{self.local_rates[0]:.3g} -> {self.local_rates[-1]:.3g}"
        return (f"RateCheck({self.verdict}: {self.law} rate {self.rate:.4g} "
                f"[{self.ci[0]:.4g}, {self.ci[1]:.4g}] ({self.ci_level:.0%} CI, bootstrap over "
                f"{self.bootstrap}){band}, fit range x in [{self.t_range[0]:g}, "
                f"{self.t_range[1]:g}], {self.n_points} points{riv}{asym}. {self.reason})")

    __str__ = __repr__


def _as_xy(x, y, seeds_axis):
    try:
        xa = np.asarray(x, dtype=np.float64)
        ya = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise RateInputError(f"x and y must be numeric arrays ({e})") from None
    if np.iscomplexobj(xa) or np.iscomplexobj(ya):
        raise RateInputError("x and y must be real")
    if xa.ndim != 1:
        raise RateInputError(f"x must be 1-D, got shape {xa.shape}")
    if ya.ndim == 2:
        if seeds_axis not in (0, 1, -1, -2):
            raise RateInputError("y is 2-D: pass seeds_axis=0 (rows are seeds) or 1 (columns)")
        if seeds_axis in (1, -1):
            ya = ya.T
    elif ya.ndim != 1:
        raise RateInputError(f"y must be 1-D or (n_seeds, n) 2-D, got shape {ya.shape}")
    if ya.shape[-1] != xa.shape[0]:
        raise RateInputError(f"y has {ya.shape[-1]} points per seed, x has {xa.shape[0]}")
    if not np.all(np.isfinite(xa)):
        raise RateInputError("x contains non-finite values")
    if not np.all(np.isfinite(ya)):
        raise RateInputError("y contains non-finite values (NaN/inf); drop or fix those rows")
    if np.any(ya <= 0):
        raise RateInputError("y must be positive (an error or a distance) for a rate fit; "
                             f"got min {ya.min():g}")
    return xa, ya


def check_rate(
    x: Sequence[float],
    y: Sequence[float] | np.ndarray,
    *,
    law: str,
    accept: tuple[float, float] | None = None,
    t_range: tuple[float, float] | None = None,
    floor: float | None = None,
    compare: Sequence[str] = (),
    seeds_axis: int | None = None,
    ci: float = 0.95,
    n_boot: int | None = None,
    seed: int = 0,
) -> RateCheck:
    """Fit ``law`` to ``y(x)`` and give a verdict on its rate against ``accept``.

    Parameters
    ----------
    x
        The abscissa, ``(n,)``: iterations / samples / width (laws ``power`` …) or step
        sizes (law ``order``).
    y
        Positive errors, ``(n,)`` or ``(n_seeds, n)`` (``seeds_axis=0``) or
        ``(n, n_seeds)`` (``seeds_axis=1``).
    law
        One of :data:`LAW_NAMES` (module docstring).
    accept
        Accepted band ``(lo, hi)`` for the rate (``lo <= hi``; use ``-inf``/``inf`` for
        one-sided claims).  Without it the verdict is INCONCLUSIVE.
    t_range
        Fit only points with ``t_range[0] <= x <= t_range[1]``.
    floor
        Drop points from the first one with ``y <= floor`` on (e.g. ``1e-13``, float64).
    compare
        Rival laws to rank on the same points (log-linear ones only).
    ci, n_boot, seed
        CI level, bootstrap resamples (default 2000 linear / 300 nonlinear), bootstrap seed.
    """
    if law not in LAW_NAMES:
        raise RateInputError(f"law must be one of {', '.join(LAW_NAMES)}; got {law!r}")
    for r in compare:
        if r not in rates.LAWS:
            raise RateInputError(f"compare: {r!r} is not one of {', '.join(rates.LAWS)}")
    if accept is not None:
        try:
            lo, hi = (float(v) for v in accept)
        except (TypeError, ValueError):
            raise RateInputError(f"accept must be (lo, hi), got {accept!r}") from None
        if math.isnan(lo) or math.isnan(hi) or lo > hi:
            raise RateInputError(f"accept: need lo <= hi, got ({lo:g}, {hi:g})")
        accept = (lo, hi)
    if t_range is not None:
        if len(t_range) != 2 or t_range[0] > t_range[1]:
            raise RateInputError(f"t_range must be (lo, hi) with lo <= hi, got {t_range!r}")
    if not 0 < ci < 1:
        raise RateInputError(f"ci must be in (0, 1), got {ci}")
    xa, ya = _as_xy(x, y, seeds_axis)
    if law == "order" and np.any(xa <= 0):
        raise RateInputError("law 'order': x (step sizes) must be positive")
    rng = np.random.default_rng(seed)
    try:
        if law == "order":
            fit = rates.fit_loglog(xa, ya, x_range=t_range, floor=floor, rng=rng,
                                   n_boot=n_boot or 2000, ci=ci)
            fit = dataclasses.replace(fit, law="order", formula="A * h**p")
        elif law in rates.NONLINEAR_LAWS:
            fit = rates.fit_nonlinear(xa, ya, law, t_range=t_range, floor=floor, rng=rng,
                                      n_boot=n_boot or 300, ci=ci)
        else:
            fit = rates.fit_law(xa, ya, law, t_range=t_range, floor=floor, rng=rng,
                                n_boot=n_boot or 2000, ci=ci)
    except RateInputError:
        raise
    except ValueError as e:
        raise RateInputError(str(e)) from None

    rivals = []
    if compare:
        names = list(dict.fromkeys([*compare, *([law] if law in rates.LAWS else [])]))
        if len(names) >= 2:
            cmp_ = rates.compare_laws(xa, ya, names, t_range=fit.t_range, floor=floor, rng=rng)
            rivals = sorted(((n, f.rms_log_residual, cmp_.ratio(n)) for n, f in cmp_.fits.items()),
                            key=lambda r: r[1])
    sel = (xa >= fit.t_range[0]) & (xa <= fit.t_range[1])
    base = rates.POWER if law in ("order", "power_floor", "exp_logk") else rates.LAWS[law]
    loc = rates.local_rates(xa[sel], ya[..., sel], base)
    if law == "order":
        loc = -loc
    asymptotic = None
    if loc.size >= 2 and law not in rates.NONLINEAR_LAWS:
        half = max(1, loc.size // 2)
        drift = abs(float(np.mean(loc[half:])) - float(np.mean(loc[:half])))
        width = fit.rate_ci[1] - fit.rate_ci[0]
        asymptotic = bool(drift <= max(width, 0.1 * abs(fit.rate)))
    if accept is None:
        verdict, reason = "INCONCLUSIVE", "no accepted band given (pass accept=(lo, hi))"
    else:
        v = verdict_from_interval(*fit.rate_ci, accept_lo=accept[0], accept_hi=accept[1])
        verdict = v.value
        reason = {"PASS": "the whole CI lies inside the band",
                  "FAIL": "the whole CI lies outside the band",
                  "INCONCLUSIVE": "the CI straddles an end of the band (or is not finite): "
                                  "more seeds or points would decide"}[verdict]
    if asymptotic is False:
        reason += "; the local rate drifts across the fit range (pre-asymptotic)"
    return RateCheck(verdict, fit.rate, fit.rate_ci, fit.t_range, fit.law, fit.formula, accept,
                     fit.n_points, fit.n_seeds, fit.bootstrap, fit.ci_level, rivals,
                     [float(v) for v in loc], asymptotic, reason)


def assert_rate(x, y, *, law: str, accept: tuple[float, float], inconclusive: str = "fail",
                **kw) -> RateCheck:
    """``check_rate`` as an assertion for test suites (also a pytest fixture, ``assert_rate``).

    Raises ``AssertionError`` with the fit, CI, range and rivals on FAIL; on
    INCONCLUSIVE does what ``inconclusive`` says: ``"fail"`` (default: raise, with the
    reason), ``"skip"`` (``pytest.skip``), ``"xfail"`` (``pytest.xfail``) or ``"pass"``.
    Returns the :class:`RateCheck` otherwise.
    """
    if inconclusive not in ("fail", "skip", "xfail", "pass"):
        raise ValueError(f"inconclusive must be 'fail', 'skip', 'xfail' or 'pass', "
                         f"got {inconclusive!r}")
    r = check_rate(x, y, law=law, accept=accept, **kw)
    if r.verdict == "FAIL":
        raise AssertionError(f"claimed rate rejected: {r!r}")
    if r.verdict == "INCONCLUSIVE":
        if inconclusive == "fail":
            raise AssertionError(f"rate check inconclusive: {r!r}")
        if inconclusive in ("skip", "xfail"):
            import pytest

            getattr(pytest, inconclusive)(f"rate check inconclusive: {r!r}")
    return r
