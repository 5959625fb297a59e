"""The result store never serves stale, foreign or corrupt data; bad CLI input is one line, exit 2.

Issue #13.  Every test here fails on the store as it was (cache keyed by the config
alone, unverified hits, tracebacks on bad input).
"""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from figures.core import codehash
from figures.core.cli import main
from figures.core.report import write_report
from figures.core.runner import run_figure

ROOT = Path(__file__).resolve().parents[1]

# A user's figure file: a 4-point sweep whose points append to a counter file, so a test
# can tell what was computed; SLEEP slows each point down for the kill/concurrency drills.
FIG_SRC = '''
import os, time
import numpy as np
from figures.core import Claim, Figure

CLAIM = Claim(id="{name}.mean", statement="mean of y is 2", claimed="2", source="test")
COUNTER = os.environ.get("TL_COUNTER")
SLEEP = float(os.environ.get("TL_SLEEP", "0"))
VERSION = {version}


def _point(p):
    time.sleep(SLEEP)
    if COUNTER:
        with open(COUNTER, "a") as fh:
            fh.write(f"{{p['i']}}\\n")
    return {{"y": np.array(2.0 * (p["seed"] + 1) * VERSION)}}


def compute(cfg, ctx):
    pts = [{{"i": i, "seed": cfg["seed"]}} for i in range(cfg["n"])]
    out = ctx.sweep(_point, pts)
    return {{"y": np.array([float(o["y"]) for o in out])}}


def check(data, cfg):
    m = float(np.mean(data["y"]))
    return [CLAIM.result(verdict="PASS" if abs(m - 2) < 1e-12 else "FAIL", measured=m)]


def plot(data, cfg):
    import matplotlib.pyplot as plt
    if os.environ.get("TL_PLOT_FAILS"):
        raise RuntimeError("plot is broken")
    fig, ax = plt.subplots()
    ax.plot(data["y"])
    return fig


FIGURE = Figure(name="{name}", title="t", paper="none", claims=(CLAIM,), config={{"n": 4}},
                compute=compute, check=check, plot=plot)
'''


def write_fig(tmp_path: Path, name: str = "userfig", version: int = 1) -> Path:
    f = tmp_path / f"{name}.py"
    f.write_text(FIG_SRC.format(name=name, version=version))
    return f


def _load(path: Path):
    from figures.core.registry import load_file

    return load_file(path)[0]


def counted(counter: Path) -> list[int]:
    return sorted(int(x) for x in counter.read_text().split()) if counter.exists() else []


@pytest.fixture
def env(tmp_path, monkeypatch):
    counter = tmp_path / "counter.txt"
    monkeypatch.setenv("TL_COUNTER", str(counter))
    return counter


def _fresh(tmp_path, name):
    """A figure module imported from its own file (unique name so tests do not share it)."""
    sys.modules.pop(name, None)
    return _load(write_fig(tmp_path, name))


def test_force_recomputes_sweep_points(tmp_path, env):
    fig = _fresh(tmp_path, "fig_force")
    run_figure(fig, out=tmp_path / "out", progress=False)
    assert counted(env) == [0, 1, 2, 3]
    rec = run_figure(fig, out=tmp_path / "out", progress=False)
    assert rec.cached and counted(env) == [0, 1, 2, 3]
    run_figure(fig, out=tmp_path / "out", progress=False, force=True)
    assert counted(env) == [0, 0, 1, 1, 2, 2, 3, 3]  # every point again, not only the figure


def test_code_change_is_a_cache_miss_and_the_report_says_stale(tmp_path, env):
    f = write_fig(tmp_path, "fig_code")
    sys.modules.pop("fig_code", None)
    fig = _load(f)
    out = tmp_path / "out"
    run_figure(fig, out=out, progress=False)
    f.write_text(FIG_SRC.format(name="fig_code", version=2))  # edited simulator
    md, js = write_report(out)
    rep = json.loads(js.read_text())
    assert rep["figures"][0]["stale"] == ["fig_code"] and "STALE" in md.read_text()
    sys.modules.pop("fig_code", None)
    fig2 = _load(f)
    rec = run_figure(fig2, out=out, progress=False)
    assert not rec.cached and rec.claims[0].measured == 4.0  # the new code's number
    assert counted(env) == [0, 0, 1, 1, 2, 2, 3, 3]          # points recomputed too
    assert json.loads(write_report(out)[1].read_text())["figures"][0]["stale"] == []


def test_cache_key_covers_the_simulators_a_figure_imports(monkeypatch):
    from figures.core.registry import builtin_figures

    fig = builtin_figures()["bn_rate"]
    mods = codehash.module_closure("figures.bn_rate")
    assert {"sims.bn", "theory.bn", "figures.core.rates"} <= set(mods)
    assert "figures.core.cli" not in mods and "figures.core.report" not in mods
    cfg = fig.resolve_config()
    key = fig.cache_key(cfg, fig.code_hashes())
    real = codehash.file_digest
    monkeypatch.setattr(codehash, "file_digest",
                        lambda p: "edited" if Path(p).name == "bn.py" and "sims" in str(p)
                        else real(p))
    assert fig.cache_key(cfg, fig.code_hashes()) != key


def test_kill_between_npz_and_sidecar_never_serves_foreign_data(tmp_path, env, monkeypatch):
    import figures.core.runner as runner

    fig = _fresh(tmp_path, "fig_kill")
    out = tmp_path / "out"
    run_figure(fig, out=out, progress=False, seed=0)
    real = runner.write_json

    def killed(path, obj):
        if Path(path).suffix == ".json":
            raise KeyboardInterrupt  # the seed-1 run dies after its npz, before its sidecar
        real(path, obj)

    monkeypatch.setattr(runner, "write_json", killed)
    with pytest.raises(KeyboardInterrupt):
        run_figure(fig, out=out, progress=False, seed=1)
    monkeypatch.setattr(runner, "write_json", real)
    rec = run_figure(fig, out=out, progress=False, seed=0)
    assert not rec.cached                         # the seed-1 npz is not seed 0's result
    assert rec.claims[0].measured == 2.0          # seed-0 claims over seed-0 data
    data = np.load(out / "fig_kill" / "fig_kill.npz")["y"]
    np.testing.assert_array_equal(data, [2.0] * 4)


@pytest.mark.parametrize("victim", ["npz", "png", "json"])
def test_truncated_result_files_are_misses_not_crashes(tmp_path, env, victim, capsys):
    fig = _fresh(tmp_path, f"fig_trunc_{victim}")
    out = tmp_path / "out"
    run_figure(fig, out=out, progress=False)
    f = out / fig.name / f"{fig.name}.{victim}"
    f.write_bytes(f.read_bytes()[: max(1, f.stat().st_size // 2)])
    md, js = write_report(out)                    # the report names it and goes on
    rep = json.loads(js.read_text())
    assert rep["figures"] == [] and rep["rejected"][0]["figure"] == fig.name
    assert fig.name in md.read_text()
    rec = run_figure(fig, out=out, progress=False)
    assert not rec.cached and rec.claims[0].verdict.value == "PASS"
    assert "recomputing" in capsys.readouterr().err
    assert json.loads(write_report(out)[1].read_text())["rejected"] == []


def test_corrupt_sweep_point_is_recomputed_even_with_force(tmp_path, env, capsys):
    fig = _fresh(tmp_path, "fig_point")
    out = tmp_path / "out"
    run_figure(fig, out=out, progress=False)
    pts = sorted((out / fig.name / "work").rglob("*.npz"))
    assert len(pts) == 4
    pts[0].write_bytes(pts[0].read_bytes()[:10])
    (out / fig.name / f"{fig.name}.json").unlink()         # force a figure-level miss
    rec = run_figure(fig, out=out, progress=False)
    assert rec.claims[0].verdict.value == "PASS"
    assert len(counted(env)) == 5                          # exactly the corrupt point again
    assert "corrupt sweep point" in capsys.readouterr().err
    pts[1].write_bytes(b"garbage")
    run_figure(fig, out=out, progress=False, force=True)   # --force crashed with BadZipFile


def test_plot_error_is_reported_and_claims_are_still_written(tmp_path, env, monkeypatch):
    monkeypatch.setenv("TL_PLOT_FAILS", "1")
    fig = _fresh(tmp_path, "fig_plot")
    out = tmp_path / "out"
    rec = run_figure(fig, out=out, progress=False)
    assert rec.error and "plot is broken" in rec.error
    side = json.loads((out / fig.name / f"{fig.name}.json").read_text())
    assert side["claims"][0]["verdict"] == "PASS" and "plot is broken" in side["plot_error"]
    monkeypatch.delenv("TL_PLOT_FAILS")
    assert not run_figure(fig, out=out, progress=False).cached  # an error result is never a hit


def test_compute_error_is_a_recorded_outcome(tmp_path):
    from figures.core import Claim, Figure

    c = Claim(id="boom.c", statement="s", claimed="c", source="t")

    def compute(cfg, ctx):
        raise FloatingPointError("diverged")

    fig = Figure(name="boom", title="t", paper="p", claims=(c,), config={}, compute=compute,
                 check=lambda d, cfg: [], plot=lambda d, cfg: None)
    rec = run_figure(fig, out=tmp_path, progress=False)
    assert rec.claims[0].verdict.value == "INCONCLUSIVE" and "diverged" in rec.claims[0].details
    assert "diverged" in json.loads((tmp_path / "boom" / "boom.json").read_text())["error"]


def test_files_respect_the_umask_and_temporaries_are_cleaned(tmp_path, env):
    fig = _fresh(tmp_path, "fig_mode")
    out = tmp_path / "out"
    old = os.umask(0o022)
    try:
        stray = out / fig.name / ".fig_mode.abc123.npz.tmp.npz"
        stray.parent.mkdir(parents=True)
        stray.write_bytes(b"left by a kill")
        run_figure(fig, out=out, progress=False)
    finally:
        os.umask(old)
    assert not stray.exists()
    for ext in ("png", "pdf", "npz", "json"):
        mode = stat.S_IMODE((out / fig.name / f"{fig.name}.{ext}").stat().st_mode)
        assert mode == 0o644, (ext, oct(mode))


def test_lazy_executor_never_starts_when_everything_is_cached(tmp_path, env):
    from figures.core.sweep import LazyExecutor

    fig = _fresh(tmp_path, "fig_lazy")
    out = tmp_path / "out"
    run_figure(fig, out=out, progress=False)

    def refuse():
        raise AssertionError("the executor was started although nothing had to be computed")

    lazy = LazyExecutor(refuse)
    assert run_figure(fig, out=out, progress=False, executor=lazy).cached
    (out / fig.name / f"{fig.name}.json").unlink()  # figure miss, points all stored
    assert not run_figure(fig, out=out, progress=False, executor=lazy).cached
    assert not lazy.started


def test_registry_imports_no_jax():
    code = ("import sys, figures.core.registry as r; figs = r.all_figures(); "
            "assert len(figs) >= 14, len(figs); "
            "heavy = [m for m in ('jax', 'sims', 'cvxpy', 'scipy.stats') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# ---------------------------------------------------------------- the command line

BAD_INPUTS = [
    (["run", "bn_rate", "--set", "n_seeds=2.5"], "n_seeds"),
    (["run", "bn_rate", "--set", "n_seeds=-1"], "n_seeds"),
    (["run", "bn_rate", "--set", "n_seeds=true"], "n_seeds"),
    (["run", "rerm_airbnb", "--set", 'n_splits="two"'], "n_splits"),
    (["run", "bn_rate", "--set", "nope=1"], "unknown config keys"),
    (["run", "bn_rate", "--set", "n_seeds"], "KEY=VALUE"),
    (["run", "kip_digits", "--set", "show_ipc=7"], "show_ipc"),
    (["run", "nk_sketch_speed", "--set", 'method="bogus"'], "method"),
    (["run", "pf_dim", "--set", 'samplers=["nope"]'], "samplers"),
    (["run", "bn_rate", "--jobs", "-1"], "--jobs"),
    (["run", "bn_rate", "--jobs", "two"], "--jobs"),
    (["run", "bn_rate", "--seed", "-3"], "--seed"),
    (["run", "bn_rate", "--scheduler", "local:0"], "--scheduler"),
    (["run", "bn_rate", "--scheduler", "local:2", "--jobs", "2"], "exclusive"),
    (["run", "no_such_figure*"], "no figure matches"),
    (["run"], "name at least one figure"),
    (["run", "bn_rate", "bn_cnn", "--set", "n=3"], "exactly one figure"),
    (["run", "/nonexistent/fig.py"], "no figure file"),
    (["frobnicate"], "invalid choice"),
]


@pytest.mark.parametrize("argv,needle", BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_cli_input_is_one_line_and_status_2(argv, needle, capsys, tmp_path):
    assert main([*argv, "--out", str(tmp_path)] if argv[0] == "run" and argv[1:] else argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err, err
    assert not (tmp_path / "bn_rate").exists()  # nothing was computed


def test_out_pointing_at_a_file_is_refused_before_compute(tmp_path, capsys):
    f = tmp_path / "a_file"
    f.write_text("x")
    assert main(["run", "bn_rate", "--out", str(f)]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_report_on_missing_dir_and_strict_exit(tmp_path, env, capsys):
    assert main(["report", "--out", str(tmp_path / "nope")]) == 2
    f = write_fig(tmp_path, "fig_strict", version=3)  # mean 6: the claim FAILs
    sys.modules.pop("fig_strict", None)
    out = str(tmp_path / "out")
    assert main(["run", str(f), "--out", out, "--no-progress"]) == 0
    assert main(["run", str(f), "--out", out, "--no-progress", "--strict"]) == 1


def _cli(*args, env=None, **kw):
    return subprocess.Popen([sys.executable, "-m", "figures", *args], cwd=ROOT,
                            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def test_concurrent_runs_into_one_out_wait_and_share(tmp_path):
    f = write_fig(tmp_path, "fig_conc")
    counter = tmp_path / "c.txt"
    env = {"TL_COUNTER": str(counter), "TL_SLEEP": "0.5"}
    procs = [_cli("run", str(f), "--out", str(tmp_path / "out"), "--no-progress", env=env)
             for _ in range(2)]
    outs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert counted(counter) == [0, 1, 2, 3]                 # computed once, not twice
    assert sum("[cached]" in o for o, _ in outs) == 1


def test_ctrl_c_says_what_was_kept(tmp_path):
    f = write_fig(tmp_path, "fig_int")
    counter = tmp_path / "c.txt"
    p = _cli("run", str(f), "--out", str(tmp_path / "out"), "--no-progress",
             env={"TL_COUNTER": str(counter), "TL_SLEEP": "1.0"})
    t0 = time.time()
    while not counter.exists() and time.time() - t0 < 120:
        time.sleep(0.1)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130
    assert "interrupted" in err and "Traceback" not in err


def test_process_pool_kill_resume_and_no_orphans(tmp_path):
    psutil = pytest.importorskip("psutil")
    f = write_fig(tmp_path, "fig_pool")
    counter = tmp_path / "c.txt"
    env = {"TL_COUNTER": str(counter), "TL_SLEEP": "1.5"}
    out = tmp_path / "out"
    p = _cli("run", str(f), "--out", str(out), "--jobs", "2", "--no-progress", env=env)
    t0 = time.time()
    while len(list(out.rglob("work/*/*.npz"))) < 2 and time.time() - t0 < 180:
        time.sleep(0.1)
    children = psutil.Process(p.pid).children(recursive=True)
    assert children, "no pool workers were started"
    p.kill()                                   # the main process only
    p.communicate(timeout=30)
    gone, alive = psutil.wait_procs(children, timeout=20)
    assert not alive, f"orphaned workers: {alive}"
    done_before = len(list(out.rglob("work/*/*.npz")))
    assert 2 <= done_before < 4
    p2 = _cli("run", str(f), "--out", str(out), "--jobs", "2", "--no-progress", env=env)
    o, e = p2.communicate(timeout=240)
    assert p2.returncode == 0, e
    seen = counted(counter)
    assert sorted(set(seen)) == [0, 1, 2, 3]
    # only the points not stored before the kill were computed again (plus at most those
    # that were running at the kill)
    assert len(seen) <= 4 + 2
    assert "PASS" in o


def test_kip_checkpoint_of_another_kernel_or_past_steps_is_an_error(tmp_path):
    import jax

    from sims.kip import distill, exact_kernel
    from sims.kip.kernel import fc_network

    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 6))
    y = np.repeat(np.arange(2), 20)

    def kern(get, w):
        return exact_kernel(fc_network(W_std=w, b_std=0.1)[2], get=get)

    ck = tmp_path / "ck.npz"
    kw = dict(n_per_class=2, key=jax.random.key(0), target_per_class=5, checkpoint=ck,
              checkpoint_every=5, progress=False)
    r = distill(x, y, kernel=kern("ntk", 2 ** 0.5), steps=10, **kw)
    with pytest.raises(ValueError, match="kernel"):
        distill(x, y, kernel=kern("nngp", 2 ** 0.5), steps=10, **kw)   # same name "exact"
    with pytest.raises(ValueError, match="kernel"):
        distill(x, y, kernel=kern("ntk", 1.0), steps=10, **kw)         # another W_std
    with pytest.raises(ValueError, match="optimizer"):
        distill(x, y, kernel=kern("ntk", 2 ** 0.5), steps=10, lr=0.1, **kw)
    with pytest.raises(ValueError, match="past steps=5"):
        distill(x, y, kernel=kern("ntk", 2 ** 0.5), steps=5, **kw)
    again = distill(x, y, kernel=kern("ntk", 2 ** 0.5), steps=10, **kw)  # same run: resumes
    assert again.resumed_from == 10
    np.testing.assert_array_equal(again.x, r.x)


def test_bn_divergence_is_an_outcome_and_bn_rate_reports_it(tmp_path):
    from figures.bn_rate import FIGURE
    from sims.bn import run_bn

    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 4))
    y = np.array([1.0, -1, 1, -1, 1, -1])
    r = run_bn(x, y, rng.standard_normal(4) * 1e-8, eta=1e8, steps=200)
    assert r["diverged"] and r["diverged_at"] >= 1
    ok = run_bn(x, y, rng.standard_normal(4), eta=0.01, steps=50)
    assert not ok["diverged"] and ok["diverged_at"] == -1
    cfg = FIGURE.resolve_config(quick=True)
    t = np.unique(np.geomspace(1, 1e4, 40).astype(int)).astype(float)
    dev = np.maximum(np.exp(-0.5 * np.log(t) ** 2), 1e-16)[None].repeat(3, 0)
    dev[1, 10:] = np.nan
    t2 = np.geomspace(1, 1e6, 60)
    data = {"t_bn": t, "dev": dev, "diverged_at": np.array([-1.0, t[10], -1.0]),
            "err_bn_uni": np.full(3, 1e-15), "t2": t2, "err_nobn_svm": 0.4 / np.log(t2 + 1),
            "err_nobn_uni": np.ones(60)}
    res = FIGURE.check(data, cfg)
    uni = res[0]
    assert uni.verdict.value == "INCONCLUSIVE" and "seed 1" in uni.details


def test_bn_rate_seed_4_runs_to_a_report(tmp_path):
    """The seed that crashed with FloatingPointError (issue #13) now gives verdicts."""
    assert main(["run", "bn_rate", "--quick", "--seed", "4", "--out", str(tmp_path),
                 "--no-progress"]) == 0
    from figures.bn_rate import FIGURE

    side = json.loads((tmp_path / "bn_rate" / "bn_rate.json").read_text())
    assert side["error"] is None and len(side["claims"]) == len(FIGURE.claims)
