"""``theorylab check FILE``: a verdict on a claimed rate from your own numbers, no code.

::

    theorylab check runs.csv --x t --y err --seed-col seed --law power --accept 0.45 0.55

FILE is CSV (header row), ``.npz`` (one array per column) or ``.json`` (``{"col": [...]}``
or a list of row objects).  With ``--seed-col`` the rows are grouped by seed (every seed
needs the same x values) and the CI bootstraps over seeds.  Exit status: 0 whatever the
verdict, unless ``--strict`` (1 on FAIL or INCONCLUSIVE); 2 for bad input, with one line.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path

import numpy as np


def _fail(msg: str):
    from figures.core.cli import UsageError

    raise UsageError(f"check: {msg}")


def read_columns(path: Path) -> dict[str, np.ndarray]:
    """Columns of a CSV / npz / JSON file as float arrays (by name)."""
    if not path.is_file():
        _fail(f"no file {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                cols = {k: np.asarray(z[k]).ravel() for k in z.files}
        elif suffix == ".json":
            obj = json.loads(path.read_text())
            if isinstance(obj, list):
                if not obj or not all(isinstance(r, dict) for r in obj):
                    _fail(f"{path}: a JSON list must hold row objects")
                cols = {k: np.array([r.get(k, math.nan) for r in obj]) for k in obj[0]}
            elif isinstance(obj, dict):
                cols = {k: np.asarray(v).ravel() for k, v in obj.items()}
            else:
                _fail(f"{path}: JSON must be an object of columns or a list of rows")
        else:
            with path.open(newline="") as fh:
                rows = list(csv.reader(fh))
            if len(rows) < 2:
                _fail(f"{path}: needs a header row and data rows")
            header = [h.strip() for h in rows[0]]
            body = [r for r in rows[1:] if any(c.strip() for c in r)]
            for i, r in enumerate(body, start=2):
                if len(r) != len(header):
                    _fail(f"{path}: line {i} has {len(r)} fields, the header has {len(header)}")
            cols = {h: np.array([r[j].strip() for r in body]) for j, h in enumerate(header)}
    except (OSError, ValueError, json.JSONDecodeError) as e:
        if type(e).__name__ == "UsageError":
            raise
        _fail(f"{path}: cannot read ({e})")
    return cols


def _numeric(cols, name, path):
    if name not in cols:
        _fail(f"column {name!r} not in {path.name}; columns: {', '.join(cols)}")
    try:
        return np.asarray(cols[name], dtype=np.float64)
    except ValueError:
        _fail(f"column {name!r} is not numeric")


def _cmd_check(args: argparse.Namespace) -> int:
    from figures.core.ratecheck import RateInputError, check_rate

    path = Path(args.file)
    cols = read_columns(path)
    x = _numeric(cols, args.x, path)
    y = _numeric(cols, args.y, path)
    seeds_axis = None
    if args.seed_col:
        s = _numeric(cols, args.seed_col, path)
        seeds = np.unique(s)
        xs = [np.sort(x[s == k]) for k in seeds]
        if any(v.shape != xs[0].shape or np.any(v != xs[0]) for v in xs):
            _fail(f"--seed-col {args.seed_col}: every seed needs the same {args.x} values")
        order = [np.argsort(x[s == k]) for k in seeds]
        y = np.stack([y[s == k][o] for k, o in zip(seeds, order)])
        x = xs[0]
        seeds_axis = 0
    else:
        o = np.argsort(x)
        x, y = x[o], y[o]
    try:
        r = check_rate(x, y, law=args.law, accept=tuple(args.accept) if args.accept else None,
                       t_range=tuple(args.range) if args.range else None, floor=args.floor,
                       compare=[c for c in (args.compare or "").split(",") if c],
                       seeds_axis=seeds_axis)
    except RateInputError as e:
        _fail(str(e))
    if args.json:
        print(json.dumps(r.to_dict(), default=float))
    else:
        band = f"[{r.accept[0]:g}, {r.accept[1]:g}]" if r.accept else "(none)"
        print(f"law {r.law}: {r.formula}")
        print(f"rate {r.rate:.6g}, {r.ci_level:.0%} CI [{r.ci[0]:.6g}, {r.ci[1]:.6g}] "
              f"(bootstrap over {r.bootstrap})")
        print(f"fit range {args.x} in [{r.t_range[0]:g}, {r.t_range[1]:g}] ({r.n_points} points)")
        if r.rivals:
            print("rival laws (rms of log residuals, ratio to best): " + "; ".join(
                f"{n} {rms:.3g} (x{q:.2f})" for n, rms, q in r.rivals))
        if r.asymptotic is not None:
            print(f"local rates across the range: {r.local_rates[0]:.4g} -> "
                  f"{r.local_rates[-1]:.4g} ({'stable' if r.asymptotic else 'DRIFTING: pre-asymptotic'})")
        print(f"verdict {r.verdict} against {band}: {r.reason}")
    return 1 if args.strict and r.verdict != "PASS" else 0


def add_parser(sub) -> None:
    from figures.core.ratecheck import LAW_NAMES

    c = sub.add_parser("check", help="verdict on a claimed rate from a CSV/npz/JSON file")
    c.add_argument("file", help="CSV (header row), .npz or .json")
    c.add_argument("--x", required=True, help="column of the abscissa (t, n, h, ...)")
    c.add_argument("--y", required=True, help="column of the positive error")
    c.add_argument("--seed-col", default=None, help="column grouping rows by seed")
    c.add_argument("--law", required=True, choices=LAW_NAMES, metavar="LAW",
                   help=f"one of {', '.join(LAW_NAMES)}")
    c.add_argument("--accept", nargs=2, type=float, metavar=("LO", "HI"),
                   help="accepted band for the rate")
    c.add_argument("--range", nargs=2, type=float, metavar=("LO", "HI"),
                   help="fit only x in [LO, HI]")
    c.add_argument("--floor", type=float, default=None,
                   help="drop points from the first y <= FLOOR on (float64 floor)")
    c.add_argument("--compare", default="", metavar="LAW,LAW",
                   help="rival laws to rank on the same points")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    c.add_argument("--strict", action="store_true", help="exit 1 unless PASS")
    c.set_defaults(fn=_cmd_check, needs_x64=False)
