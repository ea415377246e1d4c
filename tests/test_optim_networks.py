"""Optimizers on every network: closed-form steps on XOR, cross-backend agreement, naming of
the first divergence, frozen biases, the report folder of ``optimizers --out``, and
``restarts --optimizer``."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from autograd_compare import network
from autograd_compare import optimizers as O
from autograd_compare.commands.cli import main
from autograd_compare.harness import optim_check as N

pytest.importorskip("torch")
pytest.importorskip("optax")

BACKENDS = ["manual", "torch", "jax"]
XOR = network.preset("xor")


# --- an independent XOR: 2-2-1 sigmoid with biases, ½Σ(t - a)², its gradient by complex step --

@pytest.fixture(autouse=True)
def _in_a_temporary_folder(tmp_path, monkeypatch):
    """The main job writes its default report folder into the working folder: not the repo."""
    monkeypatch.chdir(tmp_path)


def _xor_loss(p: np.ndarray) -> complex:
    """E at p = (W1 (2x2 row-major), b1 (2), W2 (1x2), b2 (1)): written here, complex-safe."""
    W1, b1, W2, b2 = p[0:4].reshape(2, 2), p[4:6], p[6:8], p[8]
    E = 0j
    for (x1, x2), t in (((0, 0), 0), ((0, 1), 1), ((1, 0), 1), ((1, 1), 0)):
        h = 1 / (1 + np.exp(-(W1 @ np.array([x1, x2]) + b1)))
        a = 1 / (1 + np.exp(-(W2 @ h + b2)))
        E += 0.5 * (t - a) * (t - a)
    return E


def _xor_grad(w: np.ndarray) -> np.ndarray:
    """dE/dw by the complex step (h = 1e-30): exact to rounding, no backend involved."""
    return np.array([_xor_loss(w + 1e-30j * e).imag / 1e-30 for e in np.eye(w.size)])


def _close(got, want, rtol=1e-12):
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=rtol, atol=1e-15)


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_adam_step_on_xor_is_the_closed_form(backend):
    """Step 1 of Adam: m = (1-β1)g, v = (1-β2)g², m̂ = g, v̂ = g², w -= lr·g/(|g| + ε)."""
    w0, lr, (b1, b2), eps = XOR.weights, 0.5, (0.8, 0.95), 1e-8
    g = _xor_grad(w0)
    run = N.train(backend, XOR.network, w0, XOR.data, O.make("adam", lr=lr, betas=(b1, b2)), 1)
    P = w0.size
    _close(run.grads[0], g)
    _close(run.state[0, :P], (1 - b1) * g)
    _close(run.state[0, P:2 * P], (1 - b2) * g * g)
    assert run.state[0, -1] == 1.0  # the step count t
    _close(run.weights[1], w0 - lr * g / (np.abs(g) + eps))


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_momentum_steps_on_xor_are_the_closed_form(backend):
    """PyTorch's momentum: v1 = g0, w1 = w0 - lr·v1; v2 = μ·v1 + g1, w2 = w1 - lr·v2."""
    w0, lr, mu = XOR.weights, 0.5, 0.9
    g0 = _xor_grad(w0)
    w1 = w0 - lr * g0
    g1 = _xor_grad(w1)
    v2 = mu * g0 + g1
    run = N.train(backend, XOR.network, w0, XOR.data, O.make("momentum", lr=lr, momentum=mu), 2)
    _close(run.state[0], g0)
    _close(run.weights[1], w1)
    _close(run.grads[1], g1)
    _close(run.state[1], v2)
    _close(run.weights[2], w1 - lr * v2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_adamw_and_one_nesterov_step_on_xor(backend):
    w0, lr, wd, mu = XOR.weights, 0.5, 0.1, 0.9
    g = _xor_grad(w0)
    adamw = N.train(backend, XOR.network, w0, XOR.data,
                    O.make("adamw", lr=lr, weight_decay=wd), 1)
    _close(adamw.weights[1], w0 * (1 - lr * wd) - lr * g / (np.abs(g) + 1e-8))
    nesterov = N.train(backend, XOR.network, w0, XOR.data, O.make("nesterov", lr=lr), 1)
    _close(nesterov.weights[1], w0 - lr * (1 + mu) * g)  # g + μ·v with v = g


def test_l2_adds_lambda_w_to_the_gradient_on_xor():
    lam = 0.05
    weights_only = O.decay_mask(XOR.network, False)  # the default: W1, W2, not b1, b2
    for backend in BACKENDS:
        run = N.train(backend, XOR.network, XOR.weights, XOR.data,
                      O.make("sgd", l2=lam, decay_biases=True), 1)
        _close(run.grads[0], _xor_grad(XOR.weights) + lam * XOR.weights)
        run = N.train(backend, XOR.network, XOR.weights, XOR.data, O.make("sgd", l2=lam), 1)
        _close(run.grads[0], _xor_grad(XOR.weights) + lam * weights_only * XOR.weights)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind, kw", [("sgd", dict(weight_decay=0.1, l2=0.05)),
                                      ("momentum", dict(dampening=0.3)),
                                      ("nesterov", dict(weight_decay=0.1)),
                                      ("adam", dict(weight_decay=0.1)),
                                      ("adamw", dict(weight_decay=0.1, l2=0.05))])
@pytest.mark.parametrize("preset", ["xor", "iris"])
def test_backends_agree_step_by_step_on_networks(preset, kind, kw, dtype):
    p = network.preset(preset)
    steps = 40 if preset == "xor" else 10
    r = N.check(O.make(kind, lr=p.lr, **kw), BACKENDS, p.network, p.weights, p.data, steps, dtype)
    assert r.ok, r.first_divergence
    assert set(r.comparisons) == {"torch", "jax"}
    # rounding differences are visible against the tolerance (measured 1e-4 to 0.06): a
    # tolerance made far looser would push this ratio towards 0
    assert 1e-6 < r.largest.ratio < 1


@pytest.mark.parametrize("mistake, kind, kw, first", [
    ("weight-decay-sign", "momentum", dict(weight_decay=0.1), "v_W1[0,0] after step 1"),
    ("weight-decay-sign", "adam", dict(weight_decay=0.1), "m_W1[0,0] after step 1"),
    ("adam-no-bias-correction", "adam", {}, "W1[0,0] after step 1"),
    ("momentum-before-gradient", "momentum", {}, "W1[0,0] after step 1"),
    ("adamw-decay-after", "adamw", dict(weight_decay=0.1), "W1[0,0] after step 1"),
])
def test_a_wrong_update_rule_is_named_at_its_first_wrong_quantity_on_xor(mistake, kind, kw,
                                                                         first):
    r = N.check(O.make(kind, lr=0.5, **kw), ["manual", f"mistake:{mistake}"], XOR.network,
                XOR.weights, XOR.data, 5)
    assert not r.ok and r.first_divergence is not None
    assert r.first_divergence.label == first


def test_a_late_state_divergence_is_named_with_its_step():
    """A backend whose velocity drifts from step 3 on: named "v_b2[0] after step 3"."""
    opt = O.make("momentum", lr=0.5)
    ref = N.train("manual", XOR.network, XOR.weights, XOR.data, opt, 5)
    bad = ref._replace(state=ref.state.copy())
    bad.state[2:, -1] += 1e-6  # v of the last parameter, b2[0], from update 3 on
    from autograd_compare.harness.network_check import step_rtol
    from autograd_compare.harness.optim_check import compare_runs

    cols = N.columns(XOR.network, opt)
    scale = N.scales(XOR.network, opt, ref, XOR.data, "float64")
    comp = compare_runs("bad", bad, cols, ref, cols, scale, step_rtol(XOR.network, 4, "float64"))
    assert comp.first_divergence is not None
    assert comp.first_divergence.label == "v_b2[0] after step 3"


def test_frozen_biases_are_not_parameters_of_any_optimizer():
    from autograd_compare.torch_impl.optim import sequential

    mazur = network.preset("mazur")
    model, trainable = sequential(mazur.network, mazur.weights)
    assert sum(p.numel() for p in trainable) == 8  # w1..w8 only
    frozen = [m.bias for m in model if hasattr(m, "bias")]
    assert [float(b[0]) for b in frozen] == [0.35, 0.60]
    assert not any(b.requires_grad for b in frozen)
    # weight decay would shrink a bias that an optimizer held: all three agree that none moves
    r = N.check(O.make("adamw", lr=0.5, weight_decay=0.5), BACKENDS, mazur.network,
                mazur.weights, mazur.data, 20)
    assert r.ok, r.first_divergence
    assert r.runs["manual"].weights.shape[1] == 8


def test_trainable_biases_move_and_textbook_momentum_runs_on_a_network():
    r = N.check(O.make("textbook-momentum", lr=0.5), BACKENDS, XOR.network, XOR.weights,
                XOR.data, 10)
    assert r.ok  # torch and jax run PyTorch's momentum: equal weights at constant lr
    assert "u_W1[0,0]" not in r.comparisons["torch"].columns
    assert not np.allclose(r.runs["manual"].weights[-1, 4:6], XOR.weights[4:6])


@pytest.mark.parametrize("backend", BACKENDS)
def test_batched_training_equals_the_single_runs(backend):
    opt = O.make("adam", lr=0.5, weight_decay=0.01)
    starts = np.random.default_rng(3).uniform(-1, 1, (5, 9))
    lrs = np.array([0.5, 0.1, 0.5, 0.2, 0.1])
    b = N.train_batch(backend, XOR.network, starts, lrs, XOR.data, opt, 15)
    for n in range(5):
        one = N.train(backend, XOR.network, starts[n], XOR.data, O.with_lr(opt, lrs[n]), 15)
        _close(b.final_weights[n], one.weights[-1], rtol=1e-10)


# --- command line -------------------------------------------------------------------------------
def test_report_folder_of_optimizers_on_xor(tmp_path, capsys):
    out = tmp_path / "rep"
    argv = ["optimizers", "--preset", "xor", "--optimizer", "adam", "--betas", "0.8,0.99",
            "--lrs", "0.5,1", "--steps", "6", "--out", str(out)]
    assert main(argv) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["tool"] == "autograd-compare" and report["source"] == "preset xor"
    assert report["optimizer"]["kind"] == "adam" and report["optimizer"]["betas"] == [0.8, 0.99]
    assert report["network"]["parameters"] == 9 and report["lrs"] == [0.5, 1.0]
    assert sorted(report["files"]) == sorted(p.name for p in out.iterdir())
    assert {"loss-all-lrs.png", "differences.png"} <= set(report["files"])
    for png in ("loss-all-lrs.png", "differences.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader((out / "trace.csv").read_text().splitlines()))
    assert len(rows) == 2 * 3 * 7  # lrs × backends × (start + 6 updates)
    start, first = (next(r for r in rows if r["backend"] == "jax" and r["lr"] == "1.0"
                         and r["step"] == k) for k in ("0", "1"))
    g = _xor_grad(XOR.weights)
    assert float(start["dW2[0,1]"]) == pytest.approx(g[7], rel=1e-12)  # used by update 1
    assert start["m_W2[0,1]"] == ""  # no state before the first update
    assert float(first["m_W2[0,1]"]) == pytest.approx(0.2 * g[7], rel=1e-12)
    assert float(first["v_hat_W2[0,1]"]) == pytest.approx(g[7] ** 2, rel=1e-10)
    assert float(first["W2[0,1]"]) == pytest.approx(XOR.weights[7] - g[7] / (abs(g[7]) + 1e-8),
                                                    rel=1e-12)
    # an existing folder: refused without --force (exit 2), replaced with it
    assert main(argv) == 2
    assert "already exists" in capsys.readouterr().err
    assert main([*argv, "--force", "--no-plots"]) == 0
    assert not (out / "differences.png").exists()


def test_optimizers_json_and_tutorial_preset_is_todays_path(capsys):
    base = ["optimizers", "--optimizer", "nesterov", "--lrs", "0.5", "--steps", "5", "--json"]
    assert main(base) == 0
    default = json.loads(capsys.readouterr().out)
    assert main([*base, "--preset", "tutorial"]) == 0
    preset = json.loads(capsys.readouterr().out)
    assert default["per_lr"] == preset["per_lr"] and default["network"]["sizes"] == [2, 2, 2]
    assert default["parameters"] == [f"w{j}" for j in range(1, 9)]
    assert default["report_dir"] is None


def test_tutorial_trace_names_follow_the_tutorial(tmp_path):
    out = tmp_path / "t"
    assert main(["optimizers", "--optimizer", "textbook-momentum", "--lrs", "0.5", "--steps",
                 "3", "--out", str(out), "--no-plots"]) == 0
    header = (out / "trace.csv").read_text().splitlines()[0].split(",")
    assert header[:13] == ["lr", "backend", "step", *(f"w{j}" for j in range(1, 9)),
                           "E_total", "dw1"]
    assert {"u5", "v5", "w5"} <= set(header)  # manual's u beside PyTorch's v


@pytest.mark.parametrize("argv, message", [
    (["optimizers", "--optimizer", "textbook-momentum", "--backends", "torch"],
     "exists in the manual backend only"),
    (["optimizers", "--optimizer", "adam", "--betas", "0.9,1.5"], "beta2 must be in [0, 1)"),
    (["optimizers", "--betas", "0.8,0.9"], "--betas applies to adam and adamw"),
    (["optimizers", "--optimizer", "momentum", "--eps", "1e-6"], "--eps applies to adam"),
    (["optimizers", "--preset", "xor", "--inputs", "1,2"], "--inputs and --targets go together"),
    (["optimizers", "--preset", "xor", "--weights", "1,2"], "has 9 parameters; got 2"),
    (["optimizers", "--weights", "1,2"], "has 8 parameters; got 2"),
    (["restarts", "--momentum", "0.9"], "--momentum needs --optimizer KIND"),
    (["restarts", "--optimizer", "textbook-momentum"], "exists in the manual backend only"),
    (["restarts", "--optimizer", "adam", "--betas", "1,0.9"], "beta1 must be in [0, 1)"),
])
def test_bad_input_is_one_line_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([*argv, "--steps", "2"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("preset", ["xor", "tutorial"])
def test_restarts_with_an_optimizer(preset, tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["restarts", "--preset", preset, "--optimizer", "adam", "--n", "40",
                 "--steps", "150", "--lrs", "0.5", "--out", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["config"]["optimizer"]["kind"] == "adam"
    row = result["per_lr"][0]
    assert row["cross_backend"]["disagreements"] == 0
    assert row["cross_backend"]["reached_mismatches"] == 0
    assert row["cross_backend"]["steps_to_threshold_mismatches"] is None  # not counted
    reached = {b: s["reached"] for b, s in row["backends"].items()}
    assert len(set(reached.values())) == 1 and set(reached) == set(BACKENDS)
    if preset == "xor":  # adam at lr 0.5 leaves many XOR starts on the plateau E = 1/3
        assert 0 < row["backends"]["manual"]["reached_fraction"] < 1
    assert (out / "report.json").exists() and not (out / "steps-to-threshold.png").exists()
