"""``autograd-compare restarts`` on the command line: files, JSON, exit codes, bad options; on
the tutorial's network, a preset, your own network, with an optimizer."""

from __future__ import annotations

import csv
import json

import pytest

from autograd_compare.commands.cli import main

SMALL = ["restarts", "--n", "12", "--steps", "30", "--lrs", "0.5,2", "--chunk", "5"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("r") / "rep"
    code = main([*SMALL, "--out", str(out)])
    return code, out


def test_writes_report_folder(report):
    code, out = report
    assert code == 0
    names = {p.name for p in out.iterdir()}
    assert names == {"report.json", "summary.csv", "disagreements.csv", "gallery.csv",
                     "checkpoints.csv", "final_loss.csv", "final-loss.png", "outcomes.png",
                     "steps-to-threshold.png", "gallery.png", "landscape.png", "network.svg",
                     "network.png", "report.html"}
    data = json.loads((out / "report.json").read_text())
    assert data["ok"] is True and data["exit_code"] == 0 and data["disagreements"] == []
    assert data["config"]["n"] == 12 and data["config"]["lrs"] == [0.5, 2.0]
    assert [row["lr"] for row in data["per_lr"]] == [0.5, 2.0]
    assert sorted(data["files"]) == sorted(names)
    backends = data["config"]["backends"]
    rows = list(csv.reader((out / "summary.csv").read_text().splitlines()))
    assert len(rows) == 1 + 2 * len(backends)
    gallery = list(csv.reader((out / "gallery.csv").read_text().splitlines()))
    curves = {(r[0], r[1]) for r in gallery[1:]}  # (lr, which): 3, and one per other outcome
    assert len(gallery) == 1 + len(curves) * len(backends) * 30
    assert {w for _, w in curves} >= {"best", "median", "worst"}
    for png in ("final-loss.png", "gallery.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_existing_folder_not_overwritten_without_force(report, capsys):
    _, out = report
    before = (out / "report.json").read_text()
    assert main([*SMALL, "--out", str(out), "--no-plots"]) == 2
    assert "--force" in capsys.readouterr().err
    assert (out / "report.json").read_text() == before
    assert main([*SMALL, "--out", str(out), "--no-plots", "--force", "--seed", "4"]) == 0
    assert json.loads((out / "report.json").read_text())["config"]["seed"] == 4


def test_json_to_stdout_and_exit_1_on_disagreement(tmp_path, capsys):
    code = main([*SMALL, "--backends", "manual,mistake:no-sigmoid-derivative", "--no-plots",
                 "--json", "--out", str(tmp_path / "x")])
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert code == 1 and data["exit_code"] == 1 and not data["ok"]
    assert len(data["disagreements"]) > 0
    assert "DISAGREE" in captured.err
    rows = list(csv.reader((tmp_path / "x" / "disagreements.csv").read_text().splitlines()))
    assert len(rows) == 1 + len(data["disagreements"])


@pytest.mark.parametrize("args, message", [
    (["--n", "0"], "--n must be >= 1"),
    (["--distribution", "cauchy"], "--distribution: invalid choice: 'cauchy' (choose from "
                                   "'uniform', 'normal')"),
    (["--range", "1,-1"], "width"),
    (["--range", "1"], "range needs 2"),
    (["--steps", "0"], "--steps must be >= 1"),
    (["--threshold", "-0.001"], "--threshold must be finite and >= 0"),
    (["--threshold", "abc"], "threshold"),
    (["--lrs", "0.5,-1"], "learning rate"),
    (["--backends", "tensorflow"], "unknown backend"),
    (["--checkpoints", "2"], "--checkpoints must be steps between 1 and 1"),
    (["--steps", "5", "--checkpoints", "0,3"], "got 0"),
    (["--steps", "5", "--checkpoints", "3,3"], "lists a step twice"),
    (["--checkpoints", "x"], "comma-separated whole numbers"),
])
def test_bad_options_one_line_exit_2(tmp_path, capsys, args, message):
    code = main(["restarts", "--n", "3", "--steps", "2", "--out", str(tmp_path / "o"), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "o").exists()


def test_json_alone_leaves_no_folder_and_the_closing_line_says_so(tmp_path, capsys,
                                                                  monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([*SMALL, "--no-plots", "--json"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["ok"] is True and data["report_dir"] is None and data["files"] == []
    assert list(tmp_path.iterdir()) == []
    assert captured.err.rstrip().endswith("OK. No report folder (--json without --out).")


def test_json_shape_field_by_field(tmp_path, capsys, monkeypatch):
    """The dict edge of the study's named results: every object's keys, in order."""
    monkeypatch.chdir(tmp_path)
    assert main([*SMALL, "--backends", "manual,mistake:update-sign", "--checkpoints", "10",
                 "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert list(data) == ["tool", "command", "ok", "exit_code", "config", "tolerance",
                          "outcome_rule", "seconds", "per_lr", "disagreements",
                          "amplified_rounding", "report_dir", "files"]
    assert data["outcome_rule"] == {
        "rule": "reached: final E_total <= 1e-05; stuck: not reached and E_total fell by less "
                "than 1% over the last 3 steps (step 27 to 30); still descending: not reached, "
                "fell by 1% or more", "threshold": 1e-05, "tail_step": 27, "stall": 0.01}
    row = data["per_lr"][0]
    assert list(row) == ["lr", "backends", "cross_backend", "gallery", "checkpoints"]
    s = row["backends"]["manual"]
    assert list(s) == ["final_loss", "reached", "reached_fraction", "stuck",
                       "still_descending", "steps_to_threshold"]
    quantiles = ["mean", "min", "p1", "p10", "median", "p90", "p99", "max", "non_finite"]
    assert list(s["final_loss"]) == quantiles
    assert list(s["steps_to_threshold"]) == ["min", "median", "p90", "max"]
    assert list(row["cross_backend"]) == [
        "worst_difference", "median_difference", "worst_ratio_to_tolerance",
        "median_ratio_to_tolerance", "disagreements", "reached_mismatches",
        "outcome_mismatches", "steps_to_threshold_mismatches"]
    assert list(row["gallery"]) == ["best", "median", "worst", "stuck", "still_descending"]
    assert list(row["checkpoints"][0]) == ["step", "E_total"]
    assert list(row["checkpoints"][0]["E_total"]["manual"]) == quantiles
    assert list(data["disagreements"][0]) == ["start", "lr", "weights", "final_loss",
                                              "steps_to_threshold", "difference",
                                              "ratio_to_tolerance"]
    assert len(data["disagreements"]) == 12 * 2  # every start at both rates goes uphill


def test_restarts_preset_xor_command(capsys, tmp_path):
    out = tmp_path / "rep"
    argv = ["restarts", "--preset", "xor", "--n", "100", "--steps", "500", "--lrs", "0.5,1",
            "--out", str(out), "--json"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    d = json.loads(captured.out)
    assert d["ok"] and d["config"]["preset"] == "xor" and len(d["per_lr"]) == 2
    assert d["config"]["threshold"] == 0.1  # the default away from the tutorial's network
    assert "reached: final E <= 0.1; stuck: not reached and E fell by less than 1% over the " \
        "last 50 steps (step 450 to 500)" in captured.err
    # the same files as the tutorial's study, less its network drawing
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoints.csv", "disagreements.csv", "final-loss.png", "final_loss.csv",
        "gallery.csv", "gallery.png", "landscape.png", "outcomes.png", "report.html",
        "report.json", "steps-to-threshold.png", "summary.csv"]
    assert d["files"] == sorted(p.name for p in out.iterdir())
    rows = list(csv.DictReader((out / "final_loss.csv").read_text().splitlines()))
    assert len(rows) == 200
    assert all(r["reached_manual"] == r["reached_torch"] == r["reached_jax"] for r in rows)
    reached = sum(int(r["reached_manual"]) for r in rows if r["lr"] == "1.0")
    assert reached == d["per_lr"][1]["backends"]["manual"]["reached"] > 0
    for j, lr in enumerate(("0.5", "1.0")):  # final_loss.csv's outcomes are report.json's
        names = [r["outcome_jax"] for r in rows if r["lr"] == lr]
        s = d["per_lr"][j]["backends"]["jax"]
        assert (names.count("reached"), names.count("stuck"),
                names.count("still descending")) == (s["reached"], s["stuck"],
                                                     s["still_descending"])
    assert d["per_lr"][0]["backends"]["manual"]["stuck"] > 0  # XOR's stuck starts
    for r in rows:  # the rule applied again to each row's own numbers (E at steps 450, 500)
        for b in ("manual", "torch", "jax"):
            final, tail = float(r[f"final_E_{b}"]), float(r[f"tail_E_{b}"])
            want = "reached" if final <= 0.1 else "still descending" \
                if tail - final >= 0.01 * tail else "stuck"
            assert r[f"outcome_{b}"] == want and r[f"reached_{b}"] == str(int(final <= 0.1))
    assert list(csv.reader((out / "disagreements.csv").read_text().splitlines()))[0][2:11] == \
        ["W1[0,0]", "W1[0,1]", "W1[1,0]", "W1[1,1]", "b1[0]", "b1[1]", "W2[0,0]", "W2[0,1]",
         "b2[0]"]


def test_options_of_the_tutorials_example_and_bad_network_options(capsys, tmp_path):
    for argv, message in [
            (["--preset", "xor", "--targets", "0,1"], "--inputs and --targets are the tutorial"),
            (["--preset", "nope"], "--preset: invalid choice: 'nope' (choose from 'tutorial'"),
            (["--preset", "xor", "--threshold", "nan"], "--threshold must be finite"),
            (["--preset", "xor", "--backends", "manual,mistake:update-sign"], "mistake backends"),
            (["--optimizer", "adam", "--checkpoints", "1"], "plain gradient descent"),
            (["--layers", "2,2,1", "--activations", "sigmoid"], "--layers needs --data")]:
        assert main(["restarts", "--n", "5", "--steps", "2", "--out", str(tmp_path / "r"),
                     *argv]) == 2, argv
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
        assert not (tmp_path / "r").exists()


def test_restarts_on_your_own_network_is_the_preset_study(tmp_path, capsys):
    """--layers ... --data: the same study as --preset xor when the network and data are
    XOR's (2-2-1 sigmoid, trainable biases, the 4 examples): the same numbers."""
    data = tmp_path / "xor.csv"
    data.write_text("x1,x2,t\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n")
    common = ["--n", "40", "--steps", "150", "--lrs", "0.5,2", "--backends", "manual",
              "--json"]
    own = ["restarts", "--layers", "2,2,1", "--activations", "sigmoid", "--bias",
           "trainable", "--data", str(data), "--out", str(tmp_path / "own"), *common]
    assert main(own) == 0
    mine = json.loads(capsys.readouterr().out)
    assert main(["restarts", "--preset", "xor", "--out", str(tmp_path / "xor"), *common]) == 0
    xor = json.loads(capsys.readouterr().out)
    assert mine["config"]["preset"] == "your network"
    assert mine["config"]["network"] == xor["config"]["network"]
    assert mine["per_lr"] == xor["per_lr"]


@pytest.mark.parametrize("argv", [
    ["--n", "100", "--steps", "100", "--range=-200,200"],
    ["--preset", "iris", "--optimizer", "adam", "--n", "20", "--steps", "50", "--lrs", "0.1"],
], ids=["tutorial-wide-range", "iris-adam"])
def test_amplified_rounding_is_no_disagreement(argv, capsys, tmp_path, monkeypatch):
    """Starts whose whole runs differ beyond tolerance (the issue's false DISAGREEs: final E
    1.54e-33 vs 0.0; Iris with Adam) are re-checked one update at a time: every step agrees,
    so they are listed as amplified rounding and the study exits 0."""
    monkeypatch.chdir(tmp_path)
    assert main(["restarts", *argv, "--no-plots", "--json"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["ok"] and data["disagreements"] == []
    assert data["amplified_rounding"]  # they do differ over the whole run
    assert sum(r["cross_backend"]["disagreements"] for r in data["per_lr"]) == \
        len(data["amplified_rounding"])
    assert "agree at every single step (re-checked one update at a time)" in captured.err


def test_local_dask_workers_are_capped_before_any_work(capsys, no_work, monkeypatch, tmp_path):
    """At most 4 worker processes per CPU core (`restarts.WORKERS_PER_CORE`); each one loads
    the backends' frameworks, so their memory is in the budget too."""
    import os

    from autograd_compare.commands import restarts as command
    from tests.cli_helpers import one_line_exit_2

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert command.local_workers_cap() == 8
    out = ["--out", str(tmp_path / "r")]
    err = one_line_exit_2(["restarts", "--dask-local", "1000", *out], capsys,
                          "give --dask-local 8 or fewer")
    assert "(8: 4 per CPU core, 2 cores)" in err and "--dask-scheduler ADDRESS" in err
    one_line_exit_2(["restarts", "--dask-local", "9", "--backends", "manual", *out], capsys,
                    "--dask-local 8 or fewer")
    # 8 workers with all three frameworks: 8 x 544 MB
    one_line_exit_2(["restarts", "--dask-local", "8", *out], capsys,
                    "raise it with --max-memory-mb")
    with pytest.raises(AssertionError, match="before the refusal"):  # within both: the work
        main(["restarts", "--dask-local", "8", "--backends", "manual", "--n", "10", *out])
    assert not (tmp_path / "r").exists()


# --- the same pictures for every network ----------------------------------------------------------
PICTURES = ("final-loss.png", "outcomes.png", "steps-to-threshold.png", "gallery.png",
            "landscape.png")


@pytest.mark.parametrize("preset", ["tutorial", "mazur", "xor", "iris"])
def test_every_preset_writes_the_pictures(preset, tmp_path, capsys):
    """final-loss, outcome counts, steps, gallery and the island (starts coloured by outcome)
    for the tutorial and every preset; report.html shows them; the outcome counts add up."""
    import matplotlib.image

    from autograd_compare import network

    assert set(network.PRESETS) == {"tutorial", "mazur", "xor", "iris"}  # every preset here
    out = tmp_path / preset
    assert main(["restarts", "--preset", preset, "--n", "40", "--steps", "60", "--lrs",
                 "0.5,2", "--chunk", "40", "--backends", "manual", "--out", str(out)]) == 0
    capsys.readouterr()
    for name in PICTURES:
        image = matplotlib.image.imread(out / name)
        assert image.ndim == 3 and image.shape[0] >= 400 and image.shape[1] >= 600, name
        assert image[..., :3].std() > 0.05, name  # not a blank page
    data = json.loads((out / "report.json").read_text())
    for row in data["per_lr"]:
        s = row["backends"]["manual"]
        assert s["reached"] + s["stuck"] + s["still_descending"] == 40
    page = (out / "report.html").read_text()
    for name in PICTURES:
        assert f'alt="{name}"' in page, name
    summary = list(csv.DictReader((out / "summary.csv").read_text().splitlines()))
    assert [int(r["stuck"]) for r in summary] == [r["backends"]["manual"]["stuck"]
                                                  for r in data["per_lr"]]


def test_the_islands_slice_is_named_on_any_network(tmp_path, capsys):
    """--landscape takes the network's own parameter names; a bad one is a one-line error
    before any work."""
    base = ["restarts", "--preset", "xor", "--n", "20", "--steps", "20", "--lrs", "1",
            "--backends", "manual"]
    assert main([*base, "--landscape", "W2[0,0],b2[0]", "--out", str(tmp_path / "a")]) == 0
    assert (tmp_path / "a" / "landscape.png").is_file()
    assert main([*base, "--landscape", "plane", "--out", str(tmp_path / "b")]) == 0
    capsys.readouterr()
    assert main([*base, "--landscape", "w5,w6", "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "(from W1[0,0]..b2[0]); got 'w5,w6'" in err and err.count("\n") == 1
    assert not (tmp_path / "c").exists()


def test_with_an_optimizer_not_reached_is_not_told_apart(tmp_path, capsys):
    assert main(["restarts", "--preset", "xor", "--optimizer", "adam", "--n", "20", "--steps",
                 "30", "--lrs", "0.5", "--backends", "manual", "--json", "--out",
                 str(tmp_path / "o")]) == 0
    d = json.loads(capsys.readouterr().out)
    s = d["per_lr"][0]["backends"]["manual"]
    assert s["stuck"] is None and s["still_descending"] is None
    assert d["outcome_rule"]["tail_step"] is None
    rows = list(csv.DictReader((tmp_path / "o" / "final_loss.csv").read_text().splitlines()))
    assert {r["outcome_manual"] for r in rows} <= {"reached", "not reached"}
    assert (tmp_path / "o" / "outcomes.png").is_file()
