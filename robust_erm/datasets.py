"""Bundled data: Airbnb London weekday listings (Gyodi & Nawaro 2021, Zenodo 4446043, CC BY 4.0),
the data set of the robust-ERM paper's experiment (arXiv:2306.05649, Sec. 5; cvxgrp/rerm_code)."""
from __future__ import annotations

import csv
import io
from importlib import resources

import numpy as np

__all__ = ["load_airbnb_london", "AIRBNB_FEATURES", "CITY_CENTER", "KM_PER_DEG"]

AIRBNB_FEATURES = ("person_capacity", "cleanliness_rating", "guest_satisfaction_overall",
                   "metro_dist", "attr_index_norm", "rest_index_norm", "lng", "lat")
CITY_CENTER = (-0.127249, 51.507972)
KM_PER_DEG = (111.30 * np.cos(np.deg2rad(CITY_CENTER[1])), 110.574)


def load_airbnb_london(*, filtered=True):
    """Return dict with X (n, 8) [AIRBNB_FEATURES order], y (realSum), dist (km to centre).

    ``filtered``: keep 0 <= realSum <= 1000 and dist <= 7 km as the paper's code does (3400 rows).
    """
    text = resources.files("robust_erm.data").joinpath("london_weekdays.csv").read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    X = np.array([[float(r[f]) for f in AIRBNB_FEATURES] for r in rows], dtype=np.float64)
    y = np.array([float(r["realSum"]) for r in rows], dtype=np.float64)
    dist = np.array([float(r["dist"]) for r in rows], dtype=np.float64)
    if filtered:
        keep = (y >= 0) & (y <= 1000) & (dist <= 7)
        X, y, dist = X[keep], y[keep], dist[keep]
    return {"X": X, "y": y, "dist": dist, "feature_names": AIRBNB_FEATURES}
