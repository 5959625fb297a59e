"""Small networks of the sketch experiments, each from one stax description (exact kernel, sketch, finite net).

Han, Zandieh, Lee, Novak, Xiao, Karbasi (NeurIPS 2022, arXiv:2209.04121, §6) compare exact and sketched
NTKs of fully connected nets and of a Myrtle-style CNN.  The shrunk versions used by the
``nk_sketch_speed`` / ``nk_sketch_krr`` figures and ``benchmarks/bench_kernels_sketch.py`` (our choices:
``W_std = √2``, no bias, the 'ntk' parameterization):

- :func:`fc`: ``[Dense-act] x depth - Dense``;
- :func:`conv`: ``[Conv 3x3 SAME - act - AvgPool 2x2 stride 2] x blocks - Flatten - Dense`` (8x8 inputs);

and :func:`paired` gives ``(kernel_fn, sketch)`` of one such network: the stax ``kernel_fn`` and the
sketch ``(init_fn, feature_fn)`` derived from the same description by
:func:`sims.kernels.sketch.from_stax`, so the two can never describe different networks.
"""
from __future__ import annotations

import math

from sims.kernels import sketch, stax

__all__ = ["ACTIVATIONS", "activation", "fc", "conv", "paired"]

SQRT2 = math.sqrt(2.0)
ACTIVATIONS = ("relu", "gelu", "erf")


def activation(act: str) -> stax.Layer:
    """The stax layer of ``act`` (``'relu'``, ``'gelu'``, ``'erf'``)."""
    if act not in ACTIVATIONS:
        raise ValueError(f"act must be one of {ACTIVATIONS}, got {act!r}")
    return {"relu": stax.Relu, "gelu": stax.Gelu, "erf": stax.Erf}[act]()


def fc(*, depth: int = 2, act: str = "relu", W_std: float = SQRT2, width: int = 512) -> stax.Layer:
    """``[Dense(width, W_std) - act] x depth - Dense(1, W_std)``, no bias (``width`` is irrelevant to the kernel)."""
    layers = []
    for _ in range(int(depth)):
        layers += [stax.Dense(width, W_std=W_std), activation(act)]
    return stax.serial(*layers, stax.Dense(1, W_std=W_std))


def conv(*, blocks: int = 2, act: str = "relu", W_std: float = SQRT2, channels: int = 64) -> stax.Layer:
    """``[Conv(channels, 3x3, SAME, W_std) - act - AvgPool((2, 2), strides=(2, 2))] x blocks - Flatten - Dense``."""
    layers = []
    for _ in range(int(blocks)):
        layers += [stax.Conv(channels, (3, 3), padding="SAME", W_std=W_std), activation(act),
                   stax.AvgPool((2, 2), strides=(2, 2))]
    return stax.serial(*layers, stax.Flatten(), stax.Dense(1, W_std=W_std))


def paired(net: stax.Layer, *, m: int, method: str = "rf", degree: int = 8):
    """``(kernel_fn, (sketch_init, sketch_features))`` of ``net``: exact kernel and sketch, one description.

    ``m`` features per activation layer; ReLU by ``method`` (``'rf'`` | ``'poly'``), other activations by
    their Hermite series of degree ``degree`` (PolySketch).
    """
    return net.kernel_fn, sketch.from_stax(net, m=m, method=method, degree=degree)
