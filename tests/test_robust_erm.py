"""robust_erm against independent references: closed-form worst-case losses (numpy), brute-force
inner maximization, the general vs closed-form path, nominal ERM at eps = 0, monotonicity, and
robust LAD vs l_q-regularized LAD solved as an LP with scipy/HiGHS.

Tolerances: CLARABEL solves to ~1e-8 relative; we assert 1e-5 (solver accuracy with margin);
brute force on a grid of 2-D boundary points asserts the grid resolution (stated per test)."""
import numpy as np
import cvxpy as cp
import pytest
from scipy.optimize import linprog

import robust_erm as rerm
from robust_erm import losses as L, sets as S

RNG = np.random.default_rng(1234)
D = 3
X0 = RNG.normal(size=(12, D))
TH = np.array([0.7, -1.3, 0.4])
B0 = 0.25
YC = np.where(X0 @ TH + B0 + 0.5 * RNG.normal(size=12) > 0, 1.0, -1.0)
YR = X0 @ TH + B0 + RNG.normal(size=12)

# numpy reference losses (independent of cvxpy's atoms)
NP = {
    "hinge": lambda m: np.maximum(0, 1 - m), "logistic": lambda m: np.log1p(np.exp(-m)),
    "exp": lambda m: np.exp(-m), "abs": np.abs, "sq": np.square,
    "pow3": lambda z: np.abs(z) ** 3,
    "huber": lambda z: np.where(np.abs(z) <= 0.5, z ** 2, 2 * 0.5 * np.abs(z) - 0.25),
    "pinball": lambda z: np.maximum(-0.3 * z, 0.7 * z),
}
LOSS = {"hinge": L.Hinge(), "logistic": L.Logistic(), "exp": L.Exponential(), "abs": L.Absolute(),
        "sq": L.Squared(), "pow3": L.PowerAbs(3), "huber": L.Huber(0.5), "pinball": L.Pinball(0.3)}
CLS = ("hinge", "logistic", "exp")


def _budget_np(v, gamma, r):
    a = np.sort(np.abs(v))[::-1]
    k = int(np.floor(gamma))
    return r * (a[:k].sum() + (gamma - k) * (a[k] if k < a.size else 0.0))


HULL = np.array([[0.1, 0.0, 0.2], [-0.3, 0.1, 0.0], [0.0, -0.2, -0.1], [0.2, 0.3, 0.1]])
# (set, numpy support S_U(v)) for shared perturbation sets U
SETS = {
    "l1": (S.Ball(p=1, radius=0.2), lambda v: 0.2 * np.abs(v).max()),
    "l2": (S.Ball(p=2, radius=0.2), lambda v: 0.2 * np.linalg.norm(v)),
    "linf": (S.Ball(p=np.inf, radius=0.2), lambda v: 0.2 * np.abs(v).sum()),
    "l3": (S.Ball(p=3, radius=0.2), lambda v: 0.2 * np.linalg.norm(v, 1.5)),
    "box": (S.Box(widths=[0.1, 0.2, 0.3]), lambda v: np.abs(v) @ [0.1, 0.2, 0.3]),
    "ellipsoid": (S.Ellipsoid(P=np.array([[0.2, 0, 0], [0.1, 0.1, 0], [0, 0, 0.3]])),
                  lambda v: np.linalg.norm(np.array([[0.2, 0, 0], [0.1, 0.1, 0], [0, 0, 0.3]]).T @ v)),
    "ellipsoid_quad": (S.EllipsoidQuad(sigma=np.diag([0.04, 0.01, 0.09]), radius=1.5),
                       lambda v: 1.5 * np.sqrt(v @ np.diag([0.04, 0.01, 0.09]) @ v)),
    "budget": (S.Budget(gamma=1.5, radius=0.3), lambda v: _budget_np(v, 1.5, 0.3)),
    "hull": (S.ConvexHull(HULL), lambda v: (HULL @ v).max()),
    "polyhedron": (S.Polyhedron(A=np.vstack([np.eye(3), -np.eye(3)]), b=[0.1, 0.2, 0.3, 0.0, 0.1, 0.2]),
                   lambda v: np.maximum(v * [0.1, 0.2, 0.3], -v * [0.0, 0.1, 0.2]).sum()),
    "label": (S.LabelNoise(eta=0.15, features=S.Ball(p=2, radius=0.1)),
              lambda v: 0.1 * np.linalg.norm(v)),
    "sum": (S.MinkowskiSum(S.Ball(p=2, radius=0.1), S.ConvexHull(HULL)),
            lambda v: 0.1 * np.linalg.norm(v) + (HULL @ v).max()),
    "affine": (S.AffineImage(S.Ball(p=np.inf, radius=1.0), M=np.array([[0.1], [0.2], [-0.1]]),
                             offset=[0.05, 0, 0]), lambda v: 0.05 * v[0] + abs(v @ [0.1, 0.2, -0.1])),
    "product": (S.Product(S.Ball(p=2, radius=0.1, center=[0.0, 0.0]), S.Box(widths=[0.2])),
                lambda v: 0.1 * np.linalg.norm(v[:2]) + 0.2 * abs(v[2])),
}


def _fixed(loss, U, X, y, mode, path="auto"):
    """Per-sample robust loss at theta = TH, b = B0 (theta pinned by constraints)."""
    prob = rerm.RobustERM(loss=loss, uncertainty=U, mode=mode, path=path,
                          theta_constraints=lambda t: [t == TH])
    built = prob.build(X, y)
    built.problem = cp.Problem(built.problem.objective,
                               built.problem.constraints + [built.intercept == B0])
    built.solve(solver="CLARABEL")
    return np.asarray(built.per_sample_loss.value)


def _reference(lname, sup):
    up, dn = sup(TH), sup(-TH)
    if lname in CLS:
        lo = YC * (X0 @ TH + B0) - np.where(YC > 0, dn, up)
        return NP[lname](lo)
    return None


@pytest.mark.parametrize("sname", sorted(SETS))
@pytest.mark.parametrize("lname", sorted(LOSS))
def test_worst_case_loss_closed_form(sname, lname):
    U, sup = SETS[sname]
    if lname in CLS and sname == "label":
        pytest.skip("label noise is regression-only")
    mode = "classification" if lname in CLS else "regression"
    got = _fixed(LOSS[lname], U, X0, YC if lname in CLS else YR, mode)
    if lname in CLS:
        ref = _reference(lname, sup)
    else:
        eta = 0.15 if sname == "label" else 0.0
        z = X0 @ TH + B0 - YR
        hi, lo = z + sup(TH) + eta, z - sup(-TH) - eta
        f = NP[lname]
        # convex loss on an interval: max at an endpoint
        ref = np.maximum(f(hi), f(lo))
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


def _brute_2d(theta, b, pts_per_sample, y, f):
    return np.array([f(P @ theta + b - yi).max() for P, yi in zip(pts_per_sample, y)])


def test_general_path_brute_force_per_sample_sets():
    """Several samples, one different 2-D set each (incl. General sets sharing theta): the fit's
    per-sample robust loss equals a dense-grid inner maximization (grid error <= 2e-3)."""
    rng = np.random.default_rng(5)
    n = 6
    X = rng.normal(size=(n, 2))
    y = rng.normal(size=n)
    theta_fix = np.array([1.1, -0.6])
    g = np.linspace(-1, 1, 801)
    G = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    sets, pts = [], []
    for i in range(n):
        c = X[i]
        kind = i % 3
        if kind == 0:       # l2 disk of radius 0.3 (General, described by cvxpy constraints)
            v = cp.Variable(2)
            sets.append(S.General(v, [cp.norm(v - c, 2) <= 0.3]))
            pts.append(c + 0.3 * G[np.linalg.norm(G, axis=1) <= 1])
        elif kind == 1:     # box ∩ disk
            box = S.Box(widths=[0.2, 0.4], center=c)
            disk = S.Ball(p=2, radius=0.3, center=c + [0.1, 0.0])
            sets.append(S.Intersection(box, disk))
            P = c + G * [0.2, 0.4]
            pts.append(P[np.linalg.norm(P - c - [0.1, 0.0], axis=1) <= 0.3])
        else:               # triangle as a General set
            v = cp.Variable(2)
            sets.append(S.General(v, [v[0] >= c[0], v[1] >= c[1], v[0] + v[1] <= c.sum() + 0.5]))
            P = c + 0.5 * (G + 1) / 2
            pts.append(P[P.sum(1) <= c.sum() + 0.5])
    for loss, f in ((L.Absolute(), np.abs), (L.Squared(), np.square), (L.Pinball(0.3), NP["pinball"])):
        prob = rerm.RobustERM(loss=loss, uncertainty=sets, fit_intercept=False,
                              theta_constraints=lambda t: [t == theta_fix])
        res = prob.fit(X, y)
        got = np.asarray(res.built.per_sample_loss.value)
        ref = _brute_2d(theta_fix, 0.0, pts, y, f)
        np.testing.assert_allclose(got, ref, rtol=3e-3, atol=3e-3)
        wc = res.worst_case_points(X, y)
        np.testing.assert_allclose(wc.loss, got, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("lname", ["hinge", "logistic", "sq", "abs", "huber", "pinball"])
@pytest.mark.parametrize("sname", ["linf", "ellipsoid", "hull", "budget"])
def test_general_equals_closed_form(lname, sname):
    U, _ = SETS[sname]
    mode = "classification" if lname in CLS else "regression"
    y = YC if lname in CLS else YR
    reg = lambda t: 0.01 * cp.sum_squares(t)
    a = rerm.RobustERM(loss=LOSS[lname], uncertainty=U, mode=mode, regularizer=reg).fit(X0, y)
    b = rerm.RobustERM(loss=LOSS[lname], uncertainty=U, mode=mode, regularizer=reg,
                       path="general").fit(X0, y)
    assert a.built.path == "closed_form" and b.built.path == "general"
    assert a.objective == pytest.approx(b.objective, rel=1e-5, abs=1e-7)
    np.testing.assert_allclose(a.theta, b.theta, rtol=1e-3, atol=1e-3)


def test_eps_zero_is_nominal_least_squares():
    res = rerm.RobustERM(loss=L.Squared(), uncertainty=S.Ball(p=2, radius=0.0)).fit(X0, YR)
    w = np.linalg.lstsq(np.c_[X0, np.ones(12)], YR, rcond=None)[0]
    np.testing.assert_allclose(res.theta, w[:-1], atol=1e-6)
    assert res.intercept == pytest.approx(w[-1], abs=1e-6)


def test_radius_path_dpp_monotone_and_equal_to_rebuild():
    prob = rerm.RobustERM(loss=L.Logistic(), uncertainty=S.Ball(p=2, radius=0.05),
                          regularizer=lambda t: 1e-3 * cp.sum_squares(t))
    built = prob.build(X0, YC)
    assert built.problem.is_dcp(dpp=True)
    vals = []
    for eps in (0.0, 0.05, 0.1, 0.2, 0.4):
        built.radius.value = eps
        vals.append(built.solve().objective)
        fresh = rerm.RobustERM(loss=L.Logistic(), uncertainty=S.Ball(p=2, radius=eps),
                               regularizer=lambda t: 1e-3 * cp.sum_squares(t)).fit(X0, YC)
        assert vals[-1] == pytest.approx(fresh.objective, rel=1e-6)
    assert np.all(np.diff(vals) > 0)


def test_set_inclusion_monotone():
    # l1 ball ⊂ l2 ball ⊂ l_inf ball (same radius): optimal robust values ordered
    v = [rerm.RobustERM(loss=L.Huber(1.0), uncertainty=S.Ball(p=p, radius=0.2)).fit(X0, YR).objective
         for p in (1, 2, np.inf)]
    assert v[0] <= v[1] + 1e-8 and v[1] <= v[2] + 1e-8 and v[0] < v[2]


@pytest.mark.parametrize("p", [1, np.inf])
def test_robust_lad_equals_regularized_lad_lp(p):
    """mean sup |r| over l_p balls = mean |r| + eps ||theta||_q; solve the right side as an LP."""
    eps, n, d = 0.3, X0.shape[0], D
    res = rerm.RobustERM(loss=L.Absolute(), uncertainty=S.Ball(p=p, radius=eps)).fit(X0, YR)
    # variables: theta (d), b, r (n) >= |X theta + b - y|, s: ||theta||_q epigraph
    if p == 1:      # q = inf: s >= |theta_j|
        nv = d + 1 + n + 1
        c = np.r_[np.zeros(d + 1), np.ones(n) / n, eps]
        A, bub = [], []
        for i in range(n):
            for sg in (1, -1):
                row = np.zeros(nv); row[:d] = sg * X0[i]; row[d] = sg; row[d + 1 + i] = -1
                A.append(row); bub.append(sg * YR[i])
        for j in range(d):
            for sg in (1, -1):
                row = np.zeros(nv); row[j] = sg; row[-1] = -1
                A.append(row); bub.append(0)
    else:           # q = 1: s_j >= |theta_j|
        nv = d + 1 + n + d
        c = np.r_[np.zeros(d + 1), np.ones(n) / n, eps * np.ones(d)]
        A, bub = [], []
        for i in range(n):
            for sg in (1, -1):
                row = np.zeros(nv); row[:d] = sg * X0[i]; row[d] = sg; row[d + 1 + i] = -1
                A.append(row); bub.append(sg * YR[i])
        for j in range(d):
            for sg in (1, -1):
                row = np.zeros(nv); row[j] = sg; row[d + 1 + n + j] = -1
                A.append(row); bub.append(0)
    lp = linprog(c, A_ub=np.array(A), b_ub=bub, bounds=[(None, None)] * nv, method="highs")
    assert res.objective == pytest.approx(lp.fun, rel=1e-6)


def test_sample_weights_equal_duplication():
    w = np.ones(12); w[:3] = 2.0
    a = rerm.RobustERM(loss=L.Squared(), uncertainty=S.Ball(p=2, radius=0.1)).fit(X0, YR, sample_weight=w)
    Xd, yd = np.r_[X0, X0[:3]], np.r_[YR, YR[:3]]
    b = rerm.RobustERM(loss=L.Squared(), uncertainty=S.Ball(p=2, radius=0.1)).fit(Xd, yd)
    np.testing.assert_allclose(a.theta, b.theta, atol=1e-6)


@pytest.mark.parametrize("sname", ["linf", "l2", "budget", "hull", "label"])
def test_worst_case_points_reproduce_loss(sname):
    U, _ = SETS[sname]
    res = rerm.RobustERM(loss=L.Squared(), uncertainty=U).fit(X0, YR)
    wc = res.worst_case_points(X0, YR)
    np.testing.assert_allclose(wc.loss, wc.robust_loss, rtol=1e-5, atol=1e-6)
    if sname == "linf":   # closed form: x* = x + eps sign(r) sign(theta)
        r = X0 @ res.theta + res.intercept - YR
        ref = X0 + 0.2 * np.sign(r)[:, None] * np.sign(res.theta)[None, :]
        np.testing.assert_allclose(wc.points, ref, atol=1e-5)


def test_worst_case_points_on_other_data():
    """Issue #16: worst_case_points on data other than the training data used to fail with
    numpy 'All-NaN slice'; for a shared set it evaluates any data, checked against the l2 closed
    form |r| + eps ||theta|| (squared loss)."""
    res = rerm.RobustERM(loss=L.Squared(), uncertainty=S.Ball(p=2, radius=0.1)).fit(X0, YR)
    Xn, yn = X0[:5] + 1.0, YR[:5] - 2.0
    wc = res.worst_case_points(Xn, yn)
    r = Xn @ res.theta + res.intercept - yn
    ref = (np.abs(r) + 0.1 * np.linalg.norm(res.theta)) ** 2
    np.testing.assert_allclose(wc.loss, ref, rtol=1e-10)
    np.testing.assert_allclose(np.linalg.norm(wc.points - Xn, axis=1), 0.1, rtol=1e-12)


def test_custom_loss_split_and_mode_guard():
    # asymmetric convex loss: (z - 1)_+^2 + |z|, via the monotone split
    fn = lambda z: cp.square(cp.pos(z - 1)) + cp.abs(z)
    c = L.Custom(fn, form="split")
    got = _fixed(c, SETS["l2"][0], X0, YR, "regression")
    z = X0 @ TH + B0 - YR
    d = 0.2 * np.linalg.norm(TH)
    f = lambda t: np.maximum(t - 1, 0) ** 2 + np.abs(t)
    np.testing.assert_allclose(got, np.maximum(f(z + d), f(z - d)), rtol=1e-5, atol=1e-6)
    # the rerm_code test() bug: a symmetric loss passed as non-increasing must raise
    with pytest.raises(ValueError, match="nonincreasing"):
        L.Custom(lambda z: cp.power(cp.abs(z), 3), form="nonincreasing")
    with pytest.raises(ValueError, match="symmetric"):
        L.Custom(fn, form="symmetric")
    with pytest.raises(ValueError, match="convex"):
        L.Custom(lambda z: -cp.square(z))
    with pytest.raises(ValueError, match="non-increasing margin loss"):
        rerm.RobustERM(loss=L.Squared(), uncertainty=S.Ball(), mode="classification")


def test_bad_input_errors():
    ok = dict(loss=L.Hinge(), uncertainty=S.Ball(p=2, radius=0.1))
    Xn = X0.copy(); Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        rerm.RobustERM(**ok).fit(Xn, YC)
    with pytest.raises(ValueError, match="y must be 1-D"):
        rerm.RobustERM(**ok).fit(X0, YC[:-1])
    with pytest.raises(ValueError, match=r"\{-1, \+1\}"):
        rerm.RobustERM(**ok).fit(X0, (YC + 1) / 2)
    with pytest.raises(ValueError, match="radius"):
        S.Ball(p=2, radius=-1.0)
    with pytest.raises(ValueError, match="p must be >= 1"):
        S.Ball(p=0.5)
    with pytest.raises(ValueError, match="empty"):
        S.Polyhedron(A=[[1.0], [-1.0]], b=[0.0, -1.0])
    with pytest.raises(ValueError, match="unbounded"):
        S.Polyhedron(A=[[1.0, 0.0]], b=[1.0])
    v = cp.Variable(2)
    with pytest.raises(ValueError, match="unbounded"):
        S.General(v, [v[0] <= 1])
    with pytest.raises(ValueError, match="DCP"):
        S.General(v, [cp.square(v[0]) >= 1])
    with pytest.raises(ValueError, match="dimension"):
        rerm.RobustERM(loss=L.Squared(), uncertainty=S.Box(widths=[1.0, 1.0])).fit(X0, YR)
    with pytest.raises(RuntimeError, match="infeasible"):
        rerm.RobustERM(**ok, theta_constraints=lambda t: [t >= 1, t <= 0]).fit(X0, YC)
    with pytest.raises(TypeError, match="uncertainty"):
        rerm.RobustERM(loss=L.Hinge(), uncertainty="ball")
    with pytest.raises(ValueError, match="sets, X has"):
        rerm.RobustERM(loss=L.Squared(), uncertainty=[S.Ball(p=2)] * 3).fit(X0, YR)
    with pytest.raises(ValueError, match="not installed"):
        rerm.RobustERM(**ok).fit(X0, YC, solver="NOPE")


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=8, deadline=None, derandomize=True)
@given(e1=st.floats(0.0, 0.5), de=st.floats(0.0, 0.5), lname=st.sampled_from(["sq", "abs", "pinball"]))
def test_property_monotone_in_eps_and_inclusion(e1, de, lname):
    """At fixed theta: robust loss >= nominal, non-decreasing in eps, and l2 ball of radius eps
    (⊂ l_inf ball of radius eps) gives no larger loss; references in numpy."""
    vals = [_fixed(LOSS[lname], S.Ball(p=2, radius=e), X0, YR, "regression").sum()
            for e in (0.0, e1, e1 + de)]
    z = X0 @ TH + B0 - YR
    assert vals[0] == pytest.approx(NP[lname](z).sum(), rel=1e-6, abs=1e-7)
    assert vals[0] <= vals[1] + 1e-7 and vals[1] <= vals[2] + 1e-7
    big = _fixed(LOSS[lname], S.Ball(p=np.inf, radius=e1 + de), X0, YR, "regression").sum()
    assert vals[2] <= big + 1e-7
