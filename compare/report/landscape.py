"""The island: the loss over a 2-D slice of weight space, with the training paths on it.

The tutorial's w1..w8: a slice is two weights (``w5,w6``: those two vary, the other six stay at
the start) or ``plane``: the plane through the start and the ends of training (main job), or
through the best, median and worst start (restarts). Any other network (`network_figure`): the
plane through the start and the ends of training. Paths and starts are drawn projected onto
the slice; the contours are the loss on the slice itself (the manual forward pass, batched).
"""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from autograd_compare import naming
from autograd_compare.errors import InputError
from autograd_compare.interface import Example
from autograd_compare.manual import mlp
from autograd_compare.manual.network import forward_values
from autograd_compare.network import Data, Network, loss_name
from autograd_compare.report.plots import DPI, PNG, grid, pyplot
from autograd_compare.validate import short_text

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FILE = "landscape.png"
GRID = 121  # points per axis (the tutorial's 2-2-2 network)
NETWORK_GRID = 81  # points per axis for any network
CHUNK = 4_000_000  # floats per batched forward pass (bounds the memory on big data sets)
PLANE = "plane"

FloatArray = NDArray[np.float64]


class Slice(NamedTuple):
    """Which 2-D slice: ``axes`` = (j, k) parameter indices named ``names``, or None for the
    plane."""

    axes: tuple[int, int] | None
    names: tuple[str, str] = ("", "")

    @property
    def label(self) -> str:
        return PLANE if self.axes is None else ",".join(self.names)


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


def plane_frame(origin: np.ndarray, points: np.ndarray, what: str) -> Frame:
    """The plane through ``origin`` that best holds ``points`` (N, P): u towards the farthest
    point, v towards the point farthest from that line (orthonormal). P = 8 for the tutorial's
    w1..w8; any P >= 2 for `network_figure`."""
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
    return Frame(origin, u, v, f"distance along u ({what}, first direction)",
                 "distance along v (orthogonal to u)")


def loss_grid(frame: Frame, a_range: tuple[float, float], b_range: tuple[float, float],
              example: Example) -> tuple[FloatArray, FloatArray, FloatArray]:
    """E_total on a GRID x GRID mesh of the slice (float64, manual forward pass)."""
    a = np.linspace(*a_range, GRID)
    b = np.linspace(*b_range, GRID)
    A, B = np.meshgrid(a, b)
    ex = Example(np.asarray(example.inputs, np.float64), np.asarray(example.targets, np.float64))
    E = forward_values(frame.weights(A, B).reshape(-1, 8), ex)["E_total"].reshape(A.shape)
    return A, B, E


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
    (steps+1, P)); a diverging path as far as it is finite."""
    finite = {lr: np.asarray(p, np.float64)[:finite_steps(p)] for lr, p in paths.items()}
    start = next(iter(finite.values()))[0]
    rest = np.concatenate([p[1:] for p in finite.values()]) if finite else start[None]
    if s.axes is None:
        frame = plane_frame(start, rest if rest.size else start[None],
                            "start to the end of training")
        title = (f"{loss_name(net)} over the plane through the start and the end of training "
                 f"({frame.origin.size} parameters);\nthe paths projected onto the plane")
    else:
        frame = axes_frame(s, start)
        title = (f"{loss_name(net)} over the slice '{s.label}' (the other "
                 f"{frame.origin.size - 2} parameters at their starting values);\nthe paths "
                 "projected onto it")
    projected = {lr: frame.project(p) for lr, p in finite.items()}
    every = np.concatenate(list(projected.values()))
    A, B = np.meshgrid(np.linspace(*axis_range(every[:, 0]), NETWORK_GRID),
                       np.linspace(*axis_range(every[:, 1]), NETWORK_GRID))
    return paths_figure(frame, (A, B, plane_loss(net, frame, A, B, data)), projected, every[0],
                        title + " (X: the last step)", f", {reference}", loss_name(net))


def paths_figure(frame: Frame, grid: tuple[FloatArray, FloatArray, FloatArray],
                 projected: dict[float, np.ndarray], start: np.ndarray, title: str,
                 label: str = "", loss: str = "E_total") -> Figure:
    """The loss on ``grid`` (A, B, E) of ``frame``, every projected path (lr -> (K, 2)) in its
    learning rate's colour, X at its end, the start white (every job's landscape.png)."""
    plt = pyplot()
    fig: Figure
    fig, ax = plt.subplots(figsize=(8.5, 6.5))
    # fixed margins (the colorbar takes its part of the axes): a constrained layout would lay
    # out every tick label once more before drawing, two thirds of this figure's time
    fig.subplots_adjust(left=0.085, right=0.985, bottom=0.075, top=0.92)
    contours(plt, ax, *grid, loss)
    colors = plt.get_cmap("tab10").colors
    for j, (lr, p) in enumerate(projected.items()):
        ax.plot(p[:, 0], p[:, 1], "-o", color=colors[j % 10], markersize=2.2, linewidth=1.4,
                label=f"lr = {lr:g} ({len(p) - 1} steps{label})")
        ax.plot(*p[-1], "X", color=colors[j % 10], markersize=9, markeredgecolor="k")
    ax.plot(*start, "o", color="white", markeredgecolor="k", markersize=10, label="start",
            zorder=5)
    ax.set_xlabel(frame.xlabel)
    ax.set_ylabel(frame.ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize="small", loc="best")
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


def restarts_figure(s: Slice, starts: np.ndarray, reached: dict[float, np.ndarray],
                    gallery: dict[str, int], center: float, example: Example,
                    threshold: float, max_points: int = 3000) -> Figure:
    """One panel per learning rate: the starts on the slice, green if they reached the
    threshold, red if not (stuck, or still descending when the steps ran out: the final E
    alone does not tell which). ``reached``: lr -> (N,) bool; ``gallery``: best/median/worst
    start index (of the first rate) for the plane."""
    plt = pyplot()
    if s.axes is None:
        three = starts[[gallery["median"], gallery["best"], gallery["worst"]]]
        frame = plane_frame(three[0], three[1:], "median start to the best and worst")
    else:
        frame = axes_frame(s, np.full(8, center))
    shown = np.arange(min(len(starts), max_points))
    pts = frame.project(starts[shown])
    A, B, E = loss_grid(frame, axis_range(pts[:, 0], 0.05), axis_range(pts[:, 1], 0.05), example)
    slice_text = (f"the other weights at {center:g}" if s.axes else
                  "starts projected onto the plane")
    fig, axes = grid(plt, len(reached), (5.2, 4.3),
                     f"The island: the first {len(shown)} starts on the slice '{s.label}' "
                     f"({slice_text}), coloured by where they end;\ngrey: E_total on the slice "
                     "(darker = lower)")
    positive, levels, norm = log_levels(plt, E, 18, 10)
    for ax, (lr, ok) in zip(axes, reached.items(), strict=False):
        ax.contourf(A, B, positive, levels=levels, cmap="Greys_r", alpha=0.55, norm=norm)
        ok = np.asarray(ok)[shown]
        ax.scatter(pts[~ok, 0], pts[~ok, 1], s=7, color="#d62728",  # stuck or still going:
                   label=f"not reached ({(~ok).sum()})")  # the final E alone cannot tell
        ax.scatter(pts[ok, 0], pts[ok, 1], s=7, color="#2ca02c",
                   label=f"reached E_total <= {threshold:g} ({ok.sum()})")
        ax.set_title(f"learning rate {lr:g}", fontsize="medium")
        ax.set_xlabel(frame.xlabel, fontsize="small")
        ax.set_ylabel(frame.ylabel, fontsize="small")
        ax.legend(fontsize="x-small", loc="upper right")
    return fig


def save(fig: Figure, folder: Path) -> str:
    """landscape.png into ``folder``; closes ``fig``."""
    fig.savefig(folder / FILE, dpi=DPI, format="png", pil_kwargs=PNG)
    pyplot().close(fig)
    return FILE
