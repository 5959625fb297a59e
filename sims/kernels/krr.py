"""Kernel ridge regression, one module and one ridge convention: a differentiable and a checked entry.

Kernel ridge regression (KRR) with a kernel matrix ``K`` on the training inputs predicts

    ŷ(x_test) = K_test,train (K + λ I)^{-1} Y,      λ = ridge · tr(K)/n   (``relative=True``, default),

**the ridge is relative to the mean diagonal** of ``K``, as in KIP (Nguyen, Chen, Lee 2021,
arXiv:2011.00050, eq. (2)-(3), ``λ = 1e-6``) and neural-tangents' ``diag_reg`` with
``diag_reg_absolute_scale=False``; ``relative=False`` uses ``λ = ridge`` as given.  ``ridge >= 0``
(KIP's notebook takes ``|ridge|``; here a negative ridge is an error in the checked entry).  The NNGP
posterior mean of Lee et al. 2018 (arXiv:1711.00165, eq. 12) and the infinite-width GD solution of
Jacot et al. 2018 have this form.

Two entries, same formula:

- **differentiable** (:func:`ridge_value`, :func:`krr_weights`, :func:`krr_predict`): ``jax.numpy``
  Cholesky, jittable, differentiable in ``K`` (and so in KIP's support images); no conditioning
  checks (a traced matrix cannot be inspected).  KIP's loss uses it.
- **checked** (:func:`solve_psd`, :func:`krr_fit_predict`, :func:`krr_accuracy`): numpy/scipy,
  for evaluation.  Exact NNGP/NTK matrices are often numerically singular (near-duplicate inputs,
  deep ReLU kernels whose cosines tend to 1, ``n`` larger than the kernel's numerical rank); a bare
  Cholesky or ``solve`` then fails or returns NaN/inf (neural-tangents issues #36, #76, #128, #198).
  :func:`solve_psd` therefore

  1. factorizes ``K + λI`` by Cholesky (LAPACK ``potrf`` via scipy) and estimates its condition
     number ``κ`` from the factor (LAPACK ``pocon``, 1-norm estimate, O(n²));
  2. if the factorization fails or ``κ > max_cond`` (choice: ``1e12``, i.e. about 4 of 16 digits
     left for the solution), acts per ``on_ill_conditioned``: ``"increase"`` (default) multiplies
     ``λ`` by 10 until it succeeds (at most ``max_increases`` times, starting from
     ``max(λ, 1e-14·tr(K)/n)`` when ``λ = 0``) and warns with :class:`IllConditionedWarning` naming
     ``κ`` and the ridge used; ``"warn"`` warns and keeps ``λ`` when the factorization succeeded;
     ``"raise"`` raises ``numpy.linalg.LinAlgError``;
  3. checks that the solution and the residual ``‖(K + λI)X − Y‖/‖Y‖`` are finite, and raises
     ``FloatingPointError`` otherwise — never returns NaN silently.

Ridge selection (:func:`validated_ridge`): the ridge of a grid with the best accuracy on validation
rows, every ridge of the grid from one eigendecomposition of the fitting block.

float64 only (inputs must already be float64; jax arrays are accepted by the checked entry and
converted to numpy).
"""
from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
from scipy.linalg import lapack

__all__ = ["solve_psd", "krr_fit_predict", "krr_accuracy", "validated_ridge", "SolveInfo",
           "IllConditionedWarning", "ridge_value", "krr_weights", "krr_predict", "check_float64"]

_MODES = ("increase", "warn", "raise")


class IllConditionedWarning(UserWarning):
    """``K + λI`` was (numerically) singular or had a condition number above ``max_cond``."""


class SolveInfo(NamedTuple):
    """What :func:`solve_psd` did.

    Attributes
    ----------
    ridge : float
        The absolute diagonal regularizer ``λ`` finally used.
    ridge_requested : float
        The absolute ``λ`` asked for (``ridge · tr(K)/n`` if relative).
    cond : float
        Estimated 1-norm condition number of ``K + λI`` (LAPACK ``pocon``).
    increases : int
        How many times ``λ`` was multiplied by 10.
    residual : float
        ``‖(K + λI)X − Y‖_F / ‖Y‖_F``.
    """

    ridge: float
    ridge_requested: float
    cond: float
    increases: int
    residual: float


def _as_float64(a, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype != np.float64:
        raise TypeError(f"{name} must be float64 (the solve checks conditioning in double precision), "
                        f"got {arr.dtype}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")
    return arr


def _check_kernel(k, name: str) -> np.ndarray:
    k = _as_float64(k, name)
    if k.ndim != 2 or k.shape[0] != k.shape[1] or k.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty square (n, n) matrix, got shape {k.shape}")
    scale = float(np.max(np.abs(k)))
    if np.max(np.abs(k - k.T)) > 1e-8 * max(scale, np.finfo(float).tiny):
        raise ValueError(f"{name} must be symmetric (a kernel matrix), max |K - K^T| = "
                         f"{np.max(np.abs(k - k.T)):.3g} relative to max |K| = {scale:.3g}")
    return 0.5 * (k + k.T)


def _check_ridge(ridge) -> float:
    if isinstance(ridge, bool) or not isinstance(ridge, (int, float, np.integer, np.floating)) \
            or not math.isfinite(ridge) or ridge < 0:
        raise ValueError(f"ridge must be a finite number >= 0, got {ridge!r}")
    return float(ridge)


def _factor(a: np.ndarray):
    """Lower Cholesky factor and 1-norm condition estimate of ``a``, or ``(None, inf)``."""
    c, info = lapack.dpotrf(a, lower=1, clean=1, overwrite_a=0)
    if info != 0 or not np.all(np.isfinite(np.diag(c))):
        return None, math.inf
    rcond, info = lapack.dpocon(c, float(np.max(np.sum(np.abs(a), axis=0))), uplo="L")
    cond = math.inf if info != 0 or rcond <= 0 else 1.0 / rcond
    return c, cond


def solve_psd(K, Y, *, ridge: float, relative: bool = True, max_cond: float = 1e12,
              on_ill_conditioned: str = "increase", max_increases: int = 30,
              return_info: bool = False):
    """Solve ``(K + λI) X = Y`` for a symmetric PSD kernel matrix ``K``, checked (module docstring).

    Parameters
    ----------
    K : array, shape ``(n, n)``, float64
        Symmetric PSD kernel matrix (asymmetry above ``1e-8·max|K|`` is an error; the symmetric part
        is used).
    Y : array, shape ``(n,)`` or ``(n, k)``, float64
        Right-hand sides (targets).
    ridge : float, keyword-only
        Diagonal regularizer, ``>= 0``; relative to the mean diagonal ``tr(K)/n`` if ``relative``.
    relative : bool, keyword-only
        ``λ = ridge · tr(K)/n`` (default, KIP / neural-tangents convention) or ``λ = ridge``.
    max_cond : float, keyword-only
        Largest accepted condition number of ``K + λI`` (choice: 1e12).
    on_ill_conditioned : {"increase", "warn", "raise"}, keyword-only
        What to do when the Cholesky factorization fails or ``κ > max_cond`` (module docstring).
        A failed factorization is never "kept": under ``"warn"`` it still increases ``λ``.
    max_increases : int, keyword-only
        Largest number of ×10 increases of ``λ`` before giving up with ``LinAlgError``.
    return_info : bool, keyword-only
        Also return a :class:`SolveInfo`.

    Returns
    -------
    X : numpy.ndarray, shape of ``Y``
        The solution; finite by construction.
    info : SolveInfo
        Only if ``return_info``.

    Raises
    ------
    TypeError, ValueError
        Non-float64 / non-finite / non-square / asymmetric ``K``, mismatched ``Y``, bad options.
    numpy.linalg.LinAlgError
        ``on_ill_conditioned="raise"`` and ``K + λI`` is ill-conditioned, or no ``λ`` within
        ``max_increases`` decades made it factorizable.
    FloatingPointError
        The solution or residual is not finite (e.g. overflow).
    """
    K = _check_kernel(K, "K")
    Y = _as_float64(Y, "Y")
    n = K.shape[0]
    if Y.ndim not in (1, 2) or Y.shape[0] != n:
        raise ValueError(f"Y must have shape ({n},) or ({n}, k) to match K {K.shape}, got {Y.shape}")
    ridge = _check_ridge(ridge)
    if on_ill_conditioned not in _MODES:
        raise ValueError(f"on_ill_conditioned must be one of {_MODES}, got {on_ill_conditioned!r}")
    if not (isinstance(max_cond, (int, float)) and max_cond > 1):
        raise ValueError(f"max_cond must be a number > 1, got {max_cond!r}")
    if isinstance(max_increases, bool) or not isinstance(max_increases, int) or max_increases < 0:
        raise ValueError(f"max_increases must be an int >= 0, got {max_increases!r}")
    mean_diag = float(np.trace(K)) / n
    if relative and not mean_diag > 0:
        raise ValueError(f"K must have a positive mean diagonal for a relative ridge (a PSD kernel "
                         f"matrix), got tr(K)/n = {mean_diag:.3g}")
    lam0 = ridge * mean_diag if relative else ridge
    lam, increases = lam0, 0
    eye = np.eye(n)
    c, cond = _factor(K + lam * eye)
    ill = c is None or cond > max_cond
    if ill and on_ill_conditioned == "raise":
        raise np.linalg.LinAlgError(
            f"K + ridge*I is ill-conditioned: condition number {cond:.3g} > max_cond {max_cond:.3g} "
            f"at ridge {lam:.3g} (absolute; relative {lam / mean_diag if mean_diag > 0 else math.nan:.3g})")
    first_cond = cond
    if c is None or (ill and on_ill_conditioned == "increase"):
        floor = 1e-14 * (mean_diag if mean_diag > 0 else max(float(np.max(np.abs(K))), 1.0))
        lam = max(lam, floor)
        while c is None or (on_ill_conditioned == "increase" and cond > max_cond):
            if increases >= max_increases:
                raise np.linalg.LinAlgError(
                    f"K + ridge*I stayed ill-conditioned (condition number {cond:.3g}) up to ridge "
                    f"{lam:.3g} after {increases} ten-fold increases")
            lam *= 10.0
            increases += 1
            c, cond = _factor(K + lam * eye)
    if ill:
        rel = f", relative {lam / mean_diag:.3g} of the mean diagonal" if mean_diag > 0 else ""
        what = (f"increased the ridge from {lam0:.3g} to {lam:.3g}{rel} ({increases} x10 steps); "
                f"condition number now {cond:.3g}" if increases else
                f"kept ridge {lam:.3g}{rel}; the solution may have lost ~{math.log10(cond):.0f} digits")
        warnings.warn(f"solve_psd: K + ridge*I is ill-conditioned (condition number {first_cond:.3g} > "
                      f"max_cond {max_cond:.3g}); {what}", IllConditionedWarning, stacklevel=2)
    X = scipy.linalg.cho_solve((c, True), Y, check_finite=False)
    a = K + lam * eye
    resid = float(np.linalg.norm(a @ X - Y) / max(np.linalg.norm(Y), np.finfo(float).tiny))
    if not (np.all(np.isfinite(X)) and math.isfinite(resid)):
        raise FloatingPointError(f"solve_psd produced a non-finite solution or residual at ridge {lam:.3g} "
                                 f"(condition number {cond:.3g})")
    if return_info:
        return X, SolveInfo(ridge=lam, ridge_requested=lam0, cond=cond, increases=increases,
                            residual=resid)
    return X


def krr_fit_predict(k_train, y_train, k_test, *, ridge: float = 1e-6, relative: bool = True,
                    **solve_options):
    """Kernel ridge regression predictions ``k_test (k_train + λI)^{-1} y_train``.

    Parameters
    ----------
    k_train : array ``(n, n)``, float64
        Train-train kernel matrix.
    y_train : array ``(n,)`` or ``(n, k)``, float64
        Train targets (e.g. one-hot labels minus ``1/C``, as in KIP).
    k_test : array ``(m, n)``, float64
        Test-train kernel matrix.
    ridge, relative
        As in :func:`solve_psd` (default ``1e-6`` of the mean diagonal, the KIP choice).
    **solve_options
        Passed on to :func:`solve_psd` (``max_cond``, ``on_ill_conditioned``, ``max_increases``).

    Returns
    -------
    numpy.ndarray ``(m,)`` or ``(m, k)``
        Predictions, finite by construction.
    """
    if "return_info" in solve_options:
        raise TypeError("krr_fit_predict does not take return_info; call solve_psd for SolveInfo")
    k_test = _as_float64(k_test, "k_test")
    n = np.shape(k_train)[0] if np.ndim(k_train) == 2 else None
    if k_test.ndim != 2 or (n is not None and k_test.shape[1] != n):
        raise ValueError(f"k_test must have shape (m, {n}) (test x train), got {k_test.shape}")
    alpha = solve_psd(k_train, y_train, ridge=ridge, relative=relative, **solve_options)
    pred = k_test @ alpha
    if not np.all(np.isfinite(pred)):
        raise FloatingPointError("krr_fit_predict: non-finite predictions (overflow in k_test @ alpha)")
    return pred


def krr_accuracy(k_train, y_train, k_test, labels_test, *, ridge: float = 1e-6, relative: bool = True,
                 **solve_options) -> float:
    """Classification accuracy of KRR: ``mean(argmax(k_test (k_train + λI)^{-1} y_train) == labels)``.

    Checked (:func:`krr_fit_predict`); ``y_train`` ``(n, C)`` regression targets (e.g. centred one-hot),
    ``labels_test`` ``(m,)`` integer classes.
    """
    labels = np.asarray(labels_test)
    pred = krr_fit_predict(k_train, y_train, k_test, ridge=ridge, relative=relative, **solve_options)
    if pred.ndim != 2 or labels.shape != (pred.shape[0],):
        raise ValueError(f"labels_test must have shape ({pred.shape[0]},) and y_train (n, C), got "
                         f"{labels.shape} and predictions {pred.shape}")
    return float(np.mean(np.argmax(pred, axis=1) == labels))


def validated_ridge(k_train, targets, labels, val, grid) -> tuple[float, np.ndarray]:
    """Relative ridge of ``grid`` with the best accuracy on the ``val`` rows, fitted on the others.

    Parameters
    ----------
    k_train : array ``(n, n)``, float64
        Kernel matrix of the training split.
    targets : array ``(n, C)``
        Regression targets of the training split (centred one-hot).
    labels : array ``(n,)``
        Their classes (accuracy on the validation rows).
    val : bool array ``(n,)``
        Validation rows; the remaining rows are the fitting block.
    grid : sequence of float
        Relative ridges (``λ = ridge · tr(K_fit)/n_fit``).  Ties go to the larger ridge.

    Returns
    -------
    (ridge, accuracies) : (float, ndarray ``(len(grid),)``)

    One eigendecomposition ``K_fit = U diag(s) Uᵀ`` serves every ridge:
    ``(K_fit + λI)^{-1} Y = U diag(1/(s + λ)) Uᵀ Y``.
    """
    k = _as_float64(k_train, "k_train")
    val = np.asarray(val, bool)
    labels = np.asarray(labels)
    targets = np.asarray(targets, np.float64)
    grid = np.asarray(grid, np.float64)
    n = k.shape[0]
    if k.shape != (n, n) or val.shape != (n,) or labels.shape != (n,) or targets.shape[0] != n:
        raise ValueError(f"k_train must be (n, n) and val, labels, targets have n = {n} rows, got "
                         f"{k.shape}, {val.shape}, {labels.shape}, {targets.shape}")
    if not (val.any() and (~val).any()):
        raise ValueError("val must mark at least one validation row and leave at least one fitting row")
    if grid.ndim != 1 or grid.size == 0 or np.any(grid < 0) or not np.all(np.isfinite(grid)):
        raise ValueError(f"grid must be a non-empty 1-d sequence of finite ridges >= 0, got {grid!r}")
    fit = ~val
    kff = k[np.ix_(fit, fit)]
    s, u = np.linalg.eigh(kff)
    uy = u.T @ targets[fit]
    kvf = k[np.ix_(val, fit)] @ u
    scale = np.trace(kff) / kff.shape[0]
    accs = np.array([np.mean(np.argmax(kvf @ (uy / (s + lam * scale)[:, None]), 1) == labels[val])
                     for lam in grid])
    best = np.flatnonzero(accs == accs.max())[-1]
    return float(grid[best]), accs


# -- the differentiable entry (KIP) -------------------------------------------------------------------

def check_float64(name: str, a) -> None:
    """Raise a TypeError unless ``a`` is float64 (works on traced arrays: only the dtype is read)."""
    dt = getattr(a, "dtype", None)
    if dt != jnp.float64:
        raise TypeError(f"{name} must be float64 (enable jax_enable_x64 at the entry point), got dtype {dt}")


def ridge_value(k, ridge, *, relative: bool = True):
    """The absolute ``λ``: ``ridge · tr(K)/n`` (``relative``) or ``ridge``; jittable, differentiable."""
    return ridge * jnp.trace(k) / k.shape[0] if relative else ridge * jnp.ones((), k.dtype)


def krr_weights(k_train, y_train, *, ridge, relative: bool = True) -> jax.Array:
    """Dual coefficients ``(K + λI)^{-1} Y`` by a ``jax.numpy`` Cholesky (differentiable, unchecked)."""
    n = k_train.shape[0]
    a = k_train + ridge_value(k_train, ridge, relative=relative) * jnp.eye(n, dtype=k_train.dtype)
    c = jax.scipy.linalg.cho_factor(a, lower=True)
    return jax.scipy.linalg.cho_solve(c, y_train)


def krr_predict(k_test, k_train, y_train, *, ridge=1e-6, relative: bool = True) -> jax.Array:
    """``K_test,train (K + λI)^{-1} Y`` (KIP's predictor, arXiv:2011.00050 eq. (2)), differentiable.

    Parameters
    ----------
    k_test : ``(m, n)``
        Kernel between test (target) and training (support) inputs.
    k_train : ``(n, n)``
        Training (support) kernel.
    y_train : ``(n, C)``
        Training targets.
    ridge, relative
        The ridge convention of this module (default ``1e-6`` of the mean diagonal).
    """
    k_test, k_train, y_train = jnp.asarray(k_test), jnp.asarray(k_train), jnp.asarray(y_train)
    if k_train.ndim != 2 or k_train.shape[0] != k_train.shape[1]:
        raise ValueError(f"k_train must be square (n, n), got shape {k_train.shape}")
    if k_test.ndim != 2 or k_test.shape[1] != k_train.shape[0]:
        raise ValueError(f"k_test must have shape (m, {k_train.shape[0]}), got {k_test.shape}")
    if y_train.ndim != 2 or y_train.shape[0] != k_train.shape[0]:
        raise ValueError(f"y_train must have shape ({k_train.shape[0]}, C), got {y_train.shape}")
    for n, a in (("k_test", k_test), ("k_train", k_train), ("y_train", y_train)):
        check_float64(n, a)
    if isinstance(ridge, (int, float)) and not (math.isfinite(ridge) and ridge >= 0):
        raise ValueError(f"ridge must be a finite number >= 0, got {ridge!r}")
    return k_test @ krr_weights(k_train, y_train, ridge=ridge, relative=relative)
