"""The report's pictures (matplotlib, Agg backend, imported only here and only when needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from autograd_compare.errors import CompareError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

INSTALL_HINT = "pip install 'autograd-compare[plot]'"
CEILING = 1e200  # larger differences are drawn here: a log axis up to 1e308 overflows its ticks
LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1)), (0, (1, 3)))
DPI = 110
PNG = {"compress_level": 1}  # zlib's fastest (default 6): the main job's 11 PNGs take 40 ms
#                               less to encode, 8 % more bytes (1.22 -> 1.32 MB)


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


def loss_files(lrs: Sequence[float]) -> list[str]:
    """One file name per learning rate, distinct even when two rates print alike with ``:g``
    (0.5 and 0.5000001): those get as many digits as tell them apart."""
    for digits in range(6, 18):
        names = [f"loss-lr-{lr:.{digits}g}.png" for lr in lrs]
        if len(set(names)) == len(names):
            return names
    return [f"loss-lr-{lr!r}.png" for lr in lrs]


ALL_LRS_FILE, DIFF_FILE = "loss-all-lrs.png", "differences.png"


class Curves(NamedTuple):
    """One learning rate as the loss and difference figures draw it (every job's)."""

    lr: float
    ok: bool
    reference: str
    loss: dict[str, np.ndarray]  # backend (the reference first) -> the loss at every step
    diff: dict[str, tuple[np.ndarray, np.ndarray]]  # compared backend -> (|diff| (K, Q), tol)


class Words(NamedTuple):
    """What a job's figures say: each title a question, answered (format fields: lr and
    verdict, answer, reference and answer)."""

    loss: str  # the y axis: "E_total", "E"
    xlabel: str
    rate_title: str  # loss-lr-<lr>.png: {lr}, {verdict} ("Yes, they agree")
    all_title: str  # loss-all-lrs.png: {answer} (`fall_answer`)
    diff_title: str  # differences.png: {reference}, {answer} (`agree_answer`)
    diff_x0: int = 0  # the x of the first difference row: 0 (main job) or 1 (after 1 update)
    title: str = ""  # more lines under every title (the any-network job: its optimizer)
    log: bool = False  # a log y axis when the losses span more than two decades


def files(lrs: Sequence[float], per_lr: bool = True) -> list[str]:
    """The names `draw` writes, in its order."""
    return [*(loss_files(lrs) if per_lr else []), ALL_LRS_FILE, DIFF_FILE]


def draw(folder: Path, rates: Sequence[Curves], words: Words, per_lr: bool = True) -> list[str]:
    """loss-lr-<lr>.png per rate (``per_lr``), loss-all-lrs.png and differences.png.

    The per-rate pictures share one figure, redrawn for each rate: its axes, labels and ticks
    are made once (a fresh figure per rate gives the same bytes, more slowly).
    """
    plt = pyplot()
    names = []
    if per_lr:
        fig: Figure
        fig, ax = plt.subplots(figsize=(7, 4.5 + _room(words)))
        fig.subplots_adjust(left=0.12, right=0.97, bottom=0.12, top=_top(fig, 0.92, words))
        _axes(ax, words)
        try:
            for r, name in zip(rates, loss_files([r.lr for r in rates]), strict=True):
                _loss_one_lr(ax, r, words)
                names.append(save_figure(plt, fig, folder / name, close=False))
        finally:
            plt.close(fig)
    names.append(save_figure(plt, _loss_all_lrs(plt, rates, words), folder / ALL_LRS_FILE))
    names.append(save_figure(plt, _differences(plt, rates, words), folder / DIFF_FILE))
    return names


def _room(words: Words) -> float:
    """Inches added on top for the lines of ``words.title``."""
    return 0.2 * (words.title.count("\n") + 1) if words.title else 0.0


def _top(fig: Figure, top: float, words: Words) -> float:
    """The axes' top with the same margin in inches as without a title, plus `_room`."""
    if not words.title:
        return top
    height = fig.get_figheight()
    return 1 - ((1 - top) * (height - _room(words)) + _room(words)) / height


def _title(ax: Axes, text: str, words: Words) -> None:
    if words.title:
        ax.set_title(f"{text}\n{words.title}", fontsize="medium")
    else:
        ax.set_title(text)


def _axes(ax: Axes, words: Words) -> None:
    ax.set_xlabel(words.xlabel)
    ax.set_ylabel(words.loss)
    ax.grid(alpha=0.3)


DECADE = 10.0  # a loss falling by more than this factor is drawn on a log axis


def _log_if_decades(ax: Axes, lines: Sequence[np.ndarray], words: Words) -> None:
    """A log y axis when ``words.log`` and the positive finite losses span more than a
    decade (sgd at lr 0.5 on the class example falls 23-fold in 100 steps: on a linear
    axis its last 40 steps look flat), else linear; the label says which."""
    log = False
    if words.log:
        y = np.concatenate([v[np.isfinite(v) & (v > 0)] for v in lines] or [np.zeros(0)])
        log = bool(y.size) and y.max() / y.min() > DECADE
    if log:
        log_y(ax)
    else:
        ax.set_yscale("linear")
    ax.set_ylabel(f"{words.loss} ({'log' if log else 'linear'} scale)")


def falls(loss: np.ndarray) -> bool:
    """The loss ends lower than it starts (a diverged run, ending in inf or NaN, does not)."""
    return bool(loss.size > 1 and np.isfinite(loss[-1]) and loss[-1] < loss[0])


def fall_answer(rates: Sequence[Curves]) -> str:
    """loss-all-lrs.png's answer, from the reference's losses: "Yes, at all 6 (manual)" or
    "No: not at lr 2 (manual)"."""
    worse = [r.lr for r in rates if not falls(next(iter(r.loss.values()), np.zeros(0)))]
    whose = f" ({rates[0].reference})" if rates else ""
    if not worse:
        return (f"Yes, at all {len(rates)}" if len(rates) > 1 else "Yes") + whose
    return "No: not at lr " + ", ".join(f"{lr:g}" for lr in worse) + whose


SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")  # 1e-16 -> 10⁻¹⁶


def power_of_ten(y: float, _position: object = None) -> str:
    """A log axis's decade label as text, 1e-16 -> "10⁻¹⁶" (no mathtext to typeset)."""
    exponent = np.log10(y) if y > 0 else np.nan
    if not np.isfinite(exponent) or abs(exponent - round(exponent)) > 1e-9:
        return ""
    return "10" + str(int(round(exponent))).translate(SUPERSCRIPTS)


def log_y(ax: Axes) -> None:
    """A log y axis labelled at its decades, without minor ticks: the grid marks the decades;
    the ticks between them (about 8 per decade, each a tick mark and a hidden label) were a
    third of the differences figure's drawing time, the mathtext labels a fifth."""
    from matplotlib.ticker import FuncFormatter, NullLocator

    ax.set_yscale("log")
    low, high = ax.get_ylim()  # the limits of the lines drawn so far
    if high / low >= 100:  # at least two decades labelled; else matplotlib's own ticks
        ax.yaxis.set_minor_locator(NullLocator())
        ax.yaxis.set_major_formatter(FuncFormatter(power_of_ten))

def save_figure(plt: ModuleType, fig: Figure, path: Path, close: bool = True) -> str:
    _pin_titles(fig)
    fig.savefig(path, dpi=DPI, format="png", pil_kwargs=PNG)
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


def grid(plt: ModuleType, count: int, panel: tuple[float, float],
         title: str) -> tuple[Figure, list[Axes]]:
    """``count`` panels of ``panel`` inches (width, height), at most 3 in a row, under
    ``title`` (the restart study's figures: one panel per learning rate)."""
    cols = min(3, count)
    rows = -(-count // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(panel[0] * cols, panel[1] * rows + 0.6),
                             layout="constrained", squeeze=False)
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    fig.suptitle(title)
    return fig, list(axes.flat)


def line_style(i: int) -> dict[str, Any]:
    """Backend i: the reference thick and pale underneath, the others thin on top."""
    if i == 0:
        return {"linewidth": 5, "alpha": 0.35, "linestyle": "-"}
    return {"linewidth": 1.6, "linestyle": LINESTYLES[i % len(LINESTYLES)]}


def _loss_one_lr(ax: Axes, r: Curves, words: Words) -> None:
    """Rate ``r``'s picture on ``ax`` (`draw`'s), replacing the previous rate's lines."""
    for line in list(ax.lines):
        line.remove()
    legend = ax.get_legend()
    if legend is not None:
        legend.remove()
    ax.set_prop_cycle(None)  # the backends' colours from the first again
    ax.relim()  # the limits of this rate's lines only
    for i, (name, y) in enumerate(r.loss.items()):
        label = f"{name} (reference)" if name == r.reference else name
        ax.plot(np.arange(y.shape[0]), y, label=label, **line_style(i))
    _log_if_decades(ax, list(r.loss.values()), words)
    verdict = "Yes, they agree" if r.ok else "No: the backends DISAGREE"
    _title(ax, words.rate_title.format(lr=r.lr, verdict=verdict), words)
    ax.legend(title="backend", loc="upper right")  # "best" warns when it takes long


def _loss_all_lrs(plt: ModuleType, rates: Sequence[Curves], words: Words) -> Figure:
    fig: Figure
    fig, ax = plt.subplots(figsize=(9, 5 + _room(words)))
    fig.subplots_adjust(left=0.09, right=0.75, bottom=0.11,  # legends on the right
                        top=_top(fig, 0.93, words))
    colors = plt.get_cmap("tab10").colors
    for j, r in enumerate(rates):
        for i, y in enumerate(r.loss.values()):
            ax.plot(np.arange(y.shape[0]), y, color=colors[j % 10], **line_style(i))
    _axes(ax, words)
    _log_if_decades(ax, [y for r in rates for y in r.loss.values()], words)
    _title(ax, words.all_title.format(answer=fall_answer(rates)), words)
    legends(plt, ax, [r.lr for r in rates], list(rates[0].loss) if rates else [])
    return fig


def legends(plt: ModuleType, ax: Axes, lrs: Sequence[float], backends: Sequence[str]) -> None:
    """Two legends right of ``ax``: colour = learning rate, line style = backend."""
    colors = plt.get_cmap("tab10").colors
    handles = [plt.Line2D([], [], color=colors[j % 10], linewidth=3)
               for j in range(len(lrs))]
    rates = ax.legend(handles, [f"lr = {lr:g}" for lr in lrs], title="learning rate",
                      loc="upper left", bbox_to_anchor=(1.02, 1), fontsize="small")
    ax.add_artist(rates)
    handles = [plt.Line2D([], [], color="grey", **line_style(i)) for i in range(len(backends))]
    ax.legend(handles, list(backends), title="backend", loc="lower left", bbox_to_anchor=(1.02, 0),
              fontsize="small")


def worst_ratios(rates: Sequence[Curves]) -> dict[str, np.ndarray]:
    """Per compared backend, per update: the largest |difference| / tolerance over every
    quantity and every learning rate (rates of fewer updates, a diverged run's, padded with
    NaN: nothing there); 0 where every difference is exactly 0."""
    rows = max((d.shape[0] for r in rates for d, _ in r.diff.values()), default=0)
    worst: dict[str, np.ndarray] = {}
    for r in rates:
        for name, (diff, tolerance) in r.diff.items():
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.max(np.where(diff > 0, diff / tolerance, 0.0), axis=1,
                               initial=0.0) if diff.size else np.zeros(diff.shape[0])
            padded = np.full(rows, np.nan)
            padded[:ratio.shape[0]] = ratio
            worst[name] = np.fmax(worst.get(name, np.full(rows, np.nan)), padded)
    return worst


def share(x: float) -> str:
    """A difference / tolerance as a student reads it, before "the tolerance" or "it":
    0.00444 -> "0.44 % of", 5.8e11 -> "5.8e+11 ×"."""
    return f"{100 * x:.2g} % of" if x <= 1 else f"{x:.2g} ×"


def agree_answer(worst: dict[str, np.ndarray]) -> str:
    """differences.png's answer: "Yes, at most 0.44 % of it" or "No: torch goes above it"."""
    if not worst:
        return "Nothing to compare: one backend only"
    above = [name for name, y in worst.items() if np.any(y > 1.0)]  # NaN: not compared
    if above:
        return f"No: {', '.join(above)} {'goes' if len(above) == 1 else 'go'} above it"
    largest = max(float(np.nanmax(y, initial=0.0)) for y in worst.values())
    return f"Yes, at most {share(largest)} it" if largest > 0 else "Yes, exactly equal"


def _differences(plt: ModuleType, rates: Sequence[Curves], words: Words) -> Figure:
    """One line per compared backend: its largest |difference| / tolerance at each update
    (`worst_ratios`), the tolerance at 1; the title asks whether every line stays below."""
    worst = worst_ratios(rates)
    fig: Figure
    fig, ax = plt.subplots(figsize=(9, 5.2 + _room(words)))
    fig.subplots_adjust(left=0.1, right=0.7, bottom=0.11, top=_top(fig, 0.86, words))
    colors = plt.get_cmap("tab10").colors
    positive = False
    for i, (name, y) in enumerate(worst.items(), start=1):
        steps = np.arange(words.diff_x0, words.diff_x0 + y.shape[0])
        top = float(np.nanmax(y, initial=0.0))  # inf where a tolerance is 0: drawn at the top
        ax.plot(steps, gap(np.where(np.isinf(y), CEILING, y)), color=colors[i % 10],
                linewidth=1.5, marker="o", markersize=2.5,  # the colour of its loss lines
                label=f"{name}\nat most {share(top)} the tolerance" if top > 0 else
                f"{name}\nexactly equal")
        positive = positive or top > 0
    ax.axhline(1.0, color="k", linewidth=2, linestyle="--", label="the tolerance (fail above)")
    reference = rates[0].reference if rates else "-"
    _title(ax, words.diff_title.format(reference=reference, answer=agree_answer(worst)), words)
    ax.set_xlabel(words.xlabel)
    ax.set_ylabel(f"largest |difference| / tolerance\n({'log' if positive else 'linear'} "
                  "scale; a gap: exactly equal)")
    ax.grid(alpha=0.3)
    if positive:
        log_y(ax)
    ax.legend(title=f"against {reference}: the largest\nover every quantity and rate",
              loc="upper left", bbox_to_anchor=(1.02, 1),
              fontsize="small")
    message = ("only one backend: nothing to compare" if not worst else
               None if positive else "every backend equals the reference exactly")
    if message:
        ax.text(0.5, 0.5, message, ha="center", transform=ax.transAxes)
    return fig


def gap(y: np.ndarray) -> np.ndarray:
    """``y`` with NaN (a gap in the line) where it is 0 or not finite (nothing on a log axis),
    and at most `CEILING`."""
    return np.where((y > 0) & np.isfinite(y), np.minimum(y, CEILING), np.nan)
