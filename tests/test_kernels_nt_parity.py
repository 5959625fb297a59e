"""Parity with neural-tangents 0.6.5: stored NT kernels of seeded random architectures.

The reference values were produced once by ``tests/nt_reference/generate.py`` in a separate
environment (neural-tangents 0.6.5, jax 0.4.26, float64; versions stored in every file) and live in
``tests/data/nt_reference/*.npz``: for each architecture its JSON description, the inputs, and NT's
``nngp``/``ntk`` of ``K(x1, x2)`` and ``K(x1, x1)`` (``x2=None``).  The same description builds our
network here.  Tolerance: both libraries evaluate the same closed forms in float64, in a different
order, so agreement is to round-off; ``rtol=1e-10`` (measured max relative error ~1e-13) leaves room
for deeper nets while any semantic difference (a default, a padding rule) shows as >= 1e-3.
"""
import json
import pathlib

import jax.numpy as jnp
import numpy as np
import pytest

from sims.kernels import stax

DATA = pathlib.Path(__file__).parent / "data" / "nt_reference"
FILES = sorted(p.name for p in DATA.glob("*.npz") if not p.name.startswith("predict_"))


def _tuples(v):
    return tuple(_tuples(a) for a in v) if isinstance(v, list) else v


def build(spec):
    """Our network from the JSON description (the grammar of ``tests/nt_reference/generate.py``)."""
    head = spec[0]
    if head in ("serial", "parallel"):
        return getattr(stax, head)(*(build(s) for s in spec[1]))
    _, args, kwargs = spec
    return getattr(stax, head)(*(_tuples(a) for a in args), **{k: _tuples(v) for k, v in kwargs.items()})


def _rel(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def test_enough_stored_architectures():
    assert len(FILES) >= 30
    fams = {np.load(DATA / f)["family"].item() for f in FILES}
    assert {"fc", "conv_pool", "residual", "layernorm", "dropout", "aggregate", "wide_resnet"} <= fams
    versions = json.loads(np.load(DATA / FILES[0])["versions"].item())
    assert versions["neural_tangents"] == "0.6.5"


@pytest.mark.parametrize("name", FILES)
def test_matches_neural_tangents(name):
    d = np.load(DATA / name)
    spec = json.loads(d["spec"].item())
    _, _, kernel_fn = build(spec)
    kw12, kw11 = {}, {}
    if "pattern1" in d:
        kw12 = {"pattern": (jnp.asarray(d["pattern1"]), jnp.asarray(d["pattern2"]))}
        kw11 = {"pattern": (jnp.asarray(d["pattern1"]), jnp.asarray(d["pattern1"]))}
    k12 = kernel_fn(d["x1"], d["x2"], get=("nngp", "ntk"), **kw12)
    k11 = kernel_fn(d["x1"], None, get=("nngp", "ntk"), **kw11)
    errs = {"nngp": _rel(k12.nngp, d["nngp"]), "ntk": _rel(k12.ntk, d["ntk"]),
            "nngp_11": _rel(k11.nngp, d["nngp_11"]), "ntk_11": _rel(k11.ntk, d["ntk_11"])}
    assert max(errs.values()) < 1e-8, (spec, errs)


def test_wide_resnet_helper_matches_neural_tangents():
    # one description (stax.WideResnet) gives the stored NT kernel of the written-out WideResNet
    d = np.load(DATA / "wide_resnet_00.npz")
    _, _, kernel_fn = stax.WideResnet(block_size=2, k=1, num_classes=1, W_std=1.0, b_std=0.0,
                                      readout="flatten")
    k = kernel_fn(d["x1"], d["x2"], get=("nngp", "ntk"))
    assert max(_rel(k.nngp, d["nngp"]), _rel(k.ntk, d["ntk"])) < 1e-8
