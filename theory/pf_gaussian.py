"""Exact output law of the PF-ODE / DDPM / DPUM / DPOM samplers on a Gaussian target, derived here.

Chen, Chewi, Lee, Li, Lu, Salim, "The probability flow ODE is provably fast", arXiv:2305.11798
(Sections 2-3: the exponential-integrator predictor, the DDPM step, the underdamped (ULMC) and
overdamped (LMC) Langevin correctors).  An oracle for the samplers that shares no code with them:
the one-step maps below are derived on paper from the update rules, not obtained by calling the
samplers' kernels (``sims.pfode.steps``), so agreement with ``sims.pfode.law`` and with the
particle sampler checks both.

Setting.  Forward OU ``dX = -X dt + sqrt(2) dB`` from ``q = N(mu, var)`` per coordinate, so
``q_t = N(a_t mu, lam_t)`` with ``a_t = e^{-t}``, ``lam_t = a_t^2 var + 1 - a_t^2`` and the
(possibly biased) score ``s_t(x) = -(x - a_t mu)/lam_t + b = -x/lam_t + beta_t``,
``beta_t = a_t mu/lam_t + b``.  Every step is then affine in the state plus independent Gaussian
noise, so a Gaussian ``N(m, P)`` stays Gaussian; per coordinate (coordinates never interact):

* PF-ODE (exact flow of ``dy = (y + s) dtau`` with ``s`` frozen over a reverse step ``h``):
  ``y' = e^h y + (e^h - 1) s(y)``  =>  ``A = e^h - (e^h - 1)/lam``, ``B = (e^h - 1) beta``.
* DDPM (exact integration of ``dy = (y + 2 s) dtau + sqrt 2 dB`` with ``s`` frozen):
  ``A = e^h - 2 (e^h - 1)/lam``, ``B = 2 (e^h - 1) beta``, noise variance ``e^{2h} - 1``.
* ETD-RK2: ``u = A_0 y + B_0`` (the PF-ODE step), then
  ``y' = u + (s_r(u) - s(y)) phi_2``, ``phi_2 = (e^h - 1 - h)/h``, ``s_r`` at the right end.
* LMC (step ``delta``): ``z' = z + delta s(z) + sqrt(2 delta) xi``.
* ULMC (``dz = v dt``, ``dv = -g v dt + s dt + sqrt(2 g) dB``, ``s`` frozen at ``z_k``), solved
  exactly: with ``e = e^{-g delta}``, ``v' = e v + ((1 - e)/g) s + xi_v`` and
  ``z' = z + ((1 - e)/g) v + ((delta - (1 - e)/g)/g) s + xi_z``, where ``(xi_z, xi_v)`` is the
  Ito integral ``sqrt(2 g) int_0^delta (K_z(r), K_v(r)) dB_r`` with ``K_v(r) = e^{-g r}``,
  ``K_z(r) = (1 - e^{-g r})/g``; its covariance is computed below from those kernels.

Grid (as in the samplers' description, arXiv:2305.11798 Alg. 1 and our ``Scheme``): reverse step
``h = (T - t_end)/(n_outer n_pred)``; predictor step ``k`` uses the score at forward time
``T - k h``; after each block of ``n_pred`` predictor steps a corrector of ``n_corr`` steps of
size ``t_corr/n_corr`` targets ``q_t`` at ``t = max(T - (j+1) n_pred h, t_end)``, the ULMC
velocity starting fresh ``N(0, 1)``, independent of the position.  Start ``N(mean0, var0)``.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["ulmc_noise_covariance", "gaussian_law"]


def _lam(t: float, var: float) -> float:
    a2 = math.exp(-2.0 * t)
    return a2 * var + 1.0 - a2


def _beta(t: float, var: float, mean: float, bias: float) -> float:
    return math.exp(-t) * mean / _lam(t, var) + bias


def ulmc_noise_covariance(g: float, delta: float) -> np.ndarray:
    """Covariance of ``(xi_z, xi_v)`` of one exact ULMC step (friction ``g``, step ``delta``).

    ``2 g int_0^delta K K^T dr`` with ``K_v = e^{-g r}``, ``K_z = (1 - e^{-g r})/g``, integrated
    in closed form:  ``var_v = 1 - e^{-2 g delta}``,
    ``cov = 2 (I1 - I2)``, ``var_z = (2/g)(delta - 2 I1 + I2)`` where
    ``I1 = (1 - e^{-g delta})/g`` and ``I2 = (1 - e^{-2 g delta})/(2 g)``.
    """
    i1 = -math.expm1(-g * delta) / g
    i2 = -math.expm1(-2.0 * g * delta) / (2.0 * g)
    var_v = 2.0 * g * i2
    cov = 2.0 * (i1 - i2)                 # 2 g (1/g) int (e^{-gr} - e^{-2gr}) dr
    var_z = (2.0 / g) * (delta - 2.0 * i1 + i2)
    return np.array([[var_z, cov], [cov, var_v]])


def _predict(kind: str, m: float, p: float, t: float, h: float, t_right: float, *, var, mean, bias):
    lam, beta = _lam(t, var), _beta(t, var, mean, bias)
    e1 = math.expm1(h)
    if kind == "ode":
        A, B, q = math.exp(h) - e1 / lam, e1 * beta, 0.0
    elif kind == "ddpm":
        A, B, q = math.exp(h) - 2.0 * e1 / lam, 2.0 * e1 * beta, math.expm1(2.0 * h)
    elif kind == "ode2":
        A0, B0 = math.exp(h) - e1 / lam, e1 * beta
        lr, br = _lam(t_right, var), _beta(t_right, var, mean, bias)
        phi2 = (e1 - h) / h
        # y' = u + (s_r(u) - s(y)) phi2, u = A0 y + B0, s_r(u) = -u/lr + br, s(y) = -y/lam + beta
        A = A0 + phi2 * (-A0 / lr + 1.0 / lam)
        B = B0 + phi2 * (-B0 / lr + br - beta)
        q = 0.0
    else:
        raise ValueError(f"predictor: expected 'ode', 'ode2' or 'ddpm', got {kind!r}")
    return A * m + B, A * A * p + q


def _correct(kind: str, m: float, p: float, t: float, n: int, t_corr: float, friction: float, *,
             var, mean, bias):
    lam, beta = _lam(t, var), _beta(t, var, mean, bias)
    dl = t_corr / n
    if kind == "lmc":
        A, B = 1.0 - dl / lam, dl * beta
        for _ in range(n):
            m, p = A * m + B, A * A * p + 2.0 * dl
        return m, p
    if kind != "ulmc":
        raise ValueError(f"corrector: expected 'none', 'lmc' or 'ulmc', got {kind!r}")
    g = friction
    e = math.exp(-g * dl)
    c1 = -math.expm1(-g * dl) / g
    c2 = (dl - c1) / g
    M = np.array([[1.0 - c2 / lam, c1], [-c1 / lam, e]])
    off = np.array([c2 * beta, c1 * beta])
    Q = ulmc_noise_covariance(g, dl)
    mu, C = np.array([m, 0.0]), np.diag([p, 1.0])
    for _ in range(n):
        mu, C = M @ mu + off, M @ C @ M.T + Q
    return float(mu[0]), float(C[0, 0])


def gaussian_law(predictor: str, corrector: str, *, n_outer: int, n_pred: int, n_corr: int, T: float,
                 t_end: float = 0.0, t_corr: float = 0.0, friction: float = 1.0, var: float,
                 mean: float = 0.0, bias: float = 0.0, mean0: float = 0.0,
                 var0: float = 1.0) -> tuple[float, float]:
    """Per-coordinate output ``(mean, variance)`` of a sampler on ``N(mean, var)`` (see module doc).

    Parameters mirror the samplers' scheme description: ``predictor`` in {"ode", "ode2", "ddpm"},
    ``corrector`` in {"none", "lmc", "ulmc"}; ``bias`` is a constant score error per coordinate.
    Cost: ``n_outer (n_pred + n_corr)`` scalar updates (a reference, not a fast path).
    """
    for name, v in (("n_outer", n_outer), ("n_pred", n_pred)):
        if int(v) != v or v < 1:
            raise ValueError(f"{name}: expected a positive integer, got {v!r}")
    if not (var > 0):
        raise ValueError(f"var: expected > 0, got {var!r}")
    h = (T - t_end) / (n_outer * n_pred)
    m, p = float(mean0), float(var0)
    kw = {"var": var, "mean": mean, "bias": bias}
    k = 0
    for j in range(n_outer):
        for _ in range(n_pred):
            t = T - k * h
            m, p = _predict(predictor, m, p, t, h, max(t - h, t_end), **kw)
            k += 1
        if corrector != "none":
            t = max(T - (j + 1) * n_pred * h, t_end)
            m, p = _correct(corrector, m, p, t, int(n_corr), t_corr, friction, **kw)
    return m, p
