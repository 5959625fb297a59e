"""Checking a figure's config overrides against its declared defaults, before any compute.

A figure declares its defaults (``Figure.config``) and, next to them, optional
``Figure.bounds``.  An override must

* have the default's type: ``bool`` for a bool, an integer for an int (``2.5`` and
  ``True`` are refused), a finite number for a float, a string for a string, a list
  of the same element type for a list;
* lie in the declared bound: ``(lo, hi)`` inclusive (``None`` for an open end), or a
  set of allowed values; for a list the bound applies to every element;
* without a declared bound: a number (or list element) whose default is positive
  stays positive, one whose default is ``>= 0`` stays ``>= 0`` (every size, count,
  step and step size of the shipped figures is positive); a list of strings stays a
  non-empty subset of the default list (the default names every option).

Errors are :class:`ConfigError` (a ``ValueError``) naming the key, the value and
what was expected; the CLI prints that one line and exits with status 2.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Mapping

Bound = Any  # (lo, hi) with None for an open end, or a set/frozenset of allowed values


class ConfigError(ValueError):
    """An override that the figure's declared config does not admit."""


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, numbers.Integral):
        return "int"
    if isinstance(v, numbers.Real):
        return "float"
    if isinstance(v, str):
        return "str"
    if isinstance(v, (list, tuple)):
        return "list"
    if v is None:
        return "none"
    return type(v).__name__


def _check_scalar(fig: str, key: str, value: Any, default: Any, bound: Bound, where: str) -> None:
    want, got = _kind(default), _kind(value)
    ok = got == want or (want == "float" and got == "int")
    if want == "none":
        ok = True
    if not ok:
        expected = {"int": "an integer", "float": "a number", "bool": "true or false",
                    "str": "a string"}.get(want, want)
        raise ConfigError(f"{fig}: --set {key}: {where}expected {expected} (like the default "
                          f"{default!r}), got {value!r}")
    if got in ("int", "float") and not math.isfinite(float(value)):
        raise ConfigError(f"{fig}: --set {key}: {where}expected a finite number, got {value!r}")
    if isinstance(bound, (set, frozenset)):
        if value not in bound:
            raise ConfigError(f"{fig}: --set {key}: {where}expected one of "
                              f"{sorted(bound, key=str)}, got {value!r}")
        return
    if bound is not None and got in ("int", "float"):
        lo, hi = bound
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            rng = f"[{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]"
            raise ConfigError(f"{fig}: --set {key}: {where}expected a value in {rng}, got {value!r}")
        return
    if bound is None and got in ("int", "float") and want in ("int", "float"):
        if default > 0 and not value > 0:
            raise ConfigError(f"{fig}: --set {key}: {where}expected a positive number "
                              f"(default {default!r}), got {value!r}")
        if default >= 0 and not value >= 0:
            raise ConfigError(f"{fig}: --set {key}: {where}expected a non-negative number "
                              f"(default {default!r}), got {value!r}")


def check_override(fig: str, key: str, value: Any, default: Any, bound: Bound = None) -> None:
    """Raise :class:`ConfigError` unless ``value`` is admissible for ``key``."""
    if _kind(default) == "list":
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{fig}: --set {key}: expected a list (like the default "
                              f"{list(default)!r}), got {value!r}")
        if len(default) and not len(value):
            raise ConfigError(f"{fig}: --set {key}: expected a non-empty list, got []")
        strs = [d for d in default if isinstance(d, str)]
        if bound is None and strs and len(strs) == len(default):
            bound = frozenset(strs)
        for i, v in enumerate(value):
            ref = default[min(i, len(default) - 1)] if len(default) else v
            if bound is None and all(_kind(d) in ("int", "float") for d in default):
                # element sign follows the smallest default element
                ref = min(default)
            _check_scalar(fig, key, v, ref, bound, f"element {i}: ")
        return
    _check_scalar(fig, key, value, default, bound, "")


def check_overrides(fig: str, defaults: Mapping[str, Any], overrides: Mapping[str, Any],
                    bounds: Mapping[str, Bound]) -> None:
    """Check every override; unknown keys are named with the known ones."""
    bad = set(overrides) - set(defaults)
    if bad:
        raise ConfigError(f"{fig}: unknown config keys {sorted(bad)}; known: {sorted(defaults)}")
    for k, v in overrides.items():
        check_override(fig, k, v, defaults[k], bounds.get(k))
