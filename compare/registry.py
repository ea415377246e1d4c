"""Which backends exist, and how to get one. Frameworks are imported only on request."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np

from autograd_compare import validate
from autograd_compare.errors import BackendUnavailable, DtypeError, InputError
from autograd_compare.interface import (
    CLASS_INPUTS,
    CLASS_TARGETS,
    ArrayLike,
    Backend,
    Example,
    ExampleLike,
    Forward,
    Gradients,
    RawBackend,
    WeightsLike,
)
from autograd_compare.types import BatchResult, Resume, Trajectory

if TYPE_CHECKING:  # compare.network is imported on first use (see get_network_backend)
    from autograd_compare.backend import Backend as AnyBackend
    from autograd_compare.backend import GradientModule, OptimizerModule
    from autograd_compare.network import BackwardPass, Data, ForwardPass, Network
    from autograd_compare.optimizers import Optimizer
    from autograd_compare.types import Array

# name -> (package with the modules mlp and optim, framework it imports, extra to install)
REGISTRY: dict[str, tuple[str, str | None, str | None]] = {
    "manual": ("autograd_compare.manual", None, None),
    "torch": ("autograd_compare.torch_impl", "torch", "torch"),
    "jax": ("autograd_compare.jax_impl", "jax", "jax"),
}
MISTAKE_PREFIX = "mistake:"


def backends(plugins: bool = True) -> list[str]:
    """Names of the backends whose framework is installed, then (unless ``plugins`` is False:
    the defaults of the commands) those installed through the ``autograd_compare.backends``
    entry points (`compare.plugins`); nothing is imported."""
    from autograd_compare import plugins as installed

    return [name for name, (_, framework, _) in REGISTRY.items()
            if framework is None or importlib.util.find_spec(framework) is not None
            ] + (sorted(installed.entry_points()) if plugins else [])


def get_backend(name: str, dtype: Any = "float64") -> Backend:
    """The backend ``name`` in ``dtype`` in the tutorial's notation, with input checks and a
    dtype guard around it: a view of `get_network_backend` on the tutorial's network
    (`compare.tutorial_view`).

    Args:
        name: one of ``REGISTRY`` ("manual", "torch", "jax") or ``"mistake:<kind>"``
            (a deliberately wrong manual backend, see ``autograd-compare mistakes``).
        dtype: "float64" (default) or "float32".

    Raises:
        InputError: unknown name or dtype.
        BackendUnavailable: the framework is not installed (the message says which extra).
    """
    dt = validate.dtype(dtype)
    if not isinstance(name, str):
        raise InputError(f"backend name must be text, one of {', '.join(REGISTRY)} or "
                         f"{MISTAKE_PREFIX}<kind>; got {validate.short_text(name)}")
    if name.startswith(MISTAKE_PREFIX):
        from autograd_compare.manual import mistakes

        return guarded(mistakes.make(name[len(MISTAKE_PREFIX):], dt), dt)
    if name not in REGISTRY:
        raise InputError(f"unknown backend {validate.short_text(name)}; expected one of "
                         f"{', '.join(REGISTRY)} or {MISTAKE_PREFIX}<kind>")
    from autograd_compare import tutorial_view

    return guarded(tutorial_view.raw(name, dt), dt)


def guarded(raw: RawBackend, dt: np.dtype[Any]) -> Backend:
    """Wrap a raw backend's functions: validate inputs, then check every result's dtype.

    The wrappers carry the public signatures of `compare.interface` (`ForwardFn`, `TrainFn`,
    ...): the example defaults to the class example, options after the data are keyword-only.
    """

    def forward(w: WeightsLike, example: ExampleLike | None = None) -> Forward:
        out = raw.forward(validate.weights(w, dt), _example(example, dt))
        return _check(raw, out, "forward")

    def gradients(w: WeightsLike, example: ExampleLike | None = None) -> Gradients:
        out = raw.gradients(validate.weights(w, dt), _example(example, dt))
        return _check(raw, out, "gradients")

    def train(w: WeightsLike, example: ExampleLike | None = None, *, lr: float = 0.5,
              steps: int = 100, record: bool = False) -> Trajectory:
        out = raw.train(validate.weights(w, dt), _example(example, dt),
                        lr=validate.learning_rate(lr, dt), steps=validate.steps(steps),
                        record=bool(record))
        return _check(raw, out, "train")

    def train_batch(w: ArrayLike, lr: ArrayLike, example: ExampleLike | None = None, *,
                    steps: int = 100, threshold: float | None = None,
                    keep_loss: bool = False) -> BatchResult:
        w_arr, lr_arr = validate.batch(w, lr, dt)
        out = raw.train_batch(w_arr, lr_arr, _example(example, dt), steps=validate.steps(steps),
                              threshold=validate.threshold(threshold), keep_loss=bool(keep_loss))
        return _check(raw, out, "train_batch")

    return Backend(raw.name, dt, forward, gradients, train, train_batch)


def _example(example: ExampleLike | None, dt: np.dtype[Any]) -> Example:
    return validate.example((CLASS_INPUTS, CLASS_TARGETS) if example is None else example, dt)


Result = TypeVar("Result", Forward, Gradients, Trajectory, BatchResult)


def _check(raw: RawBackend, result: Result, what: str) -> Result:
    """Refuse numbers that are not NumPy arrays of the requested dtype (float32 posing as 64)."""
    for field, value in zip(result._fields, result, strict=False):
        if value is None or field == "steps_to_threshold":
            continue
        if not isinstance(value, np.ndarray) or value.dtype != raw.dtype:
            got = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
            raise DtypeError(f"backend {raw.name!r} returned {what}.{field} as {got}, but "
                             f"{raw.dtype.name} was requested; refusing to report it")
    return result


# --- any network (compare.network): each backend's mlp module, mirrored file for file --------
def _plugins() -> ModuleType:
    from autograd_compare import plugins

    return plugins


def _require(name: str, framework: str | None, extra: str | None) -> None:
    """`BackendUnavailable`, naming the extra to install, if ``framework`` is missing."""
    if framework is not None and importlib.util.find_spec(framework) is None:
        raise BackendUnavailable(f"backend {name!r} needs {framework}, which is not installed; "
                                 f"install it with: pip install 'autograd-compare[{extra}]'")


def backend_module(name: str, part: str, needs: str | None = None) -> ModuleType:
    """Backend ``name``'s module ``part`` ("mlp", "optim"), imported only now.

    Args:
        name: a key of `REGISTRY`.
        part: the module's name inside the backend's package (``autograd_compare.manual.optim``).
        needs: one more framework that module imports (e.g. "optax"), installed by the
            backend's own extra.

    Raises:
        InputError: unknown name. BackendUnavailable: a framework is missing (the message says
            which extra to install).
    """
    if name not in REGISTRY:
        raise InputError(f"unknown backend {validate.short_text(name)}; expected one of "
                         f"{', '.join(REGISTRY)}")
    package, framework, extra = REGISTRY[name]
    _require(name, framework, extra)
    _require(name, needs, extra)
    try:
        return importlib.import_module(f"{package}.{part}")
    except ImportError as err:
        missing = (err.name or "").split(".")[0]
        if missing not in (framework, needs):
            raise  # our own module is broken: a bug, not a missing extra
        raise BackendUnavailable(f"backend {name!r} could not import {missing} ({err}); "
                                 f"reinstall with: pip install 'autograd-compare[{extra}]'"
                                 ) from err


def get_network_backend(name: str, dtype: Any = "float64") -> AnyBackend:
    """The backend ``name`` for any network and any optimizer (`compare.backend.Backend`),
    with input checks and a dtype guard. Same names, install hints and errors as
    `get_backend`; the functions are those of ``<backend package>.mlp`` and, for an
    optimizer other than plain gradient descent, ``.optim`` (imported only then); a
    ``mistake:<kind>`` is `manual.mistakes.network_backend`'s."""
    from autograd_compare import network
    from autograd_compare.backend import Backend as AnyBackend
    from autograd_compare.backend import is_plain

    dt = validate.dtype(dtype)
    mlp: GradientModule | None = None
    wrong_batch = None  # a mistake's batched form (the tutorial's formulas: its network only)
    if isinstance(name, str) and name.startswith(MISTAKE_PREFIX):
        from autograd_compare.manual import mistakes

        wrong = mistakes.network_backend(name[len(MISTAKE_PREFIX):], dt)
        raw_forward, raw_gradients, raw_train = wrong.forward, wrong.gradients, wrong.train
        wrong_batch = wrong.train_batch
    elif isinstance(name, str) and name not in REGISTRY and _plugins().is_plugin(name):
        from autograd_compare.manual import mlp as manual_mlp

        raw_gradients, raw_train = _plugins().functions(name, _plugins().load(name))
        raw_forward = manual_mlp.forward  # the user gives gradients: the forward is manual's
    else:
        kernels = mlp = cast("GradientModule", backend_module(name, "mlp"))  # checked below
        raw_forward, raw_gradients = kernels.forward, kernels.gradients

        def raw_train(net: Network, w: Array, data: Data, opt: Optimizer, steps: int,
                      resume: Resume | None) -> Trajectory:
            if is_plain(opt):  # w ← w - lr·dE/dw has no state: a resumed run starts from w
                out = kernels.train(net, w, data, lr=opt.lr, steps=steps)
                return out._replace(state=np.empty((steps, 0), w.dtype))
            return optim().train(net, w, data, opt, steps, resume=resume)

    def optim() -> OptimizerModule:
        return cast("OptimizerModule", backend_module(name, "optim", OPTIM_NEEDS.get(name)))

    def forward(net: Network, w: ArrayLike, data: Data) -> ForwardPass:
        return _check_net(name, dt, raw_forward(net, network.weights(net, w, dt),
                                                _net_data(net, data, dt)), "forward")

    def gradients(net: Network, w: ArrayLike, data: Data) -> BackwardPass:
        return _check_net(name, dt, raw_gradients(net, network.weights(net, w, dt),
                                                  _net_data(net, data, dt)), "gradients")

    def train(net: Network, w: ArrayLike, data: Data, opt: Optimizer, steps: int,
              resume: Resume | None = None) -> Trajectory:
        w_arr, d, steps = network.weights(net, w, dt), _net_data(net, data, dt), \
            validate.steps(steps)
        validate.learning_rate(opt.lr)
        if opt.frozen and opt.frozen[-1] >= w_arr.size:
            raise InputError(f"frozen parameter {opt.frozen[-1]} does not exist: the network "
                             f"has {w_arr.size} (0..{w_arr.size - 1})")
        start = None if resume is None else _resume(resume, opt, w_arr.size, dt)
        return _check_net(name, dt, raw_train(net, w_arr, d, opt, steps, start), "train")

    def train_batch(net: Network, w: ArrayLike, lr: ArrayLike, data: Data, opt: Optimizer,
                    steps: int, threshold: float | None = None,
                    keep_loss: bool = False) -> BatchResult:
        if mlp is None and wrong_batch is None:
            raise InputError(f"{name!r} has no batched form; use manual, torch or jax")
        if opt.frozen:
            raise InputError("frozen parameters are for train (one run), not train_batch")
        w_arr, lr_arr = network.weights_batch(net, w, lr, dt)
        d, steps = _net_data(net, data, dt), validate.steps(steps)
        if wrong_batch is not None:
            out = wrong_batch(net, w_arr, lr_arr, d, opt, steps, validate.threshold(threshold),
                              bool(keep_loss))
        elif mlp is not None and is_plain(opt):
            out = mlp.train_batch(net, w_arr, lr_arr, d, steps, validate.threshold(threshold),
                                  bool(keep_loss))
        elif threshold is not None or keep_loss:
            raise InputError(f"threshold and keep_loss are for plain gradient descent; got "
                             f"{opt.describe()}")
        else:
            out = optim().train_batch(net, w_arr, lr_arr, d, opt, steps)
        return _check_net(name, dt, out, "train_batch")

    return AnyBackend(name, dt, forward, gradients, train, train_batch)


OPTIM_NEEDS = {"jax": "optax"}  # frameworks an optimizer module needs beyond its backend's own


if TYPE_CHECKING:  # mypy holds every backend's modules to the protocols of compare.backend
    from autograd_compare.jax_impl import mlp as _jax_mlp
    from autograd_compare.jax_impl import optim as _jax_optim
    from autograd_compare.manual import mlp as _manual_mlp
    from autograd_compare.manual import optim as _manual_optim
    from autograd_compare.torch_impl import mlp as _torch_mlp
    from autograd_compare.torch_impl import optim as _torch_optim

    _MLP_MODULES: tuple[GradientModule, ...] = (_manual_mlp, _torch_mlp, _jax_mlp)
    _OPTIM_MODULES: tuple[OptimizerModule, ...] = (_manual_optim, _torch_optim,
                                                   _jax_optim)


def _resume(resume: Resume, opt: Optimizer, P: int, dt: np.dtype[Any]) -> Resume:
    """``resume`` checked: a state of ``opt``'s size for P parameters, finite, and >= 1
    updates made."""
    from autograd_compare.naming import STATE_PREFIXES
    from autograd_compare.optimizers import ADAM_KINDS

    if not isinstance(resume, Resume):
        raise InputError(f"resume must be a Resume(state, updates); got "
                         f"{validate.short_text(resume)}")
    size = len(STATE_PREFIXES[opt.kind]) * P + (opt.kind in ADAM_KINDS)
    state = validate.finite_array(resume.state, f"the {opt.kind} state to resume from",
                                  (size,), dt)
    updates = validate.steps(resume.updates)
    if opt.kind in ADAM_KINDS and state[-1] != updates:
        raise InputError(f"the Adam state's step count t is {state[-1]:g}, but "
                         f"{updates} updates were made")
    return Resume(state, updates)


def _net_data(net: Network, data: Data, dt: np.dtype[Any]) -> Data:
    from autograd_compare import network

    return network.data(net, data.inputs, data.targets, dt, getattr(data, "weights", None))


NetworkResult = TypeVar("NetworkResult", "ForwardPass", "BackwardPass", "Trajectory",
                         "BatchResult")


def _check_net(name: str, dt: np.dtype[Any], result: NetworkResult, what: str) -> NetworkResult:
    """Refuse arrays (also inside the per-layer tuples) not of the requested dtype."""
    for field, value in zip(result._fields, result, strict=True):
        if field == "steps_to_threshold":
            continue
        for v in value if isinstance(value, tuple) else (value,):
            if v is not None and (not isinstance(v, np.ndarray) or v.dtype != dt):
                got = v.dtype if isinstance(v, np.ndarray) else type(v).__name__
                raise DtypeError(f"backend {name!r} returned {what}.{field} as {got}, but "
                                 f"{dt.name} was requested; refusing to report it")
    return result
