"""Golden SHA-256 hashes of today's outputs, frozen before the start-up machinery is removed.

`tools/freeze_goldens.py` writes `frozen.json` beside this file; `tests/test_frozen_goldens.py`
recomputes every group with the same functions (defined once, here) and compares entry by
entry. A group is a function returning {entry name: hex digest}; `GROUPS` lists them.

What is normalised, and why (found by running each command twice into two folders and
diffing them; everything else was byte-identical):

- ``report.json`` and ``report.html``: the report folder's own path. report.json has it as
  ``"report_dir"`` and report.html in its "report folder" row; it is wherever the caller put
  the folder, so it is replaced by a fixed placeholder. No timing field exists in either file
  today (the main job's and check's report.json carry no seconds), so none is stripped; if a
  later commit adds one, the hash changes and says so.
- ``network.svg`` is skipped: matplotlib writes the current date (``<dc:date>``) and random
  clip-path ids into it. ``network.png`` (the same drawing) is hashed instead.

**One file per machine** (`frozen/<machine>.json`). The last bits of exp, tanh and the sums
depend on the CPU's vector units (NumPy's SIMD dispatch, torch's CPU capability, XLA's target
features): on this project's two CI machines 246 of the 514 entries differ between them at
the same commit (an AMD EPYC, and an Intel Xeon with AVX-512). Each file was frozen on its
machine from a commit before the change it guards: `amd-epyc` at bbca18c (eager torch, before
the ahead-of-time builds were removed, issue 19), `intel-xeon-avx512` at dd9df1c (after that
removal, when its 514 entries matched `amd-epyc` on the AMD machine). A group passes when its
entries match one machine's file exactly; a machine that matches none fails, naming the
closest file's differences (freeze a file for it from a known-good commit:
``tools/freeze_goldens.py --machine NAME``). Entries renewed on purpose (a convention changed)
are listed in CHANGELOG.md with the reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

FROZEN_DIR = Path(__file__).with_name("frozen")  # <machine>.json per machine
STEPS = 20  # updates per trajectory
DTYPES = ("float64", "float32")
BACKENDS = ("manual", "torch", "jax")
GD_LRS = (0.1, 2.0)  # plain gradient descent on the class example
DIR_PLACEHOLDER = "<REPORT_DIR>"
SKIP = frozenset({"network.svg"})  # matplotlib's date and random ids (see the module docstring)
CHECK_FILES = ("trace.csv", "nodes.csv", "report.json")
Digests = dict[str, str]


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def array_digest(arr: Any, dtype: str) -> str:
    """SHA-256 of the array's shape and its C-contiguous bytes in ``dtype``."""
    a = np.ascontiguousarray(np.asarray(arr), dtype=np.dtype(dtype))
    return digest(repr(a.shape).encode() + b"\0" + a.tobytes())


# --- report folders ------------------------------------------------------------------------
def _env() -> dict[str, str]:
    env = dict(os.environ)
    return env


def run_cli(args: list[str], prefix: str, only: tuple[str, ...] | None) -> Digests:
    """``python -m autograd_compare ARGS --out <tmp>/r``, then the digests of its folder."""
    with tempfile.TemporaryDirectory(prefix="goldens-") as tmp:
        out = Path(tmp) / "r"
        cmd = [sys.executable, "-m", "autograd_compare", *args, "--out", str(out)]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=_env(), check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}")
        return folder_digests(prefix, out, only)


def normalised(path: Path, folder: Path) -> bytes:
    """The file's bytes; in report.json / report.html the folder's path is a placeholder."""
    data = path.read_bytes()
    if path.name == "report.json":
        report = json.loads(data)
        if "report_dir" not in report:
            raise KeyError(f"{path}: no report_dir (the layout changed: update the goldens)")
        report["report_dir"] = DIR_PLACEHOLDER  # where the caller put the folder
        return json.dumps(report, indent=2, sort_keys=True).encode()
    if path.name == "report.html":
        text = data.decode("utf-8")
        if str(folder) not in text:
            raise KeyError(f"{path}: the folder's path is not in it (layout changed)")
        return text.replace(str(folder), DIR_PLACEHOLDER).encode("utf-8")  # ditto
    return data


def folder_digests(prefix: str, folder: Path, only: tuple[str, ...] | None = None) -> Digests:
    """One entry per file of ``folder`` (``only``: those of them that exist), and one for the
    sorted list of file names, so an added or missing file shows too."""
    names = sorted(p.name for p in folder.iterdir() if p.is_file())
    out = {f"{prefix}/<file list>": digest("\n".join(names).encode())}
    for name in names:
        if name in SKIP or (only is not None and name not in only):
            continue
        out[f"{prefix}/{name}"] = digest(normalised(folder / name, folder))
    return out


# group name -> (arguments, entry prefix, files hashed or None for all but SKIP)
CLI_JOBS: dict[str, tuple[list[str], str, tuple[str, ...] | None]] = {
    "main_job": ([], "main", None),  # the default main job: its whole report folder
    "check_xor": (["--preset", "xor"], "check/xor", CHECK_FILES),
    "check_iris": (["--preset", "iris"], "check/iris", CHECK_FILES),
}


def start_cli() -> dict[str, Future[Digests]]:
    """Every CLI_JOBS command, one after another in a background thread, starting now: they
    run beside the in-process groups. (All three at once beside them was slower on 2 cores:
    119 s against 103 s one after another, each process importing torch and JAX.)"""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="goldens-cli")
    runs = {group: pool.submit(run_cli, *job) for group, job in CLI_JOBS.items()}
    pool.shutdown(wait=False)  # the queued jobs still run; the thread ends after the last
    return runs


# --- trajectories ----------------------------------------------------------------------------
def optimizer_kinds() -> tuple[str, ...]:
    from autograd_compare import optimizers

    return tuple(k for k in optimizers.KINDS if k not in optimizers.MANUAL_ONLY)


def train_preset(name: str, backend: str, dtype: str, kind: str) -> dict[str, Any]:
    """``STEPS`` updates of ``kind`` at the preset's lr, through the path the project uses:
    `optim_check.train` for the tutorial's network, `network_optim_check.train` otherwise
    (the tutorial's own optimizer modules on its network)."""
    from autograd_compare import network, optimizers
    from autograd_compare.harness import network_optim_check, optim_check
    from autograd_compare.interface import Example

    p = network.preset(name)
    opt = optimizers.make(kind, lr=p.lr)
    if name == "tutorial":
        ex = Example(p.data.inputs[0], p.data.targets[0])
        t = optim_check.train(backend, p.weights, ex, opt, STEPS, dtype)
    else:
        t = network_optim_check.train(backend, p.network, p.weights, p.data, opt, STEPS, dtype)
    arrays = {"loss": t.loss, "weights": t.weights, "grads": t.grads}
    if t.state is not None and np.size(t.state):
        arrays["state"] = t.state
    return arrays


def trajectories(preset: str) -> Digests:
    out: Digests = {}
    for dtype in DTYPES:
        for kind in optimizer_kinds():
            for backend in BACKENDS:
                for key, arr in train_preset(preset, backend, dtype, kind).items():
                    out[f"traj/{preset}/{dtype}/{kind}/{backend}/{key}"] = array_digest(arr,
                                                                                        dtype)
    return out


def plain_gd() -> Digests:
    """``ac.get_backend(name, dtype).train`` on the class example, lr 0.1 and 2.0."""
    import autograd_compare as ac

    out: Digests = {}
    for dtype in DTYPES:
        for backend in BACKENDS:
            b = ac.get_backend(backend, dtype)
            for lr in GD_LRS:
                t = b.train(ac.CLASS_WEIGHTS, (ac.CLASS_INPUTS, ac.CLASS_TARGETS), lr=lr,
                            steps=STEPS)
                for key in ("loss", "weights", "grads"):
                    out[f"gd/{dtype}/lr={lr:g}/{backend}/{key}"] = array_digest(
                        getattr(t, key), dtype)
    return out


PRESET_NAMES = ("tutorial", "mazur", "xor", "iris")  # == network.PRESETS (the test checks)
# in-process groups: name -> function
GROUPS: dict[str, Callable[[], Digests]] = {
    **{f"traj_{p}": (lambda p=p: trajectories(p)) for p in PRESET_NAMES},
    "plain_gd": plain_gd,
}


def compute_all() -> Digests:
    """Every entry: the CLI jobs run in subprocesses while the in-process groups compute."""
    runs = start_cli()
    out: Digests = {}
    for fn in GROUPS.values():
        out.update(fn())
    for run in runs.values():
        out.update(run.result())
    return dict(sorted(out.items()))


def load_frozen() -> dict[str, Digests]:
    """machine name -> its frozen entries."""
    return {path.stem: json.loads(path.read_text(encoding="utf-8"))
            for path in sorted(FROZEN_DIR.glob("*.json"))}


def mismatches(frozen: Digests, got: Digests, prefix: str = "") -> list[str]:
    """One line per entry under ``prefix`` that differs, is missing now or is not frozen."""
    want = {k: v for k, v in frozen.items() if k.startswith(prefix)}
    have = {k: v for k, v in got.items() if k.startswith(prefix)}
    return ([f"differs: {k}" for k in sorted(want.keys() & have.keys()) if want[k] != have[k]]
            + [f"missing now: {k}" for k in sorted(want.keys() - have.keys())]
            + [f"not frozen: {k}" for k in sorted(have.keys() - want.keys())])


def closest(got: Digests, prefix: str = "") -> tuple[str, list[str]]:
    """The machine whose frozen entries under ``prefix`` ``got`` matches best, and the
    mismatches against it (none: a match)."""
    found = {name: mismatches(f, got, prefix) for name, f in load_frozen().items()
             if any(k.startswith(prefix) for k in f)}
    if not found:
        return "", [f"no frozen file has entries under {prefix!r}"]
    name = min(found, key=lambda n: len(found[n]))
    return name, found[name]
