"""An inter-process lock on one figure's result directory.

Two ``theorylab run`` processes writing the same figure into one ``--out`` take
turns: the second waits for the first (saying so once on stderr), then finds the
finished result in the cache instead of computing it again.  The lock is an OS
file lock (``filelock``), released by the kernel when its holder dies, so a
killed run never leaves a directory locked.
"""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def directory_lock(directory: str | os.PathLike, *, quiet: bool = False) -> Iterator[None]:
    """Hold ``<directory>/.lock`` for the duration of the block."""
    from filelock import FileLock, Timeout

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(d / ".lock"))
    try:
        lock.acquire(timeout=0.5)
    except Timeout:
        if not quiet:
            print(f"theorylab: {d} is in use by another run; waiting for it to finish",
                  file=sys.stderr, flush=True)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()
