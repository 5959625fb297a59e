"""Sweeps over grids (seeds, step sizes, dimensions) on any ``concurrent.futures.Executor``.

The caller passes the executor: ``None`` runs points inline, :func:`local_executor`
gives a process pool (spawned workers with float64 enabled), and any object with
``submit`` returning ``concurrent.futures.Future`` works.  A ``dask.distributed``
``Client`` (or its ``get_executor()``) is accepted too: points become Dask tasks,
x64 is switched on inside each task (the worker is the entry point there), and a
task lost with a dying worker is rescheduled by Dask on another one.  Each finished
point is written atomically to a :class:`PointStore` by the calling process the
moment it arrives, so neither a lost worker nor an interrupted sweep loses or
redoes finished points (see ``docs/distributed.md``).
"""
from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import os
import sys
import threading
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from figures.core.atomic import (CorruptFile, read_json, read_npz, sha256_file, write_bytes,
                                 write_json)

PointFn = Callable[[Mapping[str, Any]], Mapping[str, Any]]


def point_key(point: Mapping[str, Any]) -> str:
    """Stable key of a grid point (canonical JSON, hashed).

    Entries whose name starts with ``_`` are runtime-only (a checkpoint directory, say)
    and do not enter the key.
    """
    ident = {k: v for k, v in dict(point).items() if not str(k).startswith("_")}
    blob = json.dumps(ident, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


class PointStore:
    """Directory of finished sweep points: ``<key>.json`` (the point and the npz's hash)
    plus ``<key>.npz`` (the result).

    The metadata is written first and the npz last, both atomically, so the npz's
    presence means the point is complete; :meth:`load` checks the npz against the hash
    recorded in the metadata and raises :class:`~figures.core.atomic.CorruptFile` on
    any mismatch or truncation, and :func:`run_sweep` then recomputes the point.
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def _paths(self, point: Mapping[str, Any]) -> tuple[Path, Path]:
        k = point_key(point)
        return self.root / f"{k}.json", self.root / f"{k}.npz"

    def has(self, point: Mapping[str, Any]) -> bool:
        return self._paths(point)[1].exists()

    def load(self, point: Mapping[str, Any]) -> dict[str, np.ndarray]:
        meta_path, data_path = self._paths(point)
        try:
            meta = read_json(meta_path)
        except FileNotFoundError:
            raise CorruptFile(f"{meta_path}: missing metadata of a stored point") from None
        if not isinstance(meta, dict) or meta.get("sha256") != sha256_file(data_path):
            raise CorruptFile(f"{data_path}: does not match the hash in {meta_path.name}")
        return read_npz(data_path)

    def save(self, point: Mapping[str, Any], result: Mapping[str, Any]) -> None:
        meta, data = self._paths(point)
        buf = io.BytesIO()
        np.savez_compressed(buf, **{k: np.asarray(v) for k, v in result.items()})
        blob = buf.getvalue()
        data.unlink(missing_ok=True)  # never pair new metadata with an old npz
        write_json(meta, {"point": {k: v for k, v in dict(point).items()
                                    if not str(k).startswith("_")},
                          "sha256": hashlib.sha256(blob).hexdigest()})
        write_bytes(data, blob)

    def __len__(self) -> int:
        # Temporaries (".<key>.*.npz") left by a process killed mid-write are not points.
        if not self.root.exists():
            return 0
        return sum(1 for f in self.root.glob("*.npz") if not f.name.startswith("."))


def _enable_x64() -> None:
    import jax

    jax.config.update("jax_enable_x64", True)


def _watch_parent(parent: int, every: float = 1.0) -> None:
    """End this worker when its parent process is gone (killed main: no orphans)."""
    while True:
        time.sleep(every)
        if os.getppid() != parent:
            os._exit(1)


def _worker_init(parent: int) -> None:
    _enable_x64()
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


class _X64Call:
    """Picklable wrapper: enable x64 in whatever process runs the point, then call ``fn``."""

    def __init__(self, fn: PointFn):
        self.fn = fn

    def __call__(self, point: Mapping[str, Any]) -> Mapping[str, Any]:
        _enable_x64()
        return self.fn(point)


def _is_dask(executor: Any) -> bool:
    return type(executor).__module__.split(".")[0] == "distributed"


def _adapt_executor(executor: Any, fn: PointFn) -> tuple[Executor, PointFn]:
    """A Dask ``Client`` becomes its ``concurrent.futures`` executor; Dask tasks enable x64."""
    if not _is_dask(executor):
        return executor, fn
    if hasattr(executor, "get_executor"):  # a Client: impure tasks, so a rerun is a new task
        executor = executor.get_executor(pure=False)
    return executor, _X64Call(fn)


def local_executor(max_workers: int | None = None) -> ProcessPoolExecutor:
    """A local process pool for sweeps: spawned workers (JAX is not fork-safe), x64 on.

    Parameters
    ----------
    max_workers
        Number of worker processes; defaults to ``os.cpu_count()``.
    """
    if max_workers is not None and max_workers < 1:
        raise ValueError(f"max_workers must be >= 1, got {max_workers}")
    return ProcessPoolExecutor(max_workers=max_workers or os.cpu_count(),
                               mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_init, initargs=(os.getpid(),))


class LazyExecutor:
    """An executor started only when a point must be computed.

    ``factory()`` returns the executor (a process pool, a Dask executor) and is called
    at the first :meth:`resolve`; a run whose points and figures are all cached never
    starts one.  ``close()`` shuts down what was started.
    """

    def __init__(self, factory: Callable[[], Any], *, on_close: Callable[[], None] | None = None):
        self._factory = factory
        self._on_close = on_close
        self._ex: Any = None

    @property
    def started(self) -> bool:
        return self._ex is not None

    def resolve(self) -> Any:
        if self._ex is None:
            self._ex = self._factory()
        return self._ex

    def submit(self, fn, /, *args, **kwargs) -> Future:
        return self.resolve().submit(fn, *args, **kwargs)

    def close(self) -> None:
        if self._ex is not None and self._on_close is None and hasattr(self._ex, "shutdown"):
            self._ex.shutdown(wait=True, cancel_futures=True)
        if self._ex is not None and self._on_close is not None:
            self._on_close()
        self._ex = None


def _as_arrays(result: Mapping[str, Any], point: Mapping[str, Any]) -> dict[str, np.ndarray]:
    if not isinstance(result, Mapping):
        raise TypeError(f"sweep function must return a mapping of arrays, got "
                        f"{type(result).__name__} at point {dict(point)}")
    return {str(k): np.asarray(v) for k, v in result.items()}


def run_sweep(
    fn: PointFn,
    points: Sequence[Mapping[str, Any]],
    *,
    executor: Executor | None = None,
    store: PointStore | None = None,
    desc: str = "sweep",
    progress: bool = True,
    recompute: bool = False,
) -> list[dict[str, np.ndarray]]:
    """Evaluate ``fn(point)`` for every point; return results in the order of ``points``.

    Parameters
    ----------
    fn
        A picklable (module-level) function of one point returning a mapping of arrays.
    points
        Grid points, each a JSON-serialisable mapping (also the resume key).
    executor
        Where to run: ``None`` runs inline; a ``concurrent.futures.Executor`` (e.g.
        :func:`local_executor`) or a ``dask.distributed.Client`` gets every point
        ``submit``-ted.
    store
        Finished-point store; points already in it are loaded, not recomputed.
    desc, progress
        Progress bar label and switch.
    recompute
        Ignore stored points and compute every point again (``--force``).

    A stored point that fails verification (truncated, hash mismatch) is recomputed,
    with a one-line warning on stderr naming the file.
    """
    points = [dict(p) for p in points]
    keys = [point_key(p) for p in points]
    if len(set(keys)) != len(keys):
        raise ValueError("run_sweep: points must be distinct")
    results: list[dict[str, np.ndarray] | None] = [None] * len(points)
    todo: list[int] = []
    for i, p in enumerate(points):
        if store is not None and not recompute and store.has(p):
            try:
                results[i] = store.load(p)
                continue
            except CorruptFile as e:
                print(f"theorylab: recomputing a corrupt sweep point: {e}", file=sys.stderr)
        todo.append(i)

    from tqdm.auto import tqdm

    bar = tqdm(total=len(points), initial=len(points) - len(todo), desc=desc,
               disable=not progress, leave=False)
    try:
        if executor is None:
            for i in todo:
                results[i] = _as_arrays(fn(points[i]), points[i])
                if store is not None:
                    store.save(points[i], results[i])
                bar.update(1)
        elif todo:
            if hasattr(executor, "resolve"):  # LazyExecutor: start it now, work is due
                executor = executor.resolve()
            executor, fn = _adapt_executor(executor, fn)
            futures: dict[Future, int] = {executor.submit(fn, points[i]): i for i in todo}
            try:
                for fut in as_completed(futures):
                    i = futures[fut]
                    results[i] = _as_arrays(fut.result(), points[i])
                    if store is not None:
                        store.save(points[i], results[i])
                    bar.update(1)
            finally:
                for fut in futures:
                    fut.cancel()
    finally:
        bar.close()
    assert all(r is not None for r in results)
    return results  # type: ignore[return-value]
