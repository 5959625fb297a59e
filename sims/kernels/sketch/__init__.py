"""Sketched feature maps ``Φ`` with ``ΦΦᵀ ≈ K`` for the NNGP and NTK of :mod:`sims.kernels.stax`.

``from sims.kernels import sketch``::

    init_fn, feature_fn = sketch.serial(sketch.Dense(W_std=1.0), sketch.Relu(m=1024), sketch.Dense())
    params = init_fn(jax.random.key(0), x.shape)       # fixed seeded sketches (pytree of arrays)
    feats = feature_fn(params, x)                      # Features(nngp=(n, m1), ntk=(n, m2)), float64
    init_fn, feature_fn = sketch.from_stax(stax.serial(...), m=1024)   # the same, from the stax description

Zandieh et al. 2021 (arXiv:2106.07880: ReLU random features, TensorSRHT, PolySketch) and Han et al. 2022
(arXiv:2209.04121: any activation by truncated Hermite series with radial factors).  Modules:
:mod:`.sketching` (SRHT, TensorSRHT, PolySketch), :mod:`.arccos` (ReLU random features),
:mod:`.polyfeatures` (radial-factor power series), :mod:`.layers` (the stax-like layers),
:mod:`.serial` (``serial``, ``Myrtle``, ``kernel_matrices``).
"""
from sims.kernels.sketch import arccos, polyfeatures, sketching
from sims.kernels.sketch.layers import (Activation, AvgPool, Conv, Dense, Erf, ExpNormalized, Features,
                                        Flatten, Gelu, GlobalAvgPool, Layer, Relu)
from sims.kernels.sketch.serial import Myrtle, features, from_stax, kernel_matrices, serial

__all__ = ["serial", "from_stax", "features", "Myrtle", "kernel_matrices", "Features", "Layer", "Dense", "Conv", "AvgPool",
           "GlobalAvgPool", "Flatten", "Relu", "Erf", "Gelu", "Activation", "ExpNormalized", "sketching",
           "arccos", "polyfeatures"]
