"""Where figures come from: the built-in ``figures`` package, a user's file, an installed plugin.

* Built-in: every module in ``figures/`` defining ``FIGURE`` (or ``FIGURES``, a sequence,
  for closely related panels); modules starting with ``_`` and ``core`` are skipped.
* A file: ``theorylab run path/to/my_figures.py`` imports that file (no install, no
  edit of theorylab) and takes its ``FIGURE``/``FIGURES``.
* A plugin: a separately installed package that declares an entry point in the group
  ``theorylab.figures`` (``[project.entry-points."theorylab.figures"] name = "pkg.mod"``);
  the entry point names a module defining ``FIGURE``/``FIGURES``, or a ``Figure`` or a
  sequence of them directly.

Figure modules keep their heavy imports (JAX, the simulators) inside ``compute``,
``check`` and ``plot``, so discovering every figure — ``theorylab list``, argument
checks — imports no JAX and answers in well under a second and a half.
"""
from __future__ import annotations

import fnmatch
import importlib
import importlib.util
import pkgutil
import sys
from pathlib import Path
from typing import Any, Iterable, Sequence

from figures.core.figure import Figure

_SKIP = {"core"}
ENTRY_POINT_GROUP = "theorylab.figures"


class RegistryError(ValueError):
    """A figure source that cannot be loaded (bad file, duplicate name, not a Figure)."""


def _figures_of(obj: Any, where: str) -> list[Figure]:
    if isinstance(obj, Figure):
        return [obj]
    if isinstance(obj, (list, tuple)):
        figs = list(obj)
    else:  # a module
        figs = list(getattr(obj, "FIGURES", ()))
        if hasattr(obj, "FIGURE"):
            figs.append(obj.FIGURE)
    for fig in figs:
        if not isinstance(fig, Figure):
            raise RegistryError(f"{where}: FIGURE/FIGURES must be figures.core.Figure objects, "
                                f"got {type(fig).__name__}")
    return figs


def _add(found: dict[str, Figure], figs: Iterable[Figure], where: str) -> None:
    for fig in figs:
        if fig.name in found and found[fig.name] is not fig:
            raise RegistryError(f"duplicate figure name {fig.name!r} (again in {where})")
        found[fig.name] = fig


def builtin_figures() -> dict[str, Figure]:
    """The figures shipped in the ``figures`` package, by name, in module order."""
    import figures

    found: dict[str, Figure] = {}
    for info in sorted(pkgutil.iter_modules(figures.__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name in _SKIP:
            continue
        mod = importlib.import_module(f"figures.{info.name}")
        _add(found, _figures_of(mod, f"figures.{info.name}"), f"figures.{info.name}")
    return found


def load_file(path: str | Path) -> list[Figure]:
    """Import a user's figure file and return its ``FIGURE``/``FIGURES``.

    The file is imported as the module ``<stem>`` with its directory appended to
    ``sys.path``, so its functions pickle by name for process-pool sweeps (spawned
    workers inherit ``sys.path``).
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise RegistryError(f"no figure file {path}")
    if path.suffix != ".py":
        raise RegistryError(f"{path}: a figure file must be a .py file")
    name = path.stem
    if not name.isidentifier():
        raise RegistryError(f"{path}: the file name must be a Python identifier")
    if name in sys.modules and getattr(sys.modules[name], "__file__", None) != str(path):
        raise RegistryError(f"{path}: module name {name!r} clashes with an imported module; "
                            "rename the file")
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise RegistryError(f"{path}: cannot be imported")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        if str(path.parent) not in sys.path:
            sys.path.append(str(path.parent))  # spawned sweep workers re-import it by name
        try:
            spec.loader.exec_module(mod)
        except Exception as e:
            del sys.modules[name]
            raise RegistryError(f"{path}: importing it raised {type(e).__name__}: {e}") from None
    figs = _figures_of(sys.modules[name], str(path))
    if not figs:
        raise RegistryError(f"{path} defines no FIGURE or FIGURES")
    return figs


def plugin_figures() -> dict[str, Figure]:
    """Figures of installed packages, from the ``theorylab.figures`` entry-point group."""
    from importlib.metadata import entry_points

    found: dict[str, Figure] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
        except Exception as e:
            raise RegistryError(f"entry point {ep.name} = {ep.value} ({ENTRY_POINT_GROUP}) "
                                f"failed to load: {type(e).__name__}: {e}") from None
        _add(found, _figures_of(obj, f"entry point {ep.value}"), f"entry point {ep.value}")
    return found


def all_figures(files: Sequence[str | Path] = ()) -> dict[str, Figure]:
    """Built-in, plugin and file figures, by name; names must be unique across sources."""
    found = builtin_figures()
    _add(found, plugin_figures().values(), "an installed plugin")
    for f in files:
        _add(found, load_file(f), str(f))
    return found


def is_file_spec(spec: str) -> bool:
    """Whether a command-line figure name is a path to a figure file."""
    return spec.endswith(".py") or "/" in spec or "\\" in spec


def select(patterns: list[str]) -> list[Figure]:
    """Figures for names, shell-style patterns (``bn_*``) or ``.py`` files; raise on no match.

    A file contributes all of its figures; a name or pattern matches the built-in and
    plugin figures (and those of files named earlier in ``patterns``).
    """
    files = [p for p in patterns if is_file_spec(p)]
    figs = all_figures(files)
    chosen: list[Figure] = []
    for pat in patterns:
        if is_file_spec(pat):
            hits = load_file(pat)
        else:
            hits = [f for n, f in figs.items() if fnmatch.fnmatchcase(n, pat)]
        if not hits:
            raise KeyError(f"no figure matches {pat!r}; known figures: {', '.join(figs) or '(none)'}")
        chosen.extend(f for f in hits if f not in chosen)
    return chosen
