"""Sweeps on a real ``dask.distributed`` LocalCluster (2 worker processes).

A worker killed mid-sweep and a sweep interrupted midway must neither lose nor redo
finished points: every point ends up in the store exactly once and equals the
result of running the same point inline in this process (bitwise: same code, same
float64 inputs, same CPU).
"""
import functools
import os
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from figures.core import Claim, Figure, PointStore, run_sweep
from figures.core.sweep import point_key

distributed = pytest.importorskip("distributed")

N_POINTS = 12


def _point(point):
    """A small deterministic float64 JAX workload (dtype shows whether x64 is on)."""
    import jax
    import jax.numpy as jnp

    def step(c, _):
        c = c - 0.1 * (jnp.tanh(c) + 0.01 * point["x"] * c)
        return c, c

    c0 = jnp.linspace(-1.0, 1.0, 16) * (1.0 + point["x"])
    _, path = jax.lax.scan(step, c0, None, length=50)
    return {"y": path[-1], "norm": jnp.linalg.norm(path)}


def _log_call(logdir, point):
    Path(logdir, f"{point['x']}-{uuid.uuid4().hex}").touch()


def _dies_once(point, *, marker, at, sleep):
    """Kills its own worker process (no cleanup) the first time it reaches ``x == at``."""
    if point["x"] == at and not os.path.exists(marker):
        Path(marker).write_text(str(os.getpid()))
        os._exit(1)
    time.sleep(sleep)
    return _point(point)


def _interrupted_at(point, *, at, sleep, logdir):
    _log_call(logdir, point)
    if point["x"] == at:
        raise RuntimeError("sweep interrupted")
    time.sleep(sleep)
    return _point(point)


def _logged(point, *, logdir):
    _log_call(logdir, point)
    return _point(point)


def _logged_xs(logdir):
    return sorted(int(p.name.split("-")[0]) for p in Path(logdir).iterdir())


@pytest.fixture(scope="module")
def client():
    from figures.core.distributed import dask_client

    with dask_client("local:2") as c:
        c.wait_for_workers(2, timeout=120)
        yield c


@pytest.fixture(scope="module")
def reference():
    """Every point computed inline in this (x64) process."""
    return {x: {k: np.asarray(v) for k, v in _point({"x": x}).items()} for x in range(N_POINTS)}


def _assert_store_complete(store, points, reference):
    keys = {point_key(p) for p in points}
    assert {f.stem for f in store.root.glob("*.npz")} == keys
    assert {f.stem for f in store.root.glob("*.json")} == keys
    assert not [f for f in store.root.iterdir() if f.name.startswith(".")], "temporary files left"
    for p in points:
        got = store.load(p)
        assert got["y"].dtype == np.float64
        for k, v in reference[p["x"]].items():
            np.testing.assert_array_equal(got[k], v)


def test_workers_run_float64(client):
    from figures.core.distributed import worker_info

    info = worker_info(client)
    assert len(info) == 2 and all(w["x64"] for w in info.values())


def test_worker_killed_mid_sweep_loses_and_redoes_nothing(client, reference, tmp_path):
    pids_before = set(client.run(os.getpid).values())
    marker = tmp_path / "died"
    store = PointStore(tmp_path / "pts")
    points = [{"x": x} for x in range(N_POINTS)]
    fn = functools.partial(_dies_once, marker=str(marker), at=5, sleep=0.05)
    out = run_sweep(fn, points, executor=client, store=store, progress=False)
    dead = int(marker.read_text())
    assert dead in pids_before  # a real worker process died mid-sweep
    _assert_store_complete(store, points, reference)
    for p, r in zip(points, out):  # returned in the order of points
        np.testing.assert_array_equal(r["y"], reference[p["x"]]["y"])
    client.wait_for_workers(2, timeout=120)  # the nanny restarted it
    assert dead not in set(client.run(os.getpid).values())


def test_interrupted_sweep_resumes_without_redoing_points(client, reference, tmp_path):
    store = PointStore(tmp_path / "pts")
    points = [{"x": x} for x in range(N_POINTS)]
    log1, log2 = tmp_path / "log1", tmp_path / "log2"
    log1.mkdir(), log2.mkdir()
    with pytest.raises(RuntimeError, match="interrupted"):
        run_sweep(functools.partial(_interrupted_at, at=6, sleep=0.1, logdir=str(log1)),
                  points, executor=client.get_executor(), store=store, progress=False)
    done = {x for x in range(N_POINTS) if store.has({"x": x})}
    assert 0 < len(done) < N_POINTS and 6 not in done
    out = run_sweep(functools.partial(_logged, logdir=str(log2)), points, executor=client,
                    store=store, progress=False)
    assert _logged_xs(log2) == sorted(set(range(N_POINTS)) - done)  # each missing point once
    _assert_store_complete(store, points, reference)
    assert [float(r["norm"]) for r in out] == [float(reference[x]["norm"]) for x in range(N_POINTS)]


def _toy_point(point):
    return {"v": np.asarray(_point(point)["norm"])}


CLAIM = Claim(id="toy.dask", statement="sweep values are finite", claimed="finite", source="test")


def _toy_figure():
    from figures.core.claims import Verdict

    def compute(cfg, ctx):
        res = ctx.sweep(_toy_point, [{"x": x} for x in range(cfg["n"])], desc="toy")
        return {"v": np.array([float(r["v"]) for r in res])}

    def check(data, cfg):
        ok = bool(np.all(np.isfinite(data["v"])))
        return [CLAIM.result(verdict=Verdict.PASS if ok else Verdict.FAIL, measured=float(data["v"].sum()))]

    def plot(data, cfg):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        ax.plot(data["v"])
        return fig

    return Figure(name="toy_dask", title="toy", paper="none", claims=(CLAIM,), config={"n": 6},
                  compute=compute, check=check, plot=plot)


def test_figure_on_dask_writes_the_same_results_as_inline(client, tmp_path):
    from figures.core.runner import run_figure

    fig = _toy_figure()
    inline = run_figure(fig, out=tmp_path / "inline", progress=False)
    on_dask = run_figure(fig, out=tmp_path / "dask", executor=client.get_executor(pure=False),
                         progress=False)
    assert [c.verdict for c in on_dask.claims] == [c.verdict for c in inline.claims]
    for name in ("toy_dask.npz", "toy_dask.json", "toy_dask.png"):
        assert (Path(on_dask.directory) / name).exists()
    a = np.load(Path(inline.directory) / "toy_dask.npz")["v"]
    b = np.load(Path(on_dask.directory) / "toy_dask.npz")["v"]
    np.testing.assert_array_equal(a, b)


# -- the scheduler option, with and without dask --------------------------------------

def test_parse_scheduler():
    from figures.core.distributed import parse_scheduler

    assert parse_scheduler("local:3") == ("local", 3)
    assert parse_scheduler("tcp://10.0.0.1:8786") == ("address", "tcp://10.0.0.1:8786")
    for bad in ("local:0", "local:x", "local", "", "  "):
        with pytest.raises(ValueError, match="scheduler"):
            parse_scheduler(bad)


def test_without_dask_the_option_says_what_to_install(monkeypatch):
    from figures.core import cli
    from figures.core.distributed import dask_available, dask_client

    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    assert not dask_available()
    with pytest.raises(ImportError, match=r"theorylab\[distributed\]"):
        dask_client("local:2")
    import contextlib

    with contextlib.ExitStack() as stack:
        with pytest.raises(cli.UsageError, match="dask"):
            cli._executor(1, "local:2", stack)
        ex = cli._executor(2, None, stack)  # local runs are unaffected
        assert run_sweep(_toy_point, [{"x": 1}], executor=ex, progress=False)[0]["v"] > 0


def test_cli_rejects_bad_scheduler_options(monkeypatch, capsys):
    from figures.core import cli, registry

    monkeypatch.setattr(registry, "all_figures", lambda files=(): {})
    assert cli.main(["run", "--all", "--scheduler", "local:0"]) == 2
    assert "positive worker count" in capsys.readouterr().err
    assert cli.main(["run", "--all", "--jobs", "2", "--scheduler", "local:2"]) == 2
    assert "exclusive" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "distributed", None)
    assert cli.main(["run", "--all", "--scheduler", "local:2"]) == 2
    assert "pip install" in capsys.readouterr().err


DRIVER = """
import sys, time
import jax
jax.config.update("jax_enable_x64", True)
sys.path.insert(0, "tests")
from figures.core import PointStore, run_sweep
from test_distributed import _point

def slow(point):
    time.sleep(0.15)
    return _point(point)

run_sweep(slow, [{"x": x} for x in range(int(sys.argv[2]))], store=PointStore(sys.argv[1]),
          progress=False)
"""


def test_sweep_whose_driver_is_killed_resumes_on_dask(client, reference, tmp_path):
    """SIGKILL the process running a sweep (no cleanup at all), then finish it on Dask."""
    import signal
    import subprocess

    root = Path(__file__).resolve().parents[1]
    store = PointStore(tmp_path / "pts")
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(store.root), str(N_POINTS)],
                            cwd=root, env=dict(os.environ, PYTHONPATH=str(root)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while len(store) < 4 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stderr.close()
    done = {x for x in range(N_POINTS) if store.has({"x": x})}
    assert 4 <= len(done) < N_POINTS
    log = tmp_path / "log"
    log.mkdir()
    run_sweep(functools.partial(_logged, logdir=str(log)), [{"x": x} for x in range(N_POINTS)],
              executor=client, store=store, progress=False)
    assert _logged_xs(log) == sorted(set(range(N_POINTS)) - done)
    for f in store.root.glob(".*"):  # a temporary the kill may have left mid-write
        f.unlink()
    _assert_store_complete(store, [{"x": x} for x in range(N_POINTS)], reference)


def test_store_does_not_count_temporaries_of_a_killed_write(tmp_path):
    store = PointStore(tmp_path)
    store.save({"x": 1}, {"y": np.ones(2)})
    (tmp_path / f".{point_key({'x': 2})}.abc.npz.tmp.npz").write_bytes(b"half a file")
    assert len(store) == 1 and not store.has({"x": 2})


def test_cli_runs_a_figure_on_a_local_cluster(monkeypatch, tmp_path, capsys):
    """`theorylab run toy_dask --scheduler local:1`: same data as `--jobs 1`."""
    from figures.core import cli, registry

    fig = _toy_figure()
    monkeypatch.setattr(registry, "all_figures", lambda files=(): {fig.name: fig})
    args = ["run", "toy_dask", "--no-progress", "--out"]
    assert cli.main([*args, str(tmp_path / "dask"), "--scheduler", "local:1"]) == 0
    assert cli.main([*args, str(tmp_path / "inline")]) == 0
    assert "toy.dask=PASS" in capsys.readouterr().out
    a, b = (np.load(tmp_path / d / "toy_dask" / "toy_dask.npz")["v"] for d in ("inline", "dask"))
    np.testing.assert_array_equal(a, b)
    assert len(list((tmp_path / "dask" / "toy_dask" / "work").glob("*/*.npz"))) == 6
