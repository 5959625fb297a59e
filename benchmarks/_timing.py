"""One timer for every benchmark: medians of repeated calls, measured side by side.

Benchmarks compare implementations in one run; timing them *interleaved* (a, b, a, b, …)
rather than one after the other keeps a background load or a CPU frequency change from
favouring whichever ran first.  Every function is called once untimed first (compilation,
caches), and ``block`` is applied to the result so asynchronous JAX work is included.
"""
from __future__ import annotations

import statistics
import time
from typing import Any, Callable, Mapping


def _block(out: Any) -> Any:
    """Wait for asynchronous (JAX) results; a no-op for anything else."""
    try:
        import jax
    except ImportError:  # pragma: no cover - jax is a project dependency
        return out
    return jax.block_until_ready(out)


def median_time(fn: Callable[[], Any], *, repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time in seconds of ``fn()`` over ``repeats`` calls, after ``warmup`` calls."""
    if repeats < 1:
        raise ValueError(f"repeats: expected >= 1, got {repeats}")
    for _ in range(warmup):
        _block(fn())
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        _block(fn())
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def interleaved(fns: Mapping[str, Callable[[], Any]], *, repeats: int = 5,
                warmup: int = 1) -> dict[str, float]:
    """Median wall time in seconds of each ``fns[name]()``, calls interleaved round by round."""
    if repeats < 1:
        raise ValueError(f"repeats: expected >= 1, got {repeats}")
    for fn in fns.values():
        for _ in range(warmup):
            _block(fn())
    ts: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            _block(fn())
            ts[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in ts.items()}
