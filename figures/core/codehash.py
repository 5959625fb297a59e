"""Which project code a figure runs, and a hash of it: the code half of a cache key.

A cached result is only the result of the code that computed it.  The set of
modules is found statically: the figure's module is parsed (``ast``, no import),
every ``import``/``from ... import`` anywhere in it — top level or inside a
function, where figures keep their heavy imports — that names a project package
(``theory``, ``sims``, ``robust_erm``, ``figures``) is resolved to a source file,
and so on transitively.  The hash of a figure is the SHA-256 of those files'
names and bytes, so editing any simulator, closed form or check the figure can
reach changes its key; editing the CLI or the report does not.

Infrastructure of ``figures.core`` that cannot change a number (CLI, report,
registry, result store, sweep scheduling, provenance) is not followed, so a fix
to the command line does not invalidate every cached result.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Mapping

PROJECT_PACKAGES = ("theory", "sims", "robust_erm", "figures")

# figures.core modules that move data around but compute no number of any figure.
_INFRA = frozenset({
    "figures.core.cli", "figures.core.report", "figures.core.registry", "figures.core.runner",
    "figures.core.store", "figures.core.sweep", "figures.core.atomic", "figures.core.provenance",
    "figures.core.distributed", "figures.core.codehash", "figures.core.lock",
    "figures.core.config", "figures.core.api", "figures.core.pytest_plugin",
    "figures.core.check_cmd", "figures.core.external", "figures", "figures.__main__",
})


def _is_project(name: str) -> bool:
    return name.split(".")[0] in PROJECT_PACKAGES


@lru_cache(maxsize=None)
def _module_file(name: str) -> Path | None:
    """Source file of project module ``name`` without importing it, or ``None``."""
    parts = name.split(".")
    try:
        spec = importlib.util.find_spec(parts[0])
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    base = Path(next(iter(spec.submodule_search_locations)))
    path = base.joinpath(*parts[1:])
    if path.is_dir() and (path / "__init__.py").exists():
        return path / "__init__.py"
    if path.with_suffix(".py").exists():
        return path.with_suffix(".py")
    return None


def _imports(path: Path, module: str) -> set[str]:
    """Project modules named by the import statements of ``path`` (module ``module``)."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    pkg = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = pkg.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            # ``from pkg import mod`` may name a submodule.
            found.update(f"{base}.{a.name}" for a in node.names if a.name != "*")
    out = set()
    for name in found:
        if not _is_project(name):
            continue
        # every parent package's __init__ runs too
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            out.add(".".join(parts[:i]))
    return out


def module_closure(root: str, *, extra_files: tuple[Path, ...] = ()) -> dict[str, Path]:
    """Project modules reachable from ``root`` by import statements: ``{name: file}``."""
    seen: dict[str, Path] = {}
    todo = [root]
    while todo:
        name = todo.pop()
        if name in seen or (name in _INFRA and name != root):
            continue
        path = _module_file(name)
        if path is None:
            continue
        seen[name] = path
        todo.extend(sorted(_imports(path, name) - set(seen)))
    return seen


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def module_hashes(root: str, *, file: Path | None = None) -> dict[str, str]:
    """``{module: sha256 of its source}`` for the closure of ``root``.

    ``file`` is the root module's source when it is not importable by name (a user's
    figure file passed on the command line); its imports are followed the same way.
    """
    if file is not None:
        mods = {root: Path(file)}
        for dep in sorted(_imports(Path(file), root)):
            if dep in _INFRA:
                continue
            mods.update(module_closure(dep))
    else:
        mods = module_closure(root)
    out = {name: file_digest(p) for name, p in sorted(mods.items())}
    # data shipped beside a module (robust_erm/data/*.csv) is part of what it computes
    for d in sorted({p.parent / "data" for p in mods.values()}):
        if d.is_dir():
            for f in sorted(d.rglob("*")):
                if f.is_file() and "__pycache__" not in f.parts:
                    out[f"data:{d.parent.name}/{f.relative_to(d)}"] = file_digest(f)
    return out


def combine(hashes: Mapping[str, str]) -> str:
    """One digest for a ``{module: digest}`` map (order-independent)."""
    h = hashlib.sha256()
    for name in sorted(hashes):
        h.update(name.encode())
        h.update(b"\0")
        h.update(hashes[name].encode())
        h.update(b"\n")
    return h.hexdigest()


def changed_modules(recorded: Mapping[str, str], root: str, *, file: Path | None = None) -> list[str]:
    """Modules whose source differs now from ``recorded`` (added, removed or edited)."""
    try:
        now = module_hashes(root, file=file)
    except (OSError, SyntaxError):
        return ["<source unreadable>"]
    return sorted(k for k in set(now) | set(recorded) if now.get(k) != recorded.get(k))
