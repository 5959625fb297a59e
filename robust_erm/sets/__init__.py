"""Convex uncertainty sets and their support functions (arXiv:2306.05649, Luxenberg et al.).

See :mod:`robust_erm.sets._base` for the interface every set implements.  As the single shared
set of :class:`robust_erm.RobustERM` a set is a perturbation set U (X_i = x_i + U); in a list it
is one absolute set per sample.  Sets that pin absolute coordinates (``MissingFeatures``, or a
composition containing one) are refused as a shared set.
"""
from robust_erm.sets._base import UncertaintySet, primal_max
from robust_erm.sets.composite import (AffineImage, General, Intersection, LabelNoise,
                                       MinkowskiSum, MissingFeatures, Product)
from robust_erm.sets.norms import Ball, Box, Budget, Ellipsoid, EllipsoidQuad
from robust_erm.sets.polyhedral import ConvexHull, Polyhedron

__all__ = ["UncertaintySet", "Ball", "Box", "Ellipsoid", "EllipsoidQuad", "Polyhedron",
           "ConvexHull", "Budget", "MissingFeatures", "LabelNoise", "Intersection",
           "MinkowskiSum", "AffineImage", "Product", "General", "primal_max"]
