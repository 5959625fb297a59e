"""Branching layers: ``FanOut``, ``parallel``, ``FanInSum``, ``FanInConcat``, ``Identity``.

Residual networks (``x + f(x)``, WideResNet) are built from one description:
``serial(FanOut(2), parallel(serial(Relu(), Conv(...)), Identity()), FanInSum())``.  Between
``FanOut`` and a fan-in the network state is a list (of arrays in ``apply_fn``, of shapes in
``init_fn``, of :class:`~sims.kernels._core.Kernel` in ``kernel_fn``).

Kernels (neural-tangents 0.6.5 ``stax`` semantics, Novak et al. 2020, arXiv:1912.02803, §3):

- ``FanInSum``: ``nngp = Σ_b nngp_b`` (same for ``ntk``, ``cov1``, ``cov2``).  This is exact when the
  branches are independent given the input — true when every branch but at most one ends in a
  ``Dense``/``Conv`` with its own zero-mean weights (the cross terms ``E[f_b(x) f_c(x')]`` then
  vanish).  As in neural-tangents, several branches must all be mean-zero Gaussian
  (``is_gaussian``, i.e. end in an affine layer or be an ``Identity`` of one); otherwise
  ``NotImplementedError``.  Two ``Identity`` branches of the same input are *not* independent: the
  rule (and neural-tangents) gives ``2·nngp`` where the finite network has ``4·nngp``.
- ``FanInConcat`` (channel axis): the channel-weighted mean ``Σ_b C_b nngp_b / Σ_b C_b`` (the
  kernel is the mean over channels of ``z_c(x) z_c(x')``); the result is not Gaussian.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from sims.kernels._core import FULL, Layer, check_out, positionwise, spatial_requirement

__all__ = ["FanOut", "FanInSum", "FanInConcat", "Identity", "parallel", "apply_layer"]


def apply_layer(layer, params, x, kwargs):
    """``layer.apply_fn(params, x, **kwargs)``; without keywords a two-argument ``apply_fn`` works too."""
    return layer.apply_fn(params, x, **kwargs) if kwargs else layer.apply_fn(params, x)


def _split_rng(kwargs, n):
    """Per-layer keyword dicts: ``rng`` split ``n`` ways (each ``Dropout`` gets its own key)."""
    rng = kwargs.get("rng")
    if rng is None:
        return [kwargs] * n
    return [dict(kwargs, rng=r) for r in jax.random.split(rng, n)]


def Identity() -> Layer:
    """``f(x) = x``; the kernel is unchanged."""
    return Layer(lambda key, input_shape: (input_shape, ()), lambda params, x, **kw: x,
                 positionwise(lambda k: k))


def FanOut(num: int) -> Layer:
    """Copy the input into ``num`` branches (a list)."""
    check_out("num", num)
    return Layer(lambda key, input_shape: ([input_shape] * num, ()),
                 lambda params, x, **kw: [x] * num, positionwise(lambda k: [k] * num))


def _as_list(ks, name):
    if not isinstance(ks, (list, tuple)):
        raise TypeError(f"x: {name} expects a list of branches (put FanOut before it), got one input")
    return list(ks)


def FanInSum() -> Layer:
    """Sum the branches (see the module docstring for the kernel and its independence assumption)."""

    def init_fn(key, input_shapes):
        shapes = _as_list(input_shapes, "FanInSum")
        if any(tuple(s) != tuple(shapes[0]) for s in shapes):
            raise ValueError(f"x: FanInSum needs branches of one shape, got {shapes}")
        return shapes[0], ()

    def apply_fn(params, xs, **kwargs):
        xs = _as_list(xs, "FanInSum")
        return sum(xs[1:], xs[0])

    @positionwise
    def kernel_fn(ks):
        ks = _as_list(ks, "FanInSum")
        if any(k.nngp.shape != ks[0].nngp.shape for k in ks):
            raise ValueError(f"x: FanInSum needs branches of one shape, got kernels "
                             f"{[k.nngp.shape for k in ks]}")
        if len(ks) > 1 and not all(k.is_gaussian for k in ks):
            raise NotImplementedError(
                "FanInSum of several branches is implemented for mean-zero Gaussian branches only "
                "(each ends in Dense/Conv, or is an Identity of such an output), as in neural-tangents; "
                f"is_gaussian per branch: {[bool(k.is_gaussian) for k in ks]}")
        total = lambda arrs: None if arrs[0] is None else sum(arrs[1:], arrs[0])  # noqa: E731
        return ks[0]._replace(nngp=total([k.nngp for k in ks]), ntk=total([k.ntk for k in ks]),
                              cov1=total([k.cov1 for k in ks]), cov2=total([k.cov2 for k in ks]),
                              is_gaussian=all(k.is_gaussian for k in ks))

    return Layer(init_fn, apply_fn, kernel_fn)


def FanInConcat(axis: int = -1) -> Layer:
    """Concatenate the branches along the channel axis (``axis=-1``, the only one supported)."""
    if axis != -1:
        raise NotImplementedError(f"axis: FanInConcat supports the channel axis (-1) only, got {axis!r}")

    def init_fn(key, input_shapes):
        shapes = _as_list(input_shapes, "FanInConcat")
        if any(tuple(s[:-1]) != tuple(shapes[0][:-1]) for s in shapes):
            raise ValueError(f"x: FanInConcat needs branches equal but for channels, got {shapes}")
        return tuple(shapes[0][:-1]) + (sum(s[-1] for s in shapes),), ()

    def apply_fn(params, xs, **kwargs):
        return jnp.concatenate(_as_list(xs, "FanInConcat"), axis=-1)

    @positionwise
    def kernel_fn(ks):
        ks = _as_list(ks, "FanInConcat")
        if any(k.nngp.shape != ks[0].nngp.shape for k in ks):
            raise ValueError(f"x: FanInConcat needs branches equal but for channels, got kernels "
                             f"{[k.nngp.shape for k in ks]}")
        widths = [k.channels for k in ks]
        tot = sum(widths)

        def mix(arrs):
            if arrs[0] is None:
                return None
            return sum(w * a for w, a in zip(widths, arrs)) / tot

        return ks[0]._replace(nngp=mix([k.nngp for k in ks]), ntk=mix([k.ntk for k in ks]),
                              cov1=mix([k.cov1 for k in ks]), cov2=mix([k.cov2 for k in ks]),
                              channels=tot, is_gaussian=False)

    return Layer(init_fn, apply_fn, kernel_fn)


def parallel(*layers: Layer) -> Layer:
    """Apply ``layers[b]`` to branch ``b`` of a list input (NT ``stax.parallel``)."""
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(f"layers[{i}] must be a Layer (call it: stax.Relu()), got {layer!r}")
    n = len(layers)

    def _check(xs, what):
        xs = _as_list(xs, "parallel")
        if len(xs) != n:
            raise ValueError(f"x: parallel of {n} layers got {len(xs)} {what}")
        return xs

    def init_fn(key, input_shapes):
        shapes = _check(input_shapes, "input shapes")
        outs = [layer.init_fn(k, s) for layer, k, s in zip(layers, jax.random.split(key, n), shapes)]
        return [o[0] for o in outs], tuple(o[1] for o in outs)

    def apply_fn(params, xs, **kwargs):
        xs = _check(xs, "inputs")
        return [apply_layer(layer, p, x, kw)
                for layer, p, x, kw in zip(layers, params, xs, _split_rng(kwargs, n))]

    def kernel_fn(ks):
        ks = _check(ks, "kernels")
        return [layer.kernel_fn(k) for layer, k in zip(layers, ks)]

    def spatial_req(req_out):  # one requirement for all branches: FULL if any branch needs it
        reqs = [spatial_requirement(layer, req_out) for layer in layers]
        return FULL if FULL in reqs else req_out if not reqs else reqs[0]

    kernel_fn.spatial_req = spatial_req
    return Layer(init_fn, apply_fn, kernel_fn)
