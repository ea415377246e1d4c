"""`explain --prove --mistake KIND`: the CLI's JSON and text for a mistake's formulas."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("sympy", reason="pip install 'autograd-compare[teach]'")

from autograd_compare.commands.cli import main  # noqa: E402


def test_prove_mistake_json_names_the_mistake_and_fails(capsys):
    code = main(["explain", "--prove", "--mistake", "no-sigmoid-derivative", "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert list(out) == ["proved", "mistake", "verdicts"]  # no "general" part for a mistake
    assert out["proved"] is False and out["mistake"] == "no-sigmoid-derivative"
    # dropping σ'(o_k) breaks every weight's formula: w1..w8, no node formulas
    assert [v["name"] for v in out["verdicts"]] == [f"w{k}" for k in range(1, 9)]
    assert not any(v["proved"] for v in out["verdicts"])


def test_prove_mistake_text_for_one_weight(capsys):
    code = main(["explain", "--prove", "--mistake", "mean-loss", "--weight", "w5"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert lines[0] == ("Symbolic check of mistake:mean-loss's formulas against SymPy's "
                        "derivatives of the forward equations:")
    assert lines[1].startswith("  ∂E_total/∂w5    FAILED") and "derived / implemented = 2" \
        in lines[1]
    assert lines[2] == "1 of 1 formula is WRONG: w5"
