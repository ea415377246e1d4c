"""Bring your own backward: a gradient function of the user's, or of another library, as a
backend beside manual, torch and jax.

A backend is named ``"package.module:function"`` or ``"path/to/file.py:function"`` (imported on
request; the working folder is searched first, as ``python -m`` would), or by an entry point in
the group ``autograd_compare.backends`` (``name = "package.module:function"`` in a library's
``pyproject.toml``), or given as the function itself (`usermodel.check_gradients`). The
function is::

    def my_backprop(net: Network, w: np.ndarray, data: Data):  # w (P,), data of w's dtype
        return dE_dw                 # (P,) in the network's parameter order, or
        return E, dE_dw              # with the loss, or
        return BackwardPass(...)     # with every node's gradient too

Everything else is the one pipeline's: the gradient check (on the nodes too when given), the
trajectory check at every rate with any optimizer (manual's update rules around the user's
gradients, `manual.optim.train`), the report. E where the function does not return it, and
the forward values, are the hand-derived ones (`manual.mlp.forward`). Results are checked:
shape (one line naming the expected one) and dtype (the registry's guard); an exception of the
function is one line naming it and where it was raised.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import importlib.util
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from autograd_compare import validate
from autograd_compare.errors import CompareError, DtypeError, InputError
from autograd_compare.network import BackwardPass, Data, Network, describe, n_params
from autograd_compare.optimizers import Optimizer
from autograd_compare.types import Array, Resume, Trajectory

GROUP = "autograd_compare.backends"  # the entry-point group of installed backends
GradientFn = Callable[[Network, Array, Data], Any]
_given: dict[str, GradientFn] = {}  # functions passed in by the caller (`given`), by name


def entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    """The installed backends: name -> entry point (nothing imported)."""
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=GROUP)}


def is_plugin(name: str) -> bool:
    """``"package.module:function"``, a given function's name or an installed entry point's."""
    return ":" in name or name in _given or name in entry_points()


@contextlib.contextmanager
def given(name: str, fn: GradientFn) -> Iterator[None]:
    """``fn`` is the backend ``name`` inside the block (a function passed in, not importable)."""
    if name in _given:
        raise InputError(f"a backend named {validate.short_text(name)} is already given")
    _given[name] = fn
    try:
        yield
    finally:
        del _given[name]


def load(name: str) -> GradientFn:
    """The function behind ``name`` (one-line `InputError` for anything that is not one)."""
    if name in _given:
        return _given[name]
    shown = validate.short_text(name)
    try:
        if ":" not in name:
            fn = entry_points()[name].load()
        else:
            module, _, attr = name.rpartition(":")
            fn = import_source(module)
            for part in attr.split("."):
                fn = getattr(fn, part)
    except (ImportError, AttributeError, ValueError, KeyError, OSError,
            SyntaxError) as err:
        raise InputError(f"backend {shown}: cannot load it ({type(err).__name__}: "
                         f"{validate.short_text(str(err))}); expected package.module:function, "
                         "file.py:function or an installed autograd_compare.backends "
                         "entry point") from None
    if not callable(fn):
        raise InputError(f"backend {shown} is {type(fn).__name__}, not a function "
                         "(net, w, data) -> dE/dw")
    return fn


def import_source(spec: str) -> Any:
    """``package.module`` (the working folder searched first) or ``path/to/file.py``."""
    if spec.endswith(".py"):
        path = Path(spec).resolve()
        found = importlib.util.spec_from_file_location(path.stem, path)
        if found is None or found.loader is None or not path.is_file():
            raise ImportError(f"no file {spec}")
        module = importlib.util.module_from_spec(found)
        found.loader.exec_module(module)
        return module
    sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(spec)
    finally:
        sys.path.remove(os.getcwd())


def _call(name: str, fn: GradientFn, net: Network, w: Array, data: Data) -> Any:
    """``fn(net, w, data)``; its exception as one line naming where it was raised."""
    try:
        return fn(net, w, data)
    except CompareError:
        raise
    except Exception as err:  # noqa: BLE001 - the user's code: any error becomes one line
        frames = traceback.extract_tb(err.__traceback__)[1:]  # [0] is this call
        where = ", from ".join(dict.fromkeys(f"{f.filename}:{f.lineno}"
                                             for f in (frames[-1], frames[0])))
        raise InputError(f"backend {validate.short_text(name)} raised {type(err).__name__}: "
                         f"{validate.short_text(str(err))} (at {where})") from None


def functions(name: str, fn: GradientFn) -> tuple[
        Callable[[Network, Array, Data], BackwardPass],
        Callable[[Network, Array, Data, Optimizer, int, Resume | None], Trajectory]]:
    """``gradients`` and ``train`` of backend ``name`` (unchecked: the registry converts the
    inputs and guards the dtypes)."""
    from autograd_compare.manual import mlp, optim

    def loss_and_gradient(net: Network, w: Array, data: Data) -> tuple[Array, BackwardPass]:
        out = _call(name, fn, net, w, data)
        E = None
        if isinstance(out, tuple) and not isinstance(out, BackwardPass) and len(out) == 2:
            E, out = out
        g = out if isinstance(out, BackwardPass) else BackwardPass(out, (), ())
        shown, P = validate.short_text(name), n_params(net)
        dw = validate.as_numpy(g.w, f"dE/dw of backend {shown}")  # torch, JAX, lists too
        if dw.shape != (P,):
            raise InputError(f"backend {shown} returned dE/dw of shape {dw.shape}; expected "
                             f"({P},), the parameters of {describe(net)} in the order of "
                             "network.param_names")
        if dw.dtype != w.dtype:  # a list of Python floats is float64
            raise DtypeError(f"backend {shown} returned dE/dw as {dw.dtype}, but {w.dtype} "
                             "was requested; refusing to report it (compute in the dtype of w)")
        if E is None:
            E = mlp.forward(net, w, data).E  # the hand-derived loss
        E = validate.as_numpy(E, f"the loss E of backend {shown}")
        if E.shape != () or E.dtype != w.dtype:
            raise InputError(f"backend {shown} returned the loss E as {E.dtype} of shape "
                             f"{E.shape}; expected one {w.dtype} number")
        return E, g._replace(w=dw)

    def gradients(net: Network, w: Array, data: Data) -> BackwardPass:
        return loss_and_gradient(net, w, data)[1]

    def train(net: Network, w: Array, data: Data, opt: Optimizer, steps: int,
              resume: Resume | None) -> Trajectory:
        def objective(net: Network, w: Array, data: Data) -> tuple[Array, Array]:
            E, g = loss_and_gradient(net, w, data)
            return E, g.w

        return optim.train(net, w, data, opt, steps, resume, gradient=objective)

    return gradients, train
