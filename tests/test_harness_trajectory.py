"""Trajectory check: step-by-step comparison, first divergence in graph order, tolerances."""

from __future__ import annotations

import numpy as np
import pytest

from autograd_compare import get_backend, naming
from autograd_compare.harness import tolerances, trajectory
from autograd_compare.interface import CLASS_WEIGHTS, Example
from tests import golden
from tests.helpers import assert_close

EX = Example(np.array(golden.CLASS_I), np.array(golden.CLASS_T))
W = np.array(CLASS_WEIGHTS)


def _run(steps=5, lr=0.5):
    return trajectory.train(get_backend("manual"), W, EX, lr, steps)


def test_run_records_every_intermediate_at_every_step():
    run = _run(steps=5)
    assert run.weights.shape == (6, 8) and run.nodes.shape == (6, 11) and run.grads.shape == (5, 8)
    g = golden.class_example("float64")
    assert_close(run.nodes[0], [g["forward"][n] for n in naming.FORWARD_NAMES],
                 rtol=4 * 2.2e-16)
    assert_close(run.grads[0], g["dw"], rtol=8 * 2.2e-16)
    rows = trajectory.rows(run)
    assert rows.shape == (6, 27) and np.isnan(rows[-1, 11:]).all()
    assert_close(rows[0, 19:], golden.trajectory(0.5, 1)["weights_after_1"], rtol=4 * 2.2e-16)


def test_identical_runs_agree_exactly():
    run = _run()
    c = trajectory.compare_runs(run, run, EX, np.dtype("float64"))
    assert c.first_divergence is None and c.largest.abs == 0.0 and c.largest.ratio == 0.0


@pytest.mark.parametrize(("step", "column", "label"), [(3, 4, "o1"), (0, 11, "dw1"),
                                                       (2, 26, "w8 after the update")])
def test_a_nudge_just_over_tolerance_is_the_first_divergence(step, column, label):
    ref = _run()
    scale = trajectory.scales(ref, EX, "float64")[column]
    tol = tolerances.step_rtol("float64") * (step + 1) * scale
    bad = _nudged(ref, step, column, 1.5 * tol)
    c = trajectory.compare_runs(bad, ref, EX, np.dtype("float64"))
    assert (c.first_divergence.step, c.first_divergence.quantity) == (step, label)
    assert c.first_divergence.difference == pytest.approx(1.5 * tol, rel=1e-3)
    assert c.first_divergence.tolerance == pytest.approx(tol, rel=1e-12)
    ok = trajectory.compare_runs(_nudged(ref, step, column, 0.5 * tol), ref, EX,
                                 np.dtype("float64"))
    assert ok.first_divergence is None and 0.4 < ok.largest.ratio < 0.6


def _nudged(run, step, column, delta):
    nodes, grads, weights = run.nodes.copy(), run.grads.copy(), run.weights.copy()
    if column < 11:
        nodes[step, column] += delta
    elif column < 19:
        grads[step, column - 11] += delta
    else:
        weights[step + 1, column - 19] += delta
    return trajectory.Run("nudged", weights, nodes, grads)


def test_a_nan_on_one_side_diverges():
    ref = _run()
    bad = _nudged(ref, 1, 10, np.nan)
    c = trajectory.compare_runs(bad, ref, EX, np.dtype("float64"))
    assert (c.first_divergence.step, c.first_divergence.quantity) == (1, "E_total")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_three_backends_agree_over_the_sweep(dtype):
    dt = np.dtype(dtype)
    ex = Example(EX.inputs.astype(dt), EX.targets.astype(dt))
    backends = [get_backend(n, dt) for n in ("manual", "torch", "jax")]
    for lr in golden.SWEEP:
        r = trajectory.check_lr(backends, "manual", W.astype(dt), ex, lr, 30)
        assert r.ok, (lr, r.first_divergence)
        assert r.largest.ratio < 0.25, (lr, r.largest)  # well inside, not at the edge


def test_final_loss_matches_the_50_digit_trajectory():
    r = trajectory.check_lr([get_backend("manual"), get_backend("torch")], "manual", W, EX,
                            1.0, 20)
    for run in r.runs.values():
        # measured 3 eps64 after 20 steps (E_total cancels near convergence); 16 eps allowed
        assert_close(run.nodes[-1, -1], golden.trajectory(1.0, 20)["loss_after"],
                     rtol=16 * 2.2e-16)


def test_term_scales_bound_every_value_and_survive_cancellation():
    rng = np.random.default_rng(1)
    w = rng.uniform(-3, 3, (50, 8))
    b = get_backend("manual")
    nodes = np.stack([naming.node_values(b.forward(wk, EX)) for wk in w])
    grads = [b.gradients(wk, EX) for wk in w]
    s = tolerances.term_scales(w, nodes, EX, "float64")
    assert np.all(s.nodes >= np.abs(nodes) * (1 - 1e-12))
    assert np.all(s.dw >= np.abs([g.w for g in grads]) * (1 - 1e-12))
    node_grads = np.abs([np.concatenate([g.h, g.a_h, g.o, g.a_o]) for g in grads])
    assert np.all(s.node_grads >= node_grads * (1 - 1e-12))
    # o1 = 50*a_h1 - 50*a_h2 = 0 exactly, but its terms are of size 50*a_h: so is its scale
    sym = np.array([[50.0, -50, 50, -50, 50, -50, 50, -50]])
    n = naming.node_values(b.forward(sym[0], EX))[None, :]
    assert n[0, 4] == 0.0 and tolerances.term_scales(sym, n, EX, "float64").nodes[0, 4] > 1


def test_extreme_symmetric_weights_agree_across_backends():
    """lr 100, |w| = 50, o1 = o2 = 0 exactly in manual: libraries differ by 1e-17, not a bug."""
    sym = np.array([50.0, -50, 50, -50, 50, -50, 50, -50])
    backends = [get_backend(n) for n in ("manual", "torch", "jax")]
    r = trajectory.check_lr(backends, "manual", sym, EX, 100.0, 5)
    assert r.ok, r.first_divergence
    assert np.isfinite(r.runs["jax"].nodes).all()


def test_the_earliest_first_divergence_wins_over_the_order_backends_are_listed():
    # all three mistakes go wrong at step 0: w1 after the update, h1, dw1 (tests/test_mistakes)
    names = ["manual", "mistake:update-sign", "mistake:swapped-weights", "mistake:missing-e2-path"]
    r = trajectory.check_lr([get_backend(n) for n in names], "manual", W, EX, 0.5, 3)
    firsts = {n: c.first_divergence for n, c in r.comparisons.items()}
    assert {n: (f.step, f.quantity) for n, f in firsts.items()} == {
        "mistake:update-sign": (0, "w1 after the update"),
        "mistake:swapped-weights": (0, "h1"), "mistake:missing-e2-path": (0, "dw1")}
    assert r.first_divergence == firsts["mistake:swapped-weights"] and not r.ok


@pytest.mark.parametrize(("later", "earlier", "label"), [
    ((2, 26), (2, 18), "dw8"),  # same step: a gradient comes before the weights it updates
    ((2, 0), (1, 26), "w8 after the update"),  # an earlier step comes first, whatever column
])
def test_first_divergence_over_backends_is_in_step_then_column_order(later, earlier, label,
                                                                     monkeypatch):
    ref = _run()
    scale = trajectory.scales(ref, EX, "float64")
    runs = {"ref": ref}
    for name, (step, column), times in (("a", later, 3), ("b", earlier, 2)):
        tol = tolerances.step_rtol("float64") * (step + 1) * scale[column]
        runs[name] = _nudged(ref, step, column, times * tol)._replace(backend=name)
    # check_lr on recorded runs (a real run, nudged): the comparison itself is the real one
    monkeypatch.setattr(trajectory, "train", lambda b, *args, **kw: runs[b.name])
    backends = [get_backend("manual")._replace(name=n) for n in runs]
    r = trajectory.check_lr(backends, "ref", W, EX, 0.5, 5)
    assert (r.first_divergence.backend, r.first_divergence.quantity) == ("b", label)
    assert trajectory.column(label) == earlier[1]
    assert r.largest.backend == "a" and r.largest.ratio == pytest.approx(3, rel=1e-3)


def test_compare_cells_rules_of_both_checks():
    """The one kernel: the trajectory's rule (both NaN or the same infinity are the same) and
    the optimizer check's (both not finite are the same); earliest row, then column."""
    inf, nan = np.inf, np.nan
    x = np.array([[1.0, nan, inf, inf, 2.0], [9.0, 0.0, 0.0, 0.0, 0.0]])
    y = np.array([[1.5, nan, inf, -inf, nan], [0.0, 0.0, 0.0, 0.0, 0.0]])
    tol = np.full_like(x, 1.0)
    c = tolerances.compare_cells(x, y, tol, tolerances.both_missing(x, y))
    assert c.diff.tolist() == [[0.5, 0.0, 0.0, inf, inf], [9.0, 0.0, 0.0, 0.0, 0.0]]
    assert (c.first, c.largest, c.abs, c.ratio) == ((0, 3), (1, 0), 9.0, inf)
    o = tolerances.compare_cells(x, y, tol, ~np.isfinite(x) & ~np.isfinite(y))
    assert o.diff[0].tolist() == [0.5, 0.0, 0.0, 0.0, inf]
    assert o.first == (0, 4)
    ok = tolerances.compare_cells(x[1:, 1:], y[1:, 1:], tol[1:, 1:], np.zeros((1, 4), bool))
    assert (ok.first, ok.abs, ok.ratio) == (None, 0.0, 0.0)
