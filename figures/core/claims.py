"""Claims a figure checks, and the report entry each check produces.

A :class:`Claim` is what a paper says (the claimed form or value, where it says
it, and which of our settings differ from the paper's).  A :class:`ClaimResult`
is one measurement of it: the measured value with its uncertainty, the range
the fit used, and a :class:`Verdict`.  A failing claim is a result, not an
exception: checks return ``FAIL`` (or ``INCONCLUSIVE``) and the report shows it.
"""
from __future__ import annotations

import dataclasses
import enum
import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np


class Verdict(str, enum.Enum):
    """Outcome of a claim check."""

    PASS = "PASS"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.value


def _num(x: float) -> str:
    return f"{x:.4g}"


@dataclasses.dataclass(frozen=True)
class Band:
    """The acceptance band of a claimed quantity: ``lo <= q <= hi`` (either end may be open).

    A claim with a band is decided by the engine, never by hand-written comparisons:
    :meth:`verdict` says ``PASS`` when the measured interval lies inside the band, ``FAIL``
    when it lies entirely outside, and ``INCONCLUSIVE`` when it straddles an edge or is not
    finite (the reason names which).  :meth:`render` writes the band into the claim's text,
    so text and test cannot disagree.
    """

    lo: float = -math.inf
    hi: float = math.inf

    def __post_init__(self) -> None:
        lo, hi = float(self.lo), float(self.hi)
        if math.isnan(lo) or math.isnan(hi) or lo > hi or (lo == hi and math.isinf(lo)):
            raise ValueError(f"Band: expected lo <= hi (not NaN), got lo={self.lo!r}, hi={self.hi!r}")
        object.__setattr__(self, "lo", lo)
        object.__setattr__(self, "hi", hi)

    def render(self, quantity: str) -> str:
        q = quantity or "q"
        if math.isinf(self.lo):
            return f"{q} <= {_num(self.hi)}"
        if math.isinf(self.hi):
            return f"{q} >= {_num(self.lo)}"
        return f"{q} in [{_num(self.lo)}, {_num(self.hi)}]"

    def verdict(self, lo: float, hi: float) -> tuple[Verdict, str]:
        """Verdict of the interval ``[lo, hi]`` (a point when ``lo == hi``) and its reason."""
        lo, hi = float(lo), float(hi)
        if math.isnan(lo) or math.isnan(hi):
            return Verdict.INCONCLUSIVE, "the measured interval is NaN"
        if lo > hi:
            lo, hi = hi, lo
        if self.lo <= lo and hi <= self.hi:
            return Verdict.PASS, "interval inside the band"
        if hi < self.lo or lo > self.hi:
            return Verdict.FAIL, "interval outside the band"
        if math.isinf(lo) or math.isinf(hi):
            return Verdict.INCONCLUSIVE, "the measured interval is unbounded (too few seeds or points)"
        return Verdict.INCONCLUSIVE, "interval straddles the band's edge"


@dataclasses.dataclass(frozen=True)
class Measurement:
    """What a claim's ``measure`` returns: the tested quantity, its interval, and context.

    Parameters
    ----------
    value
        The measured value of the claim's ``quantity`` (a float).
    ci
        Its uncertainty interval ``(lo, hi)`` (fit CI, seeds); ``None`` for an exact value
        (a worst case over seeds, a deterministic quantity): the point ``(value, value)``.
    fit_range
        The range the measurement used (e.g. ``(t_min, t_max)``).
    extra
        Other measured quantities shown in the report beside the tested one.
    uncertainty
        How ``ci`` was obtained, e.g. ``{"method": "bootstrap over 8 seeds"}``.
    details
        One or two sentences for the report.
    refuse
        A reason the measurement cannot decide the claim (e.g. every seed diverged): the
        verdict is then ``INCONCLUSIVE`` whatever the value.
    seeds
        Number of seeds (or independent runs) behind the interval, if any.
    """

    value: float
    ci: tuple[float, float] | None = None
    fit_range: Any = None
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    uncertainty: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    details: str = ""
    refuse: str = ""
    seeds: int | None = None


@dataclasses.dataclass(frozen=True)
class Claim:
    """A claim from a paper that a figure checks.

    A claim either declares its test as data -- the ``quantity`` it measures, the
    acceptance band ``accept``, and a ``measure(data, config) -> Measurement`` function --
    and the engine derives the verdict (:meth:`check`), or (older style) its figure's
    ``check`` builds the result with :meth:`result`.  Each claim ships ``controls``:
    synthetic inputs on which its own check must FAIL (a violating law) and PASS (a
    matching one), run by the test suite and shown in the report
    (:mod:`figures.core.controls`).  A claim without a failing control is reported as
    unfalsifiable.

    Parameters
    ----------
    id
        Stable identifier, ``"<figure>.<short name>"``.
    statement
        One sentence, in words a reader of the paper recognises.
    claimed
        The claimed form, e.g. ``"max_i |z_i - 1| <= exp(-c log^2 t)"``.  With a band the
        report shows it followed by the band rendered from ``accept``; keep numbers of
        the band out of this text.
    source
        Where the paper says it (arXiv id, theorem / figure / equation).
    choices
        Every choice we made where the paper is silent or out of reach.
    quantity
        Name of the tested quantity (e.g. ``"local-exponent slope s"``).
    accept
        Acceptance band of ``quantity``: a :class:`Band` or a ``(lo, hi)`` pair
        (``None`` = open end).
    law
        For rate claims, the claimed law's name in :data:`figures.core.rates.LAWS`
        (queryable like diffrax's ``Euler.order()``).
    measure
        ``measure(data, config) -> Measurement`` computing the quantity from the figure's
        data; a ``ValueError`` it raises (e.g. a fit refused) makes the claim INCONCLUSIVE.
    controls
        :class:`figures.core.controls.Control` instances (synthetic inputs and the verdict
        expected on each).
    added_after_fail
        If the claim was added after an earlier claim FAILed, what that FAIL was (the
        earlier claim stays in the report); shown as a flag.
    """

    id: str
    statement: str
    claimed: str
    source: str
    choices: str = ""
    quantity: str = ""
    accept: Band | tuple[float | None, float | None] | None = None
    law: str | None = None
    measure: Callable[[Mapping[str, Any], Mapping[str, Any]], Measurement] | None = None
    controls: tuple[Any, ...] = ()
    added_after_fail: str = ""

    def __post_init__(self) -> None:
        if self.accept is not None and not isinstance(self.accept, Band):
            lo, hi = self.accept
            object.__setattr__(self, "accept", Band(-math.inf if lo is None else lo,
                                                    math.inf if hi is None else hi))
        if self.measure is not None and self.accept is None:
            raise ValueError(f"Claim {self.id!r}: a claim with `measure` needs an `accept` band")
        object.__setattr__(self, "controls", tuple(self.controls))

    @property
    def text(self) -> str:
        """The claimed form and, when declared, the band rendered from ``accept``."""
        if self.accept is None:
            return self.claimed
        band = f"accept if the interval of {self.accept.render(self.quantity)}"
        return f"{self.claimed}; {band}" if self.claimed else band

    def evaluate(self, m: Measurement) -> "ClaimResult":
        """The engine's verdict for one measurement: the interval against the band."""
        if self.accept is None:
            raise ValueError(f"Claim {self.id!r} declares no `accept` band; use Claim.result")
        lo, hi = (m.value, m.value) if m.ci is None else m.ci
        verdict, why = self.accept.verdict(lo, hi)
        if m.refuse:
            verdict, why = Verdict.INCONCLUSIVE, m.refuse
        value = float(m.value)
        measured = {**dict(m.extra), self.quantity or "value": value}  # the tested value wins
        unc = dict(m.uncertainty)
        if m.ci is not None:
            unc = {"interval": [float(lo), float(hi)], **unc}
        if m.seeds is not None:
            unc.setdefault("seeds", int(m.seeds))
        details = f"{m.details} [{why}]".strip() if m.details else f"[{why}]"
        return self.result(verdict=verdict, measured=measured, uncertainty=unc or None,
                           fit_range=m.fit_range, details=details)

    def check(self, data: Mapping[str, Any], config: Mapping[str, Any]) -> "ClaimResult":
        """``measure`` then :meth:`evaluate`; a refused measurement is INCONCLUSIVE."""
        if self.measure is None:
            raise ValueError(f"Claim {self.id!r} declares no `measure`")
        try:
            m = self.measure(data, config)
        except (ValueError, FloatingPointError, np.linalg.LinAlgError) as e:
            return self.result(verdict=Verdict.INCONCLUSIVE, measured=None,
                               details=f"measurement refused: {e}")
        return self.evaluate(m)

    def result(
        self,
        *,
        verdict: Verdict | str,
        measured: Any,
        uncertainty: Any = None,
        fit_range: Any = None,
        details: str = "",
    ) -> "ClaimResult":
        """Build the report entry for one measurement of this claim."""
        return ClaimResult(
            claim_id=self.id,
            statement=self.statement,
            claimed=self.text,
            source=self.source,
            choices=self.choices,
            verdict=Verdict(verdict),
            measured=measured,
            uncertainty=uncertainty,
            fit_range=fit_range,
            details=details,
            band=None if self.accept is None else [self.accept.lo, self.accept.hi],
            quantity=self.quantity,
            added_after_fail=self.added_after_fail,
        )


@dataclasses.dataclass(frozen=True)
class ClaimResult:
    """One claim's report entry: claimed vs measured, with uncertainty and verdict."""

    claim_id: str
    statement: str
    claimed: str
    source: str
    choices: str
    verdict: Verdict
    measured: Any
    uncertainty: Any = None
    fit_range: Any = None
    details: str = ""
    band: list[float] | None = None
    quantity: str = ""
    added_after_fail: str = ""
    controls: list[dict[str, Any]] | None = None
    sequential: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["verdict"] = self.verdict.value
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ClaimResult":
        fields = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in fields}
        kw["verdict"] = Verdict(kw["verdict"])
        return cls(**kw)


def verdict_from_interval(
    lo: float, hi: float, *, accept_lo: float = -math.inf, accept_hi: float = math.inf
) -> Verdict:
    """Verdict for a confidence interval ``[lo, hi]`` against ``[accept_lo, accept_hi]``.

    The same rule as :meth:`Band.verdict` (``PASS`` inside, ``FAIL`` entirely outside,
    ``INCONCLUSIVE`` straddling or not finite); prefer declaring ``Claim(accept=...)``.
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return Verdict.INCONCLUSIVE
    return Band(accept_lo, accept_hi).verdict(lo, hi)[0]


def t_interval(x, *, level: float = 0.95, finite_only: bool = False) -> tuple[float, float, float]:
    """Mean of ``x`` and the Student-t confidence interval of that mean: ``(mean, lo, hi)``.

    The interval is ``mean ± t_{(1+level)/2, n-1} · s / √n`` with ``s`` the sample standard
    deviation (``ddof=1``); it is ``(-inf, inf)`` for a single value, and all three are NaN
    for no values.  With ``finite_only`` non-finite entries (e.g. diverged runs) are dropped
    first; otherwise they propagate.
    """
    from scipy import stats

    x = np.asarray(x, float).ravel()
    if finite_only:
        x = x[np.isfinite(x)]
    if x.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(np.mean(x))
    if x.size < 2:
        return mean, -math.inf, math.inf
    h = float(stats.t.ppf(0.5 + level / 2, x.size - 1) * np.std(x, ddof=1) / math.sqrt(x.size))
    return mean, mean - h, mean + h


def straddles(r: "ClaimResult") -> bool:
    """Whether an INCONCLUSIVE result's finite interval straddles its band (more data may decide)."""
    if r.verdict != Verdict.INCONCLUSIVE or r.band is None or not isinstance(r.uncertainty, dict):
        return False
    iv = r.uncertainty.get("interval")
    if not iv or any(math.isnan(float(v)) for v in iv):
        return False
    if any(math.isinf(float(v)) for v in iv):
        return True  # unbounded (one seed): more seeds can bound it
    lo, hi = sorted(float(v) for v in iv)
    blo, bhi = r.band
    return (lo < blo <= hi) or (lo <= bhi < hi)


def worst(verdicts: Sequence[Verdict]) -> Verdict:
    """Combine verdicts: any FAIL fails, else any INCONCLUSIVE is inconclusive."""
    vs = [Verdict(v) for v in verdicts]
    if Verdict.FAIL in vs:
        return Verdict.FAIL
    if Verdict.INCONCLUSIVE in vs or not vs:
        return Verdict.INCONCLUSIVE
    return Verdict.PASS
