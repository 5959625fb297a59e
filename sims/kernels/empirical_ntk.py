"""Finite-width (empirical) NTK by three methods of Novak, Sohl-Dickstein & Schoenholz (2022).

``ntk_fn = empirical_ntk_fn(apply_fn, *, implementation=...)``; ``ntk_fn(x1, x2, params)`` is the
``(n1, n2)`` kernel ``Θ̂ = Σ_p ∂f(x1)/∂p · ∂f(x2)/∂p / k`` averaged over the ``k`` outputs
(neural-tangents ``trace_axes=(-1,)``), for ``f = apply_fn(params, x)``.  "Fast Finite Width Neural
Tangent Kernel", ICML 2022, arXiv:2206.08720, §3:

- ``"jacobian"`` (*Jacobian contraction*): both Jacobians ``J = ∂f/∂θ`` (``n·k × P``) by reverse
  mode, then ``J1 J2ᵀ``; cost ~ ``n k`` backward passes plus ``n² k P``, memory ``n k P``;
- ``"ntk_vector"`` (*NTK-vector products*): ``Θ v = J1 (J2ᵀ v)`` for the ``n2·k`` basis vectors
  ``v`` — one VJP then one JVP each (vmapped), never storing ``J``; memory ``n k`` per product;
- ``"structured"`` (*structured derivatives*): for an affine layer ``z = c·a W + b`` the weight
  Jacobian is ``a ⊗ I`` (Kronecker), so its NTK term is ``c² (a1 a2ᵀ) ⊙ (δ1 δ2ᵀ)`` with ``a`` the
  layer input and ``δ = ∂f/∂z`` the cotangent at its output: only Jacobians with respect to the
  *pre-activations* (``N_out`` per layer, not ``N_in·N_out``) are formed.  For ``Conv`` the same with
  ``a`` the input patches and a sum over position pairs.  Works for :func:`sims.kernels.stax.serial`
  networks whose parameterized layers are ``Dense``/``Conv`` (they carry their structure on
  ``apply_fn``); other parameterized layers raise ``NotImplementedError``.

All three give the same kernel up to round-off (``tests/test_kernels_empirical_ntk.py``: 1e-12).
Speed vs width and ``n``: ``benchmarks/bench_kernels_exact.py --empirical``.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from sims.kernels.empirical import empirical_ntk

__all__ = ["empirical_ntk_fn", "IMPLEMENTATIONS"]

IMPLEMENTATIONS = ("jacobian", "ntk_vector", "structured")


def _check_x(x, name):
    x = jnp.asarray(x)
    if x.dtype != jnp.float64:
        raise TypeError(f"{name} must be float64 (enable jax_enable_x64 at the entry point), got {x.dtype}")
    return x


def _ntk_vector(apply_fn, x1, x2, params):
    f1 = lambda p: apply_fn(p, x1)  # noqa: E731
    y2, vjp2 = jax.vjp(lambda p: apply_fn(p, x2), params)
    n2, k = y2.shape[0], y2.shape[-1]
    basis = jnp.eye(n2 * k, dtype=y2.dtype).reshape(n2 * k, *y2.shape)

    def column(v):  # Θ v: (n1, k) for one cotangent basis vector v (n2, k)
        (t,) = vjp2(v)
        return jax.jvp(f1, (params,), (t,))[1]

    cols = jax.vmap(column)(basis).reshape(n2, k, -1, k)  # [j, k', i, k]
    return jnp.einsum("jkik->ij", cols) / k


def _structured(apply_fn, x1, x2, params):
    layers = getattr(apply_fn, "layers", None)
    if layers is None:
        raise NotImplementedError("implementation='structured' needs the apply_fn of sims.kernels.stax.serial")
    affine = []
    for i, (layer, p) in enumerate(zip(layers, params)):
        st = getattr(layer.apply_fn, "structure", None)
        if st is not None:
            affine.append(i)
        elif jax.tree_util.tree_leaves(p):
            raise NotImplementedError(f"implementation='structured': layer {i} has parameters but no "
                                      "known structure (only Dense and Conv are supported)")

    def forward(x, eps):  # outputs, and the input of every affine layer; eps added to their outputs
        inputs = {}
        for i, (layer, p) in enumerate(zip(layers, params)):
            if i in affine:
                inputs[i] = x
            x = layer.apply_fn(p, x)
            if i in eps:
                x = x + eps[i]
        return x, inputs

    def parts(x):
        _, inputs = forward(x, {})
        shapes = {i: jax.eval_shape(lambda a: layers[i].apply_fn(params[i], a), inputs[i]).shape
                  for i in affine}

        def single(xi, eps_i):  # one example: f(x_i) as a function of its pre-activation offsets
            out, _ = forward(xi[None], {i: e[None] for i, e in eps_i.items()})
            return out[0]

        zeros = {i: jnp.zeros(shapes[i][1:], x.dtype) for i in affine}
        deltas = jax.vmap(jax.jacrev(single, argnums=1), in_axes=(0, None))(x, zeros)
        return inputs, deltas  # deltas[i]: (n, k, *out_shape)

    in1, d1 = parts(x1)
    in2, d2 = (in1, d1) if x2 is x1 else parts(x2)
    k = jax.eval_shape(lambda a: apply_fn(params, a), x1[:1]).shape[-1]
    total = 0.0
    for i in affine:
        st = layers[i].apply_fn.structure
        a1, a2, e1, e2 = in1[i], in2[i], d1[i], d2[i]
        if st["kind"] == "dense":
            n_in = a1.shape[-1]
            c2 = st["W_std"] ** 2 / n_in if st["parameterization"] == "ntk" else 1.0
            if a1.ndim == 2:
                dd = jnp.einsum("ikc,jkc->ij", e1, e2)
                total = total + c2 * (a1 @ a2.T) * dd
            else:  # Dense on (n, *s, C): the same weights at every position
                e1f, e2f = e1.reshape(e1.shape[:2] + (-1, e1.shape[-1])), e2.reshape(e2.shape[:2] + (-1, e2.shape[-1]))
                a1f, a2f = a1.reshape(a1.shape[0], -1, n_in), a2.reshape(a2.shape[0], -1, n_in)
                dd = jnp.einsum("ikpc,jkqc->ijpq", e1f, e2f)
                total = total + c2 * jnp.sum(jnp.einsum("ipf,jqf->ijpq", a1f, a2f) * dd, axis=(2, 3))
        else:  # conv: patches (n, *s_out, F·C) pair with the output cotangents at every position pair
            pat = lambda a: jax.lax.conv_general_dilated_patches(  # noqa: E731
                a, st["filter_shape"], st["strides"], st["padding"], dimension_numbers=st["dn"])
            p1, p2 = pat(a1), pat(a2)
            fc = p1.shape[-1]
            c2 = st["W_std"] ** 2 / fc if st["parameterization"] == "ntk" else 1.0
            p1f, p2f = p1.reshape(p1.shape[0], -1, fc), p2.reshape(p2.shape[0], -1, fc)
            e1f = e1.reshape(e1.shape[:2] + (-1, e1.shape[-1]))
            e2f = e2.reshape(e2.shape[:2] + (-1, e2.shape[-1]))
            dd = jnp.einsum("ikpc,jkqc->ijpq", e1f, e2f)
            total = total + c2 * jnp.sum(jnp.einsum("ipf,jqf->ijpq", p1f, p2f) * dd, axis=(2, 3))
        if st["b_std"] is not None:  # bias: ∂z/∂b = b_std ('ntk') or 1 ('standard') at every position
            cb = st["b_std"] ** 2 if st["parameterization"] == "ntk" else 1.0
            s1 = e1.reshape(e1.shape[:2] + (-1, e1.shape[-1])).sum(2)
            s2 = e2.reshape(e2.shape[:2] + (-1, e2.shape[-1])).sum(2)
            total = total + cb * jnp.einsum("ikc,jkc->ij", s1, s2)
    return total / k


def empirical_ntk_fn(apply_fn: Callable, *, implementation: str = "jacobian") -> Callable:
    """``ntk_fn(x1, x2, params) -> (n1, n2)`` empirical NTK of ``apply_fn`` (module docstring).

    Parameters
    ----------
    apply_fn : callable
        ``apply_fn(params, x) -> (n, k)``.
    implementation : {'jacobian', 'ntk_vector', 'structured'}, keyword-only
        The method of Novak et al. 2022 (module docstring); NT's ``NtkImplementation``
        ``JACOBIAN_CONTRACTION``, ``NTK_VECTOR_PRODUCTS``, ``STRUCTURED_DERIVATIVES``.
    """
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(f"implementation must be one of {IMPLEMENTATIONS}, got {implementation!r}")
    if not callable(apply_fn):
        raise TypeError(f"apply_fn must be callable, got {apply_fn!r}")

    def ntk_fn(x1, x2, params):
        x1 = _check_x(x1, "x1")
        x2 = x1 if x2 is None else _check_x(x2, "x2")
        if implementation == "jacobian":
            return empirical_ntk(apply_fn, params, x1, x2)
        if implementation == "ntk_vector":
            return _ntk_vector(apply_fn, x1, x2, params)
        return _structured(apply_fn, x1, x2, params)

    return jax.jit(ntk_fn)


