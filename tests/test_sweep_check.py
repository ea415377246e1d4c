"""The trajectory check of the one pipeline (`optim_check.check`, `optim_check.sweep`) on the
tutorial's network with plain SGD: each step's columns, the tolerance's edge, the NaN and
overflow rules, agreement over the tutorial's sweep against 50-digit values, and the EARLIEST
first divergence over several failing backends (lowest step, then the first column: E_total,
dw1..dw8, w1..w8), whatever order the backends are listed in."""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pytest

from autograd_compare import network, optimizers, registry
from autograd_compare.harness import network_check
from autograd_compare.harness import optim_check as C
from autograd_compare.types import Trajectory
from tests import golden
from tests.helpers import EPS64, assert_close

pytest.importorskip("torch")
pytest.importorskip("optax")

TUT = network.preset("tutorial")
NET, W, DATA = TUT.network, TUT.weights, TUT.data
SGD = optimizers.make("sgd", lr=0.5)
COLS = C.columns(NET, SGD)
RTOL = network_check.step_rtol(NET, 1, "float64")


def _run(steps: int = 5) -> Trajectory:
    return C.train("manual", NET, W, DATA, SGD, steps)


def _scale(ref: Trajectory) -> dict[str, np.ndarray]:
    return C.scales(NET, SGD, ref, DATA, "float64")


def _nudged(run: Trajectory, k: int, quantity: str, delta: float) -> Trajectory:
    """``run`` with ``quantity`` of row ``k`` (update k + 1) moved by ``delta``."""
    loss, grads, weights = run.loss.copy(), run.grads.copy(), run.weights.copy()
    q = COLS.index(quantity)
    if q == 0:
        loss[k] += delta
    elif q <= 8:
        grads[k, q - 1] += delta
    else:
        weights[k + 1, q - 9] += delta
    return run._replace(loss=loss, grads=grads, weights=weights)


def _compare(run: Trajectory, ref: Trajectory, scale=None, name: str = "nudged"):
    return C.compare_runs(name, run, COLS, ref, COLS, _scale(ref) if scale is None else scale,
                          RTOL)


def test_a_run_records_each_step_in_column_order():
    run = _run(5)
    assert run.weights.shape == (6, 8) and run.grads.shape == (5, 8) and run.loss.shape == (5,)
    assert COLS == ("E_total", *(f"dw{k}" for k in range(1, 9)), *(f"w{k}" for k in range(1, 9)))
    rows = C.rows(run)
    assert rows.shape == (5, 17)
    g = golden.class_example("float64")
    assert_close(rows[0, 0], g["forward"]["E_total"], rtol=4 * 2.2e-16)
    assert_close(rows[0, 1:9], g["dw"], rtol=8 * 2.2e-16)
    assert_close(rows[0, 9:], golden.trajectory(0.5, 1)["weights_after_1"], rtol=4 * 2.2e-16)
    # every node after the update: the backend's own forward pass at the final weights
    final = C.check(SGD, ["manual"], NET, W, DATA, 1).finals["manual"]
    after = golden.after_one_step(0.5)["forward"]
    got = {"h1": final.z[0][0, 0], "h2": final.z[0][0, 1], "a_h1": final.a[0][0, 0],
           "a_h2": final.a[0][0, 1], "o1": final.z[1][0, 0], "o2": final.z[1][0, 1],
           "a_o1": final.a[1][0, 0], "a_o2": final.a[1][0, 1], "E_total": final.E}
    for name, value in got.items():
        assert_close(value, after[name], rtol=8 * 2.2e-16, what=name)


def test_identical_runs_agree_exactly():
    run = _run()
    c = _compare(run, run)
    assert c.first_divergence is None and c.largest.abs == 0.0 and c.largest.ratio == 0.0


@pytest.mark.parametrize(("k", "quantity", "label"), [(3, "E_total", "E_total at step 4"),
                                                      (0, "dw1", "dw1 at step 1"),
                                                      (2, "w8", "w8 after step 3")])
def test_a_nudge_just_over_tolerance_is_the_first_divergence(k, quantity, label):
    ref = _run()
    tol = RTOL * (k + 1) * _scale(ref)[quantity][k]
    c = _compare(_nudged(ref, k, quantity, 1.5 * tol), ref)
    d = c.first_divergence
    assert (d.step, d.quantity, d.label) == (k + 1, quantity, label)
    assert d.difference == pytest.approx(1.5 * tol, rel=1e-3, abs=0)
    assert d.tolerance == pytest.approx(tol, rel=1e-12, abs=0)
    ok = _compare(_nudged(ref, k, quantity, 0.5 * tol), ref)
    assert ok.first_divergence is None and 0.4 < ok.largest.ratio < 0.6


def test_a_nan_on_one_side_diverges():
    ref = _run()
    c = _compare(_nudged(ref, 1, "E_total", np.nan), ref)
    assert (c.first_divergence.step, c.first_divergence.label) == (2, "E_total at step 2")


def test_the_rules_of_the_comparison():
    """A backend NaN where the reference is finite is an infinite difference; a cell where the
    reference overflowed is not compared, nor is a row where its E did; no difference never
    diverges even under a NaN tolerance; the first divergence is the earliest row, then the
    first column, while the largest is the largest finite difference."""
    ref = _run(3)
    ref = ref._replace(loss=ref.loss.copy(), grads=ref.grads.copy())
    ref.grads[0, 1] = np.inf  # the reference's dw2 overflowed at step 1
    ref.loss[2] = np.inf  # and its E at step 3
    run = _nudged(_run(3), 0, "w8", np.nan)  # w8 after step 1: NaN
    run = _nudged(run, 1, "E_total", 1.0)  # a later row, an earlier column
    run = run._replace(loss=run.loss + np.array([0, 0, 5.0]),  # row 3: not compared
                       weights=run.weights + np.array([0, 0, 0, 1.0])[:, None])
    scale = _scale(_run(3))
    scale["dw3"] = np.full(3, np.nan)  # an overflowed scale: no difference still agrees
    c = _compare(run, ref, scale)
    q = COLS.index
    assert c.diff[0, q("dw2")] == 0.0 and c.diff[0, q("w8")] == np.inf
    assert c.diff[1, q("E_total")] == pytest.approx(1.0) and (c.diff[2] == 0).all()
    assert (c.diff[:, q("dw3")] == 0).all()
    assert c.first_divergence.label == "w8 after step 1"
    assert (c.largest.abs, c.largest.ratio, c.largest.label) == (
        pytest.approx(1.0), np.inf, "E_total at step 2")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_three_backends_agree_over_the_sweep(dtype):
    s = C.sweep("preset tutorial", SGD, ["manual", "torch", "jax"], NET, W, DATA, golden.SWEEP,
                30, dtype)
    assert s.ok, s.first_divergence
    for r in s.rates:
        assert r.ok, (r.optimizer.lr, r.first_divergence)
        assert r.largest.ratio < 0.25, (r.optimizer.lr, r.largest)  # well inside, not at the
        for c in r.comparisons.values():  # edge, step by step and over the whole run
            assert c.largest.ratio < 0.25, (r.optimizer.lr, c.largest)


def test_final_loss_matches_the_50_digit_trajectory():
    r = C.check(optimizers.make("sgd", lr=1.0), ["manual", "torch"], NET, W, DATA, 20)
    for name, loss in r.final_loss.items():
        # measured 3 eps64 after 20 steps (E_total cancels near convergence); 16 eps allowed
        assert_close(loss, golden.trajectory(1.0, 20)["loss_after"], rtol=16 * EPS64, what=name)


def test_extreme_symmetric_weights_agree_across_backends():
    """lr 100, |w| = 50, o1 = o2 = 0 exactly in manual: libraries differ by 1e-17, not a bug."""
    sym = np.array([50.0, -50, 50, -50, 50, -50, 50, -50])
    r = C.check(optimizers.make("sgd", lr=100.0), ["manual", "torch", "jax"], NET, sym, DATA, 5)
    assert r.ok, r.first_divergence
    assert np.isfinite(r.runs["jax"].weights).all() and np.isfinite(r.runs["jax"].loss).all()
    assert r.finals["jax"] is not None and np.isfinite(r.final_loss["jax"])


@pytest.mark.parametrize(("later", "earlier", "label"), [
    ((2, "w8"), (2, "dw8"), "dw8 at step 3"),  # same step: a gradient before the weights
    ((2, "E_total"), (1, "w8"), "w8 after step 2"),  # an earlier step first, whatever column
])
@pytest.mark.parametrize("order", [1, -1])
def test_first_divergence_over_backends_is_in_step_then_column_order(later, earlier, label,
                                                                     order):
    """How `check` picks its first divergence (`earliest_and_largest`) over real comparisons
    of a real run, nudged."""
    ref = _run()
    scale = _scale(ref)
    comps = {}
    for name, (k, q), times in (("a", later, 3), ("b", earlier, 2))[::order]:
        tol = RTOL * (k + 1) * scale[q][k]
        comps[name] = _compare(_nudged(ref, k, q, times * tol), ref, scale, name)
    first, largest = C.earliest_and_largest(comps, COLS)
    assert (first.backend, first.label) == ("b", label)
    assert largest.backend == "a" and largest.ratio == pytest.approx(3, rel=1e-3)


# --- several failing backends: the earliest first divergence wins -----------------------------
LATE_STEP = 3  # 0-based: the late backend's E_total is off from update 4 on


def _late_backend(real):
    """Manual, but the E_total its training reports is off from update LATE_STEP + 1 on
    (resumed runs included: the update count is the resume's): right until then."""
    manual = real("manual")

    def train(net, w, data, opt, steps, resume=None):
        t = manual.train(net, w, data, opt, steps, resume)
        done = 0 if resume is None else resume.updates
        at = np.arange(done, done + steps)
        return t._replace(loss=np.where(at >= LATE_STEP, t.loss * (1 + 1e-6), t.loss))

    return manual._replace(name="late", train=train)


@pytest.fixture
def with_late(monkeypatch):
    real = registry.get_network_backend
    monkeypatch.setattr(C.registry, "get_network_backend", lambda name, dtype="float64": (
        _late_backend(real) if name == "late" else real(name, dtype)))


CASES = {  # backend -> its own first divergence against manual at lr 0.5 (step, label)
    "mistake:swapped-weights": (1, "E_total at step 1"),  # the forward pass is wrong at once
    "mistake:update-sign": (1, "w1 after step 1"),  # right values, wrong step
    "late": (LATE_STEP + 1, "E_total at step 4"),  # the first column, but at a later step
}


@pytest.mark.parametrize("name", CASES)
def test_each_failing_backend_alone(name, with_late):
    r = C.check(SGD, ["manual", name], NET, W, DATA, 6)
    assert not r.ok
    assert (r.first_divergence.backend, r.first_divergence.step, r.first_divergence.label) == (
        name, *CASES[name])


@pytest.mark.parametrize("order", list(permutations(CASES)), ids="-".join)
def test_earliest_over_backends_wins_whatever_the_order(order, with_late):
    r = C.check(SGD, ["manual", *order], NET, W, DATA, 6)
    assert not r.ok
    assert {n: (r.failed(n).step, r.failed(n).label) for n in order} == CASES
    d = r.first_divergence
    assert (d.backend, d.step, d.label) == ("mistake:swapped-weights", 1, "E_total at step 1")


@pytest.mark.parametrize("order", list(permutations(["mistake:update-sign", "late"])),
                         ids="-".join)
def test_an_earlier_step_beats_an_earlier_quantity(order, with_late):
    """update-sign is off at step 1 (in w1, after E and the gradients), late at step 4 (in
    E_total, the first column): step 1 wins."""
    r = C.check(SGD, ["manual", *order], NET, W, DATA, 6)
    assert (r.first_divergence.backend, r.first_divergence.step) == ("mistake:update-sign", 1)


def test_the_earliest_first_divergence_wins_over_the_order_backends_are_listed():
    # all three mistakes go wrong at step 1: E_total, dw1, w1 after the update (test_mistakes)
    names = ["manual", "mistake:update-sign", "mistake:swapped-weights",
             "mistake:missing-e2-path"]
    r = C.check(SGD, names, NET, W, DATA, 3)
    firsts = {n: r.failed(n) for n in names[1:]}
    assert {n: f.label for n, f in firsts.items()} == {
        "mistake:update-sign": "w1 after step 1", "mistake:swapped-weights": "E_total at step 1",
        "mistake:missing-e2-path": "dw1 at step 1"}
    assert r.first_divergence == firsts["mistake:swapped-weights"] and not r.ok
