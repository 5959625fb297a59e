"""robust_erm at scale (issue #18): backend="jax" vs CLARABEL (backend="cvxpy") vs scikit-learn.

Robust hinge and robust logistic, l_inf and l2 balls, d = 50, ridge alpha = 1e-4 (sklearn's C =
1 / (2 alpha n) gives the same nominal trade-off), Gaussian X, labels from a noisy linear rule.
Per n, one run, calls interleaved (benchmarks/_timing.py): medians of --repeats fits after one
untimed fit (jax compiles there).  Printed: times, ratios CLARABEL / jax and jax / sklearn, the
jax fit's certified relative gap and |objective - CLARABEL objective| / objective.  Then jax time
vs n up to --n-max with the fitted log-log exponent.  CLARABEL runs only for n <= --cvxpy-max
(10^5 rows take minutes to canonicalize); on a GPU machine the same script runs jax on CUDA
(JAX picks the device; float64).

    python benchmarks/bench_robust_erm_scale.py            # n = 1e4, 1e5; scaling to 1e6
    python benchmarks/bench_robust_erm_scale.py --quick    # n = 2e3, 1e4; scaling to 1e5
"""
from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _timing import interleaved, median_time  # noqa: E402


def data(n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return X, np.where(X @ rng.normal(size=d) + 0.5 * rng.normal(size=n) > 0, 1.0, -1.0)


def problems(alpha):
    import robust_erm as rerm
    from robust_erm.regularizers import Ridge
    L, S = rerm.losses, rerm.sets
    out = {}
    for lname, loss in (("hinge", L.Hinge()), ("logistic", L.Logistic())):
        for sname, U in (("linf", S.Ball(p=np.inf, radius=0.01)), ("l2", S.Ball(p=2, radius=0.1))):
            out[f"{lname}-{sname}"] = rerm.RobustERM(loss=loss, uncertainty=U,
                                                     regularizer=Ridge(alpha))
    return out


def nominal(name, alpha, n):
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC
    C = 1.0 / (2 * alpha * n)
    if name.startswith("hinge"):
        return LinearSVC(C=C, loss="hinge", tol=1e-6, max_iter=20_000)
    return LogisticRegression(C=C, tol=1e-8, max_iter=2000)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--d", type=int, default=50)
    ap.add_argument("--cvxpy-max", type=int, default=None)
    ap.add_argument("--n-max", type=int, default=None)
    args = ap.parse_args(argv)
    import jax
    jax.config.update("jax_enable_x64", True)          # entry point: float64
    import warnings

    import robust_erm as rerm
    warnings.filterwarnings("ignore", message=".*duality gap.*")   # the gap column shows it
    ns = [2_000, 10_000] if args.quick else [10_000, 100_000]
    cvx_max = args.cvxpy_max if args.cvxpy_max is not None else (ns[0] if args.quick else 10_000)
    n_max = args.n_max or (100_000 if args.quick else 1_000_000)
    alpha, d = 1e-4, args.d
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}; d = {d}, alpha = {alpha}, "
          f"medians of {args.repeats}")
    print(f"{'problem':>14} {'n':>8} {'jax s':>8} {'CLARABEL s':>10} {'sklearn s':>9} "
          f"{'CLA/jax':>8} {'jax/skl':>8} {'gap':>9} {'obj diff':>9}")
    for n in ns:
        X, y = data(n, d)
        for name, spec in problems(alpha).items():
            res = spec.fit(X, y, backend="jax", on_failure="warn")
            fns = {"jax": lambda s=spec: s.fit(X, y, backend="jax", on_failure="warn"),
                   "sklearn": lambda nm=name: nominal(nm, alpha, n).fit(X, y)}
            t = interleaved(fns, repeats=args.repeats, warmup=0)
            tc, diff = np.nan, np.nan
            if n <= cvx_max:
                try:
                    cv = spec.fit(X, y)
                except rerm.RobustERMSolveError as e:      # reported, not hidden: e.g. CLARABEL
                    print(f"{name:>14} {n:>8} CLARABEL not certified: {e}")   # optimal_inaccurate
                else:
                    diff = abs(res.objective - cv.objective) / abs(cv.objective)
                    tc = median_time(lambda s=spec: s.fit(X, y), repeats=1, warmup=0)
            print(f"{name:>14} {n:>8} {t['jax']:>8.3f} {tc:>10.3f} {t['sklearn']:>9.3f} "
                  f"{tc / t['jax']:>8.1f} {t['jax'] / t['sklearn']:>8.2f} {res.gap:>9.1e} "
                  f"{diff:>9.1e}", flush=True)
    print("\njax time vs n (robust logistic, l2 ball)")
    spec = problems(alpha)["logistic-l2"]
    grid = [n for n in (10_000, 30_000, 100_000, 300_000, 1_000_000) if n <= n_max]
    ts = []
    for n in grid:
        X, y = data(n, d)
        spec.fit(X, y, backend="jax")
        ts.append(median_time(lambda: spec.fit(X, y, backend="jax"), repeats=args.repeats,
                              warmup=0))
        print(f"  n = {n:>8}: {ts[-1]:.3f} s", flush=True)
    if len(grid) >= 2:
        p = np.polyfit(np.log(grid), np.log(ts), 1)[0]
        print(f"  fitted exponent: time ~ n^{p:.2f}")


if __name__ == "__main__":
    main()
