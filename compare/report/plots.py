"""The report's pictures (matplotlib, Agg backend, imported only here and only when needed)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from autograd_compare.errors import CompareError
from autograd_compare.harness.trajectory import LrResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

INSTALL_HINT = "pip install 'autograd-compare[plot]'"
FLOOR = 1e-20  # where an exact agreement (difference 0) is drawn on a log axis
CEILING = 1e200  # larger differences are drawn here: a log axis up to 1e308 overflows its ticks
LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1)), (0, (1, 3)))
DPI = 110


class PlotsUnavailable(CompareError):
    """matplotlib is not installed."""


def pyplot() -> ModuleType:
    try:
        import matplotlib
    except ImportError:
        raise PlotsUnavailable(f"plots need matplotlib; install it with: {INSTALL_HINT}") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def loss_file(lr: float) -> str:
    return f"loss-lr-{lr:g}.png"


def loss_files(lrs: Sequence[float]) -> list[str]:
    """One file name per learning rate, distinct even when two rates print alike with ``:g``
    (0.5 and 0.5000001): those get as many digits as tell them apart."""
    for digits in range(6, 18):
        names = [f"loss-lr-{lr:.{digits}g}.png" for lr in lrs]
        if len(set(names)) == len(names):
            return names
    return [f"loss-lr-{lr!r}.png" for lr in lrs]


ALL_LRS_FILE, DIFF_FILE = "loss-all-lrs.png", "differences.png"


def save_all(folder: Path, lr_results: Sequence[LrResult]) -> list[str]:
    """Write every PNG into ``folder``; return their file names.

    The per-rate pictures share one figure, redrawn for each rate: its axes, labels and ticks
    are made once (a fresh figure per rate gives the same bytes, more slowly).
    """
    plt = pyplot()
    fig: Figure
    fig, ax = plt.subplots(figsize=(7, 4.5))
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.12, top=0.92)  # fixed: fast
    ax.set_xlabel("iteration (gradient-descent step)")
    ax.set_ylabel("E_total")
    ax.grid(alpha=0.3)
    names = []
    try:
        for r, name in zip(lr_results, loss_files([r.lr for r in lr_results]), strict=True):
            _loss_one_lr(ax, r)
            names.append(save_figure(plt, fig, folder / name, close=False))
    finally:
        plt.close(fig)
    return names + save_overlays(folder, lr_results)


def save_overlays(folder: Path, lr_results: Sequence[LrResult]) -> list[str]:
    """Only the pictures of every learning rate together (the overlay and the differences)."""
    plt = pyplot()
    names: list[str] = []
    names.append(save_figure(plt, _loss_all_lrs(plt, lr_results), folder / ALL_LRS_FILE))
    names.append(save_figure(plt, _differences(plt, lr_results), folder / DIFF_FILE))
    return names


def save_figure(plt: ModuleType, fig: Figure, path: Path, close: bool = True) -> str:
    _pin_titles(fig)
    fig.savefig(path, dpi=DPI, format="png")
    if close:
        plt.close(fig)
    return path.name


def _pin_titles(fig: Figure) -> None:
    """Titles at their usual place (y = 1), fixed, where matplotlib would put them there anyway.

    An automatic title makes every draw lay out all tick labels of both axes once more just
    to see whether they reach the title: about half of a figure's drawing time. The title is
    moved only by x tick labels on top (we have none) or a y-axis offset text such as "1e-5"
    or "+1" (checked here, and left automatic when there is one).
    """
    for ax in fig.axes:
        fmt = ax.yaxis.get_major_formatter()
        if hasattr(fmt, "set_locs"):
            # the stub says list[float]; matplotlib's own Axis passes this same ndarray
            fmt.set_locs(ax.yaxis.get_majorticklocs())  # type: ignore[arg-type]
        if not fmt.get_offset() and ax.title.get_text():
            ax.set_title(ax.get_title(), y=1.0)


def line_style(i: int) -> dict[str, Any]:
    """Backend i: the reference thick and pale underneath, the others thin on top."""
    if i == 0:
        return {"linewidth": 5, "alpha": 0.35, "linestyle": "-"}
    return {"linewidth": 1.6, "linestyle": LINESTYLES[i % len(LINESTYLES)]}


def _loss_one_lr(ax: Axes, r: LrResult) -> None:
    """Rate ``r``'s picture on ``ax`` (`save_all`'s), replacing the previous rate's lines."""
    for line in list(ax.lines):
        line.remove()
    legend = ax.get_legend()
    if legend is not None:
        legend.remove()
    ax.set_prop_cycle(None)  # the backends' colours from the first again
    ax.relim()  # the limits of this rate's lines only
    for i, (name, run) in enumerate(r.runs.items()):
        label = f"{name} (reference)" if name == r.reference else name
        ax.plot(np.arange(run.nodes.shape[0]), run.nodes[:, -1], label=label, **line_style(i))
    verdict = "all backends agree" if r.ok else "backends DISAGREE"
    ax.set_title(f"Learning rate {r.lr:g}: E_total = E1 + E2 per iteration ({verdict})")
    ax.legend(title="backend", loc="upper right")  # "best" warns when it takes long


def _loss_all_lrs(plt: ModuleType, lr_results: Sequence[LrResult]) -> Figure:
    fig: Figure
    fig, ax = plt.subplots(figsize=(9, 5))
    fig.subplots_adjust(left=0.09, right=0.64, bottom=0.11, top=0.93)  # legends on the right
    colors = plt.get_cmap("tab10").colors
    backends = list(lr_results[0].runs) if lr_results else []
    for j, r in enumerate(lr_results):
        for i, run in enumerate(r.runs.values()):
            ax.plot(np.arange(run.nodes.shape[0]), run.nodes[:, -1], color=colors[j % 10],
                    **line_style(i))
    ax.set_title("E_total per iteration for every learning rate")
    ax.set_xlabel("iteration (gradient-descent step)")
    ax.set_ylabel("E_total")
    ax.grid(alpha=0.3)
    legends(plt, ax, [r.lr for r in lr_results], backends, line_style)
    return fig


def legends(plt: ModuleType, ax: Axes, lrs: Sequence[float], backends: Sequence[str],
             style: Callable[[int], dict[str, Any]], first: int = 0,
             extra: Line2D | None = None) -> None:
    """Two legends right of ``ax``: colour = learning rate (rate j: colour ``first + j``),
    line style = backend."""
    colors = plt.get_cmap("tab10").colors
    handles = [plt.Line2D([], [], color=colors[(first + j) % 10], linewidth=3)
               for j in range(len(lrs))]
    rates = ax.legend(handles, [f"lr = {lr:g}" for lr in lrs], title="learning rate",
                      loc="upper left", bbox_to_anchor=(1.02, 1), fontsize="small")
    ax.add_artist(rates)
    handles = [plt.Line2D([], [], color="grey", **style(i)) for i in range(len(backends))]
    labels = list(backends)
    if extra is not None:
        handles, labels = handles + [extra], labels + [str(extra.get_label())]
    ax.legend(handles, labels, title="backend", loc="lower left", bbox_to_anchor=(1.02, 0),
              fontsize="small")


def _differences(plt: ModuleType, lr_results: Sequence[LrResult]) -> Figure:
    fig: Figure
    fig, (ax_abs, ax_ratio) = plt.subplots(1, 2, figsize=(13, 4.8))
    fig.subplots_adjust(left=0.06, right=0.74, bottom=0.11, top=0.93, wspace=0.28)
    colors = plt.get_cmap("tab10").colors
    compared = positive = False
    for j, r in enumerate(lr_results):
        for i, c in enumerate(r.comparisons.values(), start=1):
            steps = np.arange(c.diff.shape[0])
            largest = np.max(c.diff, axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.max(np.where(c.diff > 0, c.diff / c.tolerance, 0.0), axis=1)
            style = dict(color=colors[j % 10], linewidth=1.2, marker="o", markersize=2.5,
                         linestyle=LINESTYLES[i % len(LINESTYLES)])
            ax_abs.plot(steps, gap(largest), **style)
            ax_ratio.plot(steps, gap(ratio), **style)
            compared, positive = True, positive or bool(np.any(largest > 0))
    reference = lr_results[0].reference if lr_results else "-"
    ax_abs.set_title(f"Largest |difference| from {reference} over all 27 quantities")
    ax_abs.set_ylabel("|backend - reference|  (gaps: exactly 0)")
    ax_ratio.axhline(1.0, color="red", linewidth=1.5, label="tolerance (fail above)")
    ax_ratio.set_title("Largest difference / tolerance")
    ax_ratio.set_ylabel("difference / tolerance  (gaps: exactly 0)")
    others = list(lr_results[0].comparisons) if compared else []
    finish_differences(plt, ax_abs, ax_ratio, [r.lr for r in lr_results], others, positive,
                       "iteration (gradient-descent step)")
    return fig


def finish_differences(plt: ModuleType, ax_abs: Axes, ax_ratio: Axes, lrs: Sequence[float],
                       compared: Sequence[str], positive: bool, xlabel: str) -> None:
    """The differences figure's axes, legends and its note when nothing differs (the main
    job's and the one job's on any network)."""
    for ax in (ax_abs, ax_ratio):
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
        if positive:
            ax.set_yscale("log")
    if compared:
        legends(plt, ax_ratio, lrs, list(compared),
                lambda i: {"linestyle": LINESTYLES[(i + 1) % len(LINESTYLES)], "marker": "o",
                           "markersize": 2.5}, extra=ax_ratio.lines[-1])
    message = ("only one backend: nothing to compare" if not compared else
               None if positive else "every backend equals the reference exactly")
    if message:
        for ax in (ax_abs, ax_ratio):
            ax.text(0.5, 0.5, message, ha="center", transform=ax.transAxes)


def gap(y: np.ndarray) -> np.ndarray:
    """``y`` with NaN (a gap in the line) where it is 0 or not finite (nothing on a log axis),
    and at most `CEILING`."""
    return np.where((y > 0) & np.isfinite(y), np.minimum(y, CEILING), np.nan)
