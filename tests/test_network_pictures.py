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


# --- landscape.png read by a student: the axes in words, the paths apart ----------------------
def _line_paths():
    """Three paths from the tutorial's start along one direction d (0.8 on w7, 0.6 on w5),
    0.2, 0.5 and 1 long (lr 0.1, 0.5, 2, 10 steps each), lr 0.5's bent 0.1 along w1 at step 5:
    the plane's first direction is d (towards lr 2's end, the farthest), the second w1."""
    import numpy as np

    from autograd_compare import network

    p = network.preset("tutorial")
    d = np.zeros(8)
    d[6], d[4] = 0.8, 0.6
    paths = {lr: p.weights + np.linspace(0, length, 11)[:, None] * d
             for lr, length in ((0.1, 0.2), (0.5, 0.5), (2.0, 1.0))}
    paths[0.5][5, 0] += 0.1
    return p, paths


def test_landscape_plane_axes_are_named_by_the_weights_they_move():
    from autograd_compare.report import landscape

    p, paths = _line_paths()
    fig = landscape.network_figure(p.network, paths, "manual", p.data)
    ax = fig.axes[0]
    assert ax.get_xlabel() == ("direction 1: from the start towards lr 2 at step 10 (mostly w7, "
                               "w5);\ndistance in parameter space")
    assert ax.get_ylabel() == "direction 2, at right angles to direction 1 (mostly w1)"
    title = ax.get_title()
    assert title.startswith("Where does training go on the E_total landscape at each "
                            "learning rate?\n")
    assert "all 8 parameters change along it" in title
    assert not any(w in title + ax.get_xlabel() for w in ("slice 'plane'", "along u"))
    # the legend in learning-rate order; each end labelled with its rate
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["lr = 0.1 (10 steps, manual)", "lr = 0.5 (10 steps, manual)",
                      "lr = 2 (10 steps, manual)", "start"]
    assert sorted(t.get_text() for t in ax.texts) == ["lr 0.1", "lr 0.5", "lr 2"]
    # paths along one valley stay apart: the longer the path, the wider its line, underneath
    width = {ln.get_linewidth(): ln.get_zorder() for ln in ax.lines if ln.get_linestyle() == "-"}
    assert sorted(width, reverse=True) == [4.1, 2.8, 1.5]
    assert [width[w] for w in (4.1, 2.8, 1.5)] == [2, 3, 4]
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_landscape_two_parameters_are_the_axes():
    from autograd_compare.report import landscape

    p, paths = _line_paths()
    fig = landscape.network_figure(p.network, paths, "manual", p.data, landscape.parse("w5,w6"))
    ax = fig.axes[0]
    assert ax.get_xlabel() == "w5 (the other parameters at their start)"
    assert ax.get_ylabel() == "w6 (the other parameters at their start)"
    assert "E_total as w5 and w6 change, the other 6 parameters at their start" in ax.get_title()
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_direction_names_the_parameters_that_make_most_of_it():
    import numpy as np

    from autograd_compare.report import landscape

    names = [f"p{j}" for j in range(6)]
    # squared shares 0.49, 0.25, 0.16, 0.1: the first two hold 0.74 < 3/4, three 0.90
    d = np.array([0.0, 0.5, -0.7, 0.0, 0.4, np.sqrt(0.1)])
    assert landscape.direction_label(d, names, 2, {}) == \
        "direction 2, at right angles to direction 1 (mostly p2, p1, p4)"
    assert landscape.farthest({0.1: np.array([[0.0, 0], [3, 4], [1, 1]]),
                               1.0: np.array([[0.0, 0], [4, 0]])}) == (0.1, 1)


def test_network_drawing_of_the_main_job_asks_its_question(tmp_path, capsys):
    from autograd_compare.report import drawing

    out = tmp_path / "r"
    assert main(["--backends", "manual", "--steps", "2", "--lrs", "1", "--out", str(out)]) == 0
    assert drawing.QUESTION in svg_texts(out / "network.svg")
