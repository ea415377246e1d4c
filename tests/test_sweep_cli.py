"""``autograd-compare presets`` and ``autograd-compare check`` (the main job on any network):
tables, JSON, exit codes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from autograd_compare.commands.cli import main

XOR = "x1,x2,t\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n"

@pytest.fixture(autouse=True)
def _in_a_temporary_folder(tmp_path, monkeypatch):
    """The main job writes its default report folder into the working folder: not the repo."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def xor_csv(tmp_path):
    path = tmp_path / "xor.csv"
    path.write_text(XOR)
    return str(path)


def test_presets_lists_every_preset(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    for name in ("tutorial", "mazur", "xor", "iris"):
        assert f"\n{name} " in "\n" + out
    assert "4-5-3 tanh,softmax" in out


def test_check_preset_agrees(capsys):
    assert main(["check", "--preset", "mazur", "--steps", "20"]) == 0
    out = capsys.readouterr().out
    assert "preset mazur" in out and "bias frozen" in out
    assert "dE/dW2[0,0]" not in out and "dE_total/dw5" in out  # 2-2-2: the tutorial's names
    assert "OK: every backend agrees" in out
    assert out.endswith("OK. Report: autograd-compare-report/\n")  # the main job's default


def test_check_own_network_json(capsys, xor_csv):
    argv = ["check", "--layers", "2,3,1", "--activations", "tanh,sigmoid", "--bias",
            "trainable", "--loss", "mse", "--reduction", "mean", "--data", xor_csv,
            "--steps", "30", "--dtype", "float32", "--json"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    d = json.loads(captured.out)
    assert d["ok"] and d["dtype"] == "float32" and d["network"]["parameters"] == 13
    assert d["steps"] == 30 and d["optimizer"]["kind"] == "sgd"
    assert d["lrs"] == [float(np.float32(0.1))]  # rounded to the dtype, as the main job does
    assert "Gradient check" in captured.err


def test_check_config_file(capsys, tmp_path, xor_csv):
    cfg = tmp_path / "net.toml"
    cfg.write_text(f'layers = [2, 2, 1]\nactivations = ["sigmoid"]\nbias = "trainable"\n'
                   f'data = "{xor_csv}"\nsteps = 10\n')
    assert main(["check", "--config", str(cfg)]) == 0
    assert "2-2-1 sigmoid,sigmoid, bias trainable" in capsys.readouterr().out


def test_check_reports_a_disagreement_with_exit_1(capsys, monkeypatch):
    """Mutation: the manual backend's δ_L drops the factor f'(z_L)."""
    from autograd_compare.manual import mlp

    real = mlp.derivative
    monkeypatch.setattr(mlp, "derivative", lambda name, z, a: (
        real(name, z, a) * 1.0000001 if name == "sigmoid" else real(name, z, a)))
    assert main(["check", "--preset", "xor", "--steps", "5"]) == 1
    out = capsys.readouterr().out
    assert "FAIL: gradient check: manual on dE/dz2[0] (example 1)" in out
    assert out.splitlines()[-1].startswith("DISAGREE. Report: ")


@pytest.mark.parametrize("argv, message", [
    (["--layers", "2,2", "--activations", "softmax", "--data", "XOR"],
     "softmax needs the cross-entropy"),
    (["--layers", "2,3,1", "--activations", "tanh", "--weights", "1,2", "--data", "XOR"],
     "has 9 parameters; got 2"),
    (["--layers", "2,3,1", "--activations", "tanh", "--bias", "frozen", "--data", "XOR"],
     "needs bias values"),
    (["--layers", "3,1", "--activations", "tanh", "--data", "XOR"],
     "line 1 has 3 columns; the network needs 4"),
    (["--preset", "xor", "--layers", "2,2,1"], "not both"),
    (["--loss", "mse"], "--loss describe your own network"),
    (["--layers", "2,2,1"], "--layers needs --activations"),
    (["--layers", "2,2,1", "--activations", "tanh"], "--layers needs --data"),
    (["--layers", "2,x", "--activations", "tanh"], "whole numbers"),
    (["--preset", "nope"], "invalid choice"),
    (["--layers", "2,2,1", "--activations", "tanh", "--seed", "-1", "--data", "XOR"],
     "--seed must be >= 0"),
    (["--preset", "xor", "--backends", "manual,manual"], "listed twice"),
])
def test_bad_combinations_exit_2_with_one_line(capsys, xor_csv, argv, message):
    argv = ["check"] + [xor_csv if a == "XOR" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize("text, message", [
    ("", "needs a header row"),
    ("a,b,t\n1,nan,0\n", "not finite"),
    ("a,b\n1,2\n", "has 2 columns"),
])
def test_bad_csv_exit_2(capsys, tmp_path, text, message):
    path = tmp_path / "d.csv"
    path.write_text(text)
    assert main(["check", "--layers", "2,2,1", "--activations", "tanh", "--data",
                 str(path)]) == 2
    assert message in capsys.readouterr().err


def test_check_report_folder(capsys, tmp_path):
    import csv as csv_mod

    import numpy as np

    from autograd_compare import network
    from autograd_compare.manual import mlp

    out = tmp_path / "rep"
    assert main(["check", "--preset", "xor", "--steps", "7", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["differences.png", "landscape.png",
                                                     "loss-all-lrs.png", "loss-lr-0.5.png",
                                                     "network.png", "network.svg",
                                                     "nodes.csv", "report.html", "report.json",
                                                     "trace.csv"]
    report = json.loads((out / "report.json").read_text())
    assert report["ok"] and report["source"] == "preset xor" and report["examples"] == 4
    trace = list(csv_mod.DictReader((out / "trace.csv").read_text().splitlines()))
    assert len(trace) == 3 * 8 and trace[0]["b2[0]"] and trace[7]["db2[0]"] == ""
    nodes = list(csv_mod.reader((out / "nodes.csv").read_text().splitlines()))
    assert nodes[0] == ["lr", "backend", "step", "example", "x[0]", "x[1]", "t[0]", "z1[0]",
                        "z1[1]", "a1[0]", "a1[1]", "z2[0]", "a2[0]"]
    assert len(nodes) == 1 + 3 * 2 * 4  # backends x (first, last step) x examples
    p = network.preset("xor")
    f = mlp.forward(p.network, p.weights, p.data)
    row = [float(x) for x in nodes[3][7:]]  # manual, step 0, example 3
    assert nodes[3][:7] == ["0.5", "manual", "0", "3", "1.0", "0.0", "1.0"]  # inputs, target
    np.testing.assert_array_equal(row, np.concatenate([f.z[0][2], f.a[0][2], f.z[1][2],
                                                       f.a[1][2]]))
    assert main(["check", "--preset", "xor", "--out", str(out)]) == 2  # never overwritten


def test_presets_json_lists_every_preset_with_its_network(capsys):
    import json

    assert main(["presets", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in got] == ["tutorial", "mazur", "xor", "iris"]
    tutorial, iris = got[0], got[3]
    assert tutorial["weights"] == [0.15, 0.2, 0.25, 0.3, 0.4, 0.45, 0.5, 0.55]
    assert tutorial["network"]["sizes"] == [2, 2, 2] and tutorial["examples"] == 1
    assert iris["network"]["loss"] == "cross-entropy" and iris["examples"] == 150
    assert iris["network"]["parameters"] == 4 * 5 + 5 + 5 * 3 + 3 == len(iris["weights"])


def test_a_mistake_that_the_settings_cannot_show_fails_the_run(capsys):
    """weight-decay-sign with weight decay 0 computes the right numbers: it agrees at every
    step, and the run still fails (a mistake backend is never a pass), naming why."""
    argv = ["--preset", "xor", "--optimizer", "sgd", "--steps", "5", "--backends",
            "manual,mistake:weight-decay-sign", "--json"]
    assert main(argv) == 1
    captured = capsys.readouterr()
    d = json.loads(captured.out)
    assert d["undetected_mistakes"] == ["mistake:weight-decay-sign"] and not d["ok"]
    assert all(r["ok"] for r in d["per_lr"])  # every step agrees: the line changes nothing
    assert "agreed with the reference: a mistake backend is never a pass" in captured.err
    assert main([*argv, "--weight-decay", "0.1"]) == 1  # now it shows: caught at step 1
    d = json.loads(capsys.readouterr().out)
    assert d["undetected_mistakes"] == [] and d["first_divergence"]["step"] == 1


@pytest.mark.parametrize("argv", [
    ["--optimizer", opt, "--backends", "manual,mistake:weight-decay-sign"]
    for opt in ("sgd", "momentum", "nesterov", "adam")] + [
    ["--preset", "xor", "--optimizer", "sgd", "--backends", "mistake:weight-decay-sign"],
    ["--optimizer", "adamw", "--backends", "manual,mistake:adamw-decay-after"],
    ["--optimizer", "adam", "--betas", "0,0",
     "--backends", "manual,mistake:adam-no-bias-correction"],
])
def test_a_mistake_never_passes_whatever_the_settings(argv, capsys):
    """Issue 21's false passes: each exits 1 and names the mistake as undetected; alone, manual
    is added as the reference."""
    assert main([*argv, "--steps", "3", "--json"]) == 1
    d = json.loads(capsys.readouterr().out)
    assert d["undetected_mistakes"] == [argv[-1].split(",")[-1]] and not d["ok"]


XOR_TANH = ["--layers", "2,3,1", "--activations", "tanh,sigmoid", "--bias", "trainable"]


@pytest.mark.parametrize("argv", [
    ["--preset", "iris", "--steps", "200"],
    ["--preset", "iris", "--steps", "200", "--dtype", "float32"],
    *([*XOR_TANH, "--lr", lr, "--steps", "200"] for lr in ("4", "5", "8")),
    [*XOR_TANH, "--lr", "10", "--steps", "30"],
], ids=["iris", "iris-float32", "xor-lr4", "xor-lr5", "xor-lr8", "xor-lr10"])
def test_amplified_rounding_is_no_false_fail(argv, capsys, xor_csv):
    """Correct backends whose whole runs separate (rounding amplified by the dynamics: the
    issue's false FAILs) agree at every single step: exit 0, the separation explained."""
    data = [] if "--preset" in argv else ["--data", xor_csv]
    assert main(["check", *argv, *data, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (rate,) = report["per_lr"]
    for name, b in rate["backends"].items():
        assert b["trajectory"]["first_divergence"] is not None, name  # they do separate
        assert b["step_check"]["first_divergence"] is None
        assert b["step_check"]["largest"]["ratio"] < 0.1  # far inside the per-step tolerance
        sep = b["separation"]
        assert sep["explained"] and sep["own_steps"]["first_divergence"] is None
        assert sep["own_steps"]["largest"]["ratio"] < 0.1 and sep["growth"] > 1.05
        assert b["verdict"].startswith("agrees at every step; the whole runs separate from "
                                       f"step {sep['step']} by amplified rounding")
        assert b["first_divergence"] is None
    assert report["first_divergence"] is None and report["ok"]


def test_a_reference_that_overflows_complex128_is_taken_in_extended_precision(capsys, xor_csv):
    """Weights 1e154: E = ½(t - a)² overflows float64 (so does complex128's complex step),
    but dE/da = a - t ~ 2e154 does not: the reference is recomputed with np.clongdouble's
    wider exponent and the backends agree with it (before: FAIL, "2e+154 vs reference nan")."""
    assert main(["check", "--layers", "2,1", "--activations", "identity", "--data", xor_csv,
                 "--weights", "1e154,1e154", "--steps", "3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["gradcheck"]["ok"] and report["ok"]


def test_a_start_no_reference_can_judge_is_refused_in_one_line(capsys, xor_csv, tmp_path):
    """dE/dW ~ 1e450 is beyond float64 whatever the reference's precision: exit 2, one line,
    no report folder; no backend is blamed."""
    out = tmp_path / "r"
    assert main(["check", "--layers", "2,2,1", "--activations", "identity", "--data", xor_csv,
                 "--weights", ",".join(["1e150"] * 6), "--steps", "3", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["autograd-compare: error: the gradient check cannot judge this start: the "
                   "reference dE/dw overflows float64 (inf); give smaller weights or inputs"]
    assert not out.exists()


def test_an_overflowing_weight_decay_is_no_divergence(capsys, recwarn):
    """--weight-decay 1e300 overflows every backend the same way at step 2 (weights ±inf,
    then NaN): "0 vs -0" is no difference, and the overflow says nothing to stderr but the
    report's "diverged" lines."""
    assert main(["optimizers", "--optimizer", "sgd", "--weight-decay", "1e300", "--steps", "5",
                 "--no-plots"]) == 0
    out = capsys.readouterr()
    assert "DIVERGES" not in out.out and "separate" not in out.out
    assert "diverged: the loss is not finite from step 3 on" in out.out
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_relu_at_its_kink_is_no_false_fail(capsys, xor_csv):
    """The issue's command: the (0, 0) example puts every ReLU at exactly 0 (no biases); the
    central difference there was "0.0066647 vs reference 0.0", a FAIL of correct backends."""
    assert main(["check", "--layers", "2,3,1", "--activations", "relu,sigmoid", "--data",
                 xor_csv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["gradcheck"]["ok"]


def test_textbook_momentum_is_checked_step_by_step_in_pytorchs_convention(capsys):
    """torch and jax run PyTorch's momentum for textbook momentum (manual only): the per-step
    check hands them the reference's velocity u as v = -u/lr, and every update agrees."""
    assert main(["optimizers", "--optimizer", "textbook-momentum", "--preset", "xor", "--lrs",
                 "0.5,2", "--steps", "100", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    for rate in report["per_lr"]:
        for name in ("torch", "jax"):
            step = rate["backends"][name]["step_check"]
            assert step is not None and step["first_divergence"] is None
            assert 0 < step["largest"]["ratio"] < 0.1
