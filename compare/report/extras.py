"""The teaching files of a report folder: network.svg/.png, landscape.png and report.html.

Called from the report folders' fill callbacks (main job and ``restarts``) after the other
files are written; report.html embeds every picture that is there. Without matplotlib the
drawings are left out (with a note) and report.html is still written.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from autograd_compare.interface import Example
from autograd_compare.report import drawing, landscape

PICTURES = [drawing.SVG_FILE, drawing.PNG_FILE, landscape.FILE]


def have_matplotlib() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def write_restarts(folder: Path, trace: dict[str, Any], example: Example) -> None:
    """The tutorial's restart drawing: the traced start's network (the island, landscape.png,
    is the study's own picture on every network: `restarts_plots.save_all`)."""
    if trace["runs"]:
        drawing.save(folder, drawing.recorded_panels(trace["runs"][0], example, "The median start"))
