"""KIP dataset distillation with neural kernels (arXiv:2011.00050, arXiv:2107.13034).

Modules
-------
data        validated (X, y), held-out split, per-channel standardization, balanced subsets
kernel      how KIP evaluates a kernel: any stax kernel_fn, any sketch, a fixed feature map
            (the KRR itself, with the trace-scaled ridge, is sims.kernels.krr)
kip         KIP loss, Adam, jitted scan steps, Label Solve
distill     the driver: checkpoints, resume, progress bar
checkpoint  atomic ``.npz`` checkpoints

Example
-------
>>> import jax, functools
>>> from sims.kip import distill, exact_kernel, load_digits_split, support_accuracy
>>> from sims.kernels import stax
>>> _, _, kfn = stax.serial(stax.Flatten(), stax.Dense(512, W_std=2**0.5, b_std=0.1), stax.Relu(),
...                         stax.Dense(1, W_std=2**0.5, b_std=0.1))
>>> kernel = exact_kernel(kfn, get="ntk", name="fc1-ntk")
>>> d = load_digits_split(seed=0)
>>> res = distill(d.x_train.reshape(len(d.x_train), -1), d.y_train, kernel=kernel,
...               n_per_class=10, steps=200, key=jax.random.key(0))      # doctest: +SKIP
"""
from sims.kip.data import (Split, balanced_subset, centered_one_hot, check_xy,
                           load_digits_split, split_standardize)
from sims.kip.distill import KipResult, distill
from sims.kip.kip import adam_init, adam_update, kip_loss, kip_step, label_solve
from sims.kip.kernel import (KipKernel, embed_batched, exact_kernel, fc_network, feature_kernel,
                             sketch_kernel, support_accuracy)

__all__ = [
    "Split", "balanced_subset", "centered_one_hot", "check_xy", "load_digits_split",
    "split_standardize", "KipResult", "distill", "adam_init", "adam_update", "kip_loss",
    "kip_step", "label_solve", "KipKernel", "embed_batched", "exact_kernel", "feature_kernel",
    "sketch_kernel", "support_accuracy", "fc_network",
]
