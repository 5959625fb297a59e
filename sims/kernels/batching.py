"""Blocked evaluation of a kernel function under one ``jax.jit`` (neural-tangents ``nt.batch`` analogue),
with a memory bound and resumable blocks on disk.

``kernel_matrix(kernel_fn, x1, x2, *, get, batch_size)`` pads ``x1``/``x2`` to multiples of
``batch_size`` (repeating the last row, so every block has one shape and the jitted block function is
traced once), evaluates ``(batch_size, batch_size)`` blocks and crops.  Valid for any kernel whose
``(i, j)`` entry depends only on ``x1[i], x2[j]`` (all ``stax`` kernels).  With ``x2=None`` the
kernel is assumed symmetric, ``K(x, x')ᵀ = K(x', x)`` (true of NNGP and NTK): only the blocks on
and above the diagonal are evaluated and the others are their transposes, which halves the work
and makes the result exactly symmetric (``symmetric=False`` evaluates every block).

**Memory bound** (``max_memory=``, bytes or a string such as ``"8GB"``, ``"512MiB"``): the block
edge is the largest ``b`` whose compiled block program — XLA's own count of its arguments, outputs
and temporaries (``jax.jit(...).lower(...).compile().memory_analysis()``) — fits in ``max_memory``.
That count is measured at three small edges, fitted by ``c₂b² + c₁b + c₀`` (each entry of a block
costs the same; conv kernels carry ``(b, b, *s, *s)`` arrays) and the chosen ``b`` checked by compiling
it (:func:`choose_batch_size`).  The bound is on the block computation; the result itself, ``n1·n2``
float64 per requested kernel, is held in host memory — or on disk with ``directory=``.

**Resumable blocks on disk** (``directory=``): each requested kernel is a ``.npy`` file opened as a
memory map, every finished block is flushed to it and then recorded in ``blocks.json`` (written to a
temporary name and renamed, so the record never claims a block that is not on disk).  A second call
with the same arguments skips the recorded blocks — after a kill it redoes at most the blocks that
were running.  ``meta.json`` fingerprints what is computed (shapes, ``get``, block edge, a hash of the
inputs and the kernel's values on two probe rows); a directory of another computation is an error.
The returned arrays are read-only memory maps of the files.
"""
from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
from pathlib import Path
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from sims.kernels._core import NNGPNTK

__all__ = ["kernel_matrix", "choose_batch_size", "block_memory", "parse_bytes"]


@functools.lru_cache(maxsize=64)
def _jitted_block(kernel_fn: Callable, get):
    return jax.jit(lambda a, b: kernel_fn(a, b, get=get))


def _pad(x, bs):
    n = x.shape[0]
    m = -(-n // bs) * bs
    if m == n:
        return x
    return jnp.concatenate([x, jnp.repeat(x[-1:], m - n, axis=0)], axis=0)


_UNITS = {"": 1, "b": 1, "kb": 10 ** 3, "mb": 10 ** 6, "gb": 10 ** 9, "tb": 10 ** 12,
          "kib": 2 ** 10, "mib": 2 ** 20, "gib": 2 ** 30, "tib": 2 ** 40}


def parse_bytes(value) -> int:
    """Bytes from an int or a string ``"<number>[B|kB|MB|GB|TB|KiB|MiB|GiB|TiB]"`` (case-insensitive)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        v = int(value)
    elif isinstance(value, str):
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", value)
        if m is None or m.group(2).lower() not in _UNITS:
            raise ValueError(f"max_memory must be bytes or a string like '8GB' / '512MiB', got {value!r}")
        v = int(float(m.group(1)) * _UNITS[m.group(2).lower()])
    else:
        raise TypeError(f"max_memory must be an int (bytes) or a string like '8GB', got {value!r}")
    if v <= 0:
        raise ValueError(f"max_memory must be positive, got {value!r}")
    return v


def block_memory(kernel_fn: Callable, x1, x2=None, *, get="ntk", batch_size: int) -> int:
    """Bytes XLA reports for one compiled ``(batch_size, batch_size)`` block: arguments + outputs + temporaries."""
    x2 = x1 if x2 is None else x2
    get_key = get if isinstance(get, str) else tuple(get)
    a = jax.ShapeDtypeStruct((batch_size,) + tuple(x1.shape[1:]), jnp.float64)
    b = jax.ShapeDtypeStruct((batch_size,) + tuple(x2.shape[1:]), jnp.float64)
    m = _jitted_block(kernel_fn, get_key).lower(a, b).compile().memory_analysis()
    if m is None:  # pragma: no cover - every current backend reports it
        raise RuntimeError("max_memory: this JAX backend reports no memory analysis of compiled programs")
    return int(m.temp_size_in_bytes + m.argument_size_in_bytes + m.output_size_in_bytes)


def choose_batch_size(kernel_fn: Callable, x1, x2=None, *, get="ntk", max_memory) -> int:
    """Largest block edge ``b`` (``<= max(n1, n2)``) whose compiled block fits in ``max_memory`` bytes.

    Fits ``bytes(b) = c₂b² + c₁b + c₀`` to :func:`block_memory` at ``b = 4, 8, 16`` and checks the
    chosen ``b`` by compiling it (shrinking by 10% until it fits).  Raises ``ValueError`` if a block
    of edge 1 does not fit.
    """
    limit = parse_bytes(max_memory)
    n = max(x1.shape[0], x1.shape[0] if x2 is None else x2.shape[0])
    probes = np.array([4.0, 8.0, 16.0])
    mem = np.array([block_memory(kernel_fn, x1, x2, get=get, batch_size=int(b)) for b in probes], float)
    c2, c1, c0 = np.linalg.solve(np.vander(probes, 3), mem)
    c2, c1 = max(c2, 0.0), max(c1, 0.0)
    if c2 > 0:
        b = int((-c1 + math.sqrt(c1 * c1 + 4 * c2 * max(limit - c0, 0.0))) / (2 * c2))
    else:
        b = int((limit - c0) / c1) if c1 > 0 else n
    b = max(1, min(b, n))
    while True:
        used = block_memory(kernel_fn, x1, x2, get=get, batch_size=b)
        if used <= limit:
            return b
        if b == 1:
            raise ValueError(f"max_memory={max_memory!r}: even a 1x1 block of this kernel needs {used} bytes")
        b = max(1, int(b * 0.9))


def _digest(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(np.asarray(a))
        h.update(str((a.shape, a.dtype.str)).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:32]


def _write_json_atomic(path: Path, obj) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w") as f:
        json.dump(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class _Store:
    """The ``directory=`` of :func:`kernel_matrix`: memory-mapped results and the finished-block record."""

    def __init__(self, directory, names, shape, meta):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.names = names
        meta_path, self.record = self.dir / "meta.json", self.dir / "blocks.json"
        if meta_path.exists():
            old = json.loads(meta_path.read_text())
            differ = sorted(k for k in meta if old.get(k) != meta[k])
            if differ:
                raise ValueError(f"directory {os.fspath(directory)!r} holds blocks of another kernel matrix "
                                 f"(its {', '.join(differ)} differ); pass another directory or remove it")
        self.done = set()
        if self.record.exists():
            self.done = {tuple(b) for b in json.loads(self.record.read_text())}
        self.arrays = {}
        for g in names:
            p = self.dir / f"{g}.npy"
            if not p.exists() or not meta_path.exists():
                tmp = p.with_name(f".{p.name}.tmp{os.getpid()}")
                np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float64, shape=shape).flush()
                os.replace(tmp, p)
                self.done = set()
            self.arrays[g] = np.load(p, mmap_mode="r+")
        if not meta_path.exists():
            _write_json_atomic(self.record, [])
            _write_json_atomic(meta_path, meta)

    def put(self, key, blocks: dict, rows: slice, cols: slice, mirror: bool) -> None:
        for g, a in blocks.items():
            mm = self.arrays[g]
            mm[rows, cols] = a
            if mirror:
                mm[cols, rows] = a.T
            mm.flush()
        self.done.add(key)
        _write_json_atomic(self.record, sorted(self.done))

    def result(self):
        return {g: np.load(self.dir / f"{g}.npy", mmap_mode="r") for g in self.names}


def kernel_matrix(kernel_fn: Callable, x1, x2=None, *, get="ntk", batch_size: int | None = None,
                  max_memory=None, symmetric: bool = True, directory: str | os.PathLike | None = None):
    """Full ``(n1, n2)`` kernel from ``(batch_size, batch_size)`` blocks of a jitted ``kernel_fn``.

    Parameters
    ----------
    kernel_fn
        ``kernel_fn(a, b, get=...)`` as returned by :func:`sims.kernels.stax.serial`.
    x1, x2
        Inputs ``(n, ..., channels)``, float64; ``x2=None`` means ``x1``.
    get
        ``'nngp'``, ``'ntk'`` or a tuple of them (then a tuple/namedtuple of matrices is returned).
    batch_size
        Block edge; the block function is compiled once per (kernel_fn, get, shapes).  Default 256,
        or chosen from ``max_memory``.
    max_memory
        Bytes (int or ``"8GB"``-style string) one block computation may use (module docstring);
        exclusive with ``batch_size``.
    symmetric
        With ``x2=None``, evaluate only the blocks ``j >= i`` and mirror the rest (module docstring).
    directory
        Write the result to ``<directory>/<get>.npy`` block by block and resume from the finished
        blocks (module docstring); the result is then returned as read-only memory maps.
    """
    if batch_size is not None and max_memory is not None:
        raise ValueError("pass batch_size or max_memory, not both")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                                   or batch_size < 1):
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    x1 = jnp.asarray(x1)
    x2 = x1 if x2 is None else jnp.asarray(x2)
    for name, x in (("x1", x1), ("x2", x2)):
        if x.dtype != jnp.float64:
            raise TypeError(f"{name} must be float64 (enable jax_enable_x64 at the entry point), got {x.dtype}")
        if not bool(jnp.all(jnp.isfinite(x))):
            raise ValueError(f"{name} contains non-finite values")
    get_key = get if isinstance(get, str) else tuple(get)
    if max_memory is not None:
        batch_size = choose_batch_size(kernel_fn, x1, None if x2 is x1 else x2, get=get_key,
                                       max_memory=max_memory)
    batch_size = 256 if batch_size is None else int(batch_size)
    block = _jitted_block(kernel_fn, get_key)
    mirror = symmetric and x2 is x1
    n1, n2 = x1.shape[0], x2.shape[0]
    b1, b2 = min(batch_size, n1), min(batch_size, n2)
    p1, p2 = _pad(x1, b1), _pad(x2, b2)
    if directory is not None:
        return _to_disk(kernel_fn, block, get, x1, x2, p1, p2, b1, b2, mirror, directory)
    done = {}
    rows = []
    for i in range(0, p1.shape[0], b1):
        cols = []
        for j in range(0, p2.shape[0], b2):
            if mirror and j < i:
                cols.append(jax.tree_util.tree_map(lambda a: a.T, done[(j, i)]))
            else:
                b = block(p1[i:i + b1], p2[j:j + b2])
                if mirror and i == j:  # exactly symmetric diagonal blocks too
                    b = jax.tree_util.tree_map(lambda a: (a + a.T) / 2, b)
                done[(i, j)] = b
                cols.append(b)
        rows.append(jax.tree_util.tree_map(lambda *c: jnp.concatenate(c, axis=1), *cols))
    full = jax.tree_util.tree_map(lambda *r: jnp.concatenate(r, axis=0), *rows)
    return jax.tree_util.tree_map(lambda a: a[:n1, :n2], full)


def _to_disk(kernel_fn, block, get, x1, x2, p1, p2, b1, b2, mirror, directory):
    names = (get,) if isinstance(get, str) else tuple(get)
    n1, n2 = x1.shape[0], x2.shape[0]
    probe = block(x1[:2], x2[:2])
    probe = probe if not isinstance(get, str) else (probe,)
    meta = {"shape": [n1, n2], "get": list(names), "batch_size": [b1, b2], "mirror": bool(mirror),
            "inputs": _digest(x1) + ("" if x2 is x1 else _digest(x2)),
            "kernel_probe": [float(f"{v:.10g}") for a in probe for v in np.asarray(a).ravel()]}
    store = _Store(directory, names, (n1, n2), meta)
    for i in range(0, p1.shape[0], b1):
        for j in range(0, p2.shape[0], b2):
            if (mirror and j < i) or (i, j) in store.done:
                continue
            b = block(p1[i:i + b1], p2[j:j + b2])
            b = (b,) if isinstance(get, str) else tuple(b)
            r = slice(i, min(i + b1, n1))
            c = slice(j, min(j + b2, n2))
            parts = {}
            for g, a in zip(names, b):
                a = np.asarray(a)
                if mirror and i == j:
                    a = (a + a.T) / 2
                parts[g] = a[:r.stop - r.start, :c.stop - c.start]
            store.put((i, j), parts, r, c, mirror and i != j)
    res = store.result()
    if isinstance(get, str):
        return res[get]
    if tuple(names) == ("nngp", "ntk"):
        return NNGPNTK(res["nngp"], res["ntk"])
    return tuple(res[g] for g in names)
