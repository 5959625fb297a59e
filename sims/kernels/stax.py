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

This module holds the layers, the :class:`Kernel` state, the parameterization rules and
:func:`serial`; the linear maps the layers apply to the spatial axes of kernel arrays (conv tap
sums, the patch Gram of a first ``Conv``, pooling means, the ``nngp + i·ntk`` packing, and why each
is computed the way it is) live in :mod:`sims.kernels.spatial`.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from sims.kernels import activations as _act
from sims.kernels import spatial
from sims.kernels._core import (DIAG, FULL, NNGPNTK, Kernel, Layer, described, positionwise,
                                spatial_requirement, to_diagonal)
from sims.kernels._core import check_ntk_params as _check_ntk_params
from sims.kernels._core import check_out as _check_out
from sims.kernels.branching import FanInConcat, FanInSum, FanOut, Identity, apply_layer, parallel
from sims.kernels.graph import Aggregate
from sims.kernels.normalization import Dropout, LayerNorm
from sims.kernels.pooling import AvgPool, Flatten, GlobalAvgPool

__all__ = ["Kernel", "Layer", "serial", "parallel", "Dense", "Conv", "AvgPool", "GlobalAvgPool",
           "Flatten", "Identity", "FanOut", "FanInSum", "FanInConcat", "LayerNorm", "Dropout",
           "Aggregate", "Relu", "ABRelu", "LeakyRelu", "Abs", "Erf", "Sigmoid_like", "Sin", "Cos",
           "Rbf", "Exp", "Gaussian", "Gelu", "Monomial", "Hermite", "ElementwiseHermite",
           "ExpNormalized", "NNGPNTK", "Myrtle", "WideResnet"]


def _affine_kernel(k: Kernel, lin, n_in: int, out: int, W_std, b_std, parameterization, *,
                   ntk_zero: bool = False, pack: bool = False) -> Kernel:
    """Shared Dense/Conv kernel rule; ``lin`` is the (filter-averaging) linear map.

    ``ntk_zero``: the incoming NTK is known to be 0 (the input kernel), so ``lin(ntk)`` is skipped.
    ``pack``: apply ``lin`` to nngp and ntk in one complex pass (:func:`spatial.lin_pair`).
    ``k.ntk is None`` (the NTK was not requested) skips all NTK work.
    """
    w2, b2 = W_std ** 2, (0.0 if b_std is None else b_std ** 2)
    if ntk_zero or k.ntk is None:
        nngp_in, ntk_lin = lin(k.nngp, 2), None
    else:
        nngp_in, ntk_lin = (spatial.lin_pair(lin, k.nngp, k.ntk) if pack
                            else (lin(k.nngp, 2), lin(k.ntk, 2)))
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
                      cov2=w2 * lin(k.cov2, 1) + b2, channels=out, inputs=None, is_gaussian=True)


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

    def apply_fn(params, x, **kwargs):
        w, b = params
        if x.shape[-1] != w.shape[0]:
            raise ValueError(f"x: Dense expects {w.shape[0]} input channels, got shape {x.shape}")
        if parameterization == "standard":
            return x @ w + (0.0 if b_std is None else b)
        return W_std / math.sqrt(w.shape[0]) * (x @ w) + (0.0 if b_std is None else b_std * b)

    # structure for the structured-derivatives empirical NTK (sims.kernels.empirical_ntk)
    apply_fn.structure = {"kind": "dense", "W_std": W_std, "b_std": b_std,
                          "parameterization": parameterization}

    @positionwise
    def kernel_fn(k: Kernel) -> Kernel:
        return _affine_kernel(k, lambda a, nb: a, k.channels, out_dim, W_std, b_std, parameterization)

    return described(Layer(init_fn, apply_fn, kernel_fn), "Dense", out_dim=out_dim, W_std=W_std, b_std=b_std,
                     parameterization=parameterization)


def Conv(out_chan: int, filter_shape: Sequence[int], *, strides: Sequence[int] | None = None,
         padding: str = "VALID", W_std: float = 1.0, b_std: float | None = None,
         parameterization: str = "ntk") -> Layer:
    """Convolution over ``len(filter_shape)`` spatial axes (channels last, default VALID as in NT)."""
    _check_out("out_chan", out_chan)
    _check_ntk_params(W_std, b_std, parameterization)
    filter_shape = spatial.check_window("filter_shape", filter_shape)
    strides = spatial.check_window("strides", strides, len(filter_shape)) if strides is not None \
        else (1,) * len(filter_shape)
    spatial.pads(filter_shape, padding)
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

    def apply_fn(params, x, **kwargs):
        _check_x(x.shape, "x")
        w, b = params
        y = jax.lax.conv_general_dilated(x, w, strides, padding, dimension_numbers=dn)
        if parameterization == "standard":
            return y + (0.0 if b_std is None else b)
        return W_std / math.sqrt(fsize * w.shape[-2]) * y + (0.0 if b_std is None else b_std * b)

    apply_fn.structure = {"kind": "conv", "W_std": W_std, "b_std": b_std,
                          "parameterization": parameterization, "filter_shape": filter_shape,
                          "strides": strides, "padding": padding, "dn": dn}

    @positionwise  # the output at (p, p) reads the input at (p·s + δ, p·s + δ) only
    def kernel_fn(k: Kernel) -> Kernel:
        if k.ns != ns:
            raise ValueError(f"x: Conv with filter_shape {filter_shape} needs {ns} spatial axes, "
                             f"the input to this layer has {k.ns}")
        size = k.nngp.shape[2:2 + ns]
        if padding == "VALID" and any(n < f for n, f in zip(size, filter_shape)):
            raise ValueError(f"x: Conv with filter_shape {filter_shape} (VALID) needs spatial size >= "
                             f"the filter, got {size}")
        if k.inputs is not None:  # first layer: filter-averaged input kernel from patches, ntk_in = 0
            cross, s1, s2 = spatial.patch_covariances(*k.inputs, filter_shape, strides, padding, dn,
                                                      diagonal=k.diagonal_spatial)
            kin = k._replace(nngp=cross, ntk=None if k.ntk is None else jnp.zeros_like(cross),
                             cov1=s1, cov2=s2)
            return _affine_kernel(kin, lambda a, nb: a, fsize * k.channels, out_chan, W_std, b_std,
                                  parameterization, ntk_zero=True)
        if k.diagonal_spatial:
            lin = lambda a, nb: spatial.conv_lin_diag(a, nb, filter_shape, strides, padding)  # noqa: E731
            return _affine_kernel(k, lin, fsize * k.channels, out_chan, W_std, b_std, parameterization)
        lin = lambda a, nb: spatial.conv_lin(a, nb, ns, filter_shape, strides, padding)  # noqa: E731
        return _affine_kernel(k, lin, fsize * k.channels, out_chan, W_std, b_std, parameterization,
                              pack=True)

    return described(Layer(init_fn, apply_fn, kernel_fn), "Conv", out_chan=out_chan, filter_shape=filter_shape,
                     strides=strides, padding=padding, W_std=W_std, b_std=b_std,
                     parameterization=parameterization)


# -- activations (thin wrappers over sims.kernels.activations) --------------------------------------

Relu, ABRelu, LeakyRelu, Abs = _act.Relu, _act.ABRelu, _act.LeakyRelu, _act.Abs
Erf, Sigmoid_like, Sin, Cos, Rbf = _act.Erf, _act.Sigmoid_like, _act.Sin, _act.Cos, _act.Rbf
Exp, Gaussian, Gelu, Monomial = _act.Exp, _act.Gaussian, _act.Gelu, _act.Monomial
Hermite, ElementwiseHermite, ExpNormalized = _act.Hermite, _act.ElementwiseHermite, _act.ExpNormalized


# -- serial and the input kernel --------------------------------------------------------------------

def _input_kernel(x1, x2, *, ntk: bool = True, x1_is_x2=False, pattern=None,
                  diagonal_spatial: bool = False) -> Kernel:
    diagonal_spatial = diagonal_spatial and x1.ndim > 2
    cross, s1, s2 = spatial.input_covariances(x1, x2, diagonal=diagonal_spatial)
    return Kernel(cross, jnp.zeros_like(cross) if ntk else None, s1, s2, x1.ndim - 2, x1.shape[-1],
                  (x1, x2), is_gaussian=False, x1_is_x2=x1_is_x2, pattern=pattern,
                  diagonal_spatial=diagonal_spatial)


def diagonal_from(layers: Sequence[Layer], *, output: str = FULL) -> int | None:
    """Index of the first layer from which the kernel can be propagated diagonal-spatially.

    Walking back from the output (which needs ``output``), each layer's
    :func:`~sims.kernels._core.spatial_requirement` says what its input must carry; the first index
    whose input may be ``DIAG`` is returned (``0``: from the input kernel on), ``None`` if none.
    Before a ``Flatten`` only the spatial diagonal is read, so a pooling-free CNN with a ``Flatten``
    readout is diagonal from the input; after the last pooling layer otherwise.
    """
    req = output
    start = None
    for i in range(len(layers) - 1, -1, -1):
        req = spatial_requirement(layers[i], req)
        if req == DIAG:
            start = i
    return start


def _validate(x, name):
    if not isinstance(x, (jax.Array, np.ndarray)):
        raise TypeError(f"{name} must be an array, got {type(x).__name__}")
    if x.ndim < 2 or x.shape[0] < 1 or x.shape[-1] < 1:
        raise ValueError(f"{name} must have shape (n, *spatial, channels) with n, channels >= 1, "
                         f"got {x.shape}")
    if x.dtype != jnp.float64:
        raise TypeError(f"{name} must be float64 (enable jax_enable_x64 at the entry point), "
                        f"got {x.dtype}")
    # concrete inputs only: a traced x (under jit) cannot be converted, so it is not inspected
    try:
        finite = bool(np.all(np.isfinite(np.asarray(x))))
    except jax.errors.TracerArrayConversionError:
        finite = True
    if not finite:
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")


def _is_state(k):
    """A kernel state: a :class:`Kernel` or a (nested) non-empty list of them."""
    if isinstance(k, Kernel):
        return True
    return isinstance(k, list) and bool(k) and all(_is_state(b) for b in k)


def _clear_inputs(k):
    if isinstance(k, list):
        return [_clear_inputs(b) for b in k]
    return k._replace(inputs=None)


def serial(*layers: Layer) -> Layer:
    """Compose layers: a :class:`Layer` ``(init_fn, apply_fn, kernel_fn)`` (unpacks as a triple).

    ``kernel_fn(x1, x2=None, get=None, *, pattern=None)``: ``get`` in ``'nngp'``, ``'ntk'``, a tuple
    of those (returns the ``NNGPNTK`` namedtuple) or ``None`` (the final :class:`Kernel`);
    ``pattern=(A1, A2)`` for ``Aggregate``.  Jittable with ``static_argnames='get'``.  Called on a
    :class:`Kernel` (or a list of them) instead of arrays it is a layer of an enclosing network.

    ``apply_fn(params, x, **kwargs)``: ``rng=key`` (split over the layers, for ``Dropout``),
    ``pattern=A`` (``Aggregate``).
    """
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(f"layers[{i}] must be a Layer (call it: stax.Relu()), got {layer!r}")
    n = len(layers)

    def init_fn(key, input_shape):
        params = []
        shape = input_shape if isinstance(input_shape, list) else tuple(input_shape)
        for layer, k in zip(layers, jax.random.split(key, max(n, 1))):
            shape, p = layer.init_fn(k, shape)
            params.append(p)
        return shape, tuple(params)

    def apply_fn(params, x, **kwargs):
        rng = kwargs.pop("rng", None)
        rngs = [None] * n if rng is None else list(jax.random.split(rng, max(n, 1)))
        for layer, p, r in zip(layers, params, rngs):
            kw = kwargs if r is None else dict(kwargs, rng=r)
            x = apply_layer(layer, p, x, kw)
        return x

    apply_fn.layers = layers  # read by the structured-derivatives empirical NTK and sketch.from_stax

    def propagate(k):
        for layer in layers:
            k = _clear_inputs(layer.kernel_fn(k))
        return k

    def arrays_fn(x1, x2, pattern, get, same, diagonal_spatial):
        names = _get_names(get)
        if same:
            x2, x1_is_x2 = x1, True
        else:
            x1_is_x2 = False if x2.shape != x1.shape else jnp.all(jnp.abs(x1 - x2) < 1e-12)
        if diagonal_spatial is False:
            start = None
        else:
            start = diagonal_from(layers, output=DIAG if diagonal_spatial else FULL)
            if diagonal_spatial and start != 0:
                req, bad = DIAG, len(layers) - 1
                for bad in range(len(layers) - 1, -1, -1):
                    req = spatial_requirement(layers[bad], req)
                    if req == FULL:
                        break
                raise ValueError(f"diagonal_spatial=True, but layers[{bad}] needs the full spatial "
                                 "covariance (pooling or Aggregate); pass diagonal_spatial=None (chosen "
                                 "from the layers) or False")
        k = _input_kernel(x1, x2, ntk=names is None or "ntk" in names, x1_is_x2=x1_is_x2,
                          pattern=pattern, diagonal_spatial=start == 0)
        for i, layer in enumerate(layers):
            if start is not None and i == start:
                k = to_diagonal(k)
            k = _clear_inputs(layer.kernel_fn(k))
        if isinstance(k, list):
            raise ValueError("the network ends with several branches; merge them with FanInSum or "
                             "FanInConcat")
        return _select(k, get)

    # one compiled program per (shapes, get): un-jitted first calls were op-by-op (~5-10x slower)
    jitted = jax.jit(arrays_fn, static_argnames=("get", "same", "diagonal_spatial"))

    def kernel_fn(x1, x2=None, get=None, *, pattern=None, diagonal_batch: bool = True,
                  diagonal_spatial: bool | None = None):
        if _is_state(x1):  # used as a layer of an enclosing network
            return propagate(x1)
        if diagonal_batch is not True:
            raise NotImplementedError("diagonal_batch: only True is supported (self-covariances are "
                                      "kept per example, (n, *s, *s); no layer here needs the "
                                      f"(n, n) batch covariance), got {diagonal_batch!r}")
        if diagonal_spatial not in (None, True, False):
            raise ValueError(f"diagonal_spatial must be None (chosen from the layers), True or False, "
                             f"got {diagonal_spatial!r}")
        _validate(x1, "x1")
        same = x2 is None
        if x2 is not None:
            _validate(x2, "x2")
            if x2.shape[1:] != x1.shape[1:]:
                raise ValueError(f"x2 must have per-example shape {x1.shape[1:]} like x1, got {x2.shape}")
        _get_names(get)
        get = get if get is None or isinstance(get, str) else tuple(get)
        if pattern is not None:
            p1, p2 = pattern if isinstance(pattern, tuple) else (pattern, None)
            pattern = (jnp.asarray(p1), jnp.asarray(p1 if p2 is None else p2))
        x1 = jnp.asarray(x1)
        x2 = None if same else jnp.asarray(x2)
        if get is None:  # the full Kernel state has python fields (ns, channels): not a jit output
            return arrays_fn(x1, x2, pattern, get, same, diagonal_spatial)
        return jitted(x1, x2, pattern, get=get, same=same, diagonal_spatial=diagonal_spatial)

    def spatial_req(req_out):
        for layer in reversed(layers):
            req_out = spatial_requirement(layer, req_out)
        return req_out

    kernel_fn.spatial_req = spatial_req
    return Layer(init_fn, apply_fn, kernel_fn)


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


# -- architectures from one description ------------------------------------------------------------

def Myrtle(depth: int = 5, *, width: int = 256, W_std: float = 2 ** 0.5, b_std: float | None = None,
           activation: Callable[[], Layer] | None = None, out_dim: int = 10):
    """Myrtle-5/7/10 CNN (Shankar et al. 2020, arXiv:2003.02237; the CNTK of Han et al. 2022, §6).

    ``[Conv(3×3, SAME)-act]×n0, AvgPool(2, 2), [Conv-act]×n1, AvgPool(2, 2), [Conv-act]×n2,
    AvgPool(2, 2)×3, Flatten, Dense(out_dim)`` with ``(n0, n1, n2) = {5: (2,1,1), 7: (2,2,2),
    10: (3,3,3)}`` (insuhan/ntk_activations ``examples/myrtle5_cntk_regression.py``; pools of
    stride 2).  Needs 32×32 inputs for the three final pools (smaller inputs raise a shape error).
    """
    layout = {5: (2, 1, 1), 7: (2, 2, 2), 10: (3, 3, 3)}
    if depth not in layout:
        raise ValueError(f"depth must be one of {sorted(layout)}, got {depth!r}")
    act = activation or Relu
    blocks = []
    for i, n in enumerate(layout[depth]):
        for _ in range(n):
            blocks += [Conv(width, (3, 3), padding="SAME", W_std=W_std, b_std=b_std), act()]
        blocks += [AvgPool((2, 2), strides=(2, 2))] * (1 if i < 2 else 3)
    return serial(*blocks, Flatten(), Dense(out_dim, W_std=W_std, b_std=b_std))


def WideResnet(*, block_size: int = 2, k: int = 1, num_classes: int = 10, W_std: float = 1.0,
               b_std: float | None = 0.0, activation: Callable[[], Layer] | None = None,
               readout: str = "gap") -> Layer:
    """WideResNet (Zagoruyko & Komodakis 2016) from one description, as neural-tangents' README example.

    ``Conv(16, 3×3) - group(16k, stride 1) - group(32k, stride 2) - group(64k, stride 2) -
    (GlobalAvgPool | AvgPool(2×2, stride 2)-Flatten) - Dense(num_classes)``; a group is
    ``block_size`` blocks ``FanOut(2) - parallel(act-Conv-act-Conv, shortcut) - FanInSum``, the first
    block's shortcut a strided ``Conv`` and the others ``Identity``.  All convs 3×3 SAME.
    """
    _check_out("block_size", block_size)
    _check_out("k", k)
    if readout not in ("gap", "flatten"):
        raise ValueError(f"readout must be 'gap' or 'flatten', got {readout!r}")
    act = activation or Relu

    def conv(c, strides=(1, 1)):
        return Conv(c, (3, 3), strides=strides, padding="SAME", W_std=W_std, b_std=b_std)

    def block(c, strides, mismatch):
        main = serial(act(), conv(c, strides), act(), conv(c))
        short = conv(c, strides) if mismatch else Identity()
        return [FanOut(2), parallel(main, short), FanInSum()]

    layers = [conv(16)]
    for c, s in ((16 * k, (1, 1)), (32 * k, (2, 2)), (64 * k, (2, 2))):
        layers += block(c, s, True)
        for _ in range(block_size - 1):
            layers += block(c, (1, 1), False)
    tail = [GlobalAvgPool()] if readout == "gap" else [AvgPool((2, 2), strides=(2, 2)), Flatten()]
    return serial(*layers, *tail, Dense(num_classes, W_std=W_std, b_std=b_std))
