"""A paper figure's declaration, and the context its ``compute`` step receives.

A figure is three pure steps, so cached data can be re-checked and re-plotted
without recomputation:

``compute(config, ctx) -> dict[str, ndarray]``
    Runs the simulation (sweeps go through ``ctx.sweep``) and returns the
    plotted data; saved as the figure's ``.npz``.
``check(data, config) -> list[ClaimResult]``
    Measures every declared claim from that data (fits, CIs, verdicts).
``plot(data, config) -> matplotlib.figure.Figure``
    Draws the figure; saved as PNG and PDF.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from figures.core.claims import Claim, ClaimResult


@dataclasses.dataclass(frozen=True)
class RunContext:
    """What a figure's ``compute`` receives besides its config.

    Attributes
    ----------
    seed
        Base seed for the run; derive keys with ``jax.random.key(seed)`` or
        ``numpy.random.default_rng(seed)`` and pass them explicitly.
    executor
        ``concurrent.futures.Executor`` for sweeps, or ``None`` to run points inline.
    workdir
        Directory for this figure's intermediate files (sweep point store).
    progress
        Whether to show progress bars.
    config_hash, cache_key
        Hash of the resolved config; cache key = config hash + hash of the figure's code
        (:mod:`figures.core.codehash`).  Sweep points are stored under the cache key, so
        a point computed by other code is never reused.
    force
        Recompute sweep points even if stored (``--force``).
    """

    seed: int
    executor: Executor | None
    workdir: Path
    progress: bool = True
    config_hash: str = ""
    cache_key: str = ""
    force: bool = False

    def rng(self, *salt: int) -> np.random.Generator:
        """A numpy Generator seeded from ``(seed, *salt)``."""
        return np.random.default_rng([self.seed, *salt])

    def sweep(
        self,
        fn: Callable[[Mapping[str, Any]], Mapping[str, Any]],
        points: Sequence[Mapping[str, Any]],
        *,
        desc: str = "sweep",
        name: str = "points",
    ) -> list[dict[str, np.ndarray]]:
        """Run ``fn`` on every point through :func:`figures.core.sweep.run_sweep`.

        Finished points are stored under ``workdir/<name>-<cache key>/`` so an
        interrupted sweep resumes without redoing them; with ``force`` every point is
        recomputed (and stored again).  Point keys starting with ``_`` are runtime-only
        (e.g. a checkpoint directory) and are not part of the point's identity.
        """
        from figures.core.sweep import PointStore, run_sweep

        store = PointStore(self.workdir / f"{name}-{(self.cache_key or self.config_hash)[:16]}")
        return run_sweep(fn, points, executor=self.executor, store=store, desc=desc,
                         progress=self.progress, recompute=self.force)


@dataclasses.dataclass(frozen=True)
class SeedPlan:
    """Seeds until decisive: a sequential design for claims whose interval straddles the band.

    The runner starts from the config's ``key`` (the number of seeds) and, while any claim in
    ``claims`` is INCONCLUSIVE because its interval straddles its band's edge, adds ``step``
    seeds and re-checks, up to ``max_seeds`` in all.  The stopping rule is therefore: stop at
    the first decisive verdict (PASS or FAIL) of every listed claim, or when the budget is
    spent; the report states the seeds used and why it stopped, so INCONCLUSIVE means "the
    budget was not enough".  Repeated looks at the data widen nothing here: the intervals are
    95 % intervals at each look, so a reader should treat a verdict reached after several
    looks with the corresponding (Bonferroni: ``looks`` x 5 %) error budget, reported.

    Sweep points are stored per seed, so added seeds are the only new work: ``key`` must only
    select *which* seeds run, never change what one seed computes.
    """

    key: str
    claims: tuple[str, ...]
    step: int
    max_seeds: int

    def validate(self, fig: "Figure") -> None:
        if self.key not in fig.config:
            raise ValueError(f"Figure {fig.name!r}: seed_plan.key {self.key!r} is not a config key")
        ids = {c.id for c in fig.claims}
        unknown = set(self.claims) - ids
        if unknown:
            raise ValueError(f"Figure {fig.name!r}: seed_plan names unknown claims {sorted(unknown)}")
        if self.step < 1 or self.max_seeds < int(fig.config[self.key]):
            raise ValueError(f"Figure {fig.name!r}: seed_plan needs step >= 1 and max_seeds >= "
                             f"the default {self.key}={fig.config[self.key]}")


@dataclasses.dataclass(frozen=True)
class Figure:
    """Declaration of one paper figure and the claims it checks.

    Parameters
    ----------
    name
        CLI name, e.g. ``"bn_margins"``; also the result directory.
    title
        One-line title for ``theorylab list`` and the report.
    paper
        The paper, e.g. ``"Cao, Zou, Li, Gu (2023), arXiv:2306.11680, Fig. 1"``.
    claims
        The claims ``check`` reports on (one :class:`ClaimResult` each, or more).
    config
        Built-in defaults (JSON-serialisable); ``make reproduce`` uses them.
    quick
        Overrides for ``--quick`` (a fast smoke run; verdicts may be INCONCLUSIVE).
    compute, check, plot
        See the module docstring.
    version
        Bump when the code changes what ``compute`` returns, to invalidate caches.
    expected_seconds
        Rough wall time of the default config on a 2-core CPU (shown by ``list``).
    bounds
        Admissible values of config keys for ``--set`` (see :mod:`figures.core.config`):
        ``{key: (lo, hi)}`` (inclusive, ``None`` = open) or ``{key: {allowed, values}}``.
        Keys without a bound keep the default's type and sign.
    seed_plan
        Optional :class:`SeedPlan`: add seeds while the named claims straddle their bands.
    validate
        Optional ``validate(config)`` raising ``ValueError`` for combinations the bounds
        cannot express (e.g. ``show_ipc`` must be one of ``budgets``); run before compute.
    """

    name: str
    title: str
    paper: str
    claims: tuple[Claim, ...]
    config: Mapping[str, Any]
    compute: Callable[[dict[str, Any], RunContext], Mapping[str, Any]]
    plot: Callable[[Mapping[str, np.ndarray], dict[str, Any]], Any]
    check: Callable[[Mapping[str, np.ndarray], dict[str, Any]], Sequence[ClaimResult]] | None = None
    quick: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    version: int = 1
    expected_seconds: float | None = None
    bounds: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    validate: Callable[[dict[str, Any]], None] | None = None
    seed_plan: "SeedPlan | None" = None

    def __post_init__(self) -> None:
        if self.check is None:
            undeclared = [c.id for c in self.claims if c.measure is None]
            if undeclared:
                raise ValueError(f"Figure {self.name!r}: without a `check`, every claim needs a "
                                 f"`measure`; missing for {undeclared}")
            object.__setattr__(self, "check", self._declared_check)
        if self.seed_plan is not None:
            self.seed_plan.validate(self)
        if not self.name.isidentifier():
            raise ValueError(f"Figure name must be an identifier, got {self.name!r}")
        unknown = set(self.quick) - set(self.config)
        if unknown:
            raise ValueError(f"Figure {self.name!r}: quick overrides unknown config keys {sorted(unknown)}")
        unknown = set(self.bounds) - set(self.config)
        if unknown:
            raise ValueError(f"Figure {self.name!r}: bounds name unknown config keys {sorted(unknown)}")
        ids = [c.id for c in self.claims]
        if len(set(ids)) != len(ids):
            raise ValueError(f"Figure {self.name!r}: duplicate claim ids {ids}")

    def _declared_check(self, data: Mapping[str, np.ndarray], config: dict[str, Any]) -> list[ClaimResult]:
        """The engine's check: every claim's ``measure`` against its band."""
        return [c.check(data, config) for c in self.claims]

    def resolve_config(self, *, quick: bool = False, seed: int = 0, **overrides: Any) -> dict[str, Any]:
        """Defaults, then quick overrides, then explicit overrides; ``seed`` included.

        Overrides are checked against the declared defaults and ``bounds``
        (:func:`figures.core.config.check_overrides`) and the ``validate`` hook; a bad
        one raises :class:`figures.core.config.ConfigError` (a ``ValueError``) naming it.
        """
        from figures.core.config import ConfigError, check_overrides

        if isinstance(seed, bool) or int(seed) != seed or seed < 0:
            raise ConfigError(f"{self.name}: --seed: expected a non-negative integer, got {seed!r}")
        cfg = dict(self.config)
        if quick:
            cfg.update(self.quick)
        check_overrides(self.name, cfg, overrides, self.bounds)
        cfg.update(overrides)
        if self.validate is not None:
            try:
                self.validate(dict(cfg))
            except ValueError as e:
                raise ConfigError(f"{self.name}: {e}") from None
        cfg["seed"] = int(seed)
        cfg["quick"] = bool(quick)
        return cfg

    @property
    def module(self) -> str:
        """Name of the module that defines this figure's ``compute``."""
        return self.compute.__module__

    def source_file(self) -> Path | None:
        """Source file of :attr:`module` (``None`` for a figure built interactively)."""
        import sys

        f = getattr(sys.modules.get(self.module), "__file__", None)
        return Path(f) if f else None

    def code_hashes(self) -> dict[str, str]:
        """``{module or data file: sha256}`` of all project code this figure can run."""
        from figures.core.codehash import module_hashes

        return module_hashes(self.module, file=self.source_file())

    def cache_key(self, cfg: Mapping[str, Any], code: Mapping[str, str]) -> str:
        """Cache key of a run: the config hash and the hash of the code (``code_hashes``)."""
        from figures.core.codehash import combine

        return hashlib.sha256((self.config_hash(cfg) + combine(code)).encode()).hexdigest()

    def config_hash(self, cfg: Mapping[str, Any]) -> str:
        """Hash of the resolved config and ``version``: the cache key."""
        blob = json.dumps({"name": self.name, "version": self.version, "config": cfg},
                          sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()
