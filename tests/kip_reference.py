"""Second implementations (test references) of two small neural kernels and their random features.

These were KIP's own kernels (``sims/kip/fc_kernels.py``, ``sims/kip/conv_kernels.py``); KIP now
takes any ``sims.kernels.stax`` kernel_fn and any ``sims.kernels.sketch``, and the code lives here
as an independent second implementation that the tests compare the production stack with
(neural-tangents conventions, 'ntk' parameterization; Lee et al. 2018, Jacot et al. 2018, Arora
et al. 2019 for the arc-cosine forms):

- :func:`relu_fc1_kernel`: ``Flatten → Dense(W, b) → Relu → Dense(W, b)``,
  ``Σ¹ = W² x·x'/d + b²``, ``T = √(q q')/(2π)(sin θ + (π − θ) cos θ)``, ``Ṫ = (π − θ)/(2π)``,
  ``NNGP = W² T + b²``, ``NTK = NNGP + W² Σ¹ Ṫ`` — from the cosine ``Σ¹/√(q q')`` and its own safe
  square root, not the ``√(q q' − Σ²)`` form of :mod:`theory.dual_activations`;
- :func:`relu_conv_gap_kernel`: ``Conv(3x3, SAME, W, b) → Relu → GlobalAvgPool → Dense(W, b)`` from
  explicit 3x3 patch inner products (not the shifted-diagonal sums of :mod:`sims.kernels.spatial`);
- :func:`relu_nngp_features`, :func:`relu_conv_gap_features`: random features with ``E φφᵀ = NNGP``
  (Cho & Saul 2009; Loo et al. 2022, RFAD, for the pooled conv features).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp


def _flat(x):
    x = jnp.asarray(x)
    return x.reshape(x.shape[0], -1)


@jax.custom_jvp
def _sqrt0(z):
    """``√max(z, 0)`` whose derivative is cut to 0 below ``1e-12`` (finite KIP gradients at ``θ = 0``)."""
    return jnp.sqrt(jnp.maximum(z, 0.0))


@_sqrt0.defjvp
def _sqrt0_jvp(primals, tangents):
    (z,), (dz,) = primals, tangents
    return _sqrt0(z), jnp.where(z > 1e-12, dz / (2 * jnp.sqrt(jnp.maximum(z, 1e-12))), 0.0)


def _relu_maps(s12, q1, q2):
    """``(T, Ṫ)`` of ReLU with ``θ = arctan2(√(q q') sin θ, Σ)``, ``sin θ = √(1 − cos²θ)`` (own safe sqrt)."""
    nrm = jnp.sqrt(q1 * q2)
    cos = jnp.clip(s12 / nrm, -1.0, 1.0)
    sin = nrm * _sqrt0(1.0 - cos ** 2)
    theta = jnp.arctan2(sin, s12)
    return (sin + (jnp.pi - theta) * s12) / (2 * jnp.pi), (jnp.pi - theta) / (2 * jnp.pi)


def relu_fc1_kernel(x1, x2, *, get: str = "ntk", W_std: float = 2 ** 0.5, b_std: float = 0.1):
    """NNGP or NTK ``(n1, n2)`` of ``Dense(W,b)-Relu-Dense(W,b)`` on flattened inputs."""
    a, b = _flat(x1), _flat(x2)
    d = a.shape[1]
    w2, b2 = W_std ** 2, b_std ** 2
    s12 = w2 * (a @ b.T) / d + b2
    q1 = w2 * jnp.sum(a * a, axis=1) / d + b2
    q2 = w2 * jnp.sum(b * b, axis=1) / d + b2
    t, tdot = _relu_maps(s12, q1[:, None], q2[None, :])
    nngp = w2 * t + b2
    return nngp if get == "nngp" else nngp + w2 * s12 * tdot


def relu_nngp_features(key: jax.Array, d: int, *, m: int = 1024, W_std: float = 2 ** 0.5,
                       b_std: float = 0.1):
    """Fixed random-feature map ``φ: (n, ...) -> (n, m + 1)`` with ``E φφᵀ = NNGP`` of :func:`relu_fc1_kernel`."""
    ku, kc = jax.random.split(key)
    u = jax.random.normal(ku, (d, m))
    c = jax.random.normal(kc, (m,))

    def phi(x):
        h = W_std * (_flat(x) @ u) / jnp.sqrt(d) + b_std * c
        f = W_std * jax.nn.relu(h) / jnp.sqrt(m)
        return jnp.concatenate([f, jnp.full((f.shape[0], 1), b_std, f.dtype)], axis=1)

    return phi


def _patches(x):
    """``(n, H, W, C)`` → ``(n, H·W, 9C)`` zero-padded 3x3 patches."""
    x = jnp.asarray(x)
    n, h, w, c = x.shape
    xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    cols = [xp[:, i:i + h, j:j + w, :] for i in range(3) for j in range(3)]
    return jnp.concatenate(cols, axis=-1).reshape(n, h * w, 9 * c)


def relu_conv_gap_kernel(x1, x2, *, get: str = "nngp", W_std: float = 2 ** 0.5, b_std: float = 0.1):
    """Exact NNGP or NTK ``(n1, n2)`` of Conv(3x3, SAME)-Relu-GAP-Dense for images ``(n, H, W, C)``.

    ``Σ¹(p, p') = W²/(9C) ⟨patch_p(x), patch_p'(x')⟩ + b²``; ``NNGP = W² mean_{p,p'} T + b²``,
    ``NTK = NNGP + W² mean_{p,p'} Σ¹ Ṫ``.
    """
    p1, p2 = _patches(x1), _patches(x2)
    w2, b2 = W_std ** 2, b_std ** 2
    scale = w2 / p1.shape[2]
    s = scale * jnp.einsum("apk,bqk->apbq", p1, p2) + b2
    q1 = scale * jnp.sum(p1 * p1, axis=2) + b2
    q2 = scale * jnp.sum(p2 * p2, axis=2) + b2
    t, tdot = _relu_maps(s, q1[:, :, None, None], q2[None, None, :, :])
    nngp = w2 * jnp.mean(t, axis=(1, 3)) + b2
    return nngp if get == "nngp" else nngp + w2 * jnp.mean(s * tdot, axis=(1, 3))


def relu_conv_gap_features(key: jax.Array, channels: int, *, m: int = 1024, W_std: float = 2 ** 0.5,
                           b_std: float = 0.1):
    """Fixed random-feature map ``φ: (n, H, W, channels) -> (n, m + 1)``, ``E φφᵀ = NNGP``."""
    ku, kc = jax.random.split(key)
    u = jax.random.normal(ku, (9 * channels, m))
    c = jax.random.normal(kc, (m,))

    def phi(x):
        p = _patches(x)
        h = W_std * (p @ u) / jnp.sqrt(p.shape[2]) + b_std * c
        f = W_std * jnp.mean(jax.nn.relu(h), axis=1) / jnp.sqrt(m)
        return jnp.concatenate([f, jnp.full((f.shape[0], 1), b_std, f.dtype)], axis=1)

    return phi
