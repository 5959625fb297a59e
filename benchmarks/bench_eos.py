"""Benchmark for sims.eos: sharpness by HVP-Lanczos vs the dense Hessian; vmapped eta-sweep vs loop.

1. Sharpness of the symmetric ReLU net (network (2) of arXiv:2212.07469, sparse-coding data,
   n = 100, d = 20) at a random point, for growing parameter counts p:
   * dense: ``jax.hessian`` (compiled) + ``numpy.linalg.eigvalsh``  -- O(p) HVPs + O(p^3);
   * eigsh: ``scipy.sparse.linalg.eigsh`` on a jitted HVP ``LinearOperator`` (Cohen et al.'s way);
   * lanczos: the jitted 20-step :func:`sims.eos.lanczos_top` (what GD runs use inside scan).
   Times are medians of repeats after one warm-up call (compilation excluded; reported apart).
2. A GD sweep over B step sizes (d = 200, n = 300, m = 20, 500 steps): one vmapped
   :func:`sims.eos.gd_sweep` vs a Python loop over a jitted single-eta run (compiled once).
3. Network (2) of Fig. 1 (:class:`sims.eos.ThresholdNet`, d = 200, n = 300): a vmapped GD
   sweep with the loss evaluated from sorted rows + prefix sums (``O(n log d)`` per step, what
   ``figures/eos_fig1.py`` runs) vs the direct ReLU formula (``O(n d)``); same iterates.

Run: ``.venv/bin/python benchmarks/bench_eos.py [--full]``.
"""
from __future__ import annotations

import argparse
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from _timing import median_time  # noqa: E402  (benchmarks/_timing.py)
from sims.eos import (SymReLUNet, ThresholdNet, dense_hessian, gd_single,  # noqa: E402
                      gd_sweep, hvp, lanczos_top, sparse_coding, top_eigenvalues)


def _median_time(fn, repeats):
    return median_time(fn, repeats=repeats, warmup=0)


def bench_sharpness(widths, repeats):
    d, n = 20, 100
    data = sparse_coding(jax.random.key(0), n, d, lam=3.0)
    print("\n== sharpness: dense Hessian vs HVP-Lanczos (median of %d, compile excluded) ==" % repeats)
    print(f"{'p':>7} {'dense [s]':>10} {'eigsh [s]':>10} {'lanczos20 [s]':>14} "
          f"{'dense/eigsh':>12} {'dense/lanczos':>14} {'rel.err lanczos':>16}")
    for m in widths:
        net = SymReLUNet(d, m)
        th = net.init(jax.random.key(1), a_scale=1.0, w_scale=0.3, b0=-0.2)
        xy = (data.x, data.y)
        v0 = jax.random.normal(jax.random.key(2), (net.size,), jnp.float64)
        lz = jax.jit(lambda t, x, y: lanczos_top(lambda v: hvp(net.loss, t, v, x, y), v0,
                                                 iters=20))

        def dense():
            return np.linalg.eigvalsh(dense_hessian(net.loss, th, data=xy))[-1]

        def eig():
            return top_eigenvalues(net.loss, th, data=xy, k=1, tol=1e-10)[0]

        def lan():
            return float(lz(th, *xy))

        t0 = time.perf_counter()
        ref = dense()
        c_dense = time.perf_counter() - t0
        eig(), lan()
        td, te, tl = (_median_time(f, repeats) for f in (dense, eig, lan))
        err = abs(lan() / ref - 1)
        print(f"{net.size:>7} {td:>10.4f} {te:>10.4f} {tl:>14.4f} {td / te:>12.1f} "
              f"{td / tl:>14.1f} {err:>16.1e}   (dense first call incl. compile {c_dense:.2f} s)")


def bench_sweep(n_etas, steps, repeats):
    d, n, m = 200, 300, 20
    tr = sparse_coding(jax.random.key(3), n, d, lam=3.0)
    net = SymReLUNet(d, m)
    th = net.init(jax.random.key(4), a_scale=m ** -0.5, w_scale=d ** -0.5)
    etas = np.linspace(0.1, 2.0, n_etas)
    xy = (tr.x, tr.y)

    def vm():
        return gd_sweep(net.loss, th, etas, steps=steps, record_every=steps, data=xy).theta

    def loop():
        return np.stack([np.asarray(gd_single(net.loss, th, float(e), steps=steps, data=xy))
                         for e in etas])

    t0 = time.perf_counter()
    a = vm()
    c_vm = time.perf_counter() - t0
    t0 = time.perf_counter()
    b = loop()
    c_loop = time.perf_counter() - t0
    assert np.allclose(a, b, rtol=1e-9, atol=1e-12)
    tv, tl = _median_time(vm, repeats), _median_time(loop, repeats)
    print(f"\n== GD eta-sweep: {n_etas} step sizes x {steps} steps, p = {net.size} "
          f"(median of {repeats}) ==")
    print(f"{'':>22} {'vmap [s]':>10} {'loop [s]':>10} {'loop/vmap':>10}")
    print(f"{'steady state':>22} {tv:>10.3f} {tl:>10.3f} {tl / tv:>10.2f}")
    print(f"{'first call (compile)':>22} {c_vm:>10.3f} {c_loop:>10.3f} {c_loop / c_vm:>10.2f}")


def bench_network2(n_etas, steps, repeats):
    d, n = 200, 300
    tr = sparse_coding(jax.random.key(5), n, d, lam=3.0)
    net = ThresholdNet(d)
    th = net.init(jax.random.key(6))
    etas = np.linspace(2e-4, 1.2e-2, n_etas)
    fs = (*net.features(tr.x), tr.y)
    xy = (tr.x, tr.y)

    def srt():
        return gd_sweep(net.loss, th, etas, steps=steps, record_every=steps, data=fs).theta

    def direct():
        return gd_sweep(net.loss_direct, th, etas, steps=steps, record_every=steps,
                        data=xy).theta

    a, b = srt(), direct()
    assert np.allclose(a, b, rtol=1e-9, atol=1e-12)
    ts, td = _median_time(srt, repeats), _median_time(direct, repeats)
    us = 1e6 / (n_etas * steps)
    print(f"\n== network (2): {n_etas} step sizes x {steps} steps, d = {d}, n = {n} "
          f"(median of {repeats}) ==")
    print(f"{'sorted [s]':>11} {'direct [s]':>11} {'direct/sorted':>14} "
          f"{'us/eta-step sorted':>19} {'direct':>8}")
    print(f"{ts:>11.3f} {td:>11.3f} {td / ts:>14.1f} {ts * us:>19.1f} {td * us:>8.1f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="larger parameter counts and sweeps")
    args = ap.parse_args()
    print(f"jax {jax.__version__}, backend {jax.default_backend()}, devices {jax.devices()}")
    if args.full:
        bench_sharpness([5, 20, 80, 160, 320], repeats=3)
        bench_sweep(32, 2000, repeats=3)
        bench_network2(28, 5000, repeats=3)
    else:
        bench_sharpness([5, 20, 80, 160], repeats=5)
        bench_sweep(16, 500, repeats=3)
        bench_network2(16, 2000, repeats=3)


if __name__ == "__main__":
    main()
