"""Golden optimizer trajectories in 50-digit arithmetic, derived without any backend's code.

Gradients are `tests.golden.weight_gradients` (mpmath.diff of the 50-digit forward pass, no
hand-derived formula); the update rules are written here from PyTorch's documentation of
torch.optim.SGD, Adam and AdamW (pseudocode in the docs), not from manual/. Every starting
number and hyperparameter is first rounded to the dtype under test, so only the backends'
arithmetic is measured. Results are (loss, grads, state, weights) as float64 lists.
"""

from __future__ import annotations

from functools import cache

import mpmath as mp

from tests.golden import CLASS_I, CLASS_T, CLASS_W, _mpf, forward, weight_gradients

mp.mp.dps = 50


@cache
def trajectory(kind: str, lr: float, steps: int, dtype: str = "float64", momentum: float = 0.9,
               dampening: float = 0.0, weight_decay: float = 0.0, l2: float = 0.0,
               betas: tuple = (0.9, 0.999), eps: float = 1e-8) -> dict:
    """``steps`` updates of ``kind`` ("momentum", "nesterov", "adam" or "adamw")."""
    w, i, t = _mpf(CLASS_W, dtype), _mpf(CLASS_I, dtype), _mpf(CLASS_T, dtype)
    lr_, mu, tau, wd, lam, b1, b2, ep = _mpf([lr, momentum, dampening, weight_decay, l2,
                                              betas[0], betas[1], eps], dtype)
    buf = m = v = None
    out = {"loss": [], "grads": [], "state": [], "weights": [[float(x) for x in w]]}
    for step in range(1, steps + 1):
        out["loss"].append(float(forward(w, i, t)["E_total"]))
        g = [gk + lam * wk for gk, wk in zip(weight_gradients(w, i, t), w)]  # d(λ/2·w²) = λw
        out["grads"].append([float(x) for x in g])
        if kind != "adamw" and wd:
            g = [gk + wd * wk for gk, wk in zip(g, w)]  # torch: g ← g + λ·θ
        if kind in ("momentum", "nesterov"):
            # torch.optim.SGD: b ← g at t = 1, else b ← μ·b + (1-τ)·g; nesterov: g ← g + μ·b
            buf = g if step == 1 else [mu * b + (1 - tau) * gk for b, gk in zip(buf, g)]
            d = [gk + mu * b for gk, b in zip(g, buf)] if kind == "nesterov" else buf
            w = [wk - lr_ * dk for wk, dk in zip(w, d)]
            out["state"].append([float(x) for x in buf])
        else:
            if kind == "adamw":
                w = [wk - lr_ * wd * wk for wk in w]  # torch.optim.AdamW: θ ← θ - γλθ first
            m = [b1 * mk + (1 - b1) * gk for mk, gk in zip(m or [0] * 8, g)]
            v = [b2 * vk + (1 - b2) * gk * gk for vk, gk in zip(v or [0] * 8, g)]
            m_hat = [mk / (1 - b1**step) for mk in m]
            v_hat = [vk / (1 - b2**step) for vk in v]
            w = [wk - lr_ * mh / (mp.sqrt(vh) + ep) for wk, mh, vh in zip(w, m_hat, v_hat)]
            out["state"].append([float(x) for x in (*m, *v)] + [float(step)])
        out["weights"].append([float(x) for x in w])
    return out
