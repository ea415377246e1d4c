"""The result as a JSON-ready dict, the per-step CSV trace, and the report folder on disk.

Files are written completely or not at all: the whole folder is built under a temporary name
beside its destination and renamed into place; an existing folder is replaced only with
``force`` (and only if it is empty or an earlier report, never an unrelated directory).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from autograd_compare import naming
from autograd_compare.errors import InputError, OutputError
from autograd_compare.harness import tolerances
from autograd_compare.harness.gradcheck import CS_STEP, FD_STEP_TEXT, Row
from autograd_compare.harness.trajectory import Difference, Divergence, LrResult
from autograd_compare.report import claims
from autograd_compare.report.result import MainResult, RunConfig

DEFAULT_OUT = "autograd-compare-report"
JSON_NAME, CSV_NAME = "report.json", "trace.csv"
CSV_COLUMNS = (("lr", "backend", "step") + naming.WEIGHT_NAMES + naming.FORWARD_NAMES
               + naming.WEIGHT_GRAD_NAMES)


def as_dict(result: MainResult) -> dict[str, Any]:
    """Everything the run found, in the shape documented in the README ("report.json fields").

    The one place the named results become a dict; inf and NaN are written as strings
    (`finite`), so the dict is ready for `json.dumps`.
    """
    worst = result.largest()
    largest = None if worst is None else {**_largest(worst.difference), "lr": worst.lr}
    g = result.gradcheck
    out: dict[str, Any] = finite({
        "tool": "autograd-compare", "version": _version(), "ok": result.ok,
        "exit_code": result.exit_code, "config": _config(result.config),
        "tolerance": tolerances.describe(result.config.dtype)._asdict(),
        "largest_difference": largest,
        "trajectories": [_lr_dict(r) for r in result.trajectories],
        "gradcheck": {"ok": g.ok, "complex_step_h": CS_STEP,
                      "finite_difference_h": FD_STEP_TEXT,
                      "first_failure": None if g.first_failure is None else
                      g.first_failure._asdict(),
                      "first_failures": {name: f._asdict()
                                         for name, f in g.first_failures.items()},
                      "rows": [_row(r) for r in g.rows]},
        "report_dir": result.report_dir, "files": list(result.files),
        "claims": [claims.as_dict(c) for c in result.claims],
    })
    return out


def _config(c: RunConfig) -> dict[str, Any]:
    return {name: list(v) if isinstance(v, tuple) else v for name, v in c._asdict().items()}


def _row(r: Row) -> dict[str, Any]:
    return {**r._asdict(), "backends": {name: e._asdict() for name, e in r.backends.items()}}


def _lr_dict(r: LrResult) -> dict[str, Any]:
    return {
        "lr": r.lr, "ok": r.ok, "reference": r.reference,
        "final_E_total": {name: float(run.nodes[-1, -1]) for name, run in r.runs.items()},
        "largest_difference": _largest(r.largest),
        "first_divergence": _divergence(r.first_divergence, with_backend=True),
        "backends": {name: {"largest_difference": _largest(c.largest, with_backend=False),
                            "first_divergence": _divergence(c.first_divergence)}
                     for name, c in r.comparisons.items()},
    }


def _largest(d: Difference | None, with_backend: bool = True) -> dict[str, Any]:
    """{"abs", "rel", "ulps", "ratio", "at": {"step", "quantity"}[, "backend"]}."""
    if d is None:  # nothing compared: no difference, no backend
        return {"abs": 0.0, "rel": 0.0, "ulps": 0.0, "ratio": 0.0, "backend": None}
    out = {"abs": d.abs, "rel": d.rel, "ulps": d.ulps, "ratio": d.ratio, "at": d.at._asdict()}
    return {**out, "backend": d.backend} if with_backend else out


def _divergence(d: Divergence | None, with_backend: bool = False) -> dict[str, Any] | None:
    """{"step", "quantity", "value", "reference", "difference", "tolerance"[, "backend"]}."""
    if d is None:
        return None
    out = d._asdict()
    del out["backend"]
    return {**out, "backend": d.backend} if with_backend else out


def _version() -> str:
    from autograd_compare import __version__

    return __version__


def finite(obj: Any) -> Any:
    """JSON has no inf/NaN: write them as the strings "inf", "-inf", "nan"."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def to_json(result: dict[str, Any]) -> str:
    """``result`` as indented JSON, with inf/NaN written as strings (see `finite`)."""
    return json.dumps(finite(result), indent=2, allow_nan=False) + "\n"


def trace_csv(lr_results: Sequence[LrResult]) -> str:
    """One row per (lr, backend, step k = 0..steps): weights entering step k, the forward pass
    there, and the gradients used by update k (empty in the last row, which has no update)."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(CSV_COLUMNS)
    for r in lr_results:
        for name, run in r.runs.items():
            for k in range(run.weights.shape[0]):
                grads = run.grads[k].tolist() if k < run.grads.shape[0] else [""] * 8
                out.writerow([repr(r.lr), name, k, *map(repr, run.weights[k].tolist()),
                              *map(repr, run.nodes[k].tolist()),
                              *(repr(g) if g != "" else g for g in grads)])
    return buf.getvalue()


# --- the folder -------------------------------------------------------------------------------
def default_out(name: str = DEFAULT_OUT, cwd: Path | None = None) -> Path:
    """``name`` (``autograd-compare-report``), or ``-2``, ``-3``, ...: the first not taken."""
    base = Path(cwd or ".") / name
    n = 1
    while (candidate := base if n == 1 else base.with_name(f"{name}-{n}")).exists():
        n += 1
    return candidate


def check_out(out: Path, force: bool) -> None:
    """Refuse (one line, exit 2) what must not be replaced, before any work is done."""
    if not out.exists():
        return
    if not out.is_dir():
        raise InputError(f"--out {str(out)!r} is a file, not a report folder; "
                         "choose another --out")
    if not force:
        raise InputError(f"report folder {str(out)!r} already exists; pass --force to replace "
                         "it or choose another --out")
    if any(out.iterdir()) and not (out / JSON_NAME).is_file():
        raise InputError(f"--force replaces only report folders, and {str(out)!r} is not one "
                         f"(no {JSON_NAME} in it); choose another --out")


def write_folder(out: Path, fill: Callable[[Path], None], force: bool) -> None:
    """Build the folder with ``fill(tmp_dir)``, then rename it to ``out`` in one step.

    Raises:
        InputError: ``out`` exists and ``force`` is false (see `check_out`).
    """
    out = Path(out)
    check_out(out, force)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    except OSError as err:
        raise OutputError(f"cannot create report folder {str(out)!r}: {err.strerror}") from None
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; a report folder is an ordinary one
    try:
        fill(tmp)
        if out.exists():  # force: move the old report aside, put the new one in, drop the old
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.rename(out, old / "report")
            os.rename(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to a temporary name beside ``path``, then rename: all or nothing."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
