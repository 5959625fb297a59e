"""Neural kernels: exact infinite-width NNGP / NTK (``stax``), blocked evaluation, empirical kernels.

``from sims.kernels import stax, kernel_matrix``; finite-width kernels in ``sims.kernels.empirical``;
sketched feature maps ``Φ`` with ``ΦΦᵀ ≈ K`` (NNGP and NTK, same conventions) in ``sims.kernels.sketch``.
Conventions: neural-tangents (Novak et al. 2020, arXiv:1912.02803), see :mod:`sims.kernels.stax`.
"""
from sims.kernels import activations, empirical, predict, sketch, stax
from sims.kernels.batching import kernel_matrix

__all__ = ["stax", "activations", "empirical", "predict", "sketch", "kernel_matrix"]
