"""The pictures of any network (report/drawing.py `panel`, report/landscape.py
`network_figure`) through the main job on any network (``autograd-compare --preset NAME``,
``check`` its alias): network.svg, network.png and landscape.png for every preset and for a
network of your own; ``--no-plots`` leaves them out."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from autograd_compare.commands.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PICTURES = ("network.svg", "network.png", "landscape.png")
# the first parameter's start value as `drawing` prints it (4 significant digits), in the
# preset's notation: w1 for the tutorial's 2-2-2 shape, W1[0,0] otherwise
FIRST_WEIGHT = {"tutorial": "w1 = 0.15", "mazur": "w1 = 0.15", "xor": "W1[0,0] = 0.2739",
                "iris": "W1[0,0] = 0.01182"}


def svg_texts(path) -> str:
    root = ET.parse(path).getroot()  # raises on a malformed SVG
    assert root.tag.endswith("svg")
    return "\n".join("".join(e.itertext()) for e in root.iter() if e.tag.endswith("text"))


@pytest.mark.parametrize("name", sorted(FIRST_WEIGHT))
def test_every_preset_draws_its_network_and_landscape(tmp_path, capsys, name):
    out = tmp_path / name
    assert main(["check", "--preset", name, "--steps", "5", "--backends", "manual",
                 "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    for f in PICTURES:
        assert f in report["files"]
        assert (out / f).stat().st_size > 1000
    for f in ("network.png", "landscape.png"):
        assert (out / f).read_bytes()[:8] == PNG_MAGIC
    texts = svg_texts(out / "network.svg")
    assert FIRST_WEIGHT[name] in texts
    assert "step 0 (start)" in texts and "step 5 (last step)" in texts


def test_mazur_numbers_in_the_drawing(tmp_path, capsys):
    """Matt Mazur's published step: E_total = 0.298371109, dE/dw5 = 0.082167041 (his post)."""
    out = tmp_path / "m"
    assert main(["check", "--preset", "mazur", "--steps", "1", "--backends", "manual",
                 "--out", str(out)]) == 0
    texts = svg_texts(out / "network.svg")
    assert "E_total = E1 + E2" in texts and "= 0.2984" in texts
    assert "∂E_total/∂w5 = 0.08217" in texts
    # his walkthrough's notation, the tutorial's names: i1, i2, h1, o1 and the biases b1, b2
    for text in ("i1 = 0.05", "i2 = 0.1", "t1 = 0.01", "t2 = 0.99", "b1 = 0.35 (frozen)",
                 "b2 = 0.6 (frozen)", "h1 = 0.3775", "o1 = 1.106", "a_o1 = 0.7514",
                 "w5 = 0.3589"):  # h1 = 0.15·0.05 + 0.2·0.1 + 0.35; his w5+ = 0.35891648
        assert text in texts, text
    assert "x[0]" not in texts and "bias 0.35" not in texts and "t[0]" not in texts


def test_tutorial_uses_the_tutorials_notation(tmp_path, capsys):
    out = tmp_path / "t"
    assert main(["check", "--preset", "tutorial", "--steps", "2", "--backends", "manual",
                 "--out", str(out)]) == 0
    texts = svg_texts(out / "network.svg")
    assert "∂E_total/∂w5" in texts and "E_total = E1 + E2" in texts and "i1 = 0.05" in texts


def test_own_network_four_layers_of_eight(tmp_path, capsys):
    rows = ["x1,x2,t"] + [f"{a},{b},{a ^ b}" for a in (0, 1) for b in (0, 1)]
    data = tmp_path / "xor.csv"
    data.write_text("\n".join(rows) + "\n")
    out = tmp_path / "own"
    assert main(["check", "--layers", "2,8,8,8,1", "--activations", "tanh,tanh,tanh,sigmoid",
                 "--bias", "trainable", "--data", str(data), "--steps", "3", "--backends",
                 "manual", "--out", str(out)]) == 0
    texts = svg_texts(out / "network.svg")
    assert "W3[7,7] = " in texts and "∂E/∂b4[0] = " in texts
    assert (out / "landscape.png").read_bytes()[:8] == PNG_MAGIC


def test_no_plots_leaves_the_pictures_out(tmp_path, capsys):
    out = tmp_path / "np"
    assert main(["check", "--preset", "xor", "--steps", "2", "--backends", "manual",
                 "--no-plots", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    for f in PICTURES:
        assert not (out / f).exists() and f not in report["files"]
