"""Redraw the docs' pictures from the main job, so they never show an older report.

    python tools/screenshots.py [--docs DIR]

Runs the default main job (``autograd-compare --out report``: the class example, every
installed backend) in a temporary folder and writes into ``docs/`` (or DIR):

* ``report-html.png``: the top of its report.html in headless Chromium, `WINDOW` pixels
  (README.md, docs/report.md);
* ``lr_sweep.png``: its loss-all-lrs.png (docs/teaching.md);
* ``network.png``: its network.png (README.md, docs/report.md).

`PICTURES` is the one list of them; tests/test_screenshots.py checks that it is exactly what
the docs show. Slow (the main job, then Chromium: about 10 s); needs matplotlib and Chromium
(Debian's ``chromium``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SCREENSHOT = "report.html"  # the report file drawn by Chromium rather than copied
PICTURES = {  # docs picture -> the report file it shows
    "report-html.png": SCREENSHOT,
    "lr_sweep.png": "loss-all-lrs.png",
    "network.png": "network.png",
}
WINDOW = (1200, 1500)  # Chromium's window in CSS pixels: the verdict, settings, data, check
REPORT = "report"  # the folder name report.html shows in its settings
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def main_job(where: Path) -> Path:
    """The default main job's report folder, written under ``where``."""
    subprocess.run([sys.executable, "-m", "autograd_compare", "--out", REPORT], cwd=where,
                   check=True, stdout=subprocess.DEVNULL)
    return where / REPORT


def browser() -> str:
    found = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if found is None:
        raise SystemExit("screenshots: no Chromium found; install it with: "
                         "apt-get install --no-install-recommends chromium")
    return found


def screenshot(page: Path, out: Path, window: tuple[int, int] = WINDOW) -> None:
    """``page`` as headless Chromium shows it in a ``window`` (width, height), into ``out``."""
    with tempfile.TemporaryDirectory(prefix="screenshots-profile-") as profile:
        subprocess.run([browser(), "--headless", "--no-sandbox", "--disable-gpu",
                        "--hide-scrollbars", f"--user-data-dir={profile}",
                        f"--window-size={window[0]},{window[1]}", f"--screenshot={out}",
                        page.resolve().as_uri()],
                       check=True, timeout=120, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    if not out.is_file() or out.stat().st_size == 0:
        raise SystemExit(f"screenshots: Chromium wrote no {out}")


def refresh(docs: Path = DOCS) -> list[Path]:
    """Every picture of `PICTURES` into ``docs``, from one fresh main job."""
    written = []
    with tempfile.TemporaryDirectory(prefix="screenshots-") as tmp:
        report = main_job(Path(tmp))
        for picture, source in PICTURES.items():
            out = docs / picture
            if source == SCREENSHOT:
                screenshot(report / source, out)
            else:
                shutil.copyfile(report / source, out)
            written.append(out)
    return written


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=Path, default=DOCS, help="where to write (docs/)")
    for path in refresh(parser.parse_args().docs):
        print(path)
