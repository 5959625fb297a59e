"""Data for KIP: validated (X, y) arrays, a held-out split, standardization, balanced subsets.

KIP (Nguyen, Chen, Lee 2021, arXiv:2011.00050, §2 and the ``kip/KIP.ipynb`` notebook of
google-research) distils a *training* set; its test accuracy is measured on a split the
distillation never sees.  Following the papers, images are standardized per channel with
the training split's mean and standard deviation, and regression targets are centred
one-hot labels ``e_c - 1/C``.

The default data set is scikit-learn's bundled ``load_digits`` (1797 grey 8x8 digits,
10 classes; offline).  Every function takes plain arrays, so MNIST or CIFAR images
(``(n, H, W, C)``) go through the same pipeline.

Choices the papers leave open (for ``load_digits``): the held-out split is stratified
with ``test_fraction=0.3`` (the papers use the official test sets); the pixel values
0..16 are standardized like any single-channel image.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class Split:
    """A standardized train / held-out test split.

    Attributes
    ----------
    x_train, x_test
        float64 images ``(n, H, W, C)`` standardized with the training mean/std per channel.
    y_train, y_test
        Integer labels in ``0 .. n_classes - 1``.
    n_classes
        Number of classes ``C``.
    mean, std
        The per-channel statistics used (to map images back for display).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    mean: np.ndarray
    std: np.ndarray


def check_xy(x, y, *, name_x: str = "x", name_y: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """Validate a labelled data set and return ``(float64 x, int64 y)``.

    Raises
    ------
    ValueError
        If ``x`` is empty, has fewer than 2 dimensions, contains NaN or inf, if ``y`` is
        not one-dimensional with one label per row of ``x``, or labels are negative or
        not integers.
    TypeError
        If ``x`` is not numeric.
    """
    xa = np.asarray(x)
    if xa.dtype.kind not in "biuf":
        raise TypeError(f"{name_x} must be a numeric array, got dtype {xa.dtype}")
    if xa.ndim < 2 or xa.shape[0] == 0 or xa[0].size == 0:
        raise ValueError(f"{name_x} must have shape (n, ...) with n >= 1 and at least one "
                         f"feature, got shape {xa.shape}")
    xa = xa.astype(np.float64)
    if not np.all(np.isfinite(xa)):
        bad = int(np.sum(~np.isfinite(xa)))
        raise ValueError(f"{name_x} contains {bad} NaN or infinite values; expected finite numbers")
    ya = np.asarray(y)
    if ya.ndim != 1 or ya.shape[0] != xa.shape[0]:
        raise ValueError(f"{name_y} must be a 1-d array of {xa.shape[0]} integer labels "
                         f"(one per row of {name_x}), got shape {ya.shape}")
    if ya.dtype.kind == "f":
        if not np.all(np.isfinite(ya)) or np.any(ya != np.round(ya)):
            raise ValueError(f"{name_y} must hold integer class labels, got non-integer values")
    elif ya.dtype.kind not in "biu":
        raise TypeError(f"{name_y} must hold integer class labels, got dtype {ya.dtype}")
    ya = ya.astype(np.int64)
    if ya.min() < 0:
        raise ValueError(f"{name_y} must hold labels >= 0, got minimum {ya.min()}")
    return xa, ya


def as_images(x: np.ndarray, image_shape: Sequence[int] | None) -> np.ndarray:
    """Reshape ``(n, d)`` rows to ``(n, H, W, C)`` images; ``(n, H, W)`` gains ``C = 1``."""
    if image_shape is not None:
        shape = tuple(int(s) for s in image_shape)
        if len(shape) == 2:
            shape = shape + (1,)
        if len(shape) != 3 or int(np.prod(shape)) != x[0].size:
            raise ValueError(f"image_shape must be (H, W) or (H, W, C) with H*W*C = "
                             f"{x[0].size}, got {image_shape}")
        return x.reshape((x.shape[0],) + shape)
    if x.ndim == 3:
        return x[..., None]
    if x.ndim == 4:
        return x
    raise ValueError(f"x must be images (n, H, W[, C]) or rows with image_shape given, "
                     f"got shape {x.shape}")


def split_standardize(x, y, *, test_fraction: float = 0.3, rng: np.random.Generator,
                      image_shape: Sequence[int] | None = None) -> Split:
    """Stratified train/test split, then per-channel standardization with training statistics.

    Parameters
    ----------
    x
        Images ``(n, H, W[, C])`` or rows ``(n, d)`` with ``image_shape``.
    y
        Integer labels ``(n,)``.
    test_fraction
        Fraction of every class held out for testing (at least one image per class).
    rng
        numpy Generator for the split.
    image_shape
        ``(H, W)`` or ``(H, W, C)`` when ``x`` is given as rows.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    xa, ya = check_xy(x, y)
    xa = as_images(xa, image_shape)
    n_classes = int(ya.max()) + 1
    train_idx, test_idx = [], []
    for c in range(n_classes):
        idx = np.flatnonzero(ya == c)
        if idx.size < 2:
            raise ValueError(f"class {c} of y has {idx.size} examples; the train/test split "
                             f"needs at least 2 per class (labels must be 0..C-1, all present)")
        idx = rng.permutation(idx)
        k = max(1, int(round(test_fraction * idx.size)))
        test_idx.append(idx[:k])
        train_idx.append(idx[k:])
    tr = np.sort(np.concatenate(train_idx))
    te = np.sort(np.concatenate(test_idx))
    mean = xa[tr].mean(axis=(0, 1, 2))
    std = xa[tr].std(axis=(0, 1, 2))
    std = np.where(std > 0, std, 1.0)
    norm = lambda a: (a - mean) / std  # noqa: E731
    return Split(norm(xa[tr]), ya[tr], norm(xa[te]), ya[te], n_classes, mean, std)


def load_digits_split(*, test_fraction: float = 0.3, seed: int = 0) -> Split:
    """scikit-learn's bundled 8x8 digits (offline), split and standardized (:func:`split_standardize`)."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return split_standardize(x, y, test_fraction=test_fraction,
                             rng=np.random.default_rng([seed, 7]), image_shape=(8, 8))


def centered_one_hot(y, n_classes: int) -> np.ndarray:
    """KIP regression targets: ``e_{y_i} - 1/C`` (float64, ``(n, C)``)."""
    ya = np.asarray(y)
    if ya.ndim != 1 or ya.dtype.kind not in "iu":
        raise ValueError(f"y must be a 1-d integer label array, got shape {ya.shape} dtype {ya.dtype}")
    if n_classes < 2 or ya.min(initial=0) < 0 or ya.max(initial=0) >= n_classes:
        raise ValueError(f"labels must lie in 0..n_classes-1 with n_classes >= 2; got "
                         f"n_classes={n_classes}, label range [{ya.min()}, {ya.max()}]")
    return np.eye(n_classes)[ya] - 1.0 / n_classes


def check_budget(y, n_per_class: int, n_classes: int, *, name: str = "n_per_class") -> None:
    """Raise a ValueError naming the classes of ``y`` with fewer than ``n_per_class`` examples."""
    if int(n_per_class) != n_per_class or n_per_class < 1:
        raise ValueError(f"{name} must be a positive integer, got {n_per_class}")
    counts = np.bincount(np.asarray(y), minlength=n_classes)
    short = {c: int(k) for c, k in enumerate(counts) if k < n_per_class}
    if short:
        raise ValueError(f"{name}={n_per_class} images per class requested, but classes "
                         f"{sorted(short)} have only {short} examples")


def balanced_subset(y, n_per_class: int, *, rng: np.random.Generator,
                    n_classes: int | None = None) -> np.ndarray:
    """Indices of ``n_per_class`` examples of each class, drawn without replacement.

    Returned class by class (class 0 first), so ``y[idx]`` is ``repeat(arange(C), n_per_class)``.
    """
    ya = np.asarray(y)
    n_classes = int(ya.max()) + 1 if n_classes is None else n_classes
    check_budget(ya, n_per_class, n_classes)
    return np.concatenate([rng.choice(np.flatnonzero(ya == c), n_per_class, replace=False)
                           for c in range(n_classes)])


def class_table(y, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Padded ``(C, max count)`` table of each class's indices, and the counts ``(C,)``.

    Used to draw fresh class-balanced target batches inside ``jit`` (see :mod:`sims.kip.kip`).
    """
    ya = np.asarray(y)
    counts = np.bincount(ya, minlength=n_classes)
    table = np.zeros((n_classes, int(counts.max())), dtype=np.int64)
    for c in range(n_classes):
        idx = np.flatnonzero(ya == c)
        table[c, :idx.size] = idx
    return table, counts


def stratified_mask(y, fraction: float, *, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask marking ``max(1, round(fraction · n_c))`` random rows of every class ``c`` of ``y``.

    A stratified part of a split (e.g. the validation rows for choosing a ridge).
    """
    y = np.asarray(y)
    if not (isinstance(fraction, (int, float)) and 0 < fraction < 1):
        raise ValueError(f"fraction must be a number in (0, 1), got {fraction!r}")
    mask = np.zeros(len(y), bool)
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        mask[idx[:max(1, int(round(fraction * idx.size)))]] = True
    return mask
