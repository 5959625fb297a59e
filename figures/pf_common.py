"""Shared set-up of the PF-ODE figures (arXiv:2305.11798): targets, sampler families, law curves.

Not a figure (no ``FIGURE``).  Every sampler family is a one-parameter family in an integer
knob ``k`` with all step sizes proportional to ``1/k`` and the paper's structure fixed:

==========  ==========================================  =====================
name        scheme                                      score evals (nfe)
==========  ==========================================  =====================
``pfode``   PF-ODE, exponential integrator, k steps     k
``pfode2``  PF-ODE, ETD-RK2, k steps                    2k
``ddpm``    reverse SDE, exponential integrator         k
``dpum``    outer blocks 1/L; k predictor + k ULMC      2k * ceil(T L)
``dpom``    outer blocks 1/L; k predictor + k LMC       2k * ceil(T L)
==========  ==========================================  =====================

Choices the paper leaves open (also in each Claim's ``choices``): the Gaussian target
``N(0, VAR I)`` with ``L = 1/VAR = 4`` and ``T = 8``; the mixture ``0.3 N(-2.5, 0.25) + 0.7
N(2.5, 0.25)``; equal predictor and corrector step counts per block (``h_corr = T_corr / k``);
``T_corr = 1/sqrt(L)`` (ULMC), ``1/L`` (LMC); friction ``2 sqrt(L)``; no early stopping.
"""
from __future__ import annotations

import math

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sims.pfode import Scheme
    from theory.ou import GaussianMixture


VAR, L, T = 0.25, 4.0, 8.0
SAMPLERS = ("pfode", "ddpm", "pfode2", "dpum", "dpom")
FIRST_ORDER = ("pfode", "ddpm", "dpum", "dpom")
COLORS = {"pfode": "C0", "ddpm": "C1", "pfode2": "C2", "dpum": "C3", "dpom": "C4"}
MARKERS = {"pfode": "o", "ddpm": "s", "pfode2": "^", "dpum": "D", "dpom": "x"}
LABELS = {"pfode": "PF-ODE", "ddpm": "DDPM", "pfode2": "PF-ODE (ETD-RK2)",
          "dpum": "DPUM (ULMC corr.)", "dpom": "DPOM (LMC corr.)"}
N_OUTER = math.ceil(T * L)
CHOICES = ("Gaussian target N(0, 0.25 I) (L = 4), T = 8, start N(0, I), no early stopping; "
           "outer blocks of length 1/L; equal predictor/corrector step counts k per block; "
           "T_corr = 1/sqrt(L) (ULMC), 1/L (LMC); ULMC friction 2 sqrt(L) (paper: ~sqrt(L)); "
           "Theta-tilde constants of the paper's step sizes replaced by the knob k")


def mixture() -> GaussianMixture:
    """Separated 1-D mixture ``0.3 N(-2.5, 0.25) + 0.7 N(2.5, 0.25)`` (non-log-concave)."""
    from theory.ou import GaussianMixture

    return GaussianMixture.from_params([0.3, 0.7], [[-2.5], [2.5]], [[0.25], [0.25]])


def scheme(name: str, k: int) -> Scheme:
    """Member ``k`` of a sampler family (module docstring)."""
    from sims.pfode import ddpm, dpom, dpum, pfode, pfode2

    k = int(k)
    return {"pfode": lambda: pfode(k, T=T), "ddpm": lambda: ddpm(k, T=T),
            "pfode2": lambda: pfode2(k, T=T), "dpum": lambda: dpum(k, k, L=L, T=T),
            "dpom": lambda: dpom(k, k, L=L, T=T)}[name]()


def nfe(name: str, k) -> np.ndarray:
    """Score evaluations of member(s) ``k`` of a family: ``Scheme.nfe``, the one definition."""
    k = np.asarray(k)
    return np.vectorize(lambda kk: scheme(name, int(kk)).nfe, otypes=[np.int64])(k)


def k_for_nfe(name: str, budget: int) -> int:
    """Largest knob whose nfe does not exceed ``budget`` (at least 1)."""
    per = int(nfe(name, 1))
    return max(1, budget // per)


def law_moments(name: str, ks, *, bias: float = 0.0, var: float = VAR):
    """Exact per-coordinate output ``(m, P)`` on ``N(0, var I)`` for every knob in ``ks``."""
    from sims.pfode import law_over_steps

    return law_over_steps(scheme(name, 1), ks, var=var, bias=bias)
