"""Infinite-width predictions of gradient descent on the MSE loss (neural-tangents ``nt.predict``).

Gradient flow on ``L = ‖f(X) − Y‖² / (2N)`` (``N = Y.size``, learning rate ``η``) of a network in its
linear (NTK) regime moves the training outputs as ``f_t(X) − Y = e^{−ηΘt/N} (f_0(X) − Y)`` and the test
outputs as ``f_t(x) = f_0(x) + Θ(x, X) A_t (Y − f_0(X))`` with ``A_t = Θ⁻¹(I − e^{−ηΘt/N})``
(Lee et al. 2019, "Wide neural networks of any depth evolve as linear models under gradient
descent", arXiv:1902.06720, Eqs. 10–11).  Over the random initialisation ``f_0 ~ GP(0, K)`` (``K`` the
NNGP) the test outputs are Gaussian with (ibid. Eq. 16)

    mean  μ_t = Θ_tx A_t Y,
    cov   Σ_t = K_tt + Θ_tx A_t K_xx A_tᵀ Θ_xt − (Θ_tx A_t K_xt + K_tx A_tᵀ Θ_xt);

``get='nngp'`` is Bayesian inference with the NNGP trained as a GP (only the readout layer trained):
``μ_t = K_tx K⁻¹(I − e^{−ηKt/N}) Y``, ``Σ_t = K_tt − K_tx K⁻¹(I − e^{−2ηKt/N}) K_xt``; ``t = ∞`` gives
the GP posterior.  ``diag_reg`` adds ``diag_reg·tr(Θ)/n·I`` (or ``diag_reg·I`` with
``diag_reg_absolute_scale=True``) to the train-train kernel.  Computed in the eigenbasis of the
train-train kernel (eigenvalues clipped at 0, as neural-tangents), so any array of times costs one
``eigh``; ``t = None`` means ``t = ∞``.  These are the formulas of neural-tangents 0.6.5
``predict.gradient_descent_mse`` / ``gradient_descent_mse_ensemble``, checked against its stored values
and against explicit linearized-GD of wide finite networks in ``tests/test_kernels_predict.py``.
"""
from __future__ import annotations

import collections
from typing import Callable

import jax.numpy as jnp
import numpy as np

__all__ = ["Gaussian", "gradient_descent_mse", "gradient_descent_mse_ensemble"]

Gaussian = collections.namedtuple("Gaussian", ["mean", "covariance"])


def _check_kernel(k, name, n=None):
    k = jnp.asarray(k)
    if k.ndim != 2 or k.shape[0] != k.shape[1] or (n is not None and k.shape[0] != n):
        raise ValueError(f"{name} must be a square (n, n) matrix with n = {n}, got shape {k.shape}")
    if k.dtype != jnp.float64:
        raise TypeError(f"{name} must be float64 (enable jax_enable_x64), got {k.dtype}")
    return k


def _check_options(learning_rate, diag_reg):
    if not (isinstance(learning_rate, (int, float)) and learning_rate > 0 and np.isfinite(learning_rate)):
        raise ValueError(f"learning_rate must be a finite positive number, got {learning_rate!r}")
    if not (isinstance(diag_reg, (int, float)) and diag_reg >= 0 and np.isfinite(diag_reg)):
        raise ValueError(f"diag_reg must be a finite number >= 0, got {diag_reg!r}")


def _regularize(k, diag_reg, absolute):
    n = k.shape[0]
    scale = diag_reg if absolute else diag_reg * jnp.trace(k) / n
    return k + scale * jnp.eye(n, dtype=k.dtype)


class _Eigen:
    """``V diag(g(λ)) Vᵀ`` for the functions of the regularized train-train kernel the formulas need."""

    def __init__(self, k, normalization):
        lam, self.v = jnp.linalg.eigh(k)
        self.lam = jnp.maximum(lam, 0.0)
        self.norm = normalization

    def _times(self, t):
        t = jnp.asarray(jnp.inf if t is None else t, dtype=self.lam.dtype)
        return t.reshape(-1, 1), t.shape

    def one_minus_exp(self, t):  # (T, n): 1 − e^{−λt/N}
        tt, _ = self._times(t)
        return -jnp.expm1(-self.lam * tt / self.norm)

    def inv_one_minus_exp(self, t):  # (T, n): (1 − e^{−λt/N})/λ, with its λ → 0 limit t/N
        tt, _ = self._times(t)
        safe = jnp.where(self.lam > 0, self.lam, 1.0)
        val = -jnp.expm1(-self.lam * tt / self.norm) / safe
        return jnp.where(self.lam > 0, val, jnp.broadcast_to(tt / self.norm, val.shape))

    def apply(self, g, m):  # (T, n) spectral weights applied to m (n, ...): (T, n, ...)
        return jnp.einsum("ji,ti,ki,k...->tj...", self.v, g, self.v, m)


def gradient_descent_mse(k_train_train, y_train, *, learning_rate: float = 1.0, diag_reg: float = 0.0,
                         diag_reg_absolute_scale: bool = False) -> Callable:
    """Outputs of one linearized network trained by gradient flow (module docstring, Eqs. 10–11).

    Returns ``predict_fn(t=None, fx_train_0=0., fx_test_0=None, k_test_train=None)``: ``fx_train_t``,
    or ``(fx_train_t, fx_test_t)`` when ``k_test_train`` (``(n_test, n_train)``) is given; a leading
    time axis when ``t`` is an array.
    """
    _check_options(learning_rate, diag_reg)
    y = jnp.asarray(y_train)
    if y.ndim != 2:
        raise ValueError(f"y_train must be (n_train, outputs), got shape {y.shape}")
    k = _regularize(_check_kernel(k_train_train, "k_train_train", y.shape[0]), diag_reg,
                    diag_reg_absolute_scale)
    eig = _Eigen(k, y.size)

    def predict_fn(t=None, fx_train_0=0.0, fx_test_0=None, k_test_train=None):
        _, shape = eig._times(t)
        tl = None if t is None else jnp.asarray(t) * learning_rate
        r = jnp.broadcast_to(jnp.asarray(fx_train_0, y.dtype), y.shape) - y
        fx_train = y + r - eig.apply(eig.one_minus_exp(tl), r)
        fx_train = fx_train.reshape(shape + y.shape)
        if k_test_train is None:
            return fx_train
        ktd = jnp.asarray(k_test_train)
        if ktd.shape != (fx_test_0.shape[0] if fx_test_0 is not None else ktd.shape[0], y.shape[0]):
            raise ValueError(f"k_test_train must be (n_test, {y.shape[0]}), got {ktd.shape}")
        f0 = 0.0 if fx_test_0 is None else jnp.asarray(fx_test_0)
        fx_test = f0 - jnp.einsum("lj,tj...->tl...", ktd, eig.apply(eig.inv_one_minus_exp(tl), r))
        return fx_train, fx_test.reshape(shape + (ktd.shape[0],) + y.shape[1:])

    return predict_fn


def gradient_descent_mse_ensemble(kernel_fn: Callable, x_train, y_train, *, learning_rate: float = 1.0,
                                  diag_reg: float = 0.0, diag_reg_absolute_scale: bool = False) -> Callable:
    """Mean and covariance over initialisations of infinite-width networks trained by gradient flow.

    Returns ``predict_fn(t=None, x_test=None, get=None, compute_cov=False)``: for each ``get``
    (``'nngp'``, ``'ntk'``; ``None`` = both, a namedtuple) the test mean ``(*t, n_test, outputs)`` or
    ``Gaussian(mean, covariance)`` with covariance ``(*t, n_test, n_test)`` (shared by the outputs);
    ``x_test=None`` gives the training-set mean (and covariance).  ``t=None`` is ``t = ∞``.
    """
    _check_options(learning_rate, diag_reg)
    y = jnp.asarray(y_train)
    if y.ndim != 2 or y.shape[0] != x_train.shape[0]:
        raise ValueError(f"y_train must be (n_train, outputs) with n_train = {x_train.shape[0]}, got {y.shape}")
    k_dd = kernel_fn(x_train, None, get=("nngp", "ntk"))
    eigs = {g: _Eigen(_regularize(_check_kernel(getattr(k_dd, g), f"kernel_fn(x_train) {g}"), diag_reg,
                                  diag_reg_absolute_scale), y.size) for g in ("nngp", "ntk")}
    out_type = collections.namedtuple("Predictions", ["nngp", "ntk"])

    def one(g, t, x_test, compute_cov, k_td, nngp_tt):
        eig = eigs[g]
        _, shape = eig._times(t)
        tl = None if t is None else jnp.asarray(t) * learning_rate
        if x_test is None:
            mean = eig.apply(eig.one_minus_exp(tl), y).reshape(shape + y.shape)
            if not compute_cov:
                return mean
            e = jnp.exp(-eig.lam * eig._times(tl)[0] / eig.norm)  # (T, n)
            if g == "nngp":
                cov = jnp.einsum("ji,ti,ki->tjk", eig.v, eig.lam * e * e, eig.v)
            else:
                ex = jnp.einsum("mi,ti,ki->tmk", eig.v, e, eig.v)
                cov = jnp.einsum("tmk,kl,tnl->tmn", ex, k_dd.nngp, ex)
            return Gaussian(mean, cov.reshape(shape + cov.shape[1:]))
        ktd = getattr(k_td, g)
        a_y = eig.apply(eig.inv_one_minus_exp(tl), y)                      # (T, n, k)
        mean = jnp.einsum("lj,tj...->tl...", ktd, a_y).reshape(shape + (ktd.shape[0],) + y.shape[1:])
        if not compute_cov:
            return mean
        if g == "nngp":
            tl2 = None if tl is None else 2 * tl
            cov = nngp_tt[None] - jnp.einsum("mj,tjl->tml", ktd, eig.apply(eig.inv_one_minus_exp(tl2), ktd.T))
        else:
            a_ktd = eig.apply(eig.inv_one_minus_exp(tl), ktd.T)             # A_t Θ_xt: (T, n, m)
            cross = jnp.einsum("mj,tjl->tml", k_td.nngp, a_ktd)           # K_tx A Θ_xt
            cov = (nngp_tt[None] + jnp.einsum("tjm,jk,tkl->tml", a_ktd, k_dd.nngp, a_ktd)
                   - cross - jnp.swapaxes(cross, 1, 2))
        return Gaussian(mean, cov.reshape(shape + cov.shape[1:]))

    def predict_fn(t=None, x_test=None, get=None, compute_cov: bool = False):
        names = ("nngp", "ntk") if get is None else ((get,) if isinstance(get, str) else tuple(get))
        if not names or any(g not in ("nngp", "ntk") for g in names):
            raise ValueError(f"get must be 'nngp', 'ntk', a tuple of them or None, got {get!r}")
        k_td = nngp_tt = None
        if x_test is not None:
            k_td = kernel_fn(x_test, x_train, get=("nngp", "ntk"))
            nngp_tt = kernel_fn(x_test, None, get="nngp") if compute_cov else None
        res = {g: one(g, t, x_test, compute_cov, k_td, nngp_tt) for g in names}
        if isinstance(get, str):
            return res[get]
        if set(names) == {"nngp", "ntk"}:
            return out_type(res["nngp"], res["ntk"])
        return tuple(res[g] for g in names)

    return predict_fn
