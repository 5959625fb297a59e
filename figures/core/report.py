"""The claims report: every figure's claim checks in one Markdown and one JSON file."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from figures.core.atomic import CorruptFile, write_json, write_text
from figures.core.claims import ClaimResult, Verdict
from figures.core.controls import falsifiable
from figures.core.store import read_sidecar, verify_files


def _staleness(side: dict[str, Any]) -> list[str]:
    """Modules whose source differs now from the one the result was computed with."""
    from figures.core.codehash import changed_modules

    code, module = side.get("code"), side.get("module")
    if not isinstance(code, dict) or not module:
        return ["<no code hash recorded>"]
    src = side.get("source_file")
    return changed_modules(code, module, file=Path(src) if src and Path(src).exists() else None)


def collect(out: Path) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Read every figure sidecar under ``out`` (``out/<name>/<name>.json``).

    Returns ``(sides, rejected)``: the verified sidecars (each with ``stale``: the list of
    modules changed since, empty if the result is current) and, for every directory
    whose sidecar is corrupt or whose files do not match it, ``{"figure", "reason"}``.
    A bad directory never stops the report.
    """
    sides, rejected = [], []
    for d in sorted(p for p in Path(out).iterdir() if p.is_dir()) if Path(out).is_dir() else []:
        side_path = d / f"{d.name}.json"
        if not side_path.exists():
            if any((d / f"{d.name}.{e}").exists() for e in ("npz", "png", "pdf")):
                rejected.append({"figure": d.name,
                                 "reason": "result files without a sidecar (an interrupted run)"})
            continue
        try:
            side = read_sidecar(side_path)
        except CorruptFile as e:
            rejected.append({"figure": d.name, "reason": str(e)})
            continue
        if not side.get("error"):
            bad = verify_files(side, d)
            if bad:
                rejected.append({"figure": d.name, "reason": bad})
                continue
        try:
            [ClaimResult.from_dict(c) for c in side.get("claims", [])]
        except (KeyError, TypeError, ValueError) as e:
            rejected.append({"figure": d.name, "reason": f"{side_path}: unreadable claims ({e})"})
            continue
        side["stale"] = _staleness(side)
        sides.append(side)
    return sides, rejected


def _fmt(x: Any) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        if math.isnan(x):
            return "nan"
        return f"{x:.4g}"
    if isinstance(x, (list, tuple)):
        return "[" + ", ".join(_fmt(v) for v in x) + "]"
    if isinstance(x, dict):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in x.items())
    return str(x).replace("|", "\\|").replace("\n", " ")


def _band(r: ClaimResult) -> str:
    if r.band is None:
        return "—"
    lo, hi = r.band
    return f"[{_fmt(float(lo))}, {_fmt(float(hi))}]"


def _controls(r: ClaimResult) -> str:
    if r.controls is None:
        return "not run"
    txt = "; ".join(f"{c['name']}: {c['verdict']}{'' if c['ok'] else ' (expected ' + c['expect'] + ')'}"
                    for c in r.controls)
    return (txt + "; " if txt else "") + ("" if falsifiable(r.controls) else "**UNFALSIFIABLE**")


def _seeds(r: ClaimResult) -> str:
    parts = []
    if isinstance(r.uncertainty, dict) and "seeds" in r.uncertainty:
        parts.append(f"{r.uncertainty['seeds']} seeds")
    if r.sequential:
        q = r.sequential
        parts.append(f"sequential {q['start']}→{q['used']} (max {q['max']}, {q['looks']} looks): "
                     f"{q['stopped']}")
    return "; ".join(parts) or "—"


def render_markdown(sides: list[dict[str, Any]], rejected: list[dict[str, str]] = ()) -> str:
    counts = {v: 0 for v in Verdict}
    unf = []
    for s in sides:
        for c in s.get("claims", []):
            counts[Verdict(c["verdict"])] += 1
            if not falsifiable(c.get("controls")):
                unf.append(c["claim_id"])
    unfalsifiable = ", ".join(f"`{u}`" for u in unf) or "none"
    lines = ["# theorylab claims report", "",
             "Every claim a registered figure checks: the claimed form, the measured value with its "
             "uncertainty, the range the fit used, and the verdict.  Choices we made where the paper "
             "is silent are listed under each claim.", "",
             "Totals: " + ", ".join(f"{v.value} {n}" for v, n in counts.items()), "",
             "The band is the acceptance region of the claimed quantity (the claim text is rendered "
             "from it); the engine says PASS when the measured interval lies inside it, FAIL when "
             "outside, INCONCLUSIVE when it straddles an edge or is not finite.  Controls are "
             "synthetic inputs that violate (must FAIL) or match (must PASS) the claim, run through "
             "the claim's own check; a claim with no failing control is flagged UNFALSIFIABLE.", "",
             f"Unfalsifiable claims: {unfalsifiable}", ""]
    stale = [s["figure"] for s in sides if s.get("stale")]
    if stale:
        lines += [f"**Stale:** {', '.join(stale)} were computed from code that differs from the "
                  "working tree (listed under each); rerun them for current numbers.", ""]
    if rejected:
        lines += ["**Not trusted (left out of the totals):**", ""]
        lines += [f"- `{r['figure']}`: {_fmt(r['reason'])}" for r in rejected]
        lines.append("")
    for s in sides:
        prov = s.get("provenance", {})
        git = prov.get("git", {})
        lines += [f"## {s['figure']}: {s['title']}", "",
                  f"Paper: {s['paper']}  ",
                  f"Run: seed {s['seed']}, {'quick' if s.get('quick') else 'default'} config, "
                  f"{s['timing_seconds']['total']:.1f} s, commit {str(git.get('commit'))[:10]}"
                  f"{' (dirty)' if git.get('dirty') else ''}, x64={prov.get('jax', {}).get('x64')}", ""]
        if s.get("stale"):
            lines += [f"**STALE**: computed from code that has changed since: "
                      f"{', '.join(s['stale'])}.", ""]
        if s.get("error"):
            lines += [f"**An error was recorded** ({_fmt(str(s['error']).strip().splitlines()[-1])}); "
                      "see the sidecar.", ""]
        lines += ["| claim | claimed | band | measured | uncertainty | fit range | seeds | controls "
                  "| verdict |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for c in s.get("claims", []):
            r = ClaimResult.from_dict(c)
            flag = " (added after an earlier FAIL)" if r.added_after_fail else ""
            lines.append(f"| {_fmt(r.statement)}{flag} | {_fmt(r.claimed)} | {_band(r)} | "
                         f"{_fmt(r.measured)} | {_fmt(r.uncertainty)} | {_fmt(r.fit_range)} | "
                         f"{_fmt(_seeds(r))} | {_controls(r)} | **{r.verdict.value}** |")
        lines.append("")
        for c in s.get("claims", []):
            r = ClaimResult.from_dict(c)
            lines.append(f"- `{r.claim_id}` ({r.source}). {r.details}".rstrip())
            if r.added_after_fail:
                lines.append(f"  - Added after an earlier FAIL: {r.added_after_fail}")
            if r.choices:
                lines.append(f"  - Our choices: {r.choices}")
        lines.append("")
    return "\n".join(lines)


def write_report(out: Path) -> tuple[Path, Path]:
    """Write ``out/report.md`` and ``out/report.json``; return their paths."""
    out = Path(out)
    sides, rejected = collect(out)
    md, js = out / "report.md", out / "report.json"
    write_text(md, render_markdown(sides, rejected))
    write_json(js, {"figures": [{k: s.get(k) for k in ("figure", "title", "paper", "seed", "quick",
                                                        "config", "claims", "error", "stale",
                                                        "timing_seconds")}
                                | {"git": s.get("provenance", {}).get("git")} for s in sides],
                    "rejected": list(rejected)})
    return md, js
