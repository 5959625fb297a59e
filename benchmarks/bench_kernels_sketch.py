"""Sketched (sims.kernels.sketch) vs exact (sims.kernels.stax) NTK: wall time at growing n, side by side.

Han et al. 2022 (arXiv:2209.04121) report a 106x speedup of the sketched Myrtle-5 CNTK over the exact one
on CIFAR-10 on a GPU.  Here: CPU only (no GPU in this task), float64, the nets and m of
``figures/nk_sketch_speed.py`` (FC ``[Dense-Relu]x2-Dense`` on ``N(0, I_64)`` inputs; CNTK
``[Conv3x3-Relu-AvgPool2]x2-Flatten-Dense`` on ``(8, 8, 1)`` images), ReLU random features.

Exact = NNGP+NTK train Gram ``(n, n)`` by ``kernel_matrix`` in fixed blocks; sketch = the feature map of
the ``n`` inputs in fixed row batches (what primal ridge regression needs; no ``n x n`` Gram).  Both
compiled once (warm-up excluded; ``benchmarks/_timing.interleaved`` also calls both once untimed at each
n, which compiles kernel_matrix's eager block concatenation), exact and sketch interleaved, medians.  Tables: (1) time and ratio exact/sketch vs n, with the crossover n; (2) feature-map time vs the
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

from _timing import interleaved, median_time  # noqa: E402
from sims.kernels import nets  # noqa: E402
from sims.kernels.timing import crossover, timers  # noqa: E402

# the nets, m and block sizes of figures/nk_sketch_speed.py (defaults there)
CFG = {"fc": {"depth": 2, "m": 1024, "bs": 256}, "conv": {"blocks": 2, "m": 512, "bs": 16}, "method": "rf"}
LABEL = {"fc": "FC NTK (ReLU)", "conv": "CNTK (ReLU, 8x8)"}
SHAPE = {"fc": (64,), "conv": (8, 8, 1)}


def build(arch: str, m: int):
    net = nets.fc(depth=CFG["fc"]["depth"]) if arch == "fc" else nets.conv(blocks=CFG["conv"]["blocks"])
    return nets.paired(net, m=m, method=CFG["method"])


def table_n(arch: str, ns, repeats: int) -> None:
    bs, m = CFG[arch]["bs"], CFG[arch]["m"]
    x_all = jnp.asarray(np.random.default_rng(0).normal(size=(max(ns),) + SHAPE[arch]))
    exact, sketched = timers(*build(arch, m), x_all, bs=bs, key=jax.random.key(0))
    print(f"\n{LABEL[arch]}, m = {m}, block/batch {bs}, median of {repeats} interleaved rounds (wall)")
    print(f"{'n':>7s} {'exact (ms)':>11s} {'sketch (ms)':>12s} {'exact/sketch':>13s}")
    med = {"exact": [], "sketch": []}
    for n in ns:
        x = x_all[:n]
        t = interleaved({"exact": lambda: exact(x), "sketch": lambda: sketched(x)}, repeats=repeats)
        for k in med:
            med[k].append(t[k])
        print(f"{n:7d} {t['exact'] * 1e3:11.1f} {t['sketch'] * 1e3:12.1f} {t['exact'] / t['sketch']:12.2f}x")
    e, s = np.array(med["exact"]), np.array(med["sketch"])
    q = e / s
    xo = crossover(np.asarray(ns, float), q)
    where = ("not within the grid" if np.isnan(xo) else
             f"at every n >= {ns[0]}" if xo == ns[0] else f"from n ~ {xo:.0f}")
    slope = lambda y: np.polyfit(np.log(ns), np.log(y), 1)[0]  # noqa: E731
    print(f"sketch wins {where}; {q[-1]:.1f}x at n = {ns[-1]}; time exponents over all n: exact "
          f"{slope(e):.2f}, sketch {slope(s):.2f}")


def table_m(arch: str, n: int, ms, repeats: int) -> None:
    bs = CFG[arch]["bs"]
    x = jnp.asarray(np.random.default_rng(1).normal(size=(n,) + SHAPE[arch]))
    print(f"\n{LABEL[arch]}: feature-map time vs m at n = {n}, median of {repeats}")
    print(f"{'m':>7s} {'sketch (ms)':>12s} {'features (nngp, ntk)':>22s}")
    ts = []
    for m in ms:
        _, sketched = timers(*build(arch, m), x, bs=bs, key=jax.random.key(0), with_exact=False)
        out = sketched(x)
        t = median_time(lambda: sketched(x), repeats=repeats)
        ts.append(t)
        print(f"{m:7d} {t * 1e3:12.1f} {str((out[0].nngp.shape[-1], out[0].ntk.shape[-1])):>22s}")
    print(f"time ~ m^{np.polyfit(np.log(ms), np.log(ts), 1)[0]:.2f} over m = {ms[0]}..{ms[-1]}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="bigger n and m (several minutes)")
    args = ap.parse_args(argv)
    print(f"jax {jax.__version__}, backend {jax.default_backend()}, float64, CPU cores shared")
    if args.full:
        fc_ns, cv_ns, rep = [256, 512, 1024, 2048, 4096, 8192, 16384], [16, 32, 64, 128, 256, 512], 5
        fc_ms, cv_ms = [256, 512, 1024, 2048, 4096, 8192], [64, 128, 256, 512, 1024]
    else:
        fc_ns, cv_ns, rep = [256, 512, 1024, 2048, 4096], [16, 32, 64, 128, 256], 3
        fc_ms, cv_ms = [256, 512, 1024, 2048], [64, 128, 256, 512]
    table_n("fc", fc_ns, rep)
    table_n("conv", cv_ns, rep)
    table_m("fc", 2048, fc_ms, rep)
    table_m("conv", 64, cv_ms, rep)


if __name__ == "__main__":
    main()
