"""Atomic file writes: write to a temporary name in the same directory, then rename.

An interrupted run therefore never leaves half a file under the final name.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np


TMP_MARK = ".tmp"


def _umask() -> int:
    """The process umask (read without changing it where /proc allows)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def is_temporary(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a temporary written by :func:`atomic_path` (``.<stem>.*.tmp.*``)."""
    name = Path(path).name
    return name.startswith(".") and TMP_MARK + "." in name


def clean_temporaries(directory: str | os.PathLike) -> list[Path]:
    """Remove temporaries left under ``directory`` by a killed writer; return them.

    Call it only while holding the directory's lock (:mod:`figures.core.lock`), so no
    live writer's temporary is removed.
    """
    removed = []
    d = Path(directory)
    if not d.is_dir():
        return removed
    for f in d.rglob(".*"):
        if f.is_file() and is_temporary(f):
            try:
                f.unlink()
                removed.append(f)
            except OSError:
                pass
    return removed


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    The temporary file keeps ``path``'s suffix so that libraries choosing a format
    from the extension (matplotlib) still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix + ".tmp" + path.suffix,
                               dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600; a result file gets the mode an open() would give it
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Atomically write ``data`` to ``path``."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def write_text(path: str | os.PathLike, text: str) -> None:
    """Atomically write ``text`` (UTF-8) to ``path``."""
    write_bytes(path, text.encode("utf-8"))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")


def to_json(obj: Any) -> str:
    """JSON text with numpy scalars/arrays converted; NaN/inf written as null-free strings are not allowed."""
    return json.dumps(obj, indent=2, sort_keys=True, default=_json_default, allow_nan=True)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Atomically write ``obj`` as JSON."""
    write_text(path, to_json(obj) + "\n")


def write_npz(path: str | os.PathLike, arrays: Mapping[str, Any]) -> None:
    """Atomically write a compressed ``.npz`` of ``arrays``."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    write_bytes(path, buf.getvalue())


class CorruptFile(ValueError):
    """A result file that cannot be read back (truncated, not an npz/JSON, wrong hash)."""


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read an ``.npz`` written by :func:`write_npz` into a plain dict.

    Raises :class:`CorruptFile` (naming the file) for anything that is not a complete npz.
    """
    import zipfile

    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, KeyError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise CorruptFile(f"{path}: not a readable .npz ({type(e).__name__}: {e})") from None


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file; :class:`CorruptFile` naming the file if it does not parse."""
    try:
        return json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CorruptFile(f"{path}: not valid JSON ({e})") from None


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
