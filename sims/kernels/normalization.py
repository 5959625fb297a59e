"""``LayerNorm`` and ``Dropout`` layers with their infinite-width kernels (neural-tangents semantics).

``LayerNorm(axis=-1, *, eps=1e-12)``: ``(x − mean)/√(eps + var)`` over ``axis`` (which must contain
the channel axis).  For mean-zero Gaussian inputs the channel mean → 0 and the channel variance → the
kernel's diagonal ``q(p)`` at infinite width, so the kernel is ``nngp[p, p'] / √(v1(p) v2(p'))`` with
``v(p) = eps + mean over the normalized spatial axes of q`` (the same for ``ntk``, ``cov1``, ``cov2``);
neural-tangents 0.6.5 ``stax.LayerNorm``.  Inputs must be Gaussian (after ``Dense``/``Conv``).

``Dropout(rate, *, mode='train')``: ``rate`` is the *keep* probability (as in neural-tangents and
``jax.example_libraries.stax``); ``apply_fn(params, x, rng=key)`` keeps each unit with probability
``rate`` and divides by ``rate``.  Train-mode kernel: the masks of different units, positions and
examples are independent, so only the same-unit, same-position, same-example second moment changes,
by ``E[m²]/E[m]² = 1/rate``: ``cov1``/``cov2`` are multiplied by ``1/rate`` on the spatial diagonal,
and ``nngp``/``ntk`` on the example diagonal too when ``x2`` is ``x1`` (``x1_is_x2``; one mask per
example).  Test mode is the identity.  (NT ``stax.Dropout``; Srivastava et al. 2014.)
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from sims.kernels import spatial
from sims.kernels._core import Kernel, Layer, finite_number, positionwise

__all__ = ["LayerNorm", "Dropout"]


def _canonical_axes(axis, rank):
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, int) or not -rank <= a < rank:
            raise ValueError(f"axis must be ints in [-{rank}, {rank}), got {axis!r}")
        out.append(a % rank)
    return sorted(set(out))


def LayerNorm(axis=-1, *, eps: float = 1e-12) -> Layer:
    """Layer normalization over ``axis`` (ints; must include the channel axis -1).

    Parameters
    ----------
    axis : int or sequence of int
        Axes of ``x`` (rank ``ns + 2``) to normalize over; the batch axis 0 is not supported.
    eps : float, keyword-only
        Added to the variance (positive).
    """
    eps = finite_number("eps", eps)
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps!r}")

    def apply_fn(params, x, **kwargs):
        axes = tuple(_canonical_axes(axis, x.ndim))
        mean = jnp.mean(x, axis=axes, keepdims=True)
        var = jnp.var(x, axis=axes, keepdims=True)
        return (x - mean) / jnp.sqrt(eps + var)

    @positionwise
    def kernel_fn(k: Kernel) -> Kernel:
        rank = k.ns + 2
        axes = _canonical_axes(axis, rank)
        if rank - 1 not in axes:
            raise ValueError(f"axis: LayerNorm must normalize over the channel axis ({rank - 1}) to have "
                             f"an infinite-width kernel, got axis={axis!r}")
        if 0 in axes:
            raise NotImplementedError("axis: LayerNorm over the batch axis is not supported")
        if not k.is_gaussian:
            raise NotImplementedError("LayerNorm kernel is implemented for Gaussian inputs only "
                                      "(put it right after Dense/Conv), as in neural-tangents")
        sp_axes = tuple(a - 1 for a in axes if a != rank - 1)  # spatial axes 0..ns-1
        ns = k.ns

        def var(cov):  # (n, *s): eps + spatial diagonal, averaged over the normalized spatial axes
            d = eps + (cov if k.diagonal_spatial else spatial.diag(cov, 1, ns))
            if sp_axes:
                d = jnp.broadcast_to(jnp.mean(d, axis=tuple(1 + a for a in sp_axes), keepdims=True),
                                     d.shape)
            return d

        v1, v2 = var(k.cov1), var(k.cov2)
        if k.diagonal_spatial:
            p12 = v1[:, None] * v2[None, :]
            p11, p22 = v1 * v1, v2 * v2
        else:
            one = (1,) * ns
            p12 = v1.reshape(v1.shape[:1] + (1,) + v1.shape[1:] + one) * \
                v2.reshape((1,) + v2.shape[:1] + one + v2.shape[1:])
            p11 = v1.reshape(v1.shape + one) * v1.reshape(v1.shape[:1] + one + v1.shape[1:])
            p22 = v2.reshape(v2.shape + one) * v2.reshape(v2.shape[:1] + one + v2.shape[1:])
        r12 = jax.lax.rsqrt(p12)
        return k._replace(nngp=k.nngp * r12, ntk=None if k.ntk is None else k.ntk * r12,
                          cov1=k.cov1 * jax.lax.rsqrt(p11), cov2=k.cov2 * jax.lax.rsqrt(p22))

    return Layer(lambda key, input_shape: (input_shape, ()), apply_fn, kernel_fn)


def _diag_mul(a, nb, ns, factor, diagonal_spatial):
    """Multiply the entries with equal positions (and, for ``nb == 2``, equal examples) by ``factor``."""
    if nb == 2:
        n1, n2 = a.shape[:2]
        if n1 != n2:
            return a
        eye_b = jnp.eye(n1, dtype=bool)
    else:
        eye_b = None
    if diagonal_spatial or ns == 0:
        mask = jnp.ones(a.shape[nb:], dtype=bool)
    else:
        size = a.shape[nb:nb + ns]
        p = math.prod(size)
        mask = jnp.eye(p, dtype=bool).reshape(size + size)
    if eye_b is not None:
        mask = eye_b.reshape(eye_b.shape + (1,) * mask.ndim) & mask
    return jnp.where(mask, a * factor, a)


def Dropout(rate: float, *, mode: str = "train") -> Layer:
    """Dropout with keep probability ``rate`` (see the module docstring)."""
    rate = finite_number("rate", rate)
    if not 0.0 < rate <= 1.0:
        raise ValueError(f"rate (the keep probability) must be in (0, 1], got {rate!r}")
    if mode not in ("train", "test"):
        raise ValueError(f"mode must be 'train' or 'test', got {mode!r}")

    def apply_fn(params, x, *, rng=None, **kwargs):
        if mode == "test":
            return x
        if rng is None:
            raise ValueError("rng: Dropout in train mode needs apply_fn(params, x, rng=key)")
        keep = jax.random.bernoulli(rng, rate, x.shape)
        return jnp.where(keep, x / rate, 0.0)

    @positionwise
    def kernel_fn(k: Kernel) -> Kernel:
        if mode == "test":
            return k
        if k.inputs is not None:
            raise ValueError("Dropout cannot be applied to the input (put a Dense/Conv before it)")
        f = 1.0 / rate
        fx = jnp.where(k.x1_is_x2, f, 1.0)
        dm = lambda a, nb, fac: None if a is None else _diag_mul(a, nb, k.ns, fac, k.diagonal_spatial)  # noqa: E731
        return k._replace(cov1=dm(k.cov1, 1, f), cov2=dm(k.cov2, 1, f), nngp=dm(k.nngp, 2, fx),
                          ntk=dm(k.ntk, 2, fx), is_gaussian=False)

    return Layer(lambda key, input_shape: (input_shape, ()), apply_fn, kernel_fn)
