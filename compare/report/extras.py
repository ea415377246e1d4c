"""The teaching files of a report folder: network.svg/.png, landscape.png and report.html.

Called from the report folders' fill callbacks (main job and ``restarts``) after the other
files are written; report.html embeds every picture that is there. Without matplotlib the
drawings are left out (with a note) and report.html is still written.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
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


def network_panels(run: dict[str, Any], example: Example, what: str) -> list[drawing.Panel]:
    """The two panels of network.svg/png: ``run`` (a `steps.as_json` run) at its first and
    last recorded step."""
    inputs, targets = np.asarray(example.inputs).tolist(), np.asarray(example.targets).tolist()
    last = run["steps"][-1]
    return [drawing.tutorial_panel(run, row, inputs, targets,
                                   f"{what}, lr {run['lr']:g}, step {step} "
                                   f"({'start' if row == 0 else 'last step'}), "
                                   f"backend {run['backend']}")
            for row, step in ((0, 0), (-1, last))]


def main_drawings(reference: str, weights: Sequence[float], trace: dict[str, Any],
                  example: Example, slice_: landscape.Slice) -> dict[str, tuple[Any, ...]] | None:
    """What `write_main` draws ("network": the panels, "landscape": `landscape_png`'s
    arguments); None when there is nothing to draw (no run of the reference).
    ``weights``: the start (report.json's config.weights)."""
    runs = [r for r in trace["runs"] if r["backend"] == reference]
    if not runs:
        return None
    start = np.asarray(weights, dtype=np.float64)
    return {"network": (network_panels(runs[-1], example, "The network"),),
            "landscape": (slice_, start, landscape.paths_from(runs, reference), example)}


def landscape_png(slice_: landscape.Slice, start: np.ndarray, paths: dict[float, np.ndarray],
                  example: Example) -> bytes:
    """landscape.png of the main job: ``paths`` lr -> (K, 8) weights of the reference."""
    # a diverging rate (inf, NaN weights) is drawn as far as it is finite, without warnings
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        fig = landscape.main_figure(slice_, start, paths, example)
    return landscape.png(fig)


def write_main(folder: Path, result: dict[str, Any], trace: dict[str, Any], example: Example,
               slice_: landscape.Slice, with_plots: bool = True) -> list[str]:
    """Network drawing (reference backend, last learning rate), the island, report.html."""
    config = result["config"]
    tasks = (main_drawings(config["reference"], config["weights"], trace, example, slice_)
             if with_plots else None)
    if tasks is not None:
        network = drawing.render(*tasks["network"])
        island = landscape_png(*tasks["landscape"])
        for name, data in [*network.items(), (landscape.FILE, island)]:
            (folder / name).write_bytes(data)
    html.write(folder, html.render_main(result, trace, folder))
    return file_names(with_plots)


def write_restarts(folder: Path, trace: dict[str, Any], example: Example,
                   slice_: landscape.Slice, starts: np.ndarray, reached: dict[float, np.ndarray],
                   gallery: dict[str, int], centre: float, threshold: float) -> None:
    """The tutorial's restart pictures: the traced start's network drawing, the island of
    ``starts`` (green: ``reached``) with the ``gallery`` starts, the other weights at
    ``centre``."""
    if trace["runs"]:
        drawing.save(folder, network_panels(trace["runs"][0], example, "The median start"))
        landscape.save(landscape.restarts_figure(slice_, starts, reached, gallery, centre,
                                                 example, threshold), folder)
