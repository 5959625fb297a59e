"""GD steps/s of the BN simulator (sims.bn, lax.scan + unrolled fori_loop, jit) vs NumPy loops.

Baselines (same problem: n=10, d=50 Gaussian data, exponential loss, eta=0.5, same steps):

* ``numpy_lowrank``: the best straightforward NumPy loop -- the same low-rank identities the
  simulator uses (``Sigma w = F^T (F w)/n``, two matvecs with the n x d data per step);
* ``numpy_gd``: the textbook loop with the d x d Sigma (what this benchmark compared against
  before; kept so the ratio to both is visible).

Also a vmapped sweep over 64 step sizes vs one trajectory (the cost of a sweep).  Timings are
interleaved medians (``benchmarks/_timing.py``), jit compile excluded by a warm-up call.

    .venv/bin/python benchmarks/bench_bn.py [--full]
"""
from __future__ import annotations

import argparse

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402

from _timing import interleaved  # noqa: E402  (benchmarks/_timing.py)
from sims.bn import UNROLL, run_bn  # noqa: E402


def numpy_gd(x, y, w, g, eta, steps):
    a = y[:, None] * x
    sig = x.T @ x / x.shape[0]
    n = x.shape[0]
    for _ in range(steps):
        sw = sig @ w
        s = np.sqrt(w @ sw)
        m = a @ w / s
        lp = -np.exp(-g * m)
        gw = g / n * (lp @ a - (lp @ m) * sw / s) / s
        gg = np.mean(lp * m)
        w, g = w - eta * gw, g - eta * gg
    return w, g


def numpy_lowrank(x, y, w, g, eta, steps):
    """NumPy GD through the data matrix: ``u = F w``, ``F^T v`` (no d x d Sigma)."""
    F = np.ascontiguousarray(x)
    n = x.shape[0]
    for _ in range(steps):
        u = F @ w
        s = np.sqrt(u @ u / n)
        m = y * u / s
        lp = -np.exp(-g * m)
        lm = lp @ m
        v = (g / (n * s)) * (y * lp - (lm / (s * n)) * u)
        w, g = w - eta * (F.T @ v), g - eta * lm / n
    return w, g


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true", help="more steps and a larger problem")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    n, d, steps = (100, 500, 100_000) if args.full else (10, 50, 20_000)
    x = rng.standard_normal((n, d))
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    w0 = 0.1 * rng.standard_normal(d)
    res = {}
    t = interleaved({
        "jax": lambda: res.__setitem__("jax", run_bn(x, y, w0, eta=0.5, steps=steps)),
        "numpy_lowrank": lambda: res.__setitem__("lr", numpy_lowrank(x, y, w0.copy(), 1.0, 0.5, steps)),
        "numpy_dense": lambda: res.__setitem__("np", numpy_gd(x, y, w0.copy(), 1.0, 0.5, steps)),
    }, repeats=5)
    for k in ("lr", "np"):
        assert np.allclose(res["jax"]["w"][-1], res[k][0], rtol=1e-8, atol=1e-10), f"scan and {k} disagree"
    etas = np.linspace(0.1, 0.5, 64)
    sweep = interleaved({"one": lambda: run_bn(x, y, w0, eta=0.5, steps=steps),
                         "vmap64": lambda: run_bn(x, y, w0, eta=etas, steps=steps)}, repeats=3)
    print(f"BN GD, n={n}, d={d}, {steps} steps, interleaved medians of 5 (jax {jax.__version__}, CPU)")
    print(f"  lax.scan (jit, unroll {UNROLL}): {steps / t['jax']:12.0f} steps/s")
    print(f"  NumPy low-rank loop       : {steps / t['numpy_lowrank']:12.0f} steps/s")
    print(f"  NumPy dense-Sigma loop    : {steps / t['numpy_dense']:12.0f} steps/s")
    print(f"  ratio jax / NumPy low-rank: {t['numpy_lowrank'] / t['jax']:.1f}x  "
          f"(/ dense: {t['numpy_dense'] / t['jax']:.1f}x)")
    print(f"  vmapped sweep of 64 step sizes: {sweep['vmap64'] / sweep['one']:.1f}x one trajectory")

if __name__ == "__main__":
    main()
