"""Models of Ahn et al. (arXiv:2212.07469) and a Cohen et al. (arXiv:2103.00065) style network.

Every model's loss is a function of one flat float64 parameter vector ``theta`` so that
:mod:`sims.eos.sharpness` sees an ordinary ``(p, p)`` Hessian.

* :class:`ThresholdNet` -- network (2) of arXiv:2212.07469, the network of its Fig. 1: the
  first layer is fixed to the basis ``+-e_j`` with one shared bias, only ``(a-, a+, b)`` are
  trained, ``f(x) = sum_j [a+ relu(x_j + b) + a- relu(-x_j + b)]``, logistic loss.
* :class:`SymReLUNet` -- a generic width-``m`` symmetric ("odd") two-layer ReLU net
  ``f(x) = sum_i a_i [relu(<w_i, x> + b_i) - relu(-<w_i, x> + b_i)]`` with learned first layer
  and per-neuron biases (NOT the paper's network (2); kept for the sharpness tests and the
  benchmark).  At ``b = 0`` it is exactly linear; at ``b < 0`` each unit soft-thresholds.
* :class:`LXYModel` -- the two-parameter model ``(x, y) -> l(x y)`` with ``l`` convex and even.
* :class:`MeanModel` -- OUR RECONSTRUCTION of the paper's mean model (see :mod:`theory.eos`):
  ``(a, b) -> l(a * d * E[relu(xi + b)])`` with ``l`` the symmetrised logistic loss.
* :class:`TanhNet` -- Cohen et al.'s ``fc-tanh`` shape (two hidden tanh layers, biases) with
  square loss ``0.5 * mean (f(x) - t)^2`` for the ``chebyshev`` toy data.
"""
from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.special import ndtr

from sims.eos.data import _check_key
from sims.eos.sharpness import require_f64

__all__ = ["sym_unit", "sym_logistic", "SortedInputs", "ThresholdNet", "SymReLUNet", "LXYModel",
           "MeanModel", "TanhNet"]

_LOSSES = ("sym_logistic", "sqrt")


def sym_unit(t, b):
    """The symmetric ReLU unit ``relu(t + b) - relu(-t + b)`` (linear at b = 0)."""
    return jax.nn.relu(t + b) - jax.nn.relu(-t + b)


def sym_logistic(s):
    """``log(1 + e^{-s}) + log(1 + e^{s})`` (convex, even, ``l''(0) = 1/2``)."""
    return jnp.logaddexp(0.0, -s) + jnp.logaddexp(0.0, s)


def _even_loss(name: str):
    if name == "sym_logistic":
        return sym_logistic, 0.5
    if name == "sqrt":
        return (lambda s: jnp.sqrt(1.0 + s * s)), 1.0
    raise ValueError(f"loss must be one of {_LOSSES}, got {name!r}")


def _posint(name, v):
    if not (isinstance(v, int) and v >= 1):
        raise ValueError(f"{name} must be a positive integer, got {v!r}")


def _check_xy(x, y, d):
    require_f64(x, "x")
    if x.ndim != 2 or x.shape[1] != d:
        raise ValueError(f"x must have shape (n, {d}), got {tuple(x.shape)}")
    if y.shape != (x.shape[0],):
        raise ValueError(f"y must have shape ({x.shape[0]},) to match x, got {tuple(y.shape)}")


class SortedInputs(NamedTuple):
    """Each row of ``x`` sorted ascending (``xs``, (n, d)) and its prefix sums (``cs``, (n, d+1)).

    ``cs[:, k] = sum_{m < k} xs[:, m]``.  With them ``sum_j relu(x_j + b)`` and
    ``sum_j relu(-x_j + b)`` cost one binary search per row instead of a pass over ``d``.
    """

    xs: jax.Array
    cs: jax.Array


_REDUCTIONS = ("mean", "sum")


@dataclasses.dataclass(frozen=True)
class ThresholdNet:
    r"""Network (2) of Ahn et al., arXiv:2212.07469 (the network of their Fig. 1).

    .. math::

        f(x; a_-, a_+, b) = \sum_{j=1}^d \big[a_+ \,\mathrm{relu}(x_j + b)
                           + a_- \,\mathrm{relu}(-x_j + b)\big]

    A two-layer ReLU network whose first layer is fixed to the ``2d`` directions ``+-e_j`` with a
    single shared bias ``b`` and whose second layer shares one weight ``a+`` (resp. ``a-``) over
    the ``+e_j`` (resp. ``-e_j``) neurons: three trained parameters,
    ``theta = (a-, a+, b)`` (the paper's order).  Loss: logistic
    ``l(s) = log(1 + e^{-s})`` of ``y f(x)``, averaged over the ``n`` samples
    (``reduction="mean"``; see below).

    Identities (tested): with ``relu(t) = (t + |t|) / 2``, at ``b = 0``
    ``f = (a+ - a-)/2 sum_j x_j + (a+ + a-)/2 sum_j |x_j|``, so on ``a+ = -a-`` the network is
    exactly the linear classifier ``a+ <1, x>`` (accuracy ``Phi(lam / sqrt d)`` on data (1)); for
    ``b < 0`` and ``a+ = -a-`` it is ``a+ sum_j soft_threshold(x_j, |b|)`` (a threshold neuron).
    At ``a = 0`` the Hessian's ``(a-, a+)`` block is ``l''(0) E[g g^T]``,
    ``g = (sum_j relu(-x_j), sum_j relu(x_j))``, whose top eigenvalue (direction ``a+ + a-``)
    is ``~ l''(0) (d E|xi|)^2 / 2 = d^2 / (4 pi)``: the paper's threshold ``8 pi / d^2``.

    Parameters
    ----------
    d : int
        Input dimension.
    reduction : {"mean", "sum"}, keyword-only
        ``"mean"`` (default): ``(1/n) sum_i l(y_i f(x_i))``.  The text we could read writes the
        loss as ``sum_{i=1}^n l(...)`` (the ``1/n`` may be lost in extraction); only the mean
        is consistent with the paper's threshold ``8 pi / d^2`` (a sum multiplies the
        sharpness by ``n``), so the mean is our choice.

    Notes
    -----
    :meth:`loss` takes :class:`SortedInputs` (from :meth:`features`): the sums over ``j`` are
    evaluated exactly from sorted rows and prefix sums (``O(n log d)`` per step instead of
    ``O(n d)``); :meth:`apply` / :meth:`loss_direct` are the plain ReLU formulas (reference).
    Autodiff through the sorted form gives the ReLU gradients (``d/db sum relu(x_j + b)`` =
    number of active units) and zero second derivative in ``b`` a.e., as for ``relu``.
    """

    d: int
    reduction: str = dataclasses.field(default="mean", kw_only=True)

    def __post_init__(self):
        _posint("d", self.d)
        if self.reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {self.reduction!r}")

    size = 3

    def init(self, key):
        """The paper's init (Fig. 1 caption): ``a-, a+ ~ N(0, 1/(2d))`` i.i.d., ``b = 0``."""
        if not jax.config.jax_enable_x64:
            raise TypeError("ThresholdNet.init needs float64: enable jax_enable_x64 at the "
                            "entry point")
        _check_key(key)
        a = jax.random.normal(key, (2,), jnp.float64) / math.sqrt(2 * self.d)
        return jnp.concatenate([a, jnp.zeros((1,), jnp.float64)])

    def features(self, x) -> SortedInputs:
        """Sorted rows and prefix sums of ``x`` (n, d), the data :meth:`loss` consumes."""
        require_f64(x, "x")
        if x.ndim != 2 or x.shape[1] != self.d:
            raise ValueError(f"x must have shape (n, {self.d}), got {tuple(x.shape)}")
        xs = jnp.sort(x, axis=1)
        cs = jnp.concatenate([jnp.zeros((x.shape[0], 1), x.dtype), jnp.cumsum(xs, axis=1)], 1)
        return SortedInputs(xs, cs)

    @staticmethod
    def _sums(b, xs, cs):
        """``(sum_j relu(-x_j + b), sum_j relu(x_j + b))`` per row, from sorted rows."""
        d = xs.shape[-1]
        ss = jax.vmap(jnp.searchsorted, in_axes=(0, None, None))
        k_lo = ss(xs, b, "left")                      # #{x_j < b}
        k_hi = ss(xs, -b, "right")                    # #{x_j <= -b}
        take = lambda k: jnp.take_along_axis(cs, k[:, None], axis=1)[:, 0]  # noqa: E731
        g_minus = b * k_lo - take(k_lo)
        g_plus = (cs[:, -1] - take(k_hi)) + b * (d - k_hi)
        return g_minus, g_plus

    def apply_sorted(self, theta, xs, cs):
        g_minus, g_plus = self._sums(theta[2], xs, cs)
        return theta[0] * g_minus + theta[1] * g_plus

    def apply(self, theta, x):
        """Direct ReLU formula (reference; ``O(n d)``)."""
        am, ap, b = theta[0], theta[1], theta[2]
        return ap * jnp.sum(jax.nn.relu(x + b), -1) + am * jnp.sum(jax.nn.relu(-x + b), -1)

    def _reduce(self, v):
        return jnp.mean(v) if self.reduction == "mean" else jnp.sum(v)

    def loss(self, theta, xs, cs, y):
        """Logistic loss of network (2) from :class:`SortedInputs` ``(xs, cs)`` and labels."""
        return self._reduce(jnp.logaddexp(0.0, -y * self.apply_sorted(theta, xs, cs)))

    def loss_direct(self, theta, x, y):
        """The same loss from raw inputs (reference for :meth:`loss`)."""
        return self._reduce(jnp.logaddexp(0.0, -y * self.apply(theta, x)))

    def accuracy(self, theta, xs, cs, y):
        """Fraction of ``sign f(x) == y`` (``f = 0`` counts as an error)."""
        return jnp.mean(jnp.sign(self.apply_sorted(theta, xs, cs)) == y)

    def bias(self, theta):
        return theta[2]

    def check(self, theta, x, y):
        require_f64(theta, "theta")
        if theta.shape != (3,):
            raise ValueError(f"theta must have shape (3,) = (a-, a+, b), got {tuple(theta.shape)}")
        _check_xy(x, y, self.d)


@dataclasses.dataclass(frozen=True)
class SymReLUNet:
    """Generic symmetric two-layer ReLU network with learned first layer and per-neuron biases.

    Not network (2) of arXiv:2212.07469 (that is :class:`ThresholdNet`); used by the sharpness
    tests and ``benchmarks/bench_eos.py``.

    ``theta = concat(a (m,), W (m*d,), b (m,))``.

    Parameters
    ----------
    d : int
        Input dimension.
    m : int
        Number of neurons.
    """

    d: int
    m: int

    def __post_init__(self):
        _posint("d", self.d)
        _posint("m", self.m)

    @property
    def size(self) -> int:
        return self.m * (self.d + 2)

    def unravel(self, theta):
        m, d = self.m, self.d
        return theta[:m], theta[m:m + m * d].reshape(m, d), theta[m + m * d:]

    def ravel(self, a, W, b):
        return jnp.concatenate([a, W.ravel(), b])

    def init(self, key, *, a_scale: float, w_scale: float, b0: float = 0.0):
        """``a_i ~ a_scale * N(0, 1)``, ``W_ij ~ w_scale * N(0, 1)``, ``b_i = b0``.

        The paper's init for Fig. 1 was out of reach; callers must state their scales.
        """
        if not jax.config.jax_enable_x64:
            raise TypeError("SymReLUNet.init needs float64: enable jax_enable_x64 at the entry point")
        _check_key(key)
        ka, kw = jax.random.split(key)
        a = a_scale * jax.random.normal(ka, (self.m,), jnp.float64)
        W = w_scale * jax.random.normal(kw, (self.m, self.d), jnp.float64)
        return self.ravel(a, W, jnp.full((self.m,), b0, jnp.float64))

    def apply(self, theta, x):
        a, W, b = self.unravel(theta)
        return sym_unit(x @ W.T, b) @ a

    def loss(self, theta, x, y):
        """Logistic loss ``mean log(1 + exp(-y f(x)))``."""
        return jnp.mean(jnp.logaddexp(0.0, -y * self.apply(theta, x)))

    def accuracy(self, theta, x, y):
        return jnp.mean(jnp.sign(self.apply(theta, x)) == y)

    def mean_bias(self, theta):
        return jnp.mean(self.unravel(theta)[2])

    def check(self, theta, x, y):
        require_f64(theta, "theta")
        if theta.shape != (self.size,):
            raise ValueError(f"theta must have shape ({self.size},), got {tuple(theta.shape)}")
        _check_xy(x, y, self.d)


@dataclasses.dataclass(frozen=True)
class LXYModel:
    """``theta = (x, y) -> l(x y)``, ``l`` even and convex (``"sym_logistic"`` or ``"sqrt"``).

    GD: ``(x, y) <- (x - eta y l'(x y), y - eta x l'(x y))``; Hessian at ``(0, y)`` is
    ``diag(l''(0) y^2, 0)``.
    """

    loss_name: str = "sym_logistic"

    def __post_init__(self):
        _even_loss(self.loss_name)

    @property
    def lpp0(self) -> float:
        return _even_loss(self.loss_name)[1]

    def loss(self, theta):
        return _even_loss(self.loss_name)[0](theta[0] * theta[1])


@dataclasses.dataclass(frozen=True)
class MeanModel:
    """Reconstructed mean model: ``theta = (a, b) -> l(a * y(b))``, ``y(b) = d E relu(xi + b)``.

    ``E relu(xi + b) = phi(b) + b Phi(b)`` for ``xi ~ N(0, 1)``; threshold at ``b = 0`` is
    ``8 pi / d^2`` for the symmetrised logistic loss.  Not verified against arXiv:2212.07469.
    """

    d: int
    loss_name: str = "sym_logistic"

    def __post_init__(self):
        _posint("d", self.d)
        _even_loss(self.loss_name)

    def response(self, b):
        return self.d * (jnp.exp(-0.5 * b * b) / math.sqrt(2 * math.pi) + b * ndtr(b))

    def loss(self, theta):
        return _even_loss(self.loss_name)[0](theta[0] * self.response(theta[1]))


@dataclasses.dataclass(frozen=True)
class TanhNet:
    """Two-hidden-layer tanh net of width ``h`` (Cohen et al.'s ``fc-tanh`` shape), scalar in/out.

    ``f(x) = W3 tanh(W2 tanh(W1 x + b1) + b2) + b3``; loss ``0.5 * mean_i (f(x_i) - t_i)^2``
    (Cohen et al.'s ``mse``).  Init (reference note section 2.6 recipe; Cohen et al. use
    PyTorch defaults): ``W1 ~ N(0, 1)``, ``W2, W3 ~ N(0, 1/h)``, zero biases.
    """

    h: int = 100
    d_in: int = 1

    def __post_init__(self):
        _posint("h", self.h)
        _posint("d_in", self.d_in)

    @property
    def size(self) -> int:
        h, k = self.h, self.d_in
        return h * k + h + h * h + h + h + 1

    def unravel(self, theta):
        h, k = self.h, self.d_in
        i = 0
        out = []
        for shape in ((h, k), (h,), (h, h), (h,), (1, h), (1,)):
            n = math.prod(shape)
            out.append(theta[i:i + n].reshape(shape))
            i += n
        return out

    def init(self, key):
        if not jax.config.jax_enable_x64:
            raise TypeError("TanhNet.init needs float64: enable jax_enable_x64 at the entry point")
        _check_key(key)
        k1, k2, k3 = jax.random.split(key, 3)
        h, k = self.h, self.d_in
        W1 = jax.random.normal(k1, (h, k), jnp.float64) / math.sqrt(k)
        W2 = jax.random.normal(k2, (h, h), jnp.float64) / math.sqrt(h)
        W3 = jax.random.normal(k3, (1, h), jnp.float64) / math.sqrt(h)
        z = jnp.zeros
        return jnp.concatenate([W1.ravel(), z(h), W2.ravel(), z(h), W3.ravel(), z(1)])

    def apply(self, theta, x):
        W1, b1, W2, b2, W3, b3 = self.unravel(theta)
        z = jnp.tanh(x @ W1.T + b1)
        z = jnp.tanh(z @ W2.T + b2)
        return z @ W3.T + b3

    def loss(self, theta, x, t):
        return 0.5 * jnp.mean(jnp.sum((self.apply(theta, x) - t) ** 2, axis=-1))
