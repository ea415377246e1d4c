"""Optimizers on any network (`compare.network`) by optax, on the flat parameter vector (P,):
`jax_impl.optim.make_transformation` (sgd with momentum/nesterov, add_decayed_weights, adam,
adamw) on ``jax.value_and_grad`` of E (plus λ/2·Σw² if ``l2``), inside ``lax.scan``.

Frozen biases are constants of the forward pass (`jax_impl.mlp`), not parameters: optax never
sees them. Same function names as `manual.mlp_optim`.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from autograd_compare.jax_impl.mlp import loss as net_loss
from autograd_compare.jax_impl.optim import make_transformation, scan_updates
from autograd_compare.jax_impl.precision import precision, to_numpy
from autograd_compare.network import Data, Network
from autograd_compare.optimizers import Optimizer
from autograd_compare.types import BatchResult, Trajectory


def _objective(net: Network, l2: float):
    def f(w, x, t):
        e = net_loss(net, w, x, t)
        return (e + l2 / 2 * jnp.sum(w * w) if l2 else e), e

    return f


@functools.lru_cache(maxsize=64)
def _compiled_train(net: Network, opt: Optimizer, steps: int):
    """Jitted trainer; the learning rate is traced (a sweep compiles once; ``opt.lr`` unused)."""
    grad = jax.value_and_grad(_objective(net, opt.l2), has_aux=True)

    @jax.jit
    def run(w, lr, x, t):
        return scan_updates(lambda w: grad(w, x, t), w, lr, opt, steps)

    return run


def train(net: Network, w: np.ndarray, data: Data, opt: Optimizer,
          steps: int) -> Trajectory:
    """``steps`` updates of ``opt`` from ``w`` (P,); see `compare.optimizers.Trajectory`."""
    dt = w.dtype
    with precision(dt):
        out = _compiled_train(net, opt._replace(lr=1.0), steps)(
            w, dt.type(opt.lr), data.inputs, data.targets)
        return Trajectory(*(to_numpy(x, dt) for x in out))


@functools.lru_cache(maxsize=64)
def _compiled_batch(net: Network, opt: Optimizer, steps: int):
    grad = jax.grad(lambda w, x, t: _objective(net, opt.l2)(w, x, t)[0])

    def one(w, lr, x, t):  # one configuration: w (P,), lr ()
        tx = make_transformation(opt, lr)

        def step(carry, _):
            w, s = carry
            updates, s = tx.update(grad(w, x, t), s, w)
            return (optax.apply_updates(w, updates), s), None

        (w, _), _ = jax.lax.scan(step, (w, tx.init(w)), length=steps)
        return net_loss(net, w, x, t), w

    return jax.jit(jax.vmap(one, in_axes=(0, 0, None, None)))


def train_batch(net: Network, w: np.ndarray, lr: np.ndarray, data: Data, opt: Optimizer,
                steps: int) -> BatchResult:
    """N trainings at once: ``w`` (N, P), ``lr`` (N,): ``vmap`` over configurations of the
    ``lax.scan`` of one training (optax's rules are element-wise; rows stay independent)."""
    dt = w.dtype
    with precision(dt):
        E, W = _compiled_batch(net, opt._replace(lr=1.0), steps)(
            w, lr.astype(dt), data.inputs, data.targets)
        return BatchResult(None, to_numpy(E, dt), to_numpy(W, dt), None)
