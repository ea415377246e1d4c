"""The pictures of ``autograd-compare check --out``: network.svg/.png and landscape.png for any
network (`compare.network`), preset or your own.

* network.svg/.png: `drawing.draw` of a `drawing.Panel` built here for any layer sizes, at step
  0 and at the last step of the reference backend's training: every node with its z and a of
  the FIRST example and dE/dz, dE/da (the reference backend's ``gradients``), every edge with
  its weight and dE/dw, each neuron's bias (trainable: value and dE/db; frozen: value). The
  2-2-2 presets (2-2-2 sigmoid, no biases or frozen ones, ½Σ(t-a)² summed, one example: the
  tutorial's and Mazur's) are drawn with `drawing.tutorial_panel`, in the tutorial's notation
  (i1, h1, a_h1, o1, w1..w8, E_total = E1 + E2), as the main job draws the tutorial; Mazur's
  frozen biases appear as b1 (hidden layer) and b2 (output layer), as in his walkthrough.
* landscape.png: E over the plane through the start and the end of training (`landscape.
  plane_frame`, which holds the path best), the reference backend's path projected onto it.
  With many parameters a plane is the natural 2-D slice; the contours are E evaluated on the
  plane itself (the manual ``mlp`` forward pass, batched over the grid, float64).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from autograd_compare.backend import Backend
from autograd_compare.manual import mlp
from autograd_compare.network import (
    Data,
    Network,
    is_tutorial_shape,
    layout,
    node_names,
    param_names,
    reduction_scale,
)
from autograd_compare.report import drawing, landscape
from autograd_compare.report.plots import pyplot

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FILES = [drawing.SVG_FILE, drawing.PNG_FILE, landscape.FILE]
GRID = 81  # points per axis of the landscape
CHUNK = 4_000_000  # floats per batched forward pass (bounds the memory on big data sets)


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _is_tutorial(net: Network, batch: int) -> bool:
    """The tutorial's notation fits: 2-2-2 sigmoid, no biases or frozen ones (Mazur's),
    ½Σ(t-a)² summed, one example (E_total = E1 + E2)."""
    return (is_tutorial_shape(net) and net.bias in ("none", "frozen") and net.loss == "half-sse"
            and net.reduction == "sum" and batch == 1)


def bias_text(net: Network, layer: int, j: int) -> str:
    """A frozen bias in Mazur's notation: b1 shared by the hidden layer, b2 by the outputs
    (b1[j] when a layer's neurons have different ones)."""
    values = net.bias_values[layer] if net.bias_values is not None else ()
    name = f"b{layer + 1}" if len(set(values)) == 1 else f"b{layer + 1}[{j}]"
    return f"{name} = {_fmt(values[j])} (frozen)"


def tutorial_panel(backend: Backend, net: Network, w: np.ndarray, data: Data,
                   title: str) -> drawing.Panel:
    """The 2-2-2 network in the tutorial's notation (`drawing.tutorial_panel`)."""
    f, g = backend.forward(net, w, data), backend.gradients(net, w, data)
    a_out, t = np.asarray(f.a[1][0], np.float64), np.asarray(data.targets[0], np.float64)
    errors = 0.5 * (t - a_out) ** 2
    nodes = [*f.z[0][0], *f.a[0][0], *f.z[1][0], *f.a[1][0], *errors, float(f.E)]
    hidden_a, out_a = g.a[0], g.a[1] if g.a[1] is not None else g.z[1]  # softmax: z only
    assert hidden_a is not None, "a hidden layer always has dE/da"
    node_grads = [*g.z[0][0], *hidden_a[0], *g.z[1][0], *out_a[0]]
    run = {"nodes": [[float(x) for x in nodes]], "node_grads": [[float(x) for x in node_grads]],
           "weights": [np.asarray(w, np.float64).tolist()],
           "grads": [np.asarray(g.w, np.float64).tolist()]}
    p = drawing.tutorial_panel(run, 0, np.asarray(data.inputs[0]).tolist(), t.tolist(), title)
    if net.bias != "frozen":
        return p
    nodes = [p.nodes[0]] + [[f"{text}\n{bias_text(net, l, j)}" for j, text in enumerate(column)]
                            for l, column in enumerate(p.nodes[1:])]
    return p._replace(nodes=nodes)


def panel(backend: Backend, net: Network, w: np.ndarray, data: Data,
          title: str) -> drawing.Panel:
    """Any network at parameters ``w``: values and gradients of the first example."""
    f, g = backend.forward(net, w, data), backend.gradients(net, w, data)
    names, lay = param_names(net), layout(net)
    sizes = net.sizes
    nodes: list[list[str]] = [[f"x[{i}] = {_fmt(x)}" for i, x in enumerate(data.inputs[0])]]
    for l in range(net.layers):
        zn, an = node_names(net, "z", l + 1), node_names(net, "a", l + 1)
        column = []
        for j in range(sizes[l + 1]):
            text = (f"{zn[j]} = {_fmt(f.z[l][0, j])}  {an[j]} = {_fmt(f.a[l][0, j])}\n"
                    f"∂E/∂{zn[j]} = {_fmt(g.z[l][0, j])}")
            da = g.a[l]
            if da is not None:
                text += f"\n∂E/∂{an[j]} = {_fmt(da[0, j])}"
            b = lay[l].b
            if b is not None:
                k = b.start + j
                text += f"\n{names[k]} = {_fmt(w[k])}  ∂E/∂{names[k]} = {_fmt(g.w[k])}"
            elif net.bias == "frozen" and net.bias_values is not None:
                text += f"\nbias {_fmt(net.bias_values[l][j])} (frozen)"
            column.append(text)
        nodes.append(column)
    edges: dict[tuple[int, int, int], str] = {}
    for l, part in enumerate(lay):
        for j in range(sizes[l + 1]):
            for i in range(sizes[l]):
                k = part.W.start + j * sizes[l] + i
                edges[(l, j, i)] = f"{names[k]} = {_fmt(w[k])}\n∂E/∂{names[k]} = {_fmt(g.w[k])}"
    t = np.asarray(data.targets[0], np.float64)
    errors = [f"t[{j}] = {_fmt(x)}" for j, x in enumerate(t)]
    batch = data.inputs.shape[0]
    errors.append(f"E = {_fmt(float(f.E))}\n{net.loss}, {net.reduction}\n"
                  f"over {batch} example{'s' if batch != 1 else ''}")
    return drawing.Panel(title, sizes, nodes, edges, errors)


def _panels(net: Network, backend: Backend, data: Data, path: np.ndarray, lr: float,
            reference: str) -> list[drawing.Panel]:
    """The start and the last finite step of ``path`` (steps+1, P), trained at ``lr``."""
    make = tutorial_panel if _is_tutorial(net, data.inputs.shape[0]) else panel
    last = finite_steps(path) - 1
    what = "last step" if last == path.shape[0] - 1 else "last finite step: diverged"
    return [make(backend, net, path[k], data,
                 f"step {k} ({label}), lr {lr:g}, backend {reference}, values of example 1")
            for k, label in ((0, "start"), (last, what))]


def finite_steps(weights: np.ndarray) -> int:
    """How many leading rows of ``weights`` (steps+1, P) are finite (a diverging training
    ends in inf and NaN; the start is always finite)."""
    bad = np.flatnonzero(~np.isfinite(weights).all(axis=1))
    return int(bad[0]) if bad.size else int(weights.shape[0])


def plane_loss(net: Network, frame: landscape.Frame, A: np.ndarray, B: np.ndarray,
               data: Data) -> NDArray[np.float64]:
    """E on the slice at every (A, B), float64, batched in chunks of grid points."""
    x, t = np.asarray(data.inputs, np.float64), np.asarray(data.targets, np.float64)
    w = frame.weights(A.ravel(), B.ravel())  # (G·G, P)
    c = reduction_scale(net, x.shape[0])
    per_point = x.shape[0] * max(net.sizes) * 2 * net.layers
    step = max(1, CHUNK // per_point)
    E = np.empty(w.shape[0])
    for at in range(0, w.shape[0], step):
        losses = mlp.forward_pass(net, w[at:at + step], x, t)[2]
        E[at:at + step] = c * losses.sum(axis=-1)
    return E.reshape(A.shape)


def landscape_figure(net: Network, paths: dict[float, np.ndarray], reference: str,
                     data: Data) -> Figure:
    """E over the plane through the start and the ends of training, every path on it
    (``paths``: learning rate -> the reference's parameters (steps+1, P))."""
    plt = pyplot()
    finite = {lr: np.asarray(p, np.float64)[:finite_steps(p)] for lr, p in paths.items()}
    start = next(iter(finite.values()))[0]
    rest = np.concatenate([p[1:] for p in finite.values()]) if finite else start[None]
    frame = landscape.plane_frame(start, rest if rest.size else start[None],
                                  "start to the end of training")
    projected = {lr: frame.project(p) for lr, p in finite.items()}
    every = np.concatenate(list(projected.values()))
    a = np.linspace(*landscape.axis_range(every[:, 0]), GRID)
    b = np.linspace(*landscape.axis_range(every[:, 1]), GRID)
    A, B = np.meshgrid(a, b)
    E = plane_loss(net, frame, A, B, data)
    fig: Figure
    fig, ax = plt.subplots(figsize=(8.5, 6.5), layout="constrained")
    landscape.contours(plt, ax, A, B, E)
    colors = plt.get_cmap("tab10").colors
    for j, (lr, p) in enumerate(projected.items()):
        color = "tab:red" if len(projected) == 1 else colors[j % 10]
        ax.plot(p[:, 0], p[:, 1], "-o", color=color, markersize=2.2, linewidth=1.4,
                label=f"lr = {lr:g} ({len(p) - 1} steps, {reference})")
        ax.plot(*p[-1], "X", color=color, markersize=9, markeredgecolor="k")
    ax.plot(*every[0], "o", color="white", markeredgecolor="k", markersize=10, label="start",
            zorder=5)
    ax.set_xlabel(frame.xlabel)
    ax.set_ylabel(frame.ylabel)
    ax.set_title(f"E over the plane through the start and the end of training "
                 f"({frame.origin.size} parameters);\nthe path projected onto the plane "
                 "(X: the last step)", fontsize=10)
    ax.legend(fontsize="small", loc="best")
    return fig


def write(folder: Path, net: Network, backend: Backend, data: Data,
          paths: dict[float, np.ndarray], reference: str) -> list[str]:
    """network.svg, network.png (the start and the end at the first rate of ``paths``) and
    landscape.png (every path) into ``folder``; returns their names."""
    lr, path = next(iter(paths.items()))
    drawing.save(folder, _panels(net, backend, data, np.asarray(path), lr, reference))
    # a diverging run (inf, NaN weights) is drawn as far as it is finite, without warnings
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        fig = landscape_figure(net, paths, reference, data)
    landscape.save(fig, folder)
    return list(FILES)
