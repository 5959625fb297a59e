"""Closed-form one-hidden-layer ReLU NNGP/NTK and its random features (a local stand-in).

KIP only needs *a* kernel callable; :mod:`sims.kernels` is the project's neural-kernel
package.  This module is a small, self-contained reference used by the KIP tests and as
the fallback of the KIP figures when :mod:`sims.kernels` is not importable.  It follows
the neural-tangents conventions (``'ntk'`` parameterization; Lee et al. 2018, NNGP; Jacot
et al. 2018, NTK; Arora et al. 2019 for the arc-cosine forms) for the network
``Flatten → Dense(W, b) → Relu → Dense(W, b)``:

    Σ¹ = W² x·x'/d + b²,   Θ¹ = Σ¹
    T  = √(q q')/(2π) (sin θ + (π − θ) cos θ),   Ṫ = (π − θ)/(2π),   cos θ = Σ¹/√(q q')
    NNGP = W² T + b²,      NTK = NNGP + W² Σ¹ Ṫ

(``q, q'`` the diagonals of Σ¹).  ``θ`` is computed as ``arctan2(√max(q q' − Σ¹², 0), Σ¹)``
with a square root whose derivative is cut to 0 for θ < 1e-6, so ``k(x, x)`` is differentiable in ``x``
(kernels note, pitfall 5).

:func:`relu_nngp_features` are the random features ``φ(x) = W relu(h(x))/√m ⊕ b`` with
``h = W U x/√d + b c`` (``U, c`` Gaussian, fixed by ``key``): ``E φ(x)·φ(x') = NNGP``.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from theory.dual_activations import _safe_sqrt  # one safe sqrt for every arc-cosine kernel




def _flat(x):
    x = jnp.asarray(x)
    return x.reshape(x.shape[0], -1)


def relu_fc1_kernel(x1, x2, *, get: str = "ntk", W_std: float = 2 ** 0.5, b_std: float = 0.1):
    """NNGP or NTK ``(n1, n2)`` of ``Dense(W,b)-Relu-Dense(W,b)`` at infinite width (NT conventions)."""
    if get not in ("nngp", "ntk"):
        raise ValueError(f"get must be 'nngp' or 'ntk', got {get!r}")
    a, b = _flat(x1), _flat(x2)
    d = a.shape[1]
    w2, b2 = W_std ** 2, b_std ** 2
    s12 = w2 * (a @ b.T) / d + b2
    q1 = w2 * jnp.sum(a * a, axis=1) / d + b2
    q2 = w2 * jnp.sum(b * b, axis=1) / d + b2
    qq = q1[:, None] * q2[None, :]
    nrm = jnp.sqrt(jnp.where(qq > 0, qq, 1.0))
    cos = jnp.clip(s12 / nrm, -1.0, 1.0)
    sin = nrm * _safe_sqrt(1.0 - cos ** 2)  # √(q q') sin θ
    theta = jnp.arctan2(sin, s12)
    t = (sin + (jnp.pi - theta) * s12) / (2 * jnp.pi)
    tdot = (jnp.pi - theta) / (2 * jnp.pi)
    nngp = w2 * t + b2
    return nngp if get == "nngp" else nngp + w2 * s12 * tdot


def relu_nngp_features(key: jax.Array, d: int, *, m: int = 1024, W_std: float = 2 ** 0.5,
                       b_std: float = 0.1):
    """Fixed random-feature map ``φ: (n, ...) -> (n, m + 1)`` with ``E φφᵀ = NNGP`` of
    :func:`relu_fc1_kernel` (Rahimi & Recht 2007 / Cho & Saul 2009 arc-cosine features)."""
    ku, kc = jax.random.split(key)
    u = jax.random.normal(ku, (d, m))
    c = jax.random.normal(kc, (m,))

    def phi(x):
        h = W_std * (_flat(x) @ u) / jnp.sqrt(d) + b_std * c
        f = W_std * jax.nn.relu(h) / jnp.sqrt(m)
        return jnp.concatenate([f, jnp.full((f.shape[0], 1), b_std, f.dtype)], axis=1)

    return phi
