"""scikit-learn estimators for robust ERM (arXiv:2306.05649) with an l_p-ball (or any) set.

``RobustRegressor`` / ``RobustClassifier`` wrap :class:`robust_erm.RobustERM`; ``radius`` is a plain
hyper-parameter, so ``GridSearchCV(est, {"radius": [...]})`` chooses it by cross-validation.
Choice (not in the paper): an optional ridge term ``alpha * ||theta||_2^2`` (default 1e-4 for the
classifier so that separable data keep a bounded solution).
"""
from __future__ import annotations

import copy

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

import cvxpy as cp

from robust_erm import losses as L
from robust_erm import sets as S
from robust_erm.problem import RobustERM

__all__ = ["RobustRegressor", "RobustClassifier"]

_REG = {"squared": L.Squared, "absolute": L.Absolute, "huber": L.Huber, "pinball": L.Pinball}
_CLS = {"hinge": L.Hinge, "logistic": L.Logistic, "exponential": L.Exponential}


def _loss(loss, table, name):
    if isinstance(loss, L.Loss):
        return loss
    if loss not in table:
        raise ValueError(f"{name} loss must be one of {sorted(table)} or a Loss, got {loss!r}")
    return table[loss]()


def _set(est):
    r = float(est.radius)
    if not np.isfinite(r) or r < 0:
        raise ValueError(f"radius must be a finite nonnegative number, got {est.radius}")
    if est.uncertainty is None:
        return S.Ball(p=est.p, radius=r)
    U = copy.copy(est.uncertainty)
    if getattr(U, "radius", None) is not None:
        U.radius = r
    return U


def _fit(est, X, y, loss, mode, sample_weight):
    reg = (lambda t: est.alpha * cp.sum_squares(t)) if est.alpha > 0 else None
    prob = RobustERM(loss=loss, uncertainty=_set(est), mode=mode,
                     fit_intercept=est.fit_intercept, regularizer=reg)
    res = prob.fit(X, y, sample_weight=sample_weight, solver=est.solver)
    est.coef_, est.intercept_ = res.theta, res.intercept
    est.status_, est.solver_, est.solver_version_ = res.status, res.solver, res.solver_version
    return est


class RobustRegressor(RegressorMixin, BaseEstimator):
    """Robust linear regression: min mean_i sup_{x in x_i + U} loss(theta^T x + b - y_i).

    Parameters
    ----------
    loss : {"squared", "absolute", "huber", "pinball"} or robust_erm.losses.Loss
    radius : float, radius of the perturbation set; p : float, ball norm (uncertainty=None).
    uncertainty : UncertaintySet or None (its radius is replaced by ``radius``).
    alpha : float, ridge weight; fit_intercept : bool; solver : cvxpy solver name.
    """

    def __init__(self, *, loss="squared", radius=0.1, p=2.0, uncertainty=None, alpha=0.0,
                 fit_intercept=True, solver="CLARABEL"):
        self.loss, self.radius, self.p, self.uncertainty = loss, radius, p, uncertainty
        self.alpha, self.fit_intercept, self.solver = alpha, fit_intercept, solver

    def fit(self, X, y, sample_weight=None):
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        return _fit(self, X, y.astype(np.float64), _loss(self.loss, _REG, "regression"),
                    "regression", sample_weight)

    def predict(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return X @ self.coef_ + self.intercept_


class RobustClassifier(ClassifierMixin, BaseEstimator):
    """Robust binary linear classifier: min mean_i sup_{x in x_i + U} loss(y_i (theta^T x + b)).

    Parameters as :class:`RobustRegressor`; ``loss`` in {"hinge", "logistic", "exponential"}.
    Binary only: labels are mapped to {-1, +1} in the order of ``classes_``.
    """

    def __init__(self, *, loss="logistic", radius=0.1, p=2.0, uncertainty=None, alpha=1e-4,
                 fit_intercept=True, solver="CLARABEL"):
        self.loss, self.radius, self.p, self.uncertainty = loss, radius, p, uncertainty
        self.alpha, self.fit_intercept, self.solver = alpha, fit_intercept, solver

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def fit(self, X, y, sample_weight=None):
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        y_type = type_of_target(y, input_name="y", raise_unknown=True)
        if y_type != "binary":
            raise ValueError("Only binary classification is supported (RobustClassifier is "
                             f"binary). The type of the target is {y_type}.")
        classes = np.unique(y)
        if classes.size < 2:
            raise ValueError(f"y contains only one class ({classes[0]!r}); "
                             "RobustClassifier needs 2 classes")
        self.classes_ = classes
        yy = np.where(y == self.classes_[1], 1.0, -1.0)
        return _fit(self, X, yy, _loss(self.loss, _CLS, "classification"), "classification",
                    sample_weight)

    def decision_function(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return X @ self.coef_ + self.intercept_

    def predict(self, X):
        d = self.decision_function(X)
        return self.classes_[(d > 0).astype(int)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags
