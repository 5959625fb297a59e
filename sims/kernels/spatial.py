"""Spatial kernel maps: the linear maps ``stax`` layers apply to ``(*batch, *s, *s)`` kernel arrays.

A kernel array carries ``nb`` batch axes (2 for the cross ``nngp`` / ``ntk`` of ``(n1, n2)`` pairs,
1 for the per-example self-covariances ``cov1`` / ``cov2``) followed by the spatial axes ``s`` of
the first and of the second example.  This module holds the linear maps on them (arrays in,
arrays out) and the checks of the window arguments that define them; :mod:`sims.kernels.stax`
holds the layers, the :class:`~sims.kernels.stax.Kernel` state and the parameterization rules.

- :func:`input_covariances` ``x·x'/C`` per pair of positions, and :func:`patch_covariances`, the
  same already averaged over a ``Conv`` filter, from one Gram of the patch matrix;
- :func:`conv_lin`: the ``Conv`` map ``mean_δ a[..., i·s+δ, i'·s+δ]`` (zero padding counts as 0),
  with :func:`pads` / :func:`same_pad` the padding rule shared with ``apply_fn``;
- :func:`avg_pool` (``AvgPool``), :func:`mean_spatial` (``GlobalAvgPool``, all position pairs) and
  :func:`diag_mean` (``Flatten``, the spatial diagonal), with :func:`diag`;
- :func:`lin_pair`: a real-linear map applied once to ``nngp + i·ntk``; :func:`map_kernel` applies a
  map to all four arrays of a kernel state;
- :func:`check_window`: the filter / window shape and strides arguments.

Speed (profiled on XLA:CPU, ``benchmarks/bench_kernels_exact.py``; values are unchanged up to
summation order): a ``Conv`` on the input kernel is computed from a Gram of the patch matrix;
later ``Conv`` layers pad the kernel once and sum all filter taps in one fused pass; ``Conv``,
``AvgPool`` and ``GlobalAvgPool`` act once on ``nngp + i·ntk`` (complex, exact for real-linear maps)
so that the preceding activation stays one fusion; ``GlobalAvgPool`` is a matrix-vector product.
"""
from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["map_kernel", "lin_pair", "diag", "diag_mean", "input_covariances", "patch_covariances",
           "check_window", "pads", "same_pad", "conv_lin", "conv_lin_diag", "avg_pool", "mean_spatial"]

_MAX_FUSED_TAPS = 27  # choice: up to 3x3x3 filters sum all taps in one pass, larger ones axis by axis


def map_kernel(fn, k, *, pack: bool = False):
    """Apply a linear map ``fn(array, nb)`` to a ``stax.Kernel``'s nngp, ntk (``nb=2``) and cov1/cov2 (1).

    ``pack``: apply ``fn`` once to ``nngp + i·ntk`` (:func:`lin_pair`); ``fn`` must accept
    complex arrays.
    """
    if pack:
        nngp, ntk = lin_pair(fn, k.nngp, k.ntk)
    else:
        nngp, ntk = fn(k.nngp, 2), (None if k.ntk is None else fn(k.ntk, 2))
    return k._replace(nngp=nngp, ntk=ntk, cov1=fn(k.cov1, 1), cov2=fn(k.cov2, 1))


def lin_pair(lin, nngp, ntk):
    """``(lin(nngp, 2), lin(ntk, 2))`` for a real-linear ``lin``, as one pass over ``nngp + i·ntk``.

    Profiled choice (XLA:CPU): the activation before a Conv or a pooling produces ``T`` and ``ntk·Ṫ``
    from the same ``θ``; as two arrays, XLA materializes ``θ`` and ``√(P − q12²)`` at full size for
    the two consumers.  Packed as one complex array the activation, the padding and the filter taps
    stay in one fusion each, computing ``θ`` once per entry (conv NNGP+NTK benchmark ~1.3x faster).
    Exact: ``lin`` is real-linear, so real and imaginary parts never mix.  ``ntk=None`` maps nngp only.
    """
    if ntk is None:
        return lin(nngp, 2), None
    z = lin(jax.lax.complex(nngp, ntk), 2)
    return jnp.real(z), jnp.imag(z)


def diag(a, nb: int, ns: int):
    """Spatial diagonal ``(*batch, *s)`` of ``(*batch, *s, *s)``."""
    if ns == 0:
        return a
    sh = a.shape[nb:nb + ns]
    p = math.prod(sh)
    flat = a.reshape(a.shape[:nb] + (p, p))
    return jnp.diagonal(flat, axis1=-2, axis2=-1).reshape(a.shape[:nb] + sh)


def diag_mean(a, nb: int, ns: int):
    """Mean of the spatial diagonal, ``(*batch,)`` (the ``Flatten`` kernel map)."""
    return jnp.mean(diag(a, nb, ns), axis=tuple(range(nb, nb + ns)))


def input_covariances(x1, x2, *, diagonal: bool = False):
    """``(cross, self1, self2)``: ``x·x'/C`` per pair of positions, ``(n1, n2, *s, *s)`` and ``(n, *s, *s)``.

    ``diagonal``: only the same-position entries, ``(n1, n2, *s)`` and ``(n, *s)``.
    ``x2 is x1`` reuses the first self-covariance.
    """
    ns = x1.ndim - 2
    letters = "hwdefgij"[:ns]
    up = letters if diagonal else letters.upper()
    c = x1.shape[-1]
    if diagonal:
        cross = jnp.einsum(f"a{letters}c,b{letters}c->ab{letters}", x1, x2) / c
        s1 = jnp.einsum(f"a{letters}c,a{letters}c->a{letters}", x1, x1) / c
        s2 = s1 if x2 is x1 else jnp.einsum(f"a{letters}c,a{letters}c->a{letters}", x2, x2) / c
        return cross, s1, s2
    cross = jnp.einsum(f"a{letters}c,b{up}c->ab{letters}{up}", x1, x2) / c
    s1 = jnp.einsum(f"a{letters}c,a{up}c->a{letters}{up}", x1, x1) / c
    s2 = s1 if x2 is x1 else jnp.einsum(f"a{letters}c,a{up}c->a{letters}{up}", x2, x2) / c
    return cross, s1, s2


def patch_covariances(x1, x2, filter_shape, strides, padding, dn, *, diagonal: bool = False):
    """Input covariances already averaged over the filter: ``⟨patch_p(x), patch_p'(x')⟩/(C·F)``.

    Equals :func:`conv_lin` of :func:`input_covariances` (both sum ``x[p+δ]·x'[p'+δ]`` over the
    filter offsets ``δ``, zero padding included), but costs one Gram of the ``(n·|s|, C·F)`` patch
    matrix instead of a Gram followed by ``F`` shifted passes over the ``(n, n, *s, *s)`` array.
    """
    def patches(x):
        return jax.lax.conv_general_dilated_patches(x, filter_shape, strides, padding,
                                                    dimension_numbers=dn)
    p1 = patches(x1)
    p2 = p1 if x2 is x1 else patches(x2)
    return input_covariances(p1, p2, diagonal=diagonal)


def check_window(name, value, ns=None):
    """A tuple of positive ints (filter/window shape or strides), of length ``ns`` if given."""
    try:
        t = tuple(value)
    except TypeError:
        raise TypeError(f"{name} must be a sequence of positive ints, got {value!r}") from None
    if not t or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in t):
        raise ValueError(f"{name} must be a non-empty sequence of positive ints, got {value!r}")
    if ns is not None and len(t) != ns:
        raise ValueError(f"{name} must have one entry per spatial axis ({ns}), got {value!r}")
    return tuple(int(v) for v in t)


def pads(filter_shape, padding):
    """Per-axis ``(lo, hi)`` zero padding of ``'VALID'`` / ``'SAME'`` (raises on anything else)."""
    if padding == "VALID":
        return [(0, 0)] * len(filter_shape)
    if padding == "SAME":
        return [((f - 1) // 2, f // 2) for f in filter_shape]
    raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}")


def same_pad(n: int, f: int, s: int) -> tuple[int, int]:
    """XLA's SAME padding of one axis (so ``apply_fn`` and ``kernel_fn`` agree)."""
    total = max((-(-n // s) - 1) * s + f - n, 0)
    return total // 2, total - total // 2


def conv_lin(a, nb, ns, filter_shape, strides, padding):
    """``mean_δ a[..., i·s+δ, i'·s+δ]`` with zero padding (the Conv kernel map).

    The filter offset ``δ = (δ_1, ..., δ_ns)`` shifts each spatial axis pair ``(i_k, i'_k)`` together.
    Implementation (profiled on CPU, see ``benchmarks/bench_kernels_exact.py``): pad every axis pair
    once and materialize the padded array (``optimization_barrier``: a pad fused into the shifted reads
    costs a bounds check per tap and was ~6x slower), then add the ``Π_k f_k`` strided slices in one
    fused pass, which XLA fuses with the following activation.  Filters with more than
    ``_MAX_FUSED_TAPS`` taps are summed one axis at a time (``Σ_k f_k`` slices, one pass per axis).
    """
    pads(filter_shape, padding)
    if math.prod(filter_shape) > _MAX_FUSED_TAPS and ns > 1:
        for ax in range(ns):
            a = _conv_lin_axes(a, nb, ns, {ax: (filter_shape[ax], strides[ax])}, padding)
        return a
    return _conv_lin_axes(a, nb, ns, {ax: fs for ax, fs in enumerate(zip(filter_shape, strides))},
                          padding)


def conv_lin_diag(a, nb, filter_shape, strides, padding):
    """The Conv map on a diagonal-spatial array ``(*batch, *s)``: ``mean_δ a[..., i·s + δ]``.

    The output's same-position entry ``(i, i)`` reads only the input's ``(i·s + δ, i·s + δ)``, so on
    the spatial diagonal the Conv map is a window mean with the filter as window (zero padding as
    :func:`conv_lin`, i.e. XLA's SAME rule).
    """
    ns = len(filter_shape)
    size = a.shape[nb:nb + ns]
    pad = [same_pad(n, f, s) if padding == "SAME" else (0, 0) for n, f, s in zip(size, filter_shape, strides)]
    s = jax.lax.reduce_window(a, jnp.zeros((), a.dtype), jax.lax.add, (1,) * nb + tuple(filter_shape),
                              (1,) * nb + tuple(strides), [(0, 0)] * nb + pad)
    return s / math.prod(filter_shape)


def _conv_lin_axes(a, nb, ns, axes: dict, padding):
    cfg = [(0, 0)] * a.ndim
    outs = {}
    for ax, (f, s) in axes.items():
        n = a.shape[nb + ax]
        pad = same_pad(n, f, s) if padding == "SAME" else (0, 0)
        cfg[nb + ax] = cfg[nb + ns + ax] = pad
        outs[ax] = (n + sum(pad) - f) // s + 1
    if any(p != (0, 0) for p in cfg):
        a = jnp.pad(a, cfg)
    a = jax.lax.optimization_barrier(a)
    acc = None
    for delta in itertools.product(*(range(f) for f, _ in axes.values())):
        idx = [slice(None)] * a.ndim
        for (ax, (f, s)), d in zip(axes.items(), delta):
            idx[nb + ax] = idx[nb + ns + ax] = slice(d, d + (outs[ax] - 1) * s + 1, s)
        tap = a[tuple(idx)]
        acc = tap if acc is None else acc + tap
    return acc / math.prod(f for f, _ in axes.values())


def avg_pool(a, nb, window, strides, padding_pairs, *, both: bool):
    """Window means over the ``len(window)`` axes after the first ``nb`` (``both``: and the next as many).

    ``both=False`` pools an activation ``(*batch, *s)``; ``both=True`` a kernel array ``(*batch, *s, *s)``
    (each axis pair pooled together).  Zero padding counts in the mean (``normalize_edges=False``).
    """
    nsides = 2 if both else 1
    dims = (1,) * nb + tuple(window) * nsides
    strd = (1,) * nb + tuple(strides) * nsides
    pad = [(0, 0)] * nb + list(padding_pairs) * nsides
    s = jax.lax.reduce_window(a, 0.0, jax.lax.add, dims, strd, pad)
    return s / math.prod(window) ** nsides


def mean_spatial(a, nb):
    """Mean over all axes after the first ``nb``, as a matrix-vector product with ``1/P``.

    Profiled choice: XLA:CPU lowers ``jnp.mean`` over the trailing axes of a fused elementwise
    producer to a reduction that materializes the producer's intermediates (and broadcast
    constants) at full size; the matvec keeps the producer in one loop fusion (~1.2x faster on
    the conv benchmark).  Same value up to summation order (~1e-16 relative).
    """
    flat = a.reshape(a.shape[:nb] + (-1,))
    return flat @ jnp.full((flat.shape[-1],), 1.0 / flat.shape[-1], dtype=flat.dtype)
