"""The main job on any network (``--preset``, ``--layers``; ``check`` is its alias): the
folder, the plots, report.html (in a real headless Chromium,
tests/browser.py), user text escaped in HTML and CSV, and which options send the main job
there."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

from autograd_compare import network, registry
from autograd_compare.commands.cli import main
from autograd_compare.harness import optim_check
from autograd_compare.report import network_output
from tests.browser import CHROMIUM, INSTALL, Browser

pytest.importorskip("matplotlib")
needs_browser = pytest.mark.skipif(CHROMIUM is None, reason=INSTALL)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HOSTILE_DIR = "rep <b>&\"x'</script><!--"  # a folder name that is also markup
SCRIPT = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("evil.example","click")'
# a header row that is markup, a formula and a formula-looking sign, for a 2-2-1 network
HOSTILE_HEADER = [SCRIPT, FORMULA, "+t&<i>"]
XOR_ROWS = [[0, 0, 0], [0, 1, 1], [1, 0, 1], [1, 1, 0]]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

@pytest.fixture(autouse=True)
def _in_a_temporary_folder(tmp_path, monkeypatch):
    """The main job writes its default report folder into the working folder: not the repo."""
    monkeypatch.chdir(tmp_path)


def _csv_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


@pytest.fixture(scope="module")
def xor_rep(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("xor") / "rep"
    assert main(["--preset", "xor", "--steps", "30", "--lrs", "0.5,2", "--out", str(out),
                 "--backends", "manual,torch,jax"]) == 0
    return out, json.loads((out / "report.json").read_text())


@pytest.fixture(scope="module")
def hostile_rep(tmp_path_factory) -> tuple[Path, dict]:
    base = tmp_path_factory.mktemp("hostile")
    data = base / "data.csv"
    data.write_text("\n".join([",".join(f'"{h}"' if "," in h else h for h in
                                        (x.replace('"', '""') for x in HOSTILE_HEADER))]
                              + [",".join(map(str, r)) for r in XOR_ROWS]) + "\n")
    out = base / HOSTILE_DIR
    assert main(["check", "--layers", "2,2,1", "--activations", "sigmoid", "--bias", "trainable",
                 "--data", str(data), "--steps", "5", "--backends", "manual,torch",
                 "--out", str(out)]) == 0
    return out, json.loads((out / "report.json").read_text())


# --- the folder and the plots ------------------------------------------------------------------
FOLDER = ["report.json", "trace.csv", "nodes.csv", "loss-lr-0.5.png", "loss-lr-2.png",
          "loss-all-lrs.png", "differences.png", "network.svg", "network.png", "landscape.png",
          "report.html"]


def test_the_folder_is_the_main_jobs_plus_nodes(xor_rep):
    """The tutorial main job's files (a loss plot per rate, every rate, the differences, the
    network, the landscape, report.html), plus nodes.csv; every file listed and there."""
    out, report = xor_rep
    assert report["files"] == FOLDER
    assert sorted(p.name for p in out.iterdir()) == sorted(FOLDER)
    for name in FOLDER:
        if name.endswith(".png"):
            assert (out / name).read_bytes()[:8] == PNG_MAGIC
            assert (out / name).stat().st_size > 10_000


def test_trace_rows_are_the_state_after_k_updates(xor_rep):
    """Row k: the parameters after k updates, E there (the last row: after the last update,
    which is report.json's final loss), the gradient there (none on the last row)."""
    out, report = xor_rep
    rows = list(csv.DictReader(io.StringIO((out / "trace.csv").read_text())))
    assert len(rows) == 2 * 3 * 31  # rates x backends x steps 0..30
    p = network.preset("xor")
    manual = registry.get_network_backend("manual")
    for lr in (0.5, 2.0):
        mine = [r for r in rows if r["backend"] == "manual" and float(r["lr"]) == lr]
        assert [int(r["step"]) for r in mine] == list(range(31))
        names = network.param_names(p.network)
        w = np.array([[float(r[n]) for n in names] for r in mine])
        np.testing.assert_array_equal(w[0], p.weights)
        for k in (0, 17, 30):  # E and dE/dw at w[k], by manual's own functions
            assert float(mine[k]["E"]) == float(manual.forward(p.network, w[k], p.data).E)
        g = manual.gradients(p.network, w[17], p.data).w
        assert [float(mine[17][f"d{n}"]) for n in names] == g.tolist()
        assert mine[30]["dW1[0,0]"] == ""  # no update after the last row
        final = next(r for r in report["per_lr"] if r["lr"] == lr)["final_loss"]["manual"]
        assert float(mine[30]["E"]) == final
        g_all = np.array([[float(r[f"d{n}"]) for n in names] for r in mine[:-1]])
        np.testing.assert_array_equal(w[1:], w[:-1] - lr * g_all)  # sgd, as manual writes it


def test_plain_gradient_descent_matches_the_hand_computed_start(xor_rep):
    """XOR's start (seed 0): E = 0.5244133138491762 and dE/db2[0] = 0.10162814582955412,
    computed once by hand from the preset's weights with math.exp (docs/networks.md)."""
    _, report = xor_rep
    out, _ = xor_rep
    first = next(csv.DictReader(io.StringIO((out / "trace.csv").read_text())))
    assert float(first["E"]) == pytest.approx(0.5244133138491762, rel=1e-15)
    assert float(first["db2[0]"]) == pytest.approx(0.10162814582955412, rel=1e-14)


def test_per_step_difference_finds_the_first_divergence(monkeypatch):
    """The plotted per-step ratio (differences.png) crosses 1 exactly at the first divergence
    (mutation: torch trains at lr · (1 + 1e-9))."""
    from autograd_compare import optimizers

    p = network.preset("xor")
    opt = optimizers.make("sgd", lr=p.lr)
    good = optim_check.check(opt, ["manual", "torch"], p.network, p.weights, p.data, 40)
    assert good.ok and list(good.comparisons) == ["torch"]
    real = registry.get_network_backend

    def off(name, dtype="float64"):
        b = real(name, dtype)
        if name != "torch":
            return b
        return b._replace(train=lambda net, w, data, o, steps, resume=None: b.train(
            net, w, data, o._replace(lr=o.lr * (1 + 1e-9)), steps, resume))

    monkeypatch.setattr(optim_check.registry, "get_network_backend", off)
    bad = optim_check.check(opt, ["manual", "torch"], p.network, p.weights, p.data, 40)
    c = bad.comparisons["torch"]
    ratio = np.max(np.where(c.diff > 0, c.diff / c.tolerance, 0.0), axis=1)
    assert not bad.ok and bad.first_divergence.check == "step"  # every update is off
    assert int(np.argmax(ratio > 1)) + 1 == c.first_divergence.step
    assert np.all(ratio[:c.first_divergence.step - 1] <= 1)


def test_no_plots_writes_none_but_the_html(tmp_path, capsys):
    out = tmp_path / "np"
    assert main(["check", "--preset", "xor", "--steps", "3", "--backends", "manual",
                 "--no-plots", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert not list(out.glob("*.png")) and not list(out.glob("*.svg"))
    assert report["files"] == ["report.json", "trace.csv", "nodes.csv", "report.html"]
    text = (out / "report.html").read_text()
    assert "<img" not in text and "No pictures" in text


# --- report.html ---------------------------------------------------------------------------------
def test_html_is_self_contained(xor_rep):
    out, _ = xor_rep
    text = (out / "report.html").read_text(encoding="utf-8")
    srcs = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', text)
    assert srcs and all(s.startswith("data:image/") for s in srcs)
    assert "http://" not in text and "https://" not in text and "<link" not in text
    assert "<script" not in text  # nothing to run: the same page with JavaScript off
    pngs = sorted(p.name for p in out.iterdir() if p.suffix == ".png")
    assert pngs == sorted(n for n in FOLDER if n.endswith(".png"))
    assert text.count("data:image/png;base64,") == len(pngs)  # every picture embedded
    assert text.index('id="verdict"') < text.index("<table")


@needs_browser
@pytest.mark.parametrize("javascript", [True, False])
def test_check_report_in_chromium(xor_rep, javascript):
    out, report = xor_rep
    with Browser() as b:
        b.open(out / "report.html", javascript=javascript)
        assert b.errors() == []
        assert b.evaluate("document.getElementById('verdict').textContent") == (
            "OK: every backend agrees: the gradient check at the start and every step at "
            "every learning rate, optimizer state included")
        rows = "document.querySelector('#%s tbody').rows.length"
        # XOR: 9 parameters; nodes z1, a1 (2 each), z2, a2 (1 each) of 4 examples = 24
        assert b.evaluate(rows % "gradcheck-table") == 9 + 24
        assert b.evaluate(rows % "backends-table") == 2 * 2  # rates x (torch, jax)
        assert b.evaluate(rows % "data-table") == 4
        cell = "document.querySelector('#%s tbody').rows[%d].cells[%d].textContent"
        assert b.evaluate(cell % ("gradcheck-table", 0, 0)) == "dE/db2[0]"
        assert b.evaluate(cell % ("backends-table", 0, 1)) == "torch"
        assert float(b.evaluate(cell % ("backends-table", 0, 3))) == pytest.approx(
            report["per_lr"][0]["backends"]["torch"]["largest"]["ratio"], rel=1e-2)
        images = b.evaluate("Array.from(document.images).map(i => i.alt + ':' + i.naturalWidth)")
        assert sorted(i.split(":")[0] for i in images) == sorted(
            n for n in FOLDER if n.endswith(".png"))
        assert all(int(i.split(":")[1]) > 500 for i in images)
        text = b.evaluate("document.body.innerText")
        assert "Gradient check at the start" in text and "every learning rate" in text


@needs_browser
def test_user_text_is_escaped_in_html(hostile_rep):
    out, report = hostile_rep
    text = (out / "report.html").read_text(encoding="utf-8")
    assert SCRIPT not in text and "<b>&" not in text and "<i>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert report["data"]["inputs"] == HOSTILE_HEADER[:2]
    with Browser() as b:
        b.open(out / "report.html")
        assert b.errors() == []
        assert b.evaluate("document.scripts.length") == 0
        assert not [e for e in b.events if e.get("method") == "Page.javascriptDialogOpening"]
        heads = b.evaluate("Array.from(document.querySelectorAll('#data-table th'))"
                           ".map(h => h.textContent)")
        assert heads == ["example", *HOSTILE_HEADER]  # shown as the user wrote them, as text
        config = b.evaluate("document.getElementById('config').innerText")
        assert HOSTILE_DIR in config  # the folder's name, as text
        assert "data.csv" in b.evaluate("document.getElementById('data').innerText")


def test_user_text_cannot_become_a_formula_in_csv(hostile_rep):
    out, _ = hostile_rep
    nodes = _csv_rows(out / "nodes.csv")
    assert nodes[0][4:7] == [SCRIPT, "'" + FORMULA, "'+t&<i>"]
    for path in (out / "nodes.csv", out / "trace.csv"):
        for row in _csv_rows(path):
            for value in row:
                if value.startswith(FORMULA_START):
                    float(value)  # only numbers (-0.5) may start like a formula


@pytest.mark.parametrize("text", ["=1+1", "+1", "-x", "@SUM(A1)", "\tx", "\rx"])
def test_formula_cells_are_quoted(text):
    assert network_output.cell(text) == "'" + text
    assert network_output.cell("x" + text) == "x" + text


# --- the 2-2-2 presets in the tutorial's names ---------------------------------------------------
def test_mazur_uses_the_tutorials_names_everywhere(tmp_path, capsys):
    reports = {}
    for name in ("tutorial", "mazur"):
        out = tmp_path / name
        assert main(["check", "--preset", name, "--steps", "2", "--backends", "manual",
                     "--out", str(out)]) == 0
        reports[name] = out
    t, m = reports["tutorial"], reports["mazur"]
    assert _csv_rows(m / "trace.csv")[0] == _csv_rows(t / "trace.csv")[0]
    assert _csv_rows(m / "nodes.csv")[0] == _csv_rows(t / "nodes.csv")[0] == [
        "lr", "backend", "step", "example", "i1", "i2", "t1", "t2", "h1", "h2", "a_h1", "a_h2",
        "o1", "o2", "a_o1", "a_o2"]
    assert _csv_rows(m / "nodes.csv")[1][4:8] == ["0.05", "0.1", "0.01", "0.99"]  # his data
    html_text = (m / "report.html").read_text()
    assert _csv_rows(m / "trace.csv")[0][:16] == ["lr", "backend", "step", *(f"w{j}" for j in
                                                   range(1, 9)), "E_total", "dw1", "dw2", "dw3",
                                                   "dw4"]
    for name in ("dE_total/dw5", "dE_total/da_o1", "dE_total/dh1", "<th>i1</th>",
                 "<th>t2</th>"):
        assert name in html_text, name
    assert "W1[" not in html_text and "x[0]" not in html_text and "z1[" not in html_text
    assert "<td class=l>frozen biases</td><td class=l>b1 = 0.35, b2 = 0.6</td>" in html_text


# --- the main job with a network or an optimizer option -----------------------------------------
def test_main_job_with_a_preset_is_check(capsys):
    argv = ["--preset", "mazur", "--steps", "1", "--lrs", "0.5", "--backends", "manual,torch",
            "--json"]
    assert main(argv) == 0
    via_main = json.loads(capsys.readouterr().out)
    assert main(["check", *argv]) == 0
    assert main(["optimizers", *argv]) == 0
    aliases = capsys.readouterr().out.split("\n}\n")
    assert via_main == json.loads(aliases[0] + "}") == json.loads(aliases[1] + "}")
    assert via_main["source"] == "preset mazur" and via_main["optimizer"]["kind"] == "sgd"
    # E_total after one step at lr 0.5: the exact 0.29102777369 (his post prints 0.291027924,
    # 1.5e-7 higher: docs/networks.md); his E_total at the start, 0.298371109, is exact
    final = via_main["per_lr"][0]["final_loss"]["manual"]
    assert final == pytest.approx(0.29102777369, abs=1e-11)


def test_main_job_with_layers_and_a_sweep(tmp_path, capsys):
    data = tmp_path / "xor.csv"
    data.write_text("a,b,t\n" + "\n".join(",".join(map(str, r)) for r in XOR_ROWS) + "\n")
    assert main(["--layers", "2,3,1", "--activations", "tanh,sigmoid", "--data", str(data),
                 "--lrs", "0.25,1", "--steps", "4", "--backends", "manual", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["lrs"] == [0.25, 1.0] and d["steps"] == 4 and len(d["per_lr"]) == 2
    assert d["network"]["sizes"] == [2, 3, 1] and d["data"]["inputs"] == ["a", "b"]


@pytest.mark.parametrize("argv, message", [
    (["--preset=xor", "--landscape", "w1,w2"], "(from W1[0,0]..b2[0]); got 'w1,w2'"),
    (["--preset=xor", "--landscape", "W1[0,0],W1[0,0]"], "two different parameters"),
    (["--preset", "mazur", "--max-memory-mb", "9"], "raise it with --max-memory-mb"),
    (["--preset", "nope"], "invalid choice: 'nope'"),
    (["--preset", "xor", "--lrs", "0.5,0.5"], "listed twice"),
    (["--preset", "xor", "--inputs", "0,1"], "--inputs and --targets go together"),
    (["--preset", "xor", "--backends", "mistake:no-sigmoid-derivative"],
     "is a mistake in the tutorial's formulas: it runs on the tutorial's network"),
    (["--optimizer", "adam", "--backends", "manual,mistake:update-sign"],
     "plain gradient descent (sgd); got 2-2-2"),
])
def test_main_job_refuses_what_does_not_apply(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_config_file_with_a_network_key_runs_the_job_on_that_network(tmp_path, capsys):
    cfg = tmp_path / "xor.toml"
    cfg.write_text('preset = "xor"\nlrs = [0.5, 2]\nsteps = 3\noptimizer = "adam"\n'
                   'backends = "manual"\n')
    assert main(["--config", str(cfg), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert (d["source"], d["lrs"], d["optimizer"]["kind"]) == ("preset xor", [0.5, 2.0], "adam")
    plain = tmp_path / "tutorial.toml"
    plain.write_text("lrs = [0.5]\nsteps = 2\nbackends = \"manual\"\n")
    assert main([f"--config={plain}", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert (d["source"], d["lrs"], d["parameters"][4]) == ("preset tutorial", [0.5], "w5")


def test_main_job_without_network_options_is_the_tutorials(capsys):
    assert main(["--steps", "2", "--lrs", "0.5", "--backends", "manual", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["source"] == "preset tutorial" and d["lrs"] == [0.5]
    assert d["parameters"] == [f"w{j}" for j in range(1, 9)]  # the tutorial's notation
    assert [c["lr"] for c in d["claims"]] == [0.5]  # its claims checked


def test_a_diverging_training_is_reported_not_refused(tmp_path, capsys):
    """lr 10 on a linear 2-1 network: E grows ×~300 per step and overflows to inf near step
    106 in every backend. Valid input: it runs without warnings (filterwarnings = error),
    says so per backend, draws what is finite, and the backends agree (inf in one and NaN in
    another after the overflow count as the same)."""
    data = tmp_path / "xor.csv"
    data.write_text("x1,x2,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n", encoding="utf-8")
    out = tmp_path / "diverged"
    code = main(["check", "--layers", "2,1", "--activations", "identity", "--lr", "10",
                 "--steps", "400", "--data", str(data), "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0, text
    notes = re.findall(r"(\w+): the training at lr 10 diverged: the loss is not finite from "
                       r"step (\d+) on", text)
    assert {name for name, _ in notes} == {"manual", "torch", "jax"}
    step = {int(k) for _, k in notes}
    assert len(step) == 1 and 50 < step.pop() < 400
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["ok"] and report["per_lr"][0]["final_loss"]["torch"] == "nan"
    assert {"loss-lr-10.png", "differences.png", "landscape.png", "network.png"} <= {
        p.name for p in out.iterdir()}
    assert "last finite step: diverged" in (out / "network.svg").read_text(encoding="utf-8")
