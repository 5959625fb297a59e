"""Fixed-theta evaluation (issue #16 items 3, 4, 7): closed-form support values and worst-case
points equal the primal conic maximization (an independent solve over each set's constraints);
RobustERM.robust_loss equals the fit's own dual at pinned theta; robust >= nominal with equality
at radius 0 (hypothesis); reduction='sum' and CVaR against numpy / cvxpy sum_largest."""
import time

import numpy as np
import cvxpy as cp
import pytest
from hypothesis import given, settings, strategies as st

import robust_erm as rerm
from robust_erm import losses as L, sets as S
from robust_erm.sets import primal_max

RNG = np.random.default_rng(7)
D = 3
HULL = RNG.normal(size=(5, D))
P = np.array([[0.5, 0.1, 0.0], [0.0, 0.3, 0.2], [0.1, 0.0, 0.4]])
CLOSED = {
    "l1": S.Ball(p=1, radius=0.3), "l2": S.Ball(p=2, radius=0.3, center=[0.1, 0.0, -0.2]),
    "linf": S.Ball(p=np.inf, radius=0.3), "l3": S.Ball(p=3, radius=0.3),
    "box": S.Box(widths=[0.1, 0.5, 0.2], radius=2.0, center=[1.0, 0.0, 0.0]),
    "ellipsoid": S.Ellipsoid(P=P, radius=1.5), "equad": S.EllipsoidQuad(sigma=P @ P.T + 0.1 * np.eye(3)),
    "budget": S.Budget(gamma=1.5, radius=0.4), "budget_big": S.Budget(gamma=5.0, radius=0.4),
    "hull": S.ConvexHull(HULL),
    "missing": S.MissingFeatures([np.nan, 2.0, np.nan], S.Box(widths=[0.2, 0.3], center=[1.0, -1.0])),
    "sum": S.MinkowskiSum(S.Ball(p=2, radius=0.2), S.ConvexHull(HULL)),
    "affine": S.AffineImage(S.Ball(p=np.inf, radius=1.0), M=RNG.normal(size=(3, 2)), offset=[0.1, 0, 0]),
    "product": S.Product(S.Ball(p=2, radius=0.2, center=[0.0, 1.0]), S.Box(widths=[0.3])),
    "label": S.LabelNoise(eta=0.1, features=S.Ball(p=2, radius=0.2)),
}


@pytest.mark.parametrize("name", sorted(CLOSED))
def test_closed_form_support_and_argmax_equal_conic(name):
    U = CLOSED[name]
    assert U.closed_form
    V = RNG.normal(size=(6, D))
    V[0] = 0.0                                   # zero direction: any feasible point
    val = U.support_value(V)
    pts = U.argmax(V)
    ref, _ = primal_max([U] * 6, V)             # CLARABEL on the primal description
    np.testing.assert_allclose(val, ref, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.einsum("kd,kd->k", V, pts), ref, rtol=1e-6, atol=1e-7)
    for x in pts:            # feasible: distance to the set (a CLARABEL projection) is ~0
        xv = cp.Variable(D)
        pr = cp.Problem(cp.Minimize(cp.norm(xv - x, 2)), U.constraints(xv))
        pr.solve(solver="CLARABEL")
        assert pr.status == cp.OPTIMAL and pr.value < 1e-6


def test_worst_case_points_closed_form_fast_and_equal_conic():
    """n = 200: the old per-sample conic loop took 11.6 s (issue #16); closed form must be
    well under a second and give the same losses as the batched conic evaluation."""
    rng = np.random.default_rng(0)
    n = 200
    X = rng.normal(size=(n, 5))
    y = X @ rng.normal(size=5) + 0.1 * rng.normal(size=n)
    res = rerm.RobustERM(loss=L.Huber(0.5), uncertainty=S.Ball(p=2, radius=0.2)).fit(X, y)
    t = time.perf_counter()
    wc = res.worst_case_points(X, y)
    dt = time.perf_counter() - t
    assert dt < 1.0
    conic = rerm.RobustERM(loss=L.Huber(0.5),
                           uncertainty=[S.Ball(p=2, radius=0.2, center=x) for x in X]).robust_loss(
        res.theta, X, y, res.intercept)
    np.testing.assert_allclose(wc.loss, conic.per_sample, rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(wc.points - X, axis=1), 0.2, rtol=1e-12)


def _pinned(prob, X, y, theta, b):
    built = prob.build(X, y)
    extra = [built.theta == theta] + ([built.intercept == b] if built.intercept is not None else [])
    cp.Problem(built.problem.objective, built.problem.constraints + extra).solve(solver="CLARABEL")
    return np.asarray(built.per_sample_loss.value)


@pytest.mark.parametrize("mode", ["regression", "classification"])
@pytest.mark.parametrize("per_sample", [False, True])
def test_robust_loss_equals_pinned_dual(mode, per_sample):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(9, 3))
    th, b = np.array([0.4, -0.9, 0.3]), 0.2
    if mode == "regression":
        y, loss = X @ th + rng.normal(size=9), L.Pinball(0.3)
    else:
        y, loss = np.where(rng.normal(size=9) > 0, 1.0, -1.0), L.Logistic()
    if per_sample:
        U = [S.Intersection(S.Ball(p=2, radius=0.4, center=x), S.Box(widths=[0.3] * 3, center=x + 0.1))
             if i % 2 else S.ConvexHull(x + 0.2 * rng.normal(size=(4, 3))) for i, x in enumerate(X)]
    else:
        U = S.ConvexHull(0.2 * rng.normal(size=(4, 3)))
    prob = rerm.RobustERM(loss=loss, uncertainty=U, mode=mode)
    rl = prob.robust_loss(th, X, y, intercept=b)
    np.testing.assert_allclose(rl.per_sample, _pinned(prob, X, y, th, b), rtol=1e-6, atol=1e-7)
    assert rl.mean == pytest.approx(rl.per_sample.mean(), rel=1e-12)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(eps=st.floats(0.0, 1.0), scale=st.floats(0.1, 3.0),
       sname=st.sampled_from(["l1", "l2", "linf", "box", "ellipsoid", "budget", "hull", "sum"]),
       lname=st.sampled_from(["sq", "abs", "huber", "pinball", "hinge", "logistic"]))
def test_property_robust_loss_at_least_nominal_equal_at_zero(eps, scale, sname, lname):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(7, 3))
    th = np.array([0.3, -0.5, 0.8]) * scale
    losses = {"sq": L.Squared(), "abs": L.Absolute(), "huber": L.Huber(0.5), "pinball": L.Pinball(0.2),
              "hinge": L.Hinge(), "logistic": L.Logistic()}
    loss = losses[lname]
    y = np.where(X[:, 0] > 0, 1.0, -1.0) if loss.mode == "classification" else X @ th + rng.normal(size=7)
    score = y * (X @ th + 0.1) if loss.mode == "classification" else X @ th + 0.1 - y
    nominal = loss.value_np(score)
    U = CLOSED[sname]
    if sname in ("hull", "sum"):                 # contains 0 only after centring; use radius 0 = {0}
        U = S.MinkowskiSum(S.Ball(p=2, radius=eps), S.ConvexHull(np.zeros((1, 3))))
    else:
        U = U.with_radius(eps) if U.radius is not None else U
    if getattr(U, "center", None) is not None:
        U = S.Ball(p=2, radius=eps)
    prob = rerm.RobustERM(loss=loss, uncertainty=U)
    rl = prob.robust_loss(th, X, y, intercept=0.1)
    assert np.all(rl.per_sample >= nominal - 1e-12)
    at0 = prob.robust_loss(th, X, y, intercept=0.1, radius=0.0) if U.radius is not None else \
        rerm.RobustERM(loss=loss, uncertainty=S.Ball(p=2, radius=0.0)).robust_loss(th, X, y, 0.1)
    np.testing.assert_allclose(at0.per_sample, nominal, rtol=1e-12, atol=1e-14)


def test_reduction_sum_and_cvar():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(20, 3))
    y = X @ [1.0, -1.0, 0.5] + 0.5 * rng.normal(size=20)
    U = S.Ball(p=2, radius=0.1)
    m = rerm.RobustERM(loss=L.Absolute(), uncertainty=U).fit(X, y)
    s = rerm.RobustERM(loss=L.Absolute(), uncertainty=U, reduction="sum").fit(X, y)
    assert s.objective == pytest.approx(20 * m.objective, rel=1e-7)
    np.testing.assert_allclose(s.theta, m.theta, atol=1e-5)
    # CVaR_{0.25} with n = 20: the mean of the 5 largest robust losses; reference written directly
    # with cvxpy's sum_largest (the DSP paper's weight-uncertainty form)
    c = rerm.RobustERM(loss=L.Absolute(), uncertainty=U, reduction=rerm.CVaR(0.25)).fit(X, y)
    th, b = cp.Variable(3), cp.Variable()
    ref = cp.Problem(cp.Minimize(cp.sum_largest(cp.abs(X @ th + b - y) + 0.1 * cp.norm(th, 2), 5) / 5))
    ref.solve(solver="CLARABEL")
    assert c.objective == pytest.approx(ref.value, rel=1e-6)
    rl = rerm.RobustERM(loss=L.Absolute(), uncertainty=U, reduction=rerm.CVaR(0.25)).robust_loss(
        c.theta, X, y, c.intercept)
    assert rl.value == pytest.approx(np.sort(rl.per_sample)[-5:].mean(), rel=1e-12)
    assert rl.value == pytest.approx(ref.value, rel=1e-6)
    with pytest.raises(ValueError, match="reduction"):
        rerm.RobustERM(loss=L.Absolute(), uncertainty=U, reduction="max")
    with pytest.raises(ValueError, match="alpha"):
        rerm.CVaR(0.0)
