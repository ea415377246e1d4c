"""Optimizers: manual vs torch.optim vs optax step by step, golden numbers, mistakes, CLI."""

from __future__ import annotations

import numpy as np
import pytest

from autograd_compare import optimizers as O
from autograd_compare.commands.cli import main
from autograd_compare.errors import InputError
from autograd_compare.harness import optim_check as C
from autograd_compare.harness import tolerances
from autograd_compare.harness.network_check import step_rtol
from autograd_compare.interface import CLASS_WEIGHTS, LEARNING_RATES
from autograd_compare.network import TUTORIAL as TUT
from autograd_compare.types import Trajectory
from tests import golden_optim
from tests.helpers import tutorial_data

pytest.importorskip("torch")
pytest.importorskip("optax")

BACKENDS = ["manual", "torch", "jax"]
DATA = tutorial_data()  # the class example, one row
DTYPES = ["float64", "float32"]
# every optimizer with its non-default options switched on
CONFIGS = {
    "sgd": dict(),
    "sgd+wd+l2": dict(kind="sgd", weight_decay=0.1, l2=0.05),
    "momentum": dict(),
    "momentum+dampening+wd": dict(kind="momentum", dampening=0.3, weight_decay=0.1),
    "nesterov+wd": dict(kind="nesterov", weight_decay=0.1),
    "adam": dict(),
    "adam+wd": dict(kind="adam", weight_decay=0.1),
    "adamw+wd+l2": dict(kind="adamw", weight_decay=0.1, l2=0.05),
    "nesterov+lr-change": dict(kind="nesterov", lr_change=(10, 0.3)),
}

@pytest.fixture(autouse=True)
def _in_a_temporary_folder(tmp_path, monkeypatch):
    """The main job writes its default report folder into the working folder: not the repo."""
    monkeypatch.chdir(tmp_path)


def _opt(name: str, lr: float = 0.5) -> O.Optimizer:
    kw = dict(CONFIGS[name])
    return O.make(kw.pop("kind", name), lr=lr, **kw)


# --- validation -------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, message", [
    (dict(kind="rmsprop"), "unknown optimizer 'rmsprop'; expected one of sgd, momentum"),
    (dict(kind="momentum", momentum=1.0), "momentum must be in [0, 1); got 1.0"),
    (dict(kind="momentum", momentum=0), "momentum needs momentum in (0, 1); got 0"),
    (dict(kind="sgd", momentum=0.5), "got momentum=0.5 with 'sgd'"),
    (dict(kind="nesterov", dampening=0.1), "dampening applies to momentum only"),
    (dict(kind="adam", betas=(0.9,)), "betas must be two numbers b1,b2 in [0, 1); got (0.9,)"),
    (dict(kind="adam", betas=(0.9, 1.0)), "beta2 must be in [0, 1); got 1.0"),
    (dict(kind="adam", eps=0), "eps must be finite and > 0; got 0"),
    (dict(kind="sgd", weight_decay=-0.1), "weight decay must be finite and >= 0; got -0.1"),
    (dict(kind="sgd", l2=float("inf")), "l2 must be finite and >= 0; got inf"),
    (dict(kind="sgd", lr="x"), "learning rate must be a number (finite and > 0); got 'x'"),
    (dict(kind="sgd", lr_change=(0, 1.0)), "lr_change step must be a whole number >= 1; got 0"),
])
def test_bad_settings_are_one_line_input_errors(kwargs, message):
    kind = kwargs.pop("kind")
    with pytest.raises(InputError) as err:
        O.make(kind, **kwargs)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_state_names():
    assert O.make("momentum").state_names()[4] == "v5"
    names = O.make("adam").state_names()
    assert names[0] == "m1" and names[8] == "v1" and names[-1] == "t" and len(names) == 17
    assert O.make("sgd").state_names() == ()


# --- agreement, step by step, state included, over the tutorial's sweep ------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CONFIGS)
def test_backends_agree_step_by_step_over_the_sweep(name, dtype):
    for lr in LEARNING_RATES:
        res = C.check(_opt(name, lr), BACKENDS, TUT, CLASS_WEIGHTS, DATA, 100, dtype)
        assert res.ok, (lr, res.first_divergence)
        for comp in res.comparisons.values():
            assert comp.columns == C.columns(TUT, res.optimizer)  # the state is compared too
            assert comp.largest.ratio < 1
        for run in res.runs.values():
            assert run.state.dtype == np.dtype(dtype) and run.weights.dtype == np.dtype(dtype)


def test_adam_step_count_is_exact():
    res = C.check(_opt("adam"), BACKENDS, TUT, CLASS_WEIGHTS, DATA, 5)
    for run in res.runs.values():
        np.testing.assert_array_equal(run.state[:, -1], [1, 2, 3, 4, 5])


# --- golden numbers: 50-digit mpmath, no backend code ------------------------------------------
GOLDEN = {
    "momentum+dampening+wd": dict(kind="momentum", dampening=0.3, weight_decay=0.1),
    "nesterov+wd": dict(kind="nesterov", weight_decay=0.1),
    "adam+wd": dict(kind="adam", weight_decay=0.1),
    "adamw+wd+l2": dict(kind="adamw", weight_decay=0.1, l2=0.05),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", GOLDEN)
def test_every_backend_matches_the_golden_trajectory(name, dtype):
    steps, lr = 3, 0.5
    kw = dict(GOLDEN[name])
    kind = kw.pop("kind")
    g = golden_optim.trajectory(kind, lr, steps, dtype, **kw)
    ref = Trajectory(*(np.array(g[k]) for k in ("loss", "weights", "grads", "state")))
    opt = O.make(kind, lr=lr, **kw)
    scale = C.scales(TUT, opt, ref, DATA, dtype)
    cols = C.columns(TUT, opt)
    for backend in BACKENDS:
        run = C.train(backend, TUT, CLASS_WEIGHTS, DATA, opt, steps, dtype)
        comp = C.compare_runs(backend, run, cols, ref, cols, scale, step_rtol(TUT, 1, dtype))
        assert comp.first_divergence is None, comp.first_divergence
        # and much closer than the bound: a few units in the last place of the weights
        assert comp.largest.abs < 50 * tolerances.eps(dtype)


def test_golden_is_not_plain_sgd():
    """The golden momentum trajectory differs from what plain SGD would give (guards the test)."""
    g = golden_optim.trajectory("momentum", 0.5, 2)
    sgd = C.train("manual", TUT, CLASS_WEIGHTS, DATA, O.make("sgd", lr=0.5), 2)
    assert abs(g["weights"][2][4] - sgd.weights[2][4]) > 1e-4


# --- mistakes: caught at their first wrong quantity --------------------------------------------
MISTAKE_CASES = [
    ("momentum-before-gradient", "momentum", {}, "w1 after step 1"),
    ("momentum-before-gradient", "nesterov", {}, "w1 after step 1"),
    ("weight-decay-sign", "sgd", dict(weight_decay=0.1), "w1 after step 1"),
    ("weight-decay-sign", "momentum", dict(weight_decay=0.1), "v1 after step 1"),
    ("weight-decay-sign", "adam", dict(weight_decay=0.1), "m1 after step 1"),
    ("adam-no-bias-correction", "adam", {}, "w1 after step 1"),
    ("adam-no-bias-correction", "adamw", dict(weight_decay=0.1), "w1 after step 1"),
    ("adamw-decay-after", "adamw", dict(weight_decay=0.1), "w1 after step 1"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mistake, kind, kw, first", MISTAKE_CASES)
def test_mistake_is_caught_at_its_first_wrong_quantity(mistake, kind, kw, first, dtype):
    opt = O.make(kind, lr=0.5, **kw)
    res = C.check(opt, ["torch", "manual", "jax", f"mistake:{mistake}"], TUT, CLASS_WEIGHTS, DATA,
                  10, dtype)
    assert not res.ok
    d = res.first_divergence
    assert (d.backend, d.label) == (f"mistake:{mistake}", first)
    assert res.comparisons["manual"].first_divergence is None
    assert res.comparisons["jax"].first_divergence is None


def test_a_mistake_needs_its_optimizer():
    with pytest.raises(InputError, match="applies to adamw; got optimizer 'adam'"):
        C.train("mistake:adamw-decay-after", TUT, CLASS_WEIGHTS, DATA, O.make("adam"), 3)


# --- conventions -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_textbook_momentum_equals_pytorch_at_constant_lr(dtype):
    res = C.check(O.make("textbook-momentum", lr=0.5), ["manual", "torch", "jax"],
                  TUT, CLASS_WEIGHTS, DATA, 50, dtype)
    assert res.ok
    assert res.comparisons["torch"].columns == C.columns(TUT, O.make("sgd"))  # no state in common
    # and the textbook velocity is -lr times PyTorch's buffer (up to 50 steps of rounding)
    u, v = res.runs["manual"].state, res.runs["torch"].state
    bound = tolerances.step_rtol(dtype) * 50 * np.abs(u).max()
    assert np.max(np.abs(u + 0.5 * v)) <= bound


@pytest.mark.parametrize("dtype", DTYPES)
def test_textbook_momentum_differs_after_a_learning_rate_change(dtype):
    opt = O.make("textbook-momentum", lr=0.5, lr_change=(10, 1.5))
    res = C.check(opt, ["manual", "torch"], TUT, CLASS_WEIGHTS, DATA, 20, dtype)
    assert res.first_divergence.label == "w1 after step 11"
    assert res.first_divergence.difference > 1e-4


def _final(kind: str, **kw) -> np.ndarray:
    return C.train("torch", TUT, CLASS_WEIGHTS, DATA, O.make(kind, lr=0.5, **kw), 50).weights[-1]


def test_l2_equals_weight_decay_for_sgd_and_not_for_adam():
    rounding = tolerances.step_rtol("float64") * 50 * 1.0  # 50 steps, weights below 1
    sgd_l2, sgd_wd = _final("momentum", l2=0.1), _final("momentum", weight_decay=0.1)
    assert np.max(np.abs(sgd_l2 - sgd_wd)) < rounding
    adam_l2, adam_wd = _final("adam", l2=0.1), _final("adam", weight_decay=0.1)
    assert np.max(np.abs(adam_l2 - adam_wd)) < rounding  # coupled decay is L2, also in Adam
    adamw = _final("adamw", weight_decay=0.1)
    assert np.max(np.abs(adamw - adam_l2)) > 1e-3  # decoupled decay is not


# --- batched ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["momentum+dampening+wd", "nesterov+wd", "adamw+wd+l2"])
def test_train_batch_rows_equal_single_trainings(name, dtype):
    rng = np.random.default_rng(0)
    w = rng.uniform(-1, 1, (7, 8)).astype(dtype)
    lr = np.array([0.1, 0.5, 0.5, 2.0, 0.1, 1.0, 0.5], dtype)
    opt = _opt(name)._replace(lr_change=(5, 0.3))
    steps = 20
    for backend in BACKENDS:
        out = C.train_batch(backend, TUT, w, lr, DATA, opt, steps, dtype)
        assert out.final_weights.dtype == np.dtype(dtype)
        for n in range(len(lr)):
            one = C.train("manual", TUT, w[n], DATA, O.with_lr(opt, float(lr[n])), steps, dtype)
            tol = tolerances.step_rtol(dtype) * steps * 10
            np.testing.assert_allclose(out.final_weights[n], one.weights[-1], rtol=tol, atol=tol,
                                       err_msg=f"{backend} row {n}")


# --- command line -------------------------------------------------------------------------------
def test_cli_agrees_exit_0(capsys):
    code = main(["optimizers", "--optimizer", "adam", "--weight-decay", "0.01", "--lrs",
                 "0.1,2", "--steps", "30", "--dtype", "float32"])
    out = capsys.readouterr().out
    assert code == 0 and "OK: every backend agrees" in out and out.count("  agrees") == 4


def test_cli_mistake_exit_1_names_the_quantity(capsys):
    code = main(["optimizers", "--optimizer", "momentum", "--weight-decay", "0.1", "--lrs", "0.5",
                 "--steps", "5", "--backends", "torch,mistake:weight-decay-sign"])
    out = capsys.readouterr().out
    assert code == 1 and "DIVERGES at v1 after step 1" in out


@pytest.mark.parametrize("argv, message", [
    (["--optimizer", "rmsprop"], "unknown optimizer 'rmsprop'"),
    (["--optimizer", "momentum", "--momentum", "1.5"], "momentum must be in [0, 1); got '1.5'"),
    (["--betas", "0.9"], "betas needs 2 comma-separated numbers"),
    (["--optimizer", "adam", "--eps", "-1"], "eps must be finite and > 0; got '-1'"),
    (["--backends", "torch,tf"], "unknown backend 'tf'"),
    (["--backends", "mistake:nope"], "unknown mistake 'mistake:nope'; expected mistake:"),
    (["--optimizer", "textbook-momentum", "--backends", "torch"], "manual backend only"),
    (["--lr-change", "2.5,1"], "--lr-change step must be a whole number >= 1; got 2.5"),
    (["--lrs", "0"], "learning rate must be finite and > 0"),
])
def test_cli_bad_values_exit_2_one_line(argv, message, capsys):
    assert main(["optimizers", *argv, "--steps", "2"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_cli_reads_optimizer_settings_from_config(tmp_path, capsys):
    cfg = tmp_path / "opt.toml"
    cfg.write_text('optimizer = "adam"\nbetas = [0.8, 0.99]\nweight-decay = 0.01\n'
                   'lrs = [0.5]\nsteps = 5\nbackends = "manual,torch"\n')
    assert main(["optimizers", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("adam(betas=(0.8, 0.99), eps=1e-08, weight_decay=0.01), 5 steps")


def test_benchmark_script_reports_ratios_to_numpy():
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).parents[1] / "benchmarks" / "optimizers.py"
    out = subprocess.run([sys.executable, str(script), "--n", "40", "--steps", "3", "--repeat",
                          "1", "--optimizer", "momentum", "--dtypes", "float64", "--json"],
                         capture_output=True, text=True, check=True)
    rows = json.loads(out.stdout)["batched"]
    assert [(r["optimizer"], r["backend"], r["n"]) for r in rows] == [
        ("momentum", b, 40) for b in ("numpy-reference", *C.available())]
    for r in rows:
        assert r["config_steps_per_s"] > 0 and r["ratio_to_numpy"] > 0
        if r["backend"] != "numpy-reference":  # the same optimizer: the same numbers
            assert r["max_abs_diff_vs_numpy"] < 1e-12


@pytest.mark.parametrize("order", [1, -1])
def test_the_earliest_divergence_wins_over_backends(order):
    """Two wrong backends: weight decay with the wrong sign is wrong in v1 at step 1, momentum
    before the gradient first in w1 at step 1 (v comes before w in each step's columns). The
    reported first divergence is the earliest (step, then column), whichever backend comes
    first in the list."""
    wrong = ["mistake:momentum-before-gradient", "mistake:weight-decay-sign"][::order]
    opt = O.make("momentum", lr=0.5, weight_decay=0.1)
    r = C.check(opt, ["manual", *wrong], TUT, CLASS_WEIGHTS, DATA, 5)
    assert (r.first_divergence.backend, r.first_divergence.label) == (
        "mistake:weight-decay-sign", "v1 after step 1")
    assert {c.first_divergence.label for c in r.comparisons.values()} == {
        "v1 after step 1", "w1 after step 1"}


@pytest.mark.parametrize("kind", ["sgd", "momentum", "nesterov", "adam", "adamw",
                                  "textbook-momentum"])
def test_frozen_parameters_are_held_fixed_by_every_backend(kind):
    from autograd_compare import network
    from autograd_compare.harness import optim_check

    net = network.make_network((2, 3, 1), ("tanh", "sigmoid"), "trainable")
    w = np.linspace(-0.7, 0.8, network.n_params(net))
    data = network.data(net, [[0, 0], [0, 1], [1, 0], [1, 1]], [[0], [1], [1], [0]])
    opt = O.make(kind, lr=0.3, frozen=(0, 7, 12))
    r = optim_check.check(opt, ["manual", "torch", "jax"], net, w, data, steps=15)
    assert r.ok, r.first_divergence
    for name, run in r.runs.items():
        assert np.array_equal(run.weights[:, [0, 7, 12]],
                              np.broadcast_to(w[[0, 7, 12]], (16, 3))), name
        assert np.all(run.grads[:, [0, 7, 12]] == 0) and np.any(run.grads[:, 1] != 0), name


@pytest.mark.parametrize("kwargs, fragment", [
    ({"frozen": (-1,)}, "frozen must be parameter indices >= 0"),
    ({"frozen": ("w1",)}, "frozen must be parameter indices >= 0"),
    ({"frozen": (0,), "weight_decay": 0.1}, "frozen parameters with weight decay or l2"),
    ({"frozen": (0,), "l2": 0.1}, "frozen parameters with weight decay or l2"),
])
def test_bad_frozen_parameters_are_one_line(kwargs, fragment):
    with pytest.raises(InputError, match=fragment):
        O.make("sgd", **kwargs)


def test_a_frozen_index_beyond_the_network_and_batches_are_refused():
    import autograd_compare as ac
    from autograd_compare import network, registry

    tutorial = network.preset("tutorial")
    b = registry.get_network_backend("manual")
    with pytest.raises(ac.InputError, match="frozen parameter 8 does not exist: the network "
                       r"has 8 \(0..7\)"):
        b.train(tutorial.network, tutorial.weights, tutorial.data,
                O.make("sgd", frozen=(8,)), 2)
    with pytest.raises(ac.InputError, match="frozen parameters are for train"):
        b.train_batch(tutorial.network, np.tile(tutorial.weights, (2, 1)), [0.1, 0.2],
                      tutorial.data, O.make("sgd", frozen=(0,)), 2)
