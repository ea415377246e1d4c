"""The restart study's pictures, the same for every network: final-loss distributions, the
outcome counts (reached, stuck, still descending), steps to the threshold (plain gradient
descent: an optimizer's are not counted), a gallery of loss curves, and the island
(`landscape.restarts_figure`: the starts on a slice, coloured by outcome).

Drawn with the report's matplotlib set-up (`plots`: Agg backend, one line style per backend,
the grid of panels, DPI). The outcomes come worked out (`Island`): the report sits below the
study and does not apply its rule itself.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from autograd_compare.network import loss_name
from autograd_compare.report import landscape
from autograd_compare.report.plots import grid, line_style, pyplot, save_figure

if TYPE_CHECKING:  # the study sits above the report; only its result type is needed here
    from matplotlib.figure import Figure

    from autograd_compare.study.restarts import Curve, Outcome

FINAL_LOSS_FILE = "final-loss.png"
OUTCOMES_FILE = "outcomes.png"
STEPS_FILE = "steps-to-threshold.png"
GALLERY_FILE = "gallery.png"
FLOOR = 1e-30  # final E_total of exactly 0 is drawn here on the log axis
KINDS = ("best", "median", "worst", "stuck", "still_descending")  # `Gallery`'s fields


class Island(NamedTuple):
    """The outcomes as the study worked them out (`study.restarts.classify`)."""

    codes: dict[str, np.ndarray]  # backend -> (L, N) outcome codes
    names: dict[int, str]  # the codes this study tells apart -> "reached", "stuck", ...
    labels: dict[int, str]  # the same codes -> legend labels with the rule's numbers
    tail: int | None  # the tail step T (None: stuck and still descending not told apart)
    slice: landscape.Slice  # the island's slice
    starts: np.ndarray  # (M, P): the first M starts, the island's dots
    gallery: dict[str, int | None]  # the first rate's `Gallery` (the island's plane, origin)


def save_all(folder: Path, out: Outcome, curves: list[Curve], island: Island) -> list[str]:
    """Write the PNGs of the study `out` (`study.restarts.Outcome`) into ``folder``."""
    plt = pyplot()
    steps = [] if out.steps_to_threshold is None else [(_steps(plt, out), STEPS_FILE)]
    ref = out.backends[0]
    shown = {lr: island.codes[ref][j, : len(island.starts)]
             for j, lr in enumerate(out.study.lrs)}
    p = out.study.problem
    land = landscape.restarts_figure(p.network, p.data, island.slice, island.starts, shown,
                                     island.names, island.labels, island.gallery)
    return [save_figure(plt, fig, folder / name) for fig, name in (
        (_final_loss(plt, out), FINAL_LOSS_FILE), (_outcomes(plt, out, island), OUTCOMES_FILE),
        *steps, (_gallery(plt, out, curves, island), GALLERY_FILE), (land, landscape.FILE))]


def _outcomes(plt: ModuleType, out: Outcome, island: Island) -> Figure:
    """Per learning rate, one stacked bar per backend: how many starts ended in each outcome."""
    s, names = out.study, island.names
    fig: Figure
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(s.lrs) * len(out.backends) + 2), 4.8),
                           layout="constrained")
    fig.suptitle(f"How do the {s.n} starts end? Outcomes per learning rate after {s.steps} "
                 "steps (one bar per backend)", fontsize="medium")
    width, nb = 0.8 / len(out.backends), len(out.backends)
    ticks, labels = [], []
    for j, lr in enumerate(s.lrs):
        for i, b in enumerate(out.backends):
            x = j + (i - (nb - 1) / 2) * width
            bottom = 0
            for code, name in names.items():
                count = int(np.count_nonzero(island.codes[b][j] == code))
                ax.bar(x, count, width * 0.9, bottom=bottom, color=landscape.OUTCOME_COLOURS[name],
                       label=island.labels[code] if (j, i) == (0, 0) else None)
                if count and i == 0:
                    ax.text(x, bottom + count / 2, str(count), ha="center", va="center",
                            fontsize="x-small", color="white")
                bottom += count
            ticks.append(x)
            labels.append(b)
        ax.text(j, s.n * 1.02, f"lr {lr:g}", ha="center", va="bottom", fontsize="small")
    ax.set_xticks(ticks, labels, rotation=90, fontsize="x-small")
    ax.set_ylim(0, s.n * 1.1)
    ax.set_ylabel("number of starts")
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=1)
    ax.grid(alpha=0.3, axis="y")
    return fig


def _final_loss(plt: ModuleType, out: Outcome) -> Figure:
    s, E = out.study, loss_name(out.study.problem.network)
    fig, axes = grid(plt, len(s.lrs), (4.6, 3.4), f"How low does {E} get? Final {E} after "
                     f"{s.steps} steps from {s.n} random starts ({s.distribution} on "
                     f"[{s.low:g}, {s.high:g}])")
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
    fig, axes = grid(plt, len(s.lrs), (4.6, 3.4), f"How fast? Steps needed to reach {E} <= "
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


def _gallery(plt: ModuleType, out: Outcome, curves: list[Curve], island: Island) -> Figure:
    """Rows: the learning rates; columns: the best, median and worst start, and a stuck and a
    still-descending one where there are such; the tail (where stuck is told) shaded."""
    s, E = out.study, loss_name(out.study.problem.network)
    kinds = [k for k in KINDS if any(c.which == k for c in curves)]
    fig: Figure
    fig, axes = plt.subplots(len(s.lrs), len(kinds), figsize=(3.6 * len(kinds) + 1.5,
                                                               2.4 * len(s.lrs) + 1.0),
                             layout="constrained", squeeze=False, sharex=True)
    fig.suptitle(f"What does training look like? Loss curves of the best, median and worst start "
                 f"(by final {E}) and of a typical stuck and still-descending one, re-run one at "
                 "a time with train()\n" + "; ".join(island.labels.values()) + (
                     f" (shaded: steps {island.tail}-{s.steps})" if island.tail is not None
                     else ""), fontsize="medium")
    for ax in axes.flat:
        ax.set_visible(False)
    for c in curves:
        ax = axes[s.lrs.index(c.lr), kinds.index(c.which)]
        ax.set_visible(True)
        for i, (b, loss) in enumerate(c.loss.items()):
            ax.plot(np.arange(len(loss)), np.maximum(loss, FLOOR), label=b, **line_style(i))
        ax.axhline(s.threshold, color="red", linewidth=0.8)
        if island.tail is not None:
            ax.axvspan(island.tail, s.steps, color="#999999", alpha=0.2, linewidth=0)
        ax.set_yscale("log")
        title = f"a {c.outcome} start" if c.which in ("stuck", "still_descending") else \
            f"{c.which}: {c.outcome}"
        ax.set_title(f"lr {c.lr:g}, {title} (#{c.start})", fontsize="small",
                     color=landscape.OUTCOME_COLOURS.get(c.outcome, "black"))
        ax.grid(alpha=0.3)
        ax.set_xlabel("iteration (update)", fontsize="small")
        ax.set_ylabel(f"{E} (log)", fontsize="small")
    first = next((ax for ax in axes.flat if ax.get_visible()), None)
    if first is not None:
        first.legend(fontsize="x-small")
    return fig
