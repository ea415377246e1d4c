"""The restart study's pictures, the same for every network: final-loss distributions, steps to
the threshold (plain gradient descent: an optimizer's are not counted), a gallery.

Drawn with the report's matplotlib set-up (`plots`: Agg backend, one line style per backend,
the grid of panels, DPI).
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from autograd_compare.network import loss_name
from autograd_compare.report.plots import grid, line_style, pyplot, save_figure

if TYPE_CHECKING:  # the study sits above the report; only its result type is needed here
    from matplotlib.figure import Figure

    from autograd_compare.study.restarts import Curve, Outcome

FINAL_LOSS_FILE = "final-loss.png"
STEPS_FILE = "steps-to-threshold.png"
GALLERY_FILE = "gallery.png"
FLOOR = 1e-30  # final E_total of exactly 0 is drawn here on the log axis


def save_all(folder: Path, out: Outcome, curves: list[Curve]) -> list[str]:
    """Write the PNGs of the study `out` (`study.restarts.Outcome`) into ``folder``."""
    plt = pyplot()
    steps = [] if out.steps_to_threshold is None else [(_steps(plt, out), STEPS_FILE)]
    return [save_figure(plt, fig, folder / name) for fig, name in (
        (_final_loss(plt, out), FINAL_LOSS_FILE), *steps,
        (_gallery(plt, out, curves), GALLERY_FILE))]


def _final_loss(plt: ModuleType, out: Outcome) -> Figure:
    s, E = out.study, loss_name(out.study.problem.network)
    fig, axes = grid(plt, len(s.lrs), (4.6, 3.4), f"Final {E} after {s.steps} steps from {s.n} "
                     f"random starts ({s.distribution} on [{s.low:g}, {s.high:g}])")
    every = np.concatenate([np.ravel(v) for v in out.final_loss.values()]).astype(np.float64)
    every = np.maximum(every[np.isfinite(every)], FLOOR)
    low, high = (np.log10(every.min()), np.log10(every.max())) if every.size else (-30, 0)
    bins = np.logspace(low, max(high, low + 1e-3), 60).tolist()
    for j, ax in zip(range(len(s.lrs)), axes, strict=False):
        for i, b in enumerate(out.backends):
            v = np.maximum(out.final_loss[b][j].astype(np.float64), FLOOR)
            ax.hist(v[np.isfinite(v)], bins=bins, histtype="step", label=b, **line_style(i))
        ax.axvline(s.threshold, color="red", linewidth=1, label=f"threshold {s.threshold:g}")
        ax.set_xscale("log")
        ax.set_title(f"learning rate {s.lrs[j]:g}")
        ax.set_xlabel(f"final {E} (log scale)")
        ax.set_ylabel("number of starts")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    return fig


def _steps(plt: ModuleType, out: Outcome) -> Figure:
    s, steps, E = out.study, out.steps_to_threshold, loss_name(out.study.problem.network)
    assert steps is not None  # drawn only when counted
    fig, axes = grid(plt, len(s.lrs), (4.6, 3.4), f"Steps needed to reach {E} <= "
                     f"{s.threshold:g} (of {s.steps}), per learning rate")
    bins = np.linspace(0, s.steps, 51).tolist()
    for j, ax in zip(range(len(s.lrs)), axes, strict=False):
        for i, b in enumerate(out.backends):
            k = steps[b][j]
            hit = k[k >= 0]
            ax.hist(hit, bins=bins, histtype="step", label=f"{b}: {hit.size / k.size:.1%} reached",
                    **line_style(i))
        ax.set_title(f"learning rate {s.lrs[j]:g}")
        ax.set_xlabel("steps to threshold")
        ax.set_ylabel("number of starts")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    return fig


def _gallery(plt: ModuleType, out: Outcome, curves: list[Curve]) -> Figure:
    s, E = out.study, loss_name(out.study.problem.network)
    kinds = ("best", "median", "worst")
    fig: Figure
    fig, axes = plt.subplots(len(s.lrs), 3, figsize=(13, 2.3 * len(s.lrs) + 0.8),
                             layout="constrained", squeeze=False, sharex=True)
    fig.suptitle(f"Loss curves of the best, median and worst start (by final {E}), "
                 "re-run one at a time with train()")
    for c in curves:
        ax = axes[s.lrs.index(c.lr), kinds.index(c.which)]
        for i, (b, loss) in enumerate(c.loss.items()):
            ax.plot(np.arange(len(loss)), np.maximum(loss, FLOOR), label=b, **line_style(i))
        ax.axhline(s.threshold, color="red", linewidth=0.8)
        ax.set_yscale("log")
        ax.set_title(f"lr {c.lr:g}, {c.which} (start #{c.start})", fontsize="medium")
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("iteration (update)")
    for ax in axes[:, 0]:
        ax.set_ylabel(f"{E} (log)")
    axes[0, 0].legend(fontsize="small")
    return fig
