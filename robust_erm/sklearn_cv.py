"""Cross-validated radius: RobustRegressorCV / RobustClassifierCV (Luxenberg et al., arXiv:2306.05649).

The radius of the perturbation set is chosen on a path ``radii`` by K-fold cross-validation.  Per
fold one cvxpy problem is built (the radius is its ``cp.Parameter``, DPP) and re-solved along the
path with warm starts, so a path of R radii costs one canonicalization per fold, not R.  The
estimator is then refitted on all data at the best radius (``radius_``).  Scores: the estimator's
``score`` (R^2 / accuracy) or any sklearn ``scoring``; ties go to the larger radius (the more
robust model).  Choices not in the paper: the default path, the tie rule, the fold splitter
(sklearn ``check_cv``: stratified for classifiers).
"""
from __future__ import annotations

import numpy as np
from sklearn.base import _fit_context
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import _check_sample_weight, validate_data
from numbers import Integral

from robust_erm.problem import RobustERM
from robust_erm.regularizers import Ridge
from robust_erm.sklearn import (_CLS, _REG, RobustClassifier, RobustRegressor, _classification_data,
                                _loss, _set)

__all__ = ["RobustRegressorCV", "RobustClassifierCV"]

_DEFAULT_RADII = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0)
_CV_PARAMS = {"radii": ["array-like"], "cv": [Interval(Integral, 2, None, closed="left"),
                                              "cv_object"],
              "scoring": [callable, str, None]}


def _radii(radii):
    r = np.asarray(radii, dtype=np.float64).reshape(-1)
    if r.size == 0 or not np.all(np.isfinite(r)) or np.any(r < 0):
        raise ValueError(f"radii must be a nonempty list of finite radii >= 0, got {radii!r}")
    return np.sort(r)


class _CVMixin:
    def _path_scores(self, X, y, w, problems, proxy_of, scorer, cv, groups_y):
        """scores[k, f] for radius k, fold f: one build per fold (and per OvR class)."""
        radii = _radii(self.radii)
        folds = list(cv.split(X, groups_y))
        scores = np.full((radii.size, len(folds)), -np.inf)
        for f, (tr, te) in enumerate(folds):
            builts = [RobustERM(**spec).build(X[tr], yy[tr], sample_weight=w[tr])
                      for spec, yy in problems]
            if any(b.radius is None for b in builts):
                raise ValueError("the uncertainty set has no radius to cross-validate")
            for k, r in enumerate(radii):
                res = []
                for b in builts:
                    b.radius.value = float(r)
                    res.append(b.solve(solver=self.solver, on_failure="warn",
                                       **(self.solver_options or {})))
                if all(rr.ok for rr in res):
                    scores[k, f] = scorer(proxy_of(res), X[te], y[te])
        mean = scores.mean(axis=1)
        if not np.any(np.isfinite(mean)):
            raise ValueError("no radius of the path gave a certified fit on every fold")
        best = np.flatnonzero(mean == np.max(mean))[-1]          # ties: the larger radius
        return radii, scores, float(radii[best])


def _reg(alpha):
    return Ridge(alpha) if alpha > 0 else None


class RobustRegressorCV(_CVMixin, RobustRegressor):
    """:class:`robust_erm.sklearn.RobustRegressor` with the radius chosen by cross-validation.

    Parameters (keyword-only): ``radii`` (the path, default (0, .01, .03, .1, .3, 1)), ``cv`` (int
    or splitter, default 5), ``scoring`` (None: R^2), and the parameters of RobustRegressor except
    ``radius``/``warm_start``.  Fitted: ``radius_``, ``radii_``, ``cv_scores_`` (n_radii, n_folds),
    ``coef_``, ``intercept_``, ``certificate_``.
    """

    _parameter_constraints = {k: v for k, v in RobustRegressor._parameter_constraints.items()
                              if k not in ("radius", "warm_start", "backend")} | _CV_PARAMS

    def __init__(self, *, radii=_DEFAULT_RADII, cv=5, scoring=None, loss="squared", p=2.0,
                 uncertainty=None, alpha=0.0, fit_intercept=True, solver="CLARABEL",
                 solver_options=None):
        self.radii, self.cv, self.scoring = radii, cv, scoring
        self.loss, self.p, self.uncertainty, self.alpha = loss, p, uncertainty, alpha
        self.fit_intercept, self.solver, self.solver_options = fit_intercept, solver, solver_options

    def _base(self, radius):
        return RobustRegressor(loss=self.loss, radius=radius, p=self.p, uncertainty=self.uncertainty,
                               alpha=self.alpha, fit_intercept=self.fit_intercept,
                               solver=self.solver, solver_options=self.solver_options)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True, accept_sparse="csr")
        y = y.astype(np.float64)
        w = _check_sample_weight(sample_weight, X, dtype=np.float64)
        base = self._base(float(_radii(self.radii)[0]))
        base.p = base._p()
        spec = dict(loss=_loss(self.loss, _REG), uncertainty=_set(base), mode="regression",
                    fit_intercept=self.fit_intercept, regularizer=_reg(self.alpha))

        def proxy(res):
            est = self._base(0.0)
            est.coef_, est.intercept_, est.n_features_in_ = res[0].theta, res[0].intercept, X.shape[1]
            return est

        cv = check_cv(self.cv, y, classifier=False)
        scorer = check_scoring(self._base(0.0), scoring=self.scoring)
        self.radii_, self.cv_scores_, self.radius_ = self._path_scores(
            X, y, w, [(spec, y)], proxy, scorer, cv, y)
        final = self._base(self.radius_).fit(X, y, sample_weight=w)
        for a in ("coef_", "intercept_", "ok_", "certificate_", "solver_", "solver_version_",
                  "status_"):
            if hasattr(final, a):
                setattr(self, a, getattr(final, a))
        return self


class RobustClassifierCV(_CVMixin, RobustClassifier):
    """:class:`robust_erm.sklearn.RobustClassifier` with the radius chosen by cross-validation
    (stratified folds; one-vs-rest problems share the folds).  Parameters and fitted attributes
    as :class:`RobustRegressorCV`, plus ``class_weight``; default scoring: accuracy."""

    _parameter_constraints = {k: v for k, v in RobustClassifier._parameter_constraints.items()
                              if k not in ("radius", "warm_start", "backend")} | _CV_PARAMS

    def __init__(self, *, radii=_DEFAULT_RADII, cv=5, scoring=None, loss="logistic", p=2.0,
                 uncertainty=None, alpha=1e-4, fit_intercept=True, class_weight=None,
                 solver="CLARABEL", solver_options=None):
        self.radii, self.cv, self.scoring = radii, cv, scoring
        self.loss, self.p, self.uncertainty, self.alpha = loss, p, uncertainty, alpha
        self.fit_intercept, self.class_weight = fit_intercept, class_weight
        self.solver, self.solver_options = solver, solver_options

    def _base(self, radius):
        return RobustClassifier(loss=self.loss, radius=radius, p=self.p,
                                uncertainty=self.uncertainty, alpha=self.alpha,
                                fit_intercept=self.fit_intercept, class_weight=self.class_weight,
                                solver=self.solver, solver_options=self.solver_options)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        X, y, classes, w = _classification_data(self, X, y, sample_weight)
        base = self._base(float(_radii(self.radii)[0]))
        base.p = base._p()
        spec = dict(loss=_loss(self.loss, _CLS), uncertainty=_set(base), mode="classification",
                    fit_intercept=self.fit_intercept, regularizer=_reg(self.alpha))
        labels = [classes[1]] if classes.size == 2 else list(classes)
        problems = [(spec, np.where(y == c, 1.0, -1.0)) for c in labels]

        def proxy(res):
            est = self._base(0.0)
            est.classes_, est.n_features_in_ = classes, X.shape[1]
            if len(res) == 1:
                est.coef_, est.intercept_ = res[0].theta, float(res[0].intercept)
            else:
                est.coef_ = np.vstack([r.theta for r in res])
                est.intercept_ = np.array([r.intercept for r in res])
            return est

        cv = check_cv(self.cv, y, classifier=True)
        scorer = check_scoring(self._base(0.0), scoring=self.scoring)
        self.radii_, self.cv_scores_, self.radius_ = self._path_scores(
            X, y, w, problems, proxy, scorer, cv, y)
        final = self._base(self.radius_).fit(X, y, sample_weight=sample_weight)
        for a in ("classes_", "coef_", "intercept_", "ok_", "certificate_", "solver_",
                  "solver_version_", "status_"):
            if hasattr(final, a):
                setattr(self, a, getattr(final, a))
        return self

