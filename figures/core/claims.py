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
from typing import Any, Mapping, Sequence

import numpy as np


class Verdict(str, enum.Enum):
    """Outcome of a claim check."""

    PASS = "PASS"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.value


@dataclasses.dataclass(frozen=True)
class Claim:
    """A claim from a paper that a figure checks.

    Parameters
    ----------
    id
        Stable identifier, ``"<figure>.<short name>"``.
    statement
        One sentence, in words a reader of the paper recognises.
    claimed
        The claimed form or value, e.g. ``"max_i |z_i - 1| <= exp(-c log^2 t), c > 0"``.
    source
        Where the paper says it (arXiv id, theorem / figure / equation).
    choices
        Every choice we made where the paper is silent or out of reach, so a reader
        can tell the paper's setting from ours.  Shown in the report.
    """

    id: str
    statement: str
    claimed: str
    source: str
    choices: str = ""

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
            claimed=self.claimed,
            source=self.source,
            choices=self.choices,
            verdict=Verdict(verdict),
            measured=measured,
            uncertainty=uncertainty,
            fit_range=fit_range,
            details=details,
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
    """Verdict for a confidence interval ``[lo, hi]`` against an acceptance region.

    ``PASS`` if the interval lies inside ``[accept_lo, accept_hi]``, ``FAIL`` if it
    lies entirely outside, ``INCONCLUSIVE`` if it straddles a boundary or is not finite.
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return Verdict.INCONCLUSIVE
    if lo > hi:
        lo, hi = hi, lo
    if accept_lo <= lo and hi <= accept_hi:
        return Verdict.PASS
    if hi < accept_lo or lo > accept_hi:
        return Verdict.FAIL
    return Verdict.INCONCLUSIVE


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


def worst(verdicts: Sequence[Verdict]) -> Verdict:
    """Combine verdicts: any FAIL fails, else any INCONCLUSIVE is inconclusive."""
    vs = [Verdict(v) for v in verdicts]
    if Verdict.FAIL in vs:
        return Verdict.FAIL
    if Verdict.INCONCLUSIVE in vs or not vs:
        return Verdict.INCONCLUSIVE
    return Verdict.PASS
