"""GD steps/s of the BN simulator (sims.bn, lax.scan + fori_loop, jit) vs a plain NumPy loop.

Same problem (n=10, d=50 Gaussian data, exponential loss, eta=0.5), same number of steps,
measured side by side in one run; medians of repeats (jit compile excluded: one warm-up call).

    .venv/bin/python benchmarks/bench_bn.py [--full]
"""
from __future__ import annotations

import argparse
import time

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402

from sims.bn import run_bn  # noqa: E402


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true", help="more steps and a larger problem")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    n, d, steps = (100, 500, 100_000) if args.full else (10, 50, 20_000)
    x = rng.standard_normal((n, d))
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    w0 = 0.1 * rng.standard_normal(d)
    run_bn(x, y, w0, eta=0.5, steps=steps)  # compile
    ts, tn = [], []
    for _ in range(5):
        t0 = time.perf_counter()
        r = run_bn(x, y, w0, eta=0.5, steps=steps)
        ts.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        w, g = numpy_gd(x, y, w0.copy(), 1.0, 0.5, steps)
        tn.append(time.perf_counter() - t0)
    assert np.allclose(r["w"][-1], w, rtol=1e-8, atol=1e-10), "scan and NumPy disagree"
    s, nn = np.median(ts), np.median(tn)
    print(f"BN GD, n={n}, d={d}, {steps} steps, medians of 5 (jax {jax.__version__}, CPU)")
    print(f"  lax.scan (jit): {steps / s:12.0f} steps/s")
    print(f"  NumPy loop    : {steps / nn:12.0f} steps/s")
    print(f"  ratio scan/NumPy: {nn / s:.1f}x")


if __name__ == "__main__":
    main()
