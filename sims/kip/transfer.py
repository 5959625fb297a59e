"""Do distilled images transfer to a finite network?  Train one by full-batch GD and test it.

KIP support sets are learned for an infinite-width kernel; arXiv:2011.00050 (§4) and
arXiv:2107.13034 (§4) also train *finite* networks on them.  Here the network is the finite
network of the same stax description as the kernel, :func:`sims.kip.kernel.fc_network`
(``Flatten - Dense(width, W, b) - Relu - Dense(C, W, b)``), in the NTK parameterization
(Jacot et al. 2018),

    f(x) = (W/√n) V relu((W/√d) U x + b c) + b c₂,   U, V, c, c₂ ~ N(0, 1),

trained on the support set with the MSE loss ``½ mean_i ‖f(x_i) − y_i‖²`` by full-batch
gradient descent with step ``η = lr_scale · n_s / λ_max(Θ_ss)`` (Θ the infinite-width NTK
of the support set, the ``kernel_fn`` of the same description: GD on the linearised net is
stable for ``lr_scale < 2``).  Choices the papers leave open for this small setting: width 512,
1000 steps, ``lr_scale = 1``.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from sims.kip.kernel import fc_network


def _init(key, d, width, n_out):
    """``U, c, V, c₂`` as the stax parameters ``((), (U, c), (), (V, c₂))`` of :func:`fc_network`."""
    ku, kv, kc, kc2 = jax.random.split(key, 4)
    return ((), (jax.random.normal(ku, (d, width)), jax.random.normal(kc, (width,))), (),
            (jax.random.normal(kv, (width, n_out)), jax.random.normal(kc2, (n_out,))))


@functools.lru_cache(maxsize=16)
def _network(width: int, n_out: int, W_std: float, b_std: float):
    return fc_network(width=width, n_out=n_out, W_std=W_std, b_std=b_std)


@functools.partial(jax.jit, static_argnames=("steps", "W_std", "b_std"))
def _train(p, x, y, lr, *, steps, W_std, b_std):
    apply_fn = _network(p[1][0].shape[1], y.shape[1], W_std, b_std)[1]

    def loss(p):
        return 0.5 * jnp.mean(jnp.sum((apply_fn(p, x) - y) ** 2, axis=1))

    def body(p, _):
        g = jax.grad(loss)(p)
        return jax.tree.map(lambda a, b: a - lr * b, p, g), None

    return jax.lax.scan(body, p, None, length=steps)[0]


def finite_net_accuracy(x_s, y_s, x_test, labels_test, *, key: jax.Array, width: int = 512,
                        steps: int = 1000, lr_scale: float = 1.0, W_std: float = 2 ** 0.5,
                        b_std: float = 0.1) -> float:
    """Test accuracy of a width-``width`` one-hidden-layer ReLU net trained by GD on ``(x_s, y_s)``."""
    x_s, y_s = jnp.asarray(x_s), jnp.asarray(y_s)
    n = x_s.shape[0]
    _, apply_fn, kernel_fn = _network(width, y_s.shape[1], W_std, b_std)
    theta = np.asarray(kernel_fn(x_s, None, get="ntk"))
    lr = lr_scale * n / float(np.linalg.eigvalsh(theta)[-1])
    p = _init(key, int(np.prod(x_s.shape[1:])), width, y_s.shape[1])
    p = _train(p, x_s, y_s, lr, steps=steps, W_std=W_std, b_std=b_std)
    pred = np.asarray(apply_fn(p, jnp.asarray(x_test)))
    return float(np.mean(np.argmax(pred, axis=1) == np.asarray(labels_test)))
