"""The island: the loss over a 2-D slice of weight space, with the training paths on it.

The tutorial's w1..w8: a slice is two weights (``w5,w6``: those two vary, the other six stay at
the start) or ``plane``: the plane through the start and the ends of training (main job).
Any other network (`network_figure`): the plane through the start and the ends of training.
The restart study (`restarts_figure`, any network): two parameters named in words on the axes
(`describe_param`), the others at the median start's values, or the plane through the median,
best and worst start; the starts coloured by their outcome. Paths and starts are drawn
projected onto the slice; the contours are the loss on the slice itself (the manual forward
pass, batched).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from autograd_compare import naming
from autograd_compare.errors import InputError
from autograd_compare.manual import mlp
from autograd_compare.network import Data, Network, loss_name, param_names
from autograd_compare.report.plots import DPI, PNG, grid, pyplot
from autograd_compare.validate import short_text

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FILE = "landscape.png"
NETWORK_GRID = 81  # points per axis for any network
CHUNK = 4_000_000  # floats per batched forward pass (bounds the memory on big data sets)
PLANE = "plane"

FloatArray = NDArray[np.float64]


class Slice(NamedTuple):
    """Which 2-D slice: ``axes`` = (j, k) parameter indices named ``names``, or None for the
    plane."""

    axes: tuple[int, int] | None
    names: tuple[str, str] = ("", "")


THE_PLANE = Slice(None)


def parse(text: str, params: tuple[str, ...] = naming.WEIGHT_NAMES) -> Slice:
    """``"plane"`` or two different parameter names of ``params`` (``"w5,w6"``,
    ``"W2[0,1],b2[0]"``; any case); else `InputError` (one line)."""
    t = text.strip()
    if t.lower() == PLANE:
        return Slice(None)
    known = {p.lower(): j for j, p in enumerate(params)}
    parts = [p.strip().lower() for p in re.split(r",(?![^\[]*\])", t)]  # not inside [j,k]
    if len(parts) != 2 or not all(p in known for p in parts) or parts[0] == parts[1]:
        raise InputError(f"--landscape must be 'plane' or two different parameters such as "
                         f"'{params[-4]},{params[-3]}' (from {params[0]}..{params[-1]}); "
                         f"got {short_text(text)}")
    j, k = known[parts[0]], known[parts[1]]
    return Slice((j, k), (params[j], params[k]))


class Frame(NamedTuple):
    """Slice coordinates (a, b) -> weights origin + a * u + b * v (u, v: (8,))."""

    origin: FloatArray
    u: FloatArray
    v: FloatArray
    xlabel: str
    ylabel: str

    def project(self, w: np.ndarray) -> NDArray[np.floating[Any]]:
        """(..., 8) weights -> (..., 2) slice coordinates (least squares for a plane)."""
        basis = np.stack([self.u, self.v])  # (2, 8)
        d = np.asarray(w, dtype=np.float64) - self.origin
        c = np.linalg.solve(basis @ basis.T, basis @ np.atleast_2d(d).T).T
        return c if d.ndim > 1 else c[0]

    def weights(self, a: FloatArray, b: FloatArray) -> FloatArray:
        return self.origin + a[..., None] * self.u + b[..., None] * self.v


def axes_frame(s: Slice, origin: np.ndarray) -> Frame:
    """Two parameters vary from ``origin``; coordinates are the parameters' own values."""
    if s.axes is None:
        raise ValueError("axes_frame needs a slice of two weights; the plane is plane_frame's")
    j, k = s.axes
    base = np.array(origin, dtype=np.float64)
    u, v = np.zeros(base.size), np.zeros(base.size)
    u[j], v[k] = 1.0, 1.0
    base[[j, k]] = 0.0
    return Frame(base, u, v, *s.names)


def plane_frame(origin: np.ndarray, points: np.ndarray) -> Frame:
    """The plane through ``origin`` that best holds ``points`` (N, P): u towards the farthest
    point, v towards the point farthest from that line (orthonormal). P = 8 for the tutorial's
    w1..w8; any P >= 2 for `network_figure`, which names the axes."""
    origin = np.asarray(origin, dtype=np.float64)
    n = origin.size
    d = np.asarray(points, dtype=np.float64).reshape(-1, n) - origin
    # points a diverging run sent beyond 1e150 would overflow the norms: not on this island
    d = d[np.isfinite(d).all(axis=1) & (np.abs(d).max(axis=1, initial=0.0) < 1e150)]
    norms = np.linalg.norm(d, axis=1) if d.size else np.zeros(1)
    u = d[np.argmax(norms)] / norms.max() if d.size and norms.max() > 0 else np.eye(n)[0]
    rest = d - np.outer(d @ u, u) if d.size else np.zeros((1, n))
    r = np.linalg.norm(rest, axis=1)
    if r.max() > 1e-12 * max(1.0, norms.max()):
        v = rest[np.argmax(r)] / r.max()
    else:  # every point on one line: any direction orthogonal to it
        e = np.eye(n)[np.argmin(np.abs(u))]
        v = e - (e @ u) * u
        v /= np.linalg.norm(v)
    return Frame(origin, u, v, "", "")


def axis_range(values: np.ndarray, margin: float = 0.35, least: float = 0.5) -> tuple[float, float]:
    values = values[np.isfinite(values)]
    lo, hi = (values.min(), values.max()) if values.size else (-1.0, 1.0)
    pad = max((hi - lo) * margin, least / 2)
    return lo - pad, hi + pad


def contours(plt: ModuleType, ax: Axes, A: FloatArray, B: FloatArray, E: FloatArray,
             loss: str = "E_total") -> None:
    positive, levels, norm = log_levels(plt, E, 24, 12)
    filled = ax.contourf(A, B, positive, levels=levels, cmap="terrain", norm=norm)
    ax.contour(A, B, positive, levels=levels, colors="k", linewidths=0.3, alpha=0.4)
    cbar = ax.figure.colorbar(filled, ax=ax)
    if isinstance(levels, np.ndarray):  # the log scale (not np.isscalar: a narrowing for mypy)
        cbar.ax.minorticks_off()
        ticks, labels = levels[::4], [f"{x:.2g}" for x in levels[::4]]
        # matplotlib's stub types ``ticks`` as Sequence[float]; set_ticks documents 1-D array-like
        cbar.set_ticks(ticks, labels=labels)  # type: ignore[arg-type]  # stub too narrow
    cbar.set_label(f"{loss} (log colour scale; blue = sea level)")


def log_levels(plt: ModuleType, E: FloatArray, n: int,
               flat: int) -> tuple[FloatArray, FloatArray | int, Any]:
    """``E`` made positive, ``n`` log-spaced contour levels and a log colour norm; ``flat``
    linear levels (no norm) when ``E`` is flat."""
    positive = np.maximum(E, np.finfo(np.float64).tiny)
    if positive.max() > positive.min() * 1.0001:
        return positive, np.geomspace(positive.min(), positive.max(), n), \
            plt.matplotlib.colors.LogNorm()
    return positive, flat, None


def network_figure(net: Network, paths: dict[float, np.ndarray], reference: str,
                   data: Data, s: Slice = THE_PLANE) -> Figure:
    """E over the slice ``s`` (the plane through the start and the ends of training, or two
    parameters), every path on it (``paths``: learning rate -> the reference's parameters
    (steps+1, P)); a diverging path as far as it is finite. The axes are named in words: the
    two parameters, or the plane's two directions with the parameters each moves most."""
    finite = {lr: np.asarray(p, np.float64)[:finite_steps(p)] for lr, p in paths.items()}
    start = next(iter(finite.values()))[0]
    rest = np.concatenate([p[1:] for p in finite.values()]) if finite else start[None]
    loss, P = loss_name(net), start.size
    if s.axes is None:
        frame = plane_frame(start, rest if rest.size else start[None])
        frame = frame._replace(xlabel=direction_label(frame.u, param_names(net), 1, finite),
                               ylabel=direction_label(frame.v, param_names(net), 2, finite))
        how = (f"{loss} on the plane through the start and the ends of training (all {P} "
               "parameters change along it);\neach path seen from above it")
    else:
        frame = axes_frame(s, start)
        frame = frame._replace(xlabel=f"{s.names[0]} (the other parameters at their start)",
                               ylabel=f"{s.names[1]} (the other parameters at their start)")
        how = (f"{loss} as {s.names[0]} and {s.names[1]} change, the other {P - 2} parameters "
               f"at their start;\neach path's {s.names[0]} and {s.names[1]} (the others move "
               "too)")
    projected = {lr: frame.project(p) for lr, p in finite.items()}
    every = np.concatenate(list(projected.values()))
    A, B = np.meshgrid(np.linspace(*axis_range(every[:, 0]), NETWORK_GRID),
                       np.linspace(*axis_range(every[:, 1]), NETWORK_GRID))
    title = (f"Where does training go on the {loss} landscape at each learning rate?\n{how}; "
             "X: the last step")
    return paths_figure(frame, (A, B, plane_loss(net, frame, A, B, data)), projected, every[0],
                        title, f", {reference}", loss)


def direction_label(d: np.ndarray, names: Sequence[str], which: int,
                    paths: dict[float, np.ndarray]) -> str:
    """An axis of the plane in words: where direction 1 points (towards the path point
    farthest from the start), direction 2 at right angles to it; with the parameters that
    make up most of the direction (largest |component| first, until 3/4 of its squared
    length, at most 4)."""
    order = np.argsort(-np.abs(d), kind="stable")
    share = np.cumsum(d[order] ** 2) / max(float(np.sum(d ** 2)), np.finfo(np.float64).tiny)
    most = order[:min(4, int(np.searchsorted(share, 0.75)) + 1)]
    mostly = ", ".join(names[j] for j in most)
    if which == 2:
        return f"direction 2, at right angles to direction 1 (mostly {mostly})"
    lr, k = farthest(paths)
    return (f"direction 1: from the start towards lr {lr:g} at step {k} (mostly {mostly});"
            "\ndistance in parameter space")


def farthest(paths: dict[float, np.ndarray]) -> tuple[float, int]:
    """The learning rate and step of the path point farthest from the start (where the
    plane's first direction points; the start itself when nothing moved)."""
    best, at = -1.0, (next(iter(paths)), 0)
    for lr, p in paths.items():
        d = np.linalg.norm(p - p[0], axis=1)
        d = np.where(np.abs(p - p[0]).max(axis=1) < 1e150, d, -1.0)  # as `plane_frame`
        if d.size and d.max() > best:
            best, at = float(d.max()), (lr, int(np.argmax(d)))
    return at


def paths_figure(frame: Frame, grid: tuple[FloatArray, FloatArray, FloatArray],
                 projected: dict[float, np.ndarray], start: np.ndarray, title: str,
                 label: str = "", loss: str = "E_total") -> Figure:
    """The loss on ``grid`` (A, B, E) of ``frame``, every projected path (lr -> (K, 2)) in its
    learning rate's colour, X at its end labelled with its rate, the start white (every job's
    landscape.png). Paths that run along the same valley stay apart: the longest is drawn
    widest, underneath, each shorter one narrower on top of it, and the end labels alternate
    above and below."""
    plt = pyplot()
    fig: Figure
    fig, ax = plt.subplots(figsize=(8.5, 6.8))
    # fixed margins (the colorbar takes its part of the axes): a constrained layout would lay
    # out every tick label once more before drawing, two thirds of this figure's time
    fig.subplots_adjust(left=0.085, right=0.985, bottom=0.1, top=0.9)
    contours(plt, ax, *grid, loss)
    colors = plt.get_cmap("tab10").colors
    color = {lr: colors[j % 10] for j, lr in enumerate(projected)}
    length = {lr: float(np.sum(np.linalg.norm(np.diff(p, axis=0), axis=1)))
              for lr, p in projected.items()}
    widest = sorted(projected, key=lambda lr: -length[lr])
    lines = {}
    for rank, lr in enumerate(widest):
        p = projected[lr]
        lines[lr], = ax.plot(p[:, 0], p[:, 1], "-", color=color[lr], solid_capstyle="round",
                             linewidth=1.5 + 1.3 * (len(widest) - 1 - rank), zorder=2 + rank)
    for i, lr in enumerate(sorted(projected, key=lambda lr: float(projected[lr][-1][0]))):
        end = projected[lr][-1]
        ax.plot(*end, "X", color=color[lr], markersize=10, markeredgecolor="k", zorder=20)
        up = 1 if i % 2 == 0 else -1  # neighbouring ends: one label above, the next below
        ax.annotate(f"lr {lr:g}", end, xytext=(0, up * (20 + 13 * (i // 2))),
                    textcoords="offset points", ha="center", va="center", fontsize=8,
                    zorder=21, arrowprops={"arrowstyle": "-", "linewidth": 0.6},
                    bbox={"boxstyle": "round,pad=0.2", "facecolor": "white",
                          "edgecolor": color[lr], "alpha": 0.9})
    dot, = ax.plot(*start, "o", color="white", markeredgecolor="k", markersize=10, zorder=22)
    ax.set_xlabel(frame.xlabel, fontsize=9)
    ax.set_ylabel(frame.ylabel, fontsize=9)
    ax.set_title(title, fontsize=10)
    ax.legend([*(lines[lr] for lr in projected), dot],
              [*(f"lr = {lr:g} ({len(p) - 1} steps{label})" for lr, p in projected.items()),
               "start"], fontsize="small", loc="best")
    return fig


def finite_steps(weights: np.ndarray) -> int:
    """How many leading rows of ``weights`` (steps+1, P) are finite (a diverging training
    ends in inf and NaN; the start is always finite)."""
    bad = np.flatnonzero(~np.isfinite(weights).all(axis=1))
    return int(bad[0]) if bad.size else int(weights.shape[0])


def plane_loss(net: Network, frame: Frame, A: np.ndarray, B: np.ndarray,
               data: Data) -> NDArray[np.float64]:
    """E of any network on the slice at every (A, B), float64, batched in chunks of grid
    points (the manual ``mlp`` forward pass)."""
    x, t = np.asarray(data.inputs, np.float64), np.asarray(data.targets, np.float64)
    w = frame.weights(A.ravel(), B.ravel())  # (G·G, P)
    s = None if data.weights is None else np.asarray(data.weights, np.float64)
    step = max(1, CHUNK // (x.shape[0] * max(net.sizes) * 2 * net.layers))
    E = np.empty(w.shape[0])
    for at in range(0, w.shape[0], step):  # E = c·Σ_b (s_b·) loss_b
        E[at:at + step] = mlp.reduce(net, mlp.forward_pass(net, w[at:at + step], x, t)[2],
                                     x.shape[0], s)
    return E.reshape(A.shape)


# --- the restart study's island (any network) ------------------------------------------------
OUTCOME_COLOURS = {"reached": "#2ca02c", "stuck": "#d62728", "still descending": "#1f77b4",
                   "not reached": "#7f7f7f"}  # the study's outcomes (`study.restarts.OUTCOMES`)
ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
            "ninth", "tenth")
TUTORIAL_WEIGHTS = {  # w1..w8: from which neuron to which (the tutorial's drawing)
    "w1": ("i1", "h1"), "w2": ("i2", "h1"), "w3": ("i1", "h2"), "w4": ("i2", "h2"),
    "w5": ("h1", "o1"), "w6": ("h2", "o1"), "w7": ("h1", "o2"), "w8": ("h2", "o2")}
PARAM = re.compile(r"([Wb])(\d+)\[(\d+)(?:,(\d+))?\]")


def _unit(net: Network, layer: int, j: int) -> str:
    """Unit j (0-based) of layer ``layer`` (0: the inputs, 1..L), in words."""
    if layer == 0:
        return f"input x{j + 1}"
    where = "output" if layer == net.layers else "hidden"
    if where == "output" and net.sizes[-1] == 1:
        return "the output unit"
    nth = ORDINALS[j] if j < len(ORDINALS) else f"number {j + 1}"
    deep = f" of hidden layer {layer}" if where == "hidden" and net.layers > 2 else ""
    return f"the {nth} {where} unit{deep}"


def describe_param(net: Network, name: str) -> str:
    """A parameter's name with what it is, for an axis label: ``"W1[0,1] (first hidden unit,
    weight from input x2)"``, ``"b2[0] (bias of the output unit)"``, ``"w5 (weight from h1 to
    o1)"`` (the tutorial's names)."""
    if name in TUTORIAL_WEIGHTS and len(name) == 2:
        a, b = TUTORIAL_WEIGHTS[name]
        return f"{name} (weight from {a} to {b})"
    m = PARAM.fullmatch(name)
    if m is None:
        return name
    layer, j = int(m.group(2)), int(m.group(3))
    to = _unit(net, layer, j).removeprefix("the ")
    if m.group(1) == "b":
        return f"{name} (bias of the {to})"
    source = _unit(net, layer - 1, int(m.group(4))).removeprefix("the ")
    return f"{name} ({to}, weight from {source})"


def default_slice(net: Network, params: tuple[str, ...]) -> Slice:
    """The island's default slice: w5,w6 on the tutorial's shape (the output weights of o1),
    else the first two parameters (the first hidden unit's weights from x1 and x2)."""
    return parse("w5,w6") if params == naming.WEIGHT_NAMES else parse(
        f"{params[0]},{params[1]}", params)


def start_plane(median: np.ndarray, best: np.ndarray, worst: np.ndarray) -> Frame:
    """The plane through the ``median`` start: u towards ``best``, v the part of the way to
    ``worst`` at right angles to u (orthonormal; any other direction if a way is zero)."""
    origin = np.asarray(median, np.float64)
    eye = np.eye(origin.size)
    u = np.asarray(best, np.float64) - origin
    u = u / np.linalg.norm(u) if np.linalg.norm(u) > 0 else eye[0]
    r = np.asarray(worst, np.float64) - origin
    r = r - (r @ u) * u  # Gram-Schmidt: the part at right angles to u
    if np.linalg.norm(r) <= 1e-12 * max(1.0, float(np.abs(origin).max())):
        e = eye[np.argmin(np.abs(u))]
        r = e - (e @ u) * u
    return Frame(origin, u, r / np.linalg.norm(r), "", "")


def restarts_figure(net: Network, data: Data, s: Slice, starts: np.ndarray,
                    outcomes: dict[float, np.ndarray], names: dict[int, str],
                    labels: dict[int, str], gallery: dict[str, int | None],
                    max_points: int = 3000) -> Figure:
    """One panel per learning rate: the starts (N, P) on the slice ``s``, each coloured by its
    outcome (``outcomes``: lr -> (N,) codes; ``names``: code -> "reached", "stuck", ...;
    ``labels``: code -> its legend label, the rule with its numbers). Two parameters: the
    dots are the starts' values of them, the grey background the loss with every other
    parameter at the median start's value (``gallery``: best/median/worst start of the first
    rate). The plane: through the median
    start towards the best and the worst, the starts projected onto it."""
    plt = pyplot()
    median = starts[int(gallery["median"] or 0)]  # best, median, worst: never None
    if s.axes is None:
        frame = start_plane(*(starts[int(gallery[k] or 0)] for k in ("median", "best", "worst")))
        frame = frame._replace(
            xlabel=f"distance from the median start (#{gallery['median']}) towards the best "
                   f"(#{gallery['best']})",
            ylabel=f"distance at right angles, towards the worst start (#{gallery['worst']})")
        how = "Dots: the starts projected onto the plane through the median, best and worst " \
              f"start; grey: {loss_name(net)} on that plane (darker = lower)"
    else:
        frame = axes_frame(s, median)._replace(xlabel=describe_param(net, s.names[0]),
                                                ylabel=describe_param(net, s.names[1]))
        how = (f"Dots: each start's {s.names[0]} and {s.names[1]}; grey: {loss_name(net)} over "
               f"these two with the other {median.size - 2} parameters at the median start's "
               f"(#{gallery['median']}; darker = lower)")
    shown = np.arange(min(len(starts), max_points))
    pts = frame.project(starts[shown])
    A, B = np.meshgrid(np.linspace(*axis_range(pts[:, 0], 0.05), NETWORK_GRID),
                       np.linspace(*axis_range(pts[:, 1], 0.05), NETWORK_GRID))
    E = plane_loss(net, frame, A, B, data)
    width = 5.2 * min(3, len(outcomes))  # inches, as `grid` lays the panels out
    fig, axes = grid(plt, len(outcomes), (5.2, 4.3), textwrap.fill(
        f"Where do the starts end up? The first {len(shown)} starts, coloured by outcome. "
        f"{how}", int(width * 11)))
    positive, levels, norm = log_levels(plt, E, 18, 10)
    for ax, (lr, codes) in zip(axes, outcomes.items(), strict=False):
        ax.contourf(A, B, positive, levels=levels, cmap="Greys_r", alpha=0.45, norm=norm)
        codes = np.asarray(codes)[shown]
        for code in names:
            mine = codes == code
            ax.scatter(pts[mine, 0], pts[mine, 1], s=7, color=OUTCOME_COLOURS[names[code]],
                       zorder=3 + _DRAW_ORDER.get(names[code], 0),  # stuck on top
                       label=f"{labels[code]} ({int(mine.sum())})")
        ax.set_title(f"learning rate {lr:g}", fontsize="medium")
        ax.set_xlabel(frame.xlabel, fontsize="small")
        ax.set_ylabel(frame.ylabel, fontsize="small")
        ax.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.14))
    return fig


_DRAW_ORDER = {"still descending": 0, "reached": 1, "not reached": 2, "stuck": 3}  # stuck on top


def save(fig: Figure, folder: Path) -> str:
    """landscape.png into ``folder``; closes ``fig``."""
    fig.savefig(folder / FILE, dpi=DPI, format="png", pil_kwargs=PNG)
    pyplot().close(fig)
    return FILE
