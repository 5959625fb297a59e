"""Seeded linear and tensor sketches: SRHT, degree-2 TensorSRHT and the PolySketch tree.

Every sketch is a pair ``*_init(key, ...) -> params`` (a dict of arrays, fixed once drawn) and a pure,
jittable ``*_apply(params, x)`` acting on the last axis (leading axes are batch / spatial positions).
Dimensions are read from the array shapes, so ``params`` is a plain pytree.

- **SRHT** (Ailon & Chazelle 2009): ``S x = √(d'/m) · P H D x`` with ``x`` zero-padded to ``d' = 2^⌈log₂ d⌉``,
  ``D`` random signs, ``H`` the orthonormal Walsh–Hadamard matrix and ``P`` ``m`` i.i.d. uniform row
  samples (*choice*: with replacement, so the variance is exactly ``∝ 1/m``).  ``E⟨Sx, Sy⟩ = ⟨x, y⟩`` because ``H D`` is orthogonal and the rows
  are sampled uniformly.
- **TensorSRHT** (Ahle et al. 2020, arXiv:1909.01410, §4; Zandieh et al. 2021, arXiv:2106.07880, Alg. 1):
  ``T(x, y) = √(d₁' d₂'/m) · (H D₁ x)[I] ⊙ (H D₂ y)[J]`` with independent uniform index vectors ``I, J``.
  Conditioned on the indices, ``E_D[(HD₁x)_i (HD₁x')_i] = ⟨x, x'⟩/d₁'``, so
  ``E⟨T(x, y), T(x', y')⟩ = ⟨x, x'⟩⟨y, y'⟩``.  *Choice*: the real Walsh–Hadamard transform with Rademacher
  signs instead of the complex FFT of NT PR #142, so features are real without a Re/Im split.
- **PolySketch** (Ahle et al. 2020, Thm 1.2 and §4.1; arXiv:2106.07880, Alg. 2): a complete binary tree with
  ``p = 2^⌈log₂ D⌉`` leaves; every leaf is an independent SRHT ``d → m``, every internal node a TensorSRHT
  ``(m, m) → m``.  Degree ``k ≤ D`` feeds ``u`` to the first ``k`` leaves and ``e₁`` to the others, and
  degree ``k`` is read at the root of the smallest left sub-tree with ``≥ k`` leaves (level ``⌈log₂ k⌉``;
  *choice*: fewer TensorSRHT levels, hence less variance, for the low degrees that carry most of the
  weight), so ``S_k(u) ≈ u^{⊗k} ⊗ e₁^{⊗(2^⌈log₂ k⌉−k)}`` and ``E⟨S_k u, S_k v⟩ = ⟨u, v⟩^k``
  (``⟨e₁, e₁⟩ = 1``).  Sub-trees whose leaves are all ``u`` or all ``e₁`` are shared between degrees.
  ``S_0 = 1`` (one coordinate).

Float64 in, float64 out; no global state.
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["next_pow2", "fwht", "srht_init", "srht_apply", "tensor_srht_init", "tensor_srht_apply",
           "polysketch_init", "polysketch_apply"]

def next_pow2(d: int) -> int:
    """Smallest power of two ``>= d`` (1 for ``d <= 1``)."""
    return 1 << max(int(d) - 1, 0).bit_length()


def _check_dim(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


@functools.lru_cache(maxsize=32)
def _sylvester(k: int) -> np.ndarray:
    """Unnormalised Sylvester–Hadamard matrix of order ``2^k``: ``H[i, j] = (−1)^{popcount(i & j)}``."""
    i = np.arange(1 << k)
    bits = np.bitwise_and(i[:, None], i[None, :])
    parity = np.zeros_like(bits)
    while bits.any():
        parity ^= bits & 1
        bits >>= 1
    return (1 - 2 * parity).astype(np.float64)


def fwht(x: jax.Array) -> jax.Array:
    """Orthonormal Walsh–Hadamard transform ``H x`` on the last axis (length ``d`` a power of two).

    Uses ``H_{2^k} = H_{2^a} ⊗ H_{2^b}`` (``a = ⌊k/2⌋``): the row is reshaped to ``2^a × 2^b`` and
    multiplied by the two small factors, ``O(d^{3/2})`` per row but two XLA ops (the ``log₂ d`` butterfly
    stages compile much slower).  ``H`` is symmetric and ``H H = I``.
    """
    d = x.shape[-1]
    if d < 1 or d & (d - 1):
        raise ValueError(f"x: last axis must have a power-of-two length, got {d}")
    k = d.bit_length() - 1
    a, b = k // 2, k - k // 2
    ha, hb = jnp.asarray(_sylvester(a)), jnp.asarray(_sylvester(b))
    y = x.reshape(x.shape[:-1] + (1 << a, 1 << b))
    y = jnp.einsum("...ij,ik,jl->...kl", y, ha, hb)
    return y.reshape(x.shape) / math.sqrt(d)


class _Bits:
    """One ``jax.random.bits`` draw carved into sign and index arrays.

    Every random array of a sketch comes from a single threefry call (each call is a separate XLA
    kernel, and compiling many dominated the cost of a small network).  Signs use the top bit, indices
    the low bits: all populations are powers of two, so ``bits & (d − 1)`` is exactly uniform.
    """

    def __init__(self, key, n: int):
        self.bits = jax.random.bits(key, (max(n, 1),), jnp.uint32)
        self.pos = 0

    def _take(self, shape) -> jax.Array:
        k = math.prod(shape)
        out = self.bits[self.pos:self.pos + k].reshape(shape)
        self.pos += k
        return out

    def signs(self, shape) -> jax.Array:
        return 1.0 - 2.0 * (self._take(shape) >> 31).astype(jnp.float64)

    def indices(self, population: int, shape) -> jax.Array:
        """i.i.d. uniform in ``[0, population)`` (sampling with replacement); ``population`` a power of 2."""
        return (self._take(shape) & (population - 1)).astype(jnp.int32)


def _srht_size(input_dim, sketch_dim, batch=()):
    return math.prod(batch) * (next_pow2(input_dim) + sketch_dim)


def _tensor_size(input_dim1, input_dim2, sketch_dim, batch=()):
    return math.prod(batch) * (next_pow2(input_dim1) + next_pow2(input_dim2) + 2 * sketch_dim)


def _rotate(signs, x):
    """``H D x`` with ``x`` zero-padded to ``len(signs)``."""
    pad = signs.shape[0] - x.shape[-1]
    if pad < 0:
        raise ValueError(f"x: sketch expects at most {signs.shape[0]} input features, got {x.shape[-1]}")
    if pad:
        x = jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, pad)])
    return fwht(x * signs)


def srht_init(key: jax.Array, input_dim: int, sketch_dim: int) -> dict:
    """Draw an SRHT ``R^input_dim → R^sketch_dim`` (see module docstring)."""
    _check_dim("input_dim", input_dim)
    _check_dim("sketch_dim", sketch_dim)
    return _srht_init(key, int(input_dim), int(sketch_dim))


@functools.partial(jax.jit, static_argnums=(1, 2))   # one XLA program per shape, not op-by-op dispatch
def _srht_init(key, input_dim: int, sketch_dim: int) -> dict:
    return _srht_draw(_Bits(key, _srht_size(input_dim, sketch_dim)), input_dim, sketch_dim, ())


def _srht_draw(bits: _Bits, input_dim: int, sketch_dim: int, batch: tuple) -> dict:
    dp = next_pow2(input_dim)
    return {"signs": bits.signs(batch + (dp,)), "idx": bits.indices(dp, batch + (sketch_dim,))}


def srht_apply(params: dict, x: jax.Array) -> jax.Array:
    """``S x`` on the last axis: ``(..., d) -> (..., m)``; ``E⟨Sx, Sy⟩ = ⟨x, y⟩``."""
    signs, idx = params["signs"], params["idx"]
    scale = math.sqrt(signs.shape[0] / idx.shape[0])
    return scale * jnp.take(_rotate(signs, x), idx, axis=-1)


def tensor_srht_init(key: jax.Array, input_dim1: int, input_dim2: int, sketch_dim: int) -> dict:
    """Draw a degree-2 TensorSRHT ``R^d1 ⊗ R^d2 → R^sketch_dim`` (see module docstring)."""
    for name, v in (("input_dim1", input_dim1), ("input_dim2", input_dim2), ("sketch_dim", sketch_dim)):
        _check_dim(name, v)
    return _tensor_srht_init(key, int(input_dim1), int(input_dim2), int(sketch_dim))


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _tensor_srht_init(key, input_dim1: int, input_dim2: int, sketch_dim: int) -> dict:
    bits = _Bits(key, _tensor_size(input_dim1, input_dim2, sketch_dim))
    return _tensor_srht_draw(bits, input_dim1, input_dim2, sketch_dim, ())


def _tensor_srht_draw(bits: _Bits, input_dim1: int, input_dim2: int, sketch_dim: int, batch: tuple) -> dict:
    d1, d2 = next_pow2(input_dim1), next_pow2(input_dim2)
    return {"signs1": bits.signs(batch + (d1,)), "signs2": bits.signs(batch + (d2,)),
            "idx1": bits.indices(d1, batch + (sketch_dim,)), "idx2": bits.indices(d2, batch + (sketch_dim,))}


def tensor_srht_apply(params: dict, x: jax.Array, y: jax.Array) -> jax.Array:
    """``T(x ⊗ y)``: ``(..., d1), (..., d2) -> (..., m)`` (leading axes broadcast); real-valued.

    ``E⟨T(x, y), T(x', y')⟩ = ⟨x, x'⟩ ⟨y, y'⟩``.
    """
    s1, s2 = params["signs1"], params["signs2"]
    m = params["idx1"].shape[0]
    scale = math.sqrt(s1.shape[0] * s2.shape[0] / m)
    a = jnp.take(_rotate(s1, x), params["idx1"], axis=-1)
    b = jnp.take(_rotate(s2, y), params["idx2"], axis=-1)
    return scale * a * b


def _stack(trees):
    return jax.tree_util.tree_map(lambda *a: jnp.stack(a), *trees)


def polysketch_init(key: jax.Array, input_dim: int, sketch_dim: int, degree: int) -> dict:
    """Draw a PolySketch tree for ``u^{⊗k}``, ``k = 1..degree`` (see module docstring).

    Returns ``{"leaves": srht params stacked over the p leaves, "levels": [tensor_srht params stacked
    over the p/2^l nodes of level l, l = 1..L]}`` (stacked so each level is one vmapped call).
    """
    _check_dim("input_dim", input_dim)
    _check_dim("sketch_dim", sketch_dim)
    _check_dim("degree", degree)
    return _polysketch_init(key, int(input_dim), int(sketch_dim), int(degree))


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _polysketch_init(key, input_dim: int, sketch_dim: int, degree: int) -> dict:
    p = next_pow2(degree)
    n_levels = p.bit_length() - 1
    m = sketch_dim
    bits = _Bits(key, _srht_size(input_dim, m, (p,))
                 + sum(_tensor_size(m, m, m, (p >> lvl,)) for lvl in range(1, n_levels + 1)))
    leaves = _srht_draw(bits, input_dim, m, (p,))                 # stacked over the p leaves
    levels = [_tensor_srht_draw(bits, m, m, m, (p >> lvl,)) for lvl in range(1, n_levels + 1)]
    return {"leaves": leaves, "levels": levels}


_tensor_nodes = jax.vmap(tensor_srht_apply)


def polysketch_apply(params: dict, u: jax.Array, degree: int) -> list[jax.Array]:
    """Sketches ``[S_0(u), S_1(u), ..., S_degree(u)]`` with ``E⟨S_k u, S_k v⟩ = ⟨u, v⟩^k``.

    ``S_0`` has shape ``(..., 1)`` (the constant 1), the others ``(..., m)``.  ``degree`` must not exceed
    the number of leaves the tree was drawn with (``next_pow2`` of the init degree).

    Per level ``l`` three vmapped TensorSRHT calls: all-``u`` nodes ``U_l``, all-``e₁`` nodes ``E_l``, and
    for every degree ``k`` the one node ``k >> l`` that holds the ``u``/``e₁`` boundary (``M_l[k]``).
    """
    leaves, levels = params["leaves"], params["levels"]
    p = leaves["idx"].shape[0]
    m = leaves["idx"].shape[1]
    if not 1 <= degree <= p:
        raise ValueError(f"degree must be in 1..{p} for this PolySketch, got {degree!r}")
    batch = u.shape[:-1]
    e1 = jnp.zeros((u.shape[-1],), u.dtype).at[0].set(1.0)
    srht_leaves = jax.vmap(srht_apply, in_axes=(0, None))
    U, E = srht_leaves(leaves, u), srht_leaves(leaves, e1)        # (p, ..., m), (p, m)
    M: dict[int, jax.Array] = {}
    top = {k: (k - 1).bit_length() for k in range(1, degree + 1)}    # level read for degree k
    res = {1: U[0]}
    for lvl in range(1, max(top.values()) + 1):
        prm = levels[lvl - 1]
        half = 1 << (lvl - 1)
        jobs = [k for k in range(1, degree + 1) if top[k] >= lvl and k % (2 * half)]
        new_m = {}
        if jobs:
            left, right, nodes = [], [], []
            for k in jobs:
                j, c = k >> lvl, k % (2 * half)
                left.append(M[k] if c < half else U[2 * j])
                right.append(M[k] if c > half else jnp.broadcast_to(E[2 * j + 1], batch + (m,)))
                nodes.append(j)
            sel = jax.tree_util.tree_map(lambda a: a[jnp.asarray(nodes)], prm)
            out = _tensor_nodes(sel, jnp.stack(left), jnp.stack(right))
            new_m = {k: out[i] for i, k in enumerate(jobs)}
        U = _tensor_nodes(prm, U[0::2], U[1::2])
        E = _tensor_nodes(prm, E[0::2], E[1::2])
        M = new_m
        res.update({k: (M[k] if k in M else U[0]) for k in top if top[k] == lvl})
    return [jnp.ones(batch + (1,), u.dtype)] + [res[k] for k in range(1, degree + 1)]
