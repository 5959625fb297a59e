"""Check your own claim (issue #17): `theorylab check`, `check_rate`, the pytest plugin,
user figure files and entry-point plugins."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from figures import check_rate
from figures.core.cli import main
from figures.core.ratecheck import RateInputError

ROOT = Path(__file__).resolve().parents[1]
pytest_plugins = ["pytester"]


def noisy(law_values, rng, n_seeds=6, sigma=0.05):
    return law_values * np.exp(sigma * rng.standard_normal((n_seeds, law_values.size)))


T = np.unique(np.logspace(1, 4, 20).astype(int)).astype(float)


@pytest.mark.parametrize("c,verdict", [(0.5, "PASS"), (0.8, "FAIL"), (0.3, "FAIL")])
def test_power_rate_verdicts_on_known_synthetic_rates(c, verdict):
    rng = np.random.default_rng(3)
    r = check_rate(T, noisy(T**-c, rng), law="power", accept=(0.45, 0.55), seeds_axis=0)
    assert r.verdict == verdict, r
    assert r.ci[0] < c < r.ci[1]
    assert r.t_range == (T[0], T[-1]) and r.n_seeds == 6


def test_straddling_band_is_inconclusive_and_no_band_is_inconclusive():
    rng = np.random.default_rng(4)
    r = check_rate(T, noisy(T**-0.55, rng, sigma=0.3, n_seeds=3), law="power",
                   accept=(0.45, 0.55), seeds_axis=0)
    assert r.verdict == "INCONCLUSIVE" and "straddles" in r.reason
    assert check_rate(T, T**-0.5, law="power").verdict == "INCONCLUSIVE"


def test_order_test_in_the_diffrax_style():
    h = 2.0 ** -np.arange(2, 12)
    err = 0.3 * h**2 * (1 + 0.1 * h)          # a second-order method
    assert check_rate(h, err, law="order", accept=(1.9, 2.1)).verdict == "PASS"
    assert check_rate(h, err, law="order", accept=(0.9, 1.1)).verdict == "FAIL"


def test_floor_cut_reports_the_range_used():
    h = 2.0 ** -np.arange(1, 30)
    err = np.maximum(h**1.0, 1e-14)            # hits the round-off floor
    r = check_rate(h[::-1], err[::-1], law="order", accept=(0.95, 1.05), floor=1e-13)
    assert r.verdict == "PASS" and r.t_range[0] > 1e-13


def test_seeds_axis_1_equals_axis_0():
    rng = np.random.default_rng(5)
    e = noisy(T**-0.5, rng)
    a = check_rate(T, e, law="power", accept=(0.4, 0.6), seeds_axis=0)
    b = check_rate(T, e.T, law="power", accept=(0.4, 0.6), seeds_axis=1)
    assert a.rate == b.rate and a.ci == b.ci


def test_free_exponent_exp_logk_rejects_power_laws():
    rng = np.random.default_rng(6)
    t = np.unique(np.logspace(0.5, 4, 30).astype(int)).astype(float)
    r = check_rate(t, noisy(np.exp(-0.1 * np.log(t) ** 2.5), rng), law="exp_logk",
                   accept=(1.5, np.inf), seeds_axis=0)
    assert r.verdict == "PASS" and r.ci[0] < 2.5 < r.ci[1], r
    p = check_rate(t, noisy(3 * t**-1.2, rng), law="exp_logk", accept=(1.5, np.inf),
                   seeds_axis=0)
    assert p.verdict == "FAIL" and p.ci[0] < 1 < p.ci[1], p   # a power law is k = 1


def test_power_with_floor():
    rng = np.random.default_rng(7)
    e = noisy(2 * T**-1.0 + 1e-3, rng, sigma=0.02)
    r = check_rate(T, e, law="power_floor", accept=(0.9, 1.1), seeds_axis=0)
    assert r.verdict == "PASS", r
    plain = check_rate(T, e, law="power", accept=(0.9, 1.1), seeds_axis=0)
    assert plain.verdict == "FAIL"        # the floor bends a plain power fit


def test_pre_asymptotic_range_is_flagged():
    t = np.logspace(0, 4, 30)
    e = t**-1.0 + 0.5 * t**-0.3            # rate drifts from ~0.4 to ~0.3: not asymptotic yet
    r = check_rate(t, e, law="power", accept=(0.9, 1.1))
    assert r.asymptotic is False and "pre-asymptotic" in r.reason
    assert check_rate(t, t**-1.0, law="power", accept=(0.9, 1.1)).asymptotic is True


@pytest.mark.parametrize("kw,msg", [
    (dict(y=-T), "positive"),
    (dict(y=np.where(T > 100, np.nan, 1 / T)), "non-finite"),
    (dict(accept=(2, 1)), "lo <= hi"),
    (dict(law="cubic"), "law must be one of"),
    (dict(x=T[:3], y=T[:3] ** -1.0, t_range=(50, 60)), "fewer than 3"),
    (dict(y=np.ones((2, 3))), "seeds_axis"),
    (dict(y=np.ones((2, 3)), seeds_axis=0), "points per seed"),
    (dict(compare=("nope",)), "compare"),
])
def test_bad_input_named(kw, msg):
    args = dict(x=T, y=T**-0.5, law="power", accept=(0.4, 0.6)) | kw
    x, y = args.pop("x"), args.pop("y")
    with pytest.raises(RateInputError, match=msg):
        check_rate(x, y, **args)


def _csv(path, rows, header=("seed", "t", "err")):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _sgd_csv(path, c=0.5):
    rng = np.random.default_rng(0)
    return _csv(path, [(s, t, 3 * t**-c * np.exp(0.05 * rng.standard_normal()))
                       for s in range(5) for t in T])


def test_check_command_csv_json_and_strict(tmp_path, capsys):
    f = _sgd_csv(tmp_path / "sgd.csv")
    base = ["check", str(f), "--x", "t", "--y", "err", "--seed-col", "seed", "--law", "power"]
    assert main([*base, "--accept", "0.45", "0.55", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == "PASS" and {"rate", "ci", "range", "law"} <= set(out)
    assert "seeds (n=5)" in out["bootstrap"]
    assert main([*base, "--accept", "0.9", "1.1", "--compare", "log_power,exp"]) == 0
    text = capsys.readouterr().out
    assert "verdict FAIL" in text and "rival laws" in text and "fit range" in text
    assert main([*base, "--accept", "0.9", "1.1", "--strict"]) == 1
    capsys.readouterr()
    # .npz and .json inputs give the same verdict
    d = np.genfromtxt(f, delimiter=",", names=True)
    np.savez(tmp_path / "sgd.npz", seed=d["seed"], t=d["t"], err=d["err"])
    (tmp_path / "sgd.json").write_text(json.dumps({k: d[k].tolist() for k in ("seed", "t", "err")}))
    for other in ("sgd.npz", "sgd.json"):
        assert main(["check", str(tmp_path / other), *base[2:], "--accept", "0.45", "0.55",
                     "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["rate"] == pytest.approx(out["rate"], rel=1e-12)


@pytest.mark.parametrize("extra,msg", [
    (["--y", "nope"], "column 'nope'"),
    (["--accept", "2", "1"], "lo <= hi"),
    (["--law", "cubic"], "invalid choice"),
    (["--range", "100", "120"], "fewer than 3"),
])
def test_check_command_bad_input_exits_2(tmp_path, capsys, extra, msg):
    f = _sgd_csv(tmp_path / "sgd.csv")
    args = {"--x": "t", "--y": "err", "--law": "power"}
    i = 0
    while i < len(extra):
        if extra[i] in args:
            args[extra[i]] = extra[i + 1]
            i += 2
        else:
            break
    rest = extra[i:]
    argv = ["check", str(f), "--seed-col", "seed", *sum(([k, v] for k, v in args.items()), []),
            *rest]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and msg in err, err


def test_check_command_nonpositive_y_exits_2(tmp_path, capsys):
    f = _csv(tmp_path / "z.csv", [(0, t, 0.0 if t > 100 else 1 / t) for t in T])
    assert main(["check", str(f), "--x", "t", "--y", "err", "--law", "power"]) == 2
    assert "positive" in capsys.readouterr().err


def test_pytest_plugin_assert_rate(pytester):
    pytester.makepyfile(textwrap.dedent("""
        import numpy as np
        T = np.logspace(1, 4, 20)

        def test_pass(assert_rate):
            assert_rate(T, T**-0.5, law="power", accept=(0.45, 0.55))

        def test_fail(assert_rate):
            assert_rate(T, T**-1.0, law="power", accept=(0.45, 0.55))

        def test_inconclusive(assert_rate):
            rng = np.random.default_rng(0)
            e = T**-0.55 * np.exp(0.3 * rng.standard_normal((3, T.size)))
            assert_rate(T, e, law="power", accept=(0.45, 0.55), seeds_axis=0)
    """))
    res = pytester.runpytest("-p", "no:cacheprovider")  # the plugin loads by its pytest11 entry point
    res.assert_outcomes(passed=1, failed=2)
    res.stdout.fnmatch_lines(["*claimed rate rejected*rate 1*fit range*",
                              "*rate check inconclusive*straddles*"])
    res = pytester.runpytest("--theorylab-inconclusive=skip")
    res.assert_outcomes(passed=1, failed=1, skipped=1)


def _run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "figures", *args], cwd=ROOT, text=True,
                          capture_output=True, env={**os.environ, **(env or {})}, timeout=300)


def test_external_figure_file_runs_and_appears_in_the_report(tmp_path):
    ex = ROOT / "docs" / "examples" / "sgd_rate_figure.py"
    out = tmp_path / "out"
    r = _run_cli("list", str(ex))
    assert r.returncode == 0 and "sgd_rate: SGD on a mean" in r.stdout
    r = _run_cli("run", str(ex), "--out", str(out), "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "sgd_rate.sqrt_t=PASS" in r.stdout
    r2 = _run_cli("run", str(ex), "--out", str(out), "--no-progress")
    assert "[cached]" in r2.stdout
    assert _run_cli("report", "--out", str(out)).returncode == 0
    rep = json.loads((out / "report.json").read_text())
    assert rep["figures"][0]["figure"] == "sgd_rate"
    assert rep["figures"][0]["claims"][0]["verdict"] == "PASS"


def test_entry_point_plugin_appears_in_list_and_runs(tmp_path):
    site = tmp_path / "site"
    dist = site / "theorylab_demo_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: theorylab-demo-plugin\n"
                                   "Version: 0.1\n")
    (dist / "entry_points.txt").write_text("[theorylab.figures]\n"
                                           "demo = theorylab_demo_plugin\n")
    env = {"PYTHONPATH": os.pathsep.join([str(site), str(ROOT / "tests" / "plugin_pkg"),
                                          os.environ.get("PYTHONPATH", "")])}
    r = _run_cli("list", env=env)
    assert r.returncode == 0 and "demo_plugin: plugin figure" in r.stdout, r.stderr
    r = _run_cli("run", "demo_plugin", "--out", str(tmp_path / "out"), "--no-progress", env=env)
    assert r.returncode == 0 and "demo_plugin.ok=PASS" in r.stdout, r.stderr
