"""tools/screenshots.py writes exactly the pictures the README and the docs show (cheap: the
script itself, a main job and Chromium, is not run here)."""

from __future__ import annotations

import importlib.util
import re
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# ![alt](x.png), [text](x.png) and <img src="x.png">: every way a page here shows a picture
PICTURE = re.compile(r"\]\(([^)\s]+\.png)\)|<img [^>]*src=\"([^\"]+\.png)\"")


def _script():
    spec = importlib.util.spec_from_file_location("screenshots", ROOT / "tools" / "screenshots.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def referenced(pages: list[Path]) -> set[Path]:
    """Every picture file the pages show or link, resolved from the page's own folder."""
    found = set()
    for page in pages:
        for match in PICTURE.finditer(page.read_text()):
            found.add((page.parent / (match.group(1) or match.group(2))).resolve())
    return found


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", data[16:24])


def test_the_script_writes_every_picture_the_docs_show_and_nothing_else():
    script = _script()
    written = {(script.DOCS / name).resolve() for name in script.PICTURES}
    assert referenced(PAGES) == written
    for path in written:
        assert _png_size(path) > (0, 0)


def test_the_script_copies_files_the_main_job_writes():
    """Each picture comes from a file of the default main job's report folder."""
    from autograd_compare import LEARNING_RATES
    from autograd_compare.report import sweep

    files = sweep.file_names(True, LEARNING_RATES)
    assert set(_script().PICTURES.values()) <= set(files)


def test_the_committed_screenshot_has_the_scripts_window():
    script = _script()
    assert _png_size(script.DOCS / "report-html.png") == script.WINDOW


def test_referenced_finds_each_way_a_page_shows_a_picture(tmp_path):
    """Mutation guard for the regular expression: each of the three forms is found."""
    page = tmp_path / "page.md"
    page.write_text('![a](one.png) see [the drawing](sub/two.png)\n'
                    '<img src="three.png" alt="x" width="600"> and [not a picture](x.md)\n')
    assert referenced([page]) == {(tmp_path / n).resolve()
                                  for n in ("one.png", "sub/two.png", "three.png")}


def test_no_page_names_the_old_sweep_script():
    """docs/lr_sweep.png had its own script (notebooks/make_sweep_plot.py); now only this one
    writes it."""
    for page in PAGES:
        assert "make_sweep_plot" not in page.read_text(), page
