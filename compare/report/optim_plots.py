"""The pictures of ``autograd-compare optimizers --out``: loss curves per learning rate and the
cross-backend difference over steps, titled with the optimizer and every setting.

`png` draws one file from a `Curves` (the per-step arrays only).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from autograd_compare.report.plots import DPI, LINESTYLES, gap, legends, line_style, pyplot

LOSS_FILE, DIFF_FILE = "loss-all-lrs.png", "differences.png"
FILES = (LOSS_FILE, DIFF_FILE)


class Curves(NamedTuple):
    """What the two pictures show, for every learning rate j."""

    title: str  # the optimizer and its settings, the network, the dtype
    lrs: tuple[float, ...]
    backends: tuple[str, ...]  # the first is the reference
    loss_name: str  # "E_total" (tutorial) or "E"
    loss: tuple[tuple[np.ndarray, ...], ...]  # [j][backend] (steps,): the loss before update k
    difference: tuple[tuple[np.ndarray, ...], ...]  # [j][compared backend] (steps,): largest
    #                                                 |difference| from the reference at step k
    ratio: tuple[tuple[np.ndarray, ...], ...]  # the same over the tolerance
    compared: tuple[str, ...]  # the backends compared with the reference


def png(name: str, curves: Curves) -> bytes:
    """The PNG bytes of file ``name`` (one of `FILES`)."""
    plt = pyplot()
    if name == LOSS_FILE:
        fig = _loss(plt, curves)
    elif name == DIFF_FILE:
        fig = _differences(plt, curves)
    else:
        raise ValueError(f"no optimizer picture named {name!r}; expected one of {FILES}")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    plt.close(fig)
    return buf.getvalue()


def _wrapped(title: str, width: int = 90) -> str:
    words, lines, line = title.split(" "), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "\n".join([*lines, line])


def _loss(plt: Any, c: Curves) -> Any:
    fig, ax = plt.subplots(figsize=(10, 5.4))
    fig.subplots_adjust(left=0.09, right=0.70, bottom=0.11, top=0.86)
    colors = plt.get_cmap("tab10").colors
    for j, per_backend in enumerate(c.loss):
        for i, y in enumerate(per_backend):
            ax.plot(np.arange(1, y.size + 1), y, color=colors[j % 10], **line_style(i))
    ax.set_title(_wrapped(f"{c.loss_name} before each update: {c.title}"), fontsize="medium")
    ax.set_xlabel("update (optimizer step)")
    ax.set_ylabel(c.loss_name)
    ax.grid(alpha=0.3)
    legends(plt, ax, c.lrs, c.backends, line_style)
    return fig


def _differences(plt: Any, c: Curves) -> Any:
    fig, (ax_abs, ax_ratio) = plt.subplots(1, 2, figsize=(13, 5.2))
    fig.subplots_adjust(left=0.06, right=0.74, bottom=0.11, top=0.84, wspace=0.28)
    colors = plt.get_cmap("tab10").colors
    positive = False
    for j in range(len(c.lrs)):
        for i, (d, r) in enumerate(zip(c.difference[j], c.ratio[j], strict=True), start=1):
            steps = np.arange(1, d.size + 1)
            style = dict(color=colors[j % 10], linewidth=1.2, marker="o", markersize=2.5,
                         linestyle=LINESTYLES[i % len(LINESTYLES)])
            ax_abs.plot(steps, gap(d), **style)
            ax_ratio.plot(steps, gap(r), **style)
            positive = positive or bool(np.any(d > 0))
    ref = c.backends[0] if c.backends else "-"
    fig.suptitle(_wrapped(c.title, 120), fontsize="medium")
    ax_abs.set_title(f"Largest |difference| from {ref} (loss, gradients, state, parameters)",
                     fontsize="small")
    ax_abs.set_ylabel("|backend - reference|  (gaps: exactly 0)")
    ax_ratio.axhline(1.0, color="red", linewidth=1.5, label="tolerance (fail above)")
    ax_ratio.set_title("Largest difference / tolerance", fontsize="small")
    ax_ratio.set_ylabel("difference / tolerance  (gaps: exactly 0)")
    for ax in (ax_abs, ax_ratio):
        ax.set_xlabel("update (optimizer step)")
        ax.grid(alpha=0.3)
        if positive:
            ax.set_yscale("log")
    if c.compared:
        legends(plt, ax_ratio, c.lrs, list(c.compared),
                 lambda i: {"linestyle": LINESTYLES[(i + 1) % len(LINESTYLES)], "marker": "o",
                            "markersize": 2.5}, extra=ax_ratio.lines[-1])
    message = ("only one backend: nothing to compare" if not c.compared else
               None if positive else "every backend equals the reference exactly")
    if message:
        for ax in (ax_abs, ax_ratio):
            ax.text(0.5, 0.5, message, ha="center", transform=ax.transAxes)
    return fig


def curves(title: str, loss_name: str, results: Sequence[Any]) -> Curves:
    """`Curves` from the results of one sweep (`optim_check.OptimResult` or
    `network_optim_check.NetOptimResult`, one per learning rate)."""
    first = results[0]
    backends = tuple(first.runs)
    compared = tuple(first.comparisons)
    with np.errstate(divide="ignore", invalid="ignore"):
        return Curves(
            title, tuple(r.optimizer.lr for r in results), backends, loss_name,
            tuple(tuple(np.asarray(r.runs[b].loss, np.float64) for b in backends)
                  for r in results),
            tuple(tuple(np.max(r.comparisons[b].diff, axis=1) for b in compared)
                  for r in results),
            tuple(tuple(np.max(np.where(r.comparisons[b].diff > 0,
                                        r.comparisons[b].diff / r.comparisons[b].tolerance,
                                        0.0), axis=1) for b in compared) for r in results),
            compared)
