"""The teaching files of a report folder: network.svg/.png, landscape.png and report.html.

Called from the report folders' fill callbacks (main job and ``restarts``) after the other
files are written; report.html embeds every picture that is there. Without matplotlib the
drawings are left out (with a note) and report.html is still written.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from autograd_compare.interface import Example
from autograd_compare.report import drawing, html, landscape

PICTURES = [drawing.SVG_FILE, drawing.PNG_FILE, landscape.FILE]


def have_matplotlib() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def file_names(with_plots: bool) -> list[str]:
    """What `write_main` / `write_restarts` add to the folder."""
    return ([*PICTURES] if with_plots else []) + [html.FILE]


def _network(folder: Path, run: dict[str, Any], example: Example, what: str) -> None:
    inputs, targets = np.asarray(example.inputs).tolist(), np.asarray(example.targets).tolist()
    last = run["steps"][-1]
    panels = [drawing.tutorial_panel(run, row, inputs, targets,
                                     f"{what}, lr {run['lr']:g}, step {step} "
                                     f"({'start' if row == 0 else 'last step'}), "
                                     f"backend {run['backend']}")
              for row, step in ((0, 0), (-1, last))]
    drawing.save(folder, panels)


def write_main(folder: Path, result: dict[str, Any], trace: dict[str, Any], example: Example,
               slice_: landscape.Slice, with_plots: bool = True) -> list[str]:
    """Network drawing (reference backend, last learning rate), the island, report.html."""
    reference = result["config"]["reference"]
    runs = [r for r in trace["runs"] if r["backend"] == reference]
    if with_plots and runs:
        _network(folder, runs[-1], example, "The network")
        start = np.asarray(result["config"]["weights"], dtype=np.float64)
        # a diverging rate (inf, NaN weights) is drawn as far as it is finite, without warnings
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            fig = landscape.main_figure(slice_, start, landscape.paths_from(runs, reference),
                                        example)
        landscape.save(fig, folder)
    html.write(folder, html.render_main(result, trace, folder))
    return file_names(with_plots)


def write_restarts(folder: Path, result: dict[str, Any], trace: dict[str, Any],
                   example: Example, slice_: landscape.Slice, starts: np.ndarray,
                   reached: dict[float, np.ndarray], gallery: dict[str, int],
                   with_plots: bool = True) -> list[str]:
    """Network drawing of the traced start, the island of all starts, report.html."""
    if with_plots and trace["runs"]:
        _network(folder, trace["runs"][0], example, "The median start")
        low, high = result["config"]["range"]
        fig = landscape.restarts_figure(slice_, starts, reached, gallery, (low + high) / 2,
                                        example, result["config"]["threshold"])
        landscape.save(fig, folder)
    html.write(folder, html.render_restarts(result, trace, folder))
    return file_names(with_plots)
