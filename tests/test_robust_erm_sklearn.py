"""sklearn's own estimator checks, GridSearchCV over the radius, and agreement with RobustERM."""
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import parametrize_with_checks

import robust_erm as rerm
from robust_erm.sklearn import RobustClassifier, RobustRegressor


# interior-point accuracy (~1e-6) is coarser than this check's rtol=1e-7
_XFAIL = {"check_sample_weight_equivalence_on_dense_data": "solver accuracy ~1e-6 > rtol 1e-7"}


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
    with pytest.raises(ValueError, match="binary"):
        RobustClassifier().fit(X, np.arange(60) % 3)
