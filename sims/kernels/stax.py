"""Layer combinators giving a finite network and its infinite-width NNGP / NTK from one description.

``init_fn, apply_fn, kernel_fn = serial(Dense(512, W_std=1.5, b_std=0.05), Relu(), Dense(1))``

Conventions are those of neural-tangents (Novak et al. 2020, arXiv:1912.02803; google/neural-tangents
``_src/stax``), which we use as the specification only:

- inputs are ``(n, *spatial, channels)`` (NHWC for images); the input covariance is ``x·x'/C`` per
  pair of spatial positions (``C`` = channels); the input NTK is 0;
- ``'ntk'`` parameterization (default; Jacot et al. 2018): ``z = (W_std/√N_in) W x + b_std b`` with
  ``W, b ~ N(0, 1)``, so ``nngp' = W_std² nngp + b_std²`` and ``ntk' = nngp' + W_std² ntk``; ``Conv``
  averages the kernel over the filter's (shifted) diagonal and zero padding contributes 0;
- ``'standard'`` (Sohl-Dickstein et al. 2020, arXiv:2001.07301): ``W ~ N(0, W_std²/N_in)``, ``b ~ N(0, b_std²)``,
  so ``ntk' = W_std² ntk + N_in·nngp_in + [b_std is not None]`` — the width ``N_in`` enters the kernel;
- an activation maps ``nngp ← T(q11, q22, q12)`` and ``ntk ← ntk·Ṫ`` (``theory.dual_activations``);
- ``Flatten`` averages over the spatial diagonal, ``GlobalAvgPool`` over all position pairs.

The kernel is carried as ``Kernel(nngp, ntk, cov1, cov2)``: cross arrays ``(n1, n2, *s, *s)`` and
per-example self-covariances ``(n, *s, *s)`` (needed by pooling and by the activation variances);
``ntk`` is ``None`` when ``get`` does not ask for it (layers then skip the NTK, as in neural-tangents).
A final ``Dense(k)`` yields ``(n1, n2)`` (outputs i.i.d.; ``k`` is ignored by ``kernel_fn`` under
``'ntk'``).  ``kernel_fn`` needs float64 inputs (enable ``jax_enable_x64`` at the entry point).

Bad input (shapes that do not fit a layer, float32, non-finite values, bad layer arguments) raises
``ValueError`` / ``TypeError`` naming the argument, at the call or while tracing; non-finite values
can only be detected in concrete (not traced) inputs.

Speed (profiled on XLA:CPU, ``benchmarks/bench_kernels_exact.py``; values are unchanged up to
summation order): a ``Conv`` on the input kernel is computed from a Gram of the patch matrix;
later ``Conv`` layers pad the kernel once and sum all filter taps in one fused pass; ``Conv``,
``AvgPool`` and ``GlobalAvgPool`` act once on ``nngp + i·ntk`` (complex, exact for real-linear maps) so that the
preceding activation stays one fusion; ``GlobalAvgPool`` is a matrix-vector product.
"""
from __future__ import annotations

import collections
import itertools
import math
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from sims.kernels import activations as _act

__all__ = ["Kernel", "Layer", "serial", "Dense", "Conv", "AvgPool", "GlobalAvgPool", "Flatten",
           "Relu", "ABRelu", "LeakyRelu", "Abs", "Erf", "Sin", "Gelu", "Monomial", "Hermite",
           "ElementwiseHermite", "ExpNormalized", "NNGPNTK", "Myrtle"]

NNGPNTK = collections.namedtuple("NNGPNTK", ["nngp", "ntk"])


class Kernel(NamedTuple):
    """Kernel state between layers: cross ``(n1, n2, *s, *s)``, self ``(n, *s, *s)`` arrays."""

    nngp: jax.Array
    ntk: jax.Array | None  # None when the NTK was not requested (``get='nngp'``): layers skip it
    cov1: jax.Array
    cov2: jax.Array
    ns: int          # number of spatial dimensions
    channels: int    # current channel count (enters only the 'standard' NTK)
    inputs: tuple | None = None  # (x1, x2) on the input kernel only (then ntk = 0); serial clears it


class Layer(NamedTuple):
    """``(init_fn, apply_fn, kernel_fn)`` of one layer; ``kernel_fn: Kernel -> Kernel``."""

    init_fn: Callable
    apply_fn: Callable
    kernel_fn: Callable


# -- helpers on (*batch, *s, *s) arrays ----------------------------------------------------------

def _map3(fn, k: Kernel, *, pack: bool = False) -> Kernel:
    """Apply a linear map ``fn(array, nbatch)`` to nngp, ntk (2 batch dims) and cov1/cov2 (1).

    ``pack``: apply ``fn`` once to ``nngp + i·ntk`` (see :func:`_lin_pair`); ``fn`` must accept
    complex arrays.
    """
    if pack:
        nngp, ntk = _lin_pair(fn, k.nngp, k.ntk)
    else:
        nngp, ntk = fn(k.nngp, 2), (None if k.ntk is None else fn(k.ntk, 2))
    return k._replace(nngp=nngp, ntk=ntk, cov1=fn(k.cov1, 1), cov2=fn(k.cov2, 1))


def _lin_pair(lin, nngp, ntk):
    """``(lin(nngp), lin(ntk))`` for a real-linear ``lin``, computed as one pass over ``nngp + i·ntk``.

    Profiled choice (XLA:CPU): the activation before a Conv or a pooling produces ``T`` and ``ntk·Ṫ``
    from the same ``θ``; as two arrays, XLA materializes ``θ`` and ``√(P − q12²)`` at full size for
    the two consumers.  Packed as one complex array the activation, the padding and the filter taps
    stay in one fusion each, computing ``θ`` once per entry (conv NNGP+NTK benchmark ~1.3x faster).
    Exact: ``lin`` is real-linear, so real and imaginary parts never mix.
    """
    if ntk is None:
        return lin(nngp, 2), None
    z = lin(jax.lax.complex(nngp, ntk), 2)
    return jnp.real(z), jnp.imag(z)


def _diag(a, nb: int, ns: int):
    """Spatial diagonal ``(*batch, *s)`` of ``(*batch, *s, *s)``."""
    if ns == 0:
        return a
    sh = a.shape[nb:nb + ns]
    p = math.prod(sh)
    flat = a.reshape(a.shape[:nb] + (p, p))
    return jnp.diagonal(flat, axis1=-2, axis2=-1).reshape(a.shape[:nb] + sh)


def _check_ntk_params(W_std, b_std, parameterization):
    if parameterization not in ("ntk", "standard"):
        raise ValueError(f"parameterization must be 'ntk' or 'standard', got {parameterization!r}")
    if not (isinstance(W_std, (int, float)) and math.isfinite(W_std) and W_std >= 0):
        raise ValueError(f"W_std must be a finite non-negative number, got {W_std!r}")
    if b_std is not None and not (isinstance(b_std, (int, float)) and math.isfinite(b_std) and b_std >= 0):
        raise ValueError(f"b_std must be None or a finite non-negative number, got {b_std!r}")


def _affine_kernel(k: Kernel, lin, n_in: int, out: int, W_std, b_std, parameterization, *,
                   ntk_zero: bool = False, pack: bool = False) -> Kernel:
    """Shared Dense/Conv kernel rule; ``lin`` is the (filter-averaging) linear map.

    ``ntk_zero``: the incoming NTK is known to be 0 (the input kernel), so ``lin(ntk)`` is skipped.
    ``pack``: apply ``lin`` to nngp and ntk in one complex pass (:func:`_lin_pair`).
    ``k.ntk is None`` (the NTK was not requested) skips all NTK work.
    """
    w2, b2 = W_std ** 2, (0.0 if b_std is None else b_std ** 2)
    if ntk_zero or k.ntk is None:
        nngp_in, ntk_lin = lin(k.nngp, 2), None
    else:
        nngp_in, ntk_lin = _lin_pair(lin, k.nngp, k.ntk) if pack else (lin(k.nngp, 2), lin(k.ntk, 2))
    nngp = w2 * nngp_in + b2
    if k.ntk is None:
        ntk = None
    else:
        ntk_in = 0.0 if ntk_zero else w2 * ntk_lin
        if parameterization == "ntk":
            ntk = nngp + ntk_in
        else:
            ntk = ntk_in + n_in * nngp_in + (0.0 if b_std is None else 1.0)
        ntk = jnp.broadcast_to(ntk, nngp.shape)
    return k._replace(nngp=nngp, ntk=ntk, cov1=w2 * lin(k.cov1, 1) + b2,
                      cov2=w2 * lin(k.cov2, 1) + b2, channels=out, inputs=None)


def _check_window(name, value, ns=None):
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


def _check_out(name, value):
    if not (isinstance(value, (int, np.integer)) and value >= 1):
        raise ValueError(f"{name} must be a positive int, got {value!r}")


# -- affine layers --------------------------------------------------------------------------------

def Dense(out_dim: int, *, W_std: float = 1.0, b_std: float | None = None,
          parameterization: str = "ntk") -> Layer:
    """Fully connected layer on the channel (last) axis; see the module docstring for the rule."""
    _check_out("out_dim", out_dim)
    _check_ntk_params(W_std, b_std, parameterization)

    def init_fn(key, input_shape):
        n_in = input_shape[-1]
        kw, kb = jax.random.split(key)
        w = jax.random.normal(kw, (n_in, out_dim))
        b = jax.random.normal(kb, (out_dim,))
        if parameterization == "standard":
            w = w * W_std / math.sqrt(n_in)
            b = b * (0.0 if b_std is None else b_std)
        return tuple(input_shape[:-1]) + (out_dim,), (w, b)

    def apply_fn(params, x):
        w, b = params
        if x.shape[-1] != w.shape[0]:
            raise ValueError(f"x: Dense expects {w.shape[0]} input channels, got shape {x.shape}")
        if parameterization == "standard":
            return x @ w + (0.0 if b_std is None else b)
        return W_std / math.sqrt(w.shape[0]) * (x @ w) + (0.0 if b_std is None else b_std * b)

    def kernel_fn(k: Kernel) -> Kernel:
        return _affine_kernel(k, lambda a, nb: a, k.channels, out_dim, W_std, b_std, parameterization)

    return Layer(init_fn, apply_fn, kernel_fn)


def _pads(filter_shape, padding):
    if padding == "VALID":
        return [(0, 0)] * len(filter_shape)
    if padding == "SAME":
        return [((f - 1) // 2, f // 2) for f in filter_shape]
    raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}")


def _same_pad(n: int, f: int, s: int) -> tuple[int, int]:
    """XLA's SAME padding of one axis (so ``apply_fn`` and ``kernel_fn`` agree)."""
    total = max((-(-n // s) - 1) * s + f - n, 0)
    return total // 2, total - total // 2


_MAX_FUSED_TAPS = 27  # choice: up to 3x3x3 filters sum all taps in one pass, larger ones axis by axis


def _conv_lin(a, nb, ns, filter_shape, strides, padding):
    """``mean_δ a[..., i·s+δ, i'·s+δ]`` with zero padding (the Conv kernel map).

    The filter offset ``δ = (δ_1, ..., δ_ns)`` shifts each spatial axis pair ``(i_k, i'_k)`` together.
    Implementation (profiled on CPU, see ``benchmarks/bench_kernels_exact.py``): pad every axis pair
    once and materialize the padded array (``optimization_barrier``: a pad fused into the shifted reads
    costs a bounds check per tap and was ~6x slower), then add the ``Π_k f_k`` strided slices in one
    fused pass, which XLA fuses with the following activation.  Filters with more than
    ``_MAX_FUSED_TAPS`` taps are summed one axis at a time (``Σ_k f_k`` slices, one pass per axis).
    """
    _pads(filter_shape, padding)
    if math.prod(filter_shape) > _MAX_FUSED_TAPS and ns > 1:
        for ax in range(ns):
            a = _conv_lin_axes(a, nb, ns, {ax: (filter_shape[ax], strides[ax])}, padding)
        return a
    return _conv_lin_axes(a, nb, ns, {ax: fs for ax, fs in enumerate(zip(filter_shape, strides))},
                          padding)


def _conv_lin_axes(a, nb, ns, axes: dict, padding):
    cfg = [(0, 0)] * a.ndim
    outs = {}
    for ax, (f, s) in axes.items():
        n = a.shape[nb + ax]
        pad = _same_pad(n, f, s) if padding == "SAME" else (0, 0)
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


def _patch_kernel(x1, x2, filter_shape, strides, padding, dn, *, ntk: bool):
    """Input kernel already averaged over the filter: ``⟨patch_p(x), patch_p'(x')⟩/(C·F)``.

    Equals ``_conv_lin`` of the input covariance ``x·x'/C`` (both sum ``x[p+δ]·x'[p'+δ]`` over the
    filter offsets ``δ``, zero padding included), but costs one Gram of the ``(n·|s|, C·F)`` patch
    matrix instead of a Gram followed by ``F`` shifted passes over the ``(n, n, *s, *s)`` array.
    """
    def patches(x):
        return jax.lax.conv_general_dilated_patches(x, filter_shape, strides, padding,
                                                    dimension_numbers=dn)
    p1 = patches(x1)
    p2 = p1 if x2 is x1 else patches(x2)
    return _input_kernel(p1, p2, ntk=ntk)


def Conv(out_chan: int, filter_shape: Sequence[int], *, strides: Sequence[int] | None = None,
         padding: str = "VALID", W_std: float = 1.0, b_std: float | None = None,
         parameterization: str = "ntk") -> Layer:
    """Convolution over ``len(filter_shape)`` spatial axes (channels last, default VALID as in NT)."""
    _check_out("out_chan", out_chan)
    _check_ntk_params(W_std, b_std, parameterization)
    filter_shape = _check_window("filter_shape", filter_shape)
    strides = _check_window("strides", strides, len(filter_shape)) if strides is not None \
        else (1,) * len(filter_shape)
    _pads(filter_shape, padding)
    fsize = math.prod(filter_shape)
    ns = len(filter_shape)
    spec = "N" + "HWDUVXYZ"[:ns] + "C"
    dn = (spec, "HWDUVXYZ"[:ns] + "IO", spec)

    def _check_x(shape, name):
        if len(shape) != ns + 2:
            raise ValueError(f"{name}: Conv with filter_shape {filter_shape} expects inputs of rank "
                             f"{ns + 2} (n, *spatial, channels), got shape {tuple(shape)}")

    def init_fn(key, input_shape):
        _check_x((None,) + tuple(input_shape[1:]) if len(input_shape) == ns + 2 else input_shape,
                 "input_shape")
        c_in = input_shape[-1]
        kw, kb = jax.random.split(key)
        w = jax.random.normal(kw, filter_shape + (c_in, out_chan))
        b = jax.random.normal(kb, (out_chan,))
        if parameterization == "standard":
            w = w * W_std / math.sqrt(fsize * c_in)
            b = b * (0.0 if b_std is None else b_std)
        out = jax.eval_shape(lambda z: jax.lax.conv_general_dilated(
            z, w, strides, padding, dimension_numbers=dn), jax.ShapeDtypeStruct(
            (1,) + tuple(input_shape[1:]), w.dtype)).shape
        return (input_shape[0],) + out[1:], (w, b)

    def apply_fn(params, x):
        _check_x(x.shape, "x")
        w, b = params
        y = jax.lax.conv_general_dilated(x, w, strides, padding, dimension_numbers=dn)
        if parameterization == "standard":
            return y + (0.0 if b_std is None else b)
        return W_std / math.sqrt(fsize * w.shape[-2]) * y + (0.0 if b_std is None else b_std * b)

    def kernel_fn(k: Kernel) -> Kernel:
        if k.ns != ns:
            raise ValueError(f"x: Conv with filter_shape {filter_shape} needs {ns} spatial axes, "
                             f"the input to this layer has {k.ns}")
        size = k.nngp.shape[2:2 + ns]
        if padding == "VALID" and any(n < f for n, f in zip(size, filter_shape)):
            raise ValueError(f"x: Conv with filter_shape {filter_shape} (VALID) needs spatial size >= "
                             f"the filter, got {size}")
        if k.inputs is not None:  # first layer: filter-averaged input kernel from patches, ntk_in = 0
            kin = _patch_kernel(*k.inputs, filter_shape, strides, padding, dn, ntk=k.ntk is not None)
            kin = kin._replace(channels=k.channels)
            return _affine_kernel(kin, lambda a, nb: a, fsize * k.channels, out_chan, W_std, b_std,
                                  parameterization, ntk_zero=True)
        lin = lambda a, nb: _conv_lin(a, nb, ns, filter_shape, strides, padding)  # noqa: E731
        return _affine_kernel(k, lin, fsize * k.channels, out_chan, W_std, b_std, parameterization,
                              pack=True)

    return Layer(init_fn, apply_fn, kernel_fn)


# -- pooling / reshaping --------------------------------------------------------------------------

def AvgPool(window_shape: Sequence[int], *, strides: Sequence[int] | None = None,
            padding: str = "VALID") -> Layer:
    """Average pooling (``normalize_edges=False``: zero padding counts in the mean, as NT's default)."""
    window = _check_window("window_shape", window_shape)
    strides = _check_window("strides", strides, len(window)) if strides is not None else window
    pads = _pads(window, padding)
    ns = len(window)

    def _pool(a, nb, both):
        nsides = 2 if both else 1
        dims = (1,) * nb + window * nsides
        strd = (1,) * nb + strides * nsides
        pad = [(0, 0)] * nb + pads * nsides
        s = jax.lax.reduce_window(a, jnp.zeros((), a.dtype), jax.lax.add, dims, strd, pad)
        return s / math.prod(window) ** nsides

    def init_fn(key, input_shape):
        out = jax.eval_shape(lambda z: _pool(z, 1, False)[..., None],
                             jax.ShapeDtypeStruct((1,) + tuple(input_shape[1:-1]), jnp.float32)).shape
        return (input_shape[0],) + out[1:-1] + (input_shape[-1],), ()

    def apply_fn(params, x):
        if x.ndim != ns + 2:
            raise ValueError(f"x: AvgPool{window} expects rank {ns + 2}, got shape {x.shape}")
        y = jnp.moveaxis(x, -1, 1)
        return jnp.moveaxis(_pool(y, 2, False), 1, -1)

    def kernel_fn(k: Kernel) -> Kernel:
        if k.ns != ns:
            raise ValueError(f"x: AvgPool{window} needs {ns} spatial axes, got {k.ns}")
        size = k.nngp.shape[2:2 + ns]
        if padding == "VALID" and any(n < w for n, w in zip(size, window)):
            raise ValueError(f"x: AvgPool{window} (VALID) needs spatial size >= window, got {size}")
        return _map3(lambda a, nb: _pool(a, nb, True), k, pack=True)

    return Layer(init_fn, apply_fn, kernel_fn)


def _mean_spatial(a, nb):
    """Mean over all axes after the first ``nb``, as a matrix-vector product with ``1/P``.

    Profiled choice: XLA:CPU lowers ``jnp.mean`` over the trailing axes of a fused elementwise
    producer to a reduction that materializes the producer's intermediates (and broadcast
    constants) at full size; the matvec keeps the producer in one loop fusion (~1.2x faster on
    the conv benchmark).  Same value up to summation order (~1e-16 relative).
    """
    flat = a.reshape(a.shape[:nb] + (-1,))
    return flat @ jnp.full((flat.shape[-1],), 1.0 / flat.shape[-1], dtype=flat.dtype)


def GlobalAvgPool() -> Layer:
    """Mean over all spatial positions; the kernel is averaged over all position pairs."""

    def init_fn(key, input_shape):
        return (input_shape[0], input_shape[-1]), ()

    def apply_fn(params, x):
        return jnp.mean(x, axis=tuple(range(1, x.ndim - 1)))

    def kernel_fn(k: Kernel) -> Kernel:
        if k.ns == 0:
            raise ValueError("x: GlobalAvgPool needs inputs with spatial axes (n, *spatial, channels); "
                             "the input to this layer has none (after Flatten/GlobalAvgPool or 2-d input)")
        return _map3(_mean_spatial, k, pack=True)._replace(ns=0)

    return Layer(init_fn, apply_fn, kernel_fn)


def Flatten() -> Layer:
    """Flatten ``(n, *s, C) -> (n, |s|·C)``; kernel = mean of the spatial diagonal (NT ``Flatten``)."""

    def init_fn(key, input_shape):
        return (input_shape[0], math.prod(input_shape[1:])), ()

    def apply_fn(params, x):
        return x.reshape(x.shape[0], -1)

    def kernel_fn(k: Kernel) -> Kernel:
        f = lambda a, nb: jnp.mean(_diag(a, nb, k.ns), axis=tuple(range(nb, nb + k.ns)))  # noqa: E731
        positions = math.prod(k.nngp.shape[2:2 + k.ns])
        return _map3(f, k)._replace(ns=0, channels=k.channels * positions)

    return Layer(init_fn, apply_fn, kernel_fn)


# -- activations (thin wrappers over sims.kernels.activations) --------------------------------------

Relu, ABRelu, LeakyRelu, Abs = _act.Relu, _act.ABRelu, _act.LeakyRelu, _act.Abs
Erf, Sin, Gelu, Monomial = _act.Erf, _act.Sin, _act.Gelu, _act.Monomial
Hermite, ElementwiseHermite, ExpNormalized = _act.Hermite, _act.ElementwiseHermite, _act.ExpNormalized


# -- serial and the input kernel --------------------------------------------------------------------

def _input_kernel(x1, x2, *, ntk: bool = True) -> Kernel:
    ns = x1.ndim - 2
    letters = "hwdefgij"[:ns]
    up = letters.upper()
    c = x1.shape[-1]
    cross = jnp.einsum(f"a{letters}c,b{up}c->ab{letters}{up}", x1, x2) / c
    s1 = jnp.einsum(f"a{letters}c,a{up}c->a{letters}{up}", x1, x1) / c
    s2 = s1 if x2 is x1 else jnp.einsum(f"a{letters}c,a{up}c->a{letters}{up}", x2, x2) / c
    return Kernel(cross, jnp.zeros_like(cross) if ntk else None, s1, s2, ns, c, (x1, x2))


def _validate(x, name):
    if not isinstance(x, (jax.Array, np.ndarray)):
        raise TypeError(f"{name} must be an array, got {type(x).__name__}")
    if x.ndim < 2 or x.shape[0] < 1 or x.shape[-1] < 1:
        raise ValueError(f"{name} must have shape (n, *spatial, channels) with n, channels >= 1, "
                         f"got {x.shape}")
    if x.dtype != jnp.float64:
        raise TypeError(f"{name} must be float64 (enable jax_enable_x64 at the entry point), "
                        f"got {x.dtype}")
    # concrete inputs only: under jit a traced x cannot be inspected (numpy constants still can)
    if isinstance(x, np.ndarray):
        finite = bool(np.all(np.isfinite(x)))
    elif isinstance(x, jax.core.Tracer):
        finite = True
    else:
        with jax.ensure_compile_time_eval():
            finite = bool(jnp.all(jnp.isfinite(x)))
    if not finite:
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")


def serial(*layers: Layer) -> tuple[Callable, Callable, Callable]:
    """Compose layers: ``(init_fn, apply_fn, kernel_fn)``.

    ``kernel_fn(x1, x2=None, get=None)``: ``get`` in ``'nngp'``, ``'ntk'``, a tuple of those
    (returns the ``NNGPNTK`` namedtuple) or ``None`` (the final :class:`Kernel`).  Jittable with
    ``static_argnames='get'``.
    """
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(f"layers[{i}] must be a Layer (call it: stax.Relu()), got {layer!r}")

    def init_fn(key, input_shape):
        params = []
        shape = tuple(input_shape)
        for layer, k in zip(layers, jax.random.split(key, max(len(layers), 1))):
            shape, p = layer.init_fn(k, shape)
            params.append(p)
        return shape, tuple(params)

    def apply_fn(params, x):
        for layer, p in zip(layers, params):
            x = layer.apply_fn(p, x)
        return x

    def kernel_fn(x1, x2=None, get=None):
        _validate(x1, "x1")
        if x2 is not None:
            _validate(x2, "x2")
            if x2.shape[1:] != x1.shape[1:]:
                raise ValueError(f"x2 must have per-example shape {x1.shape[1:]} like x1, got {x2.shape}")
        names = _get_names(get)
        x1 = jnp.asarray(x1)
        k = _input_kernel(x1, x1 if x2 is None else jnp.asarray(x2),
                          ntk=names is None or "ntk" in names)
        for layer in layers:
            k = layer.kernel_fn(k)._replace(inputs=None)
        return _select(k, get)

    return init_fn, apply_fn, kernel_fn


def _get_names(get):
    if get is None:
        return None
    names = (get,) if isinstance(get, str) else tuple(get)
    if not names or any(g not in ("nngp", "ntk") for g in names):
        raise ValueError(f"get must be 'nngp', 'ntk', a tuple of them or None, got {get!r}")
    return names


def _select(k: Kernel, get):
    names = _get_names(get)
    if names is None:
        return k
    if isinstance(get, str):
        return getattr(k, get)
    if tuple(names) == ("nngp", "ntk"):
        return NNGPNTK(k.nngp, k.ntk)
    return tuple(getattr(k, g) for g in names)


def Myrtle(depth: int = 5, *, width: int = 256, W_std: float = 2 ** 0.5, b_std: float | None = None,
           activation: Callable[[], Layer] | None = None, out_dim: int = 10):
    """Myrtle-5/7/10 CNN (Shankar et al. 2020, arXiv:2003.02237; the CNTK of Han et al. 2022, §6).

    ``[Conv(3×3, SAME)-act]×n0, AvgPool(2), [Conv-act]×n1, AvgPool(2), [Conv-act]×n2, AvgPool(2)×3,
    Flatten, Dense(out_dim)`` with ``(n0, n1, n2) = {5: (2,1,1), 7: (2,2,2), 10: (3,3,3)}``
    (insuhan/ntk_activations ``examples/myrtle5_cntk_regression.py``).  Needs 32×32 inputs for the
    three final pools (smaller inputs raise a shape error from ``AvgPool``).
    """
    layout = {5: (2, 1, 1), 7: (2, 2, 2), 10: (3, 3, 3)}
    if depth not in layout:
        raise ValueError(f"depth must be one of {sorted(layout)}, got {depth!r}")
    act = activation or Relu
    blocks = []
    for i, n in enumerate(layout[depth]):
        for _ in range(n):
            blocks += [Conv(width, (3, 3), padding="SAME", W_std=W_std, b_std=b_std), act()]
        blocks += [AvgPool((2, 2))] * (1 if i < 2 else 3)
    return serial(*blocks, Flatten(), Dense(out_dim, W_std=W_std, b_std=b_std))
