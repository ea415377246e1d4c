"""The verdict battery of issue 21: random valid networks must never FAIL, every optimizer
mistake must always FAIL.

    python tools/verdict_battery.py [--configs 60] [--steps 1000] [--seed 0]

Valid: random depth (1-7 hidden layers), widths 1-6, every activation (ReLU kinks included),
bias modes, losses, lrs up to 10, float64 and float32, every optimizer, manual vs torch vs
jax. Mistakes: every `manual.optim.MISTAKES` entry on every preset with every optimizer it
applies to (weight decay given where the mistake needs it). Prints one line per failure and
the counts; exit 1 if any valid network FAILed or any mistake passed.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from autograd_compare import network, optimizers
from autograd_compare.harness import optim_check
from autograd_compare.manual.optim import MISTAKES

ACTIVATIONS = ("sigmoid", "tanh", "relu", "identity")
KINDS = ("sgd", "momentum", "nesterov", "adam", "adamw", "textbook-momentum")


def random_case(rng: np.random.Generator):
    depth = int(rng.integers(1, 8))
    sizes = (int(rng.integers(1, 5)), *map(int, rng.integers(1, 7, depth)),
             int(rng.integers(1, 4)))
    acts = [str(rng.choice(ACTIVATIONS)) for _ in sizes[1:]]
    loss = str(rng.choice(("half-sse", "mse", "cross-entropy")))
    if loss == "cross-entropy":
        acts[-1] = "softmax"
        sizes = (*sizes[:-1], max(2, sizes[-1]))
    net = network.make_network(sizes, tuple(acts), str(rng.choice(("none", "trainable"))),
                               loss=loss, reduction=str(rng.choice(("sum", "mean"))))
    B = int(rng.integers(1, 9))
    x = rng.normal(size=(B, sizes[0]))
    t = (np.eye(sizes[-1])[rng.integers(0, sizes[-1], B)] if loss == "cross-entropy"
         else rng.uniform(0, 1, (B, sizes[-1])))
    w = rng.normal(0, 0.8, network.n_params(net))
    kind = str(rng.choice(KINDS))
    lr = float(10 ** rng.uniform(-2, 1)) if kind in ("sgd", "momentum", "nesterov",
                                                     "textbook-momentum") \
        else float(10 ** rng.uniform(-3, -0.5))
    opt = optimizers.make(kind, lr=lr, weight_decay=float(rng.choice((0.0, 0.01))))
    dtype = str(rng.choice(("float64", "float32")))
    return net, network.data(net, x, t), w, opt, dtype


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--configs", type=int, default=60)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    false_fails = separated = 0
    t0 = time.perf_counter()
    for i in range(args.configs):
        net, data, w, opt, dtype = random_case(rng)
        sw = optim_check.sweep("battery", opt, ["manual", "torch", "jax"], net, w, data,
                               (opt.lr,), args.steps, dtype)
        r = sw.rates[0]
        separated += bool(r.separations)
        if not sw.ok:
            false_fails += 1
            print(f"FALSE FAIL {i}: {network.describe(net)} {opt.describe()} {dtype}: "
                  f"{sw.first_divergence}", flush=True)
        if (i + 1) % 10 == 0:
            print(f"{i + 1} valid configurations, {time.perf_counter() - t0:.0f} s", flush=True)
    passed = caught = 0
    for name, m in MISTAKES.items():
        for preset in network.PRESETS:
            p = network.preset(preset)
            for kind in m.kinds:
                opt = optimizers.make(kind, lr=p.lr, weight_decay=0.1
                                      if "decay" in name else 0.0)
                sw = optim_check.sweep(preset, opt, ["manual", f"mistake:{name}"], p.network,
                                       p.weights, p.data, (p.lr,), 50)
                if sw.ok:
                    passed += 1
                    print(f"MISTAKE PASSED: {name} on {preset} with {kind}", flush=True)
                else:
                    caught += 1
    print(f"valid: {args.configs} configurations x {args.steps} steps, {false_fails} false "
          f"FAIL, {separated} with whole runs separating (explained); mistakes: {caught} "
          f"caught, {passed} passed; {time.perf_counter() - t0:.0f} s")
    return 1 if false_fails or passed else 0


if __name__ == "__main__":
    sys.exit(main())
