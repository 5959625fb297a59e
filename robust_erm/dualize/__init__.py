"""Dualization of the inner sup: score intervals [lo_i, hi_i] as DCP expressions."""
from robust_erm.dualize.closed_form import score_bounds_shared
from robust_erm.dualize.general import score_bounds_per_sample

__all__ = ["score_bounds_shared", "score_bounds_per_sample"]
