"""Run KIP end to end: validated data, balanced initial support, chunked steps, checkpoints.

:func:`distill` is the user entry point of :mod:`sims.kip` (Nguyen, Chen, Lee 2021,
arXiv:2011.00050, Algorithm 1).  The steps run in jitted ``lax.scan`` chunks of
``checkpoint_every`` steps; after each chunk the state and the loss history are written
atomically to ``checkpoint`` (if given), and a run started again with the same arguments
resumes from the last completed chunk.  Because step ``i`` draws its target batch from
``fold_in(key, i)`` and chunks always start at multiples of ``checkpoint_every``, a
resumed run computes exactly the same numbers as an uninterrupted one.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from sims.kip import checkpoint as ckpt
from sims.kip.data import centered_one_hot, check_budget, check_xy, class_table
from sims.kip.kip import KipState, adam_init, chunk_runner, kip_init, sample_balanced
from sims.kernels.krr import check_float64
from sims.kip.kernel import KipKernel, embed_batched


@dataclasses.dataclass(frozen=True)
class KipResult:
    """Outcome of :func:`distill`.

    Attributes
    ----------
    x, y
        Learned support images ``(n_s, ...)`` and labels ``(n_s, C)``.
    x_init, y_init
        The random class-balanced start (the "random subset" baseline).
    labels
        Class of each support image, ``repeat(arange(C), n_per_class)``.
    loss, acc
        Per-step KIP loss and target-batch accuracy (before each step).
    evals
        ``(n_evals, 2)`` rows ``(step, eval_fn value)`` at every checkpoint boundary.
    resumed_from
        Step the run resumed from (0 for a fresh run).
    """

    x: np.ndarray
    y: np.ndarray
    x_init: np.ndarray
    y_init: np.ndarray
    labels: np.ndarray
    loss: np.ndarray
    acc: np.ndarray
    evals: np.ndarray
    resumed_from: int


def _digest(v) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(v).tobytes() if isinstance(v, np.ndarray) else repr(v).encode())
    return h.hexdigest()[:24]


def kernel_probe(kernel: KipKernel, x: np.ndarray, *, n: int = 8) -> np.ndarray:
    """The kernel's values on a fixed probe of the data: ``K(x[n/2:n], x[:n/2])`` and
    ``K(x[:n/2], x[:n/2])``, rounded to 10 significant digits.

    Two kernels that agree here compute the same KIP run (to the probe's resolution);
    an NTK and an NNGP, or two ``W_std``, never do.  This fingerprints *what* the
    kernel computes, not its label (``KipKernel.name`` defaults to ``"exact"``).
    """
    xp = jnp.asarray(x[: min(n, x.shape[0])])
    h = max(1, xp.shape[0] // 2)
    k_ts, k_ss = kernel.blocks(xp[:h], kernel.embed(xp[h:] if xp.shape[0] > h else xp[:h]))
    vals = np.concatenate([np.asarray(k_ts, np.float64).ravel(), np.asarray(k_ss, np.float64).ravel()])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.array([float(f"{v:.10g}") for v in vals])


def fingerprint_parts(*, kernel: KipKernel, x: np.ndarray, y: np.ndarray, n_per_class: int,
                      key: jax.Array, lr: float, reg: float, target_per_class: int,
                      learn_labels: bool, checkpoint_every: int) -> dict[str, str]:
    """What a KIP run computes, by part: a checkpoint resumes only if every part agrees."""
    return {
        "kernel": _digest(kernel_probe(kernel, x)),
        "data": _digest(np.ascontiguousarray(x)) + _digest(np.ascontiguousarray(y)),
        "init": _digest((int(n_per_class), tuple(np.asarray(jax.random.key_data(key)).ravel()))),
        "optimizer": _digest((float(lr), float(reg), int(target_per_class), bool(learn_labels))),
        "checkpoint_every": _digest(int(checkpoint_every)),
    }


def distill(x_train, y_train, *, kernel: KipKernel, n_per_class: int, steps: int, key: jax.Array,
            lr: float = 0.04, reg: float = 1e-6, target_per_class: int = 50,
            learn_labels: bool = False, n_classes: int | None = None,
            checkpoint: str | os.PathLike | None = None, checkpoint_every: int = 50,
            eval_fn: Callable[[np.ndarray, np.ndarray], float] | None = None,
            progress: bool = True, callback: Callable[[int], None] | None = None) -> KipResult:
    """Distil ``(x_train, y_train)`` into ``n_per_class`` images per class with KIP.

    Parameters
    ----------
    x_train
        Training images ``(n, ...)`` (standardized, see :mod:`sims.kip.data`), finite.
    y_train
        Integer labels ``(n,)`` in ``0..C-1``.
    kernel
        :func:`sims.kip.kernel.exact_kernel`, :func:`~sims.kip.kernel.sketch_kernel` or
        :func:`~sims.kip.kernel.feature_kernel`.
    n_per_class
        Support images per class; every class needs at least that many examples.
    steps
        Total number of KIP steps (a resumed run continues up to this number).
    key
        ``jax.random.key``; split into the initial-subset key and the target-batch key.
    lr, reg
        Adam learning rate and relative ridge ``λ`` (notebook defaults 0.04, 1e-6).
    target_per_class
        Fresh target batch per step: this many examples of every class (the notebook uses
        5000 in total on CIFAR-10; capped by the smallest class).
    learn_labels
        Also learn the support labels (KIP with label learning).
    checkpoint, checkpoint_every
        ``.npz`` path for atomic checkpoints written every ``checkpoint_every`` steps; an
        existing checkpoint of the same run is resumed, one of a different run is an error
        naming what differs (:func:`fingerprint_parts`: the kernel's values on a probe of
        the data, the data, the initial subset, the optimizer settings); a checkpoint past
        ``steps`` is an error.  Resuming to a larger ``steps`` continues the run.
    eval_fn
        Optional ``eval_fn(x_s, y_s) -> float`` (e.g. held-out accuracy) recorded at step 0
        and after every chunk.
    progress
        Show a tqdm progress bar with the current loss.
    callback
        Called with the completed step count after every chunk (after the checkpoint).
    """
    xa, ya = check_xy(x_train, y_train, name_x="x_train", name_y="y_train")
    if not isinstance(kernel, KipKernel):
        raise TypeError("kernel must be a KipKernel (sims.kip.exact_kernel / sketch_kernel / feature_kernel), "
                        f"got {type(kernel).__name__}")
    n_classes = int(ya.max()) + 1 if n_classes is None else int(n_classes)
    if ya.max() >= n_classes:
        raise ValueError(f"y_train has label {ya.max()} >= n_classes={n_classes}")
    check_budget(ya, n_per_class, n_classes)
    check_budget(ya, target_per_class, n_classes, name="target_per_class")
    for name, v in (("steps", steps), ("checkpoint_every", checkpoint_every)):
        if int(v) != v or v < (0 if name == "steps" else 1):
            raise ValueError(f"{name} must be a {'non-negative' if name == 'steps' else 'positive'} "
                             f"integer, got {v}")
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number, got {lr}")
    if not (np.isfinite(reg) and reg > 0):
        raise ValueError(f"reg must be a positive finite number, got {reg}")

    x_dev = jnp.asarray(xa)
    check_float64("x_train", x_dev)
    y_oh = jnp.asarray(centered_one_hot(ya, n_classes))
    table, counts = (jnp.asarray(a) for a in class_table(ya, n_classes))
    k_init, k_steps = jax.random.split(key)
    idx0 = sample_balanced(k_init, table, counts, int(n_per_class))
    x0, y0 = x_dev[idx0], y_oh[idx0]
    labels = np.repeat(np.arange(n_classes), n_per_class)
    e_train = embed_batched(kernel, x_dev)

    parts = fingerprint_parts(kernel=kernel, x=xa, y=ya, n_per_class=n_per_class, key=key, lr=lr,
                              reg=reg, target_per_class=target_per_class,
                              learn_labels=learn_labels, checkpoint_every=checkpoint_every)
    state = kip_init(x0, y0)
    loss_hist: list[np.ndarray] = []
    acc_hist: list[np.ndarray] = []
    evals: list[tuple[float, float]] = []
    start = 0
    if checkpoint is not None:
        loaded = ckpt.load_checkpoint(checkpoint)
        if loaded is not None:
            arr, meta = loaded
            old = meta.get("parts") if isinstance(meta.get("parts"), dict) else {}
            differ = sorted(k for k in parts if old.get(k) != parts[k])
            if differ:
                raise ValueError(f"checkpoint {os.fspath(checkpoint)!r} belongs to a different KIP "
                                 f"run: its {', '.join(differ)} differ"
                                 f"{' (kernel values on a probe of the data)' if 'kernel' in differ else ''}"
                                 "; remove it or pass another path")
            if int(meta["step"]) > int(steps):
                raise ValueError(f"checkpoint {os.fspath(checkpoint)!r} is at step {meta['step']}, "
                                 f"past steps={steps}; pass steps >= {meta['step']} or another path")
            params = {"x": jnp.asarray(arr["x"]), "y": jnp.asarray(arr["y"])}
            opt = adam_init(params)._replace(
                m={"x": jnp.asarray(arr["m_x"]), "y": jnp.asarray(arr["m_y"])},
                v={"x": jnp.asarray(arr["v_x"]), "y": jnp.asarray(arr["v_y"])},
                count=jnp.asarray(arr["count"]))
            start = int(meta["step"])
            state = KipState(params, opt, jnp.asarray(start, jnp.int32))
            loss_hist, acc_hist = [arr["loss"]], [arr["acc"]]
            evals = [tuple(r) for r in arr["evals"]]
    if eval_fn is not None and start == 0:
        evals.append((0.0, float(eval_fn(np.asarray(x0), np.asarray(y0)))))

    from tqdm.auto import tqdm

    bar = tqdm(total=int(steps), initial=min(start, int(steps)), desc=f"KIP {kernel.name}",
               disable=not progress, leave=False)
    step = start
    try:
        while step < steps:
            length = min(int(checkpoint_every), int(steps) - step)
            run = chunk_runner(kernel, learn_labels=bool(learn_labels), length=length,
                               target_per_class=int(target_per_class))
            state, (loss, acc) = run(state, k_steps, e_train, y_oh, table, counts, lr, reg)
            loss, acc = np.asarray(loss), np.asarray(acc)
            if not np.all(np.isfinite(loss)):
                bad = step + int(np.argmax(~np.isfinite(loss)))
                raise FloatingPointError(f"KIP loss is not finite at step {bad}; increase reg "
                                         f"(now {reg}) or lower lr (now {lr})")
            if not all(bool(jnp.all(jnp.isfinite(v))) for v in state.params.values()):
                raise FloatingPointError(f"KIP support set is not finite at step {step + length} "
                                         f"(after a finite loss); increase reg (now {reg}) or lower "
                                         f"lr (now {lr})")
            step += length
            loss_hist.append(loss)
            acc_hist.append(acc)
            if eval_fn is not None:
                evals.append((float(step), float(eval_fn(np.asarray(state.params["x"]),
                                                         np.asarray(state.params["y"])))))
            if checkpoint is not None:
                p, o = state.params, state.opt
                ckpt.save_checkpoint(checkpoint, {
                    "x": p["x"], "y": p["y"], "m_x": o.m["x"], "m_y": o.m["y"], "v_x": o.v["x"],
                    "v_y": o.v["y"], "count": o.count, "loss": np.concatenate(loss_hist),
                    "acc": np.concatenate(acc_hist), "evals": np.asarray(evals, float).reshape(-1, 2),
                }, meta={"parts": parts, "step": step, "steps": int(steps)})
            bar.update(length)
            bar.set_postfix(loss=f"{loss[-1]:.3e}")
            if callback is not None:
                callback(step)
    finally:
        bar.close()
    cat = lambda h: np.concatenate(h) if h else np.zeros(0)  # noqa: E731
    return KipResult(np.asarray(state.params["x"]), np.asarray(state.params["y"]), np.asarray(x0),
                     np.asarray(y0), labels, cat(loss_hist), cat(acc_hist),
                     np.asarray(evals, float).reshape(-1, 2), start)
