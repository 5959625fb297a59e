"""Run one figure: compute (or reuse a verified cached result), check claims, plot, write.

The files and their guarantees are described in :mod:`figures.core.store`.  The cache
key is the resolved config *and* the hash of every project module the figure can run
(:mod:`figures.core.codehash`), so a result computed by other code is a miss.  A
figure whose ``compute``, ``check`` or ``plot`` raises is reported, not a crash:
its claims become INCONCLUSIVE with the reason, the sidecar records the error, and
such a result is never served from the cache.
"""
from __future__ import annotations

import dataclasses
import sys
import time
import traceback
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from figures.core.atomic import (CorruptFile, atomic_path, clean_temporaries, read_npz, write_json,
                                 write_npz)
from figures.core.claims import ClaimResult, Verdict, straddles
from figures.core.controls import run_controls
from figures.core.figure import Figure, RunContext
from figures.core.lock import directory_lock
from figures.core.provenance import provenance
from figures.core.store import file_entries, paths, read_sidecar, verify_files

__all__ = ["RunRecord", "run_figure", "paths"]


@dataclasses.dataclass
class RunRecord:
    figure: Figure
    config: dict[str, Any]
    claims: list[ClaimResult]
    cached: bool
    seconds: float
    directory: Path
    error: str | None = None
    warnings: list[str] = dataclasses.field(default_factory=list)


def _last_line(tb: str) -> str:
    lines = tb.strip().splitlines()
    return lines[-1] if lines else tb


def _inconclusive(fig: Figure, why: str) -> list[ClaimResult]:
    return [c.result(verdict=Verdict.INCONCLUSIVE, measured=None, details=why) for c in fig.claims]


def _check(fig: Figure, data: dict, cfg: dict) -> tuple[list[ClaimResult], str | None]:
    try:
        results = list(fig.check(data, cfg))
        declared = {c.id for c in fig.claims}
        for r in results:
            if r.claim_id not in declared:
                raise ValueError(f"figure {fig.name!r} reported undeclared claim {r.claim_id!r}")
    except Exception:  # a broken check is reported with the claims it could not decide
        tb = traceback.format_exc()
        return _inconclusive(fig, f"check raised: {_last_line(tb)}"), tb
    return results, None


def with_controls(fig: Figure, claims: list[ClaimResult], cfg: dict) -> list[ClaimResult]:
    """Attach to each result the verdicts of its claim's controls (see ``figures.core.controls``)."""
    by_id = {c.id: c for c in fig.claims}
    out = []
    for r in claims:
        claim = by_id.get(r.claim_id)
        ctl = run_controls(claim, cfg, figure_check=fig.check) if claim is not None else []
        out.append(dataclasses.replace(r, controls=ctl))
    return out


def _compute_and_check(fig: Figure, cfg: dict, ctx: RunContext, p: dict[str, Path]):
    """compute → save → check, adding seeds per ``fig.seed_plan`` while a claim straddles."""
    plan = fig.seed_plan
    start = cfg[plan.key] if plan else None
    looks = 0
    while True:
        looks += 1
        data = dict(fig.compute(dict(cfg), ctx))
        write_npz(p["npz"], data)
        data = read_npz(p["npz"])  # check and plot see exactly what was saved
        claims, error = _check(fig, data, cfg)
        if plan is None or error is not None:
            return data, claims, error, None
        open_ = [r.claim_id for r in claims if r.claim_id in plan.claims and straddles(r)]
        if not open_ or cfg[plan.key] >= plan.max_seeds:
            break
        cfg[plan.key] = min(cfg[plan.key] + plan.step, plan.max_seeds)
    seq = {"key": plan.key, "start": start, "used": cfg[plan.key], "max": plan.max_seeds,
           "step": plan.step, "looks": looks,
           "stopped": ("budget spent with " + ", ".join(open_) + " still straddling") if open_
           else "every planned claim decisive",
           "rule": f"add {plan.step} seeds while a planned claim's interval straddles its band, "
                   f"up to {plan.max_seeds}"}
    claims = [dataclasses.replace(r, sequential=seq) if r.claim_id in plan.claims else r
              for r in claims]
    return data, claims, None, seq


def _plot(fig: Figure, data: dict, cfg: dict, p: dict[str, Path]) -> str | None:
    """Draw and save PNG + PDF; the traceback if plotting failed (old pictures removed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    try:
        mpl_fig = fig.plot(data, cfg)
        try:
            for ext in ("png", "pdf"):
                with atomic_path(p[ext]) as tmp:
                    mpl_fig.savefig(tmp, format=ext, dpi=150 if ext == "png" else None,
                                    bbox_inches="tight", metadata=None)
        finally:
            plt.close(mpl_fig)
    except Exception:
        for ext in ("png", "pdf"):
            p[ext].unlink(missing_ok=True)
        return traceback.format_exc()
    return None


def cached_result(fig: Figure, p: dict[str, Path], key: str) -> tuple[list[ClaimResult] | None, str | None]:
    """The claims of a verified cached run with cache key ``key``, else ``(None, why)``.

    ``why`` is ``None`` for an ordinary miss (nothing there, other config or code) and a
    one-line reason when files exist that do not match their sidecar.
    """
    if not p["json"].exists():
        leftovers = [p[e].name for e in ("npz", "png", "pdf") if p[e].exists()]
        return None, (f"{p['json'].parent}: {', '.join(leftovers)} without a sidecar "
                      "(an interrupted run); recomputing") if leftovers else None
    try:
        side = read_sidecar(p["json"])
    except CorruptFile as e:
        return None, f"{e}; recomputing"
    if side.get("cache_key") != key or side.get("error"):
        return None, None
    bad = verify_files(side, p["json"].parent)
    if bad:
        return None, f"{bad}; recomputing"
    try:
        return [ClaimResult.from_dict(c) for c in side.get("claims", [])], None
    except (KeyError, TypeError, ValueError) as e:
        return None, f"{p['json']}: unreadable claims ({e}); recomputing"


def run_figure(
    fig: Figure,
    *,
    out: Path,
    seed: int = 0,
    quick: bool = False,
    force: bool = False,
    executor: Executor | None = None,
    progress: bool = True,
    overrides: dict[str, Any] | None = None,
) -> RunRecord:
    """Run ``fig`` and write its files under ``out/<name>/``; reuse a verified cached run
    with the same config and code unless ``force`` (which also recomputes sweep points).

    Concurrent calls for the same figure and ``out`` (other processes included) wait
    for each other through a file lock; the second then finds the first's result.
    """
    t0 = time.perf_counter()
    cfg = fig.resolve_config(quick=quick, seed=seed, **(overrides or {}))
    code = fig.code_hashes()
    key = fig.cache_key(cfg, code)
    p = paths(out, fig.name)
    directory = p["json"].parent
    warnings: list[str] = []
    with directory_lock(directory, quiet=not progress):
        clean_temporaries(directory)
        if not force:
            claims, why = cached_result(fig, p, key)
            if why:
                print(f"theorylab: {why}", file=sys.stderr)
                warnings.append(why)
            if claims is not None:
                return RunRecord(fig, cfg, claims, True, time.perf_counter() - t0, directory)
        p["json"].unlink(missing_ok=True)  # never pair an old sidecar with new data

        # with a seed plan, sweep points are stored under the key of the config without the
        # seed count, so a look with more seeds reuses the seeds already computed
        store_key = key if fig.seed_plan is None else fig.cache_key(
            {k: v for k, v in cfg.items() if k != fig.seed_plan.key}, code)
        ctx = RunContext(seed=seed, executor=executor, workdir=directory / "work",
                         progress=progress, config_hash=fig.config_hash(cfg), cache_key=store_key,
                         force=force)
        t_compute = time.perf_counter()
        error = plot_error = None
        cfg = dict(cfg)
        try:
            data, claims, check_error, _ = _compute_and_check(fig, cfg, ctx, p)
        except Exception:
            error = traceback.format_exc()
            claims = _inconclusive(fig, f"compute raised: {_last_line(error)}")
            for ext in ("npz", "png", "pdf"):
                p[ext].unlink(missing_ok=True)
        t_compute = time.perf_counter() - t_compute
        if error is None:
            error = check_error
            claims = with_controls(fig, claims, cfg)
            plot_error = _plot(fig, data, cfg, p)
        seconds = time.perf_counter() - t0
        src = fig.source_file()
        write_json(p["json"], {
            "figure": fig.name,
            "title": fig.title,
            "paper": fig.paper,
            "version": fig.version,
            "module": fig.module,
            "source_file": str(src) if src else None,
            "config": cfg,
            "config_hash": fig.config_hash(cfg),
            "code": code,
            "cache_key": key,
            "seed": seed,
            "quick": quick,
            "claims": [c.to_dict() for c in claims],
            "error": error or plot_error,
            "plot_error": plot_error,
            "timing_seconds": {"compute": t_compute, "total": seconds},
            "files": file_entries(p),
            "provenance": provenance(),
        })
    return RunRecord(fig, cfg, claims, False, seconds, directory, error or plot_error, warnings)
