"""Sketch layers mirroring :mod:`sims.kernels.stax`: each maps features ``Φ`` with ``ΦΦᵀ ≈ K`` forward.

Features are carried per example and spatial position, ``Features(nngp=(n, *s, m₁), ntk=(n, *s, m₂))``,
so that ``K(x, x')[p, p'] ≈ ⟨Φ(x)[p], Φ(x')[p']⟩`` for the NNGP and the NTK in the conventions of
:mod:`sims.kernels.stax` (neural-tangents, ``'ntk'`` parameterization).  Affine and pooling layers are exact
(Zandieh et al. 2021, arXiv:2106.07880, §4; NT PR #142 ``experimental/features.py``):

- ``Dense``: ``nngp' = W_std² nngp + b_std²`` ⇒ ``Φ' = [W_std Φ, b_std]``; ``ntk' = nngp' + W_std² ntk`` ⇒
  ``Φ'_ntk = [W_std Φ_ntk, Φ']`` (concatenation adds kernels);
- ``Conv``: the kernel averages the filter's shifted diagonal, so ``Φ'[p] = W_std [Φ[p·s+δ]]_δ /√|filter|``
  (shift-concatenated patches, zero padding as XLA's SAME) plus the bias coordinate (CNTK, Arora et al. 2019);
- ``AvgPool`` / ``GlobalAvgPool`` average the features; ``Flatten`` concatenates positions scaled by
  ``1/√positions`` (NT's ``Flatten`` averages the spatial diagonal).

Activations are sketched (``nngp ← T``, ``ntk ← ntk·Ṫ``): ``Φ' = Φ_T(Φ)`` and
``Φ'_ntk = TensorSRHT(Φ_ntk ⊗ Φ_Ṫ(Φ))`` (a product of kernels is the kernel of the tensor product), with
``Φ_T, Φ_Ṫ`` from ReLU random features (:mod:`.arccos`) or from the radial-factor power series
(:mod:`.polyfeatures`).  *Choice*: every activation outputs ``m`` NNGP and ``m`` NTK features.
"""
from __future__ import annotations

import itertools
import math
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from sims.kernels.sketch import arccos, polyfeatures, sketching

__all__ = ["Features", "Shape", "Layer", "Dense", "Conv", "AvgPool", "GlobalAvgPool", "Flatten", "Relu",
           "Erf", "Gelu", "Activation", "ExpNormalized"]


class Features(NamedTuple):
    """``nngp``: ``(n, *s, m_nngp)``; ``ntk``: ``(n, *s, m_ntk)``; real float64."""

    nngp: jax.Array
    ntk: jax.Array


class Shape(NamedTuple):
    """Per-example feature shape between layers: spatial sizes and the two feature dimensions."""

    spatial: tuple
    nngp: int
    ntk: int


class Layer(NamedTuple):
    """``init_fn(key, Shape) -> (Shape, params)``; ``feature_fn(params, Features) -> Features``."""

    init_fn: Callable
    feature_fn: Callable


def _check_std(name, value, *, allow_none):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be {'None or ' if allow_none else ''}a finite non-negative number, "
                         f"got {value!r}")


def _check_pos_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _affine(f: Features, nngp_lin: jax.Array, ntk_lin: jax.Array, W_std, b_std) -> Features:
    """Shared Dense/Conv rule on already linearly mapped features."""
    nngp = W_std * nngp_lin
    if b_std is not None:
        nngp = jnp.concatenate([nngp, jnp.full(nngp.shape[:-1] + (1,), b_std, nngp.dtype)], axis=-1)
    return Features(nngp, jnp.concatenate([W_std * ntk_lin, nngp], axis=-1))


def _affine_shape(spatial, sh: Shape, factor: int, b_std) -> Shape:
    nngp = sh.nngp * factor + (b_std is not None)
    return Shape(tuple(spatial), nngp, sh.ntk * factor + nngp)


# -- affine layers ---------------------------------------------------------------------------------

def Dense(*, W_std: float = 1.0, b_std: float | None = None) -> Layer:
    """Fully connected layer (exact): ``Φ' = [W_std Φ, b_std]``, ``Φ'_ntk = [W_std Φ_ntk, Φ']``."""
    _check_std("W_std", W_std, allow_none=False)
    _check_std("b_std", b_std, allow_none=True)

    def init_fn(key, sh: Shape):
        return _affine_shape(sh.spatial, sh, 1, b_std), ()

    def feature_fn(params, f: Features) -> Features:
        return _affine(f, f.nngp, f.ntk, W_std, b_std)

    return Layer(init_fn, feature_fn)


def _same_pads(sizes, filter_shape, strides, padding):
    if padding == "VALID":
        return [(0, 0)] * len(sizes)
    if padding != "SAME":
        raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}")
    pads = []
    for n, k, s in zip(sizes, filter_shape, strides):
        total = max((-(-n // s) - 1) * s + k - n, 0)          # XLA's SAME rule (as stax.Conv)
        pads.append((total // 2, total - total // 2))
    return pads


def _out_sizes(sizes, filter_shape, strides, pads):
    out = tuple((n + lo + hi - k) // s + 1 for n, k, s, (lo, hi) in zip(sizes, filter_shape, strides, pads))
    if any(o < 1 for o in out):
        raise ValueError(f"x: spatial size {tuple(sizes)} is smaller than the window {tuple(filter_shape)}")
    return out


def _patches(a, filter_shape, strides, pads):
    """``[a[:, p·s + δ]]_δ / √|filter|`` concatenated on the last axis, zero padding."""
    ns = len(filter_shape)
    ap = jnp.pad(a, [(0, 0)] + list(pads) + [(0, 0)])
    out = _out_sizes(a.shape[1:1 + ns], filter_shape, strides, pads)
    blocks = []
    for delta in itertools.product(*(range(k) for k in filter_shape)):
        idx = tuple(slice(d, d + (o - 1) * s + 1, s) for d, o, s in zip(delta, out, strides))
        blocks.append(ap[(slice(None),) + idx])
    return jnp.concatenate(blocks, axis=-1) / math.sqrt(math.prod(filter_shape))


def _check_rank(sh: Shape, ns: int, layer: str):
    if len(sh.spatial) != ns:
        raise ValueError(f"input_shape: {layer} needs inputs with {ns} spatial axes (n, *spatial, channels), "
                         f"got {len(sh.spatial)} spatial axes")


def Conv(filter_shape: Sequence[int], *, padding: str = "VALID", strides: Sequence[int] | None = None,
         W_std: float = 1.0, b_std: float | None = None) -> Layer:
    """Convolution (exact, CNTK): shift-concatenated patches scaled by ``1/√|filter|`` (module docstring).

    Default ``padding="VALID"`` as ``stax.Conv`` and neural-tangents; SAME pads as XLA.
    """
    filter_shape = tuple(_check_pos_int("filter_shape", k) for k in filter_shape)
    strides = tuple(_check_pos_int("strides", s) for s in strides) if strides is not None \
        else (1,) * len(filter_shape)
    if len(strides) != len(filter_shape):
        raise ValueError(f"strides must have length {len(filter_shape)}, got {strides}")
    if padding not in ("SAME", "VALID"):
        raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}")
    _check_std("W_std", W_std, allow_none=False)
    _check_std("b_std", b_std, allow_none=True)
    ns = len(filter_shape)

    def init_fn(key, sh: Shape):
        _check_rank(sh, ns, f"Conv{filter_shape}")
        pads = _same_pads(sh.spatial, filter_shape, strides, padding)
        out = _out_sizes(sh.spatial, filter_shape, strides, pads)
        return _affine_shape(out, sh, math.prod(filter_shape), b_std), ()

    def feature_fn(params, f: Features) -> Features:
        if f.nngp.ndim != ns + 2:
            raise ValueError(f"x: Conv{filter_shape} needs inputs with {ns} spatial axes, "
                             f"got features of shape {f.nngp.shape}")
        pads = _same_pads(f.nngp.shape[1:1 + ns], filter_shape, strides, padding)
        return _affine(f, _patches(f.nngp, filter_shape, strides, pads),
                       _patches(f.ntk, filter_shape, strides, pads), W_std, b_std)

    return Layer(init_fn, feature_fn)


# -- pooling / reshaping ---------------------------------------------------------------------------

def AvgPool(window_shape: Sequence[int], *, strides: Sequence[int] | None = None,
            padding: str = "VALID", normalize_edges: bool = False) -> Layer:
    """Average pooling of the features (exact), with ``stax.AvgPool``'s (neural-tangents') semantics.

    ``strides=None`` is stride 1; ``'SAME'`` is XLA's stride-dependent padding; ``normalize_edges``
    divides by the number of non-padded positions.  Pooling features pools the kernel the same way.
    """
    window = tuple(_check_pos_int("window_shape", w) for w in window_shape)
    strides = tuple(_check_pos_int("strides", s) for s in strides) if strides is not None \
        else (1,) * len(window)
    if padding not in ("VALID", "SAME"):
        raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}")
    ns = len(window)

    def _pads(size):
        if padding == "VALID":
            return [(0, 0)] * ns
        from sims.kernels.spatial import same_pad
        return [same_pad(n, w, s) for n, w, s in zip(size, window, strides)]

    def pool(a):
        size = a.shape[1:1 + ns]
        pads = _pads(size)
        s = jax.lax.reduce_window(a, 0.0, jax.lax.add, (1,) + window + (1,), (1,) + strides + (1,),
                                  [(0, 0)] + pads + [(0, 0)])
        if normalize_edges and padding == "SAME":
            c = jax.lax.reduce_window(jnp.ones(size), 0.0, jax.lax.add, window, strides, pads)
            return s / c[None, ..., None]
        return s / math.prod(window)

    def init_fn(key, sh: Shape):
        _check_rank(sh, ns, f"AvgPool{window}")
        return Shape(_out_sizes(sh.spatial, window, strides, _pads(sh.spatial)), sh.nngp, sh.ntk), ()

    def feature_fn(params, f: Features) -> Features:
        if f.nngp.ndim != ns + 2:
            raise ValueError(f"x: AvgPool{window} needs {ns} spatial axes, got features {f.nngp.shape}")
        _out_sizes(f.nngp.shape[1:1 + ns], window, strides, _pads(f.nngp.shape[1:1 + ns]))
        return Features(pool(f.nngp), pool(f.ntk))

    return Layer(init_fn, feature_fn)


def GlobalAvgPool() -> Layer:
    """Mean of the features over all positions (kernel: mean over all position pairs)."""

    def init_fn(key, sh: Shape):
        return Shape((), sh.nngp, sh.ntk), ()

    def feature_fn(params, f: Features) -> Features:
        axes = tuple(range(1, f.nngp.ndim - 1))
        return Features(jnp.mean(f.nngp, axis=axes), jnp.mean(f.ntk, axis=axes))

    return Layer(init_fn, feature_fn)


def Flatten() -> Layer:
    """Concatenate positions, scaled by ``1/√positions`` (kernel: mean of the spatial diagonal)."""

    def init_fn(key, sh: Shape):
        p = math.prod(sh.spatial)
        return Shape((), sh.nngp * p, sh.ntk * p), ()

    def feature_fn(params, f: Features) -> Features:
        p = math.prod(f.nngp.shape[1:-1])
        flat = lambda a: a.reshape(a.shape[0], -1) / math.sqrt(p)  # noqa: E731
        return Features(flat(f.nngp), flat(f.ntk))

    return Layer(init_fn, feature_fn)


# -- activations -------------------------------------------------------------------------------

def _activation(name: str, m, init_dual: Callable, apply_dual: Callable) -> Layer:
    """Layer from ``init_dual(key, d_in) -> params`` and ``apply_dual(params, Φ) -> (Φ_T, Φ_Ṫ)``."""
    m = _check_pos_int("m", m)

    def init_fn(key, sh: Shape):
        kd, kt = jax.random.split(key)
        params = {"dual": init_dual(kd, sh.nngp)}
        if sh.ntk:
            params["ntk"] = sketching.tensor_srht_init(kt, sh.ntk, m, m)
        return Shape(sh.spatial, m, m if sh.ntk else 0), params

    def feature_fn(params, f: Features) -> Features:
        t, tdot = apply_dual(params["dual"], f.nngp)
        if "ntk" not in params:
            return Features(t, jnp.zeros(t.shape[:-1] + (0,), t.dtype))
        if f.ntk.shape[-1] > params["ntk"]["signs1"].shape[0]:
            raise ValueError(f"x: {name} was initialised for at most {params['ntk']['signs1'].shape[0]} "
                             f"NTK features, got {f.ntk.shape[-1]}")
        return Features(t, sketching.tensor_srht_apply(params["ntk"], f.ntk, tdot))

    return Layer(init_fn, feature_fn)


def _poly_activation(radial: polyfeatures.Radial, m) -> Layer:
    m = _check_pos_int("m", m)

    def init_dual(key, d_in):
        return polyfeatures.poly_features_init(key, d_in, m, radial.degree)

    def apply_dual(params, x):
        d = params["poly"]["leaves"]["signs"].shape[-1]
        if x.shape[-1] > d:
            raise ValueError(f"x: {radial.name} was initialised for at most {d} features, got {x.shape[-1]}")
        return polyfeatures.poly_features_apply(params, x, radial)

    return _activation(radial.name, m, init_dual, apply_dual)


def Relu(*, m: int, method: str = "rf", degree: int = 8) -> Layer:
    """ReLU (NT ``Relu``: ``E[relu·relu]``, no factor 2).

    ``method="rf"``: arc-cosine random features (:mod:`.arccos`, exact in expectation);
    ``method="poly"``: Hermite series truncated at ``degree`` (``α_n(s) = s a_n``), PolySketch.
    """
    if method == "rf":
        m = _check_pos_int("m", m)
        return _activation("Relu", m, lambda key, d: arccos.arccos_init(key, d, m), arccos.arccos_apply)
    if method == "poly":
        return _poly_activation(polyfeatures.hermite_radial("relu", degree), m)
    raise ValueError(f"method must be 'rf' or 'poly', got {method!r}")


def Activation(fn_or_name, *, m: int, degree: int = 8) -> Layer:
    """Any activation through its Hermite expansion truncated at ``degree`` (arXiv:2209.04121, §3).

    ``fn_or_name``: ``"relu"``, ``"abs"``, ``"erf"``, ``"gelu"``, ``"sin"``, ``"tanh"`` or a JAX-traceable
    elementwise callable (coefficients by Gauss–Hermite quadrature; unsuitable for kinks other than ReLU/abs).
    """
    return _poly_activation(polyfeatures.hermite_radial(fn_or_name, degree), m)


def Erf(*, m: int, degree: int = 8) -> Layer:
    """``erf`` (NT ``Erf()``), Hermite route; only odd degrees contribute."""
    return Activation("erf", m=m, degree=degree)


def Gelu(*, m: int, degree: int = 8) -> Layer:
    """Exact GELU ``x Φ(x)`` (NT ``Gelu``), Hermite route."""
    return Activation("gelu", m=m, degree=degree)


def ExpNormalized(*, m: int, degree: int = 8, gamma: float = 1.0) -> Layer:
    """Normalized Gaussian dual ``T = √(q₁₁q₂₂) e^{γ(ρ−1)}``, ``Ṫ = γ e^{γ(ρ−1)}`` (NT ``ExpNormalized(γ,
    shift=−1)``; the CNTK activation of arXiv:2209.04121 §6), Taylor series to ``degree``.  No finite net."""
    return _poly_activation(polyfeatures.exp_normalized_radial(gamma, degree), m)
