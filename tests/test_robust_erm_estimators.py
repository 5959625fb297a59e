"""Issue #16 item 5: the estimator surface.  CV estimators against GridSearchCV on the same folds
(an independent path through sklearn), warm start against cold fits, class_weight against the
equivalent sample_weight, sparse X against dense, parameter validation, and sklearn's checks."""
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from robust_erm.sklearn import (RobustClassifier, RobustClassifierCV, RobustRegressor,
                                RobustRegressorCV)

RNG = np.random.default_rng(0)
X = RNG.normal(size=(60, 3))
Y = X @ [1.0, -2.0, 0.5] + RNG.normal(size=60)
Y3 = np.digitize(X[:, 0] + 0.5 * RNG.normal(size=60), [-0.5, 0.5])
RADII = [0.0, 0.1, 0.5, 1.0]

# as in test_robust_erm_sklearn.py: interior-point accuracy (~1e-9) is coarser than rtol 1e-7
_XFAIL = {"check_sample_weight_equivalence_on_dense_data": "solver accuracy ~1e-9",
          "check_sample_weight_equivalence_on_sparse_data": "solver accuracy ~1e-9"}


@pytest.mark.slow          # ~35 s: every sklearn check refits 2 folds x 2 radii + the final fit
@parametrize_with_checks([RobustRegressorCV(radii=(0.05, 0.1), cv=2),
                          RobustClassifierCV(radii=(0.05, 0.1), cv=2)],
                         expected_failed_checks=lambda est: _XFAIL)
def test_cv_estimators_sklearn_compatible(estimator, check):
    check(estimator)


def test_regressor_cv_equals_gridsearch():
    cv = RobustRegressorCV(radii=RADII, cv=KFold(3), loss="absolute").fit(X, Y)
    gs = GridSearchCV(RobustRegressor(loss="absolute"), {"radius": RADII}, cv=KFold(3)).fit(X, Y)
    np.testing.assert_allclose(cv.cv_scores_.mean(axis=1), gs.cv_results_["mean_test_score"],
                               rtol=1e-6)
    assert cv.radius_ == gs.best_params_["radius"]
    np.testing.assert_allclose(cv.coef_, gs.best_estimator_.coef_, atol=1e-6)


def test_classifier_cv_multiclass_equals_gridsearch():
    cv = RobustClassifierCV(radii=RADII, cv=StratifiedKFold(3), loss="hinge").fit(X, Y3)
    gs = GridSearchCV(RobustClassifier(loss="hinge"), {"radius": RADII},
                      cv=StratifiedKFold(3)).fit(X, Y3)
    np.testing.assert_allclose(cv.cv_scores_.mean(axis=1), gs.cv_results_["mean_test_score"],
                               atol=1e-12)
    assert cv.radius_ == gs.best_params_["radius"] and cv.coef_.shape == (3, 3)
    np.testing.assert_array_equal(cv.predict(X), gs.best_estimator_.predict(X))


def test_warm_start_reuses_build_and_equals_cold():
    est = RobustRegressor(loss="huber", radius=0.05, warm_start=True)
    est.fit(X, Y)
    built = next(iter(est._cache.values()))
    for r in (0.3, 0.05, 1.0):
        est.set_params(radius=r).fit(X, Y)
        assert next(iter(est._cache.values())) is built            # no rebuild
        cold = RobustRegressor(loss="huber", radius=r).fit(X, Y)
        np.testing.assert_allclose(est.coef_, cold.coef_, atol=1e-6)


def test_class_weight_equals_sample_weight_and_proba():
    yb = np.where(Y > 0, "a", "b")
    cw = RobustClassifier(loss="logistic", radius=0.1, class_weight={"a": 3.0, "b": 1.0}).fit(X, yb)
    sw = RobustClassifier(loss="logistic", radius=0.1).fit(X, yb, sample_weight=np.where(
        yb == "a", 3.0, 1.0))
    np.testing.assert_allclose(cw.coef_, sw.coef_, atol=1e-6)
    d = cw.decision_function(X)
    np.testing.assert_allclose(cw.predict_proba(X)[:, 1], 1 / (1 + np.exp(-d)), rtol=1e-12)
    assert not hasattr(RobustClassifier(loss="hinge").fit(X, yb), "predict_proba")


@pytest.mark.parametrize("p", [1.0, 2.0, "inf"])
def test_sparse_X_equals_dense(p):
    Xs = X.copy()
    Xs[np.abs(Xs) < 0.7] = 0.0
    d = RobustRegressor(loss="absolute", radius=0.2, p=p).fit(Xs, Y)
    s = RobustRegressor(loss="absolute", radius=0.2, p=p).fit(sp.csr_matrix(Xs), Y)
    # LAD optima are flat: compare certified objectives tightly, theta loosely (measured 4e-6)
    assert s.certificate_.robust_objective == pytest.approx(d.certificate_.robust_objective,
                                                            rel=1e-7)
    np.testing.assert_allclose(s.coef_, d.coef_, atol=1e-4)


@pytest.mark.parametrize("kw", [{"alpha": -1.0}, {"radius": "big"}, {"p": 0.5}, {"loss": "nope"},
                                {"fit_intercept": 3}, {"solver_options": [1]}])
def test_parameter_constraints_name_the_argument(kw):
    name = next(iter(kw))
    with pytest.raises(InvalidParameterError, match=name):
        RobustRegressor(**kw).fit(X, Y)


def test_cv_bad_radii():
    with pytest.raises(ValueError, match="radii"):
        RobustRegressorCV(radii=[-1.0, 0.1]).fit(X, Y)
