"""Issue #16 item 6: uncertainty coupled across samples (matrix balls, a budget across samples) and
type-1 Wasserstein DRO.  References: explicit perturbations / distributions that attain or
approach the closed forms, random feasible perturbations that never exceed them (hypothesis), the
El Ghaoui-Lebret fixed point of robust least squares, the Xu-Caramanis-Mannor regularization
equality, per-sample-ball robust LAD, and plain cvxpy (CLARABEL) solves of the regularized forms."""
import numpy as np
import cvxpy as cp
import pytest
from hypothesis import given, settings, strategies as st

import robust_erm as rerm
from robust_erm import coupled as C, losses as L, sets as S

RNG = np.random.default_rng(11)
N, D = 30, 4
X = RNG.normal(size=(N, D))
Y = X @ [1.0, -1.0, 0.5, 0.0] + 0.5 * RNG.normal(size=N)
YC = np.where(X[:, 0] + 0.8 * RNG.normal(size=N) > 0, 1.0, -1.0)      # not separable


@settings(max_examples=20, deadline=None, derandomize=True)
@given(rho=st.floats(0.01, 3.0), scale=st.floats(0.1, 5.0), labels=st.booleans(),
       norm=st.sampled_from(["spectral", "frobenius"]))
def test_matrix_ball_closed_form_attained_and_never_exceeded(rho, scale, labels, norm):
    th, b = scale * np.array([0.3, -0.7, 0.2, 0.1]), 0.3
    U = C.MatrixBall(radius=rho, norm=norm, labels=labels)
    prob = rerm.RobustERM(loss=L.Squared(), uncertainty=U, reduction="sum")
    val = prob.robust_loss(th, X, Y, intercept=b).value
    dX, dy = U.worst_perturbation(th, b, X, Y)
    D_ = np.c_[dX, dy] if labels else dX
    assert np.linalg.norm(D_, 2) == pytest.approx(rho, rel=1e-12)
    assert np.linalg.norm(D_, "fro") == pytest.approx(rho, rel=1e-12)
    attained = np.sum(((X + dX) @ th + b - (Y + dy)) ** 2)
    assert attained == pytest.approx(val, rel=1e-12)
    rng = np.random.default_rng(0)
    for _ in range(50):                         # random members of the ball stay below
        G = rng.normal(size=D_.shape)
        G *= rho / np.linalg.norm(G, 2 if norm == "spectral" else "fro")
        gx, gy = (G[:, :-1], G[:, -1]) if labels else (G, 0.0)
        assert np.sum(((X + gx) @ th + b - (Y + gy)) ** 2) <= val * (1 + 1e-12)


@pytest.mark.parametrize("labels", [False, True])
def test_matrix_ball_fit_is_el_ghaoui_lebret_ridge(labels):
    """Stationarity of ||X theta - y|| + rho ||z||: theta = (X^T X + lam I)^{-1} X^T y with
    lam = rho ||r|| / ||z|| (z = theta or (theta, -1)) -- a fixed point the fit must satisfy."""
    rho = 0.8
    res = rerm.RobustERM(loss=L.Squared(), uncertainty=C.MatrixBall(radius=rho, labels=labels),
                         fit_intercept=False, reduction="sum").fit(X, Y)
    th = res.theta
    r = X @ th - Y
    lam = rho * np.linalg.norm(r) / np.sqrt(th @ th + (1.0 if labels else 0.0))
    ridge = np.linalg.solve(X.T @ X + lam * np.eye(D), X.T @ Y)
    np.testing.assert_allclose(th, ridge, rtol=1e-5, atol=1e-6)
    assert res.certificate.ok and np.linalg.norm(th) < np.linalg.norm(
        np.linalg.lstsq(X, Y, rcond=None)[0])


@pytest.mark.parametrize("p", [1, 2, np.inf])
@pytest.mark.parametrize("lname", ["hinge", "abs", "pinball"])
def test_sample_budget_vertex_formula_against_allocations(p, lname):
    """max over budget allocations c_i (per-sample ball radii, summing to c) of the per-sample
    robust losses, by the per-sample absolute-ball path: random allocations stay below, the
    best single-sample allocation attains the closed form."""
    loss = {"hinge": L.Hinge(), "abs": L.Absolute(), "pinball": L.Pinball(0.3)}[lname]
    y = YC if loss.mode == "classification" else Y
    th, b, c = np.array([0.5, -0.3, 0.2, 0.4]), 0.1, 1.5
    val = rerm.RobustERM(loss=loss, uncertainty=C.SampleBudget(radius=c, p=p),
                         reduction="sum").robust_loss(th, X, y, intercept=b).value

    def alloc(radii):
        sets = [S.Ball(p=p, radius=float(r), center=x) for r, x in zip(radii, X)]
        return rerm.RobustERM(loss=loss, uncertainty=sets).robust_loss(th, X, y, b).per_sample.sum()

    rng = np.random.default_rng(1)
    assert max(alloc(c * rng.dirichlet(np.ones(N) * a)) for a in (0.05, 1.0) for _ in range(5)) \
        <= val * (1 + 1e-9)
    assert max(alloc(c * np.eye(N)[k]) for k in range(N)) == pytest.approx(val, rel=1e-9)


@pytest.mark.parametrize("p", [2, np.inf])
def test_sample_budget_hinge_is_regularized_svm_on_nonseparable_data(p):
    """Xu, Caramanis, Mannor (JMLR 2009): on non-separable data the budget-robust hinge problem
    equals min sum hinge + c ||w||_q; reference solved directly with cvxpy/CLARABEL."""
    c = 2.0
    res = rerm.RobustERM(loss=L.Hinge(), uncertainty=C.SampleBudget(radius=c, p=p),
                         reduction="sum").fit(X, YC)
    w, b = cp.Variable(D), cp.Variable()
    q = {2: 2, np.inf: 1}[p]
    ref = cp.Problem(cp.Minimize(cp.sum(cp.pos(1 - cp.multiply(YC, X @ w + b))) + c * cp.norm(w, q)))
    ref.solve(solver="CLARABEL")
    assert res.objective == pytest.approx(ref.value, rel=1e-6)


@pytest.mark.parametrize("lname", ["hinge", "logistic", "abs", "huber"])
@pytest.mark.parametrize("p", [1, 2, np.inf])
def test_wasserstein1_approached_by_explicit_distributions(lname, p):
    """Q_s moves mass s/n of one sample a distance eps n / s along the worst direction (transport
    cost exactly eps): E_Q l <= the closed form, and -> it as s -> 0 (Lipschitz = growth rate)."""
    loss = {"hinge": L.Hinge(), "logistic": L.Logistic(), "abs": L.Absolute(),
            "huber": L.Huber(0.7)}[lname]
    y = YC if loss.mode == "classification" else Y
    th, b, eps = np.array([0.5, -0.3, 0.2, 0.4]), 0.1, 0.2
    val = rerm.RobustERM(loss=loss, uncertainty=C.Wasserstein1(radius=eps, p=p)).robust_loss(
        th, X, y, intercept=b).value
    g = S.Ball(p=p, radius=1.0).argmax(th)[0]          # ||g||_p = 1, g^T theta = ||theta||_q
    k = 0
    for s in (1e-2, 1e-4, 1e-7):
        x_far = X[k] + (eps * N / s) * (-y[k] * g if loss.mode == "classification" else
                                        np.sign(X[k] @ th + b - y[k]) * g)
        score = (lambda x: y[k] * (x @ th + b)) if loss.mode == "classification" else \
            (lambda x: x @ th + b - y[k])
        nominal = loss.value_np(y * (X @ th + b)) if loss.mode == "classification" else \
            loss.value_np(X @ th + b - y)
        EQ = nominal.mean() + (s / N) * (loss.value_np(score(x_far)) - nominal[k])
        assert EQ <= val * (1 + 1e-12)
    assert EQ == pytest.approx(val, rel=1e-6)


@pytest.mark.parametrize("p", [1, 2, np.inf])
def test_wasserstein1_lad_equals_per_sample_ball_and_regularized(p):
    eps = 0.3
    w1 = rerm.RobustERM(loss=L.Absolute(), uncertainty=C.Wasserstein1(radius=eps, p=p)).fit(X, Y)
    ball = rerm.RobustERM(loss=L.Absolute(), uncertainty=S.Ball(p=p, radius=eps)).fit(X, Y)
    assert w1.objective == pytest.approx(ball.objective, rel=1e-6)
    th, b = cp.Variable(D), cp.Variable()
    q = S.Ball(p=p).q
    lg = cp.Problem(cp.Minimize(cp.sum(cp.logistic(-cp.multiply(YC, X @ th + b))) / N
                                + eps * cp.norm(th, q)))
    lg.solve(solver="CLARABEL")
    res = rerm.RobustERM(loss=L.Logistic(), uncertainty=C.Wasserstein1(radius=eps, p=p)).fit(X, YC)
    assert res.objective == pytest.approx(lg.value, rel=1e-6)


def test_coupled_radius_is_a_parameter_and_path_matches_cold():
    built = rerm.RobustERM(loss=L.Hinge(), uncertainty=C.SampleBudget(radius=0.5)).build(X, YC)
    for c in (0.1, 1.0, 3.0):
        built.radius.value = c
        warm = built.solve()
        cold = rerm.RobustERM(loss=L.Hinge(), uncertainty=C.SampleBudget(radius=c)).fit(X, YC)
        assert warm.objective == pytest.approx(cold.objective, rel=1e-6) and warm.certificate.ok


@pytest.mark.parametrize("make, match", [
    (lambda: rerm.RobustERM(loss=L.Hinge(), uncertainty=C.MatrixBall(radius=1.0)).fit(X, YC),
     "squared loss"),
    (lambda: rerm.RobustERM(loss=L.Squared(), uncertainty=C.MatrixBall(radius=1.0)).fit(
        X, Y, sample_weight=np.arange(1.0, N + 1)), "sample_weight"),
    (lambda: rerm.RobustERM(loss=L.Squared(), uncertainty=C.Wasserstein1(radius=1.0)).fit(X, Y),
     "Lipschitz"),
    (lambda: rerm.RobustERM(loss=L.Absolute(), uncertainty=C.Wasserstein1(radius=1.0),
                            reduction="sum").fit(X, Y), "mean"),
    (lambda: C.MatrixBall(radius=1.0, norm="nuclear"), "norm"),
    (lambda: C.SampleBudget(radius=-1.0), "radius"),
    (lambda: C.Wasserstein1(radius=1.0, p=0.5), "p"),
    (lambda: rerm.RobustERM(loss=L.Absolute(), uncertainty=C.Wasserstein1(radius=0.1)).fit(
        X, Y).worst_case_points(X, Y), "couples"),
])
def test_coupled_bad_input(make, match):
    with pytest.raises(ValueError, match=match):
        make()
