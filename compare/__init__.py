"""autograd-compare: hand-derived backprop, PyTorch autograd and JAX grad, side by side."""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

from autograd_compare.errors import BackendUnavailable, CompareError, DtypeError, InputError
from autograd_compare.interface import (
    CLASS_INPUTS,
    CLASS_TARGETS,
    CLASS_WEIGHTS,
    LEARNING_RATES,
    Backend,
    Example,
    Forward,
    Gradients,
)
from autograd_compare.registry import backends, get_backend
from autograd_compare.types import BatchResult, Trajectory
from autograd_compare.usermodel import check_gradients, check_model

try:  # the one source of the version is pyproject.toml, read from the installed metadata
    __version__: str = _version("autograd-compare")
except PackageNotFoundError:  # run from a checkout that was never installed
    __version__ = "0+unknown"

__all__ = [
    "CLASS_INPUTS", "CLASS_TARGETS", "CLASS_WEIGHTS", "LEARNING_RATES",
    "Backend", "BatchResult", "Example", "Forward", "Gradients", "Trajectory",
    "BackendUnavailable", "CompareError", "DtypeError", "InputError",
    "backends", "get_backend", "check_gradients", "check_model", "__version__",
]
