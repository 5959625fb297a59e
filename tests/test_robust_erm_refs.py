"""robust_erm: classification set x loss closed forms, per-sample/General sets vs brute force,
eps-path vs nominal ERM, hypothesis invariants, and the rerm_airbnb figure end to end (quick).

References are independent of the library's dualization: numpy closed forms of the worst-case
losses (arXiv:2306.05649; note section 5.2), a primal inner maximization over each set at fixed
theta, and nominal ERM written by hand.  Tolerance 1e-5: CLARABEL's ~1e-8 accuracy with margin.
"""
import numpy as np
import cvxpy as cp
import pytest
from hypothesis import given, settings, strategies as st

import robust_erm as rerm
from robust_erm import losses as L, sets as S

TOL = 1e-5


def _reg_data(rng, n=12, d=3):
    X = rng.normal(size=(n, d))
    return X, X @ rng.normal(size=d) + 0.3 * rng.normal(size=n)


def _cls_data(rng, n=14, d=3):
    X = rng.normal(size=(n, d))
    return X, np.where(X[:, 0] + 0.5 * rng.normal(size=n) > 0, 1.0, -1.0)


def _at_theta(prob, X, y, theta, b):
    """Robust objective and per-sample losses at fixed (theta, b)."""
    built = prob.build(X, y)
    cons = [built.theta == theta] + ([built.intercept == b] if built.intercept is not None else [])
    p = cp.Problem(built.problem.objective, built.problem.constraints + cons)
    p.solve(solver="CLARABEL")
    return p.value, np.asarray(built.per_sample_loss.value)


CLS_LOSSES = {"hinge": (L.Hinge(), lambda m: np.maximum(0, 1 - m)),
              "logistic": (L.Logistic(), lambda m: np.log1p(np.exp(-m))),
              "exp": (L.Exponential(), lambda m: np.exp(-m))}


@pytest.mark.parametrize("set_name", ["l1", "l2", "linf", "box", "ellipsoid", "budget"])
@pytest.mark.parametrize("name", list(CLS_LOSSES))
def test_classification_set_loss_closed_form(set_name, name):
    rng = np.random.default_rng(1)
    X, y = _cls_data(rng)
    th, b = np.array([0.9, -0.4, 0.25]), -0.1
    P = np.array([[1.0, 0.2, 0.0], [0.0, 0.5, 0.1], [0.3, 0.0, 0.8]])
    w = np.array([0.5, 1.0, 2.0])
    sets = {"l1": (S.Ball(p=1, radius=0.2), 0.2 * np.abs(th).max()),
            "l2": (S.Ball(p=2, radius=0.2), 0.2 * np.linalg.norm(th)),
            "linf": (S.Ball(p=np.inf, radius=0.2), 0.2 * np.abs(th).sum()),
            "box": (S.Box(widths=w, radius=0.2), 0.2 * w @ np.abs(th)),
            "ellipsoid": (S.Ellipsoid(P=P, radius=0.2), 0.2 * np.linalg.norm(P.T @ th)),
            # Bertsimas-Sim, Gamma = 1.5: largest |theta_j| + 0.5 * the next largest
            "budget": (S.Budget(gamma=1.5, radius=0.2), 0.2 * (0.9 + 0.5 * 0.4))}
    U, delta = sets[set_name]
    loss, f = CLS_LOSSES[name]
    _, per = _at_theta(rerm.RobustERM(loss=loss, uncertainty=U, mode="classification"), X, y, th, b)
    np.testing.assert_allclose(per, f(y * (X @ th + b) - delta), rtol=TOL, atol=TOL)


def _brute_force(sets, loss, X, y, th, b, *, classification):
    """Primal inner max at fixed theta: max and min of theta^T x over each set's constraints."""
    out = []
    for i, U in enumerate(sets):
        x = cp.Variable(X.shape[1])
        vals = []
        for s in (1.0, -1.0):
            cp.Problem(cp.Maximize(s * (th @ x)), U.constraints(x)).solve(solver="CLARABEL")
            z = th @ x.value + b
            vals.append(loss.value(y[i] * z) if classification else loss.value(z - y[i]))
        out.append(max(vals))
    return np.array(out)


def _mixed_sets(X, rng):
    n, d = X.shape
    out = []
    for i in range(n):
        k = i % 4
        if k == 0:
            out.append(S.Ball(p=np.inf, radius=0.2, center=X[i]))
        elif k == 1:
            out.append(S.Polyhedron(A=np.vstack([np.eye(d), -np.eye(d), np.ones((1, d))]),
                                    b=np.concatenate([X[i] + 0.3, -X[i] + 0.1, [X[i].sum() + 0.2]])))
        elif k == 2:
            out.append(S.ConvexHull(X[i] + 0.3 * rng.normal(size=(4, d))))
        else:
            out.append(S.Intersection(S.Ball(p=2, radius=0.4, center=X[i]),
                                      S.Box(widths=np.full(d, 0.25), center=X[i] + 0.1)))
    return out


@pytest.mark.parametrize("mode", ["regression", "classification"])
def test_mixed_per_sample_sets_vs_brute_force(mode):
    rng = np.random.default_rng(3)
    X, y = (_reg_data if mode == "regression" else _cls_data)(rng, n=8)
    sets = _mixed_sets(X, rng)
    loss = L.Absolute() if mode == "regression" else L.Hinge()
    th, b = np.array([0.6, -0.8, 0.3]), 0.15
    _, per = _at_theta(rerm.RobustERM(loss=loss, uncertainty=sets, mode=mode), X, y, th, b)
    ref = _brute_force(sets, loss, X, y, th, b, classification=mode == "classification")
    np.testing.assert_allclose(per, ref, rtol=TOL, atol=TOL)


def test_general_dcp_sets_per_sample_vs_brute_force():
    """Several General (SuppFunc) sets on the same theta: guards the cvxpy 1.9 collision."""
    rng = np.random.default_rng(4)
    X, y = _reg_data(rng, n=5, d=2)
    sets = []
    for i in range(5):
        x = cp.Variable(2)
        sets.append(S.General(x, [cp.norm(x - X[i], 2) <= 0.3, x[0] >= X[i, 0] - 0.1]))
    th = np.array([1.2, -0.5])
    _, per = _at_theta(rerm.RobustERM(loss=L.Squared(), uncertainty=sets), X, y, th, 0.0)
    ref = _brute_force(sets, L.Squared(), X, y, th, 0.0, classification=False)
    np.testing.assert_allclose(per, ref, rtol=TOL, atol=TOL)


def test_eps_path_starts_at_nominal_logistic_and_is_monotone():
    rng = np.random.default_rng(6)
    X, y = _cls_data(rng, n=30, d=2)
    prob = rerm.RobustERM(loss=L.Logistic(), uncertainty=S.Ball(p=2, radius=0.0),
                          regularizer=lambda t: 0.05 * cp.sum_squares(t))
    th, b = cp.Variable(2), cp.Variable()
    nom = cp.Problem(cp.Minimize(cp.sum(cp.logistic(-cp.multiply(y, X @ th + b))) / 30
                                 + 0.05 * cp.sum_squares(th)))
    nom.solve(solver="CLARABEL")
    built = prob.build(X, y)
    vals = []
    for eps in (0.0, 0.05, 0.1, 0.2, 0.4):
        built.radius.value = eps
        vals.append(built.solve(solver="CLARABEL").objective)
    np.testing.assert_allclose(vals[0], nom.value, rtol=1e-6)
    assert np.all(np.diff(vals) > 1e-6)      # strictly increasing: theta != 0 at the optimum


@settings(deadline=None, derandomize=True, max_examples=8)
@given(eps=st.floats(0.0, 1.0), scale=st.floats(0.1, 3.0))
def test_property_robust_minus_nominal_is_dual_norm_penalty(eps, scale):
    rng = np.random.default_rng(11)
    X, y = _reg_data(rng, n=8)
    th = np.array([0.3, -0.2, 0.5]) * scale
    val, _ = _at_theta(rerm.RobustERM(loss=L.Absolute(), uncertainty=S.Ball(p=2, radius=eps)),
                       X, y, th, 0.0)
    np.testing.assert_allclose(val - np.mean(np.abs(X @ th - y)), eps * np.linalg.norm(th), atol=1e-6)


def test_rerm_airbnb_quick_end_to_end(tmp_path):
    from figures.core.runner import run_figure
    from figures.rerm_airbnb import FIGURE
    run_figure(FIGURE, out=tmp_path, quick=True, progress=False)
    files = list(tmp_path.rglob("*"))
    assert any(f.suffix == ".png" for f in files) and any(f.suffix == ".json" for f in files)
    import json
    side = [json.loads(f.read_text()) for f in files if f.suffix == ".json"]
    text = json.dumps(side)
    for c in FIGURE.claims:
        assert c.id in text
    assert any(v in text for v in ("PASS", "FAIL", "INCONCLUSIVE"))
