"""The plots of ``autograd-compare check --out`` for any network: loss.png and differences.png.

* loss.png: E per step for every backend (the reference thick and pale underneath), on a log
  axis when E is positive and spans more than `LOG_SPAN` (it usually falls by decades).
* differences.png: per step, every backend's largest |difference| from the reference over that
  step's quantities (every z, a of every example, E, the gradient, the updated parameters) and
  the largest |difference| / tolerance, with the tolerance line at 1.

Drawn from a small `Curves` (the per-step arrays only); this module imports nothing heavier
than NumPy at import time.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numpy.typing import NDArray

from autograd_compare.report import plots

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from autograd_compare.harness.network_check import NetworkCheck

LOSS_FILE, DIFF_FILE = "loss.png", "differences.png"
FILES = [LOSS_FILE, DIFF_FILE]
TOP = 1e200  # E above this is not drawn (a diverging training; matplotlib's log ticks overflow
#             near 1e300)
LOG_SPAN = 100.0  # E drawn on a log axis when max/min over the finite positive values exceeds it


class Curves(NamedTuple):
    """What the two plots need, per backend (the reference first)."""

    about: str  # one line: the network (and the preset)
    lr: float
    reference: str
    loss: dict[str, NDArray[np.float64]]  # backend -> (steps+1,) E at the weights entering step k
    abs: dict[str, NDArray[np.float64]]  # backend (not the reference) -> (steps+1,)
    ratio: dict[str, NDArray[np.float64]]  # backend (not the reference) -> (steps+1,)
    ok: bool


def curves(result: NetworkCheck, about: str) -> Curves:
    t = result.trajectory
    return Curves(about, t.lr, t.reference,
                  {n: np.asarray(r.loss, np.float64) for n, r in t.runs.items()},
                  {n: d.abs for n, d in t.per_step.items()},
                  {n: d.ratio for n, d in t.per_step.items()}, t.ok)


def png(c: Curves, name: str) -> bytes:
    """The PNG ``name`` (`LOSS_FILE` or `DIFF_FILE`) as bytes."""
    plt = plots.pyplot()
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        fig = loss_figure(c) if name == LOSS_FILE else difference_figure(c)
    buf = io.BytesIO()
    plots.save_figure(plt, fig, buf)
    return buf.getvalue()


def use_log(y: NDArray[np.float64]) -> bool:
    """A log axis helps: every finite value > 0 and they span more than `LOG_SPAN`."""
    finite = y[np.isfinite(y)]
    return bool(finite.size and np.all(finite > 0) and finite.max() > LOG_SPAN * finite.min())


def loss_figure(c: Curves) -> Figure:
    plt = plots.pyplot()
    fig: Figure
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.12, top=0.88)
    every = np.concatenate(list(c.loss.values()))
    for i, (name, loss) in enumerate(c.loss.items()):
        label = f"{name} (reference)" if name == c.reference else name
        y = np.where(np.isfinite(loss) & (np.abs(loss) <= TOP), loss, np.nan)
        ax.plot(np.arange(loss.shape[0]), y, label=label, **plots.line_style(i))
    log = use_log(every)
    finite = every[np.isfinite(every)]
    if log:
        ax.set_yscale("log")
        # explicit limits: autoscaling a log axis that reaches 1e300 (a diverging training)
        # drew only the first decade, and ticks near 1e308 overflow in matplotlib
        ax.set_ylim(finite.min() / 2, min(finite.max() * 2, TOP))
    verdict = "every backend agrees" if c.ok else "backends DISAGREE"
    if finite.size < every.size or finite.max() > TOP:
        verdict += f"; diverged: E > {TOP:.0e} not drawn"
    ax.set_title(f"E per step at lr {c.lr:g} ({verdict})\n{c.about}", fontsize=10)
    ax.set_xlabel("step (full-batch gradient descent)")
    ax.set_ylabel("E" + (" (log scale)" if log else ""))
    ax.grid(alpha=0.3)
    ax.legend(title="backend", loc="upper right", fontsize="small")
    return fig


def difference_figure(c: Curves) -> Figure:
    plt = plots.pyplot()
    fig: Figure
    fig, (ax_abs, ax_ratio) = plt.subplots(1, 2, figsize=(13, 4.6))
    fig.subplots_adjust(left=0.07, right=0.84, bottom=0.12, top=0.86, wspace=0.3)
    positive = False
    for i, name in enumerate(c.abs, start=1):
        style = dict(linewidth=1.2, marker="o", markersize=2.5,
                     linestyle=plots.LINESTYLES[i % len(plots.LINESTYLES)])
        steps = np.arange(c.abs[name].shape[0])
        ax_abs.plot(steps, plots.gap(c.abs[name]), label=name, **style)
        ax_ratio.plot(steps, plots.gap(c.ratio[name]), label=name, **style)
        positive = positive or bool(np.any(c.abs[name] > 0) or np.any(c.ratio[name] > 0))
    ax_ratio.axhline(1.0, color="red", linewidth=1.5, label="tolerance (fail above)")
    ax_abs.set_title(f"Largest |difference| from {c.reference} per step", fontsize=10)
    ax_abs.set_ylabel("|backend - reference|  (gaps: exactly 0)")
    ax_ratio.set_title("Largest |difference| / tolerance per step", fontsize=10)
    ax_ratio.set_ylabel("|difference| / tolerance  (gaps: exactly 0)")
    for ax in (ax_abs, ax_ratio):
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if positive:
            ax.set_yscale("log")
    if c.abs:
        ax_ratio.legend(title="backend", loc="upper left", bbox_to_anchor=(1.02, 1),
                        fontsize="small")
    message = ("only one backend: nothing to compare" if not c.abs else
               None if positive else "every backend equals the reference exactly")
    if message:
        for ax in (ax_abs, ax_ratio):
            ax.text(0.5, 0.5, message, ha="center", transform=ax.transAxes)
    fig.suptitle(c.about, fontsize=10)
    return fig
