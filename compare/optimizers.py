"""Optimizers beyond plain gradient descent: the description every backend reads.

One `Optimizer` names an update rule and its hyperparameters; each backend's ``optim`` module
(`manual.optim`, `torch_impl.optim`, `jax_impl.optim`, same function names and signatures)
trains any network with it and returns a `Trajectory` whose ``state`` carries the
optimizer's state after every step so that the harness (`compare.harness.optim_check`) can
name a first divergence such as "v5 after step 3".

The update rules, with g = dE_total/dw (plus λ·m⊙w when ``l2`` = λ > 0, since then the loss is
E_total + λ/2·Σ m⊙w²) and wd = ``weight_decay`` (applied as wd·m⊙w):

    sgd                g ← g + wd·w;                    w ← w - lr·g
    momentum           g ← g + wd·w;  v ← μ·v + (1-τ)·g (v ← g at step 1);  w ← w - lr·v
    nesterov           as momentum, then w ← w - lr·(g + μ·v)          (PyTorch's form, τ = 0)
    textbook-momentum  g ← g + wd·w;  u ← μ·u - lr·g;  w ← w + u         (manual only)
    adam               g ← g + wd·w;  m ← β1·m + (1-β1)·g;  v ← β2·v + (1-β2)·g²;
                       m̂ = m/(1-β1^t);  v̂ = v/(1-β2^t);  w ← w - lr·m̂/(√v̂ + ε)
    adamw              w ← w - lr·wd·w (decoupled, on the weights before the step), then adam
                       with wd = 0

μ = ``momentum``, τ = ``dampening``, β1, β2 = ``betas``, ε = ``eps``. This is PyTorch's
convention (torch.optim.SGD, Adam, AdamW); optax's ``sgd``, ``add_decayed_weights``, ``adam``
and ``adamw`` compute the same numbers (docs/optimizers.md shows how close, per optimizer).

Regularisation is one option set, shared by the checks (`compare.harness.network_check`) and
the optimizers: ``l2`` (a term of the loss) and ``weight_decay`` (a term of the update), each
over the parameters of the mask m (`decay_mask`): the weights W_l always, the trainable
biases b_l when ``decay_biases`` says so. ``decay_biases=None`` is each term's common default:
biases decayed by ``weight_decay`` (what torch.optim does with ``weight_decay`` on
``model.parameters()``), weights only in the ``l2`` term (scikit-learn's ``alpha``, Keras's
``kernel_regularizer``); True or False sets both (docs/conventions.md).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from autograd_compare.errors import InputError
from autograd_compare.validate import short_text

if TYPE_CHECKING:
    from autograd_compare.network import Network

KINDS = ("sgd", "momentum", "nesterov", "adam", "adamw", "textbook-momentum")
MANUAL_ONLY = ("textbook-momentum",)  # conventions no framework implements
MOMENTUM_KINDS = ("momentum", "nesterov", "textbook-momentum")
ADAM_KINDS = ("adam", "adamw")


class Optimizer(NamedTuple):
    """An update rule and its hyperparameters (PyTorch's names and defaults)."""

    kind: str = "sgd"  # one of KINDS
    lr: float = 0.5  # learning rate; a batch gives one per configuration instead
    momentum: float = 0.0  # μ (momentum, nesterov, textbook-momentum); 0.9 if not given there
    dampening: float = 0.0  # τ: v ← μ·v + (1-τ)·g (momentum only; PyTorch forbids it for nesterov)
    weight_decay: float = 0.0  # wd: coupled (g + wd·w) except for adamw (decoupled)
    l2: float = 0.0  # λ: the loss becomes E_total + λ/2·Σw², so g gains λ·w (through autodiff)
    betas: tuple[float, float] = (0.9, 0.999)  # β1, β2 (adam, adamw)
    eps: float = 1e-8  # ε, outside the square root: m̂/(√v̂ + ε)
    lr_change: tuple[int, float] | None = None  # (k, lr2): updates k+1, k+2, ... use lr2
    frozen: tuple[int, ...] = ()  # parameters held fixed (requires_grad=False): gradient 0
    decay_biases: bool | None = None  # l2 and weight decay on the biases too; None: each
    #                                   term's default (weight decay yes, l2 no)

    def l2_biases(self) -> bool:
        """Whether the l2 term covers the trainable biases (default no: weights only)."""
        return bool(self.decay_biases)

    def wd_biases(self) -> bool:
        """Whether weight decay shrinks the trainable biases (default yes, as torch.optim)."""
        return self.decay_biases is not False

    def lr_at(self, k: int) -> float:
        """The learning rate of update k (0-based)."""
        return self.lr_change[1] if self.lr_change and k >= self.lr_change[0] else self.lr

    def state_names(self) -> tuple[str, ...]:
        """Names of the state columns of `Trajectory.state`, in order (`naming`)."""
        from autograd_compare import naming

        return naming.optimizer_state_names(self.kind, naming.WEIGHT_NAMES)

    def describe(self) -> str:
        """One line, e.g. "adam(lr=0.5, betas=(0.9, 0.999), eps=1e-08)"."""
        parts = [f"lr={self.lr:g}"]
        if self.kind in MOMENTUM_KINDS:
            parts.append(f"momentum={self.momentum:g}")
        if self.kind == "momentum" and self.dampening:
            parts.append(f"dampening={self.dampening:g}")
        if self.kind in ADAM_KINDS:
            parts += [f"betas=({self.betas[0]:g}, {self.betas[1]:g})", f"eps={self.eps:g}"]
        if self.weight_decay:
            parts.append(f"weight_decay={self.weight_decay:g}")
        if self.l2:
            parts.append(f"l2={self.l2:g}")
        if self.lr_change:
            parts.append(f"lr={self.lr_change[1]:g} from update {self.lr_change[0] + 1}")
        if self.frozen:
            parts.append(f"{len(self.frozen)} parameters frozen")
        if self.decay_biases is not None:
            parts.append(f"decay_biases={'yes' if self.decay_biases else 'no'}")
        return f"{self.kind}({', '.join(parts)})"

    def masked(self, dw: Any) -> Any:
        """``dw`` with the frozen parameters' gradients 0 (NumPy), as autograd leaves a
        ``requires_grad=False`` parameter: no update and no optimizer state for it."""
        if not self.frozen:
            return dw
        out = np.array(dw, copy=True)
        out[..., list(self.frozen)] = 0
        return out


SGD = Optimizer()  # plain gradient descent (its lr is each call's): sgd is a value


def _number(value: Any, what: str, lo: float, hi: float | None, expected: str,
            lo_open: bool = False, hi_open: bool = True) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a number ({expected}); got {short_text(value)}") from None
    above = x > lo if lo_open else x >= lo
    below = hi is None or (x < hi if hi_open else x <= hi)
    if not (math.isfinite(x) and above and below):
        raise InputError(f"{what} must be {expected}; got {short_text(value)}")
    return x


def make(kind: Any = "sgd", *, lr: Any = 0.5, momentum: Any = None, dampening: Any = 0.0,
         weight_decay: Any = 0.0, l2: Any = 0.0, betas: Any = (0.9, 0.999), eps: Any = 1e-8,
         lr_change: Any = None, frozen: Any = (), decay_biases: Any = None) -> Optimizer:
    """A checked `Optimizer`. ``momentum`` defaults to 0.9 for the momentum kinds;
    ``decay_biases`` True, False or None (each term's default: see the module docstring).

    Raises:
        InputError: one line quoting the bad value and the expected one.
    """
    if kind not in KINDS:
        raise InputError(f"unknown optimizer {short_text(kind)}; expected one of "
                         f"{', '.join(KINDS)}")
    lr_ = _number(lr, "learning rate", 0.0, None, "finite and > 0", lo_open=True)
    if momentum is None:
        momentum = 0.9 if kind in MOMENTUM_KINDS else 0.0
    mu = _number(momentum, "momentum", 0.0, 1.0, "in [0, 1)")
    if kind in MOMENTUM_KINDS and mu == 0.0:
        raise InputError(f"{kind} needs momentum in (0, 1); got {short_text(momentum)}")
    if kind not in MOMENTUM_KINDS and mu != 0.0:
        raise InputError(f"momentum applies to momentum, nesterov, textbook-momentum; "
                         f"got momentum={short_text(momentum)} with {short_text(kind)}")
    tau = _number(dampening, "dampening", 0.0, 1.0, "in [0, 1)")
    if tau and kind != "momentum":
        raise InputError(f"dampening applies to momentum only (PyTorch refuses it for "
                         f"nesterov); got dampening={short_text(dampening)} with "
                         f"{short_text(kind)}")
    wd = _number(weight_decay, "weight decay", 0.0, None, "finite and >= 0")
    lam = _number(l2, "l2", 0.0, None, "finite and >= 0")
    try:
        b1, b2 = (float(b) for b in betas)
    except (TypeError, ValueError):
        raise InputError(f"betas must be two numbers b1,b2 in [0, 1); got "
                         f"{short_text(betas)}") from None
    for name, b in (("beta1", b1), ("beta2", b2)):
        _number(b, name, 0.0, 1.0, "in [0, 1)")
    eps_ = _number(eps, "eps", 0.0, None, "finite and > 0", lo_open=True)
    change = None
    if lr_change is not None:
        try:
            k, lr2 = lr_change
        except (TypeError, ValueError):
            raise InputError(f"lr_change must be (step, lr); got {short_text(lr_change)}") from None
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise InputError(f"lr_change step must be a whole number >= 1; got {short_text(k)}")
        change = (int(k), _number(lr2, "learning rate", 0.0, None, "finite and > 0",
                                  lo_open=True))
    return Optimizer(kind, lr_, mu, tau, wd, lam, (b1, b2), eps_, change,
                     _frozen(frozen, wd or lam), decay_biases_value(decay_biases, wd or lam))


def decay_biases_value(value: Any, decay: float = 1.0) -> bool | None:
    """``decay_biases`` checked: True, False or None (also "yes", "no" as the command line
    gives them); refused when neither l2 nor weight decay is set (``decay`` 0): it would
    change nothing."""
    choice = {"yes": True, "no": False}.get(value, value) if isinstance(value, str) else value
    if choice is not None and not isinstance(choice, (bool, np.bool_)):
        raise InputError(f"decay_biases must be yes or no (True or False); got "
                         f"{short_text(value)}")
    if choice is not None and not decay:
        raise InputError("decay_biases applies to l2 and weight decay; give l2 or "
                         "weight_decay > 0 too")
    return None if choice is None else bool(choice)


def decay_mask(net: Network, biases: bool) -> np.ndarray:
    """m (P,) of 0.0 and 1.0: 1 on every weight W_l of ``net``, and on
    its trainable biases b_l if ``biases``; the parameters l2 and weight decay act on."""
    from autograd_compare.network import layout, n_params

    m = np.zeros(n_params(net))
    for lay in layout(net):
        m[lay.W] = 1.0
        if lay.b is not None and biases:
            m[lay.b] = 1.0
    return m


def sklearn_l2(alpha: float, total: float) -> float:
    """The ``l2`` (λ) of scikit-learn's ``alpha`` on ``total`` examples (n, or Σ s_b with
    sample weights): its loss adds alpha/(2n)·Σ‖W‖², the weights only, so λ = alpha/n with
    reduction "mean-examples" and ``decay_biases=False`` (docs/conventions.md)."""
    return _number(alpha, "alpha", 0.0, None, "finite and >= 0") / _number(
        total, "the number of examples", 0.0, None, "finite and > 0", lo_open=True)


def penalty_gradient(opt: Optimizer, net: Network, w: np.ndarray) -> np.ndarray:
    """d(λ/2·Σ m⊙w²)/dw = λ·m⊙w at ``w`` (..., P), in ``w``'s dtype (λ·w where m is all 1)."""
    lam = w.dtype.type(opt.l2)
    m = decay_mask(net, opt.l2_biases())
    out: np.ndarray = lam * w if m.all() else lam * (m.astype(w.dtype) * w)
    return out


def _frozen(frozen: Any, decay: float) -> tuple[int, ...]:
    """Sorted, distinct parameter indices >= 0; refused with weight decay or L2, which a
    frozen parameter (outside the optimizer in PyTorch) never receives."""
    try:
        out = tuple(sorted({int(i) for i in frozen}))
        ok = all(float(i) == int(i) and not isinstance(i, bool) for i in frozen)
    except (TypeError, ValueError):
        out, ok = (), False
    if not ok or any(i < 0 for i in out):
        raise InputError(f"frozen must be parameter indices >= 0; got {short_text(frozen)}")
    if out and decay:
        raise InputError("frozen parameters with weight decay or l2 are not supported (PyTorch "
                         "leaves a requires_grad=False parameter out of both)")
    return out


def with_lr(opt: Optimizer, lr: float) -> Optimizer:
    """``opt`` at learning rate ``lr`` (checked)."""
    return opt._replace(lr=_number(lr, "learning rate", 0.0, None, "finite and > 0",
                                   lo_open=True))
