"""Bring your own backward (compare.plugins): a user's gradient function as a backend, by
``package.module:function``, ``file.py:function``, an installed entry point or the Python API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import autograd_compare as ac
from autograd_compare import network, optimizers, registry
from autograd_compare.commands.cli import main
from tests import golden, student_backprop
from tests.cli_helpers import ENV, one_line
from tests.helpers import EPS32, EPS64, assert_close

ROOT = Path(__file__).resolve().parent.parent
STUDENT = "tests.student_backprop:backprop"
STEP_RTOL = {"float64": 4 * EPS64, "float32": 4 * EPS32}  # per update, as in test_golden


def _report(folder: Path) -> dict:
    return json.loads((folder / "report.json").read_text())


def test_a_students_backprop_runs_the_full_main_job(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)  # `tests.student_backprop` is found from the working folder
    out = tmp_path / "report"
    assert main(["--backends", f"manual,{STUDENT}", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "OK. Report:" in text and STUDENT in text
    r = _report(out)
    assert r["ok"] and r["backends"] == ["manual", STUDENT]
    assert [p["lr"] for p in r["per_lr"]] == list(golden.SWEEP)  # the whole sweep
    for p in r["per_lr"]:
        assert p["backends"][STUDENT]["verdict"] == "agrees"
        assert p["backends"][STUDENT]["compared"] == 17  # 8 weights, 8 gradients, E_total
    trace = (out / "trace.csv").read_text()
    assert trace.count(f",{STUDENT},") == 6 * 101  # every rate, the start and 100 steps
    html = (out / "report.html").read_text()
    assert STUDENT in html and "not given" in html  # node rows: the student gives dE/dw only


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_students_gradients_and_training_are_the_50_digit_ones(dtype):
    sw = ac.check_gradients(student_backprop.backprop, lrs=(0.5,), steps=100, dtype=dtype)
    assert sw.ok, sw.first_divergence
    rows = {r.quantity: r for r in sw.gradcheck.rows}
    got = [rows[f"dE_total/dw{k}"].values["backprop"] for k in range(1, 9)]
    rtol = {"float64": 1e-15, "float32": 32 * EPS32}[dtype]  # test_golden's POINT_RTOL
    assert_close(got, golden.class_example(dtype)["dw"], rtol, what="dw1..dw8")
    run = sw.rates[0].runs["backprop"]
    assert run.weights.dtype == np.dtype(dtype)
    assert_close(run.weights[-1], golden.trajectory(0.5, 100, dtype)["weights_after"],
                 100 * STEP_RTOL[dtype], what="weights after 100 steps")


def test_a_2_3_1_network_with_biases_and_any_optimizer():
    net = network.make_network((2, 3, 1), ("tanh", "sigmoid"), "trainable")
    w = np.linspace(-0.6, 0.7, network.n_params(net))
    x, t = [[0, 0], [0, 1], [1, 0], [1, 1]], [[0], [1], [1], [0]]
    for opt in ("sgd", "adam", "textbook-momentum"):
        sw = ac.check_gradients(student_backprop.general, net, weights=w, inputs=x, targets=t,
                                lrs=(0.3,), steps=30, optimizer=opt)
        assert sw.ok, (opt, sw.first_divergence)
        assert "general" in sw.rates[0].runs
    # the mutation the check must see: the first layer's W1, b1 (9 numbers) 3 times too large
    def first_layer_tripled(net, w, data):
        E, g = student_backprop.general(net, w, data)
        return E, np.where(np.arange(g.size) < 9, g * 3, g)

    sw = ac.check_gradients(first_layer_tripled, net, weights=w, inputs=x, targets=t,
                            lrs=(0.3,), steps=5)
    assert not sw.ok and not sw.rates[0].ok
    wrong = {r.quantity for r in sw.gradcheck.rows
             if r.errors.get("first_layer_tripled", 0) > r.tolerance}
    assert wrong == set(f"dE/d{n}" for n in network.param_names(net)[:9])


def test_a_forgotten_sigma_prime_fails_at_the_hidden_weights(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    out = tmp_path / "r"
    name = "tests.student_backprop:forgot_hidden_sigma_prime"
    assert main(["--backends", f"manual,{name}", "--lrs", "0.5", "--out", str(out)]) == 1
    r = _report(out)
    assert r["first_divergence"]["backend"] == name
    assert r["first_divergence"]["quantity"] == "dE_total/dw1"
    rows = capsys.readouterr().out.splitlines()
    verdicts = {ln.split()[0]: ln.split()[-1] for ln in rows
                if ln.strip().startswith("dE_total/dw")}
    assert verdicts == {**{f"dE_total/dw{k}": "WRONG" for k in range(1, 5)},
                        **{f"dE_total/dw{k}": "ok" for k in range(5, 9)}}


def test_a_file_in_the_working_folder_by_module_or_by_path(tmp_path, monkeypatch, capsys):
    source = Path(student_backprop.__file__).read_text()
    (tmp_path / "my_backprop.py").write_text(source)
    monkeypatch.chdir(tmp_path)
    for spec in ("my_backprop:backprop", "my_backprop.py:backprop",
                 f"{tmp_path / 'my_backprop.py'}:backprop"):
        out = tmp_path / spec.replace("/", "_").replace(":", "_")
        assert main(["--backends", f"manual,{spec}", "--lrs", "1", "--steps", "3",
                     "--out", str(out), "--no-plots"]) == 0, capsys.readouterr().err
        assert _report(out)["backends"] == ["manual", spec]
    assert "my_backprop" in sys.modules and sys.path.count(str(tmp_path)) == 0  # path restored


@pytest.mark.parametrize("name, fragment", [
    ("tests.student_backprop:wrong_shape", "returned dE/dw of shape (7,); expected (8,)"),
    ("tests.student_backprop:as_float32", "returned dE/dw as float32, but float64 was"),
    ("tests.student_backprop:raises", "raised KeyError: \"'w9'\" (at "),
    ("tests.student_backprop:nothing_here", "cannot load it (AttributeError"),
    ("no_such_module_anywhere:fn", "cannot load it (ModuleNotFoundError"),
    ("tests.cli_helpers:FAST", "is list, not a function"),
    ("missing.py:fn", "cannot load it (ImportError: 'no file missing.py')"),
])
def test_a_bad_backend_is_one_line_and_exit_2(name, fragment, monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(ROOT)
    err = one_line(["--backends", f"manual,{name}", "--lrs", "1", "--steps", "2",
                    "--out", str(tmp_path / "r")], capsys, fragment)
    if "raised" in err:
        assert "student_backprop.py:" in err  # where the user's code raised
    assert not (tmp_path / "r").exists()  # refused before anything was written


def test_a_gradient_only_backend_has_no_batched_form(monkeypatch):
    monkeypatch.chdir(ROOT)
    tutorial = network.preset("tutorial")
    b = registry.get_network_backend(STUDENT)
    with pytest.raises(ac.InputError, match="has no batched form"):
        b.train_batch(tutorial.network, np.full((2, 8), 0.1), [0.1, 0.2], tutorial.data,
                      optimizers.SGD, 2)


def test_the_python_api_refuses_bad_arguments_in_one_line():
    with pytest.raises(ac.InputError, match="fn must be a function"):
        ac.check_gradients("backprop")
    with pytest.raises(ac.InputError, match="cannot name your backend"):
        ac.check_gradients(student_backprop.backprop, name="torch")
    with pytest.raises(ac.InputError, match="give weights=, inputs= and targets="):
        ac.check_gradients(student_backprop.general, network.make_network((2, 3, 1), "sigmoid"))
    with pytest.raises(ac.InputError, match="learning rate"):
        ac.check_gradients(student_backprop.backprop, lrs=(float("nan"),))


DIST = """Metadata-Version: 2.1
Name: ac-demo-backend
Version: 1.0
"""


def _installed_package(site: Path) -> None:
    """A package installed the way pip leaves one: its code and a .dist-info folder whose
    entry_points.txt registers the backend ``demo``."""
    (site / "ac_demo_backend").mkdir(parents=True)
    (site / "ac_demo_backend" / "__init__.py").write_text(
        Path(student_backprop.__file__).read_text())
    info = site / "ac_demo_backend-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(DIST)
    (info / "entry_points.txt").write_text(
        "[autograd_compare.backends]\ndemo = ac_demo_backend:backprop\n")


def test_an_entry_point_backend_is_listed_and_runs(tmp_path):
    site = tmp_path / "site"
    _installed_package(site)
    env = {**ENV, "PYTHONPATH": str(site)}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=300)

    listed = run("-c", "import autograd_compare as ac; print(ac.backends())")
    assert listed.stdout.strip().endswith("'demo']"), listed.stderr
    helped = run("-m", "autograd_compare", "--help")
    assert "demo" in " ".join(helped.stdout.split()), helped.stdout
    done = run("-m", "autograd_compare", "--backends", "manual,demo", "--lrs", "1",
               "--steps", "3", "--no-plots", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["backends"] == ["manual", "demo"]
    defaults = run("-c", "from autograd_compare.harness import optim_check; "
                   "print(optim_check.available())")  # installed is not run unasked
    assert "demo" not in defaults.stdout and "manual" in defaults.stdout, defaults.stderr
