"""The result store: one directory per figure, described by its sidecar.

Layout under ``out/<figure name>/``::

    <name>.png, <name>.pdf   the figure
    <name>.npz               the plotted data
    <name>.json              sidecar: config, cache key and its parts (config hash and the
                             hash of every project module the figure runs), claims,
                             provenance, timings, and the SHA-256 of every file above
    work/                    sweep points (resume store), KIP checkpoints
    .lock                    held by the run writing this directory

A result is *verified* when its sidecar parses, names a complete run, and every file
it describes exists with the recorded hash: only a verified result is served from the
cache or trusted by the report.  The old sidecar is removed before any new data is
written and the new one is written last, so an interrupted run leaves a directory
without a sidecar (a cache miss), never an old sidecar over new data.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from figures.core.atomic import CorruptFile, read_json, sha256_file

FILES = ("png", "pdf", "npz")


def paths(out: Path, name: str) -> dict[str, Path]:
    d = Path(out) / name
    return {ext: d / f"{name}.{ext}" for ext in (*FILES, "json")}


def file_entries(p: dict[str, Path]) -> dict[str, dict[str, str]]:
    """``{ext: {"name", "sha256"}}`` for the data files that exist."""
    return {ext: {"name": p[ext].name, "sha256": sha256_file(p[ext])}
            for ext in FILES if p[ext].exists()}


def read_sidecar(path: Path) -> dict[str, Any]:
    """The sidecar as a dict; :class:`CorruptFile` if it is not a complete JSON object."""
    side = read_json(path)
    if not isinstance(side, dict) or "figure" not in side or "claims" not in side:
        raise CorruptFile(f"{path}: not a theorylab sidecar (no 'figure'/'claims')")
    return side


def verify_files(side: dict[str, Any], directory: Path) -> str | None:
    """``None`` if every file the sidecar describes matches it, else the reason (one line)."""
    files = side.get("files")
    if not isinstance(files, dict) or not files:
        return "the sidecar lists no file hashes (written by an older theorylab)"
    for ext in FILES:
        entry = files.get(ext)
        if not isinstance(entry, dict) or "sha256" not in entry:
            return f"the sidecar has no hash for the .{ext} file"
        f = Path(directory) / entry["name"]
        if not f.exists():
            return f"{f} is missing"
        if sha256_file(f) != entry["sha256"]:
            return f"{f} does not match its sidecar (another run's or a truncated file)"
    return None
