"""Sharded kernel matrices equal the single-device matrix and an independent closed form.

References: the Gaussian (RBF) kernel computed with ``scipy.spatial.distance.cdist`` and
the degree-1 arc-cosine kernel (Cho & Saul 2009, eq. 6; the NNGP of one ReLU layer)
computed in numpy.  Tolerance ``rtol=1e-12``: the kernels are O(1) sums of ``d <= 8``
float64 products, so a different block shape can only reassociate a few roundings
(~1e-15); anything larger is a wrong row/device mapping.

Several devices: JAX reads ``--xla_force_host_platform_device_count`` once, when its
backend starts, and pytest has already started it, so the multi-device checks run in
a fresh Python process.
"""
import functools
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial.distance import cdist

from sims.sharding import gather, sharded_kernel

ROOT = Path(__file__).resolve().parents[1]
RTOL = 1e-12


def rbf(a, b, *, lengthscale=1.3):
    d2 = jnp.sum(a * a, 1)[:, None] + jnp.sum(b * b, 1)[None, :] - 2.0 * a @ b.T
    return jnp.exp(-0.5 * jnp.maximum(d2, 0.0) / lengthscale**2)


def arccos1(a, b):
    na, nb = jnp.linalg.norm(a, axis=1), jnp.linalg.norm(b, axis=1)
    cos = jnp.clip(a @ b.T / (na[:, None] * nb[None, :]), -1.0, 1.0)
    th = jnp.arccos(cos)
    return na[:, None] * nb[None, :] * (jnp.sin(th) + (jnp.pi - th) * cos) / jnp.pi


def rbf_ref(a, b, lengthscale=1.3):
    return np.exp(-0.5 * cdist(a, b, "sqeuclidean") / lengthscale**2)


def arccos1_ref(a, b):
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    th = np.arccos(np.clip(np.einsum("id,jd->ij", a, b) / np.outer(na, nb), -1, 1))
    return np.outer(na, nb) * (np.sin(th) + (np.pi - th) * np.cos(th)) / np.pi


@pytest.mark.parametrize("n1,block_rows", [(64, 512), (97, 16), (50, 7)])
@pytest.mark.parametrize("name", ["rbf", "arccos1"])
def test_single_device_matches_closed_form(rng, n1, block_rows, name):
    kern, ref = {"rbf": (rbf, rbf_ref), "arccos1": (arccos1, arccos1_ref)}[name]
    x1, x2 = rng.standard_normal((n1, 5)), rng.standard_normal((33, 5))
    k = sharded_kernel(kern, x1, x2, block_rows=block_rows)
    assert k.shape == (n1, 33) and k.dtype == jnp.float64
    np.testing.assert_allclose(gather(k), ref(x1, x2), rtol=RTOL, atol=1e-14)
    np.testing.assert_allclose(gather(k), np.asarray(kern(x1, x2)), rtol=RTOL, atol=1e-14)


def test_x2_defaults_to_x1_and_is_symmetric(rng):
    x = rng.standard_normal((40, 3))
    k = gather(sharded_kernel(rbf, x, block_rows=8))
    np.testing.assert_allclose(k, k.T, rtol=RTOL)
    np.testing.assert_allclose(np.diag(k), 1.0, rtol=RTOL)


def test_bad_inputs_are_named(rng):
    x = rng.standard_normal((8, 3))
    with pytest.raises(ValueError, match=r"x1 must have shape \(n, d\)"):
        sharded_kernel(rbf, x[0])
    with pytest.raises(ValueError, match="same feature dimension"):
        sharded_kernel(rbf, x, rng.standard_normal((4, 2)))
    with pytest.raises(TypeError, match="x1 must be float64.*allow_float32"):
        sharded_kernel(rbf, x.astype(np.float32))
    with pytest.raises(TypeError, match="x2 must be a float64"):
        sharded_kernel(rbf, x, np.ones((2, 3), dtype=int))
    with pytest.raises(ValueError, match="x1 contains NaN"):
        sharded_kernel(rbf, np.full((2, 3), np.nan))
    with pytest.raises(ValueError, match="block_rows"):
        sharded_kernel(rbf, x, block_rows=0)
    with pytest.raises(TypeError, match="kernel must be callable"):
        sharded_kernel("rbf", x)
    with pytest.raises(TypeError, match=r"kernel must return one array of shape \(n1, n2\)"):
        sharded_kernel(lambda a, b: a @ b.T @ b, x)
    with pytest.raises(TypeError, match="kernel could not be traced"):
        sharded_kernel(lambda a, b: a @ b, x)
    with pytest.raises(ValueError, match="mesh must be"):
        sharded_kernel(rbf, x, mesh=jax.sharding.Mesh(np.array(jax.devices()), ("x",)))


def test_float32_on_request(rng):
    x = rng.standard_normal((16, 3)).astype(np.float32)
    k = sharded_kernel(rbf, x, allow_float32=True)
    assert k.dtype == jnp.float32
    np.testing.assert_allclose(gather(k), rbf_ref(x.astype(np.float64), x.astype(np.float64)),
                               rtol=1e-5, atol=1e-6)


def run_with_devices(n_devices: int, code: str, *, timeout: float = 180) -> dict:
    """Run ``code`` (which prints one JSON line last) in a fresh process with N CPU devices."""
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={n_devices}",
               JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


MULTI_DEVICE = """
import json, sys
import jax, numpy as np
sys.path.insert(0, "tests")
from sims.sharding import gather, kernel_mesh, sharded_kernel
from test_sharding import rbf, arccos1, rbf_ref, arccos1_ref

out = {"devices": jax.device_count()}
rng = np.random.default_rng(3)
try:  # before x64 is on, float64 data must be refused, not silently cast
    sharded_kernel(rbf, rng.standard_normal((8, 2)))
    out["x64_refused"] = False
except TypeError as e:
    out["x64_refused"] = "x64" in str(e)
jax.config.update("jax_enable_x64", True)
for n1 in (96, 101):
    x1, x2 = rng.standard_normal((n1, 6)), rng.standard_normal((40, 6))
    for name, kern, ref in (("rbf", rbf, rbf_ref), ("arccos1", arccos1, arccos1_ref)):
        k = sharded_kernel(kern, x1, x2, block_rows=8)
        one = sharded_kernel(kern, x1, x2, block_rows=8, mesh=kernel_mesh(jax.devices()[:1]))
        kh, oh, full = gather(k), gather(one), np.asarray(kern(x1, x2))
        out[f"{name}-{n1}"] = {
            "shape": list(kh.shape),
            "err_vs_one_device": float(np.max(np.abs(kh - oh) / np.maximum(np.abs(oh), 1e-300))),
            "bitwise_vs_one_device": bool(np.array_equal(kh, oh)),
            "err_vs_unsharded": float(np.max(np.abs(kh - full))),
            "err_vs_closed_form": float(np.max(np.abs(kh - ref(x1, x2)))),
        }
x1 = rng.standard_normal((96, 6))
k = sharded_kernel(rbf, x1, block_rows=8)
out["shards"] = sorted([s.device.id, s.index[0].start, s.index[0].stop] for s in k.addressable_shards)
kp = sharded_kernel(rbf, x1[:94], block_rows=8, trim=False)
out["padded_shape"] = list(kp.shape)
out["padded_rows_repeat_last"] = bool(np.allclose(gather(kp)[94:], gather(kp)[93]))
print(json.dumps(out))
"""


def test_four_virtual_devices_equal_one_device_and_closed_form():
    out = run_with_devices(4, MULTI_DEVICE)
    assert out["devices"] == 4
    assert out["x64_refused"]
    for n1 in (96, 101):
        for name in ("rbf", "arccos1"):
            r = out[f"{name}-{n1}"]
            assert r["shape"] == [n1, 40]
            assert r["err_vs_one_device"] <= RTOL, r
            assert r["err_vs_unsharded"] <= 1e-13, r
            assert r["err_vs_closed_form"] <= 1e-13, r
    # row blocks: device p holds rows 24p .. 24p+23
    assert out["shards"] == [[p, 24 * p, 24 * (p + 1)] for p in range(4)]
    assert out["padded_shape"] == [96, 94] and out["padded_rows_repeat_last"]


MULTI_HOST = """
import json, sys
import jax
process_id, port = int(sys.argv[1]), sys.argv[2]
jax.config.update("jax_enable_x64", True)
jax.distributed.initialize(coordinator_address=f"localhost:{port}", num_processes=2,
                           process_id=process_id)
import numpy as np
sys.path.insert(0, "tests")
from sims.sharding import gather, sharded_kernel
from test_sharding import arccos1_ref, arccos1
rng = np.random.default_rng(5)
x1, x2 = rng.standard_normal((40, 3)), rng.standard_normal((24, 3))  # same data in each process
k = sharded_kernel(arccos1, x1, x2, block_rows=4)
local_rows = sorted(s.index[0].start for s in k.addressable_shards)
kh = gather(k)
print(json.dumps({"processes": jax.process_count(), "devices": jax.device_count(),
                  "local_rows": local_rows, "shape": list(kh.shape),
                  "err": float(np.max(np.abs(kh - arccos1_ref(x1, x2))))}))
"""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_processes_with_jax_distributed_share_one_kernel_matrix():
    """Several hosts, emulated: 2 processes x 2 CPU devices joined by jax.distributed."""
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
               JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT))
    port = str(_free_port())
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(MULTI_HOST), str(i), port],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for i in range(2)]
    outs = []
    try:
        for p in procs:
            stdout, stderr = p.communicate(timeout=150)
            assert p.returncode == 0, stderr[-3000:]
            outs.append(json.loads(stdout.strip().splitlines()[-1]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for o in outs:
        assert o["processes"] == 2 and o["devices"] == 4 and o["shape"] == [40, 24]
        assert o["err"] <= 1e-13
    # each process holds its own two row slabs of 10 rows, and together they cover all 40
    assert sorted(r for o in outs for r in o["local_rows"]) == [0, 10, 20, 30]
    assert all(len(o["local_rows"]) == 2 for o in outs)


def test_a_fresh_partial_per_call_reuses_the_compiled_kernel(rng):
    from sims import sharding

    x = rng.standard_normal((12, 3))
    k1 = sharded_kernel(functools.partial(rbf, lengthscale=0.7), x)
    n = len(sharding._CACHE)
    k2 = sharded_kernel(functools.partial(rbf, lengthscale=0.7), x)
    assert len(sharding._CACHE) == n
    np.testing.assert_array_equal(gather(k1), gather(k2))
    k3 = sharded_kernel(functools.partial(rbf, lengthscale=2.0), x)  # a different kernel
    assert len(sharding._CACHE) == n + 1
    np.testing.assert_allclose(gather(k3), rbf_ref(x, x, 2.0), rtol=RTOL)


# -- the neural kernels of sims.kernels.stax (NNGP / NTK), sharded -------------------

def _stax_kernel():
    stax = pytest.importorskip("sims.kernels.stax")
    _, _, kernel_fn = stax.serial(stax.Dense(512), stax.Relu(), stax.Dense(1))
    return kernel_fn


@pytest.mark.parametrize("get", ["nngp"])
def test_stax_kernel_sharded_equals_unsharded(rng, get):
    kernel_fn = _stax_kernel()
    x1, x2 = rng.standard_normal((37, 4)), rng.standard_normal((11, 4))
    k = sharded_kernel(functools.partial(kernel_fn, get=get), x1, x2, block_rows=8)
    full = np.asarray(kernel_fn(x1, x2, get=get))
    assert k.shape == full.shape == (37, 11)
    np.testing.assert_allclose(gather(k), full, rtol=RTOL, atol=1e-14)


STAX_MULTI_DEVICE = """
import functools, json
import jax, numpy as np
jax.config.update("jax_enable_x64", True)
from sims.kernels import stax
from sims.sharding import gather, kernel_mesh, sharded_kernel
_, _, kernel_fn = stax.serial(stax.Dense(512), stax.Relu(), stax.Dense(1))
rng = np.random.default_rng(4)
x1, x2 = rng.standard_normal((64, 5)), rng.standard_normal((30, 5))
out = {"devices": jax.device_count()}
for get in ("nngp",):
    kern = functools.partial(kernel_fn, get=get)
    many = gather(sharded_kernel(kern, x1, x2, block_rows=4))
    one = gather(sharded_kernel(kern, x1, x2, block_rows=4, mesh=kernel_mesh(jax.devices()[:1])))
    full = np.asarray(kernel_fn(x1, x2, get=get))
    scale = float(np.max(np.abs(full)))
    out[get] = {"vs_one": float(np.max(np.abs(many - one))) / scale,
                "vs_unsharded": float(np.max(np.abs(many - full))) / scale}
print(json.dumps(out))
"""


def test_stax_kernel_on_four_virtual_devices_equals_one_device():
    _stax_kernel()
    out = run_with_devices(4, STAX_MULTI_DEVICE)
    assert out["devices"] == 4
    for get in ("nngp",):
        assert out[get]["vs_one"] <= RTOL and out[get]["vs_unsharded"] <= RTOL, out
