"""Gradient flow ``d theta / dt = -grad L(theta)`` by an adaptive ODE solver (``eta -> 0`` of GD).

Below the stability threshold GD at step ``eta`` follows gradient flow up to ``O(eta)`` over a
fixed time ``eta * T``; the flow is therefore the reference against which ``figures/eos_fig1.py``
measures what GD does differently above the threshold.  The reference is computed here by a
method that shares nothing with GD's discretisation: scipy's ``solve_ivp`` (default DOP853,
order 8, error-controlled steps) on a NumPy vector field.

* :func:`network2_field` -- ``-grad L`` of network (2) of arXiv:2212.07469
  (:class:`sims.eos.ThresholdNet`, mean logistic loss) written out by hand in NumPy (no
  autodiff): a second implementation of the gradient, checked against ``jax.grad`` in the tests.
* :func:`loss_field` -- ``-jax.grad(loss)`` of any ``sims.eos`` loss as a NumPy field (jitted).
* :func:`gradient_flow` -- integrate a field from ``theta0`` to ``t_end``; dense output.

The field of network (2) is only piecewise smooth: ``d/db relu(+-x_j + b)`` jumps where
``b = -+x_ij``, i.e. ``dL/db`` has ``O(n d)`` small jumps (of size ``|l'| |a+-| / n``).  The
solution is still unique (the field is Lipschitz in ``a+-`` and ``b`` up to these jumps, which are
crossed transversally), but high-order error estimates only see them as local noise, so the
achieved accuracy is verified rather than assumed: against ``rtol = 1e-9`` and a tiny-step GD
run in ``tests/test_eos.py``.
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy.integrate import solve_ivp

__all__ = ["FlowResult", "network2_field", "loss_field", "gradient_flow"]


class FlowResult(NamedTuple):
    """Output of :func:`gradient_flow`.

    Attributes
    ----------
    t_end : float
        Final time.
    theta : (p,) ndarray
        ``theta(t_end)``.
    sol : callable
        Dense output, ``sol(t) -> (p,)`` (or ``(p, len(t))`` for an array ``t``) on ``[0, t_end]``.
    nfev : int
        Number of field evaluations.
    method, rtol, atol : solver settings (recorded with results).
    """

    t_end: float
    theta: np.ndarray
    sol: Callable
    nfev: int
    method: str
    rtol: float
    atol: float


def network2_field(x, y, *, reduction: str = "mean") -> Callable[[float, np.ndarray], np.ndarray]:
    r"""``theta -> -grad L(theta)`` for network (2) (:class:`sims.eos.ThresholdNet`), in NumPy.

    With ``theta = (a-, a+, b)``, ``g-_i = sum_j relu(-x_ij + b)``, ``g+_i = sum_j relu(x_ij + b)``,
    ``k-_i = #{j : x_ij < b}``, ``k+_i = #{j : x_ij > -b}``, ``f_i = a- g-_i + a+ g+_i`` and
    ``w_i = -y_i sigmoid(-y_i f_i) / n`` (``= y_i l'(y_i f_i) / n``, ``l(s) = log(1 + e^{-s})``),

    .. math::

        \partial_{a_-} L = \sum_i w_i g^-_i, \quad \partial_{a_+} L = \sum_i w_i g^+_i, \quad
        \partial_b L = \sum_i w_i (a_- k^-_i + a_+ k^+_i)

    (the ReLU convention ``relu'(0) = 0``, as in JAX).  The row sums come from sorted rows and
    prefix sums; all rows are searched in one ``np.searchsorted`` call on the rows laid end to
    end (row ``r`` shifted by ``r * C``, ``C`` a power of two above ``4 (max|x| + 1)``), which
    places each kink to within one ulp of ``n C`` (``~2e-12`` for ``n = 300``).

    Parameters
    ----------
    x : (n, d) array_like of float64
        Inputs.
    y : (n,) array_like
        Labels in ``{-1, +1}``.
    reduction : {"mean", "sum"}, keyword-only
        As in :class:`sims.eos.ThresholdNet` (``"mean"``: ``L = (1/n) sum_i l``).

    Returns
    -------
    callable
        ``field(t, theta) -> (3,) ndarray``, the right-hand side for :func:`gradient_flow`
        (``t`` is ignored).
    """
    x = np.asarray(x)
    if x.dtype != np.float64 or x.ndim != 2:
        raise TypeError(f"x must be a float64 array of shape (n, d), got {x.dtype} {x.shape}")
    n, d = x.shape
    y = np.asarray(y, np.float64)
    if y.shape != (n,) or not np.all(np.abs(y) == 1):
        raise ValueError(f"y must have shape ({n},) with entries +-1, got {y.shape}")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    scale = 1.0 / n if reduction == "mean" else 1.0
    xs = np.sort(x, axis=1)
    cs = np.concatenate([np.zeros((n, 1)), np.cumsum(xs, axis=1)], axis=1)
    big = float(np.abs(xs).max()) + 1.0
    c = 2.0 ** math.ceil(math.log2(4.0 * big))
    off = c * np.arange(n, dtype=np.float64)
    flat = (xs + off[:, None]).ravel()
    csf, cbase, tot = cs.ravel(), (d + 1) * np.arange(n), cs[:, -1]
    base2 = np.tile(d * np.arange(n), 2)
    wy = -scale * y

    def field(t, theta):
        am, ap, b = (float(v) for v in theta)
        q = min(max(b, -big), big)            # counts are constant beyond the data range
        # #{x_j < b} and #{x_j <= -b} (side "right" = side "left" at the next float up)
        k = np.searchsorted(flat, np.concatenate([q + off, np.nextafter(-q + off, np.inf)]))
        k = k - base2
        k_lo, k_hi = k[:n], k[n:]
        gm = b * k_lo - csf[cbase + k_lo]
        gp = (tot - csf[cbase + k_hi]) + b * (d - k_hi)
        w = wy / (1.0 + np.exp(np.minimum(y * (am * gm + ap * gp), 700.0)))
        return -np.array([w @ gm, w @ gp, w @ (am * k_lo + ap * (d - k_hi))])

    return field


def loss_field(loss: Callable, *, data: tuple = ()) -> Callable[[float, np.ndarray], np.ndarray]:
    """``theta -> -jax.grad(loss)(theta, *data)`` as a NumPy field for :func:`gradient_flow`.

    Parameters
    ----------
    loss : callable
        ``(theta, *data) -> scalar`` (float64; jitted here).
    data : tuple, keyword-only
        The arguments of ``loss`` after ``theta``.
    """
    if not isinstance(data, tuple):
        raise TypeError(f"data must be a tuple of arrays, got {type(data).__name__}")
    g = jax.jit(jax.grad(loss))
    return lambda t, theta: -np.asarray(g(jnp.asarray(theta, jnp.float64), *data))


def gradient_flow(field: Callable, theta0, t_end: float, *, rtol: float = 1e-7,
                  atol: float = 1e-10, method: str = "DOP853") -> FlowResult:
    """Integrate ``d theta / dt = field(t, theta)`` from ``theta(0) = theta0`` to ``t_end``.

    Parameters
    ----------
    field : callable
        ``(t, theta) -> dtheta/dt`` (e.g. :func:`network2_field`, :func:`loss_field`).
    theta0 : (p,) array_like of float64
        Start (e.g. the same initialisation as the GD runs it is compared with).
    t_end : float
        Final time (``eta * iterations`` of the GD runs, > 0).
    rtol, atol : float, keyword-only
        ``solve_ivp`` tolerances.  Default ``rtol = 1e-7``: for network (2) at the Fig. 1 setting
        the final bias then agrees with ``rtol = 1e-9`` to ``~1e-6`` at a fraction of the cost
        (explicit steps are limited by stability, ``h S < ~6``, more than by accuracy).
    method : str, keyword-only
        ``solve_ivp`` method (default ``"DOP853"``, explicit order 8).

    Returns
    -------
    FlowResult

    Raises
    ------
    RuntimeError
        If the solver does not reach ``t_end``.
    """
    theta0 = np.asarray(theta0)
    if theta0.dtype != np.float64 or theta0.ndim != 1:
        raise TypeError(f"theta0 must be a flat float64 vector, got {theta0.dtype} {theta0.shape}")
    t_end = float(t_end)
    if not (math.isfinite(t_end) and t_end > 0):
        raise ValueError(f"t_end must be finite and > 0, got {t_end!r}")
    for name, v in (("rtol", rtol), ("atol", atol)):
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be finite and > 0, got {v!r}")
    s = solve_ivp(field, (0.0, t_end), theta0, method=method, rtol=rtol, atol=atol,
                  dense_output=True)
    if s.status != 0:
        raise RuntimeError(f"gradient flow did not reach t_end = {t_end}: {s.message}")
    return FlowResult(t_end=t_end, theta=s.y[:, -1].copy(), sol=s.sol, nfev=int(s.nfev),
                      method=method, rtol=float(rtol), atol=float(atol))
