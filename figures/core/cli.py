"""``theorylab`` (also ``python -m figures``): list, run, report, check, info.

float64 is switched on here, at the entry point, never on library import.

Exit status: 0 when the command ran (whatever the verdicts); 1 with ``--strict`` when a
claim FAILs (``run``: or a figure recorded an error; ``check``: also INCONCLUSIVE);
2 for a usage error (bad argument, ``--set`` value, ``--out``, file), always with one
line naming the problem and before anything is computed; 130 after Ctrl-C, with one
line saying what was kept.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence


class UsageError(Exception):
    """A command-line misuse: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, status 2 (argparse prints usage too)
        raise UsageError(f"{self.prog}: {message}")


def _enable_x64() -> None:
    import jax

    jax.config.update("jax_enable_x64", True)


def _figures(specs: Sequence[str], *, every: bool) -> list:
    from figures.core.registry import RegistryError, all_figures, is_file_spec, select

    try:
        if every:
            files = [s for s in specs if is_file_spec(s)]
            return list(all_figures(files).values())
        return select(list(specs))
    except KeyError as e:
        raise UsageError(e.args[0]) from None
    except RegistryError as e:
        raise UsageError(str(e)) from None


def _cmd_list(args: argparse.Namespace) -> int:
    for fig in _figures(args.files, every=True):
        secs = f" (~{fig.expected_seconds:.0f} s on 2 CPU cores)" if fig.expected_seconds else ""
        print(f"{fig.name}: {fig.title}{secs}\n    {fig.paper}")
        for c in fig.claims:
            print(f"    - {c.id}: {c.statement}  [claimed: {c.text}]")
            if args.controls:
                _print_controls(fig, c)
    return 0


def _print_controls(fig, claim) -> None:
    from figures.core.controls import falsifiable, run_controls

    cfg = fig.resolve_config()
    res = run_controls(claim, cfg, figure_check=fig.check)
    for r in res:
        mark = "ok" if r["ok"] else "WRONG"
        print(f"        control {r['name']!r}: expect {r['expect']}, got {r['verdict']} ({mark})")
    if not falsifiable(res):
        print("        UNFALSIFIABLE: no negative control of this claim FAILs")


def _parse_set(items: Sequence[str]) -> dict:
    out = {}
    for item in items:
        if "=" not in item:
            raise UsageError(f"--set expects KEY=VALUE (VALUE as JSON), got {item!r}")
        k, v = item.split("=", 1)
        if not k:
            raise UsageError(f"--set expects KEY=VALUE, got an empty KEY in {item!r}")
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


def _check_out(out: Path) -> None:
    """``--out`` must be (or become) a writable directory; checked before any compute."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-probe."):
            pass
    except OSError as e:
        raise UsageError(f"--out {out}: not a writable directory ({e.strerror or e})") from None


def _executor(jobs: int, scheduler: str | None, stack: contextlib.ExitStack):
    """Where sweeps run: inline (``None``), or a :class:`LazyExecutor` started on first use.

    Every argument is checked here, before anything starts; the pool or the Dask
    cluster starts only when a point must actually be computed.
    """
    from figures.core.sweep import LazyExecutor, local_executor

    if jobs < 0:
        raise UsageError(f"--jobs must be >= 0, got {jobs}")
    if scheduler is not None:
        if jobs > 1:
            raise UsageError("--jobs and --scheduler are exclusive: the Dask workers are the "
                             "sweep's processes (use local:N for N local workers)")
        from figures.core.distributed import _require_dask, dask_client, parse_scheduler

        try:
            parse_scheduler(scheduler)
            _require_dask("--scheduler")
        except (ValueError, ImportError) as e:
            raise UsageError(f"--scheduler: {e}") from None
        inner = contextlib.ExitStack()

        def start():
            try:
                client = inner.enter_context(dask_client(scheduler))
            except OSError as e:  # no scheduler at ADDRESS
                raise RuntimeError(f"--scheduler {scheduler}: {e}") from None
            return client.get_executor(pure=False)

        lazy = LazyExecutor(start, on_close=inner.close)
    elif jobs <= 1:
        return None
    else:
        lazy = LazyExecutor(lambda: local_executor(jobs))
    stack.callback(lazy.close)
    return lazy


def _cmd_run(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from figures.core.claims import Verdict
    from figures.core.config import ConfigError
    from figures.core.runner import run_figure

    if not args.names and not args.all:
        raise UsageError("run: name at least one figure or .py file (see `theorylab list`) "
                         "or pass --all")
    figs = _figures(args.names, every=args.all)
    overrides = _parse_set(args.set)
    if overrides and len(figs) != 1:
        raise UsageError("--set applies to exactly one figure")
    try:
        for fig in figs:
            fig.resolve_config(quick=args.quick, seed=args.seed, **overrides)
    except ConfigError as e:
        raise UsageError(str(e)) from None
    out = Path(args.out)
    _check_out(out)
    status, done, timings = 0, [], []
    t_all = time.perf_counter()
    with contextlib.ExitStack() as stack:
        ex = _executor(args.jobs, args.scheduler, stack)
        try:
            for fig in tqdm(figs, desc="figures", disable=args.no_progress or len(figs) == 1):
                rec = run_figure(fig, out=out, seed=args.seed, quick=args.quick,
                                 force=args.force, executor=ex, progress=not args.no_progress,
                                 overrides=overrides)
                done.append(fig.name)
                timings.append((fig.name, rec.seconds, rec.cached))
                tag = "cached" if rec.cached else f"{rec.seconds:.1f} s"
                verdicts = ", ".join(f"{c.claim_id}={c.verdict.value}" for c in rec.claims)
                print(f"{fig.name} [{tag}] -> {rec.directory}\n    {verdicts}", flush=True)
                if rec.error:
                    print(f"theorylab: {fig.name} recorded an error (claims INCONCLUSIVE): "
                          f"{rec.error.strip().splitlines()[-1]}", file=sys.stderr)
                if args.strict and (rec.error or any(c.verdict == Verdict.FAIL
                                                     for c in rec.claims)):
                    status = 1
        except KeyboardInterrupt:
            kept = ", ".join(done) or "none"
            print(f"\ntheorylab: interrupted; finished figures kept: {kept}; finished sweep "
                  f"points are kept under {out}/<figure>/work and resume on the next run",
                  file=sys.stderr)
            return 130
    if len(timings) > 1:
        print("time per figure (s): " + ", ".join(
            f"{n} {'cached' if c else f'{s:.1f}'}" for n, s, c in timings)
            + f"; total {time.perf_counter() - t_all:.1f} s")
    return status


def _cmd_report(args: argparse.Namespace) -> int:
    from figures.core.report import write_report

    out = Path(args.out)
    if not out.is_dir():
        raise UsageError(f"report: no results directory {out}; run `theorylab run --all` first")
    md, js = write_report(out)
    print(f"wrote {md} and {js}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from figures.core.provenance import provenance

    p = provenance()
    print(f"python {p['python']} on {p['platform']}")
    for k, v in p["packages"].items():
        print(f"  {k:14s} {v or '-'}")
    j = p["jax"]
    print(f"jax backend: {j.get('backend')}, devices: {', '.join(j.get('devices', []))}, x64: {j.get('x64')}")
    print(f"git: {p['git']['commit']}{' (dirty)' if p['git']['dirty'] else ''}")
    print(f"cpu cores: {os.cpu_count()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="theorylab", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    ls = sub.add_parser("list", help="figures and the claims each checks")
    ls.add_argument("files", nargs="*", metavar="FILE.py",
                    help="also list the figures of these files")
    ls.add_argument("--controls", action="store_true",
                    help="run each claim's negative/positive controls and show their verdicts")
    ls.set_defaults(fn=_cmd_list, needs_x64=False)
    r = sub.add_parser("run", help="regenerate figures and check their claims")
    r.add_argument("names", nargs="*", help="figure names, shell patterns (bn_*) or .py files")
    r.add_argument("--all", action="store_true", help="every registered figure")
    r.add_argument("--quick", action="store_true", help="small smoke-test configs")
    r.add_argument("--seed", type=int, default=0, help="base seed, >= 0 (default 0)")
    r.add_argument("--out", default="results", help="results directory (default results/)")
    r.add_argument("--force", action="store_true",
                   help="recompute even if cached, sweep points included")
    r.add_argument("--strict", action="store_true",
                   help="exit 1 if a claim FAILs or a figure records an error")
    r.add_argument("--jobs", type=int, default=1,
                   help="sweep worker processes; <=1 runs sweeps inline (default 1)")
    r.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run sweeps on a Dask cluster: a scheduler address (tcp://host:8786) "
                        "or local:N to start a LocalCluster of N workers; needs the "
                        "'distributed' extra")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config entry (JSON value) of a single figure")
    r.add_argument("--no-progress", action="store_true", help="no progress bars")
    r.set_defaults(fn=_cmd_run)
    rp = sub.add_parser("report", help="write results/report.md and report.json")
    rp.add_argument("--out", default="results")
    rp.set_defaults(fn=_cmd_report, needs_x64=False)
    sub.add_parser("info", help="versions, JAX devices, x64").set_defaults(fn=_cmd_info)
    try:
        from figures.core.check_cmd import add_parser as add_check
    except ImportError:  # pragma: no cover
        pass
    else:
        add_check(sub)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if getattr(args, "needs_x64", True) or getattr(args, "controls", False):
            _enable_x64()
        return int(args.fn(args))
    except UsageError as e:
        print(f"theorylab: error: {e}" if not str(e).startswith("theorylab") else str(e),
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ntheorylab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
