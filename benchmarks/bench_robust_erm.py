"""Benchmarks for robust_erm (arXiv:2306.05649), ratios measured side by side in one run.

(a) closed-form path build+solve vs the equivalent hand-written CVXPY problem (goal <= 1.2x);
(b) general per-sample path vs the paper-code formulation (one cvxpy SuppFunc per sample,
    each applied to a fresh copy of theta so cvxpy 1.9's atom collision does not bite);
(c) fast-path time vs n with the fitted log-log scaling exponent (numpy.polyfit).

Run: ``python benchmarks/bench_robust_erm.py [--full]``.  Medians over repeats; CLARABEL.
"""
import argparse
import time

import numpy as np
import cvxpy as cp
from cvxpy.transforms.suppfunc import SuppFunc

import robust_erm as rerm


def _data(n, d, rng):
    X = rng.normal(size=(n, d))
    y = np.where(X @ rng.normal(size=d) + 0.3 * rng.normal(size=n) > 0, 1.0, -1.0)
    return X, y


def _median_time(fn, repeats):
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def _lib(X, y, eps):
    return rerm.RobustERM(loss=rerm.losses.Hinge(), uncertainty=rerm.sets.Ball(p=2, radius=eps),
                          mode="classification").fit(X, y, solver="CLARABEL").objective


def _hand(X, y, eps):
    n, d = X.shape
    th, b = cp.Variable(d), cp.Variable()
    obj = cp.sum(cp.pos(1 - cp.multiply(y, X @ th + b) + eps * cp.norm(th, 2))) / n
    p = cp.Problem(cp.Minimize(obj))
    p.solve(solver="CLARABEL")
    return p.value


def _paper_style(X, y, eps):
    n, d = X.shape
    th, b = cp.Variable(d), cp.Variable()
    z = cp.Variable(n)
    cons = []
    for i in range(n):
        x = cp.Variable(d)
        G = SuppFunc(x, [cp.norm(x - X[i], 2) <= eps])
        u = cp.Variable(d)
        cons += [u == -y[i] * th, G(u) - y[i] * b <= -z[i]]
    p = cp.Problem(cp.Minimize(cp.sum(cp.pos(1 - z)) / n), cons)
    p.solve(solver="CLARABEL")
    return p.value


def _general(X, y, eps):
    sets = [rerm.sets.Ball(p=2, radius=eps, center=X[i]) for i in range(X.shape[0])]
    return rerm.RobustERM(loss=rerm.losses.Hinge(), uncertainty=sets,
                          mode="classification").fit(X, y, solver="CLARABEL").objective


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--full", action="store_true", help="n up to 1e4 (b) and 1e5 (c)")
    a = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    d, eps, reps = 10, 0.1, 5
    print("(a) closed-form path vs hand-written CVXPY (build+solve, median of", reps, ")")
    for n in ((1000, 10000) if a.full else (1000,)):
        X, y = _data(n, d, rng)
        assert abs(_lib(X, y, eps) - _hand(X, y, eps)) < 1e-6 * (1 + abs(_hand(X, y, eps)))
        t_lib, t_hand = _median_time(lambda: _lib(X, y, eps), reps), _median_time(lambda: _hand(X, y, eps), reps)
        print(f"  n={n:6d}  robust_erm {t_lib:.3f}s  hand {t_hand:.3f}s  ratio {t_lib / t_hand:.2f}x")
    print("(b) general per-sample path vs paper-style per-sample SuppFunc")
    for n in ((100, 1000, 10000) if a.full else (50, 200)):
        X, y = _data(n, d, rng)
        r = 3 if n <= 1000 else 1
        vg, vp = _general(X, y, eps), _paper_style(X, y, eps)
        assert abs(vg - vp) < 1e-5 * (1 + abs(vp)), (vg, vp)
        tg, tp = _median_time(lambda: _general(X, y, eps), r), _median_time(lambda: _paper_style(X, y, eps), r)
        print(f"  n={n:6d}  general {tg:.3f}s  paper-style {tp:.3f}s  speed-up {tp / tg:.2f}x")
    print("(c) fast path time vs n")
    ns = np.array([1000, 3000, 10000, 30000, 100000] if a.full else [500, 1000, 2000, 4000])
    ts = []
    for n in ns:
        X, y = _data(int(n), d, rng)
        ts.append(_median_time(lambda: _lib(X, y, eps), 3))
        print(f"  n={n:6d}  {ts[-1]:.3f}s")
    slope = np.polyfit(np.log(ns), np.log(ts), 1)[0]
    print(f"  fitted exponent t ~ n^{slope:.2f}")


if __name__ == "__main__":
    main()
