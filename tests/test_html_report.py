"""report.html, network.svg/png, landscape.png and the tutorial's claims, in a real Chromium.

The browser is Debian's headless Chromium driven over the DevTools protocol on a pipe
(tests/browser.py); under CI=true a missing browser is a failure (tests/conftest.py).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from autograd_compare.commands.cli import main
from autograd_compare.interface import CLASS_INPUTS, CLASS_TARGETS, CLASS_WEIGHTS
from autograd_compare.network import TUTORIAL, Data
from autograd_compare.report import claims, drawing, html, landscape
from tests.browser import CHROMIUM, INSTALL, Browser

HOSTILE = "rep <b>&\"x'</script><!--"  # a folder name that is also markup
needs_browser = pytest.mark.skipif(CHROMIUM is None, reason=INSTALL)


@pytest.fixture(scope="module")
def rep(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("html") / HOSTILE
    code = main(["--lrs", "0.8,2", "--steps", "60", "--out", str(out),
                 "--backends", "manual,torch,jax"])
    assert code == 0
    return out, json.loads((out / "report.json").read_text())


@pytest.fixture(scope="module")
def restarts_rep(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rr") / "rep"
    assert main(["restarts", "--n", "40", "--steps", "40", "--lrs", "0.5,2", "--out", str(out),
                 "--backends", "manual,torch,jax", "--landscape", "plane"]) == 0
    return out


# --- the tutorial's claims, against an independent plain-Python gradient descent -----------------
def _tutorial_loop(lr: float, steps: int) -> list[float]:
    """E_total at steps 0..steps, written like the tutorial's notebook (math module, scalars)."""
    w1, w2, w3, w4, w5, w6, w7, w8 = CLASS_WEIGHTS
    (i1, i2), (t1, t2) = CLASS_INPUTS, CLASS_TARGETS
    s = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    out = []
    for _ in range(steps + 1):
        a_h1, a_h2 = s(w1 * i1 + w2 * i2), s(w3 * i1 + w4 * i2)
        a_o1, a_o2 = s(w5 * a_h1 + w6 * a_h2), s(w7 * a_h1 + w8 * a_h2)
        out.append(0.5 * (t1 - a_o1) ** 2 + 0.5 * (t2 - a_o2) ** 2)
        d1, d2 = (a_o1 - t1) * a_o1 * (1 - a_o1), (a_o2 - t2) * a_o2 * (1 - a_o2)
        dh1 = (d1 * w5 + d2 * w7) * a_h1 * (1 - a_h1)
        dh2 = (d1 * w6 + d2 * w8) * a_h2 * (1 - a_h2)
        w1, w2, w3, w4 = w1 - lr * dh1 * i1, w2 - lr * dh1 * i2, w3 - lr * dh2 * i1, \
            w4 - lr * dh2 * i2
        w5, w6, w7, w8 = w5 - lr * d1 * a_h1, w6 - lr * d1 * a_h2, w7 - lr * d2 * a_h1, \
            w8 - lr * d2 * a_h2
    return out


def _first(loss, fraction):
    return next((k for k, e in enumerate(loss) if e < fraction * loss[0]), None)


def test_claims_in_report_json_match_an_independent_loop(rep):
    _, result = rep
    for c in result["claims"]:
        loss = _tutorial_loop(c["lr"], 60)
        assert [b["step"] for b in c["first_step_below"]] == [_first(loss, 0.01),
                                                               _first(loss, 0.001)]
        assert c["tutorial_iterations"] == {0.8: 80, 2.0: 25}[c["lr"]]
    by_lr = {c["lr"]: c for c in result["claims"]}
    assert [b["step"] for b in by_lr[2.0]["first_step_below"]] == [36, 53]  # printed below
    assert by_lr[0.8]["first_step_below"][0]["step"] is None  # 91 > 60 steps
    assert "not below 1 % within 60 steps" in by_lr[0.8]["sentence"]


def test_claims_at_the_tutorials_rates_over_100_steps():
    measured = {lr: claims.check(lr, _tutorial_loop(lr, 100)) for lr in (2.0, 1.0, 0.8)}
    assert {lr: c.first_below for lr, c in measured.items()} == {
        2.0: (36, 53), 1.0: (72, None), 0.8: (91, None)}
    assert claims.sentence(measured[2.0]).startswith("lr 2: the tutorial says about 25")
    assert "1.4 times" in claims.sentence(measured[2.0])


def test_claims_table_is_printed(rep, capsys):
    out, _ = rep
    assert main(["--lrs", "2", "--steps", "60", "--backends", "manual",
                 "--out", str(out.parent / "t")]) == 0
    text = capsys.readouterr().out
    assert "The tutorial's claim checked" in text and re.search(r"2\s+~25\s+36\s+53", text)


# --- the file itself ---------------------------------------------------------------------------
def test_html_is_self_contained_and_escapes_user_text(rep):
    out, result = rep
    text = (out / "report.html").read_text(encoding="utf-8")
    assert text.index('id="verdict"') < text.index("<table")  # verdict first
    assert HOSTILE not in text and "<b>&" not in text
    assert html.escape(HOSTILE) in text  # the folder name shown, escaped
    srcs = re.findall(r'(?:src|href)="([^"]*)"', text)
    assert srcs and all(s.startswith("data:image/") for s in srcs)
    assert "http://" not in text and "https://" not in text and "<link" not in text
    pngs = sorted(p.name for p in out.iterdir() if p.suffix == ".png")
    assert text.count("data:image/png;base64,") == len(pngs)  # every plot embedded
    assert result["files"][-4:] == ["network.svg", "network.png", "landscape.png", "report.html"]


def test_embedded_json_cannot_end_its_script():
    data = {"label": "</script><script>alert(1)</script><!-- & >"}
    tag = html.json_script(data, "d")
    inner = tag[tag.index(">") + 1: tag.rindex("</script>")]
    assert "<" not in inner and ">" not in inner
    assert json.loads(inner) == data


def test_network_drawing_has_the_tutorial_numbers(rep):
    out, _ = rep
    svg = (out / "network.svg").read_text(encoding="utf-8")
    # the class example by hand: h1 = 0.15*0.05 + 0.2*0.1, w5 = 0.4, t1 = 0.5
    for text in ("h1 = 0.0275", "i1 = 0.05", "w5 = 0.4", "w8 = 0.55", "t1 = 0.5",
                 "∂E_total/∂w5 = 0.01288", "step 0 (start)", "step 60 (last step)"):
        assert text in svg, text
    assert (out / "network.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_weight_numbering_follows_the_tutorial():
    sizes = (2, 2, 2)
    assert [drawing.weight_index(sizes, 0, j, i) + 1 for j in (0, 1) for i in (0, 1)] == \
        [1, 2, 3, 4]  # h1 <- i1 (w1), h1 <- i2 (w2), h2 <- i1 (w3), h2 <- i2 (w4)
    assert drawing.weight_index(sizes, 1, 1, 0) + 1 == 7  # o2 <- a_h1
    assert drawing.weight_index((8, 8, 8, 8), 2, 7, 7) == 3 * 64 - 1


def test_four_layers_of_eight_draw(tmp_path):
    sizes = (8, 8, 8, 8)
    nodes = [[f"n{l}.{j}" for j in range(n)] for l, n in enumerate(sizes)]
    edges = {(l, j, i): f"w{drawing.weight_index(sizes, l, j, i) + 1}"
             for l in range(3) for j in range(8) for i in range(8)}
    assert drawing.save(tmp_path, [drawing.Panel("big", sizes, nodes, edges, ["E"])]) == \
        ["network.svg", "network.png"]
    assert "w192" in (tmp_path / "network.svg").read_text()


# --- the landscape ------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["w5", "w5,w5", "w9,w1", "plain", "w1,w2,w3", ""])
def test_bad_landscape_is_a_one_line_error(bad, tmp_path, capsys):
    assert main(["--backends", "manual", "--steps", "1", "--lrs", "1", "--landscape", bad,
                 "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--landscape must be 'plane' or two different parameters" \
        in err
    assert not (tmp_path / "r").exists()


def test_plane_holds_the_start_and_the_farthest_end():
    start = np.array(CLASS_WEIGHTS)
    ends = np.array([start + 0.3 * np.eye(8)[4], start + np.eye(8)[2] - np.eye(8)[1]])
    frame = landscape.plane_frame(start, ends)
    np.testing.assert_allclose(frame.project(start), [0, 0], atol=1e-15)
    np.testing.assert_allclose(frame.project(ends[1]), [math.sqrt(2), 0], rtol=1e-14)
    np.testing.assert_allclose(frame.project(ends[0]) @ frame.project(ends[0]), 0.09, rtol=1e-14)
    # the contours are E_total of the slice's own weights
    A, B = np.meshgrid(np.linspace(0, 1, 5), np.linspace(0, 1, 5))
    data = Data(np.array([CLASS_INPUTS]), np.array([CLASS_TARGETS]))
    E = landscape.plane_loss(TUTORIAL, frame, A, B, data)
    assert A[0, 0] == 0 and B[0, 0] == 0
    np.testing.assert_allclose(E[0, 0], 0.014181377937891657, rtol=1e-14)


def test_slice_of_two_weights(tmp_path):
    assert main(["--backends", "manual", "--steps", "5", "--lrs", "1", "--landscape", "w5,w6",
                 "--out", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / "landscape.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    frame = landscape.axes_frame(landscape.parse("W5, w6"), np.array(CLASS_WEIGHTS))
    np.testing.assert_allclose(frame.project(np.array(CLASS_WEIGHTS)), [0.4, 0.45])


# --- in the browser ------------------------------------------------------------------------------
def _trace_values(out: Path, lr: str, backend: str) -> list[dict]:
    rows = csv.DictReader(io.StringIO((out / "trace.csv").read_text()))
    return [r for r in rows if r["lr"] == lr and r["backend"] == backend]


def _not_blank(png: bytes) -> None:
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    pixels = np.asarray(image, dtype=np.float64)
    assert image.size[0] >= 800 and pixels.std() > 10, "screenshot is blank"
    assert len(image.getcolors(1 << 24)) > 50  # text, tables and colours, not one fill


@needs_browser
def test_report_in_chromium(rep, tmp_path):
    out, result = rep
    with Browser() as b:
        b.open(out / "report.html")
        assert b.errors() == []
        verdict = b.evaluate("document.getElementById('verdict').textContent")
        assert verdict.startswith("OK: every backend agrees")
        count = "document.querySelector('#%s tbody').rows.length"
        assert b.evaluate(count % "backends-table") == 2 * 2  # every rate, torch and jax
        assert b.evaluate(count % "gradcheck-table") == 16
        assert b.evaluate(count % "claims-table") == 2
        # step 0 and step 60 of the first rate, every backend: E_total as in trace.csv
        rows = b.evaluate("Array.from(document.querySelectorAll('#steps-table tbody tr'))"
                          ".map(r => Array.from(r.cells).map(c => c.textContent))")
        e_total = next(r for r in rows if r[0] == "E_total")
        csv_rows = _trace_values(out, "0.8", "jax")
        assert float(e_total[3]) == float(csv_rows[0]["E_total"])  # jax, step 0
        assert float(e_total[6]) == float(csv_rows[60]["E_total"]) < float(e_total[3])
        dw5 = next(r for r in rows if r[0] == "dw5")
        assert float(dw5[2]) == pytest.approx(0.012880818631628247, rel=4e-16, abs=0)  # torch
        assert b.errors() == []
        png = b.screenshot()
        _not_blank(png)
        (tmp_path / "shot.png").write_bytes(png)


@needs_browser
def test_report_without_javascript_has_all_static_content(rep):
    out, _ = rep
    with Browser() as b:
        b.open(out / "report.html", javascript=False)
        assert b.errors() == []
        text = b.evaluate("document.body.innerText")
        assert "OK: every backend agrees" in text and "The tutorial's claims checked" in text
        assert "dE_total/dw5" in text and "E_total" in text  # the tutorial's notation
        assert b.evaluate("document.querySelectorAll('img').length") >= 6
        assert b.evaluate("Array.from(document.images).every(i => i.naturalWidth > 0)")
        _not_blank(b.screenshot())


@needs_browser
def test_restarts_report_in_chromium(restarts_rep):
    names = {p.name for p in restarts_rep.iterdir()}
    assert {"report.html", "landscape.png", "network.svg", "network.png"} <= names
    with Browser() as b:
        b.open(restarts_rep / "report.html")
        assert b.errors() == []
        assert b.evaluate("document.getElementById('verdict').textContent").startswith("OK")
        assert b.evaluate("document.querySelector('#restarts-table tbody').rows.length") == 6
        label = "document.getElementById('step-label').textContent"
        assert b.evaluate(label) == "lr 0.5, step 0 of 40"
        b.evaluate("document.getElementById('step-next').click()")
        assert b.evaluate(label) == "lr 0.5, step 1 of 40"
        _not_blank(b.screenshot())


@needs_browser
def test_restarts_report_on_any_network_in_chromium(tmp_path, capsys):
    """XOR's island: the same report.html, without the tutorial's step table and drawing (and
    so without a script); the folder name escaped."""
    out = tmp_path / HOSTILE
    assert main(["restarts", "--preset", "xor", "--n", "80", "--steps", "400", "--lrs",
                 "0.5,2", "--backends", "manual,torch,jax", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    text = (out / "report.html").read_text()
    assert "<script" not in text and "<b>&" not in text and "step-table" not in text
    with Browser() as b:
        b.open(out / "report.html")
        assert b.errors() == []
        assert b.evaluate("document.getElementById('verdict').textContent").startswith("OK")
        rows = "document.querySelector('#restarts-table tbody').rows"
        assert b.evaluate(f"{rows}.length") == 2 * 3
        reached = b.evaluate(f"{rows}[0].cells[5].textContent")
        assert reached == f"{report['per_lr'][0]['backends']['manual']['reached_fraction']:.1%}"
        stuck = b.evaluate(f"{rows}[0].cells[6].textContent")
        assert stuck == str(report["per_lr"][0]["backends"]["manual"]["stuck"])
        assert b.evaluate("document.images.length") == 5  # island, final loss, outcomes,
        #                                                    steps, gallery
        assert HOSTILE in b.evaluate("document.getElementById('config').innerText")
