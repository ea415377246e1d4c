"""The gradient check and trajectory check for any network (the one job's `optim_check.sweep`
with sgd): presets and random networks pass in float64 and float32; a wrong derivation, a
wrong update and a wrong reference are caught."""

from __future__ import annotations

import json

import numpy as np
import pytest

from autograd_compare import network, registry
from autograd_compare.harness import network_check, optim_check
from autograd_compare.manual import mlp as manual_mlp
from autograd_compare.network import Data
from autograd_compare.optimizers import SGD
from autograd_compare.report.sweep import as_dict

BACKENDS = ("manual", "torch", "jax")
DTYPES = ("float64", "float32")


def random_network(kind: str):
    rng = np.random.default_rng(7)
    if kind == "tanh-relu-mse":
        net = network.make_network((3, 6, 5, 2), ("tanh", "relu", "sigmoid"), "trainable",
                                   loss="mse", reduction="mean")
        t = rng.uniform(0, 1, (8, 2))
    else:
        net = network.make_network((4, 5, 5, 3), ("relu", "tanh", "softmax"), "trainable",
                                   loss="cross-entropy", reduction="sum")
        t = np.eye(3)[rng.integers(0, 3, 8)]
    w = rng.normal(0, 0.6, network.n_params(net))
    return net, w, network.data(net, rng.normal(size=(8, net.sizes[0])), t), 0.2, 60


def setup(case: str, dtype: str):
    if case.startswith("preset:"):
        p = network.preset(case[7:])
        net, w, d, lr, steps = p.network, p.weights, p.data, p.lr, p.steps
    else:
        net, w, d, lr, steps = random_network(case)
    backends = [registry.get_network_backend(b, dtype) for b in BACKENDS]
    return (backends, net, network.weights(net, w, dtype),
            network.data(net, d.inputs, d.targets, dtype), lr, steps)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", ["preset:xor", "preset:iris", "preset:mazur",
                                  "tanh-relu-mse", "relu-tanh-softmax"])
def test_networks_pass_both_checks(case, dtype):
    backends, net, w, d, lr, steps = setup(case, dtype)
    r = optim_check.sweep(case, SGD, list(BACKENDS), net, w, d, (lr,), steps, dtype)
    assert r.ok, r.first_divergence
    assert r.first_divergence is None
    n_nodes = sum(2 * n for n in net.sizes[1:]) * d.inputs.shape[0]
    softmax = d.inputs.shape[0] * net.sizes[-1] if net.activations[-1] == "softmax" else 0
    assert len(r.gradcheck.rows) == network.n_params(net) + n_nodes - softmax
    assert all(row.fd_ok for row in r.gradcheck.rows)
    assert set(r.rates[0].comparisons) == {"torch", "jax"}
    assert as_dict(r)["ok"] is True


def test_references_agree_with_a_hand_computed_derivative():
    """One-layer identity network, half-sse: dE/dW = (a - t) xᵀ, dE/dz = a - t, exactly."""
    net = network.make_network((2, 1), "identity")
    x, t, w = np.array([[2.0, 3.0]]), np.array([[1.0]]), np.array([0.5, -0.25])
    refs = network_check.references(net, w, Data(x, t))
    a = 0.5 * 2 - 0.25 * 3
    np.testing.assert_allclose(refs["dw"][0], [(a - 1) * 2, (a - 1) * 3], rtol=1e-15)
    np.testing.assert_allclose(refs[("z", 0)][0], [[a - 1]], rtol=1e-15)
    np.testing.assert_allclose(refs["dw"][1], refs["dw"][0], rtol=1e-9)


def test_a_dropped_derivative_is_caught_where_it_first_goes_wrong(monkeypatch):
    """Mutation: the manual backend forgets σ' (f' = 1 for sigmoid)."""
    backends, net, w, d, lr, steps = setup("preset:xor", "float64")
    real = manual_mlp.derivative
    monkeypatch.setattr(manual_mlp, "derivative", lambda name, z, a: (
        np.ones_like(z) if name == "sigmoid" else real(name, z, a)))
    r = optim_check.sweep("xor", SGD, list(BACKENDS), net, w, d, (lr,), steps)
    assert not r.ok
    first = r.first_divergence
    assert first["check"] == "gradient" and first["backend"] == "manual"
    assert first["quantity"] == "dE/dz2[0] (example 1)"  # the output layer's δ, first in order
    assert r.gradcheck.largest["torch"] < 1 < r.gradcheck.largest["manual"]


def test_a_wrong_update_is_caught_at_step_one(monkeypatch):
    """Mutation: the torch backend's train applies lr·(1 + 1e-9): gradients are right."""
    backends, net, w, d, lr, steps = setup("preset:iris", "float64")
    real = registry.get_network_backend

    def get(name, dtype="float64"):
        b = real(name, dtype)
        return b if name != "torch" else b._replace(
            train=lambda net, w, data, opt, steps, resume=None: b.train(
                net, w, data, opt._replace(lr=opt.lr * (1 + 1e-9)), steps, resume))

    monkeypatch.setattr(optim_check.registry, "get_network_backend", get)
    r = optim_check.sweep("iris", SGD, list(BACKENDS), net, w, d, (lr,), steps)
    assert r.gradcheck.ok and not r.rates[0].ok
    first = r.first_divergence
    assert first["check"] == "step" and first["backend"] == "torch"  # the per-step check
    assert first["step"] == 1 and first["quantity"] in network.param_names(net)
    assert first["label"] == f"{first['quantity']} after step 1"  # E and dE/dw agree


def test_a_wrong_reference_is_caught_by_the_central_difference(monkeypatch):
    """Mutation: the complex-step reference's tanh gets a wrong derivative (tanh(z)·1.001
    off the real axis): the central difference disagrees with it."""
    from autograd_compare.harness import network_reference as ref

    real = ref.activation
    monkeypatch.setattr(ref, "activation", lambda name, z: (
        np.tanh(z.real) + 1.001j * np.tanh(z).imag if name == "tanh" else real(name, z)))
    backends, net, w, d, lr, steps = setup("preset:iris", "float64")
    g = network_check.gradient_check(backends, net, w, d)
    assert not g.ok
    assert not all(row.fd_ok for row in g.rows)


def test_tolerance_model_matches_the_tutorials_op_count():
    p = network.preset("tutorial")
    assert 30 <= network_check.ops_per_step(p.network, 1) <= 34
    assert network_check.ops_per_step(network.preset("iris").network, 150) > 300


KINDS = [("sgd", {}), ("momentum", {"dampening": 0.3}), ("nesterov", {}), ("adam", {}),
         ("adamw", {"weight_decay": 0.1}), ("momentum", {"lr_change": (3, 0.05)}),
         ("adam", {"lr_change": (3, 0.05)})]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind, settings", KINDS, ids=[f"{k}-{'-'.join(s) or 'plain'}"
                                                      for k, s in KINDS])
def test_a_resumed_training_continues_the_run(backend, kind, settings):
    """One update from a run's own state after k updates is that run's update k+1: the
    weights, the state and E within 4 ulps of each quantity's largest size over the run
    (manual and torch.optim do the same operations: 0; XLA may fuse a 1-step scan differently
    from a 6-step one, and Adam's m is a sum of gradients that cancel: ulps of |g|, not of m)."""
    from autograd_compare import optimizers
    from autograd_compare.types import Resume

    p = network.preset("xor")
    opt = optimizers.make(kind, lr=0.3, **settings)
    b = registry.get_network_backend(backend)
    whole = b.train(p.network, p.weights, p.data, opt, 6)
    for k in range(1, 6):
        state = whole.state[k - 1] if whole.state is not None else np.empty(0)
        one = b.train(p.network, whole.weights[k], p.data, opt, 1, Resume(state, k))
        for got, want, run in ((one.weights[1], whole.weights[k + 1], whole.weights),
                               (one.state[0], whole.state[k], whole.state),
                               (one.loss[0], whole.loss[k], whole.loss)):
            size = np.abs(run).max(axis=0) + np.abs(whole.grads).max() * (run is whole.state)
            ulps = np.abs(got - want) / np.spacing(np.maximum(size, 1e-300))
            assert np.all(ulps <= (0 if backend != "jax" else 4)), (k, ulps.max())


def test_a_state_lost_between_steps_is_caught_by_the_whole_run(monkeypatch):
    """Mutation: torch forgets its momentum buffer between updates (a fresh optimizer every
    step). Every single step from the reference's state agrees, so only the whole run can
    show it: it separates at step 2, and its own update 2 is not the reference's update from
    its own state (weights and momentum buffer after update 1): a FAIL, not amplified
    rounding."""
    from autograd_compare import optimizers

    p = network.preset("xor")
    opt = optimizers.make("momentum", lr=p.lr)
    real = registry.get_network_backend

    def forgetful(name, dtype="float64"):
        b = real(name, dtype)
        if name != "torch":
            return b

        def train(net, w, data, o, steps, resume=None):
            if resume is not None:
                return b.train(net, w, data, o, steps, resume)
            parts = [b.train(net, w, data, o, 1)]  # each update from a fresh optimizer
            for _ in range(steps - 1):
                parts.append(b.train(net, parts[-1].weights[-1], data, o, 1))
            return parts[0]._replace(
                loss=np.concatenate([t.loss for t in parts]),
                weights=np.concatenate([parts[0].weights[:1], *(t.weights[1:] for t in parts)]),
                grads=np.concatenate([t.grads for t in parts]),
                state=np.concatenate([t.state for t in parts]))

        return b._replace(train=train)

    monkeypatch.setattr(optim_check.registry, "get_network_backend", forgetful)
    r = optim_check.check(opt, ["manual", "torch"], p.network, p.weights, p.data, 20)
    assert r.steps["torch"].first_divergence is None  # every single step agrees
    sep = r.separations["torch"]
    assert not sep.explained and sep.step == 2
    assert sep.own_steps.first_divergence.label.endswith("after step 2")
    assert not r.ok and r.first_divergence.check == "own-step" and r.first_divergence.step == 2
    assert "what is carried from step to step differs" in as_dict_verdict(r)


def as_dict_verdict(r):
    from autograd_compare.report.sweep import backend_verdict

    return backend_verdict(r, "torch")


def test_the_central_difference_does_not_judge_across_a_relu_kink():
    """Example (0, 0) without biases puts every hidden ReLU at z = 0 exactly: the complex
    step (and every framework) gives dE/dz1 = dE/da1 · relu'(0) = 0, the central difference
    the slope of the bend, dE/da1 / 2. That row is not trusted, the others still are."""
    net = network.make_network((2, 3, 1), ("relu", "sigmoid"))
    w = np.array([0.5, -0.3, 0.8, 0.2, -0.6, 0.4, 0.7, -0.9, 0.3])
    d = network.data(net, [[0.0, 0.0], [1.0, 0.5]], [[1.0], [0.0]])
    backends = [registry.get_network_backend(b) for b in BACKENDS]
    g = network_check.gradient_check(backends, net, network.weights(net, w), d)
    rows = {r.quantity: r for r in g.rows}
    kink = rows["dE/dz1[0] (example 1)"]
    assert not kink.fd_trusted and kink.complex_step == 0.0
    half = rows["dE/da1[0] (example 1)"].complex_step / 2  # one-sided: off by O(h) = 6e-6
    assert kink.finite_difference == pytest.approx(half, rel=1e-4)
    assert rows["dE/dz1[0] (example 2)"].fd_trusted and rows["dE/dz2[0] (example 1)"].fd_trusted
    assert g.ok and sum(not r.fd_trusted for r in g.rows) >= 3


def test_the_central_difference_tolerance_grows_with_depth(capsys, tmp_path):
    """Eight sigmoid layers: dE/dW1 ~ 1e-12 (vanishing), below the central difference's
    rounding (eps · E / h ~ 1e-11): not a failure of the reference."""
    from autograd_compare.commands.cli import main

    csv = tmp_path / "xor.csv"
    csv.write_text("x1,x2,t\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n")
    assert main(["check", "--layers", "2,2,2,2,2,2,2,2,1", "--activations", "sigmoid",
                 "--data", str(csv), "--steps", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["gradcheck"]["ok"]


@pytest.mark.parametrize("resume, message", [
    ("not a resume", "resume must be a Resume(state, updates); got 'not a resume'"),
    ((np.zeros(3), 1), "the adam state to resume from must have shape (19,); got shape (3,)"),
    ((np.full(19, np.nan), 1), "the adam state to resume from must be finite numbers"),
    ((np.zeros(19), 0), "steps must be a whole number >= 1; got 0"),
    ((np.append(np.zeros(18), 2.0), 1), "the Adam state's step count t is 2, but 1 updates"),
])
def test_a_bad_resume_is_one_input_error(resume, message):
    from autograd_compare import optimizers
    from autograd_compare.errors import InputError
    from autograd_compare.types import Resume

    p = network.preset("xor")
    arg = Resume(*resume) if isinstance(resume, tuple) else resume
    with pytest.raises(InputError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        registry.get_network_backend("torch").train(p.network, p.weights, p.data,
                                                    optimizers.make("adam"), 1, arg)


# --- the tutorial's network: the references against 50-digit golden values, the verdicts ------
TUTORIAL = network.preset("tutorial")
# golden name -> the reference group and neuron on the tutorial's network (one example: row 0)
TUTORIAL_NODES = {"h1": ("z", 0, 0), "h2": ("z", 0, 1), "a_h1": ("a", 0, 0),
                  "a_h2": ("a", 0, 1), "o1": ("z", 1, 0), "o2": ("z", 1, 1),
                  "a_o1": ("a", 1, 0), "a_o2": ("a", 1, 1)}


def _tutorial_references():
    """(golden name -> (complex step, central difference, its step h)) for dw1..dw8 and
    every node of the tutorial's network at the class example."""
    refs = network_check.references(TUTORIAL.network, TUTORIAL.weights, TUTORIAL.data)
    out = {f"dw{k + 1}": (refs["dw"].cs[k], refs["dw"].fd[k], refs["dw"].h[k])
           for k in range(8)}
    for name, (kind, l, j) in TUTORIAL_NODES.items():
        r = refs[(kind, l)]
        out[name] = (r.cs[0, j], r.fd[0, j], r.h[0, j])
    return out


def _golden_gradient(q: str) -> float:
    from tests import golden

    g = golden.class_example("float64")
    return g["dw"][int(q[2:]) - 1] if q.startswith("dw") else g["dnode"][q]


def test_tutorial_complex_step_matches_golden_within_a_few_ulps():
    from tests.helpers import ulps

    refs = _tutorial_references()
    assert len(refs) == 16
    for q, (cs, _, _) in refs.items():
        assert ulps(cs, np.float64(_golden_gradient(q))) <= 4, (q, cs, _golden_gradient(q))


def test_tutorial_central_difference_matches_golden_within_its_own_error():
    from autograd_compare.harness import tolerances
    from tests.helpers import EPS64

    for q, (_, fd, h) in _tutorial_references().items():
        assert h >= EPS64 ** (1 / 3)  # cbrt(eps) * max(1, |x|)
        assert abs(fd - _golden_gradient(q)) <= tolerances.FD_RTOL * 0.2, q  # 0.2 > |gradient|


def test_dw5_is_the_tutorials_formula_number():
    # dE_total/dw5 = (a_o1 - t1) * a_o1 * (1 - a_o1) * a_h1 at the class example (50 digits)
    backends = [registry.get_network_backend("manual")]
    g = network_check.gradient_check(backends, TUTORIAL.network, TUTORIAL.weights, TUTORIAL.data)
    cs = next(r.complex_step for r in g.rows if r.quantity == "dE_total/dw5")
    assert abs(cs - 0.012880818631628246) <= 2 * np.spacing(0.0128808)


def test_tutorial_tolerance_is_the_documented_multiple_of_eps():
    """The hand count (`tolerances`: SAFETY 4 · 30 operations) and the network's own count for
    the tutorial (`ops_per_step`: 32), per step; a whole trajectory carries (k + 1) steps."""
    from autograd_compare.harness import tolerances
    from tests.helpers import EPS64

    def near(x):  # relative only: pytest.approx's default abs=1e-12 would pass any of these
        return pytest.approx(x, rel=1e-12, abs=0)

    eps32 = 2.0 ** -23
    assert tolerances.step_rtol("float64") == near(120 * EPS64)
    assert tolerances.step_rtol("float32") == near(120 * eps32)
    net = TUTORIAL.network
    assert network_check.step_rtol(net, 1, "float64") == near(128 * EPS64)
    assert network_check.step_rtol(net, 1, "float32") == near(128 * eps32)
    run = optim_check.train("manual", net, TUTORIAL.weights, TUTORIAL.data, SGD, 100)
    cols = optim_check.columns(net, SGD)
    scale = {c: np.full(100, 2.0) for c in cols}
    rtol = network_check.step_rtol(net, 1, "float64")
    whole = optim_check.compare_runs("m", run, cols, run, cols, scale, rtol)
    assert whole.tolerance.shape == (100, len(cols))
    assert whole.tolerance[99, 1] == near(128 * EPS64 * 100 * 2)
    step = optim_check.compare_runs("m", run, cols, run, cols, scale, rtol, "step")
    assert step.tolerance[99, 1] == near(128 * EPS64 * 2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_real_backend_passes_on_the_tutorial(dtype):
    backends = [registry.get_network_backend(n, dtype) for n in BACKENDS]
    net = TUTORIAL.network
    w = network.weights(net, TUTORIAL.weights, dtype)
    d = network.data(net, TUTORIAL.data.inputs, TUTORIAL.data.targets, dtype)
    g = network_check.gradient_check(backends, net, w, d)
    assert g.ok and g.first_failure is None
    assert [r.quantity for r in g.rows][:3] == ["dE_total/da_o1", "dE_total/da_o2",
                                                "dE_total/do1"]
    spacing = lambda x: float(np.spacing(np.abs(np.asarray(x, dtype))))  # noqa: E731
    worst = max(r.errors[n] / spacing(r.complex_step) for r in g.rows for n in BACKENDS)
    assert worst <= 16  # a few ULPs of the backend's dtype, as the tolerance reasons


def test_a_backend_off_by_one_percent_in_one_gradient_fails_there():
    manual = registry.get_network_backend("manual")

    def gradients(net, w, data):
        g = manual.gradients(net, w, data)
        z = list(g.z)
        z[1] = z[1] * np.array([1.0, 1.01])  # dE_total/do2 one percent off
        return g._replace(z=tuple(z))

    bad = manual._replace(name="bad", gradients=gradients)
    g = network_check.gradient_check([manual, bad], TUTORIAL.network, TUTORIAL.weights,
                                     TUTORIAL.data)
    assert not g.ok
    assert g.first_failure["backend"] == "bad"
    assert g.first_failure["quantity"] == "dE_total/do2"
    row = next(r for r in g.rows if r.quantity == "dE_total/do2")
    assert row.errors["bad"] / abs(row.complex_step) == pytest.approx(0.01, rel=1e-9, abs=0)
    assert row.errors["manual"] <= row.tolerance


def test_a_nan_gradient_fails():
    manual = registry.get_network_backend("manual")
    nan = manual._replace(name="nan", gradients=lambda net, w, data: manual.gradients(
        net, w, data)._replace(w=np.full(8, np.nan)))
    g = network_check.gradient_check([nan], TUTORIAL.network, TUTORIAL.weights, TUTORIAL.data)
    assert not g.ok and g.first_failure["quantity"] == "dE_total/dw5"


def test_term_scales_bound_every_value_and_survive_cancellation():
    net, d = TUTORIAL.network, TUTORIAL.data
    b = registry.get_network_backend("manual")
    for w in np.random.default_rng(1).uniform(-3, 3, (50, 8)):
        f, g = b.forward(net, w, d), b.gradients(net, w, d)
        s = network_check.term_scales(net, w, d, "float64")
        for l in range(2):
            assert np.all(s.z[l] >= np.abs(f.z[l]) * (1 - 1e-12))
            assert np.all(s.a[l] >= np.abs(f.a[l]) * (1 - 1e-12))
            assert np.all(s.dz[l] >= np.abs(g.z[l]) * (1 - 1e-12))
            assert np.all(s.da[l] >= np.abs(g.a[l]) * (1 - 1e-12))
        assert s.E >= abs(float(f.E)) * (1 - 1e-12)
        assert np.all(s.dw >= np.abs(g.w) * (1 - 1e-12))
    # o1 = 50*a_h1 - 50*a_h2 = 0 exactly, but its terms are of size 50*a_h: so is its scale
    sym = np.array([50.0, -50, 50, -50, 50, -50, 50, -50])
    from autograd_compare.manual.network import forward_values
    from tests.helpers import class_example

    assert forward_values(sym, class_example())["o1"] == 0.0  # the tutorial's formulas
    assert network_check.term_scales(net, sym, d, "float64").z[1][0, 0] > 1
