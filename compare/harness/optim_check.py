"""Optimizer check on any network (`compare.network`): every backend trains with one
optimizer; compare them step by step, optimizer state included.

Every backend's ``optim`` module trains (`manual.optim`: the update rules by hand on the flat
vector; `torch_impl.optim`: torch.optim on the ``nn.Sequential``; `jax_impl.optim`: optax).
Row k of a run is update k+1 (steps are counted from 1 in labels), in the order the update
computes things: E and the gradients at the parameters entering the step, then the
optimizer's state after the step (named by `naming.optimizer_state_names`: v1..v8, or m1..m8,
v1..v8, t on the tutorial's network; ``v_W2[0,1]`` on others), then the parameters after it.
Each backend is compared with the reference (the first backend listed) on the columns both
have (textbook momentum's u1..u8 is not PyTorch's v1..v8, so only E, gradients and
parameters are compared there); the first divergence is the earliest row, then the first
column, whose difference exceeds ``network_check.step_rtol · (k + 1) · scale``, e.g.
"v5 after step 3".

Scales (what a tolerance is relative to; `tolerances` explains why terms, not values): G_j,
the gradient's term scale (`network_check.term_scales`, plus λ·|w_j| for l2 and wd·|w_j| for
coupled weight decay), each scale the largest over steps 1..k of the reference run (causal:
an early step is not judged by sizes that come later), then

* E, dw_j: their term scales;
* a momentum buffer v_j = Σ μ^i·g carries every gradient's rounding: |v_j| + G_j/(1 - μ);
  textbook u_j = -lr·v_j: lr times that;
* Adam's m_j (a weighted mean of g): |m_j| + G_j; v_j (of g²): |v_j| + G_j²; t (a count): 1;
* a weight: |w_j| + lr·D_j, where D_j bounds the step's direction: G_j (sgd), G_j/(1 - μ)
  (momentum; (1 + μ)·G_j/(1 - μ) for Nesterov), and for Adam (G_j + |m̂_j|)/(√v̂_j + ε) at
  every step (an error in m̂ of order G_j is divided by √v̂), plus wd·|w_j| for AdamW.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import numpy as np
from numpy.typing import DTypeLike

from autograd_compare import naming, registry, validate
from autograd_compare.backend import Backend
from autograd_compare.errors import InputError
from autograd_compare.harness import network_check, tolerances
from autograd_compare.harness.network_check import GradCheck
from autograd_compare.harness.tolerances import FloatArray
from autograd_compare.network import Data, ForwardPass, Network, loss_name, param_names
from autograd_compare.optimizers import ADAM_KINDS, MANUAL_ONLY, Optimizer
from autograd_compare.types import BatchResult, Resume, Trajectory

if TYPE_CHECKING:
    from autograd_compare.manual.catalogue import Suspect

MISTAKE_PREFIX = registry.MISTAKE_PREFIX
FRAMEWORKS = ("torch", "jax")  # backends with update rules of their own (not manual's)
OPTIM_NEEDS = registry.OPTIM_NEEDS  # frameworks an optim module needs beyond its backend's


class Divergence(NamedTuple):
    """The first quantity of a backend outside tolerance."""

    backend: str
    step: int  # 1-based update number
    quantity: str  # "v5"
    label: str  # "v5 after step 3"
    value: float
    reference: float
    difference: float
    tolerance: float
    check: str = "trajectory"  # "step": one update from the reference's state; "own-step":
    #             a step of the backend's own run, from its own state; "trajectory": the run


class Separation(NamedTuple):
    """A whole trajectory that leaves its tolerance although every single step from the
    reference's state agrees: explained (amplified rounding) when the backend's own run is a
    chain of correct updates too (`own_steps`)."""

    backend: str
    step: int  # the first update whose whole-run difference exceeds the tolerance
    label: str  # "db2[2] at step 122"
    growth: float  # how fast the reference's own 1-ulp nudge of the start grows (×G per
    #                step, from its smallest to `step`): the dynamics' amplification
    own_steps: Comparison  # the backend's rows against the reference's single updates
    #                             from the backend's own states (check "own-step")

    @property
    def explained(self) -> bool:
        return self.own_steps.first_divergence is None


class Largest(NamedTuple):
    """A backend's largest difference from the reference over the run."""

    backend: str | None
    abs: float  # largest |difference|
    ratio: float  # largest |difference| / tolerance (< 1 agrees)
    label: str  # where the largest |difference| is


class Comparison(NamedTuple):
    backend: str
    columns: tuple[str, ...]  # compared quantities
    diff: FloatArray  # (steps, Q)
    tolerance: FloatArray  # (steps, Q)
    largest: Largest
    first_divergence: Divergence | None


class TrajectoryCheck(NamedTuple):
    optimizer: Optimizer
    network: Network
    dtype: np.dtype[Any]
    reference: str
    runs: dict[str, Trajectory]
    comparisons: dict[str, Comparison]
    ok: bool
    first_divergence: Divergence | None
    largest: Largest
    finals: dict[str, ForwardPass | None]  # backend -> its own forward pass after the last
    #                                        update (None: the training diverged)
    steps: dict[str, Comparison]  # the per-step check: backend -> its single updates
    #          from the reference's state, compared (the backends of the reference's convention)
    separations: dict[str, Separation]  # backend -> where its whole trajectory separates
    #                                     while every single step agrees

    def decisive(self, name: str) -> Comparison:
        """The comparison behind backend ``name``'s verdict: the per-step check, or the whole
        trajectory where no per-step check runs (another convention) or where it separates
        with nothing to explain it."""
        sep = self.separations.get(name)
        if sep is not None and not sep.explained:
            return sep.own_steps
        return self.steps.get(name, self.comparisons[name])

    def failed(self, name: str) -> Divergence | None:
        """Backend ``name``'s first divergence that fails the check: a single step from the
        reference's state, else a step of its own run from its own state (its whole run
        separating with no amplified rounding to explain it), else, where no per-step check
        runs (another convention), its whole trajectory."""
        return self.decisive(name).first_divergence

    @property
    def final_loss(self) -> dict[str, float]:
        """backend -> E after the last update (NaN if the training diverged)."""
        return {n: float("nan") if f is None else float(f.E) for n, f in self.finals.items()}


def available() -> list[str]:
    """The built-in backends whose framework is installed (nothing imported)."""
    return [name for name in registry.backends(plugins=False)
            if name not in OPTIM_NEEDS or importlib.util.find_spec(OPTIM_NEEDS[name])]


def _check_kind(name: str, opt: Optimizer) -> None:
    if opt.kind in MANUAL_ONLY and name in FRAMEWORKS:  # a plugin runs manual's rules
        raise InputError(f"optimizer {opt.kind!r} exists in the manual backend only; got "
                         f"backend {name!r}")


def train(name: str, net: Network, w: Any, data: Data, opt: Optimizer, steps: int,
          dtype: DTypeLike = "float64", resume: Resume | None = None) -> Trajectory:
    """Backend ``name`` (or ``mistake:<kind>``) trains ``net`` from ``w`` (P,) with ``opt``
    (from ``resume``'s optimizer state, if given)."""
    dt = validate.dtype(dtype)
    _check_kind(name, opt)
    return registry.get_network_backend(name, dt).train(net, w, data, opt, steps, resume)


def train_batch(name: str, net: Network, w: Any, lr: Any, data: Data, opt: Optimizer,
                steps: int, dtype: DTypeLike = "float64") -> BatchResult:
    """Backend ``name`` trains N configurations of ``net``: ``w`` (N, P), ``lr`` (N,)."""
    dt = validate.dtype(dtype)
    _check_kind(name, opt)  # a mistake has no batched form: the registry says so
    return registry.get_network_backend(name, dt).train_batch(net, w, lr, data, opt, steps)


def columns(net: Network, opt: Optimizer) -> tuple[str, ...]:
    """The quantities of one row, in order: E, gradients, state, parameters after the step."""
    params = param_names(net)
    return (loss_name(net), *naming.grad_names(params),
            *naming.optimizer_state_names(opt.kind, params),
            *params)


def rows(t: Trajectory) -> FloatArray:
    """(steps, Q) float64 in `columns` order."""
    return np.concatenate([t.loss[:, None], t.grads, t.state, t.weights[1:]],
                          axis=1).astype(np.float64)


def label(quantity: str, step: int) -> str:
    """ "v5", 3 -> "v5 after step 3"; "dw5", 3 -> "dw5 at step 3" (the gradient it used)."""
    where = "at" if quantity in ("E_total", "E") or quantity.startswith("d") else "after"
    return f"{quantity} {where} step {step}"


def scales(net: Network, opt: Optimizer, ref: Trajectory, data: Data,
           dtype: DTypeLike) -> dict[str, np.ndarray]:
    """Each quantity's scale at every step (`optim_check.update_scales`, causal)."""
    d64 = network_check.float64_data(data)
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


def update_scales(opt: Optimizer, ref: Trajectory, dw_terms: FloatArray, E: FloatArray,
                  loss_name: str, params: tuple[str, ...]) -> dict[str, FloatArray]:
    """The scales of the module docstring from the gradient's term scales ``dw_terms``
    (steps, P) and the loss's ``E`` (steps,) of the reference run ``ref``."""

    def up_to(x: FloatArray) -> FloatArray:
        """Largest over steps 1..k, at every k."""
        return np.maximum.accumulate(x, axis=0)

    P = len(params)
    wabs = up_to(np.abs(ref.weights.astype(np.float64)))[1:]  # (S, P): |w| entering and after
    G = up_to(np.maximum(dw_terms, np.abs(ref.grads.astype(np.float64)))) + opt.l2 * wabs
    if opt.kind != "adamw":
        G = G + opt.weight_decay * wabs
    steps = ref.grads.shape[0]
    lr = up_to(np.array([opt.lr_at(k) for k in range(steps)]))[:, None]
    mu = opt.momentum
    out = {loss_name: up_to(E)}
    out.update({g: G[:, j] for j, g in enumerate(naming.grad_names(params))})
    assert ref.state is not None, "an optimizer's trajectory carries its state"
    s = up_to(np.abs(ref.state.astype(np.float64)))
    names = naming.optimizer_state_names(opt.kind, params)
    if opt.kind in ("momentum", "nesterov"):
        out.update({n: s[:, j] + G[:, j] / (1 - mu) for j, n in enumerate(names)})
        D = G / (1 - mu) * (1 + mu if opt.kind == "nesterov" else 1)
    elif opt.kind == "textbook-momentum":
        out.update({n: s[:, j] + lr[:, 0] * G[:, j] / (1 - mu) for j, n in enumerate(names)})
        D = G / (1 - mu)
    elif opt.kind in ADAM_KINDS:
        b1, b2 = opt.betas
        st = np.abs(ref.state.astype(np.float64))
        m, vv, t = st[:, :P], st[:, P:2 * P], st[:, 2 * P:2 * P + 1]
        out.update({n: s[:, j] + G[:, j] for j, n in enumerate(names[:P])})
        out.update({n: s[:, P + j] + G[:, j] ** 2 for j, n in enumerate(names[P:2 * P])})
        out[naming.STEP_COUNT] = np.ones(steps)
        m_hat, v_hat = m / (1 - b1**t), vv / (1 - b2**t)
        D = up_to((G + m_hat) / (np.sqrt(v_hat) + opt.eps))
        if opt.kind == "adamw":
            D = D + opt.weight_decay * wabs
    else:
        D = G
    out.update({n: wabs[:, j] + lr[:, 0] * D[:, j] for j, n in enumerate(params)})
    # a scale that overflowed (inf · 0, inf - inf in the running bound) bounds nothing
    return {n: np.where(np.isnan(v), np.inf, v) for n, v in out.items()}


def compare_runs(name: str, run: Trajectory, run_cols: tuple[str, ...],
                 ref: Trajectory, ref_cols: tuple[str, ...], scale: dict[str, FloatArray],
                 rtol: float, check: str = "trajectory") -> Comparison:
    """``run`` against ``ref`` on their common columns (in the reference's order), over the
    rows ``run`` has; the tolerance is ``rtol · (step + 1) · scale`` for a whole trajectory
    (every earlier step's rounding is carried), ``rtol · scale`` for the per-step check
    (``check="step"``: every row starts from the reference's own state), ``rtol`` the
    network's own per-step one (`network_check.step_rtol`). Cells where the reference is
    not finite, and rows where its E is not, are not compared (it overflowed: the report says
    where the training diverged); a backend not finite where the reference is, is an
    infinite difference."""
    common = tuple(c for c in ref_cols if c in run_cols)
    x = rows(run)[:, [run_cols.index(c) for c in common]]
    n = x.shape[0]
    y = rows(ref)[:n, [ref_cols.index(c) for c in common]]
    carried = np.arange(n)[:, None] + 1.0 if check == "trajectory" else np.ones((n, 1))
    tol = cast(FloatArray, rtol * carried * np.stack([scale[c][:n] for c in common], 1))
    # a cell where the reference overflowed has no number to compare with, nor has a row
    # where its E did (inf and NaN then travel differently through each framework)
    overflowed = ~np.isfinite(y) | ~np.isfinite(rows(ref)[:n, :1])
    cells = tolerances.compare_cells(x, y, tol, overflowed)
    first = None
    if cells.first is not None:
        k, q = cells.first
        first = Divergence(name, k + 1, common[q], label(common[q], k + 1), float(x[k, q]),
                           float(y[k, q]), float(cells.diff[k, q]), float(tol[k, q]), check)
    k, q = cells.largest
    largest = Largest(name, cells.abs, cells.ratio, label(common[q], k + 1))
    return Comparison(name, common, cells.diff, tol, largest, first)


def counterpart(name: str, opt: Optimizer) -> Optimizer:
    """The optimizer backend ``name`` runs for ``opt``: a manual-only convention runs as its
    framework counterpart elsewhere (textbook momentum -> momentum, same μ and lr), so that
    the weights of the two conventions can be compared."""
    if opt.kind in MANUAL_ONLY and name in FRAMEWORKS:  # a plugin runs manual's rules
        return opt._replace(kind="momentum")
    return opt


def earliest_and_largest(comps: dict[str, Comparison], ref_cols: Sequence[str]
                         ) -> tuple[Divergence | None, Largest]:
    """The first divergence over every comparison (earliest step, then column order) and the
    largest difference relative to its tolerance."""
    firsts = [c.first_divergence for c in comps.values() if c.first_divergence]
    order = {c: i for i, c in enumerate(ref_cols)}
    first = min(firsts, key=lambda d: (d.step, order[d.quantity]), default=None)
    largest = max((c.largest for c in comps.values()), key=lambda d: d.ratio,
                  default=Largest(None, 0.0, 0.0, ""))
    return first, largest


def require_backends(opt: Optimizer, backends: list[str]) -> None:
    """A one-line InputError for no backend, or a manual-only optimizer without manual."""
    if not backends:
        raise InputError("need at least one backend")
    if opt.kind in MANUAL_ONLY and not any(counterpart(n, opt) == opt for n in backends):
        raise InputError(f"optimizer {opt.kind!r} exists in the manual backend only; got "
                         f"backends {','.join(backends)!r} (add manual)")


def check(opt: Optimizer, backends: list[str], net: Network, w: Any, data: Data,
          steps: int = 20, dtype: DTypeLike = "float64") -> TrajectoryCheck:
    """Train ``net`` with ``opt`` in every backend and compare each with the first: the
    per-step check (`single_steps`) decides; a whole trajectory that separates while every
    step agrees is judged by `separation`."""
    require_backends(opt, backends)
    dt = validate.dtype(dtype)
    reference = backends[0]
    opts = {name: counterpart(name, opt) for name in backends}
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # a diverging run
        return _compared(opt, net, data, dt, reference, opts, {  # overflows: the report
            name: train(name, net, w, data, opts[name], steps, dt)  # says where
            for name in backends})


def _compared(opt: Optimizer, net: Network, data: Data, dt: np.dtype[Any], reference: str,
              opts: dict[str, Optimizer], runs: dict[str, Trajectory]) -> TrajectoryCheck:
    """`check` once every backend has trained: ``runs`` (the reference's first)."""
    ref = runs[reference]
    scale = scales(net, opts[reference], ref, data, dt)
    rtol = network_check.step_rtol(net, int(np.shape(data.inputs)[0]), dt)
    ref_cols = columns(net, opts[reference])
    comps = {name: compare_runs(name, run, columns(net, opts[name]), ref, ref_cols, scale, rtol)
             for name, run in runs.items() if name != reference}
    local = {name: compare_runs(name, single_steps(name, net, in_convention(
        ref, opts[reference], opts[name]), data, opts[name], dt, runs[name]),
        columns(net, opts[name]), ref, ref_cols, scale, rtol, "step")
        for name in comps if convertible(opts[reference], opts[name])}
    separated = [n for n, c in comps.items() if c.first_divergence and n in local
                 and local[n].first_divergence is None]
    seps = {}
    if separated:
        size = nudge_size(reference, net, ref, data, opts[reference], dt, scale)
        for n in separated:
            own = own_steps(n, reference, net, in_convention(runs[n], opts[n],
                                                             opts[reference]),
                            ref, data, opts[reference], dt, rtol)
            seps[n] = separation(comps[n], own, size)
    final = {name: final_forward(name, net, run.weights[-1], data, dt)
             for name, run in runs.items()}
    result = TrajectoryCheck(opt, net, dt, reference, runs, comps, True, None,
                         Largest(None, 0.0, 0.0, ""), final, local, seps)
    first, largest = earliest_and_largest({n: result.decisive(n) for n in comps}, ref_cols)
    return result._replace(ok=first is None, first_divergence=first, largest=largest)


def convertible(a: Optimizer, b: Optimizer) -> bool:
    """Whether a state of convention ``a`` can be handed to ``b``: the same rule, or textbook
    momentum and PyTorch's momentum at a constant rate (u = -lr·v: both start from 0, u ← μu -
    lr·g and v ← μv + g)."""
    if a == b:
        return True
    kinds = {a.kind, b.kind}
    return (kinds == {"textbook-momentum", "momentum"} and a._replace(kind=b.kind) == b
            and a.lr_change is None and not a.dampening)


def in_convention(run: Trajectory, a: Optimizer, b: Optimizer) -> Trajectory:
    """``run`` (of convention ``a``) with its state in ``b``'s (`convertible`)."""
    if a.kind == b.kind or run.state is None:
        return run
    lr = run.state.dtype.type(a.lr)
    return run._replace(state=-run.state / lr if a.kind == "textbook-momentum"
                        else -lr * run.state)


def single_steps(name: str, net: Network, ref: Trajectory, data: Data, opt: Optimizer,
                 dt: np.dtype[Any], own: Trajectory) -> Trajectory:
    """Backend ``name``'s single updates from the reference's state: row k is one update
    from ``ref.weights[k]`` and the reference's optimizer state after k updates (row 0 is
    ``own``'s first: every backend starts from the same point), while the reference's
    weights and state are finite (after that it overflowed: no point to start from; cells
    where only its results overflowed are skipped by `compare_runs`)."""
    n = ref.grads.shape[0]
    state = ref.state if ref.state is not None else np.empty((n, 0), ref.weights.dtype)
    starts = np.isfinite(ref.weights[1:n]).all(axis=1) & np.isfinite(state[:n - 1]).all(axis=1)
    last = 1 + int(np.argmin(starts)) if not starts.all() else n
    loss, grads = own.loss[:last].copy(), own.grads[:last].copy()
    weights = np.concatenate([ref.weights[:1], own.weights[1:last + 1]])
    after = np.empty((last, state.shape[1]), ref.weights.dtype)
    if own.state is not None:
        after[0] = own.state[0]
    for k in range(1, last):
        one = train(name, net, ref.weights[k], data, opt, 1, dt, Resume(state[k - 1], k))
        loss[k], grads[k], weights[k + 1] = one.loss[0], one.grads[0], one.weights[1]
        if one.state is not None:
            after[k] = one.state[0]
    return Trajectory(loss, weights, grads, after)


def own_steps(name: str, reference: str, net: Network, run: Trajectory, ref: Trajectory,
              data: Data, opt: Optimizer, dt: np.dtype[Any], rtol: float) -> Comparison:
    """Backend ``name``'s own run against the reference's single updates from that run's
    states (weights and optimizer state): agreeing at every row, the run is a chain of
    correct updates, and where it leaves the reference's trajectory the dynamics amplified
    rounding; the tolerance is the per-step one, on the scales of ``run`` itself."""
    chain = single_steps(reference, net, run, data, opt, dt, ref)
    n = chain.grads.shape[0]
    scale = scales(net, opt, run, data, dt)
    mine = Trajectory(run.loss[:n], run.weights[:n + 1], run.grads[:n],
                      None if run.state is None else run.state[:n])
    cols = columns(net, opt)
    return compare_runs(name, mine, cols, chain, cols, scale, rtol, "own-step")


def nudge_size(reference: str, net: Network, ref: Trajectory, data: Data, opt: Optimizer,
               dt: np.dtype[Any], scale: dict[str, FloatArray]) -> FloatArray:
    """How the reference's own run answers a 1-ulp nudge of every start parameter (up and
    down): per step, the larger largest |difference| / scale over the quantities."""
    cols = columns(net, opt)
    s = np.stack([scale[q] for q in cols], 1)
    sizes = []
    for direction in (np.inf, -np.inf):
        start = np.nextafter(ref.weights[0], ref.weights.dtype.type(direction))
        nudged = rows(train(reference, net, start, data, opt, ref.grads.shape[0], dt))
        d = np.abs(nudged - rows(ref)) / s
        sizes.append(np.max(np.where(np.isfinite(d), d, 0.0), axis=1))
    return cast(FloatArray, np.maximum(*sizes))


def separation(comp: Comparison, own: Comparison, size: FloatArray) -> Separation:
    """The backend's first whole-trajectory divergence, with the nudge's growth up to it."""
    first = comp.first_divergence
    assert first is not None
    k = first.step - 1
    low = int(np.argmin(size[:k + 1]))
    growth = 1.0
    if k > low and size[low] > 0 and size[k] > 0:
        growth = float((size[k] / size[low]) ** (1 / (k - low)))
    return Separation(comp.backend, first.step, first.label, growth, own)


def final_forward(name: str, net: Network, w: np.ndarray, data: Data,
                  dtype: DTypeLike) -> ForwardPass | None:
    """Backend ``name``'s own forward pass at ``w`` (a ``mistake:`` update rule's is manual's);
    None where ``w`` is not finite."""
    if not np.all(np.isfinite(w)):
        return None
    backend = registry.get_network_backend(name, dtype)
    return backend.forward(net, w, network_data(net, data, dtype))


def network_data(net: Network, data: Data, dtype: DTypeLike) -> Data:
    from autograd_compare import network

    return network.data(net, data.inputs, data.targets, validate.dtype(dtype), data.weights)


class Diagnosis(NamedTuple):
    """What a failing backend most likely did (`manual.catalogue`)."""

    backend: str
    seen: str  # "the gradient check", "the first update at lr 0.5"
    suspects: tuple[Suspect, ...]  # (name, sentence) each; (): no known mistake matches

    def sentences(self) -> list[str]:
        if not self.suspects:
            return [f"{self.backend}: no known mistake matches {self.seen}"]
        return [f"{self.backend}: likely mistake ({s.name}, from {self.seen}): {s.sentence}"
                for s in self.suspects]


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
    rates: tuple[TrajectoryCheck, ...]  # one per learning rate, in the order asked
    notes: tuple[str, ...] = ()  # what the checks found, in sentences (a user's model)
    diagnoses: tuple[Diagnosis, ...] = ()  # one per failing backend (`diagnose`)

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
    def dtype(self) -> np.dtype[Any]:
        return self.data.inputs.dtype

    @property
    def first_divergence(self) -> dict[str, Any] | None:
        """The gradient check's first failure, else the earliest rate's first divergence
        (JSON-ready, with ``check`` "gradient" or "trajectory"), None when all agree."""
        if self.gradcheck.first_failure is not None:
            return dict(self.gradcheck.first_failure, check="gradient")
        for r in self.rates:
            if r.first_divergence is not None:
                return dict(r.first_divergence._asdict(), lr=r.optimizer.lr)
        return None

    @property
    def undetected(self) -> tuple[str, ...]:
        """The ``mistake:`` backends that pass the gradient check and agree with the
        reference at every rate."""
        wrong = {n for row in self.gradcheck.rows for n, err in row.errors.items()
                 if not err <= row.tolerance}
        return tuple(n for n in self.backends if n.startswith(MISTAKE_PREFIX)
                     and n not in wrong and all(r.failed(n) is None for r in self.rates))


def is_update_rule_mistake(name: str) -> bool:
    """``mistake:<kind>`` of an update rule (`manual.optim.MISTAKES`): its gradients are
    manual's, so the gradient check leaves it out."""
    from autograd_compare.manual.optim import MISTAKES

    return name.startswith(MISTAKE_PREFIX) and name[len(MISTAKE_PREFIX):] in MISTAKES


def sweep(source: str, opt: Optimizer, names: list[str], net: Network, w: Any, data: Data,
          lrs: Sequence[float], steps: int, dtype: DTypeLike = "float64",
          on_rate: Callable[[float], None] | None = None,
          judged: Sequence[Backend] = ()) -> Sweep:
    """`network_check.gradient_check` at ``w`` over the backends that compute gradients
    (every one but the ``mistake:`` update rules, `is_update_rule_mistake`) and the backends
    ``judged`` (a user's own model: gradient check only), then `check` at every rate of
    ``lrs`` (``on_rate(lr)`` before each, for progress)."""
    from autograd_compare import network, optimizers

    dt = validate.dtype(dtype)
    d = network_data(net, data, dt)
    w_arr = network.weights(net, w, dt)
    gradient_backends = [registry.get_network_backend(n, dt) for n in names
                         if not is_update_rule_mistake(n)] + list(judged)
    grad = network_check.gradient_check(gradient_backends, net, w_arr, d, opt)
    rates = []
    for lr in lrs:
        if on_rate is not None:
            on_rate(lr)
        rates.append(check(optimizers.with_lr(opt, lr), names, net, w_arr, d, steps, dt))
    return Sweep(source, net, d, w_arr, opt, steps, grad, tuple(rates),
                 diagnoses=diagnose(net, w_arr, d, grad, rates))


def diagnose(net: Network, w: np.ndarray, data: Data, grad: GradCheck,
             rates: Sequence[TrajectoryCheck]) -> tuple[Diagnosis, ...]:
    """For each backend whose parameter gradients fail, the catalogue's mistakes they match;
    for one whose gradients pass but whose plain gradient descent fails, those its first
    update matches (`manual.catalogue`)."""
    from autograd_compare.backend import is_plain
    from autograd_compare.manual import catalogue

    rows = {r.quantity: r for r in grad.rows}
    params = [rows[f"d{loss_name(net)}/d{n}"] for n in param_names(net)]
    tol = np.array([r.tolerance for r in params])
    out, seen = [], set()
    for name in grad.largest:
        if all(name in r.values and r.errors[name] <= r.tolerance for r in params) or \
                not all(name in r.values for r in params):
            continue
        got = np.array([r.values[name] for r in params])
        out.append(Diagnosis(name, "the gradient check",
                             catalogue.diagnose(net, w, data, got, tol)))
        seen.add(name)
    eps = float(np.finfo(w.dtype).eps)
    for r in rates:
        lr = r.optimizer.lr
        for name in r.comparisons:
            run = r.runs[name]
            if name in seen or not is_plain(r.optimizer) or r.failed(name) is None \
                    or len(run.weights) < 2 or not np.isfinite(run.weights[1]).all():
                continue
            w0, w1 = run.weights[0], run.weights[1]
            step_tol = lr * tol + 4 * eps * (np.abs(w0) + np.abs(w1))  # g's, then rounding
            out.append(Diagnosis(name, f"the first update at lr {lr:g}", catalogue.diagnose_update(
                net, w0, w1, data, lr, step_tol)))
            seen.add(name)
    return tuple(out)
