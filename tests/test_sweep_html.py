"""report.html of the main job with an optimizer (``optimizers`` is its alias) in a real
Chromium (tests/browser.py)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from autograd_compare.commands.cli import main
from tests.browser import CHROMIUM, INSTALL, Browser

pytest.importorskip("torch")
pytest.importorskip("optax")
HOSTILE = "opt <b>&\"x'</script><!--"  # a folder name that is also markup
needs_browser = pytest.mark.skipif(CHROMIUM is None, reason=INSTALL)

@pytest.fixture(autouse=True)
def _in_a_temporary_folder(tmp_path, monkeypatch):
    """The main job writes its default report folder into the working folder: not the repo."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("optim-html")
    ok, bad = base / HOSTILE, base / "bad"
    assert main(["optimizers", "--preset", "xor", "--optimizer", "adam", "--lrs", "0.5,1",
                 "--steps", "8", "--out", str(ok)]) == 0
    assert main(["optimizers", "--optimizer", "momentum", "--weight-decay", "0.1", "--lrs",
                 "0.5", "--steps", "4", "--backends", "manual,torch,mistake:weight-decay-sign",
                 "--out", str(bad), "--no-plots"]) == 1
    return ok, bad


def _not_blank(png: bytes) -> None:
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size[0] >= 800 and np.asarray(image, np.float64).std() > 10
    assert len(image.getcolors(1 << 24)) > 50


def test_html_is_listed_self_contained_and_escaped(reports):
    ok, _ = reports
    report = json.loads((ok / "report.json").read_text())
    assert "report.html" in report["files"]
    text = (ok / "report.html").read_text()
    assert HOSTILE not in text and "&lt;b&gt;&amp;" in text  # the folder name, escaped
    assert "http://" not in text and "https://" not in text  # nothing fetched
    # loss-lr-0.5, loss-lr-1, loss-all-lrs, differences, network (its PNG, not the SVG too),
    # landscape
    assert text.count("data:image/png;base64,") == 6


@needs_browser
def test_optimizer_report_in_chromium(reports, tmp_path):
    ok, _ = reports
    rows = list(csv.DictReader((ok / "trace.csv").read_text().splitlines()))
    with Browser() as b:
        b.open(ok / "report.html")
        assert b.errors() == []
        assert b.evaluate("document.getElementById('verdict').textContent").startswith("OK")
        body = "document.querySelector('#%s tbody').rows"
        assert b.evaluate(f"{body % 'backends-table'}.length") == 4  # 2 lrs × torch, jax
        settings = b.evaluate("document.getElementById('config-table').innerText")
        assert "adam(betas=(0.9, 0.999), eps=1e-08)" in settings and HOSTILE in settings
        # the step table: quantity, then manual, torch, jax at step 0, then after update 8
        names = b.evaluate(f"Array.from({body % 'steps-table'}).map(r => r.cells[0].textContent)")
        assert names[:2] == ["W1[0,0]", "W1[0,1]"] and names[9:11] == ["E", "dW1[0,0]"]
        assert "v_hat_W2[0,1]" in names
        row = names.index("m_W2[0,1]")
        cell = f"{body % 'steps-table'}[{row}].cells[%d].textContent"
        want = next(r for r in rows if r["lr"] == "0.5" and r["backend"] == "jax"
                    and r["step"] == "8")
        assert float(b.evaluate(cell % 6)) == float(want["m_W2[0,1]"])
        assert b.evaluate("Array.from(document.images).every(i => i.naturalWidth > 0)")
        assert b.evaluate("document.images.length") == 6
        png = b.screenshot()
        _not_blank(png)
        (tmp_path / "shot.png").write_bytes(png)


@needs_browser
def test_a_divergence_is_named_in_the_page(reports):
    _, bad = reports
    with Browser() as b:
        b.open(bad / "report.html", javascript=False)
        assert b.errors() == []
        verdict = b.evaluate("document.getElementById('verdict').textContent")
        assert verdict.startswith("FAIL") and "v1 after step 1" in verdict
        text = b.evaluate("document.getElementById('backends-table').innerText")
        assert "DIVERGES at v1 after step 1" in text
        assert b.evaluate("document.images.length") == 0
