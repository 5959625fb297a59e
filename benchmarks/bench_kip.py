"""KIP with an exact vs a sketched (random-feature) ConvNet kernel: time per step, accuracy at fixed time.

Kernel: NNGP of Conv(3x3, SAME)-Relu-GlobalAvgPool-Dense, one ``sims.kernels.stax`` description: the
exact ``kernel_fn`` and the sketch derived from it by ``sims.kernels.sketch.from_stax`` (ReLU random
features, m channels, fixed seed; RFAD-style, Loo et al. 2022).  The exact kernel costs
O(n_t n_s (HW)^2) per step; the sketch embeds the training set once and costs O(n_s HW 9C m + n_t n_s m).
Both run KIP on sklearn's 8x8 digits from the same random class-balanced start, measured
side by side in one run (interleaved repeats, medians).  "Accuracy at fixed wall-clock":
each method gets the same time budget of KIP steps (compile time excluded), and the learned
support set is scored by KRR with the *exact* kernel on the held-out split.

    python benchmarks/bench_kip.py            # small default, ~1-2 minutes on 2 cores
    python benchmarks/bench_kip.py --full     # bigger support/target sets, longer budget
"""
from __future__ import annotations

import argparse
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402

from _timing import interleaved  # noqa: E402
from sims.kernels import sketch, stax  # noqa: E402
from sims.kip import (centered_one_hot, embed_batched, exact_kernel, load_digits_split,  # noqa: E402
                      sketch_kernel, support_accuracy)
from sims.kip.data import class_table  # noqa: E402
from sims.kip.kip import chunk_runner, kip_init, sample_balanced  # noqa: E402


def _block(tree):
    return jax.tree.map(lambda a: a.block_until_ready(), tree)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="bigger sizes and time budget")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    ipc, tpc, m, budget_s, chunk = (10, 20, 1024, 60.0, 5) if args.full else (5, 10, 512, 15.0, 5)

    d = load_digits_split(seed=0)
    n_classes = d.n_classes
    w, b = 2 ** 0.5, 0.1
    net = stax.serial(stax.Conv(64, (3, 3), padding="SAME", W_std=w, b_std=b), stax.Relu(),
                      stax.GlobalAvgPool(), stax.Dense(1, W_std=w, b_std=b))
    exact = exact_kernel(net.kernel_fn, get="nngp", name="conv-gap NNGP exact")
    sketched = sketch_kernel(sketch.from_stax(net, m=m), key=jax.random.key(42),
                             input_shape=d.x_train.shape, name=f"conv-gap NNGP features m={m}")
    x_tr = jnp.asarray(d.x_train)
    y_oh = jnp.asarray(centered_one_hot(d.y_train, n_classes))
    table, counts = (jnp.asarray(a) for a in class_table(d.y_train, n_classes))
    k_init, k_steps = jax.random.split(jax.random.key(0))
    idx0 = sample_balanced(k_init, table, counts, ipc)
    state0 = kip_init(x_tr[idx0], y_oh[idx0])

    setups = {}
    for kern in (exact, sketched):
        t0 = time.perf_counter()
        e_tr = _block(embed_batched(kern, x_tr))
        t_embed = time.perf_counter() - t0
        run = chunk_runner(kern, learn_labels=False, length=chunk, target_per_class=tpc)
        args_ = (k_steps, e_tr, y_oh, table, counts, 0.04, 1e-6)
        t0 = time.perf_counter()
        _block(run(state0, *args_))  # compile
        setups[kern.name] = (kern, run, args_, t_embed, time.perf_counter() - t0)

    # time per step: interleaved repeats, medians (benchmarks/_timing.py; compiled above)
    med = {k: t / chunk for k, t in interleaved(
        {name: (lambda r=run, a=a: r(state0, *a)) for name, (_, run, a, _, _) in setups.items()},
        repeats=args.repeats, warmup=0).items()}

    # accuracy at a fixed wall-clock budget of KIP steps (compile excluded, embedding included)
    acc, steps_done = {}, {}
    acc0 = support_accuracy(exact, state0.params["x"], state0.params["y"], d.x_test, d.y_test)
    for name, (kern, run, a, t_embed, _) in setups.items():
        st, used, n = state0, t_embed if kern is sketched else 0.0, 0
        while used < budget_s:
            t0 = time.perf_counter()
            st, _ = _block(run(st, *a))
            used += time.perf_counter() - t0
            n += chunk
        steps_done[name] = n
        acc[name] = support_accuracy(exact, st.params["x"], st.params["y"], d.x_test, d.y_test)

    print(f"KIP on digits 8x8: support {ipc}/class ({ipc * n_classes} images), targets "
          f"{tpc}/class per step, chunks of {chunk} steps, {args.repeats} interleaved repeats")
    print(f"{'kernel':34s} {'compile s':>9s} {'embed s':>8s} {'ms/step':>9s} "
          f"{'steps in ' + str(int(budget_s)) + 's':>12s} {'exact-KRR test acc':>18s}")
    for name, (_, _, _, t_embed, t_comp) in setups.items():
        print(f"{name:34s} {t_comp:9.2f} {t_embed:8.2f} {1e3 * med[name]:9.2f} "
              f"{steps_done[name]:12d} {acc[name]:18.4f}")
    e, s = exact.name, sketched.name
    print(f"random start (step 0): exact-KRR test acc {acc0:.4f}")
    print(f"ratio time/step exact / sketched: {med[e] / med[s]:.1f}x")
    print(f"accuracy at {budget_s:g}s: sketched - exact = {100 * (acc[s] - acc[e]):+.2f} points")


if __name__ == "__main__":
    main()
