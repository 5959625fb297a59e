"""Neural kernels: exact infinite-width NNGP / NTK (``stax``), blocked evaluation, empirical kernels.

``from sims.kernels import stax, kernel_matrix``; sketched features live in ``sims.kernels.sketch``
(import it as a submodule).  Conventions: neural-tangents (Novak et al. 2020, arXiv:1912.02803).
"""
from sims.kernels import activations, stax
from sims.kernels.batching import kernel_matrix

__all__ = ["stax", "activations", "kernel_matrix"]
