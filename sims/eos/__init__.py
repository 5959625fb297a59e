"""Edge of stability and threshold neurons (Ahn et al., arXiv:2212.07469; Cohen et al., arXiv:2103.00065).

Public API
----------
hvp, dense_hessian, top_eigenvalues, lanczos_top      -- sharpness from Hessian-vector products
sparse_coding, chebyshev                              -- data (1) of Ahn et al.; Cohen's toy data
ThresholdNet, SortedInputs                            -- network (2) of Ahn et al. (Fig. 1)
SymReLUNet, LXYModel, MeanModel, TanhNet, sym_unit    -- models (flat float64 parameter vectors)
gd_sweep, gd_single, GDResult                         -- GD, lax.scan, vmapped over step sizes
gradient_flow, network2_field, loss_field, FlowResult -- gradient flow (scipy ODE), eta -> 0 of GD

Example
-------
>>> import jax; jax.config.update("jax_enable_x64", True)   # entry point only
>>> import jax.numpy as jnp
>>> from sims.eos import LXYModel, gd_sweep
>>> from theory.eos import lxy_threshold
>>> m = LXYModel()
>>> eta_star = lxy_threshold(1.0)                       # 2 / (l''(0) y0^2) = 4
>>> r = gd_sweep(m.loss, jnp.array([1e-3, 1.0]), [0.9 * eta_star, 1.02 * eta_star],
...              steps=20000, record_every=1000)
>>> r.theta[:, 1].round(3)                             # y stays at 1 below, drops above
array([1.  , 0.98])
"""
from sims.eos.data import SparseCoding, chebyshev, sparse_coding
from sims.eos.flow import FlowResult, gradient_flow, loss_field, network2_field
from sims.eos.gd import GDResult, gd_single, gd_sweep
from sims.eos.models import (LXYModel, MeanModel, SortedInputs, SymReLUNet, TanhNet,
                             ThresholdNet, sym_unit)
from sims.eos.sharpness import dense_hessian, hvp, lanczos_top, top_eigenvalues

__all__ = ["hvp", "dense_hessian", "top_eigenvalues", "lanczos_top", "sparse_coding",
           "SparseCoding", "chebyshev", "ThresholdNet", "SortedInputs", "SymReLUNet", "LXYModel",
           "MeanModel", "TanhNet", "sym_unit", "gd_sweep", "gd_single", "GDResult",
           "gradient_flow", "network2_field", "loss_field", "FlowResult"]
