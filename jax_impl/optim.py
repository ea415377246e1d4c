"""Momentum, weight decay, L2 and Adam on any network (`compare.network`) by optax:
sgd(momentum, nesterov), add_decayed_weights, adam and adamw, on ``jax.value_and_grad`` of E
(plus λ/2·Σw² if ``l2``) over the flat parameter vector (P,), inside ``lax.scan``.

optax has no dampening, so momentum with dampening τ > 0 is written here as a small
`optax.GradientTransformation` (`dampened_trace`), PyTorch's rule: v ← g at the first step,
then v ← μ·v + (1-τ)·g. A learning-rate change mid-run is `optax.join_schedules` of two
constants. Frozen biases are constants of the forward pass (`jax_impl.mlp`), not parameters:
optax never sees them. Same function names and signatures as `manual.optim`.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from autograd_compare import cache
from autograd_compare.jax_impl.mlp import loss as net_loss
from autograd_compare.jax_impl.precision import precision, to_numpy
from autograd_compare.network import Data, Network
from autograd_compare.optimizers import ADAM_KINDS, MANUAL_ONLY, Optimizer
from autograd_compare.types import BatchResult, Resume, Trajectory


def dampened_trace(mu: float, dampening: float) -> optax.GradientTransformation:
    """PyTorch's momentum buffer with dampening: v ← g at step 1, then v ← μ·v + (1-τ)·g."""

    def init(params):
        return (optax.TraceState(trace=jax.tree.map(jnp.zeros_like, params)),
                optax.ScaleByScheduleState(count=jnp.zeros([], jnp.int32)))

    def update(updates, state, params=None):
        trace, count = state[0], state[1].count
        v = jax.tree.map(lambda g, t: jnp.where(count == 0, g, mu * t + (1 - dampening) * g),
                         updates, trace.trace)
        return v, (optax.TraceState(trace=v), optax.ScaleByScheduleState(count=count + 1))

    return optax.GradientTransformation(init, update)


def make_transformation(opt: Optimizer, lr=None) -> optax.GradientTransformation:
    """The optax transformation for ``opt`` (``lr`` overrides ``opt.lr``; may be traced)."""
    if opt.kind in MANUAL_ONLY:
        raise ValueError(f"{opt.kind} has no optax form (manual only)")
    rate = opt.lr if lr is None else lr
    if opt.lr_change:
        k, lr2 = opt.lr_change
        rate = optax.join_schedules([optax.constant_schedule(rate), optax.constant_schedule(lr2)],
                                    [k])
    coupled = [optax.add_decayed_weights(opt.weight_decay)] if opt.weight_decay else []
    if opt.kind == "sgd":
        return optax.chain(*coupled, optax.sgd(rate))
    if opt.kind == "momentum" and opt.dampening:
        return optax.chain(*coupled, dampened_trace(opt.momentum, opt.dampening),
                           optax.scale_by_learning_rate(rate))
    if opt.kind in ("momentum", "nesterov"):
        return optax.chain(*coupled, optax.sgd(rate, momentum=opt.momentum,
                                               nesterov=opt.kind == "nesterov"))
    b1, b2 = opt.betas
    if opt.kind == "adam":
        return optax.chain(*coupled, optax.adam(rate, b1=b1, b2=b2, eps=opt.eps))
    return optax.adamw(rate, b1=b1, b2=b2, eps=opt.eps, weight_decay=opt.weight_decay)


def _find(state, cls):
    """The first node of type ``cls`` in an optax state (nested tuples)."""
    if isinstance(state, cls):
        return state
    if isinstance(state, tuple):
        for s in state:
            found = _find(s, cls)
            if found is not None:
                return found
    return None


def flat_state(state, opt: Optimizer, dtype):
    """The optimizer's state as one flat vector: momentum's trace (P,), or Adam's m, v (P,
    each) and its step count; empty for sgd."""
    if opt.kind in ("momentum", "nesterov"):
        return _find(state, optax.TraceState).trace
    if opt.kind in ADAM_KINDS:
        adam = _find(state, optax.ScaleByAdamState)
        return jnp.concatenate([adam.mu, adam.nu, adam.count.astype(dtype)[None]])
    return jnp.zeros(0, dtype)


_STATES = (optax.TraceState, optax.ScaleByAdamState, optax.ScaleByScheduleState)


def resumed_state(state, flat, updates):
    """optax's ``state`` (from ``init``) holding ``flat`` (the layout of `flat_state`) and
    ``updates`` as every step count, as if it had made that many updates (traced)."""
    count = jnp.asarray(updates, jnp.int32)

    def put(node):
        if isinstance(node, optax.TraceState):
            return optax.TraceState(trace=flat[:node.trace.shape[0]])
        if isinstance(node, optax.ScaleByAdamState):
            n = node.mu.shape[0]
            return optax.ScaleByAdamState(count=count, mu=flat[:n], nu=flat[n:2 * n])
        if isinstance(node, optax.ScaleByScheduleState):
            return optax.ScaleByScheduleState(count=count)
        return node

    return jax.tree.map(put, state, is_leaf=lambda node: isinstance(node, _STATES))


def scan_updates(value_and_grad, w, lr, opt: Optimizer, steps: int, resume=None):
    """``steps`` updates of ``opt`` at learning rate ``lr`` from ``w`` (P,), by `lax.scan`
    (traced: call it inside `jax.jit`). ``value_and_grad(w) -> ((objective, E), dw)``;
    ``resume``: (flat state, updates made) to start from instead of a fresh state.

    Returns:
        E before each update (steps,), the weights (steps+1, P), the gradients (steps, P) and
        the optimizer state after each update (`flat_state`, (steps, S)).
    """
    tx = make_transformation(opt, lr)

    def step(carry, _):
        w, s = carry
        (_, e), dw = value_and_grad(w)
        if opt.frozen:  # requires_grad=False: gradient 0, so no update and no state
            dw = dw.at[jnp.asarray(opt.frozen)].set(0)
        updates, s = tx.update(dw, s, w)
        w = optax.apply_updates(w, updates)
        return (w, s), (e, w, dw, flat_state(s, opt, w.dtype))

    start = tx.init(w) if resume is None else resumed_state(tx.init(w), *resume)
    _, (losses, weights, grads, state) = jax.lax.scan(step, (w, start), length=steps)
    return losses, jnp.concatenate([w[None], weights]), grads, state


def _objective(net: Network, l2: float):
    def f(w, x, t):
        e = net_loss(net, w, x, t)
        return (e + l2 / 2 * jnp.sum(w * w) if l2 else e), e

    return f


@functools.lru_cache(maxsize=64)
def _compiled_train(net: Network, opt: Optimizer, steps: int, resumed: bool):
    """Jitted trainer; the learning rate is traced (a sweep compiles once; ``opt.lr`` unused),
    and so are a resumed state and its update count (one program for every resume point)."""
    grad = jax.value_and_grad(_objective(net, opt.l2), has_aux=True)

    @jax.jit
    def run(w, lr, x, t, *resume):
        return scan_updates(lambda w: grad(w, x, t), w, lr, opt, steps,
                            resume if resumed else None)

    return run


def train(net: Network, w: np.ndarray, data: Data, opt: Optimizer, steps: int,
          resume: Resume | None = None) -> Trajectory:
    """``steps`` updates of ``opt`` from ``w`` (P,), from ``resume``'s optimizer state if given
    (else a fresh one); see `compare.types.Trajectory`."""
    cache.configure_jax()  # compiled programs kept on disk between runs (compare.cache)
    dt = w.dtype
    extra = () if resume is None else (resume.state, np.int32(resume.updates))
    with precision(dt):
        out = _compiled_train(net, opt._replace(lr=1.0), steps, resume is not None)(
            w, dt.type(opt.lr), data.inputs, data.targets, *extra)
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
    cache.configure_jax()
    dt = w.dtype
    with precision(dt):
        E, W = _compiled_batch(net, opt._replace(lr=1.0), steps)(
            w, lr.astype(dt), data.inputs, data.targets)
        return BatchResult(None, to_numpy(E, dt), to_numpy(W, dt), None)
