"""`explain --optimizer`: one weight's updates, against manual/optim.py, torch.optim and optax."""

from __future__ import annotations

import numpy as np
import pytest

from autograd_compare import optimizers
from autograd_compare.commands.cli import main
from autograd_compare.harness import optim_check
from autograd_compare.interface import CLASS_INPUTS, CLASS_TARGETS, CLASS_WEIGHTS, Example
from autograd_compare.network import TUTORIAL, example_data
from autograd_compare.teach import loss_curves
from autograd_compare.teach.updates import BACKENDS, explain_updates, render_updates
from tests import golden
from tests.cli_helpers import one_line_exit_2

EX = Example(np.array(CLASS_INPUTS), np.array(CLASS_TARGETS))
DATA = example_data(EX)  # the class example, one row of the tutorial's network
SETTINGS = {
    "sgd": {}, "momentum": {"dampening": 0.1}, "nesterov": {"weight_decay": 0.01},
    "adam": {"l2": 0.05}, "adamw": {"weight_decay": 0.1}, "textbook-momentum": {},
}
KEYS = {"grad": "dw{n}", "weight": "w{n}"}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", list(SETTINGS))
def test_every_number_is_within_4_eps_of_every_backend(kind, dtype):
    """Each compared line (gradient, state, weight) against each backend, within 4 eps of
    the harness's scale for that quantity at that step (compare.harness.optim_check)."""
    opt = optimizers.make(kind, lr=0.5, **SETTINGS[kind])
    steps = 4
    ex = explain_updates(CLASS_WEIGHTS, EX, opt, "w6", steps, dtype)
    eps = float(np.finfo(dtype).eps)
    ref = optim_check.train("manual", TUTORIAL, CLASS_WEIGHTS, DATA, opt, steps, dtype)
    scale = optim_check.scales(TUTORIAL, opt, ref, DATA, dtype)
    compared = 0
    for step in ex.steps:
        for line in step.lines:
            if not line.backends:
                continue
            assert set(line.backends) == set(BACKENDS.values())
            column = line.symbol
            for label, theirs in line.backends.items():
                if isinstance(theirs, str):  # torch/jax keep no u6 (textbook: manual only)
                    assert kind == "textbook-momentum" and line.symbol == "u6", theirs
                    continue
                bound = 4 * eps * float(scale[column][step.step - 1])
                assert abs(theirs - float(line.value)) <= bound, (label, line.symbol, step.step)
                compared += 1
    assert compared >= 3 * 2 * steps


def test_the_hand_numbers_are_the_tutorials():
    gold = golden.class_example()["dw"]
    ex = explain_updates(CLASS_WEIGHTS, EX, optimizers.make("sgd", lr=0.5), "w5", 1)
    dw5, w5 = ex.steps[0].lines
    assert dw5.value == pytest.approx(gold[4], rel=4e-16)
    assert w5.value == pytest.approx(0.4 - 0.5 * gold[4], rel=1e-16)
    m = explain_updates(CLASS_WEIGHTS, EX, optimizers.make("momentum", lr=0.5), "w5", 2)
    v1 = m.steps[0].lines[1].value
    dw_2, v_2, w_2 = m.steps[1].lines
    assert v1 == m.steps[0].lines[0].value  # the buffer starts at the first gradient
    assert v_2.value == pytest.approx(0.9 * v1 + dw_2.value, rel=1e-16)
    assert w_2.value == pytest.approx(m.steps[0].lines[2].value - 0.5 * v_2.value, rel=1e-16)


def test_adam_shows_its_moments_and_bias_correction(capsys):
    assert main(["explain", "--optimizer", "adamw", "--weight-decay", "0.01", "--weight",
                 "w8", "--steps", "2", "--lr", "0.1"]) == 0
    out = capsys.readouterr().out
    for line in ("m8  = b1 * m8 + (1 - b1) * dw8", "v8  = b2 * v8 + (1 - b2) * dw8²",
                 "m̂8 = m8 / (1 - b1^2)", "v̂8 = v8 / (1 - b2^1)",
                 "w8  = w8 - lr * weight_decay * w8", "w8  = w8 - lr * m̂8 / (√v̂8 + eps)"):
        assert line in out, line
    assert "adamw(lr=0.1, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.01)" in out
    assert out.count("Step ") == 2 and "beside manual/optim.py, torch.optim, optax" in out


def test_textbook_momentum_text(capsys):
    text = render_updates(explain_updates(CLASS_WEIGHTS, EX, optimizers.make(
        "textbook-momentum", lr=0.5), "w5", 2))
    assert "u5 = mu * u5 - lr * dw5" in text and "w5 = w5 + u5" in text
    assert "Note: textbook-momentum exists in manual/optim.py only" in text


@pytest.mark.parametrize("argv, message", [
    (["--optimizer", "adam", "--weight", "a_h1"], "--weight 'a_h1': explain --optimizer shows "
     "one of w1"),
    (["--optimizer", "momentum", "--momentum", "1.5"], "momentum must be in [0, 1); got '1.5'"),
    (["--optimizer", "rmsprop"], "unknown optimizer 'rmsprop'"),
    (["--optimizer", "sgd", "--steps", "0"], "--steps must be >= 1"),
    (["--optimizer", "adam", "--preset", "iris", "--weight", "W9[0,0]"],
     "--weight 'W9[0,0]': explain --optimizer shows one of W1[0,0]"),
])
def test_bad_optimizer_input_is_one_line(argv, message, capsys):
    assert main(["explain", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


@pytest.mark.parametrize("kind", ["sgd", "momentum", "nesterov", "adam", "adamw"])
def test_loss_curves_are_every_backends_on_the_class_example(kind):
    rates = {"adam": 0.05, "adamw": 0.05}
    curves = loss_curves("tutorial", (kind,), steps=30, lr=rates, weight_decay=0.01)
    opt = curves.optimizers[kind]
    assert opt.lr == rates.get(kind, 0.5) and opt.weight_decay == (0.01 if kind == "adamw" else 0)
    ref = optim_check.train("manual", TUTORIAL, CLASS_WEIGHTS, DATA, opt, 30)
    scale = optim_check.scales(TUTORIAL, opt, ref, DATA, "float64")["E_total"]
    for name in ("manual", "torch", "jax"):
        run = optim_check.train(name, TUTORIAL, CLASS_WEIGHTS, DATA, opt, 30)
        assert np.all(np.abs(curves.loss[kind][:30] - run.loss) <= 64 * np.finfo(float).eps
                      * scale * np.arange(1, 31)), name


@pytest.mark.parametrize("kind", ["momentum", "adam", "adamw"])
def test_any_network_in_its_own_names(kind, capsys):
    """``explain --optimizer`` on XOR (2-2-1, trainable biases, 4 examples): the hand-worked
    numbers of W2[0,1] are manual's full-batch run (optim_check.train), and torch.optim
    and optax agree with them."""
    import json

    from autograd_compare import network, optimizers
    from autograd_compare.commands.cli import main

    extra = ["--weight-decay", "0.01"] if kind == "adamw" else []
    argv = ["explain", "--preset", "xor", "--optimizer", kind, "--weight", "W2[0,1]",
            "--steps", "3", "--format", "json", *extra]
    assert main(argv) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["weight"] == "W2[0,1]" and "2-2-1" in d["network"] and len(d["weights"]) == 9
    p = network.preset("xor")
    opt = optimizers.make(kind, lr=p.lr, weight_decay=0.01 if kind == "adamw" else 0.0)
    run = optim_check.train("manual", p.network, p.weights, p.data, opt, 3)
    j = network.param_names(p.network).index("W2[0,1]")
    for k, step in enumerate(d["steps"]):
        assert step["E"] == pytest.approx(float(run.loss[k]), rel=1e-15)
        last = [line for line in step["lines"] if line["symbol"] == "W2[0,1]"][-1]
        assert last["value"] == pytest.approx(float(run.weights[k + 1, j]), rel=1e-14)
        for line in step["lines"]:
            for label, b in line["backends"].items():
                assert b["rel_diff"] < 1e-13, (k, line["symbol"], label, b)
        names = {line["symbol"] for line in step["lines"]}
        assert {"dW2[0,1]", "W2[0,1]"} <= names
        assert ("m_W2[0,1]" in names) == (kind != "momentum")


# --- sized before the work, progress while it runs (issue 23) -----------------------------------
def test_memory_is_sized_before_any_work(capsys, no_work):
    err = one_line_exit_2(["explain", "--optimizer", "adam", "--steps", "1048576"], capsys,
                          "raise it with --max-memory-mb")
    assert "needs about 12.3 GB of memory, over the limit of 2 GB" in err  # 12 KB a step
    # the frameworks alone (budget.libraries: all three run) are over 100 MB
    one_line_exit_2(["explain", "--optimizer", "sgd", "--steps", "3", "--max-memory-mb",
                     "100"], capsys, "needs about 608 MB of memory")
    one_line_exit_2(["explain", "--optimizer", "sgd", "--steps", "150000", "--format", "json"],
                    capsys, "--max-memory-mb")  # 42 KB a step as JSON
    one_line_exit_2(["explain", "--optimizer", "adam", "--preset", "iris", "--steps", "100000"],
                    capsys, "--max-memory-mb")  # 43 parameters: 300 bytes more each a step


def test_the_memory_limit_can_be_raised(capsys, no_work):
    argv = ["explain", "--optimizer", "adam", "--steps", "130000"]
    one_line_exit_2(argv, capsys, "--max-memory-mb 2096")
    with pytest.raises(AssertionError, match="before the refusal"):  # past the budget: work
        main([*argv, "--max-memory-mb", "2096"])


def test_progress_counts_every_piece_of_work(monkeypatch, capsys):
    from autograd_compare.teach import updates
    from tests.cli_helpers import record_progress

    monkeypatch.setattr(updates, "STEP_BLOCK", 2)
    bars = record_progress(monkeypatch, "explain")
    assert main(["explain", "--optimizer", "momentum", "--steps", "5"]) == 0
    assert "Step 5 " in capsys.readouterr().out
    (bar,) = bars
    assert bar.full() and bar.total == 3 + 3 + 1  # 3 backends, 3 blocks of steps, the text
    assert bar.steps[:3] == [f"5 steps with {label}" for label in BACKENDS.values()]
    assert bar.steps[3:] == ["working out steps 1..2 by hand", "working out steps 3..4 by hand",
                             "working out steps 5..5 by hand", "writing the explanation"]


def test_the_proof_shows_progress(monkeypatch, capsys):
    from tests.cli_helpers import record_progress

    bars = record_progress(monkeypatch, "explain")
    assert main(["explain", "--prove", "--weight", "w5"]) == 0
    (bar,) = bars
    assert bar.full() and bar.steps == ["proving manual/gradients.py",
                                        "proving the formulas of any network"]
