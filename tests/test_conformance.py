"""Every backend, the deliberate mistakes included, held to the contract in `compare.interface`.

One module, parametrised over backends x dtypes, replaces the copies of these checks that the
torch, JAX and manual test files each used to carry. Framework-specific tests (compilation,
blocks, x64 scoping) stay in tests/test_torch_backend.py and tests/test_jax_backend.py.

Tolerances (each measured with tests/helpers.py on this suite's cases, then allowed <= 10x):
- POINT, 4 eps relative, torch and JAX against manual at one point, both dtypes: forward values
  measured 0 eps, gradients 1.39 eps at worst (the chain rule's products in another order).
- TRAJECTORY, 64 eps of each column's largest |value| over 100 steps, both dtypes: measured
  7.2 eps (loss), 1.4 eps (weights), 10.0 eps (float32 torch grads) over the tutorial's sweep.
  Column scale, not relative: w5 crosses zero at lr=1.0, where w - lr*g cancels.
- BATCH vs single runs, exact for manual and the mistakes (same expressions in the same order);
  JAX 2 eps relative: XLA fuses the batched program differently, 0.96 eps measured.
  torch: a row's sigmoid goes through torch's vectorised exp in the batch and its scalar path in
  a single run, one ulp apart on this CPU (AMD EPYC, AVX2; bit-identical on the CPU of earlier
  CI runs). Measured, float64: 1.08 eps on the weights, 26.4 eps on the losses, because
  E_total = ½Σ(t - a_o)² cancels as a_o -> t and turns that ulp into tens of eps of E.
  float32: 0. Allowed: 4 eps (weights), 64 eps (losses; < 10x measured, as TRAJECTORY).
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from autograd_compare import interface, naming, registry
from autograd_compare.errors import BackendUnavailable
from autograd_compare.interface import CLASS_WEIGHTS, LEARNING_RATES, Example
from autograd_compare.manual.mistakes import MISTAKES
from tests.helpers import assert_close, class_example, eps, scaled_close, starts

FRAMEWORKS = ("torch", "jax")
BACKENDS = ("manual", *FRAMEWORKS, *(f"mistake:{kind}" for kind in MISTAKES))
DTYPES = ("float64", "float32")
FUNCTIONS = {  # Backend field -> (public Protocol, raw Protocol)
    "forward": (interface.ForwardFn, interface.RawForwardFn),
    "gradients": (interface.GradientsFn, interface.RawGradientsFn),
    "train": (interface.TrainFn, interface.RawTrainFn),
    "train_batch": (interface.TrainBatchFn, interface.RawTrainBatchFn),
}
POINT_EPS = 4
TRAJECTORY_EPS = 64
BATCH_EPS = {"jax": 2, "torch": 4}  # every other backend: 0, bit-identical
BATCH_LOSS_EPS = {"jax": 2, "torch": 64}  # losses: see the module docstring (cancellation)
STEPS = 100
# Trajectory fields that may be None: no optimizer state (plain gradient descent), and the
# nodes and their gradients of ``record=True`` only (checked where recorded)
NOT_ALWAYS = ("state", "nodes", "node_grads", "weight_grads")
OTHER = Example(np.array([0.3, -0.7]), np.array([0.9, 0.1]))  # not the class example


def get(name: str, dtype: str = "float64") -> interface.Backend:
    """The guarded backend, or a skip if its framework is missing (a failure under CI=true)."""
    try:
        return registry.get_backend(name, dtype)
    except BackendUnavailable as err:
        pytest.skip(str(err))


def raw(name: str, dtype: str = "float64") -> interface.RawBackend:
    """The backend before `registry.guarded`: no input checks, no dtype guard (the tutorial's
    view of the network backend, `tutorial_view.raw`, or a mistake's ``make``)."""
    get(name, dtype)  # skips if the framework is missing
    if name.startswith(registry.MISTAKE_PREFIX):
        from autograd_compare.manual import mistakes

        return mistakes.make(name[len(registry.MISTAKE_PREFIX):], np.dtype(dtype))
    from autograd_compare import tutorial_view

    return tutorial_view.raw(name, np.dtype(dtype))


def protocol_signature(protocol: type) -> inspect.Signature:
    """The signature a Protocol's ``__call__`` promises, without ``self``."""
    sig = inspect.signature(protocol.__call__)
    return sig.replace(parameters=list(sig.parameters.values())[1:])


def shape_of(sig: inspect.Signature) -> list[tuple[str, object, object]]:
    """Names, kinds and defaults: what a caller relies on."""
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


@pytest.mark.parametrize("name", BACKENDS)
@pytest.mark.parametrize("field", FUNCTIONS)
def test_public_functions_have_the_protocol_signatures(name, field):
    """What get_backend() returns is what interface.py documents, annotations included."""
    got = inspect.signature(getattr(get(name), field))
    want = protocol_signature(FUNCTIONS[field][0])
    assert shape_of(got) == shape_of(want), f"{name}.{field}{got} != {want}"
    assert [str(p.annotation) for p in got.parameters.values()] == [
        str(p.annotation) for p in want.parameters.values()], f"{name}.{field}{got}"
    assert str(got.return_annotation) == str(want.return_annotation)


@pytest.mark.parametrize("name", BACKENDS)
@pytest.mark.parametrize("field", FUNCTIONS)
def test_raw_functions_have_the_raw_protocol_signatures(name, field):
    """What `raw` returns: same names and kinds, options keyword-only."""
    got = inspect.signature(getattr(raw(name), field))
    want = protocol_signature(FUNCTIONS[field][1])
    assert shape_of(got) == shape_of(want), f"raw {name}.{field}{got} != {want}"


def test_options_after_the_data_are_keyword_only():
    b = registry.get_backend("manual")
    with pytest.raises(TypeError):
        b.train(CLASS_WEIGHTS, None, 0.5, 3)  # type: ignore[misc]
    with pytest.raises(TypeError):
        b.train_batch([CLASS_WEIGHTS], [0.5], None, 3)  # type: ignore[misc]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", FRAMEWORKS)
@pytest.mark.parametrize("example", [None, OTHER], ids=["class", "other"])
def test_point_values_match_manual(name, dtype, example):
    b, manual = get(name, dtype), get("manual", dtype)
    for what in ("forward", "gradients"):
        got = getattr(b, what)(CLASS_WEIGHTS, example)
        want = getattr(manual, what)(CLASS_WEIGHTS, example)
        for field, x, y in zip(got._fields, got, want, strict=True):
            assert_close(x, y, POINT_EPS * eps(dtype), what=f"{name} {dtype} {what}.{field}")


@pytest.mark.parametrize("lr", LEARNING_RATES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", FRAMEWORKS)
def test_trajectory_matches_manual(name, dtype, lr):
    got = get(name, dtype).train(CLASS_WEIGHTS, lr=lr, steps=STEPS)
    want = get("manual", dtype).train(CLASS_WEIGHTS, lr=lr, steps=STEPS)
    assert got.state is None and want.state is None  # plain gradient descent: no state
    for field, x, y in zip(got._fields[:3], got[:3], want[:3], strict=True):
        scaled_close(x, y, TRAJECTORY_EPS * eps(dtype), what=f"{name} {dtype} lr={lr} {field}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", BACKENDS)
def test_batch_equals_single_runs(name, dtype):
    """Row n of train_batch is train(w[n], lr=lr[n]); steps_to_threshold is the first k."""
    b = get(name, dtype)
    w, lr = starts(12, dtype), np.resize(np.array(LEARNING_RATES, dtype), 12)
    singles = [b.train(w[n], lr=float(lr[n]), steps=30) for n in range(12)]
    losses = [np.append(s.loss, b.forward(s.weights[-1]).E_total) for s in singles]  # E(w_0..30)
    threshold = float(np.median([E[15] for E in losses]))  # some rows reach it, some do not
    out = b.train_batch(w, lr, steps=30, threshold=threshold, keep_loss=True)
    rtol = BATCH_EPS.get(name, 0) * eps(dtype)
    ltol = BATCH_LOSS_EPS.get(name, 0) * eps(dtype)
    for n, (s, E) in enumerate(zip(singles, losses, strict=True)):
        assert_close(out.loss[n], s.loss, ltol, what=f"{name} row {n} loss")
        assert_close(out.final_weights[n], s.weights[-1], rtol, what=f"{name} row {n} weights")
        assert_close(out.initial_loss[n], E[0], ltol, what=f"{name} row {n} initial_loss")
        assert_close(out.final_loss[n], E[-1], ltol, what=f"{name} row {n} final_loss")
        hits = np.flatnonzero(E <= threshold)
        assert out.steps_to_threshold[n] == (hits[0] if hits.size else -1), f"{name} row {n}"
    assert len(set(out.steps_to_threshold.tolist())) >= 2, f"{name}: one outcome for all rows"


@pytest.mark.parametrize("name", BACKENDS)
def test_summaries_only_unless_asked(name):
    b = get(name)
    w, lr = starts(6), np.array(LEARNING_RATES)
    plain = b.train_batch(w, lr, steps=3)
    assert plain.loss is None
    np.testing.assert_array_equal(plain.steps_to_threshold, np.full(6, -1, np.int64))
    everyone = b.train_batch(w, lr, steps=3, threshold=1.0)  # E_total < 1 always: reached at 0
    np.testing.assert_array_equal(everyone.steps_to_threshold, np.zeros(6, np.int64))
    kept = b.train_batch(w, lr, steps=3, keep_loss=True)
    assert kept.loss.shape == (6, 3) and kept.final_weights.shape == (6, 8)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", BACKENDS)
def test_a_recorded_training_holds_what_forward_and_gradients_give(name, dtype):
    """record=True: at every step, the final weights included, exactly the backend's own
    forward and gradients there (the report shows them as those); the training unchanged."""
    b = get(name, dtype)
    plain = b.train(CLASS_WEIGHTS, lr=2.0, steps=STEPS)
    t = b.train(CLASS_WEIGHTS, lr=2.0, steps=STEPS, record=True)
    for field in ("loss", "weights", "grads"):
        np.testing.assert_array_equal(getattr(t, field), getattr(plain, field), err_msg=field)
    rec = t
    assert rec.nodes.shape == (STEPS + 1, 11) and rec.node_grads.shape == (STEPS + 1, 8)
    assert rec.weight_grads.shape == (STEPS + 1, 8)
    for k, wk in enumerate(t.weights):
        f, g = b.forward(wk), b.gradients(wk)
        np.testing.assert_array_equal(rec.nodes[k], naming.node_values(f), err_msg=f"{k}")
        np.testing.assert_array_equal(rec.node_grads[k], np.concatenate([g.h, g.a_h, g.o, g.a_o]),
                                      err_msg=f"{k}")
        np.testing.assert_array_equal(rec.weight_grads[k], g.w, err_msg=f"{k}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", BACKENDS)
def test_extreme_inputs_stay_finite_without_warnings(name, dtype):
    """|h| up to 2000 and lr = 100: saturated sigmoids, no overflow warning (they are errors)."""
    b = get(name, dtype)
    w = starts(8, dtype, scale=50.0)
    w[1] = [50, -50, 50, -50, 50, -50, 50, -50]
    big = Example(np.array([20.0, -20.0]), np.array([0.5, 0.5]))
    for example in (None, big):
        out = b.train_batch(w, np.full(8, 100.0), example, steps=30, threshold=1e-3,
                            keep_loss=True)
        results = [out, b.train(w[1], example, lr=100.0, steps=30),
                   b.train(w[1], example, lr=100.0, steps=30, record=True),
                   b.forward(w[1], example), b.gradients(w[1], example)]
        for result in results:
            for field, value in zip(result._fields, result, strict=True):
                if value is None and field in NOT_ALWAYS:
                    continue
                assert np.all(np.isfinite(value)), f"{name} {type(result).__name__}.{field}"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", BACKENDS)
def test_every_output_has_the_requested_dtype(name, dtype):
    """Unguarded: the backend itself gets the dtype right; arrays are NumPy and writable."""
    r = raw(name, dtype)
    w, ex = np.array(CLASS_WEIGHTS, dtype), class_example(dtype)
    results = [r.forward(w, ex), r.gradients(w, ex), r.train(w, ex, lr=0.5, steps=3),
               r.train(w, ex, lr=0.5, steps=3, record=True),
               r.train_batch(np.stack([w, w]), np.array([0.5, 1.0], dtype), ex, steps=3,
                             threshold=0.01, keep_loss=True)]
    for result in results:
        for field, value in zip(result._fields, result, strict=True):
            if value is None and field in NOT_ALWAYS:
                continue
            want = np.int64 if field == "steps_to_threshold" else np.dtype(dtype)
            where = f"{name} {type(result).__name__}.{field}"
            assert isinstance(value, np.ndarray) and value.dtype == want, where
            assert value.flags.writeable, f"{where} is read-only"


@pytest.mark.parametrize("name", BACKENDS)
def test_the_example_is_used(name):
    b = get(name)
    assert not np.allclose(b.gradients(CLASS_WEIGHTS, OTHER).w, b.gradients(CLASS_WEIGHTS).w)
    t_other = b.train(CLASS_WEIGHTS, OTHER, lr=0.5, steps=2)
    assert not np.allclose(t_other.weights[-1], b.train(CLASS_WEIGHTS, lr=0.5, steps=2).weights[-1])
