"""The machinery every figure plugs into: claims, figures, result store, sweeps, rate fits.

Public API
----------
Claim, ClaimResult, Verdict        -- what a figure declares and what a check reports
Band, Measurement                  -- a claim's acceptance band and what its ``measure`` returns
Control, fails, passes             -- synthetic inputs a claim's check must FAIL / PASS on
Figure, RunContext                 -- a figure's declaration and what ``compute`` receives
run_sweep, PointStore              -- grids over seeds / step sizes / dimensions on an Executor
rates                               -- rate laws, fits with bootstrap CIs, law comparison, verdicts
"""
from figures.core.claims import Band, Claim, ClaimResult, Measurement, Verdict
from figures.core.controls import Control, fails, passes
from figures.core.figure import Figure, RunContext
from figures.core.sweep import PointStore, run_sweep
from figures.core import rates

__all__ = [
    "Band",
    "Measurement",
    "Control",
    "fails",
    "passes",
    "Claim",
    "ClaimResult",
    "Verdict",
    "Figure",
    "RunContext",
    "PointStore",
    "run_sweep",
    "rates",
]
