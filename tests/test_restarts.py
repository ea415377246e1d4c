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
    assert [c.which for c in curves] == ["best", "median", "worst"] * len(LRS)
    for c in curves:
        j = LRS.index(c.lr)
        assert all(len(loss) == all_three.study.steps for loss in c.loss.values())
        losses = all_three.final_loss["manual"][j]
        if c.which == "best":
            assert losses[c.start] == losses.min()  # an element of the same array
        if c.which == "worst":
            assert losses[c.start] == losses.max()


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
