"""Produce the stored neural-tangents reference kernels of ``tests/test_kernels_nt_parity.py`` (run by hand).

Run once, in a separate virtual environment outside the repository (neural-tangents 0.6.5 no longer
imports on current JAX; it is *never* a dependency of theorylab)::

    python3.11 -m venv /work/nt_venv
    /work/nt_venv/bin/pip install jax==0.4.26 jaxlib==0.4.26 'numpy<2' 'scipy<1.13' neural-tangents==0.6.5
    /work/nt_venv/bin/python tests/nt_reference/generate.py [FAMILY ...]   # only these families / "predict"

It draws seeded random architectures (``numpy.random.default_rng(1000 + i)``) from a small grammar
of layers both libraries have, describes each as JSON (``build`` below turns the description into a
network of either library), evaluates neural-tangents' ``kernel_fn`` in float64 on seeded inputs and
writes one ``.npz`` per architecture to ``tests/data/nt_reference/`` holding the description,
the inputs, ``nngp``/``ntk`` of ``K(x1, x2)`` and of ``K(x1, x1)`` (``x2=None``), and the versions.
``predict_*.npz`` hold ``nt.predict.gradient_descent_mse_ensemble`` means and covariances.
"""
from __future__ import annotations

import json
import pathlib
import sys

import numpy as np

OUT = pathlib.Path(__file__).resolve().parents[1] / "data" / "nt_reference"


def _tuples(v):
    return tuple(_tuples(a) for a in v) if isinstance(v, list) else v


def build(spec, stax):
    """Network ``(init_fn, apply_fn, kernel_fn)`` of ``stax`` (either library) from a JSON description.

    ``["serial", [spec, ...]]``, ``["parallel", [spec, ...]]`` or ``[name, args, kwargs]``.
    """
    head = spec[0]
    if head in ("serial", "parallel"):
        return getattr(stax, head)(*(build(s, stax) for s in spec[1]))
    _, args, kwargs = spec
    return getattr(stax, head)(*(_tuples(a) for a in args), **{k: _tuples(v) for k, v in kwargs.items()})


# -- the grammar ------------------------------------------------------------------------------------

def _affine_kw(rng, param):
    kw = {"W_std": round(float(rng.uniform(0.6, 2.0)), 3),
          "b_std": None if rng.random() < 0.3 else round(float(rng.uniform(0.0, 0.6)), 3)}
    if param == "standard":
        kw["parameterization"] = "standard"
    return kw


def _activation(rng, *, gaussian_ok=True):
    r = lambda lo, hi: round(float(rng.uniform(lo, hi)), 3)  # noqa: E731
    choices = [
        ["Relu", [], {}], ["Gelu", [], {}], ["Abs", [], {}], ["Sigmoid_like", [], {}],
        ["Erf", [], {"a": r(0.5, 1.5), "b": r(0.5, 1.5), "c": r(-0.3, 0.3)}],
        ["ABRelu", [], {"a": r(-1, 0.5), "b": r(0.5, 1.5)}],
        ["LeakyRelu", [], {"alpha": r(0.0, 0.3)}],
        ["Sin", [], {"a": r(0.5, 1.5), "b": r(0.5, 1.5), "c": r(-1, 1)}],
        ["Cos", [], {"a": r(0.5, 1.5), "b": r(0.5, 1.5), "c": r(-1, 1)}],
        ["Rbf", [], {"gamma": r(0.3, 1.5)}],
        ["Monomial", [], {"degree": int(rng.integers(1, 4))}],
        ["Exp", [], {"a": r(0.5, 1.2), "b": r(0.2, 0.6)}],
        ["Gaussian", [], {"a": r(0.5, 1.2), "b": r(-1.0, -0.2)}],
    ]
    return choices[int(rng.integers(len(choices)))]


def fc(rng):
    param = "standard" if rng.random() < 0.3 else "ntk"
    layers = []
    for _ in range(int(rng.integers(1, 4))):
        layers += [["Dense", [int(rng.integers(8, 64))], _affine_kw(rng, param)], _activation(rng)]
    layers.append(["Dense", [int(rng.integers(1, 4))], _affine_kw(rng, param)])
    return ["serial", layers], (int(rng.integers(3, 7)),)


def conv_pool(rng):
    ns = int(rng.integers(1, 3))
    size = tuple(int(v) for v in rng.integers(5, 8, size=ns))
    param = "standard" if rng.random() < 0.25 else "ntk"
    win = lambda hi: [int(v) for v in rng.integers(1, hi + 1, size=ns)]  # noqa: E731
    layers = []
    for _ in range(int(rng.integers(1, 3))):
        kw = _affine_kw(rng, param)
        kw["padding"] = str(rng.choice(["SAME", "VALID"]))
        if rng.random() < 0.4:
            kw["strides"] = win(2)
        layers += [["Conv", [int(rng.integers(4, 16)), win(3)], kw], _activation(rng)]
        if rng.random() < 0.8:
            pkw = {"padding": str(rng.choice(["SAME", "VALID"]))}
            if rng.random() < 0.6:
                pkw["strides"] = win(3)
            if rng.random() < 0.5:
                pkw["normalize_edges"] = bool(rng.random() < 0.5)
            layers.append(["AvgPool", [win(3)], pkw])
    layers.append(["Flatten", [], {}] if rng.random() < 0.5 else ["GlobalAvgPool", [], {}])
    layers.append(["Dense", [1], _affine_kw(rng, param)])
    return ["serial", layers], size + (int(rng.integers(1, 4)),)


def residual(rng):
    """Dense/Conv stem, then residual blocks ``FanOut(2) - parallel(main, Identity|Dense) - FanIn``."""
    conv = rng.random() < 0.5
    aff = (lambda c: ["Conv", [c, [3, 3]], dict(_affine_kw(rng, "ntk"), padding="SAME")]) if conv else \
        (lambda c: ["Dense", [c], _affine_kw(rng, "ntk")])
    layers = [aff(16)]
    for _ in range(int(rng.integers(1, 3))):
        main = ["serial", [_activation(rng), aff(16), _activation(rng), aff(16)]]
        short = ["Identity", [], {}] if rng.random() < 0.6 else aff(16)
        if rng.random() < 0.7:
            layers += [["FanOut", [2], {}], ["parallel", [main, short]], ["FanInSum", [], {}]]
        else:
            layers += [["FanOut", [2], {}], ["parallel", [main, ["serial", [_activation(rng), aff(8)]]]],
                       ["FanInConcat", [], {}]]
    layers += [_activation(rng)]
    layers += [["GlobalAvgPool", [], {}]] if conv else []
    layers.append(["Dense", [1], _affine_kw(rng, "ntk")])
    return ["serial", layers], ((5, 5, 2) if conv else (5,))


def layernorm(rng):
    conv = rng.random() < 0.5
    if conv:
        axis = [-1] if rng.random() < 0.5 else [1, 2, 3]
        layers = [["Conv", [8, [2, 2]], dict(_affine_kw(rng, "ntk"), padding="SAME")],
                  ["LayerNorm", [], {"axis": axis}], _activation(rng),
                  ["Conv", [8, [3, 3]], dict(_affine_kw(rng, "ntk"), padding="SAME")],
                  ["LayerNorm", [], {"axis": axis, "eps": 1e-3}], _activation(rng),
                  ["Flatten", [], {}], ["Dense", [1], _affine_kw(rng, "ntk")]]
        return ["serial", layers], (5, 4, 2)
    layers = [["Dense", [8], _affine_kw(rng, "ntk")], ["LayerNorm", [], {}], _activation(rng),
              ["Dense", [8], _affine_kw(rng, "ntk")], ["LayerNorm", [], {"eps": 0.01}], _activation(rng),
              ["Dense", [1], _affine_kw(rng, "ntk")]]
    return ["serial", layers], (6,)


def dropout(rng):
    rate = round(float(rng.uniform(0.5, 0.95)), 3)
    conv = rng.random() < 0.5
    if conv:
        layers = [["Conv", [8, [3]], dict(_affine_kw(rng, "ntk"), padding="SAME")], _activation(rng),
                  ["Dropout", [rate], {"mode": "train"}],
                  ["Conv", [8, [2]], dict(_affine_kw(rng, "ntk"), padding="VALID")], _activation(rng),
                  ["GlobalAvgPool", [], {}], ["Dense", [1], _affine_kw(rng, "ntk")]]
        return ["serial", layers], (6, 2)
    mode = "train" if rng.random() < 0.8 else "test"
    layers = [["Dense", [8], _affine_kw(rng, "ntk")], _activation(rng), ["Dropout", [rate], {"mode": mode}],
              ["Dense", [8], _affine_kw(rng, "ntk")], _activation(rng), ["Dense", [1], _affine_kw(rng, "ntk")]]
    return ["serial", layers], (5,)


def aggregate(rng):
    layers = [["Dense", [8], _affine_kw(rng, "ntk")], ["Aggregate", [], {}], _activation(rng),
              ["Dense", [8], _affine_kw(rng, "ntk")], ["Aggregate", [], {}], _activation(rng),
              ["GlobalAvgPool", [], {}] if rng.random() < 0.5 else ["Flatten", [], {}],
              ["Dense", [1], _affine_kw(rng, "ntk")]]
    return ["serial", layers], (int(rng.integers(4, 7)), 3)


def wide_resnet(rng):
    """WideResNet-style: NT's ``examples/infinite_fcn``-era ``WideResnet`` written out (small)."""
    W, b = 1.0, 0.0
    def conv(c, strides=(1, 1)):
        return ["Conv", [c, [3, 3]], {"strides": list(strides), "padding": "SAME", "W_std": W, "b_std": b}]
    def block(c, strides, channel_mismatch):
        main = ["serial", [["Relu", [], {}], conv(c, strides), ["Relu", [], {}], conv(c)]]
        short = ["Identity", [], {}] if not channel_mismatch else \
            ["Conv", [c, [3, 3]], {"strides": list(strides), "padding": "SAME", "W_std": W, "b_std": b}]
        return [["FanOut", [2], {}], ["parallel", [main, short]], ["FanInSum", [], {}]]
    k = 1
    layers = [conv(16)]
    for c, s in ((16 * k, (1, 1)), (32 * k, (2, 2)), (64 * k, (2, 2))):
        layers += block(c, s, True) + block(c, (1, 1), False)
    layers += [["AvgPool", [[2, 2]], {}], ["Flatten", [], {}], ["Dense", [1], {"W_std": 1.0, "b_std": 0.0}]]
    return ["serial", layers], (8, 8, 2)


def cnn_flatten(rng):
    """The pooling-free CNN of issue #20 (diagonal-spatial propagation): [Conv3x3 SAME-Relu]x3-Flatten-Dense."""
    conv = ["Conv", [16, [3, 3]], {"padding": "SAME", "W_std": 1.5, "b_std": 0.1}]
    layers = [conv, ["Relu", [], {}]] * 3 + [["Flatten", [], {}], ["Dense", [1], {"W_std": 1.5, "b_std": 0.1}]]
    return ["serial", layers], (8, 8, 3)


def conv_flatten(rng):
    """Random pooling-free CNNs with a Flatten readout (propagated diagonal-spatially by sims.kernels)."""
    ns = int(rng.integers(1, 3))
    size = tuple(int(v) for v in rng.integers(5, 9, size=ns))
    param = "standard" if rng.random() < 0.25 else "ntk"
    layers = []
    for _ in range(int(rng.integers(1, 4))):
        kw = _affine_kw(rng, param)
        kw["padding"] = str(rng.choice(["SAME", "VALID"]))
        if rng.random() < 0.3:
            kw["strides"] = [int(v) for v in rng.integers(1, 3, size=ns)]
        layers += [["Conv", [int(rng.integers(4, 16)), [int(v) for v in rng.integers(1, 4, size=ns)]], kw],
                   _activation(rng)]
    layers += [["Flatten", [], {}], ["Dense", [1], _affine_kw(rng, param)]]
    return ["serial", layers], size + (int(rng.integers(1, 4)),)


FAMILIES = {"fc": (fc, 10), "conv_pool": (conv_pool, 14), "residual": (residual, 5),
            "layernorm": (layernorm, 3), "dropout": (dropout, 3), "aggregate": (aggregate, 3),
            "wide_resnet": (wide_resnet, 1), "cnn_flatten": (cnn_flatten, 1), "conv_flatten": (conv_flatten, 5)}


def main():
    import jax
    jax.config.update("jax_enable_x64", True)
    import neural_tangents as nt
    from neural_tangents import stax

    only = set(sys.argv[1:])   # family names (or "predict") to (re)write; none: everything
    OUT.mkdir(parents=True, exist_ok=True)
    versions = json.dumps({"neural_tangents": nt.__version__, "jax": jax.__version__,
                           "numpy": np.__version__, "python": sys.version.split()[0]})
    i = 0
    for fam, (make, count) in FAMILIES.items():
        made = 0
        while made < count:
            rng = np.random.default_rng(1000 + i)
            i += 1
            spec, shape = make(rng)
            x1 = rng.normal(size=(3,) + shape)
            x2 = rng.normal(size=(2,) + shape)
            kwargs, kwargs_same = {}, {}
            extra = {}
            if fam == "aggregate":
                n = shape[0]
                p1 = (rng.random((3, n, n)) < 0.5).astype(np.float64)
                p2 = (rng.random((2, n, n)) < 0.5).astype(np.float64)
                kwargs, kwargs_same = {"pattern": (p1, p2)}, {"pattern": (p1, p1)}
                extra = {"pattern1": p1, "pattern2": p2}
            try:
                _, _, kernel_fn = build(spec, stax)
                k12 = kernel_fn(x1, x2, ("nngp", "ntk"), **kwargs)
                k11 = kernel_fn(x1, None, ("nngp", "ntk"), **kwargs_same)
            except Exception as e:  # noqa: BLE001 -- shapes that do not fit: draw again
                print(f"skip {fam} seed {1000 + i - 1}: {type(e).__name__}: {str(e)[:80]}")
                continue
            arrs = [np.asarray(a) for a in (*k12, *k11)]
            if not all(np.all(np.isfinite(a)) for a in arrs):
                print(f"skip {fam} seed {1000 + i - 1}: non-finite")
                continue
            if not only or fam in only:
                np.savez(OUT / f"{fam}_{made:02d}.npz", spec=json.dumps(spec), family=fam, seed=1000 + i - 1,
                         x1=x1, x2=x2, nngp=arrs[0], ntk=arrs[1], nngp_11=arrs[2], ntk_11=arrs[3],
                         versions=versions, **extra)
                print(f"{fam}_{made:02d}: {json.dumps(spec)[:110]}")
            made += 1
    if not only or "predict" in only:
        predictions(nt, stax, versions)


def predictions(nt, stax, versions):
    """``gradient_descent_mse_ensemble`` of two FC nets: means and covariances at t in TIMES and t = ∞."""
    times = np.array([0.0, 0.3, 2.0, 20.0])
    for j, (spec, diag_reg, lr) in enumerate([
            (["serial", [["Dense", [64], {"W_std": 1.5, "b_std": 0.1}], ["Relu", [], {}],
                         ["Dense", [1], {"W_std": 1.5, "b_std": 0.1}]]], 0.0, 1.0),
            (["serial", [["Dense", [64], {"W_std": 1.2, "b_std": 0.3}], ["Erf", [], {}],
                         ["Dense", [64], {"W_std": 1.2}], ["Gelu", [], {}],
                         ["Dense", [1], {"W_std": 1.2, "b_std": 0.3}]]], 1e-2, 0.7)]):
        rng = np.random.default_rng(2000 + j)
        x_train, x_test = rng.normal(size=(8, 4)), rng.normal(size=(3, 4))
        y_train = rng.normal(size=(8, 2))
        _, _, kernel_fn = build(spec, stax)
        predict_fn = nt.predict.gradient_descent_mse_ensemble(kernel_fn, x_train, y_train,
                                                              learning_rate=lr, diag_reg=diag_reg)
        out = {}
        for g in ("nngp", "ntk"):
            m, c = predict_fn(t=times, x_test=x_test, get=g, compute_cov=True)
            mi, ci = predict_fn(t=None, x_test=x_test, get=g, compute_cov=True)
            mtr = predict_fn(t=times, x_test=None, get=g, compute_cov=False)
            out.update({f"{g}_mean": m, f"{g}_cov": c, f"{g}_mean_inf": mi, f"{g}_cov_inf": ci,
                        f"{g}_mean_train": mtr})
        np.savez(OUT / f"predict_{j:02d}.npz", spec=json.dumps(spec), x_train=x_train, x_test=x_test,
                 y_train=y_train, times=times, diag_reg=diag_reg, learning_rate=lr, versions=versions,
                 **{k: np.asarray(v) for k, v in out.items()})
        print(f"predict_{j:02d}")


if __name__ == "__main__":
    main()
