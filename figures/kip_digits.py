"""KIP on real digits: test accuracy vs images per class, learned images, training curve.

Nguyen, Chen, Lee, "Dataset Meta-Learning from Kernel Ridge-Regression" (ICLR 2021,
arXiv:2011.00050), Table 1 / Fig. 1 setting (FC kernels, KRR test accuracy of the distilled
set vs a random class-balanced subset), redone offline on scikit-learn's 8x8 digits
(1797 images; 1258 train / 539 held-out test, stratified; per-channel standardization).

For every budget (images per class 1, 5, 10, 50) and seed, the support set starts as a
random class-balanced subset (the "random" baseline, same seed); KIP then runs ``steps``
Adam steps on the images (labels fixed), and Label Solve (closed-form labels for the random
images, targets = the full training set) is reported as a second baseline.  Full-data KRR
(all 1258 training images) is the ceiling.  A finite width-512 ReLU network trained by GD
on the random and on the KIP images reports transfer (not asserted).

Kernel: one-hidden-layer ReLU NTK, ``W_std = √2, b_std = 0.1`` (the notebook's FC1), the
``kernel_fn`` of the stax description :func:`sims.kip.kernel.fc_network` (whose finite network
is the transfer net).
"""
from __future__ import annotations

import functools

import numpy as np

from figures.core import Claim, Figure, RunContext
from figures.core.claims import Verdict, t_interval, verdict_from_interval, worst

GAP_PP = 3.0  # stated before measuring: KIP at 10/class within 3 points of full-data KRR

_CHOICES = ("Data: sklearn load_digits (8x8, offline) instead of MNIST/CIFAR; 30% stratified "
            "held-out split; per-channel standardization on the training split. Kernel: FC1 ReLU "
            "NTK (W=sqrt2, b=0.1), lambda=1e-6 (notebook). Adam lr 0.04, fresh class-balanced "
            "target batch of target_per_class x 10 images per step, labels fixed in the claims "
            "(KIP with label learning reported); steps as in "
            "the config (the paper runs >=1000). Uncertainty: t-interval (95%) over seeds.")

CLAIMS = (
    Claim(id="kip_digits.beats_random",
          statement="KIP-distilled support sets give higher KRR test accuracy than random "
                    "class-balanced subsets of the same size, at every budget",
          claimed="acc(KIP) - acc(random) > 0 at 1, 5, 10, 50 images per class",
          source="arXiv:2011.00050, Table 1 and Fig. 1 (FC kernels, MNIST/CIFAR-10)",
          choices=_CHOICES),
    Claim(id="kip_digits.near_full",
          statement="KIP with 10 images per class comes within a small gap of KRR on the "
                    "full training set",
          claimed=f"acc(full KRR) - acc(KIP, 10/class) <= {GAP_PP:g} percentage points "
                  "(gap stated by us; the paper reports MNIST 97.2% at 10/class for FC KIP)",
          source="arXiv:2011.00050, Table 1",
          choices=_CHOICES + f" The {GAP_PP:g}-point gap is our choice, fixed before running."),
)


@functools.lru_cache(maxsize=1)
def _kernel():
    """The FC1 NTK, built once so every point reuses one compiled KIP program."""
    from sims.kip import exact_kernel, fc_network

    return exact_kernel(fc_network(W_std=2 ** 0.5, b_std=0.1)[2], get="ntk", name="fc1-ntk")


def _point(point: dict) -> dict:
    """One (budget, seed): random subset, Label Solve, KIP, finite-net transfer."""
    import jax

    from sims.kip import centered_one_hot, distill, label_solve, load_digits_split, support_accuracy
    from sims.kip.transfer import finite_net_accuracy

    d = load_digits_split(seed=point["split_seed"])
    kernel = _kernel()
    reg = point["reg"]
    ev = lambda x, y: support_accuracy(kernel, x, y, d.x_test, d.y_test, reg=reg)  # noqa: E731
    res = distill(d.x_train, d.y_train, kernel=kernel, n_per_class=point["ipc"],
                  steps=point["steps"], key=jax.random.key(point["seed"]), lr=point["lr"],
                  reg=reg, target_per_class=point["target_per_class"],
                  checkpoint_every=point["eval_every"], eval_fn=ev, progress=False,
                  checkpoint=point.get("_checkpoint"))
    acc_kl = np.nan
    if point["label_learning"]:
        res_l = distill(d.x_train, d.y_train, kernel=kernel, n_per_class=point["ipc"],
                        steps=point["steps"], key=jax.random.key(point["seed"]), lr=point["lr"],
                        reg=reg, target_per_class=point["target_per_class"], learn_labels=True,
                        checkpoint_every=point["steps"], progress=False)
        acc_kl = support_accuracy(kernel, res_l.x, res_l.y, d.x_test, d.y_test, reg=reg)
    y_ls = label_solve(kernel, res.x_init, d.x_train, centered_one_hot(d.y_train, d.n_classes),
                       reg=reg)
    kt = jax.random.key(10_000 + point["seed"])
    tr = {name: finite_net_accuracy(x, res.y_init, d.x_test, d.y_test, key=kt,
                                    width=point["width"], steps=point["net_steps"])
          for name, x in (("random", res.x_init), ("kip", res.x))}
    return {"acc_random": res.evals[0, 1], "acc_kip": res.evals[-1, 1],
            "acc_kip_labels": acc_kl,
            "acc_ls": support_accuracy(kernel, res.x_init, y_ls, d.x_test, d.y_test, reg=reg),
            "net_random": tr["random"], "net_kip": tr["kip"],
            "curve_steps": res.evals[:, 0], "curve_acc": res.evals[:, 1], "loss": res.loss,
            "x_init": res.x_init, "x_kip": res.x}


def compute(cfg: dict, ctx: RunContext) -> dict:
    from sims.kip import centered_one_hot, load_digits_split, support_accuracy

    d = load_digits_split(seed=cfg["seed"])
    keys = ("steps", "lr", "reg", "target_per_class", "eval_every", "width", "net_steps",
            "label_learning")
    points = [{"ipc": b, "seed": 1000 * cfg["seed"] + s, "split_seed": cfg["seed"],
               **{k: cfg[k] for k in keys}}
              for b in cfg["budgets"] for s in range(cfg["n_seeds"])]
    # A kill mid-distillation loses at most one checkpoint interval (eval_every steps): each
    # point checkpoints under the run's cache key; the checkpoint is fingerprinted by what
    # it computes (sims.kip.distill.fingerprint_parts), and --force starts afresh.
    import shutil

    from figures.core.sweep import point_key

    ck = ctx.workdir / f"kip-{(ctx.cache_key or ctx.config_hash)[:16]}"
    if ctx.force:
        shutil.rmtree(ck, ignore_errors=True)
    for p in points:
        p["_checkpoint"] = str(ck / f"{point_key(p)}.npz")
    out = ctx.sweep(_point, points, desc="KIP budgets x seeds")
    nb, ns = len(cfg["budgets"]), cfg["n_seeds"]
    grab = lambda k: np.array([o[k] for o in out], float).reshape(nb, ns)  # noqa: E731
    full = support_accuracy(_kernel(), d.x_train, centered_one_hot(d.y_train, d.n_classes),
                        d.x_test, d.y_test, reg=cfg["reg"])
    show = cfg["budgets"].index(cfg["show_ipc"]) * ns
    data = {k: grab(k) for k in ("acc_random", "acc_kip", "acc_kip_labels", "acc_ls", "net_random",
                                   "net_kip")}
    data.update(budgets=np.array(cfg["budgets"]), acc_full=np.array(full),
                curve_steps=out[0]["curve_steps"],
                curve_acc=np.stack([o["curve_acc"] for o in out]).reshape(nb, ns, -1),
                loss=np.stack([o["loss"] for o in out]).reshape(nb, ns, -1),
                img_init=out[show]["x_init"], img_kip=out[show]["x_kip"])
    return data


def _validate(cfg):
    if cfg["show_ipc"] not in cfg["budgets"]:
        raise ValueError(f"show_ipc={cfg['show_ipc']} must be one of budgets={cfg['budgets']}")


def check(data, cfg):
    budgets = [int(b) for b in data["budgets"]]
    diffs, cis, verdicts = {}, {}, []
    for i, b in enumerate(budgets):
        m, lo, hi = t_interval(data["acc_kip"][i] - data["acc_random"][i])
        diffs[b], cis[b] = m, [lo, hi]
        verdicts.append(verdict_from_interval(lo, hi, accept_lo=0.0))
    tr = {b: [float(np.mean(data["net_random"][i])), float(np.mean(data["net_kip"][i]))]
          for i, b in enumerate(budgets)}
    r1 = CLAIMS[0].result(
        verdict=worst(verdicts), measured={str(b): diffs[b] for b in budgets},
        uncertainty={"ci95_t_over_seeds": {str(b): cis[b] for b in budgets},
                     "n_seeds": int(data["acc_kip"].shape[1])},
        fit_range={"images_per_class": budgets},
        details="accuracy gain of KIP over its random start, per budget; "
                + "; ".join(f"{b}/class: random {np.mean(data['acc_random'][i]):.3f}, "
                            f"LS {np.mean(data['acc_ls'][i]):.3f}, KIP "
                            f"{np.mean(data['acc_kip'][i]):.3f}, KIP+labels "
                            f"{np.mean(data['acc_kip_labels'][i]):.3f}" for i, b in enumerate(budgets))
                + f". Transfer (reported, not asserted): finite width-{cfg['width']} net, GD "
                  f"{cfg['net_steps']} steps, test acc random->KIP images: "
                + "; ".join(f"{b}/class {v[0]:.3f}->{v[1]:.3f}" for b, v in tr.items()))
    if 10 in budgets:
        i = budgets.index(10)
        full = float(data["acc_full"])
        m, lo, hi = t_interval(100 * (full - data["acc_kip"][i]))
        r2 = CLAIMS[1].result(
            verdict=verdict_from_interval(lo, hi, accept_hi=GAP_PP), measured=m,
            uncertainty={"ci95_t_over_seeds_pp": [lo, hi]}, fit_range={"images_per_class": 10},
            details=f"full-data KRR {full:.4f} (1258 images); KIP 10/class "
                    f"{np.mean(data['acc_kip'][i]):.4f} +- {np.std(data['acc_kip'][i], ddof=1):.4f}")
    else:
        r2 = CLAIMS[1].result(verdict=Verdict.INCONCLUSIVE, measured=None,
                              details="budget 10 not in this config")
    return [r1, r2]


def plot(data, cfg):
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(12, 8.5))
    gs = fig.add_gridspec(2, 2)
    b = data["budgets"]
    ax = fig.add_subplot(gs[0, 0])
    for k, lab, st in (("acc_random", "random subset", "o-"), ("acc_ls", "Label Solve", "s-"),
                       ("acc_kip", "KIP", "D-"), ("acc_kip_labels", "KIP + label learning", "^--")):
        if np.all(np.isnan(data[k])):
            continue
        ax.errorbar(b, 100 * data[k].mean(1), 100 * data[k].std(1, ddof=1), fmt=st, capsize=3,
                    label=f"{lab} (KRR)")
    ax.axhline(100 * float(data["acc_full"]), color="k", ls=":", label="full-train KRR")
    ax.set(xscale="log", xlabel="images per class", ylabel="test accuracy (%)",
           title="(a) FC1 NTK KRR on digits, mean ± std over seeds")
    ax.set_xticks(b, [str(int(v)) for v in b])
    ax.legend(fontsize=8)

    ax = fig.add_subplot(gs[0, 1])
    for i, bi in enumerate(b):
        c = 100 * data["curve_acc"][i]
        ax.plot(data["curve_steps"], c.mean(0), "o-", ms=3, label=f"{int(bi)}/class")
        ax.fill_between(data["curve_steps"], c.mean(0) - c.std(0), c.mean(0) + c.std(0), alpha=0.2)
    ax.set(xlabel="KIP step", ylabel="test accuracy (%)", title="(b) training curve")
    ax2 = ax.inset_axes([0.55, 0.12, 0.4, 0.35])
    for i in range(len(b)):
        ax2.semilogy(data["loss"][i].mean(0), lw=0.8)
    ax2.set_title("KIP loss", fontsize=7)
    ax2.tick_params(labelsize=6)
    ax.legend(fontsize=8, loc="upper left")

    ax = fig.add_subplot(gs[1, 0])
    ipc = int(cfg["show_ipc"])
    per = min(ipc, 3)
    rows = []
    for src in (data["img_init"], data["img_kip"]):
        imgs = src[..., 0].reshape(10, ipc, 8, 8)[:, :per]
        rows.append(np.concatenate([np.concatenate(list(imgs[:, j]), axis=1) for j in range(per)]))
    mosaic = np.concatenate([rows[0], np.full((2, rows[0].shape[1]), np.nan), rows[1]])
    v = np.nanpercentile(np.abs(mosaic), 99)
    ax.imshow(mosaic, cmap="gray_r", vmin=-v, vmax=v)
    ax.set(xticks=[], yticks=[], title=f"(c) support images ({ipc}/class, first {per} shown): "
                                       "random start (top) → KIP (bottom)")

    ax = fig.add_subplot(gs[1, 1])
    w = 0.38
    xs = np.arange(len(b))
    for off, k, lab in ((-w / 2, "net_random", "random images"), (w / 2, "net_kip", "KIP images")):
        ax.bar(xs + off, 100 * data[k].mean(1), w, yerr=100 * data[k].std(1, ddof=1), capsize=3,
               label=lab)
    ax.set_xticks(xs, [f"{int(v)}/class" for v in b])
    ax.set(ylabel="test accuracy (%)", ylim=(0, 100),
           title=f"(d) transfer: width-{cfg['width']} ReLU net, GD (reported, not asserted)")
    ax.legend(fontsize=8)
    fig.suptitle("KIP (arXiv:2011.00050) on sklearn digits: distilled vs random support sets")
    fig.tight_layout()
    return fig


FIGURE = Figure(
    name="kip_digits",
    title="KIP vs random subsets vs full-data KRR on 8x8 digits (FC1 NTK)",
    paper="Nguyen, Chen, Lee (ICLR 2021), arXiv:2011.00050, Table 1 / Fig. 1 (on load_digits)",
    claims=CLAIMS,
    config={"budgets": [1, 5, 10, 50], "n_seeds": 5, "steps": 300, "lr": 0.04, "reg": 1e-6,
            "target_per_class": 50, "eval_every": 50, "width": 512, "net_steps": 1000,
            "show_ipc": 10, "label_learning": True},
    quick={"budgets": [1, 10], "n_seeds": 2, "steps": 20, "eval_every": 10, "net_steps": 50},
    compute=compute, check=check, plot=plot, expected_seconds=240, version=2,
    bounds={"lr": (1e-8, 10.0), "reg": (1e-14, 1.0)}, validate=_validate,
)
