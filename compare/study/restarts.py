"""The random-restart study: the hiker dropped many times at random places on the foggy island.

N starting parameter vectors are drawn (seeded); each is trained at every learning rate for S
steps by every backend, on any network (`Study.problem`, by default the tutorial's 2-2-2 and
its class example, w1..w8) with any optimizer, batched: one `train_batch` call per chunk,
backend and segment, all rates at once. Every configuration ends in one of three named
outcomes (`classify`, the one definition): *reached* sea level (final E <= the threshold),
*stuck* (not reached, and E has stopped falling: it fell by less than `STALL` (1 %) over the
tail, the last `tail_step` .. S steps, about the last 10 %), or *still descending* (not
reached, still falling: more steps would help). Only summaries are kept per configuration
(final E, E at the checkpoint steps and at the tail step, steps to the threshold, the
cross-backend difference), never the per-step losses, so memory grows with
N*L*(2 + checkpoints), not N*L*S. The checkpoints and the tail step cut the training into
segments, each continuing from the last one's weights: plain gradient descent has no state
besides the weights, so this is the same computation as one unbroken run (an optimizer has
state: no checkpoints, no tail, so a start that has not reached is `UNTOLD`; its batched
trainers count no steps to the threshold either).
Row layout of one chunk of C starts and L rates: row j*C + c is start c at rate lrs[j].
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from autograd_compare import network, registry
from autograd_compare.backend import is_plain
from autograd_compare.errors import InputError
from autograd_compare.harness import network_check, tolerances
from autograd_compare.interface import Example
from autograd_compare.optimizers import SGD, Optimizer, with_lr
from autograd_compare.registry import MISTAKE_PREFIX
from autograd_compare.types import BatchResult

DISTRIBUTIONS = {
    "uniform": "uniform on [LOW, HIGH]",
    "normal": "normal, mean (LOW+HIGH)/2, standard deviation (HIGH-LOW)/2",
}
GEN_BLOCK = 4096  # starts drawn per seeded generator: the starts do not depend on the chunk size
QUANTILES = (0.0, 0.01, 0.1, 0.5, 0.9, 0.99, 1.0)
TUTORIAL = network.preset("tutorial")

# --- the three outcomes of a start (one definition: `classify`) --------------------------------
TAIL = 10  # the tail is the last S // TAIL steps (at least one): about the last 10 %
STALL = 0.01  # stuck: E fell by less than 1 % of its value at the tail step over the tail
REACHED, STUCK, DESCENDING, UNTOLD = 0, 1, 2, 3  # outcome codes (int8 arrays)
OUTCOMES = {REACHED: "reached", STUCK: "stuck", DESCENDING: "still descending",
            UNTOLD: "not reached"}  # UNTOLD: with an optimizer (no tail step, see `tail_step`)


def tail_step(steps: int) -> int:
    """The step T = S - max(1, S // 10) at which the tail starts: E after T updates is
    compared with the final E (after S) to tell stuck from still descending."""
    return steps - max(1, steps // TAIL)


def classify(final: np.ndarray, tail: np.ndarray | None, threshold: float) -> np.ndarray:
    """The outcome code of every configuration (int8, shape of ``final``): `REACHED` if
    final E <= threshold; else `STUCK` if E fell by less than `STALL` over the tail,
    E_T - E_S < 0.01 * E_T (a loss that rose, or overflowed to inf/NaN, has stopped falling
    too); else `DESCENDING`. ``tail`` (E after `tail_step` updates) None: `UNTOLD`."""
    final = np.asarray(final, np.float64)
    hit = final <= threshold
    if tail is None:
        return np.where(hit, REACHED, UNTOLD).astype(np.int8)
    tail = np.asarray(tail, np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        falling = tail - final >= STALL * tail  # False for NaN: not falling
    return np.where(hit, REACHED, np.where(falling, DESCENDING, STUCK)).astype(np.int8)


def outcome_rule(study: Study) -> str:
    """The rule in words, with its numbers (docs, legends, report.json)."""
    S, E = study.steps, network.loss_name(study.problem.network)
    reached = f"reached: final {E} <= {study.threshold:g}"
    if not tells_stuck(study):
        return (f"{reached}; not reached otherwise (stuck and still descending are not told "
                "apart with an optimizer: its state does not survive a cut at the tail step)")
    T = tail_step(S)
    return (f"{reached}; stuck: not reached and {E} fell by less than {STALL:.0%} over the "
            f"last {S - T} steps (step {T} to {S}); still descending: not reached, fell by "
            f"{STALL:.0%} or more")


def outcome_labels(study: Study) -> dict[int, str]:
    """The outcomes this study tells apart, code -> a legend label with the rule's numbers."""
    E = network.loss_name(study.problem.network)
    reached = {REACHED: f"reached: final {E} <= {study.threshold:g}"}
    if not tells_stuck(study):
        return {**reached, UNTOLD: "not reached (stuck or still descending: not told apart "
                                   "with an optimizer)"}
    S, T = study.steps, tail_step(study.steps)
    return {**reached, STUCK: f"stuck: not reached, {E} fell < {STALL:.0%} in steps {T}-{S}",
            DESCENDING: f"still descending: not reached, {E} fell >= {STALL:.0%} in steps "
                        f"{T}-{S}"}


def tells_stuck(study: Study) -> bool:
    """Stuck and still descending are told apart with plain gradient descent (the tail step
    cuts the run; an optimizer's state would not survive the cut)."""
    return is_plain(study.optimizer)


class Study(NamedTuple):
    """What to run (all checked by `check`)."""

    n: int  # number of starting parameter vectors, >= 1
    seed: int  # >= 0
    distribution: str  # a key of DISTRIBUTIONS
    low: float  # the range [low, high] of the distribution
    high: float
    steps: int  # S >= 1
    lrs: tuple[float, ...]  # L learning rates
    threshold: float  # "sea level": final E <= threshold counts as reached
    chunk: int  # starts per train_batch call (memory bound: chunk * L rows)
    checkpoints: tuple[int, ...] = ()  # steps 1..S-1 at which E is recorded too
    problem: network.Preset = TUTORIAL  # the network and its data (float64)
    optimizer: Optimizer = SGD  # its lr is each configuration's


class Outcome(NamedTuple):
    """Per configuration summaries; arrays are (L, N), index [j, n] = start n at lrs[j]."""

    study: Study
    backends: tuple[str, ...]  # the first one is the reference of the comparison
    initial_loss: np.ndarray  # (N,) E at each start (reference backend)
    final_loss: dict[str, np.ndarray]  # backend -> (L, N)
    steps_to_threshold: dict[str, np.ndarray] | None  # backend -> (L, N) int32, -1 if never;
    #                                                   None: not counted (an optimizer)
    difference: np.ndarray  # (L, N) largest |Δ| of final parameters and E over backends
    ratio: np.ndarray  # (L, N) that difference / tolerance (> 1: a disagreement)
    #                     (a NaN on one side only: inf; NaN or the same inf on both: agreement)
    checkpoint_loss: dict[str, np.ndarray]  # backend -> (K, L, N): E after checkpoint k
    disagreeing: dict[str, int] | None = None  # backend -> configurations beyond tolerance
    tail_loss: dict[str, np.ndarray] | None = None  # backend -> (L, N): E after `tail_step`
    #                                                 updates; None: not recorded (optimizer)


def is_tutorial(study: Study) -> bool:
    """The tutorial's network and example, trained by plain gradient descent: the mistake
    backends run here, and the report shows it in the tutorial's notation (w1..w8, E_total,
    the step-by-step trace of report.html)."""
    return study.problem.name == "tutorial" and is_plain(study.optimizer)


def counts_steps(study: Study) -> bool:
    """Steps to the threshold are counted by the plain gradient-descent kernels only."""
    return is_plain(study.optimizer)


def check(study: Study) -> Study:
    """One-line `InputError` for anything the study cannot run with."""
    if study.n < 1:
        raise InputError(f"--n must be >= 1; got {study.n}")
    if study.seed < 0:
        raise InputError(f"--seed must be >= 0; got {study.seed}")
    if study.distribution not in DISTRIBUTIONS:
        raise InputError(f"unknown distribution {study.distribution!r}; expected one of "
                         + ", ".join(DISTRIBUTIONS))
    if not (np.isfinite(study.low) and np.isfinite(study.high)):
        raise InputError(f"--range must be finite; got {study.low},{study.high}")
    with np.errstate(over="ignore"):
        width, middle = study.high - study.low, study.high / 2 + study.low / 2
    if not np.isfinite(width) or not np.isfinite(middle):
        raise InputError(f"--range is too wide: HIGH - LOW must be a finite number; got "
                         f"{study.low:g},{study.high:g}")
    if study.high < study.low:
        raise InputError(f"--range LOW,HIGH needs HIGH >= LOW (width >= 0); got "
                         f"{study.low},{study.high} (width {study.high - study.low:g})")
    if study.steps < 1 or study.chunk < 1:
        raise InputError(f"--steps and --chunk must be >= 1; got {study.steps}, {study.chunk}")
    if not (np.isfinite(study.threshold) and study.threshold >= 0):
        raise InputError(f"--threshold must be finite and >= 0; got {study.threshold}")
    if study.checkpoints and not is_plain(study.optimizer):
        raise InputError("--checkpoints are for plain gradient descent (an optimizer's state "
                         "does not survive a cut run); leave out --optimizer or --checkpoints")
    bad = [c for c in study.checkpoints if not 1 <= c < study.steps]
    if bad:
        raise InputError(f"--checkpoints must be steps between 1 and {study.steps - 1} "
                         f"(--steps is {study.steps}); got {bad[0]}")
    if len(set(study.checkpoints)) != len(study.checkpoints):
        raise InputError(f"--checkpoints lists a step twice: {list(study.checkpoints)}")
    if not study.lrs or not all(np.isfinite(lr) and lr > 0 for lr in study.lrs):
        raise InputError(f"learning rates must be finite and > 0; got {study.lrs}")
    return study


def starts(study: Study, lo: int = 0, hi: int | None = None) -> np.ndarray:
    """Starting parameters of starts ``lo..hi-1``: (hi - lo, P) float64, the same for any
    chunking. Start n comes from generator block n // GEN_BLOCK, seeded with (seed, block)."""
    hi = study.n if hi is None else hi
    first, last = lo // GEN_BLOCK, (hi - 1) // GEN_BLOCK
    P = network.n_params(study.problem.network)
    rows = np.concatenate([_draw(study.seed, study.distribution, study.low, study.high, P, b)
                           for b in range(first, last + 1)])
    return rows[lo - first * GEN_BLOCK: hi - first * GEN_BLOCK]


@functools.lru_cache(maxsize=4)  # listing many disagreements reads the same blocks again
def _draw(seed: int, distribution: str, low: float, high: float, P: int,
          block: int) -> np.ndarray:
    rng = np.random.default_rng([seed, block])
    if distribution == "uniform":
        return rng.uniform(low, high, (GEN_BLOCK, P)) if high > low else \
            np.full((GEN_BLOCK, P), low)
    return rng.normal((low + high) / 2, (high - low) / 2, (GEN_BLOCK, P))


# --- the backends as the study uses them -------------------------------------------------------
class Trainer(NamedTuple):
    """One backend on the study's network, optimizer and data."""

    name: str
    dtype: np.dtype[Any]
    batch: Callable[[np.ndarray, np.ndarray, int, float], BatchResult]  # w (R, P), lr (R,),
    #     steps, threshold -> with initial_loss (steps_to_threshold None with an optimizer)
    curve: Callable[[np.ndarray, float, int], np.ndarray]  # w (P,), lr, steps -> E before
    #                                                        each update (steps,)


def example(study: Study) -> Example:
    """The tutorial's example (i1, i2; t1, t2) of a study on its network."""
    d = study.problem.data
    return Example(np.asarray(d.inputs[0]), np.asarray(d.targets[0]))


def get_backends(study: Study, names: tuple[str, ...], dtype: Any) -> dict[str, Any]:
    """The registry's backends a study trains with (`registry.get_network_backend`); a
    ``mistake:<kind>`` (the tutorial's wrong formulas) only on the tutorial's network with
    plain gradient descent (one line before any work)."""
    for n in names:
        if n.startswith(MISTAKE_PREFIX) and not is_tutorial(study):
            raise InputError(f"backend {n!r}: the mistake backends are the tutorial's wrong "
                             "formulas, for its network with plain gradient descent")
    return {n: registry.get_network_backend(n, dtype) for n in names}


def trainers(study: Study, backends: dict[str, Any]) -> dict[str, Trainer]:
    """`get_backends`' backends as `Trainer`s on the study's network, data and optimizer."""
    p, opt = study.problem, study.optimizer
    return {n: Trainer(n, b.dtype, functools.partial(
        _network_batch, b, p.network, network.data(p.network, p.data.inputs, p.data.targets,
                                                   b.dtype), opt),
        functools.partial(_network_curve, b, p, opt)) for n, b in backends.items()}


def _network_batch(b: Any, net: network.Network, data: network.Data, opt: Optimizer,
                   w: np.ndarray, lr: np.ndarray, steps: int, threshold: float) -> BatchResult:
    r = b.train_batch(net, w, lr, data, opt, steps, threshold if is_plain(opt) else None)
    if r.initial_loss is not None:
        return r
    from autograd_compare.manual import mlp  # the optimizer trainers give no E at the start

    losses = mlp.forward_pass(net, w.astype(b.dtype), data.inputs, data.targets)[2]
    scale = b.dtype.type(network.reduction_scale(net, data.inputs.shape[0]))
    return r._replace(initial_loss=scale * losses.sum(-1))


def _network_curve(b: Any, p: network.Preset, opt: Optimizer, w: np.ndarray, lr: float,
                   steps: int) -> np.ndarray:
    return b.train(p.network, w, p.data, with_lr(opt, lr), steps).loss


# --- running -----------------------------------------------------------------------------------
class Chunk(NamedTuple):
    """The summaries of starts ``lo..hi-1`` (one chunk); arrays as in `Outcome`, over hi-lo."""

    lo: int
    hi: int
    initial_loss: np.ndarray  # (hi-lo,)
    final_loss: dict[str, np.ndarray]  # backend -> (L, hi-lo)
    steps_to_threshold: dict[str, np.ndarray] | None  # backend -> (L, hi-lo) int32
    difference: np.ndarray  # (L, hi-lo)
    ratio: np.ndarray  # (L, hi-lo)
    checkpoint_loss: dict[str, np.ndarray]  # backend -> (K, L, hi-lo)
    disagreeing: dict[str, int]  # backend -> its configurations beyond tolerance here
    tail_loss: dict[str, np.ndarray] | None = None  # backend -> (L, hi-lo); None: optimizer


def chunk_starts(study: Study) -> list[int]:
    """The first start of every chunk (chunks of ``min(chunk, n)`` starts)."""
    return list(range(0, study.n, min(study.chunk, study.n)))


def run_chunk(study: Study, backends: dict[str, Trainer], lo: int,
              on_step: Callable[[str], None] = lambda what: None) -> Chunk:
    """Train starts ``lo..lo+C-1`` (C = the chunk size, fewer in the last chunk) at every rate
    with every backend. Depends on nothing but its arguments: the same numbers wherever it runs
    (see `study.cluster`)."""
    names = tuple(backends)
    L, N, C = len(study.lrs), study.n, min(study.chunk, study.n)
    K = len(study.checkpoints)
    hi = min(lo + C, N)
    real = hi - lo
    n_chunks, c = -(-N // C), lo // C + 1
    lr_rows = np.repeat(np.asarray(study.lrs, np.float64), C)
    w0 = starts(study, lo, hi)
    # pad the last chunk to C rows: every call has one shape (JAX compiles once)
    rows = np.tile(np.concatenate([w0, np.repeat(w0[:1], C - real, axis=0)]), (L, 1))
    results, final, seen_at = {}, {}, {}
    at_tail: dict[str, np.ndarray] | None = {} if tells_stuck(study) else None
    for b in names:
        on_step(f"chunk {c}/{n_chunks}: {b}, {C} starts x {L} rates x {study.steps} steps")
        with np.errstate(over="ignore", invalid="ignore"):  # diverging: inf, then NaN
            r, seen, tail = _train(backends[b], rows, lr_rows, study)
        results[b] = r
        seen_at[b] = seen.reshape(K, L, C)[:, :, :real].copy()
        final[b] = r.final_loss.reshape(L, C)[:, :real].copy()
        if at_tail is not None and tail is not None:
            at_tail[b] = tail.reshape(L, C)[:, :real].copy()
    reached = None if not counts_steps(study) else {
        b: r.steps_to_threshold.reshape(L, C)[:, :real].astype(np.int32)
        for b, r in results.items() if r.steps_to_threshold is not None}
    d, q, per = _compare(results, names, rows, study, backends[names[0]].dtype, C, real)
    first = results[names[0]].initial_loss
    assert first is not None  # every Trainer gives it
    return Chunk(lo, hi, first[:real].copy(), final, reached,
                 d.reshape(L, C)[:, :real].copy(), q.reshape(L, C)[:, :real].copy(),
                 seen_at, per, at_tail)


class Collector:
    """The `Outcome` arrays, filled chunk by chunk in any order (`add`), then `outcome()`."""

    def __init__(self, study: Study, names: tuple[str, ...], dtype: np.dtype):
        L, N, K = len(study.lrs), study.n, len(study.checkpoints)
        self.study, self.names = study, names
        self.final = {b: np.empty((L, N), dtype) for b in names}
        self.reached = {b: np.empty((L, N), np.int32) for b in names} \
            if counts_steps(study) else None
        self.at_checkpoints = {b: np.empty((K, L, N), dtype) for b in names}
        self.at_tail = {b: np.empty((L, N), dtype) for b in names} \
            if tells_stuck(study) else None
        self.initial = np.empty(N, dtype)
        self.difference, self.ratio = np.zeros((L, N)), np.zeros((L, N))
        self.missing = set(chunk_starts(study))
        self.disagreeing = dict.fromkeys(names[1:], 0)

    def add(self, chunk: Chunk) -> None:
        lo, hi = chunk.lo, chunk.hi
        for b in self.names:
            self.final[b][:, lo:hi] = chunk.final_loss[b]
            if self.reached is not None and chunk.steps_to_threshold is not None:
                self.reached[b][:, lo:hi] = chunk.steps_to_threshold[b]
            self.at_checkpoints[b][:, :, lo:hi] = chunk.checkpoint_loss[b]
            if self.at_tail is not None:
                if chunk.tail_loss is None:
                    raise RuntimeError(f"chunk {lo}..{hi - 1} has no E at the tail step")
                self.at_tail[b][:, lo:hi] = chunk.tail_loss[b]
        self.initial[lo:hi] = chunk.initial_loss
        self.difference[:, lo:hi] = chunk.difference
        self.ratio[:, lo:hi] = chunk.ratio
        for b, count in chunk.disagreeing.items():
            self.disagreeing[b] += count
        self.missing.discard(lo)

    def outcome(self) -> Outcome:
        if self.missing:
            raise RuntimeError(f"{len(self.missing)} chunks of the study are missing")
        return Outcome(self.study, self.names, self.initial, self.final, self.reached,
                       self.difference, self.ratio, self.at_checkpoints, self.disagreeing,
                       self.at_tail)


def run(study: Study, backends: dict[str, Trainer],
        on_step: Callable[[str], None] = lambda what: None) -> Outcome:
    """Train every start at every rate with every backend, chunk by chunk.

    Args:
        study: see `Study` (checked).
        backends: name -> `Trainer` (`trainers`), all of one dtype; the first is the reference.
        on_step: called with a description before each train_batch call (progress display).
    """
    check(study)
    names = tuple(backends)
    collect = Collector(study, names, backends[names[0]].dtype)
    for lo in chunk_starts(study):
        collect.add(run_chunk(study, backends, lo, on_step))
    return collect.outcome()


def _train(trainer: Trainer, w: np.ndarray, lr: np.ndarray,
           study: Study) -> tuple[BatchResult, np.ndarray, np.ndarray | None]:
    """All ``study.steps`` steps, in segments ending at the checkpoints and at the tail step
    (`tail_step`, plain gradient descent only: one unbroken run, nothing recomputed).

    Returns:
        the `BatchResult` of the whole run (steps_to_threshold counted from step 0, None if
        not counted), E after each checkpoint (K, rows), and E after `tail_step` updates
        (rows,; None with an optimizer).
    """
    tail = tail_step(study.steps) if tells_stuck(study) else None
    cuts = set(study.checkpoints) | ({tail} if tail else set())  # a tail at step 0: the start
    ends = sorted(cuts) + [study.steps]
    seen = np.empty((len(study.checkpoints), w.shape[0]), trainer.dtype)
    at: dict[int, np.ndarray] = {}
    reached: np.ndarray | None = np.full(w.shape[0], -1, np.int64)
    done, initial = 0, None
    for end in ends:
        r = trainer.batch(w, lr, end - done, study.threshold)
        initial = r.initial_loss if initial is None else initial
        if r.steps_to_threshold is None or reached is None:
            reached = None
        else:
            new = (reached < 0) & (r.steps_to_threshold >= 0)
            reached[new] = done + r.steps_to_threshold[new]  # counted from the segment's start
        at[end] = r.final_loss
        w, done = r.final_weights, end
    assert initial is not None  # the loop runs at least once (ends holds study.steps)
    for k, step in enumerate(study.checkpoints):
        seen[k] = at[step]
    at[0] = initial
    return (BatchResult(initial, r.final_loss, w, reached, None), seen,
            None if tail is None else at[tail])


def step_rtol(study: Study, dtype: Any) -> float:
    """The harness's relative tolerance per step: ``SAFETY * ops * eps`` with the operation
    count of the tutorial's formulas (`harness.tolerances`) or of the network's
    (`harness.network_check.ops_per_step`)."""
    p = study.problem
    ops = tolerances.OPS_PER_STEP if p.name == "tutorial" else \
        network_check.ops_per_step(p.network, p.data.inputs.shape[0])
    return float(tolerances.step_rtol(dtype) * (ops / tolerances.OPS_PER_STEP))


def _compare(results: dict, names: tuple, w0: np.ndarray, study: Study, dtype, chunk: int,
             real: int):
    """Per row: the largest |other - reference| over the final parameters and final E, and its
    ratio to the harness's trajectory tolerance at step S (`step_rtol` * (S + 1)), with the
    scale of each quantity taken as its largest |value| at the start or the end."""
    ref = results[names[0]]
    rows = w0.shape[0]
    w_scale = np.maximum(np.abs(w0).max(axis=1), np.abs(ref.final_weights).max(axis=1))
    e_scale = np.maximum(np.abs(ref.initial_loss), np.abs(ref.final_loss)).astype(np.float64)
    rtol = step_rtol(study, dtype) * (study.steps + 1)
    diff, ratio = np.zeros(rows), np.zeros(rows)
    per = {}
    for b in names[1:]:
        r = results[b]
        dw = _absdiff(r.final_weights, ref.final_weights).max(axis=1)
        de = _absdiff(r.final_loss, ref.final_loss)
        diff = np.fmax(diff, np.fmax(dw, de))
        with np.errstate(divide="ignore", invalid="ignore"):
            q = np.fmax(dw / (rtol * w_scale), de / (rtol * e_scale))
        q = np.where(np.fmax(dw, de) == 0, 0.0, q)  # exact agreement even at scale 0
        q = np.where(np.isnan(q), np.inf, q)
        per[b] = int(np.count_nonzero(~(q.reshape(-1, chunk)[:, :real] <= 1)))
        ratio = np.where(np.isnan(ratio), np.inf, np.fmax(ratio, q))
    return diff, ratio, per


def _absdiff(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """|x - y| as the main job's trajectory check counts it: 0 where both are NaN or the same
    infinity (the backends agree), inf where only one is NaN (a divergence)."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    with np.errstate(invalid="ignore"):
        d = np.abs(x - y)
    return np.where(tolerances.both_missing(x, y), 0.0, np.where(np.isnan(d), np.inf, d))


def tolerance_rule(study: Study, dtype: str | np.dtype) -> dict[str, Any]:
    """How `_compare` decides agreement, as reported in report.json."""
    rtol = step_rtol(study, dtype)
    return {**tolerances.describe(dtype)._asdict(),
            "ops_per_step": round(rtol / tolerances.SAFETY / tolerances.eps(dtype)),
            "step_rtol": rtol, "applied_to": "final w1..w8 and final E_total"
            if study.problem.name == "tutorial" else "final parameters and final E",
            "steps": study.steps, "scale": "largest |value| of the quantity at the start or "
            "the end"}


# --- summaries --------------------------------------------------------------------------------
# Named results; field names and order are report.json's ("Random restarts" fields), which
# `commands.restarts.as_dict` writes with `_asdict`.
class LossQuantiles(NamedTuple):
    """The distribution of E over N starts (finite values; `QUANTILES`)."""

    mean: float
    min: float
    p1: float
    p10: float
    median: float
    p90: float
    p99: float
    max: float
    non_finite: int  # starts whose E is inf or NaN


class StepsQuantiles(NamedTuple):
    """Steps to the threshold over the starts that reached it (None: none did)."""

    min: int | None
    median: int | None
    p90: int | None
    max: int | None


class BackendSummary(NamedTuple):
    final_loss: LossQuantiles
    reached: int  # starts whose final E is <= the threshold
    reached_fraction: float
    stuck: int | None  # not reached, E no longer falling (`classify`); None: not told apart
    still_descending: int | None  # not reached, still falling; None: not told (an optimizer)
    steps_to_threshold: StepsQuantiles | None  # None: not counted (an optimizer)


class CrossBackend(NamedTuple):
    """How far the other backends are from the reference at one learning rate."""

    worst_difference: float
    median_difference: float
    worst_ratio_to_tolerance: float
    median_ratio_to_tolerance: float
    disagreements: int  # configurations with ratio > 1 (or not a number)
    reached_mismatches: int  # (backend, start) reached in one of it and the reference only
    outcome_mismatches: int  # (backend, start) whose outcome is not the reference's
    steps_to_threshold_mismatches: int | None


class Gallery(NamedTuple):
    """Start indices with the lowest, the median and the highest final E, and the median (by
    final E) of the stuck and of the still-descending starts (None: there is none)."""

    best: int
    median: int
    worst: int
    stuck: int | None = None
    still_descending: int | None = None


class Checkpoint(NamedTuple):
    step: int
    E_total: dict[str, LossQuantiles]  # backend -> distribution after ``step`` updates


class LrSummary(NamedTuple):
    lr: float
    backends: dict[str, BackendSummary]
    cross_backend: CrossBackend
    gallery: Gallery
    checkpoints: list[Checkpoint]


class Disagreement(NamedTuple):
    """One configuration whose backends differ beyond tolerance."""

    start: int
    lr: float
    weights: list[float]  # the parameters at the start (w1..w8 on the tutorial's network)
    final_loss: dict[str, float]  # backend -> final E
    steps_to_threshold: dict[str, int] | None  # backend -> steps, -1 if never
    difference: float
    ratio_to_tolerance: float


class Curve(NamedTuple):
    """The loss curve of one gallery start, re-run unbatched."""

    lr: float
    which: str  # a `Gallery` field: "best", "median", "worst", "stuck", "still_descending"
    start: int
    weights: list[float]
    loss: dict[str, np.ndarray]  # backend -> (S,) E before each update
    outcome: str = ""  # the start's outcome at ``lr`` (reference backend; `OUTCOMES`)


def reached(out: Outcome, backend: str) -> np.ndarray:
    """(L, N) bool: final E <= threshold (NaN never reaches)."""
    return out.final_loss[backend] <= out.study.threshold


def outcomes(out: Outcome, backend: str) -> np.ndarray:
    """(L, N) int8 outcome codes of ``backend``'s runs (`classify`)."""
    tail = None if out.tail_loss is None else out.tail_loss[backend]
    return classify(out.final_loss[backend], tail, out.study.threshold)


def summary(out: Outcome) -> list[LrSummary]:
    """Per learning rate: the distribution of final E, how many reached the threshold (and in
    how many steps) per backend, the cross-backend difference, the best/median/worst starts."""
    rows, ref = [], out.backends[0]
    steps, tails = out.steps_to_threshold, out.tail_loss
    codes = {b: outcomes(out, b) for b in out.backends}
    for j, lr in enumerate(out.study.lrs):
        per_backend = {b: backend_summary(out.final_loss[b][j], out.study.threshold,
                                          None if steps is None else steps[b][j],
                                          None if tails is None else tails[b][j])
                       for b in out.backends}
        cross = CrossBackend(
            float(out.difference[j].max()), float(np.median(out.difference[j])),
            float(out.ratio[j].max()), float(np.median(out.ratio[j])),
            int(np.count_nonzero(~(out.ratio[j] <= 1))),
            int(sum(np.count_nonzero(reached(out, b)[j] != reached(out, ref)[j])
                    for b in out.backends[1:])),
            int(sum(np.count_nonzero(codes[b][j] != codes[ref][j]) for b in out.backends[1:])),
            None if steps is None else int(sum(np.count_nonzero(steps[b][j] != steps[ref][j])
                                               for b in out.backends[1:])))
        checkpoints = [Checkpoint(step, {b: loss_quantiles(out.checkpoint_loss[b][k, j])
                                         for b in out.backends})
                       for k, step in enumerate(out.study.checkpoints)]
        rows.append(LrSummary(lr, per_backend, cross,
                              gallery_indices(out.final_loss[ref][j], codes[ref][j]),
                              checkpoints))
    return rows


def backend_summary(final_loss: np.ndarray, threshold: float, steps: np.ndarray | None,
                    tail: np.ndarray | None = None) -> BackendSummary:
    """Distribution of final E (N,), how many starts reached ``threshold``, were stuck or still
    descending (`classify` with E at the tail step ``tail`` (N,); None: not told apart), and
    the distribution of the steps to the threshold (N,; None: not counted)."""
    code = classify(final_loss, tail, threshold)
    hit = int(np.count_nonzero(code == REACHED))
    stuck = None if tail is None else int(np.count_nonzero(code == STUCK))
    falling = None if tail is None else int(np.count_nonzero(code == DESCENDING))
    steps_q = None
    if steps is not None:
        k = steps[steps >= 0]
        q = np.quantile(k, (0.0, 0.5, 0.9, 1.0), method="inverted_cdf") if k.size else [None] * 4
        steps_q = StepsQuantiles(*(None if s is None else int(s) for s in q))
    return BackendSummary(loss_quantiles(final_loss), hit, hit / final_loss.size, stuck,
                          falling, steps_q)


def loss_quantiles(loss: np.ndarray) -> LossQuantiles:
    """Mean, `QUANTILES` and the count of non-finite values of E (N,)."""
    loss = loss.astype(np.float64)
    finite = np.isfinite(loss)
    q = np.quantile(loss[finite], QUANTILES) if finite.any() else np.full(len(QUANTILES), np.nan)
    lo, p1, p10, median, p90, p99, hi = (float(v) for v in q)  # QUANTILES
    return LossQuantiles(float(loss[finite].mean()) if finite.any() else float("nan"),
                         lo, p1, p10, median, p90, p99, hi, int(np.count_nonzero(~finite)))


def gallery_indices(final_loss: np.ndarray, codes: np.ndarray | None = None) -> Gallery:
    """Start indices with the lowest, the median and the highest final E; with the outcome
    ``codes`` (N,), also the median stuck and the median still-descending start."""
    order = np.argsort(np.where(np.isfinite(final_loss), final_loss, np.inf), kind="stable")
    picks: list[int | None] = [None, None]
    if codes is not None:
        for i, code in enumerate((STUCK, DESCENDING)):
            mine = order[np.asarray(codes)[order] == code]  # in order of final E
            picks[i] = int(mine[(len(mine) - 1) // 2]) if mine.size else None
    return Gallery(int(order[0]), int(order[(len(order) - 1) // 2]), int(order[-1]), *picks)


def disagreements(out: Outcome) -> list[Disagreement]:
    """Every configuration whose backends differ beyond tolerance (ratio > 1 or not a number)."""
    steps = out.steps_to_threshold
    return [Disagreement(
        int(n), out.study.lrs[j], starts(out.study, int(n), int(n) + 1)[0].tolist(),
        {b: float(out.final_loss[b][j, n]) for b in out.backends},
        None if steps is None else {b: int(steps[b][j, n]) for b in out.backends},
        float(out.difference[j, n]), float(out.ratio[j, n]))
        for j, n in zip(*np.nonzero(~(out.ratio <= 1)), strict=True)]


def curves(out: Outcome, backends: dict[str, Trainer]) -> list[Curve]:
    """Loss curves of the gallery starts (best, median, worst, and a stuck and a still
    descending one where there are such, per rate), re-run unbatched."""
    found = []
    ref = out.backends[0]
    codes = outcomes(out, ref)
    for j, lr in enumerate(out.study.lrs):
        for which, n in gallery_indices(out.final_loss[ref][j], codes[j])._asdict().items():
            if n is None:
                continue
            w0 = starts(out.study, n, n + 1)[0]
            with np.errstate(over="ignore", invalid="ignore"):
                loss = {b: backends[b].curve(w0, lr, out.study.steps) for b in out.backends}
            found.append(Curve(lr, which, n, w0.tolist(), loss, OUTCOMES[int(codes[j, n])]))
    return found


class Report(NamedTuple):
    """Everything one study found: what was run, the summaries, where the report went."""

    study: Study
    dtype: str  # "float64" or "float32"
    backends: tuple[str, ...]  # the first is the reference
    seconds: float  # wall time of the study and the gallery re-runs
    per_lr: list[LrSummary]
    disagreements: list[Disagreement]
    report_dir: str | None = None  # None when no folder is written
    files: tuple[str, ...] = ()
    undetected_mistakes: tuple[str, ...] = ()  # mistake backends that agreed everywhere
    amplified: tuple[Disagreement, ...] = ()  # whole runs beyond tolerance whose every single
    #                                           step agrees (`recheck`): not disagreements

    @property
    def ok(self) -> bool:
        return not self.disagreements and not self.undetected_mistakes

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    @property
    def reference(self) -> str:
        return self.backends[0]


def report(outcome: Outcome, dtype: np.dtype, seconds: float,
           trainers: dict[str, Trainer] | None = None,
           on_step: Callable[[str], None] = lambda what: None) -> Report:
    """The `Report` of a finished study (``outcome``) run in ``seconds``; with the study's
    ``trainers``, every whole-run disagreement is re-checked step by step (`recheck`)."""
    caught = outcome.disagreeing or {}
    mistakes = tuple(b for b in outcome.backends if b.startswith(MISTAKE_PREFIX)
                     and not caught.get(b))  # a mistake backend never passes
    real, amplified = disagreements(outcome), list[Disagreement]()
    if trainers is not None:
        real, amplified = recheck(outcome, real, trainers, dtype, on_step)
    return Report(outcome.study, np.dtype(dtype).name, outcome.backends, seconds,
                  summary(outcome), real, undetected_mistakes=mistakes,
                  amplified=tuple(amplified))


MAX_RECHECKS = 1000  # whole-run disagreements re-checked step by step, one start each


def recheck(out: Outcome, found: list[Disagreement], trainers: dict[str, Trainer],
            dtype: Any, on_step: Callable[[str], None] = lambda what: None
            ) -> tuple[list[Disagreement], list[Disagreement]]:
    """Split the whole-run disagreements: each start is run again with the main job's check
    (`optim_check.check`: one update at a time from the reference's state, and a separating
    run from its own states), and with plain gradient descent the study's own batched
    trainers make one update from every one of the reference's points (`_batched_steps`).
    Agreeing, the runs separated by rounding the training amplified (the outcome counts
    still show where that changed the outcome). With a mistake backend (the tutorial's
    wrong formulas, which that check does not run) or beyond `MAX_RECHECKS`, a disagreement
    stays one."""
    from autograd_compare.harness import optim_check

    if any(b.startswith(MISTAKE_PREFIX) for b in out.backends):
        return found, []
    p = out.study.problem
    real: list[Disagreement] = []
    amplified: list[Disagreement] = []
    for i, d in enumerate(found):
        if i >= MAX_RECHECKS:
            real.append(d)
            continue
        on_step(f"re-checking disagreement {i + 1}/{min(len(found), MAX_RECHECKS)} "
                "one update at a time")
        opt = with_lr(out.study.optimizer, d.lr)
        r = optim_check.check(opt, list(out.backends), p.network, np.asarray(d.weights),
                              p.data, out.study.steps, dtype)
        ok = r.ok and (not is_plain(opt) or _batched_steps(r, trainers, opt, p))
        (amplified if ok else real).append(d)
    return real, amplified


def _batched_steps(r: Any, trainers: dict[str, Trainer], opt: Optimizer,
                   p: network.Preset) -> bool:
    """Every trainer's batched kernel, one update from each of the reference run's points
    (rows of one call), agrees with the reference's next point within the one-step
    tolerance (plain gradient descent: the point is all the state there is)."""
    from autograd_compare.harness import network_check, optim_check

    ref = r.runs[r.reference]
    steps = ref.grads.shape[0]
    starts = np.isfinite(ref.weights[:steps]).all(axis=1)
    last = int(np.argmin(starts)) if not starts.all() else steps
    scale = optim_check.scales(p.network, opt, ref, p.data, r.dtype)
    cols = network.param_names(p.network)
    tol = network_check.step_rtol(p.network, p.data.inputs.shape[0], r.dtype) * np.stack(
        [scale[c] for c in cols], 1)[:last]
    want = ref.weights[1:last + 1].astype(np.float64)
    for name, t in trainers.items():
        if name == r.reference:
            continue
        got = t.batch(ref.weights[:last], np.full(last, opt.lr, t.dtype), 1, 0.0)
        diff = np.abs(got.final_weights.astype(np.float64) - want)
        if not np.all((diff <= tol) | ~np.isfinite(want) | (diff == 0)):
            return False
    return True
