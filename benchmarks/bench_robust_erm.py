"""Benchmarks for robust_erm (arXiv:2306.05649), ratios measured side by side in one run.

(a) closed-form path (RobustERM build + solve) vs an equivalent hand-written CVXPY problem
    (robust least squares over an l2 ball: mean (|x_i^T theta + b - y_i| + eps ||theta||_2)^2); goal <= 1.2x.
(b) general per-sample path (one Ball(center=x_i) per sample, explicit support functions) vs the
    paper code's formulation (one cvxpy SuppFunc per sample, applied to theta and -theta).
(c) fast-path time vs n with the fitted log-log scaling exponent (numpy.polyfit).
Medians of repeats; solver CLARABEL. ``--full``: n up to 1e5 in (c) and 10,000 in (b).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import cvxpy as cp

import robust_erm as rerm


def _data(n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return X, X @ rng.normal(size=d) + 0.5 * rng.normal(size=n)


def _median_time(fn, reps):
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def bench_a(n, d, eps, reps):
    X, y = _data(n, d)

    def ours():
        rerm.RobustERM(loss=rerm.losses.Squared(), uncertainty=rerm.sets.Ball(p=2, radius=eps)).fit(
            X, y, solver="CLARABEL")

    def hand():
        th, b = cp.Variable(d), cp.Variable()
        r = cp.Parameter(nonneg=True, value=eps)
        cp.Problem(cp.Minimize(cp.sum(cp.square(cp.abs(X @ th + b - y) + r * cp.norm(th, 2))) / n)
                   ).solve(solver="CLARABEL")

    t1, t2 = _median_time(ours, reps), _median_time(hand, reps)
    print(f"(a) n={n:6d} d={d}: robust_erm {t1*1e3:8.1f} ms, hand-written {t2*1e3:8.1f} ms, "
          f"ratio {t1/t2:.2f}x (goal <= 1.2x)")


def bench_b(n, d, eps, reps):
    X, y = _data(n, d, seed=1)

    def ours():
        sets = [rerm.sets.Ball(p=2, radius=eps, center=X[i]) for i in range(n)]
        return rerm.RobustERM(loss=rerm.losses.Absolute(), uncertainty=sets).fit(X, y).objective

    def suppfunc():   # the paper code's form_rerm, "non-decreasing-sym-abs" mode
        from cvxpy.transforms.suppfunc import SuppFunc
        th, b, z = cp.Variable(d), cp.Variable(), cp.Variable(n)
        cons = []
        for i in range(n):
            x = cp.Variable(d)
            G = SuppFunc(x, [cp.norm(x - X[i], 2) <= eps])
            cons += [G(th) + b - y[i] <= z[i], G(-th) - b + y[i] <= z[i]]
        p = cp.Problem(cp.Minimize(cp.sum(z) / n), cons)
        p.solve(solver="CLARABEL")
        return p.value

    t1, t2 = _median_time(ours, reps), _median_time(suppfunc, reps)
    print(f"(b) n={n:6d} d={d}: general path {t1:8.2f} s, per-sample SuppFunc {t2:8.2f} s, "
          f"ratio {t1/t2:.2f}x   (values {ours():.6f} vs {suppfunc():.6f}; cvxpy 1.9 SuppFunc "
          "atoms on the same theta may collide, see the docs)")


def bench_c(ns, d, eps, reps):
    ts = []
    for n in ns:
        X, y = _data(n, d, seed=2)
        ts.append(_median_time(lambda: rerm.RobustERM(
            loss=rerm.losses.Squared(), uncertainty=rerm.sets.Ball(p=2, radius=eps)).fit(X, y), reps))
        print(f"(c) n={n:7d}: fast path build+solve {ts[-1]:.3f} s")
    k = np.polyfit(np.log(ns), np.log(ts), 1)[0]
    print(f"(c) fitted exponent time ~ n^{k:.2f} over n in [{ns[0]}, {ns[-1]}]")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="n up to 1e5 (c) and 1e4 (b)")
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args(argv)
    d, eps = 10, 0.1
    for n in (1000, 10000):
        bench_a(n, d, eps, a.reps)
    for n in ((100, 1000, 10000) if a.full else (100, 1000)):
        bench_b(n, d, eps, max(1, a.reps // 3) if n >= 1000 else a.reps)
    ns = [1000, 3000, 10000, 30000, 100000] if a.full else [1000, 3000, 10000, 30000]
    bench_c(ns, d, eps, a.reps)


if __name__ == "__main__":
    main()
