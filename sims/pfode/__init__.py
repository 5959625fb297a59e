"""Probability-flow ODE samplers of Chen, Chewi, Lee, Li, Lu, Salim (arXiv:2305.11798).

Public API
----------
Scheme, pfode, pfode2, ddpm, dpum, dpom, paper_dpum, paper_dpom -- sampler structures
sample, correct, Samples, NonFiniteScoreError                     -- particle samplers (JAX)
isotropic_law, scheme_law, law_over_steps                         -- exact law on Gaussian data

Example
-------
>>> import jax; jax.config.update("jax_enable_x64", True)   # entry point only
>>> from theory.ou import isotropic_gaussian
>>> from sims.pfode import dpum, sample
>>> q = isotropic_gaussian(8, 0.25)
>>> out = sample(jax.random.key(0), q.score, dpum(4, 4, L=4.0, T=8.0), n=1000, d=8)
>>> out.x.shape, out.nfe
((1000, 8), 256)
"""
from sims.pfode.law import isotropic_law, law_over_steps, scheme_law
from sims.pfode.samplers import NonFiniteScoreError, Samples, correct, sample
from sims.pfode.schemes import Scheme, ddpm, dpom, dpum, paper_dpom, paper_dpum, pfode, pfode2

__all__ = ["Scheme", "pfode", "pfode2", "ddpm", "dpum", "dpom", "paper_dpum", "paper_dpom",
           "sample", "correct", "Samples", "NonFiniteScoreError", "isotropic_law", "scheme_law",
           "law_over_steps"]
