"""The network drawn with its numbers (network.svg, network.png), laid out like the tutorial's
figure: inputs on the left, then each layer of neurons, the errors on the right; every edge
labelled with its weight and dE_total/dw, every neuron with its values and dE_total/d(node).

Drawn with matplotlib (already the report's plotting library, no extra binary): the layout is
a fixed layered grid, so exact placement of the edge labels matters more than automatic graph
layout (graphviz places edge labels where it likes and crowds them on dense layers).
The layout works on a list of layer sizes; `tutorial_panel` fills it for the 2-2-2 network
(the main job's recorded steps), `panel` for any network (``check --out``: every node with its z
and a of the first example and dE/dz, dE/da, every edge with its weight and dE/dw, each bias).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from autograd_compare.backend import Backend
from autograd_compare.interface import Example
from autograd_compare.network import (
    Data,
    Network,
    is_tutorial_shape,
    layout,
    node_names,
    param_names,
)
from autograd_compare.report.landscape import finite_steps
from autograd_compare.report.plots import DPI, PNG, pyplot

if TYPE_CHECKING:
    from matplotlib.axes import Axes

SVG_FILE, PNG_FILE = "network.svg", "network.png"
NODE_STYLE = {"boxstyle": "round,pad=0.45", "facecolor": "#eef4fb", "edgecolor": "#35618f"}
INPUT_STYLE = {**NODE_STYLE, "facecolor": "#f3f3f3", "edgecolor": "#666666"}
ERROR_STYLE = {**NODE_STYLE, "facecolor": "#fdf0e6", "edgecolor": "#b5651d"}


class Panel(NamedTuple):
    """What one drawing shows: texts per node and per edge, for layers of ``sizes``."""

    title: str
    sizes: tuple[int, ...]  # neurons per layer, inputs first
    nodes: list[list[str]]  # nodes[l][j]: the text of neuron j of layer l
    edges: dict[tuple[int, int, int], str]  # (l, j, i): edge from neuron i of layer l to
    #                                          neuron j of layer l + 1
    errors: list[str]  # text boxes right of the last layer (E1, E2, ..., E_total)


def weight_index(sizes: Sequence[int], layer: int, j: int, i: int) -> int:
    """0-based index in the flat weight vector of the edge i -> j into layer ``layer`` + 1.

    Layers are stored one after another, each row-major in PyTorch's (out, in) layout, so for
    the 2-2-2 network (0, 0, 1) -> 1 (w2: i2 -> h1) and (1, 1, 0) -> 6 (w7: a_h1 -> o2).
    """
    offset = sum(sizes[k] * sizes[k + 1] for k in range(layer))
    return offset + j * sizes[layer] + i


def positions(sizes: Sequence[int], dx: float, dy: float) -> list[list[tuple[float, float]]]:
    """(x, y) of every neuron: layer l at x = l * dx, each layer centred on y = 0, ``dy`` apart,
    neuron 1 on top."""
    return [[(l * dx, ((n - 1) / 2 - j) * dy) for j in range(n)] for l, n in enumerate(sizes)]


def _geometry(sizes: Sequence[int]) -> tuple[float, float, float]:
    """Layer distance, neuron distance (inches) and font size for networks of ``sizes``."""
    widest = max(sizes)
    if widest <= 2:
        return 5.6, 2.0, 8
    if widest <= 4:
        return 5.6, 1.45, 7
    # wide layers (check --out of any network): up to 64 edge labels between two layers, so
    # the layers move apart with the width and each target neuron's labels get their own column
    return 2.2 + 1.3 * widest, 1.9, 5.5


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def tutorial_panel(run: dict[str, Any], row: int, inputs: Sequence[float], targets: Sequence[float],
                   title: str) -> Panel:
    """The 2-2-2 network at row ``row`` of a `compare.harness.steps.as_json` run."""
    names = ("h1", "h2", "a_h1", "a_h2", "o1", "o2", "a_o1", "a_o2", "E1", "E2", "E_total")
    v = dict(zip(names, run["nodes"][row], strict=True))
    g = dict(zip(names[:8], run["node_grads"][row], strict=True))
    w, dw = run["weights"][row], run["grads"][row]

    def neuron(pre: str, post: str) -> str:
        return (f"{pre} = {_fmt(v[pre])}   {post} = {_fmt(v[post])}\n"
                f"∂E_total/∂{pre} = {_fmt(g[pre])}\n∂E_total/∂{post} = {_fmt(g[post])}")

    sizes = (2, 2, 2)
    nodes = [[f"i{k} = {_fmt(x)}" for k, x in enumerate(inputs, start=1)],
             [neuron("h1", "a_h1"), neuron("h2", "a_h2")],
             [neuron("o1", "a_o1"), neuron("o2", "a_o2")]]
    edges: dict[tuple[int, int, int], str] = {}
    for layer in (0, 1):
        for j in range(2):
            for i in range(2):
                k = weight_index(sizes, layer, j, i)
                edges[(layer, j, i)] = (f"w{k + 1} = {_fmt(w[k])}\n"
                                        f"∂E_total/∂w{k + 1} = {_fmt(dw[k])}")
    errors = [f"E{k} = ½(t{k} - a_o{k})²\nt{k} = {_fmt(t)}\nE{k} = {_fmt(v[f'E{k}'])}"
              for k, t in enumerate(targets, start=1)]
    errors.append(f"E_total = E1 + E2\n= {_fmt(v['E_total'])}")
    return Panel(title, sizes, nodes, edges, errors)


def recorded_panels(run: dict[str, Any], example: Example, what: str) -> list[Panel]:
    """The tutorial's network.svg/png (main job, restarts): ``run`` (a `steps.as_json` run) at
    its first and last recorded step."""
    inputs, targets = np.asarray(example.inputs).tolist(), np.asarray(example.targets).tolist()
    last = run["steps"][-1]
    return [tutorial_panel(run, row, inputs, targets,
                           f"{what}, lr {run['lr']:g}, step {step} "
                           f"({'start' if row == 0 else 'last step'}), backend {run['backend']}")
            for row, step in ((0, 0), (-1, last))]


def _tutorial_notation(net: Network, batch: int) -> bool:
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


def panel(backend: Backend, net: Network, w: np.ndarray, data: Data, title: str) -> Panel:
    """Any network at parameters ``w``: values and gradients of the first example (``backend``'s
    forward and gradients); the 2-2-2 presets in the tutorial's notation (`tutorial_panel`),
    Mazur's frozen biases as b1 (hidden layer) and b2 (output layer)."""
    f, g = backend.forward(net, w, data), backend.gradients(net, w, data)
    t = np.asarray(data.targets[0], np.float64)
    if _tutorial_notation(net, data.inputs.shape[0]):
        errors = 0.5 * (t - np.asarray(f.a[1][0], np.float64)) ** 2
        nodes = [*f.z[0][0], *f.a[0][0], *f.z[1][0], *f.a[1][0], *errors, float(f.E)]
        hidden_a, out_a = g.a[0], g.a[1] if g.a[1] is not None else g.z[1]  # softmax: z only
        assert hidden_a is not None, "a hidden layer always has dE/da"
        run = {"nodes": [[float(x) for x in nodes]],
               "node_grads": [[float(x) for x in (*g.z[0][0], *hidden_a[0], *g.z[1][0],
                                                  *out_a[0])]],
               "weights": [np.asarray(w, np.float64).tolist()],
               "grads": [np.asarray(g.w, np.float64).tolist()]}
        p = tutorial_panel(run, 0, np.asarray(data.inputs[0]).tolist(), t.tolist(), title)
        if net.bias != "frozen":
            return p
        return p._replace(nodes=[p.nodes[0]] + [[f"{text}\n{bias_text(net, l, j)}"
                                                 for j, text in enumerate(column)]
                                                for l, column in enumerate(p.nodes[1:])])
    names, lay, sizes = param_names(net), layout(net), net.sizes
    nodes_: list[list[str]] = [[f"x[{i}] = {_fmt(x)}" for i, x in enumerate(data.inputs[0])]]
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
        nodes_.append(column)
    edges: dict[tuple[int, int, int], str] = {}
    for l, part in enumerate(lay):
        for j in range(sizes[l + 1]):
            for i in range(sizes[l]):
                k = part.W.start + j * sizes[l] + i
                edges[(l, j, i)] = f"{names[k]} = {_fmt(w[k])}\n∂E/∂{names[k]} = {_fmt(g.w[k])}"
    batch = data.inputs.shape[0]
    errors_ = [f"t[{j}] = {_fmt(x)}" for j, x in enumerate(t)]
    errors_.append(f"E = {_fmt(float(f.E))}\n{net.loss}, {net.reduction}\n"
                   f"over {batch} example{'s' if batch != 1 else ''}")
    return Panel(title, sizes, nodes_, edges, errors_)


def network_panels(backend: Backend, net: Network, data: Data, path: np.ndarray, lr: float,
                   reference: str) -> list[Panel]:
    """Any network at the start and the last finite step of ``path`` (steps+1, P), trained at
    ``lr`` by ``reference`` (whose forward and gradients ``backend`` computes)."""
    last = finite_steps(path) - 1
    what = "last step" if last == path.shape[0] - 1 else "last finite step: diverged"
    return [panel(backend, net, path[k], data,
                  f"step {k} ({label}), lr {lr:g}, backend {reference}, values of example 1")
            for k, label in ((0, "start"), (last, what))]


def draw(ax: Axes, panel: Panel) -> tuple[float, float]:
    """Draw ``panel`` on ``ax`` in inch units; returns the (width, height) used."""
    sizes = panel.sizes
    dx, dy, small = _geometry(sizes)
    pos = positions(sizes, dx, dy)
    label_box = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none",
                 "alpha": 0.92}
    # edge labels sit between the neuron boxes (about 2.2 in wide) and spread along the edges
    # by target neuron, so the labels of crossing edges land at different places
    lo = min(0.45, (1.15 + 0.75 * small / 8) / dx)
    for layer in range(len(sizes) - 1):
        n_out = sizes[layer + 1]
        for j in range(n_out):
            t = lo + (1 - 2 * lo) * j / (n_out - 1) if n_out > 1 else 0.5
            for i in range(sizes[layer]):
                (x0, y0), (x1, y1) = pos[layer][i], pos[layer + 1][j]
                ax.plot([x0, x1], [y0, y1], color="#9aa9b8", linewidth=0.9, zorder=1)
                text = panel.edges.get((layer, j, i))
                if text:
                    ax.text(x0 + t * (x1 - x0), y0 + t * (y1 - y0), text, fontsize=small,
                            ha="center", va="center", zorder=3, bbox=label_box)
    for layer, column in enumerate(pos):
        style = INPUT_STYLE if layer == 0 else NODE_STYLE
        for j, (x, y) in enumerate(column):
            ax.text(x, y, panel.nodes[layer][j], fontsize=small + 1, ha="center", va="center",
                    zorder=4, bbox=style)
    last, x_err = pos[-1], pos[-1][0][0] + 0.62 * dx
    per_output = panel.errors[:len(last)]
    for (x, y), text in zip(last, per_output, strict=False):
        ax.plot([x, x_err], [y, y], color="#d9b48f", linewidth=0.9, zorder=1)
        ax.text(x_err, y, text, fontsize=small + 1, ha="center", va="center", zorder=4,
                bbox=ERROR_STYLE)
    x_total = x_err + 0.45 * dx
    for text in panel.errors[len(last):]:  # E_total, fed by every output error
        for _, y in last[:len(per_output)]:
            ax.plot([x_err, x_total], [y, 0.0], color="#d9b48f", linewidth=0.9, zorder=1)
        ax.text(x_total, 0.0, text, fontsize=small + 1, ha="center", va="center", zorder=4,
                bbox=ERROR_STYLE)
    top = (max(sizes) - 1) / 2 * dy
    x_min, x_max = -1.0, x_total + 1.3
    ax.set_xlim(x_min, x_max)
    ax.set_ylim(-top - 0.75, top + 0.75)
    ax.set_aspect("equal")
    ax.set_title(panel.title, fontsize=11)
    ax.axis("off")
    return x_max - x_min, 2 * top + 1.5


QUESTION = ("What does backpropagation give every weight and neuron, at the start and after "
            "training?")


def save(folder: Path, panels: Sequence[Panel], question: str = "") -> list[str]:
    """Draw ``panels`` one above the other into network.svg and network.png, under
    ``question`` (the main job's: `QUESTION`) when given."""
    plt = pyplot()
    with plt.rc_context({"svg.fonttype": "none", "font.family": "DejaVu Sans"}):
        fig, axes = plt.subplots(len(panels), 1, squeeze=False)
        sizes = [draw(ax, panel) for ax, panel in zip(axes[:, 0], panels, strict=True)]
        width = max(w for w, _ in sizes)
        head = 0.55 if question else 0.0  # inches above the first panel's title
        height = sum(h + 0.45 for _, h in sizes) + head  # room for each title
        fig.set_size_inches(width, height)
        fig.subplots_adjust(left=0, right=1, bottom=0, top=1 - (0.4 + head) / height,
                            hspace=0.45 / height * len(panels))
        if question:
            fig.suptitle(question, y=1 - 0.2 / height, va="top", fontsize=14)
        fig.savefig(folder / SVG_FILE, format="svg")
        fig.savefig(folder / PNG_FILE, dpi=DPI, format="png", pil_kwargs=PNG)
        plt.close(fig)
    return [SVG_FILE, PNG_FILE]
