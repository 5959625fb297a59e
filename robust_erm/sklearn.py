"""scikit-learn estimators for robust ERM (Luxenberg et al., arXiv:2306.05649).

``RobustRegressor`` / ``RobustClassifier`` wrap :class:`robust_erm.RobustERM` with one perturbation
set shared by all samples (an l_p ball of ``radius`` by default, or any set whose radius is
replaced by ``radius``).  Choices not in the paper: an optional ridge term alpha ||theta||_2^2
(default 1e-4 for the classifier so that separable data keep a bounded solution); multiclass is
one-vs-rest; ``predict_proba`` (logistic loss only) is the OvR-normalized sigmoid.  A solve that
is not certified raises a ``ConvergenceWarning`` and leaves the estimator unfitted.  With
``warm_start=True`` a refit on the same data re-solves the compiled problem with the radius
``cp.Parameter`` changed (no rebuild).  X may be scipy sparse.
"""
from __future__ import annotations

import copy
import hashlib
from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from robust_erm import losses as L
from robust_erm import sets as S
from robust_erm.problem import RobustERM
from robust_erm.regularizers import Ridge

__all__ = ["RobustRegressor", "RobustClassifier"]

_REG = {"squared": L.Squared, "absolute": L.Absolute, "huber": L.Huber, "pinball": L.Pinball}
_CLS = {"hinge": L.Hinge, "logistic": L.Logistic, "exponential": L.Exponential}


def _loss(loss, table):
    return loss if isinstance(loss, L.Loss) else table[loss]()


def _set(est):
    if est.uncertainty is None:
        return S.Ball(p=est.p, radius=float(est.radius))
    U = est.uncertainty
    if U.radius is None:
        return U
    return U.with_radius(float(est.radius)) if float(est.radius) != U.radius else copy.copy(U)


def _key(*arrays):
    h = hashlib.sha1()
    for a in arrays:
        if hasattr(a, "toarray"):
            a = a.toarray()
        a = np.ascontiguousarray(a)
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


_COMMON = {
    "radius": [Interval(Real, 0, None, closed="left")],
    "p": [Interval(Real, 1, np.inf, closed="both"), StrOptions({"inf"})],
    "uncertainty": [S.UncertaintySet, None],
    "alpha": [Interval(Real, 0, None, closed="left")],
    "fit_intercept": ["boolean"],
    "solver": [str],
    "solver_options": [dict, None],
    "warm_start": ["boolean"],
    "backend": [StrOptions({"cvxpy", "jax", "auto"})],
}


def _classification_data(est, X, y, sample_weight):
    """Validated (X, y, classes, weights) of a classifier fit; weights include class_weight."""
    X, y = validate_data(est, X, y, dtype=np.float64, accept_sparse="csr")
    check_classification_targets(y)
    classes = np.unique(y)
    if classes.size < 2:
        raise ValueError(f"y contains only one class ({classes[0]!r}); "
                         f"{type(est).__name__} needs 2 classes")
    w = _check_sample_weight(sample_weight, X, dtype=np.float64)
    if est.class_weight is not None:
        w = w * compute_sample_weight(est.class_weight, y)
    return X, y, classes, w


class _Base(BaseEstimator):
    def __sklearn_is_fitted__(self):
        return hasattr(self, "coef_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _p(self):
        return np.inf if self.p == "inf" else float(self.p)

    def _solve_one(self, X, y, w, loss, mode, tag):
        """Fit one (binary or regression) problem; reuse the compiled problem if warm."""
        est = copy.copy(self)
        est.p = self._p()
        U = _set(est)
        cache = getattr(self, "_cache", {}) if self.warm_start else {}
        key = (tag, _key(X, y, w), repr(loss), repr(U.__class__), id(self.uncertainty),
               est.p, float(self.alpha), bool(self.fit_intercept), self.backend)
        built = cache.get(key)
        reg = Ridge(self.alpha) if self.alpha > 0 else None
        spec = RobustERM(loss=loss, uncertainty=U, mode=mode, fit_intercept=self.fit_intercept,
                         regularizer=reg)
        if spec._backend(self.backend, X) == "jax":
            from robust_erm.firstorder import solve_jax
            warm = {} if built is None else {"theta0": built.theta, "intercept0": built.intercept}
            res = solve_jax(spec, X, y, w, on_failure="warn", **warm,
                            **(self.solver_options or {}))
            built = res if res.ok else None           # a jax fit caches its solution
        else:
            if built is None or not hasattr(built, "radius") or built.radius is None:
                built = spec.build(X, y, sample_weight=w)
            else:
                built.radius.value = float(self.radius)
            res = built.solve(solver=self.solver, on_failure="warn",
                              **(self.solver_options or {}))
        if self.warm_start:
            cache[key] = built
            self._cache = cache
        return res

    def _store(self, results, flat):
        for a in ("coef_", "intercept_"):
            if hasattr(self, a):
                delattr(self, a)
        self.ok_ = all(r.ok for r in results)
        self.certificate_ = [r.certificate for r in results] if not flat else results[0].certificate
        self.solver_, self.solver_version_ = results[0].solver, results[0].solver_version
        if not self.ok_:
            return self
        if flat:
            self.coef_, self.intercept_ = results[0].theta, float(results[0].intercept)
        else:
            self.coef_ = np.vstack([r.theta for r in results])
            self.intercept_ = np.array([r.intercept for r in results])
        self.status_ = [r.status for r in results] if not flat else results[0].status
        return self


class RobustRegressor(RegressorMixin, _Base):
    """Robust linear regression: min mean_i sup_{x in x_i + U} loss(theta^T x + b - y_i) + alpha ||theta||^2.

    Parameters (keyword-only)
    ----------
    loss : {"squared", "absolute", "huber", "pinball"} or robust_erm.losses.Loss
    radius : float >= 0, radius of the perturbation set.
    p : float >= 1 or "inf", norm of the ball (uncertainty=None).
    uncertainty : UncertaintySet or None (its radius is replaced by ``radius``).
    alpha : float >= 0, ridge weight.  fit_intercept : bool.
    solver : cvxpy solver name; solver_options : dict passed to the solver (backend="jax":
        tol, max_stages, dtype).
    warm_start : bool, reuse the compiled problem (cvxpy) or start from the previous solution
        (jax) when refitting on the same data.
    backend : "cvxpy" (default), "jax" or "auto" (see ``RobustERM.fit``).
    """

    _parameter_constraints = {"loss": [StrOptions(set(_REG)), L.Loss], **_COMMON}

    def __init__(self, *, loss="squared", radius=0.1, p=2.0, uncertainty=None, alpha=0.0,
                 fit_intercept=True, solver="CLARABEL", solver_options=None, warm_start=False,
                 backend="cvxpy"):
        self.loss, self.radius, self.p, self.uncertainty = loss, radius, p, uncertainty
        self.alpha, self.fit_intercept, self.solver = alpha, fit_intercept, solver
        self.solver_options, self.warm_start, self.backend = solver_options, warm_start, backend

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True, accept_sparse="csr")
        w = _check_sample_weight(sample_weight, X, dtype=np.float64)
        res = self._solve_one(X, y.astype(np.float64), w, _loss(self.loss, _REG), "regression",
                              "reg")
        return self._store([res], flat=True)

    def predict(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False, accept_sparse="csr")
        return np.asarray(X @ self.coef_).reshape(-1) + self.intercept_


class RobustClassifier(ClassifierMixin, _Base):
    """Robust linear classifier: min mean_i sup_{x in x_i + U} loss(y_i (theta^T x + b)) + alpha ||theta||^2.

    Parameters as :class:`RobustRegressor`; ``loss`` in {"hinge", "logistic", "exponential"};
    ``class_weight`` None, "balanced" or a dict class -> weight (multiplies sample_weight).
    More than two classes: one-vs-rest, one robust binary problem per class.
    """

    _parameter_constraints = {"loss": [StrOptions(set(_CLS)), L.Loss],
                              "class_weight": [StrOptions({"balanced"}), dict, None], **_COMMON}

    def __init__(self, *, loss="logistic", radius=0.1, p=2.0, uncertainty=None, alpha=1e-4,
                 fit_intercept=True, class_weight=None, solver="CLARABEL", solver_options=None,
                 warm_start=False, backend="cvxpy"):
        self.loss, self.radius, self.p, self.uncertainty = loss, radius, p, uncertainty
        self.alpha, self.fit_intercept, self.solver = alpha, fit_intercept, solver
        self.class_weight, self.solver_options, self.warm_start = class_weight, solver_options, warm_start
        self.backend = backend

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        X, y, classes, w = _classification_data(self, X, y, sample_weight)
        self.classes_ = classes
        loss = _loss(self.loss, _CLS)
        if classes.size == 2:
            yy = np.where(y == classes[1], 1.0, -1.0)
            return self._store([self._solve_one(X, yy, w, loss, "classification", "bin")], True)
        results = []
        for k, c in enumerate(classes):
            yy = np.where(y == c, 1.0, -1.0)
            results.append(self._solve_one(X, yy, w, loss, "classification", f"ovr{k}"))
            if not results[-1].ok:
                break
        return self._store(results, flat=False)

    def decision_function(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False, accept_sparse="csr")
        d = np.asarray(X @ self.coef_.T) + self.intercept_
        return d.reshape(-1) if self.coef_.ndim == 1 else d

    def predict(self, X):
        d = self.decision_function(X)
        if d.ndim == 1:
            return self.classes_[(d > 0).astype(int)]
        return self.classes_[np.argmax(d, axis=1)]

    def _is_logistic(self):
        return isinstance(_loss(self.loss, _CLS), L.Logistic)

    @available_if(_is_logistic)
    def predict_proba(self, X):
        """Logistic loss only: sigmoid of the decision function (OvR-normalized if > 2 classes)."""
        d = self.decision_function(X)
        p = 1.0 / (1.0 + np.exp(-d))
        if d.ndim == 1:
            return np.c_[1 - p, p]
        return p / p.sum(axis=1, keepdims=True)

    @available_if(_is_logistic)
    def predict_log_proba(self, X):
        return np.log(self.predict_proba(X))


from robust_erm.sklearn_cv import RobustClassifierCV, RobustRegressorCV  # noqa: E402  (subclasses)

__all__ += ["RobustRegressorCV", "RobustClassifierCV"]
