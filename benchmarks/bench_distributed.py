"""Beyond one machine: what Dask costs a sweep, and how a sharded kernel scales with devices.

Part 1, sweeps: the same fixed grid through ``run_sweep`` inline, on a local process pool
(``local_executor``) and on a ``dask.distributed`` ``LocalCluster`` with the same number
of single-threaded workers; both pools are started and warmed (JAX imported, the point
function compiled in every worker) before timing, and the engines take turns
(interleaved repeats), so the ratio is the steady-state scheduling overhead.  Grids: "light" (~5 ms of float64 JAX per point), "heavy"
(~50 ms per point) and no-op points (pure per-task overhead, reported per task).

Part 2, kernels: ``sims.sharding.sharded_kernel`` (NNGP of a depth-3 ReLU network:
the degree-1 arc-cosine map iterated three times) on 1, 2, 4 (``--full``: 8) virtual CPU devices, each in a fresh process
(``--xla_force_host_platform_device_count``).  Scaling efficiency = T(1) / (p T(p));
"cores busy" = CPU time / wall time.  On a CPU a single XLA device already spreads
its elementwise fusions over every core, and virtual devices share those cores, so
on a C-core machine the speed-up is bounded by C / (cores busy at p = 1) and the
efficiency beyond p = C can only fall: the numbers check the row split's overhead
and that every device count gives the same matrix, not GPU speed-up (no GPU was
available when this was written; on GPUs each device brings its own compute).

Run: ``python benchmarks/bench_distributed.py [--full] [--workers N] [--gpu]``
(``--gpu``: the kernel part on 1, 2, 4, 8 of the machine's GPUs, n = 16384).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import median_time  # noqa: E402  (benchmarks/_timing.py)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


_GD = None


def _gd():
    """GD on a random quadratic, jitted once per process (seed and step size traced)."""
    global _GD
    if _GD is None:
        import functools

        import jax
        import jax.numpy as jnp

        @functools.partial(jax.jit, static_argnames="steps")
        def run(seed, lr, *, steps):
            a = jax.random.normal(jax.random.key(seed), (64, 64))
            h = a @ a.T / 64 + jnp.eye(64)

            def step(x, _):
                x = x - lr * (h @ x)
                return x, jnp.dot(x, h @ x)

            return jax.lax.scan(step, jnp.ones(64), None, length=steps)[1][-1]

        _GD = run
    return _GD


def work_point(point):
    """float64 JAX work per point: gradient descent on a random quadratic (lax.scan)."""
    return {"loss": _gd()(point["seed"], point["lr"], steps=point["steps"])}


def trivial_point(point):
    import numpy as np

    return {"x": np.asarray(point["i"], dtype=float)}


def _time(fn, repeats):
    return median_time(fn, repeats=repeats, warmup=0)


def bench_sweeps(*, workers: int, grids: dict[str, tuple[int, int]], n_trivial: int,
                 repeats: int) -> dict:
    """Seconds per sweep of each grid ``name -> (n_points, steps)`` inline / pool / Dask."""
    from figures.core.distributed import dask_client
    from figures.core.sweep import local_executor, run_sweep

    # Point functions must be importable by workers (pickled by reference, so each worker
    # jits once): a function defined in __main__ is pickled by value for Dask, arriving
    # with fresh globals (and a fresh jit cache) in every task.  Import this file as a module.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_distributed import trivial_point, work_point

    pts = {g: [{"seed": s, "lr": 0.05, "steps": st} for s in range(n)] for g, (n, st) in grids.items()}
    warm = [{"seed": 10_000 + s, "lr": 0.05, "steps": st}
            for _, st in grids.values() for s in range(2 * workers)]  # compile in every worker
    triv = [{"i": i} for i in range(n_trivial)]
    out: dict = {}

    def sweep(ex, points, fn=work_point):  # noqa: B008
        return run_sweep(fn, points, executor=ex, progress=False)

    def losses(ex, g):
        return [float(r["loss"]) for r in sweep(ex, pts[g])]

    def warm_up(ex):
        sweep(ex, warm)
        sweep(ex, triv, trivial_point)

    import jax

    jax.config.update("jax_enable_x64", True)  # entry point of the inline run
    ref = {g: losses(None, g) for g in grids}  # also compiles inline
    t0 = time.perf_counter()
    with local_executor(workers) as pool, dask_client(f"local:{workers}") as client:
        client.wait_for_workers(workers)
        engines = {"inline": None, "pool": pool, "dask": client}
        for ex in engines.values():
            warm_up(ex)
        out["start_and_warm_up"] = time.perf_counter() - t0
        # interleaved repeats, so drifting load on a shared machine hits every engine alike
        times: dict = {(g, e): [] for g in [*grids, "trivial"] for e in engines}
        for _ in range(repeats):
            for e, ex in engines.items():
                for g in grids:
                    times[g, e].append(_time(lambda: sweep(ex, pts[g]), 1))
                times["trivial", e].append(_time(lambda: sweep(ex, triv, trivial_point), 1) / n_trivial)
        for (g, e), ts in times.items():
            out.setdefault(g, {})[e] = statistics.median(ts)
        out["identical_results"] = all(losses(ex, g) == ref[g] for ex in (pool, client) for g in grids)
    return out


KERNEL_RUN = """
import json, os, statistics, time, sys
import jax, jax.numpy as jnp, numpy as np
jax.config.update("jax_enable_x64", True)
from sims.sharding import gather, kernel_mesh, sharded_kernel

def relu_nngp(a, b, depth=3):
    # NNGP of a depth-L ReLU net (weight variance 2, no bias): the arc-cosine map
    # (Cho & Saul 2009) iterated L times; diagonals stay |x|^2 / d.
    kab = a @ b.T / a.shape[1]
    ka, kb = jnp.sum(a * a, 1) / a.shape[1], jnp.sum(b * b, 1) / b.shape[1]
    norm = jnp.sqrt(ka[:, None] * kb[None, :])
    for _ in range(depth):
        cos = jnp.clip(kab / norm, -1.0, 1.0)
        th = jnp.arccos(cos)
        kab = norm * (jnp.sin(th) + (jnp.pi - th) * cos) / jnp.pi
    return kab

n, d, repeats, counts = {n}, {d}, {repeats}, {counts}
x = np.random.default_rng(0).standard_normal((n, d))
for p in counts:  # meshes over the first p devices of this process
    mesh = kernel_mesh(jax.devices()[:p])
    run = lambda: sharded_kernel(relu_nngp, x, block_rows=256, mesh=mesh)
    run().block_until_ready()
    ts, busy = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), os.times()
        run().block_until_ready()
        t1, c1 = time.perf_counter(), os.times()
        ts.append(t1 - t0)
        busy.append((c1.user - c0.user + c1.system - c0.system) / (t1 - t0))
    k = gather(run())
    print(json.dumps({{"devices": p, "platform": jax.default_backend(),
                      "seconds": statistics.median(ts), "cores_busy": statistics.median(busy),
                      "checksum": float(np.sum(k[::97, ::89]))}}))
"""


def bench_kernel(*, devices: list[int], n: int, d: int, repeats: int, gpu: bool) -> list[dict]:
    """CPU: one fresh process per device count p, with p virtual devices.  GPU: one process,
    meshes over the first p GPUs."""
    def code(counts):
        return textwrap.dedent(KERNEL_RUN.format(n=n, d=d, repeats=repeats, counts=counts))

    if gpu:
        runs = [(dict(os.environ, PYTHONPATH=str(ROOT)), devices)]
    else:
        runs = [(dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT),
                      XLA_FLAGS=f"--xla_force_host_platform_device_count={p}"), [p]) for p in devices]
    rows = []
    for env, counts in runs:
        proc = subprocess.run([sys.executable, "-c", code(counts)], cwd=ROOT, env=env,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"kernel benchmark failed:\n{proc.stderr[-3000:]}")
        rows += [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="bigger grids and kernels, up to 8 devices")
    ap.add_argument("--workers", type=int, default=2, help="pool / LocalCluster workers (default 2)")
    ap.add_argument("--skip-sweeps", action="store_true")
    ap.add_argument("--skip-kernels", action="store_true")
    ap.add_argument("--gpu", action="store_true",
                    help="kernel part on the machine's GPUs (1, 2, 4, 8 of them) instead of "
                         "virtual CPU devices")
    args = ap.parse_args(argv)
    print(f"bench_distributed: {os.cpu_count()} CPU cores; medians of repeats\n")

    if not args.skip_sweeps:
        grids = {"light": (64, 20_000), "heavy": (16, 200_000)}
        if args.full:
            grids = {"light": (256, 20_000), "heavy": (64, 200_000)}
        s = bench_sweeps(workers=args.workers, grids=grids, n_trivial=400 if args.full else 100,
                         repeats=5)
        print(f"Sweeps, {args.workers} workers (GD on a 64-d quadratic, float64, per point):")
        print(f"  {'grid':28s} {'inline':>8s} {'pool':>8s} {'dask':>8s} {'dask/pool':>9s} {'pool/inline':>11s}")
        for g, (n, st) in grids.items():
            r = s[g]
            print(f"  {g + f' {n} pts x {st} steps':28s} {r['inline']:8.3f} {r['pool']:8.3f} "
                  f"{r['dask']:8.3f} {r['dask'] / r['pool']:9.2f} {r['pool'] / r['inline']:11.2f}")
        t = s["trivial"]
        print(f"  per-task overhead (no-op points): pool {1e3 * t['pool']:.2f} ms, "
              f"dask {1e3 * t['dask']:.2f} ms, inline {1e3 * t['inline']:.3f} ms")
        print(f"  start + warm-up of both pools: {s['start_and_warm_up']:.1f} s")
        print(f"  results identical (inline = pool = dask): {s['identical_results']}\n")

    if not args.skip_kernels:
        devices = [1, 2, 4, 8] if args.full or args.gpu else [1, 2, 4]
        if args.gpu:
            import jax

            devices = [p for p in devices if p <= jax.device_count()]
        n, d = (16384, 64) if args.gpu else (8192, 64) if args.full else (4096, 64)
        rows = bench_kernel(devices=devices, n=n, d=d, repeats=5 if args.full else 3, gpu=args.gpu)
        kind = f"{rows[0]['platform']} devices" if args.gpu else "virtual CPU devices"
        print(f"Sharded depth-3 ReLU NNGP kernel matrix {n} x {n} (d={d}), {kind}:")
        print(f"  {'devices':>7s} {'seconds':>9s} {'speed-up':>9s} {'efficiency':>10s} {'cores busy':>10s}")
        t1 = rows[0]["seconds"]
        for r in rows:
            p = r["devices"]
            print(f"  {p:7d} {r['seconds']:9.3f} {t1 / r['seconds']:9.2f} "
                  f"{t1 / (p * r['seconds']):10.2f} {r['cores_busy']:10.2f}")
        same = len({round(r["checksum"], 9) for r in rows}) == 1
        print(f"  same matrix on every device count (checksum): {same}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
