"""JSON and CSV text, and the report folder on disk.

Files are written completely or not at all: the final name is reserved before any work, the
whole folder is built under a temporary name beside it and renamed into place; an existing
folder is replaced only with ``force`` and only if it is an earlier report (`Destination`).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import secrets
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from autograd_compare.errors import InputError, OutputError

TOOL, DEFAULT_OUT = "autograd-compare", "autograd-compare-report"
JSON_NAME, CSV_NAME = "report.json", "trace.csv"


def head(ok: bool) -> dict[str, Any]:
    """The first fields of every report.json: the tool, its version, the verdict."""
    return {"tool": TOOL, "version": tool_version(), "ok": ok, "exit_code": 0 if ok else 1}


def tool_version() -> str:
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


def dumps(obj: Any, **options: Any) -> str:
    """``json.dumps(finite(obj), allow_nan=False, **options)``; `finite`'s walk through every
    number only when there is an inf or NaN to write (else the text is the same without it)."""
    try:
        return json.dumps(obj, allow_nan=False, **options)
    except ValueError:  # "Out of range float values are not JSON compliant"
        return json.dumps(finite(obj), allow_nan=False, **options)


def to_json(result: dict[str, Any] | list[Any]) -> str:
    """``result`` as indented JSON, with inf/NaN written as strings (see `finite`)."""
    return dumps(result, indent=2) + "\n"


def csv_text(header: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """A small CSV table as text: the header row, then ``rows`` (newline-terminated)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


# --- the folder -------------------------------------------------------------------------------
# Rules (docs/hardening.md, "Report folders"):
# * the final name is reserved with os.mkdir before any work: a second run on the same name gets
#   the next free one (default names) or exit 2 (an explicit --out); the reserved folder holds
#   only the marker RESERVED_PREFIX + pid until the finished report is renamed over it;
# * the report is built in a sibling ``.NAME.tmp-PID-TOKEN`` folder, created at the same time,
#   and renamed into place in one step; on an error, SIGINT or SIGTERM both are removed;
# * a killed run (SIGKILL) leaves them behind: the next run in that folder recognises them by
#   name and by a pid that no longer exists, and removes them;
# * --force replaces only a folder whose report.json says ``"tool": "autograd-compare"`` and
#   that holds nothing else but files the tool writes.
RESERVED_PREFIX = ".autograd-compare-reserved-"
TOOL_FILES = frozenset({  # every name the tool writes into a report folder
    JSON_NAME, CSV_NAME, "report.html", "loss-all-lrs.png", "differences.png",
    "summary.csv", "disagreements.csv", "gallery.csv", "checkpoints.csv",
    "final-loss.png", "steps-to-threshold.png", "gallery.png"})
TOOL_FILE_PATTERN = re.compile(r"^loss-lr-[0-9a-z.+-]+\.png$")
WORK_NAME = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old|lock)-(?P<pid>\d+)-[0-9a-f]{8}$")
MAX_REPORT_JSON = 64 << 20  # an earlier report.json larger than this is not read


def default_out(name: str = DEFAULT_OUT, cwd: Path | None = None) -> Path:
    """``name`` (``autograd-compare-report``), or ``-2``, ``-3``, ...: the first not taken now.

    Only a guess for messages: `Destination` reserves the name it really uses atomically.
    """
    base = Path(cwd or ".") / name
    n = 1
    while os.path.lexists(candidate := base if n == 1 else base.with_name(f"{name}-{n}")):
        n += 1
    return candidate


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0
    return True


def clean_stale(parent: Path) -> list[str]:
    """Remove the work folders of killed runs in ``parent`` (name pattern + dead pid)."""
    removed: list[str] = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for entry in entries:
        m = WORK_NAME.match(entry.name)
        if m and entry.is_dir(follow_symlinks=False) and not _pid_alive(int(m["pid"])):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.name)
    return removed


def _stale_reservation(path: Path) -> bool:
    """``path`` is a folder reserved by a run that no longer exists (only its marker inside)."""
    try:
        entries = os.listdir(path)
    except OSError:
        return False
    return (len(entries) == 1 and entries[0].startswith(RESERVED_PREFIX)
            and entries[0][len(RESERVED_PREFIX):].isdigit()
            and not _pid_alive(int(entries[0][len(RESERVED_PREFIX):])))


def _remove_reservation(path: Path) -> None:
    for entry in os.listdir(path):
        if entry.startswith(RESERVED_PREFIX):
            os.unlink(path / entry)
    os.rmdir(path)


def check_replaceable(out: Path) -> None:
    """What --force may replace: an autograd-compare report folder and nothing else.

    Raises:
        InputError: no report.json, another tool's, or a file the tool does not write.
    """
    what = _shown(out)
    report = out / JSON_NAME
    if report.is_symlink() or not report.is_file():
        raise InputError(f"--force replaces only report folders, and {what} is not one "
                         f"(no {JSON_NAME} in it); choose another --out")
    try:
        with open(report, "rb") as f:
            data = json.loads(f.read(MAX_REPORT_JSON + 1)[:MAX_REPORT_JSON])
        tool = data.get("tool") if isinstance(data, dict) else None
        listed = data.get("files", []) if isinstance(data, dict) else []
    except (OSError, ValueError):
        tool, listed = None, []
    if tool != TOOL:
        raise InputError(f"--force replaces only report folders, and {what} is not one "
                         f"(its {JSON_NAME} was not written by {TOOL}); choose another --out")
    listed = {x for x in listed if isinstance(x, str)} if isinstance(listed, list) else set()
    for entry in sorted(os.scandir(out), key=lambda e: e.name):
        tool_file = (entry.name in TOOL_FILES or entry.name in listed
                     or TOOL_FILE_PATTERN.match(entry.name))
        if not tool_file or not entry.is_file(follow_symlinks=False):
            raise InputError(f"--force replaces only report folders, and {what} also holds "
                             f"{_quote(entry.name)}, which {TOOL} did not write; choose "
                             "another --out")
    if not (os.access(out, os.W_OK | os.X_OK) and os.access(out.parent, os.W_OK | os.X_OK)):
        raise InputError(f"cannot replace report folder {what}: permission denied")


def check_out(out: Path, force: bool) -> None:
    """Refuse (one line, exit 2) what must not be replaced; `Destination` runs this too."""
    if out.name in ("", ".", "..") or str(out).endswith((os.sep + ".", os.sep + "..")):
        raise InputError(f"--out {_shown(out)} must name a new folder, not "
                         f"{'the current one' if out.name in ('', '.') else 'a parent'}")
    cwd: Path | None
    try:
        cwd, target = Path.cwd().resolve(), out.resolve()
    except (OSError, RuntimeError):
        cwd = target = None
    if cwd is not None and (target == cwd or target in cwd.parents):
        raise InputError(f"--out {_shown(out)} is the current folder or contains it; choose "
                         "another --out")
    if out.is_symlink():
        raise InputError(f"--out {_shown(out)} is a symbolic link; choose another --out")
    if os.path.lexists(out.parent) and not out.parent.is_dir():
        raise InputError(f"the folder {_shown(out.parent)} of --out {_shown(out)} is a file; "
                         "choose another --out")
    if not os.path.lexists(out):
        return
    if not out.is_dir():
        raise InputError(f"--out {_shown(out)} is a file, not a report folder; "
                         "choose another --out")
    if _stale_reservation(out):
        return
    if not force:
        raise InputError(f"report folder {_shown(out)} already exists; pass --force to replace "
                         "it or choose another --out")
    check_replaceable(out)


def _shown(path: str | os.PathLike[str]) -> str:
    """A path for a one-line message: quoted, escaped, at most 80 characters."""
    text = repr(str(path))
    return text if len(text) <= 80 else text[:77] + "..."


def _quote(name: str) -> str:
    """A file name for a one-line message: escaped, shortened."""
    text = repr(name)
    return text if len(text) <= 60 else text[:57] + "..."


def _oserror(out: Path, err: OSError) -> OutputError:
    return OutputError(f"cannot create report folder {_shown(out)}: {err.strerror or err}")


_ACTIVE: list[Destination] = []  # reservations to release on SIGTERM


def _on_sigterm(signum: int, frame: object) -> None:  # a subprocess test exercises it
    raise SystemExit(128 + signum)  # unwinds the with-blocks: every Destination cleans up


class Destination:
    """A report folder reserved before any work: ``with Destination(...) as d: d.commit(fill)``.

    ``out`` None takes ``default_name``, or ``-2``, ``-3``, ...: the first that ``os.mkdir``
    can create (atomic: two runs never get the same name). An explicit ``out`` that exists is
    refused (exit 2) unless ``force`` and it is a report folder (`check_replaceable`).
    """

    def __init__(self, out: str | os.PathLike[str] | None, default_name: str = DEFAULT_OUT,
                 force: bool = False, cwd: Path | None = None):
        if out is not None and str(out) == "":
            raise InputError("--out needs a folder name; got ''")
        self.force, self.committed = force, False
        self.replacing = False  # force on an existing report
        self.lock: Path | None = None
        token = secrets.token_hex(4)
        if out is None:
            self.path = self._reserve_default(Path(cwd or "."), default_name)
        else:
            self.path = Path(out)
            clean_stale(self.path.parent)
            check_out(self.path, force)
            self._reserve_explicit()
        self.tmp = self.path.parent / f".{self.path.name}.tmp-{os.getpid()}-{token}"
        try:
            self.tmp.mkdir()
            umask = os.umask(0)
            os.umask(umask)
            self.tmp.chmod(0o777 & ~umask)  # an ordinary folder, whatever umask mkdir saw
        except OSError as err:
            self.abandon()  # the reserved name too
            raise _oserror(self.path, err) from None
        _ACTIVE.append(self)

    # -- reserving the name --
    def _mark(self, path: Path) -> None:
        (path / f"{RESERVED_PREFIX}{os.getpid()}").touch()

    def _reserve_default(self, parent: Path, name: str) -> Path:
        clean_stale(parent)
        for n in range(1, 1_000_000):
            path = parent / (name if n == 1 else f"{name}-{n}")
            for _ in range(2):
                try:
                    path.mkdir()
                except FileExistsError:
                    if _stale_reservation(path):
                        _remove_reservation(path)
                        continue
                    break
                except OSError as err:
                    raise _oserror(path, err) from None
                self._mark(path)
                return path
        raise OutputError(f"cannot create report folder {name!r}: every name up to -999999 "
                          "is taken")

    def _reserve_explicit(self) -> None:
        path = self.path
        if os.path.lexists(path) and _stale_reservation(path):
            _remove_reservation(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.mkdir()
        except FileExistsError:
            if not self.force:  # taken since check_out: another run got there first
                raise InputError(f"report folder {_shown(path)} already exists; pass --force "
                                 "to replace it or choose another --out") from None
            check_replaceable(path)
            self.replacing = True
            self.lock = path.parent / f".{path.name}.lock-{os.getpid()}-{secrets.token_hex(4)}"
            try:
                self.lock.mkdir()
            except OSError as err:
                raise _oserror(path, err) from None
            others = [e for e in os.listdir(path.parent)
                      if e.startswith(f".{path.name}.lock-") and e != self.lock.name
                      and (m := WORK_NAME.match(e)) and _pid_alive(int(m["pid"]))]
            if others:  # another --force run is replacing the same report right now
                self.lock.rmdir()
                raise InputError(f"report folder {_shown(path)} is being replaced by another "
                                 "run; try again when it has finished") from None
            return
        except OSError as err:
            raise _oserror(path, err) from None
        self._mark(path)

    # -- finishing --
    def commit(self, fill: Callable[[Path], None],
               before: Callable[[], None] | None = None) -> Path:
        """``fill(tmp)``, then ``before()`` (e.g. write stdout), then rename into place.

        Whatever raises, nothing is left behind (see `abandon`).
        """
        fill(self.tmp)
        if before is not None:
            before()
        try:
            if self.replacing:
                old = self.path.parent / f".{self.path.name}.old-{os.getpid()}-" \
                    f"{secrets.token_hex(4)}"
                os.rename(self.path, old)
                try:
                    os.rename(self.tmp, self.path)
                except OSError:
                    os.rename(old, self.path)
                    raise
                shutil.rmtree(old, ignore_errors=True)
            else:
                for entry in os.listdir(self.path):
                    if entry.startswith(RESERVED_PREFIX):
                        os.unlink(self.path / entry)
                os.rename(self.tmp, self.path)  # over the empty reserved folder: atomic
        except OSError as err:
            raise _oserror(self.path, err) from None
        self.committed = True
        self._release()
        return self.path

    def abandon(self) -> None:
        """Remove the temporary folder and the reservation (not an existing report)."""
        shutil.rmtree(self.tmp, ignore_errors=True)
        if not self.replacing and not self.committed:
            try:
                _remove_reservation(self.path)
            except OSError:
                pass
        self._release()

    def _release(self) -> None:
        if self.lock is not None:
            shutil.rmtree(self.lock, ignore_errors=True)
            self.lock = None
        if self in _ACTIVE:
            _ACTIVE.remove(self)

    def __enter__(self) -> Destination:
        self._old_handler = None
        if threading.current_thread() is threading.main_thread():
            self._old_handler = signal.signal(signal.SIGTERM, _on_sigterm)
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.committed:
            self.abandon()
        if self._old_handler is not None:
            signal.signal(signal.SIGTERM, self._old_handler)


def write_folder(out: Path, fill: Callable[[Path], None], force: bool) -> None:
    """Reserve ``out``, build it with ``fill(tmp_dir)``, rename it into place (all or nothing).

    Raises:
        InputError: ``out`` exists and ``force`` is false (see `check_out`).
    """
    with Destination(Path(out), force=force) as dest:
        dest.commit(fill)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to a temporary name beside ``path``, then rename: all or nothing."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def emit_stdout(text: str) -> None:
    """Write ``text`` to stdout and flush; on failure (a full disk, a closed pipe) drop what is
    buffered, so the interpreter's exit does not fail again, and raise `OutputError`."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as err:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass
        raise OutputError(f"cannot write to standard output: {err.strerror or err}") from None
