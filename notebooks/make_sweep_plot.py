"""Draw docs/lr_sweep.png (docs/teaching.md): ``python notebooks/make_sweep_plot.py [OUT.png]``.

E_total against the iteration, 100 steps from the class weights at each of the tutorial's
learning rates, one panel each, with every installed backend drawn over the hand formulas.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import autograd_compare as ac  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "docs" / "lr_sweep.png"
STYLES = {"manual": "-", "torch": "--", "jax": ":"}


def main(out: Path = OUT, steps: int = 100) -> Path:
    fig, axes = plt.subplots(2, 3, figsize=(11, 5.5), sharex=True)
    for name in ac.backends():
        backend = ac.get_backend(name)
        for ax, lr in zip(axes.flat, ac.LEARNING_RATES, strict=True):
            ax.plot(backend.train(ac.CLASS_WEIGHTS, lr=lr, steps=steps).loss,
                    STYLES[name], label=name)
    for ax, lr in zip(axes.flat, ac.LEARNING_RATES, strict=True):
        ax.set_title(f"lr = {lr}")
        ax.set_xlabel("iteration")
        ax.set_ylabel("E_total")
    axes.flat[0].legend()
    fig.suptitle("E_total during gradient descent on the class example")
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    return out


if __name__ == "__main__":
    print(main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT))
