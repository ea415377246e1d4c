"""The random-restart study: reproducible, chunking-independent, equal across backends and to
unbatched single runs, strict about its options; on the tutorial's network and on any other
(XOR's island: the stuck starts), with plain gradient descent or an optimizer."""

from __future__ import annotations

import numpy as np
import pytest

from autograd_compare import get_backend, network, optimizers, registry
from autograd_compare.errors import InputError
from autograd_compare.interface import CLASS_INPUTS, CLASS_TARGETS, Example
from autograd_compare.optimizers import SGD
from autograd_compare.study import restarts
from tests.helpers import assert_close

BACKENDS = ("manual", "torch", "jax")
EXAMPLE = Example(np.array(CLASS_INPUTS), np.array(CLASS_TARGETS))
LRS = (0.5, 2.0)


def study(**changes) -> restarts.Study:
    base = restarts.Study(n=37, seed=11, distribution="uniform", low=-1.0, high=1.0, steps=60,
                          lrs=LRS, threshold=1e-3, chunk=16)
    return base._replace(**changes)


def trainers(s: restarts.Study, names=("manual",)) -> dict[str, restarts.Trainer]:
    return restarts.trainers(s, restarts.get_backends(s, names, "float64"))


def run(s: restarts.Study, names=("manual",)) -> restarts.Outcome:
    return restarts.run(s, trainers(s, names))


@pytest.fixture(scope="module")
def all_three() -> restarts.Outcome:
    return run(study(), BACKENDS)


def test_starts_seeded_and_independent_of_chunking():
    s = study(n=10_000)
    whole = restarts.starts(s)
    assert whole.shape == (10_000, 8) and whole.min() >= -1 and whole.max() <= 1
    pieces = np.concatenate([restarts.starts(s, lo, min(lo + 3001, s.n))
                             for lo in range(0, s.n, 3001)])
    # bit-for-bit: the same seeded draws, only sliced differently
    assert np.array_equal(whole, pieces)
    assert not np.array_equal(whole, restarts.starts(s._replace(seed=12)))


def test_normal_distribution_centre_and_spread():
    w = restarts.starts(study(n=20_000, distribution="normal", low=1.0, high=3.0))
    assert abs(w.mean() - 2.0) < 0.02 and abs(w.std() - 1.0) < 0.02


def test_seeded_runs_reproducible_bit_for_bit_and_chunk_independent():
    a, b, c = run(study()), run(study()), run(study(chunk=5))
    for x in (b, c):  # bit-for-bit is the promise of a seeded run, whatever the chunk size
        assert np.array_equal(a.final_loss["manual"], x.final_loss["manual"])
        assert np.array_equal(a.steps_to_threshold["manual"], x.steps_to_threshold["manual"])
        assert np.array_equal(a.initial_loss, x.initial_loss)
    assert restarts.summary(a) == restarts.summary(b)


def test_batched_study_equals_unbatched_single_runs():
    s = study()
    out = run(s)
    backend = get_backend("manual")
    w0 = restarts.starts(s)
    for j, lr in enumerate(s.lrs):
        final, reached = np.empty(s.n), np.empty(s.n, np.int64)
        for n in range(s.n):
            t = backend.train(w0[n], EXAMPLE, lr=lr, steps=s.steps)
            losses = np.append(t.loss, backend.forward(t.weights[-1]).E_total)
            final[n] = losses[-1]
            hit = np.flatnonzero(losses <= s.threshold)
            reached[n] = hit[0] if hit.size else -1
        # same formulas, same order: bit-identical (see test_bench_manual_batch)
        assert np.array_equal(out.final_loss["manual"][j], final), f"lr {lr}"
        assert np.array_equal(out.steps_to_threshold["manual"][j], reached)
        one = restarts.backend_summary(final, s.threshold, reached)
        batch = restarts.summary(out)[j].backends["manual"]
        assert batch.reached == one.reached
        assert batch.steps_to_threshold == one.steps_to_threshold
        for key, value in one.final_loss._asdict().items():
            assert getattr(batch.final_loss, key) == value, key  # same inputs, same reduction


def test_backends_give_identical_summaries(all_three):
    rows = restarts.summary(all_three)
    for row in rows:
        ref = row.backends["manual"]
        for b in BACKENDS[1:]:
            other = row.backends[b]
            assert other.reached == ref.reached
            assert other.steps_to_threshold == ref.steps_to_threshold
            # measured 916 eps64 (final E_total ~1e-4 and below cancels: ½(t - a_o)²);
            # 1e-12 = 4504 eps allowed
            for key, value in ref.final_loss._asdict().items():
                assert_close(getattr(other.final_loss, key), value, rtol=1e-12,
                             what=f"{b} {key}")
        assert row.cross_backend.disagreements == 0
        assert 0 <= row.cross_backend.worst_ratio_to_tolerance <= 1
    assert restarts.disagreements(all_three) == []


def test_disagreement_is_listed_not_hidden():
    out = run(study(), ("manual", "mistake:update-sign"))
    found = restarts.disagreements(out)
    assert len(found) == out.study.n * len(LRS)  # every configuration goes uphill instead
    first = found[0]
    assert set(first.final_loss) == {"manual", "mistake:update-sign"}
    assert first.ratio_to_tolerance > 1 and len(first.weights) == 8


def test_gallery_and_curves(all_three):
    curves = restarts.curves(all_three, trainers(all_three.study, BACKENDS))
    codes = restarts.outcomes(all_three, "manual")
    for j, lr in enumerate(LRS):  # a stuck or still-descending start only where there is one
        told = [k for k, code in (("stuck", restarts.STUCK),
                                  ("still_descending", restarts.DESCENDING))
                if (codes[j] == code).any()]
        assert [c.which for c in curves if c.lr == lr] == ["best", "median", "worst", *told]
    for c in curves:
        j = LRS.index(c.lr)
        assert all(len(loss) == all_three.study.steps for loss in c.loss.values())
        assert c.outcome == restarts.OUTCOMES[int(codes[j, c.start])]
        losses = all_three.final_loss["manual"][j]
        if c.which == "best":
            assert losses[c.start] == losses.min()  # an element of the same array
        if c.which == "worst":
            assert losses[c.start] == losses.max()


def test_gallery_picks_the_median_stuck_and_still_descending_start():
    final = np.array([0.5, 0.01, 0.4, 0.3, 0.2, 0.45, 0.35])
    codes = np.array([1, 0, 1, 2, 2, 1, 2], np.int8)
    g = restarts.gallery_indices(final, codes)
    # stuck: starts 2, 5, 0 by final E (0.4, 0.45, 0.5): the median is start 5;
    # still descending: 4, 3, 6 (0.2, 0.3, 0.35): start 3
    assert g == restarts.Gallery(best=1, median=6, worst=0, stuck=5, still_descending=3)
    assert restarts.gallery_indices(final, np.zeros(7, np.int8)).stuck is None


@pytest.mark.parametrize("change, message", [
    (dict(n=0), "--n must be >= 1"),
    (dict(distribution="cauchy"), "unknown distribution 'cauchy'"),
    (dict(low=1.0, high=-1.0), "width >= 0"),
    (dict(steps=0), "--steps"),
    (dict(threshold=-1.0), "--threshold"),
    (dict(threshold=float("nan")), "--threshold"),
    (dict(seed=-3), "--seed"),
    (dict(checkpoints=(5,), optimizer=optimizers.make("adam")), "plain gradient descent"),
])
def test_check_rejects(change, message):
    with pytest.raises(InputError, match=message):
        restarts.check(study(**change))


def test_checkpoints_are_the_unbroken_run_seen_on_the_way():
    plain = run(study())
    cut = run(study(checkpoints=(7, 30)))
    # gradient descent keeps no state but the weights: cutting the run changes nothing
    assert np.array_equal(cut.final_loss["manual"], plain.final_loss["manual"])
    assert np.array_equal(cut.steps_to_threshold["manual"], plain.steps_to_threshold["manual"])
    backend, w0 = get_backend("manual"), restarts.starts(study())
    for j, lr in enumerate(LRS):
        for n in (0, 17, 36):
            t = backend.train(w0[n], EXAMPLE, lr=lr, steps=31)
            # E_total after k updates is the loss training sees before update k
            assert np.array_equal(cut.checkpoint_loss["manual"][:, j, n], t.loss[[7, 30]])
    rows = restarts.summary(cut)
    assert [c.step for c in rows[0].checkpoints] == [7, 30]
    assert rows[1].checkpoints[1].E_total["manual"].median == float(
        np.median(cut.checkpoint_loss["manual"][1, 1]))  # same numbers, same reduction


# --- any network: XOR's island ------------------------------------------------------------------
XOR = network.preset("xor")


def test_stuck_fraction_matches_a_direct_run_and_backends_agree():
    s = study(n=200, seed=0, steps=2000, threshold=0.1, chunk=200, problem=XOR)
    out = run(s, BACKENDS)
    rows = restarts.summary(out)
    direct = registry.get_network_backend("manual").train_batch(
        XOR.network, restarts.starts(s), np.full(200, 0.5), XOR.data, SGD, 2000)
    assert rows[0].backends["manual"].reached == int(np.sum(direct.final_loss <= 0.1))
    assert np.array_equal(out.final_loss["manual"][0], direct.final_loss)  # the same kernel
    for r in rows:
        assert r.cross_backend.disagreements == 0 and r.cross_backend.reached_mismatches == 0
        assert len({b.reached for b in r.backends.values()}) == 1
        assert 0.1 < r.backends["manual"].reached_fraction < 0.95  # the island exists
        assert r.cross_backend.steps_to_threshold_mismatches == 0  # counted on any network


def test_a_backend_that_trains_differently_is_reported():
    """Mutation: torch's batched training uses lr·(1 + 1e-6): the study says DISAGREE."""
    s = study(n=8, seed=1, steps=300, lrs=(0.5,), threshold=0.1, problem=XOR)
    both = trainers(s, ("manual", "torch"))
    torch_b = both["torch"]
    both["torch"] = torch_b._replace(batch=lambda w, lr, *a: torch_b.batch(w, lr * (1 + 1e-6),
                                                                             *a))
    out = restarts.run(s, both)
    assert restarts.summary(out)[0].cross_backend.disagreements > 0
    result = restarts.report(out, np.dtype("float64"), 0.0, both)  # re-checked step by step:
    assert result.exit_code == 1 and not result.amplified  # the batched kernel's own steps


def test_an_optimizer_study_equals_single_optimizer_runs():
    """With momentum every batch row is the single run from its start; steps to the threshold
    are not counted (the optimizer trainers do not), E at the start is computed."""
    s = study(n=3, steps=12, lrs=(0.5,), threshold=0.1, problem=XOR,
              optimizer=optimizers.make("momentum", lr=1.0))
    out = run(s, ("manual", "torch"))
    assert out.steps_to_threshold is None
    assert restarts.summary(out)[0].backends["torch"].steps_to_threshold is None
    w0 = restarts.starts(s)
    torch_b = registry.get_network_backend("torch")
    for n in range(3):
        one = torch_b.train(XOR.network, w0[n], XOR.data, optimizers.with_lr(s.optimizer, 0.5),
                            12)
        end = float(torch_b.forward(XOR.network, one.weights[-1], XOR.data).losses.sum())
        assert_close(out.final_loss["torch"][0, n], end, rtol=1e-10, what=f"start {n}")
        assert out.initial_loss[n] == pytest.approx(float(one.loss[0]), rel=1e-13)
    assert out.ratio.max() <= 1


def test_mistake_backends_are_the_tutorials():
    with pytest.raises(InputError, match="mistake backends are the tutorial's"):
        restarts.get_backends(study(problem=XOR), ("manual", "mistake:update-sign"), "float64")


# --- the three outcomes: reached, stuck, still descending ---------------------------------------
def test_the_outcome_rule_by_hand():
    """reached: final E <= threshold; stuck: E fell by less than 1 % of E_T over the tail (or
    rose, or is not a number); still descending: fell by 1 % or more."""
    tail = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 2.0, 1.0, np.inf, 1.0])
    final = np.array([0.05, 0.995, 0.98, 1.2, np.nan, 0.1, 1.0, 0.9899, np.inf, 0.99])
    got = restarts.classify(final, tail, threshold=0.1)
    R, S, D = restarts.REACHED, restarts.STUCK, restarts.DESCENDING
    # 0.99 from 1.0: a fall of 0.010000000000000009 >= 0.01 (the float of 1 - 0.99)
    assert got.tolist() == [R, S, D, S, S, R, D, D, S, D]
    assert got.dtype == np.int8
    untold = restarts.classify(final, None, 0.1)  # no tail recorded (an optimizer)
    assert untold.tolist() == [R] + [restarts.UNTOLD] * 4 + [R] + [restarts.UNTOLD] * 4


@pytest.mark.parametrize("steps, tail", [(1000, 900), (300, 270), (60, 54), (9, 8), (1, 0)])
def test_the_tail_is_the_last_tenth_of_the_steps(steps, tail):
    assert restarts.tail_step(steps) == tail


def _xor_loss_and_gradient(w: np.ndarray) -> tuple[float, np.ndarray]:
    """XOR's 2-2-1 sigmoid network with biases, ½Σ(a - t)², by hand (the test's own)."""
    x = np.array([[0.0, 0], [0, 1], [1, 0], [1, 1]])
    t = np.array([0.0, 1, 1, 0])
    W1, b1, W2, b2 = w[0:4].reshape(2, 2), w[4:6], w[6:8], w[8]
    a1 = 1 / (1 + np.exp(-(x @ W1.T + b1)))
    a2 = 1 / (1 + np.exp(-(a1 @ W2 + b2)))
    d2 = (a2 - t) * a2 * (1 - a2)  # dE/dz2 per example
    d1 = np.outer(d2, W2) * a1 * (1 - a1)  # dE/dz1
    grad = np.concatenate([(d1.T @ x).ravel(), d1.sum(0), a1.T @ d2, [d2.sum()]])
    return 0.5 * float(np.sum((a2 - t) ** 2)), grad


def test_xor_outcomes_equal_a_numpy_loop_of_gradient_descent():
    """12 XOR starts, 400 steps: plain gradient descent written here, E after 360 and 400
    updates, the rule applied here; the study (all three backends) gives the same outcome for
    every start, and the counts worked out once from this loop."""
    s = study(n=12, seed=3, steps=400, threshold=0.1, chunk=5, problem=XOR)
    w0 = restarts.starts(s)
    want = {}
    for lr in s.lrs:
        codes = []
        for n in range(s.n):
            w, E = w0[n].copy(), []
            for _ in range(s.steps + 1):
                e, g = _xor_loss_and_gradient(w)
                E.append(e)
                w = w - lr * g
            fall = (E[360] - E[400]) / E[360]
            assert E[400] > 0.1 * 1.001 or E[400] < 0.1 / 1.001  # far from the threshold
            assert abs(fall - 0.01) > 1e-4  # and from the 1 % line: rounding cannot flip it
            codes.append("reached" if E[400] <= 0.1 else "still descending" if fall >= 0.01
                         else "stuck")
        want[lr] = codes
    # counted from the loop above: lr 0.5 none reached, 4 stuck, 8 still descending;
    # lr 2: 9 reached, 2 stuck, 1 still descending
    assert [want[0.5].count(k) for k in ("reached", "stuck", "still descending")] == [0, 4, 8]
    assert [want[2.0].count(k) for k in ("reached", "stuck", "still descending")] == [9, 2, 1]
    out = run(s, BACKENDS)
    for b in BACKENDS:
        got = restarts.outcomes(out, b)
        for j, lr in enumerate(s.lrs):
            assert [restarts.OUTCOMES[int(c)] for c in got[j]] == want[lr], (b, lr)
    rows = restarts.summary(out)
    assert [(r.backends["jax"].reached, r.backends["jax"].stuck,
             r.backends["jax"].still_descending) for r in rows] == [(0, 4, 8), (9, 2, 1)]
    assert all(r.cross_backend.outcome_mismatches == 0 for r in rows)


@pytest.mark.parametrize("problem", [network.preset("tutorial"), XOR], ids=["tutorial", "xor"])
def test_the_tail_checkpoint_is_the_unbroken_run(problem):
    """The tail step cuts each run in two train_batch calls: every backend's final E and steps
    to the threshold are those of one call of all S steps, bit for bit, and E at the tail is
    the loss a single run sees before update T."""
    s = study(n=9, steps=50, threshold=0.05, chunk=9, problem=problem)
    out = run(s, BACKENDS)
    assert out.tail_loss is not None
    T = restarts.tail_step(s.steps)
    w0 = np.tile(restarts.starts(s), (len(s.lrs), 1))
    lr = np.repeat(np.asarray(s.lrs), s.n)
    for name, t in trainers(s, BACKENDS).items():
        whole = t.batch(w0, lr, s.steps, s.threshold)
        assert np.array_equal(out.final_loss[name].ravel(), whole.final_loss), name
        assert np.array_equal(out.steps_to_threshold[name].ravel(), whole.steps_to_threshold)
        head = t.batch(w0, lr, T, s.threshold)
        assert np.array_equal(out.tail_loss[name].ravel(), head.final_loss), name
    single = registry.get_network_backend("manual").train(
        problem.network, restarts.starts(s)[4], problem.data, optimizers.with_lr(SGD, 2.0), T + 1)
    assert out.tail_loss["manual"][1, 4] == single.loss[T]  # E after T updates


def test_the_tutorial_at_lr_0_1_is_slow_never_stuck():
    """The tutorial's network never gets stuck: at lr 0.1 the starts that have not reached
    1e-5 after 1000 steps still fall (by 42 % or more over the last 100 steps)."""
    s = study(n=200, seed=0, steps=1000, lrs=(0.1,), threshold=1e-5, chunk=200)
    # the tutorial's gradient descent written here, all 200 starts at once (rows)
    w = restarts.starts(s).copy()
    i, t = np.array(CLASS_INPUTS), np.array(CLASS_TARGETS)
    E = np.empty((s.steps + 1, s.n))
    for k in range(s.steps + 1):
        a_h = 1 / (1 + np.exp(-(w[:, [0, 2]] * i[0] + w[:, [1, 3]] * i[1])))  # a_h1, a_h2
        a_o = 1 / (1 + np.exp(-(w[:, [4, 6]] * a_h[:, [0]] + w[:, [5, 7]] * a_h[:, [1]])))
        E[k] = 0.5 * ((t - a_o) ** 2).sum(axis=1)
        delta = (a_o - t) * a_o * (1 - a_o)  # dE_total/do1, do2
        g = (delta[:, 0:1] * w[:, [4, 5]] + delta[:, 1:2] * w[:, [6, 7]]) * a_h * (1 - a_h)
        grad = np.column_stack([g[:, 0] * i[0], g[:, 0] * i[1], g[:, 1] * i[0], g[:, 1] * i[1],
                                delta[:, 0] * a_h[:, 0], delta[:, 0] * a_h[:, 1],
                                delta[:, 1] * a_h[:, 0], delta[:, 1] * a_h[:, 1]])
        w = w - 0.1 * grad
    final, tail = E[1000], E[900]
    late = final > s.threshold
    assert np.min(np.abs(final / s.threshold - 1)) > 1e-6  # none within rounding of 1e-5
    assert np.min((tail[late] - final[late]) / tail[late]) > 0.42  # far above the 1 % line
    assert (int((~late).sum()), int(late.sum())) == (86, 114)  # counted from this loop
    out = run(s, BACKENDS)
    for b in BACKENDS:
        row = restarts.summary(out)[0].backends[b]
        assert (row.reached, row.stuck, row.still_descending) == (86, 0, 114), b
    assert_close(out.tail_loss["manual"][0], tail, rtol=1e-10, what="E after 900 updates")


def test_an_optimizer_does_not_tell_stuck_from_still_descending():
    s = study(n=6, steps=30, lrs=(0.5,), threshold=0.1, problem=XOR,
              optimizer=optimizers.make("adam"))
    out = run(s)
    assert out.tail_loss is None
    codes = restarts.outcomes(out, "manual")
    assert set(codes.ravel().tolist()) <= {restarts.REACHED, restarts.UNTOLD}
    row = restarts.summary(out)[0].backends["manual"]
    assert row.stuck is None and row.still_descending is None
    assert row.reached == int(np.count_nonzero(codes == restarts.REACHED))
    assert "not told apart with an optimizer" in restarts.outcome_rule(s)


def test_a_chunk_without_its_tail_is_refused():
    s = study(n=4, chunk=4)
    chunk = restarts.run_chunk(s, trainers(s), 0)
    collect = restarts.Collector(s, ("manual",), np.dtype("float64"))
    with pytest.raises(RuntimeError, match="no E at the tail step"):
        collect.add(chunk._replace(tail_loss=None))


@pytest.mark.parametrize("preset, name, words", [
    ("xor", "W1[0,0]", "W1[0,0] (first hidden unit, weight from input x1)"),
    ("xor", "W2[0,1]", "W2[0,1] (output unit, weight from second hidden unit)"),
    ("xor", "b2[0]", "b2[0] (bias of the output unit)"),
    ("iris", "W2[2,4]", "W2[2,4] (third output unit, weight from fifth hidden unit)"),
    ("iris", "b1[1]", "b1[1] (bias of the second hidden unit)"),
    ("tutorial", "w6", "w6 (weight from h2 to o1)"),
    ("tutorial", "w3", "w3 (weight from i1 to h2)"),
])
def test_the_island_axes_say_which_weight_in_words(preset, name, words):
    from autograd_compare.report import landscape

    assert landscape.describe_param(network.preset(preset).network, name) == words


def test_the_islands_plane_goes_from_the_median_start_to_the_best_and_the_worst():
    from autograd_compare.report import landscape

    median, best, worst = np.zeros(3), np.array([0.0, 2, 0]), np.array([1.0, 1, 0])
    f = landscape.start_plane(median, best, worst)
    assert f.u.tolist() == [0.0, 1.0, 0.0] and f.v.tolist() == [1.0, 0.0, 0.0]
    assert f.project(best).tolist() == [2.0, 0.0] and f.project(worst).tolist() == [1.0, 1.0]
    same = landscape.start_plane(median, best, 3 * best)  # the worst on the same line
    assert abs(same.u @ same.v) < 1e-15 and abs(np.linalg.norm(same.v) - 1) < 1e-15


def test_checkpoints_given_out_of_order_keep_their_own_steps():
    """--checkpoints 30,7: E after 30 updates under step 30 (the cuts are sorted, the
    checkpoints keep the order given)."""
    ordered, reverse = run(study(checkpoints=(7, 30))), run(study(checkpoints=(30, 7)))
    assert np.array_equal(reverse.checkpoint_loss["manual"],
                          ordered.checkpoint_loss["manual"][::-1])
    assert [c.step for c in restarts.summary(reverse)[0].checkpoints] == [30, 7]
