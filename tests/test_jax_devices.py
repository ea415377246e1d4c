"""The JAX batched path on several devices: 4 CPU devices forced by XLA_FLAGS (in a subprocess,
since JAX reads the flag once) give the same bits as one device."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("jax")

SCRIPT = """
import hashlib, json
import numpy as np
from autograd_compare.jax_impl import train
from autograd_compare.registry import get_backend

rng = np.random.default_rng(3)
out = {"devices": len(train.devices())}
for n in (37, 5000):
    w, lr = rng.uniform(-3, 3, (n, 8)), rng.choice([0.1, 0.5, 2.0], n)
    for dt in ("float64", "float32"):
        r = get_backend("jax", dt).train_batch(w.astype(dt), lr.astype(dt), steps=40,
                                               threshold=1e-3, keep_loss=True)
        data = b"".join(np.ascontiguousarray(x).tobytes() for x in r)
        out[f"{n} {dt}"] = hashlib.sha256(data).hexdigest()
print(json.dumps(out))
"""


def _run(devices: int) -> dict:
    env = dict(os.environ)
    flags = env.get("XLA_FLAGS", "").replace("--xla_force_host_platform_device_count", "--x")
    env["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={devices}".strip()
    env["JAX_PLATFORMS"] = "cpu"
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_four_devices_give_the_bits_of_one():
    one, four = _run(1), _run(4)
    assert one.pop("devices") == 1 and four.pop("devices") == 4
    assert len(one) == 4 and one == four


def test_sharded_layout_gives_every_device_whole_tasks():
    from autograd_compare.jax_impl import train

    for n in (1, 37, 5000, 60_000):
        for ndev in (2, 3, 4, 8):
            tasks, blocks, chunk = train._sharded_layout(n, ndev)
            assert tasks % ndev == 0 and tasks * blocks * chunk >= n and chunk <= train.CHUNK
