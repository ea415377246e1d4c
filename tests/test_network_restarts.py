"""``restarts --preset xor``: the island (stuck starts) and every backend agreeing on it."""

from __future__ import annotations

import csv
import json

import numpy as np

from autograd_compare import network, registry
from autograd_compare.commands.cli import main
from autograd_compare.optimizers import SGD
from autograd_compare.study import network_restarts as study


def test_stuck_fraction_matches_a_direct_run_and_backends_agree():
    p = network.preset("xor")
    s = study.NetStudy(n=200, seed=0, low=-1, high=1, steps=2000, lrs=(0.5, 2.0),
                       stuck_above=0.1)
    backends = [registry.get_network_backend(b) for b in ("manual", "torch", "jax")]
    out = study.run(s, p.network, p.data, backends)
    rows = study.summary(out)
    w0 = np.random.default_rng(0).uniform(-1, 1, (200, 9))
    direct = backends[0].train_batch(p.network, w0, np.full(200, 0.5), p.data, SGD, 2000)
    assert rows[0].backend("manual").stuck == int(np.sum(direct.final_loss > 0.1))
    for r in rows:
        assert isinstance(r, study.LrSummary) and r.ok
        assert r.same_starts_stuck and r.stuck_mismatches == 0 and r.disagreements == 0
        assert 0.05 < r.backend("manual").stuck_fraction < 0.9  # the island exists
        assert sum(r.histogram.counts) == 200


def test_restarts_preset_xor_command(capsys, tmp_path):
    out = tmp_path / "rep"
    argv = ["restarts", "--preset", "xor", "--n", "100", "--steps", "500", "--lrs", "0.5,1",
            "--out", str(out), "--json"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    d = json.loads(captured.out)
    assert d["ok"] and d["config"]["preset"] == "xor" and len(d["per_lr"]) == 2
    assert "stuck" in captured.err and "same stuck" in captured.err
    assert sorted(p.name for p in out.iterdir()) == ["final_loss.csv", "report.html",
                                                     "report.json", "summary.csv"]
    assert d["files"] == sorted(p.name for p in out.iterdir())
    rows = list(csv.DictReader((out / "final_loss.csv").read_text().splitlines()))
    assert len(rows) == 200
    assert all(r["stuck_manual"] == r["stuck_torch"] == r["stuck_jax"] for r in rows)


def test_a_backend_that_trains_differently_is_reported(monkeypatch):
    """Mutation: torch's batched training uses lr·(1 + 1e-6): the study says DISAGREE."""
    p = network.preset("xor")
    s = study.NetStudy(n=50, seed=1, low=-1, high=1, steps=300, lrs=(0.5,), stuck_above=0.1)
    manual, torch_b = (registry.get_network_backend(b) for b in ("manual", "torch"))
    wrong = torch_b._replace(train_batch=lambda net, w, lr, data, opt, steps, *a, **k:
                             torch_b.train_batch(net, w, lr * (1 + 1e-6), data, opt, steps))
    rows = study.summary(study.run(s, p.network, p.data, [manual, wrong]))
    assert rows[0].disagreements > 0 and not rows[0].ok


def test_tutorial_only_options_are_refused(capsys, tmp_path):
    assert main(["restarts", "--preset", "xor", "--checkpoints", "10", "--out",
                 str(tmp_path / "r")]) == 2
    assert "--checkpoints is for the tutorial's network" in capsys.readouterr().err
    assert main(["restarts", "--preset", "nope", "--out", str(tmp_path / "r")]) == 2
    assert main(["restarts", "--preset", "xor", "--stuck-above", "nan", "--out",
                 str(tmp_path / "r")]) == 2


def test_restarts_on_your_own_network_is_the_preset_study(tmp_path, capsys):
    """--layers ... --data: the same study as --preset xor when the network and data are
    XOR's (2-2-1 sigmoid, trainable biases, the 4 examples): the same stuck counts."""
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
    assert [r["stuck"] for r in mine["per_lr"]] == [r["stuck"] for r in xor["per_lr"]]
    assert main(["restarts", "--layers", "2,2,1", "--activations", "sigmoid", "--n", "5"]) == 2
    assert "--layers needs --data" in capsys.readouterr().err
