"""Negative and positive controls: synthetic inputs on which a claim's own check must decide.

A verdict is worth what it could have said otherwise.  Every claim ships at least one
:class:`Control` whose synthetic data *violate* it (a ``t^-a`` sequence for a
super-polynomial claim, exponent-1 data for a ``sqrt(d)`` claim, a shifted threshold, ...)
and on which its check must return ``FAIL``, and one that matches it and must ``PASS``.
The test suite runs them for every registered claim (``tests/test_controls.py``), the
report shows their verdicts, and ``theorylab list --controls`` lists them.  A claim
without a failing control is reported as *unfalsifiable*.

A control's ``data(config)`` returns what the claim's ``measure`` reads (only the keys it
needs), or, for a claim decided inside its figure's ``check``, a full data dict for that
``check``.
"""
from __future__ import annotations

import dataclasses
import traceback
from typing import Any, Callable, Mapping

from figures.core.claims import Claim, ClaimResult, Verdict


@dataclasses.dataclass(frozen=True)
class Control:
    """A synthetic input for one claim and the verdict its check must give on it.

    Parameters
    ----------
    name
        What the input is, e.g. ``"pure power law t^-3.3"``.
    expect
        ``Verdict.FAIL`` for a negative control (violates the claim), ``Verdict.PASS`` for
        a positive one.
    data
        ``data(config) -> mapping`` of the arrays the check reads.
    """

    name: str
    expect: Verdict
    data: Callable[[Mapping[str, Any]], Mapping[str, Any]]

    def __post_init__(self) -> None:
        object.__setattr__(self, "expect", Verdict(self.expect))
        if self.expect == Verdict.INCONCLUSIVE:
            raise ValueError(f"Control {self.name!r}: expect must be PASS or FAIL")


def fails(name: str, data: Callable[[Mapping[str, Any]], Mapping[str, Any]]) -> Control:
    """A negative control: ``data`` violates the claim, its check must FAIL."""
    return Control(name, Verdict.FAIL, data)


def passes(name: str, data: Callable[[Mapping[str, Any]], Mapping[str, Any]]) -> Control:
    """A positive control: ``data`` matches the claim, its check must PASS."""
    return Control(name, Verdict.PASS, data)


def _claim_verdict(claim: Claim, data: Mapping[str, Any], cfg: Mapping[str, Any],
                   figure_check: Callable | None) -> ClaimResult:
    if claim.measure is not None:
        return claim.check(data, cfg)
    if figure_check is None:
        raise ValueError(f"claim {claim.id!r} has no measure and no figure check")
    for r in figure_check(data, cfg):
        if r.claim_id == claim.id:
            return r
    raise ValueError(f"figure check reported no result for {claim.id!r}")


def run_controls(claim: Claim, cfg: Mapping[str, Any], *,
                 figure_check: Callable | None = None) -> list[dict[str, Any]]:
    """Run every control of ``claim``: ``[{name, expect, verdict, ok, details}]``.

    ``ok`` is whether the check gave the expected verdict; a control whose check raises
    is recorded with verdict ``INCONCLUSIVE`` and the error, never raised.
    """
    out = []
    for c in claim.controls:
        try:
            r = _claim_verdict(claim, c.data(dict(cfg)), cfg, figure_check)
            verdict, details = r.verdict, r.details
        except Exception:  # a broken control is a finding, not a crash
            verdict, details = Verdict.INCONCLUSIVE, traceback.format_exc().strip().splitlines()[-1]
        out.append({"name": c.name, "expect": c.expect.value, "verdict": verdict.value,
                    "ok": verdict == c.expect, "details": details})
    return out


def falsifiable(controls: list[dict[str, Any]] | None) -> bool:
    """Whether a claim's recorded controls include a negative control that FAILed."""
    return any(c["expect"] == "FAIL" and c["ok"] for c in controls or ())
