"""KIP (arXiv:2011.00050): KRR, gradients, Adam, Label Solve, sampling, checkpoints, bad inputs.

References are independent of the code under test: numpy direct solves, central finite
differences, a numpy Adam, the arc-cosine closed form written out in numpy, explicit loops over
position pairs, the former KIP kernels (tests/kip_reference.py, a second implementation), and an
uninterrupted run for the resume test.  KIP's kernels are the production ones: a
``sims.kernels.stax`` kernel_fn or a ``sims.kernels.sketch``.
"""
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kip_reference import relu_fc1_kernel, relu_nngp_features
from sims.kernels import sketch, stax
from sims.kernels.krr import krr_predict
from sims.kip import (centered_one_hot, check_xy, distill, exact_kernel, fc_network, feature_kernel,
                      kip_loss, label_solve, sketch_kernel, split_standardize, support_accuracy)
from sims.kip.checkpoint import load_checkpoint, save_checkpoint
from sims.kip.data import balanced_subset, class_table
from sims.kip.kip import adam_init, adam_update, sample_balanced

FC1 = fc_network()[2]   # Flatten-Dense(√2, 0.1)-Relu-Dense(√2, 0.1), sims.kernels.stax
NTK = exact_kernel(FC1, get="ntk", name="fc1-ntk")


def _conv_gap(w=2 ** 0.5, b=0.1):
    """Conv(3x3, SAME)-Relu-GlobalAvgPool-Dense: stax kernel_fn and its layers (for sketch.from_stax)."""
    return stax.serial(stax.Conv(16, (3, 3), padding="SAME", W_std=w, b_std=b), stax.Relu(),
                       stax.GlobalAvgPool(), stax.Dense(1, W_std=w, b_std=b))


def _toy(rng, n=60, d=6, c=3):
    """Three Gaussian blobs in d dimensions, labels 0..c-1 (n/c each)."""
    y = np.repeat(np.arange(c), n // c)
    means = rng.normal(size=(c, d)) * 1.5
    return means[y] + rng.normal(size=(n, d)), y


def _np_arccos_ntk(a, b, w=2 ** 0.5, bias=0.1):
    """Arc-cosine NNGP/NTK in plain numpy (arccos form, independent of the arctan2 code)."""
    d = a.shape[1]
    s = w**2 * a @ b.T / d + bias**2
    q1 = w**2 * (a * a).sum(1) / d + bias**2
    q2 = w**2 * (b * b).sum(1) / d + bias**2
    nrm = np.sqrt(np.outer(q1, q2))
    th = np.arccos(np.clip(s / nrm, -1, 1))
    t = nrm * (np.sin(th) + (np.pi - th) * np.cos(th)) / (2 * np.pi)
    nngp = w**2 * t + bias**2
    return nngp, nngp + w**2 * s * (np.pi - th) / (2 * np.pi)


def test_fc_kernel_matches_numpy_arccos_form(rng):
    a, b = rng.normal(size=(5, 7)), rng.normal(size=(4, 7))
    nngp, ntk = _np_arccos_ntk(a, b)
    for kf in (FC1, relu_fc1_kernel):   # production stax and the second implementation
        np.testing.assert_allclose(kf(a, b, get="nngp"), nngp, rtol=1e-12)
        np.testing.assert_allclose(kf(a, b, get="ntk"), ntk, rtol=1e-12)


@pytest.mark.parametrize("impl", ["sketch", "reference"])
def test_random_features_converge_to_nngp(rng, impl):
    # Monte Carlo with m features: relative error ~ 1/sqrt(m); 4-sigma band with sigma <= 2/sqrt(m).
    a = rng.normal(size=(6, 5))
    m = 40_000
    if impl == "sketch":   # the sketch derived from the stax description of FC1
        phi = sketch_kernel(sketch.from_stax(fc_network(), m=m), key=jax.random.key(3),
                            input_shape=a.shape).embed
    else:
        phi = relu_nngp_features(jax.random.key(3), 5, m=m)
    k_rf = np.asarray(phi(a) @ phi(a).T)
    k = np.asarray(FC1(a, None, get="nngp"))
    assert np.max(np.abs(k_rf - k) / np.sqrt(np.outer(np.diag(k), np.diag(k)))) < 4 * 2 / math.sqrt(m)


def test_krr_predict_matches_direct_solve(rng):
    xs, xt = rng.normal(size=(8, 5)), rng.normal(size=(11, 5))
    ys = rng.normal(size=(8, 3))
    kss, kts = np.asarray(NTK.blocks(xs, xt)[1]), np.asarray(NTK.blocks(xs, xt)[0])
    lam = 1e-3 * np.trace(kss) / 8  # λ̃ = |λ| tr(K_ss)/n_s
    ref = kts @ np.linalg.solve(kss + lam * np.eye(8), ys)
    np.testing.assert_allclose(krr_predict(kts, kss, ys, ridge=1e-3), ref, rtol=1e-10, atol=1e-12)
    lam_abs = 1e-3 * np.trace(kss) / 8
    np.testing.assert_allclose(krr_predict(kts, kss, ys, ridge=lam_abs, relative=False), ref, rtol=1e-10,
                               atol=1e-12)
    with pytest.raises(ValueError, match="ridge must be a finite number >= 0"):
        krr_predict(kts, kss, ys, ridge=-1e-3)   # one convention: ridge >= 0 (no silent |ridge|)


def test_exact_and_feature_paths_agree(rng):
    fk = sketch_kernel(sketch.from_stax(fc_network(), m=64), key=jax.random.key(1), input_shape=(6, 5),
                       name="rf")
    phi = fk.embed
    ek = exact_kernel(lambda a, b: phi(a) @ phi(b).T, get=None, name="rf-exact")
    xs, xt = rng.normal(size=(6, 5)), rng.normal(size=(20, 5))
    ys, yt = centered_one_hot(np.arange(6) % 3, 3), centered_one_hot(np.arange(20) % 3, 3)
    f = lambda k, e: kip_loss(xs, ys, e, yt, kernel=k, reg=1e-4)[0]  # noqa: E731
    np.testing.assert_allclose(f(fk, phi(xt)), f(ek, xt), rtol=1e-10)
    g1 = jax.grad(lambda x: kip_loss(x, ys, phi(xt), yt, kernel=fk, reg=1e-4)[0])(xs)
    g2 = jax.grad(lambda x: kip_loss(x, ys, xt, yt, kernel=ek, reg=1e-4)[0])(xs)
    np.testing.assert_allclose(g1, g2, rtol=1e-8, atol=1e-14)


@pytest.mark.parametrize("wrt", ["x", "y"])
def test_gradient_matches_finite_differences(rng, wrt):
    xs, xt = rng.normal(size=(6, 4)), rng.normal(size=(15, 4))
    ys, yt = rng.normal(size=(6, 3)), rng.normal(size=(15, 3))
    def loss(v):
        x, y = (v, ys) if wrt == "x" else (xs, v)
        return kip_loss(x, y, xt, yt, kernel=NTK, reg=1e-3)[0]
    v0 = xs if wrt == "x" else ys
    g = np.asarray(jax.grad(loss)(v0))
    h = 1e-5
    fd = np.zeros_like(v0)
    for i in np.ndindex(v0.shape):
        e = np.zeros_like(v0)
        e[i] = h
        fd[i] = (float(loss(v0 + e)) - float(loss(v0 - e))) / (2 * h)
    # central differences: truncation O(h^2 |f'''|) ~ 1e-10, round-off ~ eps|f|/h ~ 1e-12
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9)


def test_gradient_finite_at_duplicate_support_points(rng):
    xs = rng.normal(size=(4, 3))
    xs[1] = xs[0]  # identical images: θ = 0 off the diagonal as well
    g = jax.grad(lambda x: kip_loss(x, jnp.eye(4)[:, :2], x[:2], jnp.eye(2), kernel=NTK,
                                    reg=1e-2)[0])(xs)
    assert np.all(np.isfinite(np.asarray(g)))


def test_adam_matches_numpy_reference(rng):
    p = {"x": rng.normal(size=(3, 2)), "y": rng.normal(size=(3,))}
    grads = [{"x": rng.normal(size=(3, 2)), "y": rng.normal(size=(3,))} for _ in range(4)]
    st = adam_init(p)
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(v) for k, v in p.items()}
    ref = {k: a.copy() for k, a in p.items()}
    for t, g in enumerate(grads, start=1):
        upd, st = adam_update(g, st, 0.04)
        p = jax.tree.map(jnp.add, p, upd)
        for k in ref:
            m[k] = 0.9 * m[k] + 0.1 * g[k]
            v[k] = 0.999 * v[k] + 0.001 * g[k] ** 2
            ref[k] -= 0.04 * (m[k] / (1 - 0.9**t)) / (np.sqrt(v[k] / (1 - 0.999**t)) + 1e-8)
    for k in ref:
        np.testing.assert_allclose(p[k], ref[k], rtol=1e-12)


def test_label_solve_matches_normal_equations(rng):
    xs, xt = rng.normal(size=(6, 4)), rng.normal(size=(30, 4))
    yt = centered_one_hot(np.arange(30) % 3, 3)
    ys = np.asarray(label_solve(NTK, xs, xt, yt, reg=1e-3))
    kts, kss = (np.asarray(a) for a in NTK.blocks(xs, xt))
    a = kts @ np.linalg.inv(kss + 1e-3 * np.trace(kss) / 6 * np.eye(6))
    ref = np.linalg.solve(a.T @ a, a.T @ yt)  # A has full column rank (n_t > n_s)
    np.testing.assert_allclose(ys, ref, rtol=1e-6, atol=1e-8)
    # stationarity of the KIP loss in the labels (autodiff, independent of the solve)
    g = jax.grad(lambda y: kip_loss(xs, y, xt, yt, kernel=NTK, reg=1e-3)[0])(ys)
    assert np.max(np.abs(np.asarray(g))) < 1e-9


def test_sample_balanced_is_balanced_and_without_replacement(rng):
    y = rng.integers(0, 4, size=200)
    table, counts = class_table(y, 4)
    for s in range(5):
        idx = np.asarray(sample_balanced(jax.random.key(s), jnp.asarray(table), jnp.asarray(counts), 7))
        assert len(set(idx.tolist())) == 28
        np.testing.assert_array_equal(y[idx], np.repeat(np.arange(4), 7))


def test_split_is_stratified_and_standardized(rng):
    x, y = _toy(rng, n=90)
    s = split_standardize(x.reshape(90, 2, 3), y, test_fraction=0.2, rng=rng)
    assert s.x_train.shape[1:] == (2, 3, 1)
    np.testing.assert_array_equal(np.bincount(s.y_test), [6, 6, 6])
    np.testing.assert_allclose(s.x_train.mean(), 0, atol=1e-12)
    np.testing.assert_allclose(s.x_train.std(), 1, rtol=1e-12)
    np.testing.assert_allclose(centered_one_hot(np.array([0, 2]), 3).sum(1), 0, atol=1e-15)


def test_a_few_steps_reduce_the_loss(rng):
    x, y = _toy(rng)
    yt = centered_one_hot(y, 3)
    res = distill(x, y, kernel=NTK, n_per_class=2, steps=20, key=jax.random.key(0), lr=0.05,
                  target_per_class=20, checkpoint_every=10, progress=False)
    full = lambda xs, ys: float(kip_loss(xs, ys, x, yt, kernel=NTK, reg=1e-6)[0])  # noqa: E731
    assert full(res.x, res.y) < 0.7 * full(res.x_init, res.y_init)
    np.testing.assert_array_equal(res.y, res.y_init)  # labels fixed without label learning
    res_l = distill(x, y, kernel=NTK, n_per_class=2, steps=20, key=jax.random.key(0), lr=0.05,
                    target_per_class=20, learn_labels=True, checkpoint_every=10, progress=False)
    assert not np.allclose(res_l.y, res_l.y_init)
    assert full(res_l.x, res_l.y) < 0.7 * full(res_l.x_init, res_l.y_init)


def test_resume_after_interruption_equals_uninterrupted_run(rng, tmp_path):
    x, y = _toy(rng)
    kw = dict(kernel=NTK, n_per_class=2, steps=30, key=jax.random.key(5), target_per_class=10,
              checkpoint_every=10, progress=False, learn_labels=True)
    ref = distill(x, y, **kw)
    path = tmp_path / "kip.npz"

    def stop(step):
        if step == 20:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        distill(x, y, checkpoint=path, callback=stop, **kw)
    assert load_checkpoint(path)[1]["step"] == 20
    res = distill(x, y, checkpoint=path, **kw)
    assert res.resumed_from == 20
    np.testing.assert_array_equal(res.x, ref.x)
    np.testing.assert_array_equal(res.y, ref.y)
    np.testing.assert_array_equal(res.loss, ref.loss)
    # a checkpoint of another run is refused, not silently resumed
    with pytest.raises(ValueError, match="different KIP run"):
        distill(x, y, checkpoint=path, **{**kw, "key": jax.random.key(6)})


def test_checkpoint_roundtrip_and_no_temporaries(tmp_path):
    save_checkpoint(tmp_path / "c.npz", {"a": np.arange(3.0)}, meta={"step": 4})
    arr, meta = load_checkpoint(tmp_path / "c.npz")
    np.testing.assert_array_equal(arr["a"], np.arange(3.0))
    assert meta == {"step": 4}
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]
    assert load_checkpoint(tmp_path / "missing.npz") is None


def test_bad_inputs_raise_clear_errors(rng):
    x, y = _toy(rng)
    kw = dict(kernel=NTK, steps=2, key=jax.random.key(0), target_per_class=5, progress=False)
    with pytest.raises(ValueError, match="y_train must be a 1-d array of 60"):
        distill(x, y[:-1], n_per_class=2, **kw)
    with pytest.raises(ValueError, match=r"n_per_class=25.*classes \[0, 1, 2\]"):
        distill(x, y, n_per_class=25, **kw)
    xn = x.copy()
    xn[3, 2] = np.nan
    with pytest.raises(ValueError, match="x_train contains 1 NaN"):
        distill(xn, y, n_per_class=2, **kw)
    with pytest.raises(ValueError, match="integer class labels"):
        check_xy(x, y + 0.5)
    with pytest.raises(TypeError, match="KipKernel"):
        distill(x, y, n_per_class=2, **{**kw, "kernel": FC1})
    with pytest.raises(TypeError, match="float64"):
        krr_predict(jnp.ones((2, 2), jnp.float32), jnp.eye(2, dtype=jnp.float32),
                    jnp.ones((2, 1), jnp.float32))
    with pytest.raises(ValueError, match="k_test must have shape"):
        krr_predict(np.ones((3, 4)), np.eye(2), np.ones((2, 1)))
    with pytest.raises(ValueError, match="get must be"):
        exact_kernel(FC1, get="both")
    with pytest.raises(TypeError, match="sketch must be the pair"):
        sketch_kernel(FC1, key=jax.random.key(0), input_shape=(2, 6))
    with pytest.raises(TypeError, match="phi must be a callable"):
        feature_kernel(3.0)
    with pytest.raises(ValueError, match="reg must be a positive"):
        distill(x, y, n_per_class=2, reg=float("nan"), **kw)
    with pytest.raises(ValueError, match="images per class"):
        balanced_subset(y, 30, rng=rng)


def test_nan_during_training_is_reported(rng):
    x, y = _toy(rng)
    with pytest.raises(FloatingPointError, match="not finite at step"):
        distill(x, y, kernel=NTK, n_per_class=2, steps=2, key=jax.random.key(0), lr=1e300,
                target_per_class=5, checkpoint_every=1, progress=False)


def test_krr_accuracy_of_separable_blobs(rng):
    x, y = _toy(rng)
    idx = balanced_subset(y, 5, rng=rng)
    acc = support_accuracy(NTK, x[idx], centered_one_hot(y[idx], 3), x, y)
    # well separated blobs (means ~1.5 sigma*sqrt(d) apart): nearest-class KRR is nearly perfect
    assert acc > 0.9


def _np_conv_gap(a, b, w=2 ** 0.5, bias=0.1):
    """Conv(3x3, SAME)-Relu-GAP-Dense NNGP/NTK by explicit loops over position pairs (numpy)."""
    def patch(x, i, j):
        h, wd, c = x.shape
        out = np.zeros((3, 3, c))
        for di in range(3):
            for dj in range(3):
                ii, jj = i + di - 1, j + dj - 1
                if 0 <= ii < h and 0 <= jj < wd:
                    out[di, dj] = x[ii, jj]
        return out.ravel()
    h, wd, c = a.shape[1:]
    pos = [(i, j) for i in range(h) for j in range(wd)]
    nngp = np.zeros((len(a), len(b)))
    ntk = np.zeros_like(nngp)
    for r, x in enumerate(a):
        for s_, z in enumerate(b):
            acc_t = acc_d = 0.0
            for p in pos:
                for q in pos:
                    u, v = patch(x, *p), patch(z, *q)
                    s = w**2 * (u @ v) / (9 * c) + bias**2
                    q1, q2 = w**2 * (u @ u) / (9 * c) + bias**2, w**2 * (v @ v) / (9 * c) + bias**2
                    th = np.arccos(np.clip(s / np.sqrt(q1 * q2), -1, 1))
                    acc_t += np.sqrt(q1 * q2) * (np.sin(th) + (np.pi - th) * np.cos(th)) / (2 * np.pi)
                    acc_d += s * (np.pi - th) / (2 * np.pi)
            nngp[r, s_] = w**2 * acc_t / len(pos) ** 2 + bias**2
            ntk[r, s_] = nngp[r, s_] + w**2 * acc_d / len(pos) ** 2
    return nngp, ntk


def test_conv_gap_kernel_matches_brute_force(rng):
    from kip_reference import relu_conv_gap_kernel
    a, b = rng.normal(size=(3, 3, 4, 2)), rng.normal(size=(2, 3, 4, 2))
    nngp, ntk = _np_conv_gap(a, b)
    kf = _conv_gap()[2]
    for g, ref in (("nngp", nngp), ("ntk", ntk)):
        np.testing.assert_allclose(kf(a, b, get=g), ref, rtol=1e-12)                    # stax
        np.testing.assert_allclose(relu_conv_gap_kernel(a, b, get=g), ref, rtol=1e-12)  # reference


@pytest.mark.parametrize("impl", ["sketch", "reference"])
def test_conv_random_features_converge_to_nngp(rng, impl):
    from kip_reference import relu_conv_gap_features
    a = rng.normal(size=(4, 4, 4, 1))
    m = 40_000
    if impl == "sketch":
        phi = sketch_kernel(sketch.from_stax(_conv_gap(), m=m), key=jax.random.key(0),
                            input_shape=a.shape).embed
    else:
        phi = relu_conv_gap_features(jax.random.key(0), 1, m=m)
    k = np.asarray(_conv_gap()[2](a, None, get="nngp"))
    k_rf = np.asarray(phi(a) @ phi(a).T)
    # MC over m channels; pooled features have relative sd <= ~2/sqrt(m): 4-sigma band
    assert np.max(np.abs(k_rf - k) / np.sqrt(np.outer(np.diag(k), np.diag(k)))) < 4 * 2 / math.sqrt(m)


def test_kip_runs_with_conv_exact_and_sketched_kernels(rng):
    x = rng.normal(size=(30, 4, 4, 1)) + np.repeat(np.arange(3), 10)[:, None, None, None]
    y = np.repeat(np.arange(3), 10)
    gelu = stax.serial(stax.Dense(8, W_std=1.2, b_std=0.1), stax.Gelu(), stax.Dense(1, W_std=1.2))
    for kern in (exact_kernel(_conv_gap()[2], get="nngp", name="conv"),
                 sketch_kernel(sketch.from_stax(_conv_gap(), m=64), key=jax.random.key(0),
                               input_shape=x.shape, name="rf"),
                 sketch_kernel(sketch.from_stax(gelu, m=64, degree=4), key=jax.random.key(0),
                               input_shape=(30, 16), get="ntk", name="polysketch")):
        if kern.name == "polysketch":
            x = x.reshape(30, 16)
        r = distill(x, y, kernel=kern, n_per_class=2, steps=6, key=jax.random.key(1),
                    target_per_class=10, checkpoint_every=3, progress=False)
        assert r.loss[-1] < r.loss[0] and np.all(np.isfinite(r.x))


_KILL_SCRIPT = r"""
import sys, functools, jax, numpy as np
jax.config.update("jax_enable_x64", True)
from sims.kip import distill, exact_kernel, fc_network
d = np.load(sys.argv[1])
k = exact_kernel(fc_network()[2], get="ntk", name="fc1-ntk")
def cb(step):
    print(step, flush=True)
    if step >= 20:
        import time; time.sleep(60)   # wait to be killed
distill(d["x"], d["y"], kernel=k, n_per_class=2, steps=40, key=jax.random.key(3),
        target_per_class=10, checkpoint_every=5, checkpoint=sys.argv[2], callback=cb,
        progress=False)
"""


def test_resume_after_sigkill_equals_uninterrupted_run(rng, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    x, y = _toy(rng)
    np.savez(tmp_path / "data.npz", x=x, y=y)
    ck = tmp_path / "kip.npz"
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, str(tmp_path / "data.npz"), str(ck)],
                            stdout=subprocess.PIPE, text=True, cwd=root,
                            env={**os.environ, "PYTHONPATH": str(root)})
    try:
        for line in proc.stdout:
            if int(line) >= 20:
                break
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    kw = dict(kernel=NTK, n_per_class=2, steps=40, key=jax.random.key(3), target_per_class=10,
              checkpoint_every=5, progress=False)
    ref = distill(x, y, **kw)
    res = distill(x, y, checkpoint=ck, **kw)
    assert res.resumed_from == 20
    np.testing.assert_array_equal(res.x, ref.x)
    np.testing.assert_array_equal(res.loss, ref.loss)


def test_kip_on_stax_kernel_follows_the_reference_kernel_trajectory(rng):
    """KIP on the stax FC1 NTK and on the second implementation (arccos form) agree step by step."""
    x, y = _toy(rng)
    ref = exact_kernel(functools.partial(relu_fc1_kernel, get="ntk"), get=None, name="reference")
    kw = dict(n_per_class=2, steps=20, key=jax.random.key(2), target_per_class=10, checkpoint_every=10,
              progress=False, learn_labels=True)
    a, b = distill(x, y, kernel=NTK, **kw), distill(x, y, kernel=ref, **kw)
    # same closed form, different round-off (~1e-16); Adam over 20 steps keeps it far below 1e-8
    np.testing.assert_allclose(a.loss, b.loss, rtol=1e-8)
    np.testing.assert_allclose(a.x, b.x, rtol=1e-7, atol=1e-9)
