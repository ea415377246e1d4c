"""Momentum, weight decay, L2 and Adam on any network (`compare.network`) by optax:
sgd(momentum, nesterov), add_decayed_weights, adam and adamw, on ``jax.value_and_grad`` of E
(plus λ/2·Σw² if ``l2``) over the flat parameter vector (P,), inside ``lax.scan``.

optax has no dampening, so momentum with dampening τ > 0 is written here as a small
`optax.GradientTransformation` (`dampened_trace`), PyTorch's rule: v ← g at the first step,
then v ← μ·v + (1-τ)·g. A learning-rate change mid-run is `optax.join_schedules` of two
constants. Frozen biases are constants of the forward pass (`jax_impl.mlp`), not parameters:
optax never sees them. Same function names and signatures as `manual.optim`.

Biases left out of weight decay (``decay_biases`` no) are what optax users write:
``add_decayed_weights(wd, mask)`` (``adamw(..., mask=)``) with a mask pytree, True for the
weights; for that the flat vector is shown to optax as the pytree of its pieces W_1, b_1,
W_2, ... (`on_pieces`; element-wise rules, so the same numbers). The l2 term leaves the
biases out of its sum unless ``decay_biases`` is yes.
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
from autograd_compare.network import Data, Network, layout
from autograd_compare.optimizers import ADAM_KINDS, MANUAL_ONLY, Optimizer, decay_mask
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


def on_pieces(tx: optax.GradientTransformation,
              sizes: tuple[int, ...]) -> optax.GradientTransformation:
    """``tx`` on the flat vector cut into pieces of ``sizes`` (a tuple, optax's pytree); the
    updates come back flat."""
    cuts = tuple(int(c) for c in np.cumsum(sizes)[:-1])

    def split(v):
        return tuple(jnp.split(v, cuts))

    def init(params):
        return tx.init(split(params))

    def update(updates, state, params=None):
        out, state = tx.update(split(updates), state, None if params is None else split(params))
        return jnp.concatenate(out), state

    return optax.GradientTransformation(init, update)


def decay_pieces(net: Network | None, opt: Optimizer) -> tuple[tuple[int, ...], tuple[bool, ...]]:
    """(sizes, mask) of the pieces W_1, b_1, W_2, ... when weight decay leaves the biases out;
    ((), ()) when it decays every parameter (the flat vector as one leaf)."""
    if net is None or not opt.weight_decay or opt.wd_biases() or net.bias != "trainable":
        return (), ()
    sizes, mask = [], []
    for lay in layout(net):
        sizes.append(lay.W.stop - lay.W.start)
        mask.append(True)
        if lay.b is not None:
            sizes.append(lay.b.stop - lay.b.start)
            mask.append(False)
    return tuple(sizes), tuple(mask)


def make_transformation(opt: Optimizer, lr=None, net: Network | None = None
                        ) -> optax.GradientTransformation:
    """The optax transformation for ``opt`` (``lr`` overrides ``opt.lr``; may be traced) on
    the flat vector of ``net`` (its biases masked out of weight decay as `decay_pieces`
    says)."""
    sizes, mask = decay_pieces(net, opt)
    tx = _transformation(opt, lr, mask or None)
    return on_pieces(tx, sizes) if sizes else tx


def _transformation(opt: Optimizer, lr, mask) -> optax.GradientTransformation:
    if opt.kind in MANUAL_ONLY:
        raise ValueError(f"{opt.kind} has no optax form (manual only)")
    rate = opt.lr if lr is None else lr
    if opt.lr_change:
        k, lr2 = opt.lr_change
        rate = optax.join_schedules([optax.constant_schedule(rate), optax.constant_schedule(lr2)],
                                    [k])
    coupled = [optax.add_decayed_weights(opt.weight_decay, mask)] if opt.weight_decay else []
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
    return optax.adamw(rate, b1=b1, b2=b2, eps=opt.eps, weight_decay=opt.weight_decay, mask=mask)


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
        return _flat(_find(state, optax.TraceState).trace)
    if opt.kind in ADAM_KINDS:
        adam = _find(state, optax.ScaleByAdamState)
        return jnp.concatenate([_flat(adam.mu), _flat(adam.nu), adam.count.astype(dtype)[None]])
    return jnp.zeros(0, dtype)


_STATES = (optax.TraceState, optax.ScaleByAdamState, optax.ScaleByScheduleState)


def _flat(v):
    """A state's vector: itself, or its pieces (`on_pieces`) joined."""
    return jnp.concatenate(v) if isinstance(v, tuple) else v


def _like(v, flat):
    """``flat``'s first entries shaped as ``v`` (a vector, or a tuple of pieces)."""
    if not isinstance(v, tuple):
        return flat[:v.shape[0]]
    cuts = np.cumsum([p.shape[0] for p in v])
    return tuple(jnp.split(flat[:int(cuts[-1])], cuts[:-1]))


def _size(v) -> int:
    return sum(p.shape[0] for p in v) if isinstance(v, tuple) else v.shape[0]


def resumed_state(state, flat, updates):
    """optax's ``state`` (from ``init``) holding ``flat`` (the layout of `flat_state`) and
    ``updates`` as every step count, as if it had made that many updates (traced)."""
    count = jnp.asarray(updates, jnp.int32)

    def put(node):
        if isinstance(node, optax.TraceState):
            return optax.TraceState(trace=_like(node.trace, flat))
        if isinstance(node, optax.ScaleByAdamState):
            n = _size(node.mu)
            return optax.ScaleByAdamState(count=count, mu=_like(node.mu, flat),
                                          nu=_like(node.nu, flat[n:]))
        if isinstance(node, optax.ScaleByScheduleState):
            return optax.ScaleByScheduleState(count=count)
        return node

    return jax.tree.map(put, state, is_leaf=lambda node: isinstance(node, _STATES))


def scan_updates(value_and_grad, w, lr, opt: Optimizer, steps: int, resume=None,
                 net: Network | None = None):
    """``steps`` updates of ``opt`` at learning rate ``lr`` from ``w`` (P,), by `lax.scan`
    (traced: call it inside `jax.jit`). ``value_and_grad(w) -> ((objective, E), dw)``;
    ``resume``: (flat state, updates made) to start from instead of a fresh state; ``net``:
    the network whose biases weight decay may leave out (`make_transformation`).

    Returns:
        E before each update (steps,), the weights (steps+1, P), the gradients (steps, P) and
        the optimizer state after each update (`flat_state`, (steps, S)).
    """
    tx = make_transformation(opt, lr, net)

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


def _objective(net: Network, opt: Optimizer):
    """(E + λ/2·Σ m⊙w², E): m the weights, and the biases with ``decay_biases`` yes."""
    l2 = opt.l2
    m = decay_mask(net, opt.l2_biases())
    mask = None if m.all() else m

    def f(w, x, t, s=None):
        e = net_loss(net, w, x, t, s)
        if not l2:
            return e, e
        ww = w * w if mask is None else w * w * jnp.asarray(mask, w.dtype)
        return e + l2 / 2 * jnp.sum(ww), e

    return f


@functools.lru_cache(maxsize=64)
def _compiled_train(net: Network, opt: Optimizer, steps: int, resumed: bool):
    """Jitted trainer; the learning rate is traced (a sweep compiles once; ``opt.lr`` unused),
    and so are a resumed state and its update count (one program for every resume point)."""
    grad = jax.value_and_grad(_objective(net, opt), has_aux=True)

    @jax.jit
    def run(w, lr, x, t, s, *resume):
        return scan_updates(lambda w: grad(w, x, t, s), w, lr, opt, steps,
                            resume if resumed else None, net)

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
            w, dt.type(opt.lr), data.inputs, data.targets, data.weights, *extra)
        return Trajectory(*(to_numpy(x, dt) for x in out))


@functools.lru_cache(maxsize=64)
def _compiled_batch(net: Network, opt: Optimizer, steps: int):
    grad = jax.grad(lambda w, x, t, s: _objective(net, opt)(w, x, t, s)[0])

    def one(w, lr, x, t, s):  # one configuration: w (P,), lr ()
        tx = make_transformation(opt, lr, net)

        def step(carry, _):
            w, st = carry
            updates, st = tx.update(grad(w, x, t, s), st, w)
            return (optax.apply_updates(w, updates), st), None

        (w, _), _ = jax.lax.scan(step, (w, tx.init(w)), length=steps)
        return net_loss(net, w, x, t, s), w

    return jax.jit(jax.vmap(one, in_axes=(0, 0, None, None, None)))


def train_batch(net: Network, w: np.ndarray, lr: np.ndarray, data: Data, opt: Optimizer,
                steps: int) -> BatchResult:
    """N trainings at once: ``w`` (N, P), ``lr`` (N,): ``vmap`` over configurations of the
    ``lax.scan`` of one training (optax's rules are element-wise; rows stay independent)."""
    cache.configure_jax()
    dt = w.dtype
    with precision(dt):
        E, W = _compiled_batch(net, opt._replace(lr=1.0), steps)(
            w, lr.astype(dt), data.inputs, data.targets, data.weights)
        return BatchResult(None, to_numpy(E, dt), to_numpy(W, dt), None)
