"""sklearn's own estimator checks, GridSearchCV over the radius, and agreement with RobustERM."""
import numpy as np
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import parametrize_with_checks

import robust_erm as rerm
from robust_erm.sklearn import RobustClassifier, RobustRegressor


# interior-point accuracy is coarser than this check's rtol=1e-7: measured with CLARABEL defaults,
# regressor predictions 5.14e-09 (weighted) vs 6.16e-09 (repeated rows), 7 of 15 entries off;
# tightening CLARABEL's tolerances to 1e-12 makes it stop at 'optimal_inaccurate' instead.
_REASON = "solver accuracy: predictions ~1e-9 apart on values ~1e-8 > rtol 1e-7"
_XFAIL = {"check_sample_weight_equivalence_on_dense_data": _REASON,
          "check_sample_weight_equivalence_on_sparse_data": _REASON}


@parametrize_with_checks([RobustRegressor(), RobustClassifier()],
                         expected_failed_checks=lambda est: _XFAIL)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_gridsearch_radius_and_equivalence():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = X @ [1.0, -2.0, 0.5] + 0.3 * rng.normal(size=60)
    gs = GridSearchCV(RobustRegressor(p=2), {"radius": [0.0, 0.05, 0.5]}, cv=3).fit(X, y)
    assert gs.best_params_["radius"] in (0.0, 0.05, 0.5)
    est = RobustRegressor(radius=0.2, p=np.inf, loss="absolute").fit(X, y)
    ref = rerm.RobustERM(loss=rerm.losses.Absolute(),
                         uncertainty=rerm.sets.Ball(p=np.inf, radius=0.2)).fit(X, y)
    np.testing.assert_allclose(est.coef_, ref.theta, atol=1e-6)
    yc = np.where(y > 0, "a", "b")
    clf = RobustClassifier(loss="hinge", radius=0.1).fit(X, yc)
    assert set(clf.predict(X)) <= {"a", "b"} and clf.score(X, yc) > 0.8
    # multiclass is one-vs-rest (issue #16): K binary robust problems, coef_ of shape (K, d)
    y3 = np.digitize(X[:, 0], [-0.5, 0.5])
    clf3 = RobustClassifier(loss="hinge", radius=0.05).fit(X, y3)
    assert clf3.coef_.shape == (3, 3) and clf3.score(X, y3) > 0.8
