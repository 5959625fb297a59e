"""scikit-learn estimators for robust ERM (Luxenberg et al., arXiv:2306.05649).

``RobustRegressor`` / ``RobustClassifier`` wrap :class:`robust_erm.RobustERM` with one uncertainty
set shared by all samples (X_i = x_i + radius * U) so that ``GridSearchCV`` can tune ``radius``.
Choices the paper leaves open: the set is an l_p ball of radius ``radius`` unless ``uncertainty``
is given (its own radius is then replaced by ``radius``); ``alpha`` adds alpha * ||theta||_2^2;
binary classification only (labels mapped to -1/+1).
"""
from __future__ import annotations

import copy

import numpy as np
import cvxpy as cp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from robust_erm import losses as _L, sets as _S
from robust_erm.problem import RobustERM

__all__ = ["RobustRegressor", "RobustClassifier"]


class _Base(BaseEstimator):
    def _spec(self, default_loss, mode):
        if self.radius is None or not np.isfinite(self.radius) or self.radius < 0:
            raise ValueError(f"radius must be a finite nonnegative number, got {self.radius!r}")
        if self.uncertainty is None:
            U = _S.Ball(p=self.p, radius=float(self.radius))
        else:
            U = copy.copy(self.uncertainty)
            U.radius = float(self.radius)
        reg = None if not self.alpha else (lambda t, a=float(self.alpha): a * cp.sum_squares(t))
        return RobustERM(loss=self.loss if self.loss is not None else default_loss, uncertainty=U,
                         mode=mode, fit_intercept=self.fit_intercept, regularizer=reg)

    def _fit(self, X, y, sample_weight, default_loss, mode):
        res = self._spec(default_loss, mode).fit(X, y, sample_weight=sample_weight,
                                                 solver=self.solver)
        self.coef_, self.intercept_ = res.theta, res.intercept
        self.status_, self.solver_version_ = res.status, res.solver_version
        return self

    def _decision(self, X):
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return X @ self.coef_ + self.intercept_


class RobustRegressor(RegressorMixin, _Base):
    """Robust regression; default loss squared (robust least squares), l2 ball of ``radius``."""

    def __init__(self, *, loss=None, radius=0.1, p=2, uncertainty=None, alpha=0.0,
                 fit_intercept=True, solver="CLARABEL"):
        self.loss, self.radius, self.p, self.uncertainty = loss, radius, p, uncertainty
        self.alpha, self.fit_intercept, self.solver = alpha, fit_intercept, solver

    def fit(self, X, y, sample_weight=None):
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        return self._fit(X, y, sample_weight, _L.Squared(), "regression")

    def predict(self, X):
        return self._decision(X)


class RobustClassifier(ClassifierMixin, _Base):
    """Robust binary classification; default loss hinge (robust SVM), l2 ball of ``radius``."""

    def __init__(self, *, loss=None, radius=0.1, p=2, uncertainty=None, alpha=1e-3,
                 fit_intercept=True, solver="CLARABEL"):
        self.loss, self.radius, self.p, self.uncertainty = loss, radius, p, uncertainty
        self.alpha, self.fit_intercept, self.solver = alpha, fit_intercept, solver

    def fit(self, X, y, sample_weight=None):
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if self.classes_.size != 2:
            raise ValueError(f"RobustClassifier is binary; y has {self.classes_.size} classes")
        yy = np.where(y == self.classes_[1], 1.0, -1.0)
        return self._fit(X, yy, sample_weight, _L.Hinge(), "classification")

    def decision_function(self, X):
        return self._decision(X)

    def predict(self, X):
        return self.classes_[(self.decision_function(X) > 0).astype(int)]
