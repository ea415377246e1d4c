"""Optimizer check on any network (`compare.network`): every backend trains with one
optimizer; compare them step by step, optimizer state included.

The tutorial's network keeps its own path (`compare.harness.optim_check`); this is the same
check for every other network, with the backends' ``mlp_optim`` modules (`manual.mlp_optim`:
the update rules by hand on the flat vector; `torch_impl.mlp_optim`: torch.optim on the
``nn.Sequential``; `jax_impl.mlp_optim`: optax). Row k is update k+1: E and the gradient at the
parameters entering it, the state after it (named by `naming.optimizer_state_names`, e.g.
``v_W2[0,1]``), then the parameters after it. The scales are `optim_check.update_scales` with
the network's term scales (`network_check.term_scales`), and the tolerance is the network's own
``network_check.step_rtol · (k + 1) · scale``, so a first divergence reads
"v_W2[0,1] after step 3".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import DTypeLike

from autograd_compare import naming, registry, validate
from autograd_compare.errors import InputError
from autograd_compare.harness import network_check
from autograd_compare.harness.network_check import GradCheck
from autograd_compare.harness.optim_check import (
    MISTAKE_PREFIX,
    Divergence,
    Largest,
    OptimComparison,
    available,
    compare_runs,
    update_scales,
)
from autograd_compare.network import Data, NetForward, Network, loss_name, param_names
from autograd_compare.optimizers import MANUAL_ONLY, Optimizer
from autograd_compare.types import BatchResult, Trajectory

__all__ = ["available", "check", "columns", "loss_name", "sweep", "train", "train_batch"]



class NetOptimResult(NamedTuple):
    optimizer: Optimizer
    network: Network
    dtype: np.dtype[Any]
    reference: str
    runs: dict[str, Trajectory]
    comparisons: dict[str, OptimComparison]
    ok: bool
    first_divergence: Divergence | None
    largest: Largest
    finals: dict[str, NetForward | None]  # backend -> its own forward pass after the last
    #                                        update (None: the training diverged)

    @property
    def final_loss(self) -> dict[str, float]:
        """backend -> E after the last update (NaN if the training diverged)."""
        return {n: float("nan") if f is None else float(f.E) for n, f in self.finals.items()}


def _check_kind(name: str, opt: Optimizer) -> None:
    if opt.kind in MANUAL_ONLY and not (name == "manual" or name.startswith(MISTAKE_PREFIX)):
        raise InputError(f"optimizer {opt.kind!r} exists in the manual backend only; got "
                         f"backend {name!r}")


def train(name: str, net: Network, w: Any, data: Data, opt: Optimizer, steps: int,
          dtype: DTypeLike = "float64") -> Trajectory:
    """Backend ``name`` (or ``mistake:<kind>``) trains ``net`` from ``w`` (P,) with ``opt``."""
    from autograd_compare import network

    dt = validate.dtype(dtype)
    _check_kind(name, opt)
    w_arr = network.weights(net, w, dt)
    d = network.data(net, data.inputs, data.targets, dt)
    steps = validate.steps(steps)
    if name.startswith(MISTAKE_PREFIX):
        from autograd_compare.manual import mlp_optim

        return mlp_optim.train(net, w_arr, d, opt, steps, name[len(MISTAKE_PREFIX):])
    return registry.get_network_backend(name, dt).train(net, w_arr, d, opt, steps)


def train_batch(name: str, net: Network, w: Any, lr: Any, data: Data, opt: Optimizer,
                steps: int, dtype: DTypeLike = "float64") -> BatchResult:
    """Backend ``name`` trains N configurations of ``net``: ``w`` (N, P), ``lr`` (N,)."""
    dt = validate.dtype(dtype)
    _check_kind(name, opt)
    if name.startswith(MISTAKE_PREFIX):
        raise InputError(f"{name!r} has no batched form; use manual, torch or jax")
    return registry.get_network_backend(name, dt).train_batch(net, w, lr, data, opt, steps)


def columns(net: Network, opt: Optimizer) -> tuple[str, ...]:
    """The quantities of one row, in order: E, gradients, state, parameters after the step."""
    params = param_names(net)
    return (loss_name(net), *naming.grad_names(params),
            *naming.optimizer_state_names(opt.kind, params),
            *params)


def scales(net: Network, opt: Optimizer, ref: Trajectory, data: Data,
           dtype: DTypeLike) -> dict[str, np.ndarray]:
    """Each quantity's scale at every step (`optim_check.update_scales`, causal)."""
    d64 = Data(np.asarray(data.inputs, np.float64), np.asarray(data.targets, np.float64))
    steps, P = ref.grads.shape
    dw = np.zeros((steps, P))
    E = np.abs(ref.loss.astype(np.float64))
    for k in range(steps):
        wk = np.asarray(ref.weights[k], np.float64)
        if not np.all(np.isfinite(wk)):
            dw[k:] = np.inf
            break
        s = network_check.term_scales(net, wk, d64, dtype)
        dw[k], E[k] = s.dw, max(E[k], s.E)
    return update_scales(opt, ref, dw, E, loss_name(net), param_names(net))


def check(opt: Optimizer, backends: list[str], net: Network, w: Any, data: Data,
          steps: int = 20, dtype: DTypeLike = "float64") -> NetOptimResult:
    """Train ``net`` with ``opt`` in every backend and compare each with the first."""
    from autograd_compare.harness.optim_check import (
        counterpart,
        earliest_and_largest,
        require_backends,
    )

    require_backends(opt, backends)
    dt = validate.dtype(dtype)
    reference = backends[0]
    opts = {name: counterpart(name, opt) for name in backends}
    runs = {name: train(name, net, w, data, opts[name], steps, dt) for name in backends}
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run overflows
        scale = scales(net, opts[reference], runs[reference], data, dt)
    rtol = network_check.step_rtol(net, int(np.shape(data.inputs)[0]), dt)
    ref_cols = columns(net, opts[reference])
    comps = {name: compare_runs(name, run, columns(net, opts[name]), runs[reference], ref_cols,
                                scale, dt, rtol)
             for name, run in runs.items() if name != reference}
    first, largest = earliest_and_largest(comps, ref_cols)
    final = {name: final_forward(name, net, run.weights[-1], data, dt)
             for name, run in runs.items()}
    return NetOptimResult(opt, net, dt, reference, runs, comps, first is None, first, largest,
                          final)


def final_forward(name: str, net: Network, w: np.ndarray, data: Data,
                  dtype: DTypeLike) -> NetForward | None:
    """Backend ``name``'s own forward pass at ``w`` (a ``mistake:`` backend's is manual's: its
    mistakes are in the update rule); None where ``w`` is not finite."""
    if not np.all(np.isfinite(w)):
        return None
    key = "manual" if name.startswith(MISTAKE_PREFIX) else name
    backend = registry.get_network_backend(key, dtype)
    return backend.forward(net, w, network_data(net, data, dtype))


def network_data(net: Network, data: Data, dtype: DTypeLike) -> Data:
    from autograd_compare import network

    return network.data(net, data.inputs, data.targets, validate.dtype(dtype))


class Sweep(NamedTuple):
    """The main job on any network with any optimizer: the gradient check at the start, then
    the trajectory check at every learning rate."""

    source: str  # "preset xor", "your network"
    network: Network
    data: Data  # of ``dtype``
    start: np.ndarray  # (P,) of ``dtype``
    optimizer: Optimizer  # its lr is each rate's: see ``rates[j].optimizer``
    steps: int
    gradcheck: GradCheck
    rates: tuple[NetOptimResult, ...]  # one per learning rate, in the order asked

    @property
    def ok(self) -> bool:
        """Every check agrees, and every ``mistake:`` backend was caught (a mistake never
        passes: one the settings cannot show, e.g. weight-decay-sign without weight decay,
        fails the run too)."""
        return self.gradcheck.ok and all(r.ok for r in self.rates) and not self.undetected

    @property
    def backends(self) -> tuple[str, ...]:
        return tuple(self.rates[0].runs)

    @property
    def undetected(self) -> tuple[str, ...]:
        """The ``mistake:`` backends that agree with the reference at every rate."""
        return tuple(n for n in self.backends if n.startswith(MISTAKE_PREFIX) and all(
            r.comparisons[n].first_divergence is None for r in self.rates))


def sweep(source: str, opt: Optimizer, names: list[str], net: Network, w: Any, data: Data,
          lrs: Sequence[float], steps: int, dtype: DTypeLike = "float64",
          on_rate: Callable[[float], None] | None = None) -> Sweep:
    """`network_check.gradient_check` at ``w`` over the backends that compute gradients
    (every one but the ``mistake:`` update rules), then `check` at every rate of ``lrs``
    (``on_rate(lr)`` before each, for progress)."""
    from autograd_compare import network, optimizers

    dt = validate.dtype(dtype)
    d = network_data(net, data, dt)
    w_arr = network.weights(net, w, dt)
    gradient_backends = [registry.get_network_backend(n, dt) for n in names
                         if not n.startswith(MISTAKE_PREFIX)]
    grad = network_check.gradient_check(gradient_backends, net, w_arr, d)
    rates = []
    for lr in lrs:
        if on_rate is not None:
            on_rate(lr)
        rates.append(check(optimizers.with_lr(opt, lr), names, net, w_arr, d, steps, dt))
    return Sweep(source, net, d, w_arr, opt, steps, grad, tuple(rates))
