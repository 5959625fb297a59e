"""Sketched (sims.kernels.sketch) vs exact (sims.kernels.stax) NTK: wall time at growing n, side by side.

Han et al. 2022 (arXiv:2209.04121) report a 106x speedup of the sketched Myrtle-5 CNTK over the exact one
on CIFAR-10 on a GPU.  Here: CPU only (no GPU in this task), float64, the nets and m of
``figures/nk_sketch_speed.py`` (FC ``[Dense-Relu]x2-Dense`` on ``N(0, I_64)`` inputs; CNTK
``[Conv3x3-Relu-AvgPool2]x2-Flatten-Dense`` on ``(8, 8, 1)`` images), ReLU random features.

Exact = NNGP+NTK train Gram ``(n, n)`` by ``kernel_matrix`` in fixed blocks; sketch = the feature map of
the ``n`` inputs in fixed row batches (what primal ridge regression needs; no ``n x n`` Gram).  Both
compiled once (warm-up excluded; the median of repeats also drops the first call at each n, which
compiles kernel_matrix's eager block concatenation), exact and sketch alternating, medians of repeats.  Tables: (1) time and ratio exact/sketch vs n, with the crossover n; (2) feature-map time vs the
sketch dimension m at fixed n, with the fitted exponent in m.

    python benchmarks/bench_kernels_sketch.py          # ~30 s on 2 idle cores (~80 s under load)
    python benchmarks/bench_kernels_sketch.py --full   # bigger n and m
"""
from __future__ import annotations

import argparse

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from figures.nk_sketch_speed import (  # noqa: E402
    FIGURE, LABEL, build, crossover, input_shape, seconds, time_arch, timers)


def table_n(arch: str, cfg: dict, ns, repeats: int) -> None:
    t = time_arch(arch, cfg, ns=ns, repeats=repeats, rng=np.random.default_rng(0), key=jax.random.key(0))
    med = {k: np.median(v, 0) for k, v in t.items()}
    print(f"\n{LABEL[arch]}, m = {cfg[f'{arch}_m']}, block/batch {cfg[f'{arch}_bs']}, "
          f"median of {repeats} (CPU = process time over all threads)")
    print(f"{'n':>7s} {'exact (ms)':>11s} {'sketch (ms)':>12s} {'exact/sketch':>13s} "
          f"{'CPU exact/sketch':>17s}")
    for j, n in enumerate(ns):
        e, s = med["wall_exact"][j], med["wall_sketch"][j]
        print(f"{n:7d} {e * 1e3:11.1f} {s * 1e3:12.1f} {e / s:12.2f}x "
              f"{med['cpu_exact'][j] / med['cpu_sketch'][j]:16.2f}x")
    q = med["wall_exact"] / med["wall_sketch"]
    xo = crossover(np.asarray(ns, float), q)
    where = ("not within the grid" if np.isnan(xo) else
             f"at every n >= {ns[0]}" if xo == ns[0] else f"from n ~ {xo:.0f}")
    slope = lambda k: np.polyfit(np.log(ns), np.log(med[k]), 1)[0]  # noqa: E731
    print(f"sketch wins (wall) {where}; {q[-1]:.1f}x at n = {ns[-1]}; time exponents over all n, wall "
          f"(CPU): exact {slope('wall_exact'):.2f} ({slope('cpu_exact'):.2f}), sketch "
          f"{slope('wall_sketch'):.2f} ({slope('cpu_sketch'):.2f})")


def table_m(arch: str, cfg: dict, n: int, ms, repeats: int) -> None:
    bs = cfg[f"{arch}_bs"]
    x = jnp.asarray(np.random.default_rng(1).normal(size=(n,) + input_shape(arch)))
    print(f"\n{LABEL[arch]}: feature-map time vs m at n = {n}, median of {repeats}")
    print(f"{'m':>7s} {'sketch (ms)':>12s} {'features (nngp, ntk)':>22s}")
    ts = []
    for m in ms:
        _, sketched = timers(*build(arch, cfg, m=m), x, bs=bs, key=jax.random.key(0), with_exact=False)
        out = sketched(x)
        t = float(np.median([seconds(lambda: sketched(x))[0] for _ in range(repeats)]))
        ts.append(t)
        print(f"{m:7d} {t * 1e3:12.1f} {str((out[0].nngp.shape[-1], out[0].ntk.shape[-1])):>22s}")
    print(f"time ~ m^{np.polyfit(np.log(ms), np.log(ts), 1)[0]:.2f} over m = {ms[0]}..{ms[-1]}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="bigger n and m (several minutes)")
    args = ap.parse_args(argv)
    cfg = dict(FIGURE.config, seed=0)
    print(f"jax {jax.__version__}, backend {jax.default_backend()}, float64, CPU cores shared")
    if args.full:
        fc_ns, cv_ns, rep = [256, 512, 1024, 2048, 4096, 8192, 16384], [16, 32, 64, 128, 256, 512], 5
        fc_ms, cv_ms = [256, 512, 1024, 2048, 4096, 8192], [64, 128, 256, 512, 1024]
    else:
        fc_ns, cv_ns, rep = [256, 512, 1024, 2048, 4096], [16, 32, 64, 128, 256], 3
        fc_ms, cv_ms = [256, 512, 1024, 2048], [64, 128, 256, 512]
    table_n("fc", cfg, fc_ns, rep)
    table_n("conv", cfg, cv_ns, rep)
    table_m("fc", cfg, 2048, fc_ms, rep)
    table_m("conv", cfg, 64, cv_ms, rep)


if __name__ == "__main__":
    main()
