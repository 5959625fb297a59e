"""Closed forms for edge-of-stability (EoS) dynamics and threshold neurons.

References
----------
* K. Ahn, S. Bubeck, S. Chewi, Y. T. Lee, F. Suarez, Y. Zhang, "Learning threshold neurons via
  the edge of stability", NeurIPS 2023, arXiv:2212.07469 (v2).  Data model (1), network (2),
  Fig. 1, the reduced two-parameter models.
* J. Cohen, S. Kaur, Y. Li, J. Z. Kolter, A. Talwalkar, "Gradient descent on neural networks
  typically occurs at the edge of stability", ICLR 2021, arXiv:2103.00065.  Sharpness
  ``S = lambda_max(Hessian of the full-batch loss)``; GD on a quadratic is stable iff
  ``S < 2 / eta``.

What is the paper's and what is ours
------------------------------------
Fig. 1's caption (NeurIPS text at object.cloud.sdsc.edu, .../ml-papers-txt/NeurIPS/2023/
learning_threshold_neurons_via_edge_of_stability__b8328d46.txt; full address in
``figures/eos_fig1.py``) was read: network (2) trained in ``(a-, a+, b)``, logistic loss,
``d = 200, n = 300, lam = 3``, ``a-, a+ ~ N(0, 1/(2d))``, ``b = 0``, ``eta * iterations = 10``,
"precise threshold at eta = 8 pi / d^2".  ``network2_*`` below give that threshold and its
finite-``d`` refinement.  The body's statement of the "mean model" was not reached; therefore:

* ``linear_accuracy_bound`` -- Phi(lambda / sqrt(d)), the best linear classifier's accuracy on
  data model (1) (derivation in the note section 2.2; matches the "58" tick of Fig. 1).
* ``lxy_threshold`` -- exact for the two-parameter model ``(x, y) -> l(x y)``: the Hessian at
  ``(0, y)`` is ``diag(l''(0) y^2, 0)``.
* ``mean_model_*`` -- OUR RECONSTRUCTION (unverified against the paper): the common second-layer
  weight ``a`` multiplies the neurons' mean response to pure noise,
  ``y(b) = d * E[relu(xi + b)] = d * (phi(b) + b Phi(b))``, ``xi ~ N(0, 1)``, and the loss is the
  symmetrised logistic loss ``l(s) = log(1 + e^{-s}) + log(1 + e^{s})`` (``l''(0) = 1/2``) of
  ``a * y(b)``.  Its threshold at ``b_0 = 0`` is ``2 / (l''(0) y(0)^2) = 8 pi / d^2``, which equals
  the value recalled (low confidence) in the reference note.  Treat this as a consistency
  check, not as the paper's statement.

Pure functions (numpy/scipy); imports no project package.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import special, stats

__all__ = [
    "linear_accuracy_bound", "soft_threshold", "sym_relu_response",
    "sym_logistic", "sym_logistic_d1", "sym_logistic_d2", "SYM_LOGISTIC_D2_0", "LOGISTIC_D2_0",
    "lxy_sharpness", "lxy_threshold", "lxy_yinf_near_threshold",
    "mean_response", "mean_response_db", "mean_model_sharpness", "mean_model_threshold",
    "quadratic_gd_stable", "network2_threshold", "network2_sharpness_at_zero",
]

#: l''(0) of the logistic loss log(1 + e^{-s}).
LOGISTIC_D2_0 = 0.25
#: l''(0) of the symmetrised logistic loss log(1 + e^{-s}) + log(1 + e^{s}).
SYM_LOGISTIC_D2_0 = 0.5


def _positive(name: str, v) -> float:
    v = float(v)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite positive number, got {v!r}")
    return v


def linear_accuracy_bound(lam: float, d: int) -> float:
    """Best test accuracy of any linear classifier on the 1-sparse-coding data (1).

    For ``x = lam * y * e_j + xi`` with ``j ~ Unif[d]``, ``xi ~ N(0, I_d)``, a linear rule
    ``sign(<w, x>)`` has ``y <w, x> = lam w_j + N(0, ||w||^2)``; Jensen on the concave part of
    ``Phi`` and ``sum_j w_j <= sqrt(d) ||w||`` give accuracy ``<= Phi(lam / sqrt(d))``,
    attained by ``w = 1``.  Fig. 1 of arXiv:2212.07469 marks 58 (%) for ``d = 200, lam = 3``.

    Parameters
    ----------
    lam : float
        Signal strength, ``lam > 0``.
    d : int
        Dimension, ``d >= 1``.
    """
    lam = _positive("lam", lam)
    if int(d) != d or d < 1:
        raise ValueError(f"d must be a positive integer, got {d!r}")
    return float(stats.norm.cdf(lam / math.sqrt(d)))


def soft_threshold(t, b):
    """``sign(t) * (|t| - |b|)_+``: the symmetric ReLU unit's response for a bias ``b <= 0``."""
    t = np.asarray(t, float)
    return np.sign(t) * np.maximum(np.abs(t) - np.abs(b), 0.0)


def sym_relu_response(t, b):
    """The symmetric unit ``relu(t + b) - relu(-t + b)`` of network (2), arXiv:2212.07469.

    Equals ``t`` at ``b = 0`` (linear) and ``soft_threshold(t, b)`` for ``b < 0``.
    """
    t = np.asarray(t, float)
    return np.maximum(t + b, 0.0) - np.maximum(-t + b, 0.0)


def sym_logistic(s):
    """``log(1 + e^{-s}) + log(1 + e^{s})``: convex, even, 2-Lipschitz, ``l''(0) = 1/2``."""
    s = np.asarray(s, float)
    return np.logaddexp(0.0, -s) + np.logaddexp(0.0, s)


def sym_logistic_d1(s):
    """``l'(s) = tanh(s / 2)`` of :func:`sym_logistic`."""
    return np.tanh(np.asarray(s, float) / 2.0)


def sym_logistic_d2(s):
    """``l''(s) = (1 - tanh(s / 2)^2) / 2`` of :func:`sym_logistic`."""
    return 0.5 * (1.0 - np.tanh(np.asarray(s, float) / 2.0) ** 2)


def lxy_sharpness(y, *, lpp0: float = SYM_LOGISTIC_D2_0) -> float:
    """Sharpness of ``(x, y) -> l(x y)`` on its minimiser ``(0, y)``: ``l''(0) y^2``."""
    return float(_positive("lpp0", lpp0) * float(y) ** 2)


def lxy_threshold(y0: float, *, lpp0: float = SYM_LOGISTIC_D2_0) -> float:
    """Critical step ``eta* = 2 / (l''(0) y0^2)`` of GD on ``l(x y)`` started near ``(0, y0)``.

    Below it GD converges to ``(0, y_inf)`` with ``y_inf ~= y0`` (nothing is learned in ``y``);
    above it ``x`` oscillates in sign with growing amplitude and ``y`` decreases until the
    sharpness ``l''(0) y^2`` is below ``2 / eta`` (EoS).  Reduced model of arXiv:2212.07469
    (that the paper states it in this form: unverified).
    """
    y0 = float(y0)
    if not (math.isfinite(y0) and y0 != 0):
        raise ValueError(f"y0 must be finite and non-zero, got {y0!r}")
    return 2.0 / (_positive("lpp0", lpp0) * y0 ** 2)


def lxy_yinf_near_threshold(eta, y0: float, *, lpp0: float = SYM_LOGISTIC_D2_0):
    """Heuristic final ``y`` just above the threshold: ``2 sqrt(2 / (eta l''(0))) - y0``.

    ``y`` ends about as far below the stability boundary ``sqrt(2 / (eta l''(0)))`` as it
    started above it (numerical observation in the reference note, section 2.4; not a theorem).
    Accurate to ~1e-3 for ``eta / eta* <= 1.05``.
    """
    eta = np.asarray(eta, float)
    if np.any(~np.isfinite(eta)) or np.any(eta <= 0):
        raise ValueError("eta must be finite and positive")
    return 2.0 * np.sqrt(2.0 / (eta * _positive("lpp0", lpp0))) - float(y0)


def mean_response(b):
    """``E[relu(xi + b)] = phi(b) + b Phi(b)`` for ``xi ~ N(0, 1)``."""
    b = np.asarray(b, float)
    return stats.norm.pdf(b) + b * special.ndtr(b)


def mean_response_db(b):
    """``d/db E[relu(xi + b)] = Phi(b)``."""
    return special.ndtr(np.asarray(b, float))


def mean_model_sharpness(d: int, *, b: float = 0.0, a: float = 0.0,
                         lpp0: float = SYM_LOGISTIC_D2_0) -> float:
    """Top Hessian eigenvalue of the reconstructed mean model at ``(a, b)`` with ``a = 0``.

    ``L(a, b) = l(a y(b))``, ``y(b) = d * mean_response(b)``.  At ``a = 0`` the Hessian is
    ``diag(l''(0) y(b)^2, 0)`` (the ``b``-derivatives carry a factor ``a``), so the sharpness is
    ``l''(0) y(b)^2``.  Only ``a = 0`` is supported in closed form.
    """
    if int(d) != d or d < 1:
        raise ValueError(f"d must be a positive integer, got {d!r}")
    if a != 0.0:
        raise ValueError("closed form only at a = 0; use the simulator's Lanczos sharpness")
    y = d * float(mean_response(b))
    return _positive("lpp0", lpp0) * y * y


def mean_model_threshold(d: int, *, b0: float = 0.0, lpp0: float = SYM_LOGISTIC_D2_0) -> float:
    """``eta* = 2 / (l''(0) (d E relu(xi + b0))^2)``; ``= 8 pi / d^2`` at ``b0 = 0``, ``l''(0) = 1/2``.

    Our reconstruction of the mean model's threshold (see module docstring); its value
    ``8 pi / d^2`` is the threshold stated in the paper's Fig. 1 caption for network (2)
    (:func:`network2_threshold`); the mean model's own statement in the body was not read.
    """
    return 2.0 / mean_model_sharpness(d, b=b0, lpp0=lpp0)


def quadratic_gd_stable(eta, sharpness) -> np.ndarray:
    """GD on a quadratic with top curvature ``sharpness`` is stable iff ``eta * sharpness < 2``."""
    eta = np.asarray(eta, float)
    if np.any(eta <= 0):
        raise ValueError("eta must be positive")
    return eta * np.asarray(sharpness, float) < 2.0


def network2_threshold(d: int) -> float:
    """The paper's step-size threshold for network (2) on data (1): ``eta* = 8 pi / d^2``.

    Fig. 1 caption of arXiv:2212.07469 ("precise threshold at eta = 8 pi / d^2"); ``6.28e-4``
    for ``d = 200``.  It is ``2 / S`` with ``S = l''(0) (d E|xi|)^2 / 2 = d^2 / (4 pi)`` the
    leading-order sharpness of the mean logistic loss (``l''(0) = 1/4``) at ``a = 0, b = 0``
    along ``a+ + a-`` (see :func:`network2_sharpness_at_zero` for the finite-``d`` value).
    """
    if int(d) != d or d < 1:
        raise ValueError(f"d must be a positive integer, got {d!r}")
    return 8.0 * math.pi / float(d) ** 2


def network2_sharpness_at_zero(d: int, lam: float, *, lpp0: float = LOGISTIC_D2_0) -> float:
    """Population sharpness of network (2) at ``(a-, a+, b) = 0`` on data (1), exact in ``d``.

    With ``g = (sum_j relu(-x_j), sum_j relu(x_j))`` the Hessian of ``E l(y f)`` at ``a = 0`` has
    ``(a-, a+)`` block ``l''(0) E[g g^T]``; in the basis ``(a+ +- a-)/sqrt 2`` it is
    ``diag(l''(0) E[(sum_j |x_j|)^2] / 2, l''(0) (d + lam^2) / 2)`` (the cross term vanishes by the
    symmetry ``(y, xi) -> (-y, -xi)``); ``d^2 L / db^2 = 0`` and the ``b`` row couples only to the
    second (small) mode, with entries ``O(1)``.  Hence

    ``S = (l''(0) / 2) [((d - 1) sqrt(2/pi) + m1)^2 + (d - 1)(1 - 2/pi) + 1 + lam^2 - m1^2]``,

    ``m1 = E|lam + xi| = lam (1 - 2 Phi(-lam)) + 2 phi(lam)``, up to ``O(1/S)`` from the ``b`` row.
    Leading order ``l''(0) d^2 / pi = d^2 / (4 pi)`` gives :func:`network2_threshold`; for
    ``d = 200, lam = 3`` the exact value is 3.07 % larger (threshold ``6.096e-4``).
    """
    if int(d) != d or d < 1:
        raise ValueError(f"d must be a positive integer, got {d!r}")
    lam = float(lam)
    if not (math.isfinite(lam) and lam >= 0):
        raise ValueError(f"lam must be finite and >= 0, got {lam!r}")
    lpp0 = _positive("lpp0", lpp0)
    m1 = lam * (1.0 - 2.0 * special.ndtr(-lam)) + 2.0 * stats.norm.pdf(lam)
    mean = (d - 1) * math.sqrt(2.0 / math.pi) + m1
    var = (d - 1) * (1.0 - 2.0 / math.pi) + 1.0 + lam * lam - m1 * m1
    return float(0.5 * lpp0 * (mean * mean + var))
