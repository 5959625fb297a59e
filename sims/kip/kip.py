"""Kernel Inducing Points (KIP): learn a small support set whose KRR predicts a large target set.

Nguyen, Chen, Lee, "Dataset Meta-Learning from Kernel Ridge-Regression", ICLR 2021
(arXiv:2011.00050), Algorithm 1, and Nguyen, Novak, Xiao, Lee, NeurIPS 2021
(arXiv:2107.13034) for convolutional kernels.  One step:

1. draw a fresh class-balanced target batch ``(X_t, y_t)`` from the training set;
2. ``L(X_s, y_s) = ½ · mean‖y_t − K_ts (K_ss + λ̃ I)^{-1} y_s‖²`` (mean over all ``n_t · C``
   entries), ``λ̃ = λ tr(K_ss)/n_s`` (the relative ridge of :mod:`sims.kernels.krr`);
3. an Adam step on the support images ``X_s`` (and on ``y_s`` when labels are learned).

Labels are centred one-hot ``e_c − 1/C``; the support set starts as a random class-balanced
subset of the training set.  **Label Solve** (arXiv:2011.00050, §3) is the closed-form
alternative that keeps ``X_s`` and sets ``y_s* = A⁺ y_t`` with ``A = K_ts (K_ss + λ̃ I)^{-1}``.

The step loop is a ``lax.scan`` over ``chunk`` steps, jitted once per (kernel, shapes,
label-learning) and reused across seeds; learning rate and ridge are traced values.  Step
``i`` draws its target batch from ``fold_in(key, i)``, so the trajectory depends only on
``key`` and the number of steps, which is what lets :func:`sims.kip.distill.distill` resume
from a checkpoint bit for bit.

Defaults from the google-research ``kip/KIP.ipynb`` notebook: ``lr = 0.04``, ``λ = 1e-6``,
Adam ``(β1, β2, ε) = (0.9, 0.999, 1e-8)`` (the ``jax.example_libraries.optimizers.adam``
defaults the notebook uses).
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from sims.kernels.krr import check_float64, krr_weights, ridge_value
from sims.kip.kernel import KipKernel

Array = jax.Array


# --------------------------------------------------------------------------- Adam
class AdamState(NamedTuple):
    """First and second moment estimates (pytrees like the parameters) and the step count."""

    m: dict
    v: dict
    count: Array


def adam_init(params: dict) -> AdamState:
    """Zero moments for ``params``."""
    z = jax.tree.map(jnp.zeros_like, params)
    return AdamState(z, z, jnp.zeros((), jnp.int32))


def adam_update(grads: dict, state: AdamState, lr, *, b1: float = 0.9, b2: float = 0.999,
                eps: float = 1e-8) -> tuple[dict, AdamState]:
    """One Adam step (Kingma & Ba 2015, Algorithm 1): returns ``(updates, new_state)``.

    ``m ← β1 m + (1−β1) g``, ``v ← β2 v + (1−β2) g²``,
    ``update = −lr · m̂ / (√v̂ + ε)`` with ``m̂ = m/(1−β1^t)``, ``v̂ = v/(1−β2^t)``.
    """
    count = state.count + 1
    m = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.m, grads)
    v = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, state.v, grads)
    t = count.astype(jnp.result_type(float))
    c1, c2 = 1 - b1 ** t, 1 - b2 ** t
    upd = jax.tree.map(lambda m, v: -lr * (m / c1) / (jnp.sqrt(v / c2) + eps), m, v)
    return upd, AdamState(m, v, count)


# --------------------------------------------------------------------------- loss
def kip_loss(x_s: Array, y_s: Array, e_t: Array, y_t: Array, *, kernel: KipKernel,
             reg=1e-6) -> tuple[Array, Array]:
    """KIP loss ``½ mean (ŷ_t − y_t)²`` and target accuracy (argmax agreement).

    Parameters
    ----------
    x_s, y_s
        Support images ``(n_s, ...)`` and labels ``(n_s, C)``.
    e_t, y_t
        Embedded target batch (``kernel.embed`` of the images) and its labels ``(n_t, C)``.
    kernel
        A :class:`sims.kip.kernel.KipKernel`.
    reg
        Relative ridge ``λ`` (:mod:`sims.kernels.krr` convention, ``λ̃ = λ tr(K_ss)/n_s``).
    """
    k_ts, k_ss = kernel.blocks(x_s, e_t)
    pred = k_ts @ krr_weights(k_ss, y_s, ridge=reg)
    loss = 0.5 * jnp.mean((pred - y_t) ** 2)
    acc = jnp.mean((jnp.argmax(pred, axis=1) == jnp.argmax(y_t, axis=1)).astype(loss.dtype))
    return loss, acc


# --------------------------------------------------------------------------- sampling
def sample_balanced(key: Array, table: Array, counts: Array, per_class: int) -> Array:
    """``per_class`` indices of every class without replacement (jittable).

    ``table, counts`` come from :func:`sims.kip.data.class_table`; returned class by class.
    """
    u = jax.random.uniform(key, table.shape)
    valid = jnp.arange(table.shape[1])[None, :] < counts[:, None]
    u = jnp.where(valid, u, 2.0)
    order = jnp.argsort(u, axis=1)[:, :per_class]
    return jnp.take_along_axis(table, order, axis=1).reshape(-1)


# --------------------------------------------------------------------------- steps
class KipState(NamedTuple):
    """Support set, Adam state and number of completed steps."""

    params: dict  # {"x": (n_s, ...), "y": (n_s, C)}
    opt: AdamState
    step: Array


def kip_init(x_s, y_s) -> KipState:
    """State at step 0 for support images ``x_s`` and labels ``y_s`` (float64)."""
    x_s, y_s = jnp.asarray(x_s), jnp.asarray(y_s)
    check_float64("x_s", x_s)
    check_float64("y_s", y_s)
    params = {"x": x_s, "y": y_s}
    return KipState(params, adam_init(params), jnp.zeros((), jnp.int32))


def kip_step(state: KipState, e_t: Array, y_t: Array, lr, reg, *, kernel: KipKernel,
             learn_labels: bool) -> tuple[KipState, tuple[Array, Array]]:
    """One Adam step of KIP on the target batch ``(e_t, y_t)``; returns the new state and
    the (loss, accuracy) measured *before* the step."""
    p = state.params
    if learn_labels:
        (loss, acc), g = jax.value_and_grad(
            lambda q: kip_loss(q["x"], q["y"], e_t, y_t, kernel=kernel, reg=reg),
            has_aux=True)(p)
    else:
        (loss, acc), gx = jax.value_and_grad(
            lambda x: kip_loss(x, p["y"], e_t, y_t, kernel=kernel, reg=reg), has_aux=True)(p["x"])
        g = {"x": gx, "y": jnp.zeros_like(p["y"])}
    upd, opt = adam_update(g, state.opt, lr)
    params = jax.tree.map(jnp.add, p, upd)
    return KipState(params, opt, state.step + 1), (loss, acc)


@functools.lru_cache(maxsize=64)
def chunk_runner(kernel: KipKernel, *, learn_labels: bool, length: int, target_per_class: int):
    """Jitted ``run(state, key, e_train, y_train, table, counts, lr, reg)`` doing ``length`` steps.

    Step ``i`` (the global step number) uses the target batch drawn with
    ``fold_in(key, i)``.  Returns ``(state, (loss, acc))`` with per-step arrays.
    Cached, so every seed and every chunk reuses one compiled program.
    """

    def run(state, key, e_train, y_train, table, counts, lr, reg):
        def body(st, _):
            idx = sample_balanced(jax.random.fold_in(key, st.step), table, counts,
                                  target_per_class)
            return kip_step(st, e_train[idx], y_train[idx], lr, reg, kernel=kernel,
                            learn_labels=learn_labels)

        return jax.lax.scan(body, state, None, length=length)

    return jax.jit(run)


# --------------------------------------------------------------------------- Label Solve
def label_solve(kernel: KipKernel, x_s, e_t, y_t, *, reg=1e-6) -> Array:
    """Label Solve (arXiv:2011.00050, §3): ``y_s* = argmin_y ‖y_t − A y‖² = A⁺ y_t``.

    ``A = K_ts (K_ss + λ̃ I)^{-1}`` (``n_t × n_s``); the minimum-norm least-squares solution
    (``jnp.linalg.lstsq``) is returned, ``(n_s, C)``.  ``e_t`` is the embedded target set.
    """
    x_s, e_t, y_t = jnp.asarray(x_s), jnp.asarray(e_t), jnp.asarray(y_t)
    check_float64("x_s", x_s)
    check_float64("y_t", y_t)
    if y_t.ndim != 2 or y_t.shape[0] != e_t.shape[0]:
        raise ValueError(f"y_t must have shape ({e_t.shape[0]}, C), got {y_t.shape}")
    return _label_solve_fn(kernel)(x_s, e_t, y_t, reg)


@functools.lru_cache(maxsize=64)
def _label_solve_fn(kernel: KipKernel):
    def solve(x_s, e_t, y_t, reg):
        k_ts, k_ss = kernel.blocks(x_s, e_t)
        n = k_ss.shape[0]
        a = jnp.linalg.solve(k_ss + ridge_value(k_ss, reg) * jnp.eye(n, dtype=k_ss.dtype), k_ts.T).T
        return jnp.linalg.lstsq(a, y_t)[0]

    return jax.jit(solve)
