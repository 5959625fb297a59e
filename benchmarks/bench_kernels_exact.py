"""Exact NNGP+NTK (sims.kernels.stax) vs a bare-matmul lower bound, measured side by side (CPU).

Lower bound: the same jitted work any exact kernel must do — the input Gram ``x x'ᵀ/d`` (for conv,
the full spatial Gram ``(n, n, H, W, H, W)``) followed by one ``arctan2`` + ``sqrt`` + multiply-add per
activation layer on the kernel array (the ReLU dual's elementwise core), without the bookkeeping of
variances, NTK, biases, and (conv) filter shifts.  Goal: exact/lower-bound ≤ 1.5×.  Medians of
repeats after a warm-up (compile excluded).  No GPU in this task: CPU numbers only.

Rows: NNGP only and NNGP+NTK (the NTK is a second kernel array, so ~2x is its natural cost).

    python benchmarks/bench_kernels_exact.py          # ~20 s on 2 cores
    python benchmarks/bench_kernels_exact.py --full   # bigger n
"""
from __future__ import annotations

import argparse
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from sims.kernels import stax  # noqa: E402


def _median_time(fn, *args, repeats=5):
    jax.block_until_ready(fn(*args))
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def _elementwise(k, n_act):
    for _ in range(n_act):
        s = jnp.sqrt(jnp.maximum(1.0 - k * k, 0.0))
        k = (s + (jnp.pi - jnp.arctan2(s, k)) * k) / (2 * jnp.pi)
    return k


def bench(name, layers, x, n_act, gram):
    _, _, kf = stax.serial(*layers)
    lower = jax.jit(lambda a: _elementwise(gram(a), n_act))
    tl = _median_time(lower, x)
    for get in ("nngp", ("nngp", "ntk")):
        exact = jax.jit(lambda a, g=get: kf(a, None, get=g))
        te = _median_time(exact, x)
        label = "+".join(get) if isinstance(get, tuple) else get
        print(f"{name:38s} {label:9s} exact {te * 1e3:9.2f} ms   lower bound {tl * 1e3:9.2f} ms   "
              f"ratio {te / tl:5.2f}x")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    n_fc, n_cv = (4000, 128) if args.full else (1500, 48)
    print(f"jax {jax.__version__}, backend {jax.default_backend()}, float64")
    x = rng.normal(size=(n_fc, 256))
    fc = [stax.Dense(512, W_std=1.5, b_std=0.05), stax.Relu()] * 3 + [stax.Dense(1, W_std=1.5)]
    bench(f"FC 3x(Dense-Relu), n={n_fc}, d=256", fc, x, 3, lambda a: a @ a.T / a.shape[1])
    xi = rng.normal(size=(n_cv, 8, 8, 3))
    cv = [stax.Conv(64, (3, 3), padding="SAME", W_std=1.5, b_std=0.05), stax.Relu()] * 2 + \
         [stax.GlobalAvgPool(), stax.Dense(1)]
    bench(f"Conv 2x(Conv3x3-Relu)-GAP, n={n_cv}, 8x8", cv, xi, 2,
          lambda a: jnp.einsum("ahwc,bHWc->abhwHW", a, a) / a.shape[-1])


if __name__ == "__main__":
    main()
