"""Exact NNGP / NTK (sims.kernels.stax) vs a bare-matmul lower bound, measured side by side (CPU).

What the lower bound contains (jitted, float64, the same XLA as the exact kernel):

- the input Gram ``X Xᵀ/d`` as one matrix product — for images the full spatial Gram
  ``(n·HW, C)(C, n·HW)`` reshaped to ``(n, H, W, n, H, W)`` (its own layout; no transpose), the
  smallest array any exact convolutional kernel with global pooling must hold;
- per activation layer, the elementwise core of the ReLU dual on that array:
  ``s = √max(1 − k², 0)``, ``θ = arctan2(s, k)``, ``k ← (s + (π − θ) k)/(2π)``;
- NTK rows only: per layer the NTK array's own elementwise update with the same ``θ``,
  ``Θ ← k_new + (π − θ)/(2π)·Θ`` (starting from ``Θ = k``), i.e. one more array read and written.

It leaves out what the exact kernel must also do: the variances ``q11, q22`` and their products,
weights and biases, the filter sums of each Conv after the first (a shifted 3x3 window average of
the whole array), zero padding, and the final pooling / readout.  So the ratio exact / bound is an
upper bound on the exact kernel's overhead.  The bound's NTK form is timed in three codings of the
same arithmetic — as written, with an ``optimization_barrier`` per layer, and packed as one complex
array ``k + iΘ`` per layer (the trick the exact conv kernel uses) — and the fastest median is used.
Goal (issue #4): exact ≤ 1.5x bound.

Timing: after one warm-up call (compile excluded), ``--repeats`` interleaved rounds (each round runs
every function once, so load changes hit all rows alike); medians of wall-clock time and of process
CPU time (``time.process_time``, all threads) are printed with the ratio of medians.  On a shared
machine CPU time is the steadier measure (wall time includes waiting for a core); both are shown.

Measured (2026-12-01, jax 0.10.2, XLA:CPU, the 2-core machine shared with other jobs at load 5-7,
so single timings move by ±30% and wall ratios more than CPU ones; medians of 7-9 rounds, this
file's bound for both columns; "before" is commit 7632e6f's ``stax`` in this same harness):

    row (default sizes)            before: CPU / wall     after: CPU / wall
    FC 3x(Dense-Relu), n=1500
        NNGP                       1.18x / 1.20x          1.01x / 1.03x
        NNGP+NTK                   1.22x / 1.31x          0.95x / 0.82x
    Conv 2x(Conv3x3-Relu)-GAP, n=48, 8x8
        NNGP                       2.68x / 1.94x          1.20x / 1.08x
        NNGP+NTK                   3.59x / 3.96x          1.30x / 1.46x

(Against the older, NNGP-only bound of the previous version of this file the README quoted FC
NNGP 1.0-1.1x, FC NNGP+NTK 1.8-2.2x, conv 3.1-4.4x.)  A ratio below 1 means XLA fused the exact
kernel's code better than the bare bound's; it does not mean less arithmetic.  What made the
difference (each profiled on this benchmark): the first Conv from a patch Gram; pad once + fused filter taps;
``√(q11 q22 − q12²)`` in the ReLU dual (no broadcast ``√P`` or division); ``nngp + i·ntk`` packing
through Conv/GAP; GAP as a matvec (see ``sims.kernels.stax``).

``--full`` (n = 4000 FC, 96 conv; medians of 5): FC NNGP 1.00x / 0.88x, FC NNGP+NTK 0.99x / 1.09x,
conv NNGP 1.17x / 1.18x, conv NNGP+NTK 1.31x / 1.50x (CPU / wall).  No GPU in this task: CPU only.

    python benchmarks/bench_kernels_exact.py            # ~1 min on 2 shared cores
    python benchmarks/bench_kernels_exact.py --full     # bigger n
    python benchmarks/bench_kernels_exact.py --entries  # ms/entry rows (issue #20 item 8), ~2 min
"""
from __future__ import annotations

import argparse
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from _timing import interleaved  # noqa: E402
from sims.kernels import stax  # noqa: E402


def _relu_core(k):
    s = jnp.sqrt(jnp.maximum(1.0 - k * k, 0.0))
    theta = jnp.arctan2(s, k)
    return (s + (jnp.pi - theta) * k) / (2 * jnp.pi), (jnp.pi - theta) / (2 * jnp.pi)


def lower_bound(gram, n_act: int, *, ntk: bool, coding: str = "plain"):
    """The bound of the module docstring as a function of the inputs.

    ``coding`` (NTK only): ``"plain"``, ``"barrier"`` (``optimization_barrier`` on both arrays after each
    layer) or ``"complex"`` (both arrays packed as ``k + iΘ`` between layers, the trick
    ``sims.kernels.stax`` uses around Conv and pooling).  Same arithmetic; the fastest is the bound.
    """

    def fn(x):
        k = gram(x)
        theta_k = k
        z = jax.lax.complex(k, theta_k) if coding == "complex" else None
        for _ in range(n_act):
            if z is not None:
                k, theta_k = jnp.real(z), jnp.imag(z)
            k, tdot = _relu_core(k)
            if ntk:
                theta_k = k + tdot * theta_k
                if coding == "barrier":
                    k, theta_k = jax.lax.optimization_barrier((k, theta_k))
                elif coding == "complex":
                    z = jax.lax.optimization_barrier(jax.lax.complex(k, theta_k))
        if z is not None:
            return jnp.real(z), jnp.imag(z)
        return (k, theta_k) if ntk else k

    return jax.jit(fn)


def _gram_fc(x):
    return x @ x.T / x.shape[1]


def _gram_conv(x):
    n, h, w, c = x.shape
    f = x.reshape(n * h * w, c)
    return (f @ f.T / c).reshape(n, h, w, n, h, w)  # the matmul's own layout: no transpose pass


def _gram_conv_diag(x):
    n, h, w, c = x.shape
    f = x.reshape(n, h * w, c)
    return jnp.einsum("apc,bpc->abp", f, f) / c   # same-position pairs only (diagonal-spatial bound)


def _time_interleaved(fns: dict, x, repeats: int):
    """Medians of wall time (``benchmarks/_timing.interleaved``) and of process CPU time per call."""
    cpu = {k: [] for k in fns}

    def timed(k, f):
        def call():
            c0 = time.process_time()
            out = jax.block_until_ready(f(x))
            cpu[k].append(time.process_time() - c0)
            return out
        return call

    wall = interleaved({k: timed(k, f) for k, f in fns.items()}, repeats=repeats, warmup=1)
    return wall, {k: float(np.median(v[1:])) for k, v in cpu.items()}   # v[0]: the warm-up call


def bench(name, layers, x, n_act, gram, repeats):
    """Print NNGP and NNGP+NTK rows: exact vs bound, CPU-time and wall-clock medians."""
    _, _, kf = stax.serial(*layers)
    fns = {
        "exact_nngp": jax.jit(lambda a: kf(a, None, get="nngp")),
        "exact_ntk": jax.jit(lambda a: kf(a, None, get=("nngp", "ntk"))),
        "bound_nngp": lower_bound(gram, n_act, ntk=False),
        "bound_ntk": lower_bound(gram, n_act, ntk=True),
        "bound_ntk_barrier": lower_bound(gram, n_act, ntk=True, coding="barrier"),
        "bound_ntk_complex": lower_bound(gram, n_act, ntk=True, coding="complex"),
    }
    wall, cpu = _time_interleaved(fns, x, repeats)
    rows = []
    for label, ex, bounds in (("nngp", "exact_nngp", ("bound_nngp",)),
                              ("nngp+ntk", "exact_ntk", ("bound_ntk", "bound_ntk_barrier", "bound_ntk_complex"))):
        bc = min(cpu[b] for b in bounds)
        bw = min(wall[b] for b in bounds)
        entries = x.shape[0] ** 2
        print(f"{name:36s} {label:9s} CPU exact {cpu[ex] * 1e3:8.1f} ms  bound {bc * 1e3:8.1f} ms  "
              f"ratio {cpu[ex] / bc:5.2f}x  |  wall exact {wall[ex] * 1e3:8.1f} ms  bound {bw * 1e3:8.1f} ms  "
              f"ratio {wall[ex] / bw:5.2f}x  |  {wall[ex] * 1e3 / entries:.2e} ms/entry (wall)")
        rows.append((name, label, cpu[ex] / bc, wall[ex] / bw))
    return rows


def bench_entries(repeats: int, *, full: bool = False):
    """``--entries``: time per kernel entry (ms/entry, neural-tangents README format), NNGP+NTK, CPU.

    Rows: FC ``3x(Dense-Relu)``; the pooling-free CNN of issue #20 ``[Conv3x3 SAME-Relu]x3-Flatten-Dense``
    on 8x8x3 by the diagonal-spatial path (chosen by ``kernel_fn`` from the Flatten readout) and by the
    full-covariance path (``diagonal_spatial=False``); ``Conv 2x(Conv3x3-Relu)-GAP``; Myrtle-5 on 32x32x3.
    Each with its lower bound (module docstring; for the diagonal path the same-position Gram) where one
    is defined.  neural-tangents' README quotes GPU (V100) times per entry; no GPU in this task.
    """
    rng = np.random.default_rng(1)
    n_fc, n_cnn, n_full, n_gap, n_myr = (4000, 256, 16, 96, 8) if full else (1500, 128, 8, 48, 4)
    conv = lambda c: stax.Conv(c, (3, 3), padding="SAME", W_std=1.5, b_std=0.05)  # noqa: E731
    cnn = stax.serial(*[conv(64), stax.Relu()] * 3, stax.Flatten(), stax.Dense(1, W_std=1.5))
    rows = [
        ("FC 3x(Dense-Relu), d=256", stax.serial(*[stax.Dense(512, W_std=1.5, b_std=0.05), stax.Relu()] * 3,
                                                 stax.Dense(1, W_std=1.5)), (n_fc, 256), None, (_gram_fc, 3)),
        ("[Conv-Relu]x3-Flatten 8x8x3, diagonal", cnn, (n_cnn, 8, 8, 3), None, (_gram_conv_diag, 3)),
        ("[Conv-Relu]x3-Flatten 8x8x3, full cov", cnn, (n_full, 8, 8, 3), False, (_gram_conv, 3)),
        ("Conv 2x(Conv3x3-Relu)-GAP, 8x8x3", stax.serial(*[conv(64), stax.Relu()] * 2, stax.GlobalAvgPool(),
                                                         stax.Dense(1)), (n_gap, 8, 8, 3), None, (_gram_conv, 2)),
        ("Myrtle-5, 32x32x3", stax.Myrtle(5), (n_myr, 32, 32, 3), None, (_gram_conv, 2)),
    ]
    print(f"time per kernel entry, NNGP+NTK of K(x, x), medians of {repeats} interleaved rounds (CPU)")
    out = {}
    for name, net, shape, ds, (gram, n_act) in rows:
        x = jnp.asarray(rng.normal(size=shape))
        kf = net.kernel_fn
        fns = {"exact": jax.jit(lambda a, kf=kf, ds=ds: kf(a, None, get=("nngp", "ntk"), diagonal_spatial=ds)),
               "bound": lower_bound(gram, n_act, ntk=True, coding="complex")}
        wall, cpu = _time_interleaved(fns, x, repeats)
        e = shape[0] ** 2
        out[name] = wall["exact"] / e
        print(f"{name:40s} n={shape[0]:5d}  {wall['exact'] * 1e3 / e:.3e} ms/entry (wall), "
              f"{cpu['exact'] * 1e3 / e:.3e} (CPU)  bound {wall['bound'] * 1e3 / e:.3e}  "
              f"ratio {cpu['exact'] / cpu['bound']:.2f}x (CPU)")
    a, b = out["[Conv-Relu]x3-Flatten 8x8x3, full cov"], out["[Conv-Relu]x3-Flatten 8x8x3, diagonal"]
    print(f"pooling-free CNN: diagonal-spatial path {a / b:.1f}x faster per entry than the full covariance")
    return out


def bench_empirical(widths=(64, 256, 1024), ns=(8, 32), repeats: int = 3):
    """``--empirical``: wall time of the three empirical-NTK methods (Novak et al. 2022) vs width and n.

    FC net ``Dense(w)-Relu-Dense(w)-Relu-Dense(1)`` on d = 32 inputs, float64, jitted, median of
    ``repeats`` calls after one compile call; the ``n × n`` kernel of ``x`` with itself.  The paper's
    claim for FCNs: Jacobian contraction costs ``O(n² k P)`` with ``P ~ w²`` parameters, structured
    derivatives ``O(n² k w·L)`` plus ``n`` Jacobians of the pre-activations, so their ratio grows
    ~linearly with the width ``w``.
    """
    from sims.kernels.empirical_ntk import IMPLEMENTATIONS, empirical_ntk_fn

    rng = np.random.default_rng(0)
    rows = []
    for w in widths:
        init_fn, apply_fn, _ = stax.serial(stax.Dense(w, W_std=1.5, b_std=0.1), stax.Relu(),
                                           stax.Dense(w, W_std=1.5, b_std=0.1), stax.Relu(),
                                           stax.Dense(1, W_std=1.5))
        for n in ns:
            x = jnp.asarray(rng.normal(size=(n, 32)))
            _, params = init_fn(jax.random.key(0), x.shape)
            fns = {impl: empirical_ntk_fn(apply_fn, implementation=impl) for impl in IMPLEMENTATIONS}
            times = interleaved({k: (lambda f=f: f(x, None, params)) for k, f in fns.items()}, repeats=repeats)
            rows.append((w, n, times))
            print(f"width {w:5d} n {n:4d}  " + "  ".join(f"{k} {v * 1e3:9.2f} ms" for k, v in times.items())
                  + f"  jacobian/structured {times['jacobian'] / times['structured']:.1f}x")
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="bigger n")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--empirical", action="store_true",
                    help="time the three empirical-NTK implementations vs width and n instead")
    ap.add_argument("--entries", action="store_true",
                    help="time per kernel entry (ms/entry) for FC, conv, pooling-free CNN, Myrtle-5 instead")
    args = ap.parse_args(argv)
    if args.empirical:
        bench_empirical(widths=(64, 256, 1024, 2048) if args.full else (64, 256, 1024))
        return
    if args.entries:
        bench_entries(min(args.repeats, 5), full=args.full)
        return
    rng = np.random.default_rng(0)
    n_fc, n_cv = (4000, 96) if args.full else (1500, 48)
    print(f"jax {jax.__version__}, backend {jax.default_backend()}, float64, medians of {args.repeats} "
          f"interleaved rounds")
    x = rng.normal(size=(n_fc, 256))
    fc = [stax.Dense(512, W_std=1.5, b_std=0.05), stax.Relu()] * 3 + [stax.Dense(1, W_std=1.5)]
    rows = bench(f"FC 3x(Dense-Relu), n={n_fc}, d=256", fc, x, 3, _gram_fc, args.repeats)
    xi = rng.normal(size=(n_cv, 8, 8, 3))
    cv = [stax.Conv(64, (3, 3), padding="SAME", W_std=1.5, b_std=0.05), stax.Relu()] * 2 + \
         [stax.GlobalAvgPool(), stax.Dense(1)]
    rows += bench(f"Conv 2x(Conv3x3-Relu)-GAP, n={n_cv}, 8x8", cv, xi, 2, _gram_conv, args.repeats)
    worst = max(r[2] for r in rows)
    print(f"worst CPU-time ratio {worst:.2f}x (goal 1.5x: {'met' if worst <= 1.5 else 'NOT met'})")


if __name__ == "__main__":
    main()
