"""JSON and CSV text, and the report folder on disk.

Files are written completely or not at all: the final name is reserved before any work, the
whole folder is built under a temporary name beside it and renamed into place; an existing
folder is replaced only with ``force`` and only if it is an earlier report (`Destination`).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import re
import secrets
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from autograd_compare.errors import InputError, OutputError

TOOL, DEFAULT_OUT = "autograd-compare", "autograd-compare-report"
JSON_NAME, CSV_NAME = "report.json", "trace.csv"


def head(ok: bool) -> dict[str, Any]:
    """The first fields of every report.json: the tool, its version, the verdict."""
    from autograd_compare import __version__

    return {"tool": TOOL, "version": __version__, "ok": ok, "exit_code": 0 if ok else 1}


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
# Rules (docs/hardening.md, "Report folders"); one writer, which never deletes what it did not
# write:
# * the final name is reserved with os.mkdir before any work: a second run on the same name gets
#   the next free one (default names) or exit 2 (an explicit --out); the reserved folder holds
#   only the marker RESERVED_PREFIX + pid until the finished report is renamed over it;
# * the report is built in a sibling ``.NAME.tmp-PID-TOKEN`` folder, created at the same time
#   with the ownership mark WORK_MARK inside, and renamed into place in one step, SIGINT and
#   SIGTERM held off while the names change; on an error, SIGINT or SIGTERM both are removed;
# * a killed run (SIGKILL) leaves them behind: the next run in that folder recognises them by
#   name, a pid that no longer exists and the mark, removes what the tool writes from them and
#   puts a report that was moved aside (``.NAME.old-...``) back where no new one replaced it;
# * --force replaces only a folder whose report.json says ``"tool": "autograd-compare"`` and
#   that holds nothing but the files the tool writes (fixed names, not report.json's list),
#   checked before the work and again at the swap (a file added during the run is kept).
RESERVED_PREFIX = ".autograd-compare-reserved-"
WORK_MARK = ".autograd-compare-work"  # in every work folder of ours (tmp, old, lock)
TOOL_FILES = frozenset({  # every name the tool writes into a report folder
    JSON_NAME, CSV_NAME, "nodes.csv", "report.html", "loss-all-lrs.png", "differences.png",
    "network.svg", "network.png", "landscape.png",
    "summary.csv", "disagreements.csv", "gallery.csv", "checkpoints.csv", "final_loss.csv",
    "final-loss.png", "outcomes.png", "steps-to-threshold.png", "gallery.png"})
LOSS_FILE = re.compile(r"loss-lr-\d+(?:\.\d+)?(?:e[+-]\d+)?\.png")  # loss-lr-0.5.png, -1e-05
WORK_NAME = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old|lock)-(?P<pid>\d+)-[0-9a-f]{8}$")
MAX_REPORT_JSON = 64 << 20  # an earlier report.json larger than this is not read


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


def is_tool_file(name: str) -> bool:
    """A name the tool writes into a report folder (`TOOL_FILES`, ``loss-lr-<rate>.png``)."""
    return name in TOOL_FILES or LOSS_FILE.fullmatch(name) is not None


def _ours(name: str) -> bool:
    """A file of ours in a report or work folder: a report file, a half-written one
    (``.report.html.tmp``: `write_text`), a mark."""
    partial = name.startswith(".") and name.endswith(".tmp") and is_tool_file(name[1:-4])
    return is_tool_file(name) or partial or name == WORK_MARK or name.startswith(RESERVED_PREFIX)


def foreign(folder: Path) -> list[str]:
    """The entries of ``folder`` the tool does not write (folders and links included), sorted."""
    return sorted(e.name for e in os.scandir(folder)
                  if not (_ours(e.name) and e.is_file(follow_symlinks=False)))


def remove_ours(folder: Path) -> list[str]:
    """Delete the files of ours in ``folder``, then the folder if that emptied it; return what
    is left (sorted names: nothing of ours is deleted but files the tool writes)."""
    for name in os.listdir(folder):
        if _ours(name) and not os.path.islink(folder / name) and os.path.isfile(folder / name):
            os.unlink(folder / name)
    left = sorted(os.listdir(folder))
    if not left:
        os.rmdir(folder)
    return left


def clean_stale(parent: Path) -> None:
    """Tidy the work folders of killed runs in ``parent`` (name pattern, dead pid, our mark):
    a report a killed ``--force`` had moved aside goes back to its name if that is free; the
    rest loses the files of ours."""
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return
    for entry in entries:
        m = WORK_NAME.match(entry.name)
        path = Path(entry.path)
        if not (m and entry.is_dir(follow_symlinks=False) and not _pid_alive(int(m["pid"]))
                and (path / WORK_MARK).is_file()):
            continue  # not a work folder of ours, or its run is alive
        final = parent / m["name"]
        with contextlib.suppress(OSError):
            if m["kind"] == "old" and not os.path.lexists(final):
                os.rename(path, final)  # the earlier report, back in its place
                os.unlink(final / WORK_MARK)
            else:
                remove_ours(path)


def _stale_reservation(path: Path) -> bool:
    """``path`` is a folder reserved by a run that no longer exists (only its marker inside)."""
    try:
        entries = os.listdir(path)
    except OSError:
        return False
    return (len(entries) == 1 and entries[0].startswith(RESERVED_PREFIX)
            and entries[0][len(RESERVED_PREFIX):].isdigit()
            and not _pid_alive(int(entries[0][len(RESERVED_PREFIX):])))


def _unmark(path: Path) -> None:
    """Delete the reservation marker(s) in ``path``."""
    for entry in os.listdir(path):
        if entry.startswith(RESERVED_PREFIX):
            os.unlink(path / entry)


def _remove_reservation(path: Path) -> None:
    _unmark(path)
    os.rmdir(path)


def check_replaceable(out: Path) -> None:
    """What --force may replace: an autograd-compare report folder and nothing else.

    Raises:
        InputError: no report.json, another tool's, or a file the tool does not write.
    """
    def refuse(why: str) -> InputError:
        return InputError(f"--force replaces only report folders, and {_shown(out)} {why}; "
                          "choose another --out")

    report = out / JSON_NAME
    if report.is_symlink() or not report.is_file():
        raise refuse(f"is not one (no {JSON_NAME} in it)")
    try:
        with open(report, "rb") as f:
            data = json.loads(f.read(MAX_REPORT_JSON + 1)[:MAX_REPORT_JSON])
        tool = data.get("tool") if isinstance(data, dict) else None
    except (OSError, ValueError):
        tool = None
    if tool != TOOL:
        raise refuse(f"is not one (its {JSON_NAME} was not written by {TOOL})")
    others = foreign(out)
    if others:
        raise refuse(f"also holds {_shown(others[0], 60)}, which {TOOL} did not write")
    if not (os.access(out, os.W_OK | os.X_OK) and os.access(out.parent, os.W_OK | os.X_OK)):
        raise InputError(f"cannot replace report folder {_shown(out)}: permission denied")


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


def _shown(path: str | os.PathLike[str], limit: int = 80) -> str:
    """A path (or a file name, ``limit`` 60) for a one-line message: quoted, escaped, at most
    ``limit`` characters."""
    text = repr(str(path))
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _oserror(out: Path, err: OSError) -> OutputError:
    return OutputError(f"cannot create report folder {_shown(out)}: {err.strerror or err}")


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done, then take effect (their handlers run
    in the main thread whichever thread the system gave them to: a handler is swapped, not a
    thread's signal mask)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    held = {s: signal.signal(s, lambda signum, frame: pending.append(signum))
            for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in held.items():
            signal.signal(s, handler)
        if pending:
            signal.raise_signal(pending[0])  # now, to the handler it would have met


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
        self.made: list[Path] = []  # missing parents of ``out`` this run created
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
            (self.tmp / WORK_MARK).touch()
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
        missing = [p for p in reversed(path.parents) if not os.path.lexists(p)]
        try:
            for parent in missing:  # made for this run: removed again if it fails
                parent.mkdir()
                self.made.append(parent)
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
                (self.lock / WORK_MARK).touch()
            except OSError as err:
                raise _oserror(path, err) from None
            others = [e for e in os.listdir(path.parent)
                      if e.startswith(f".{path.name}.lock-") and e != self.lock.name
                      and (m := WORK_NAME.match(e)) and _pid_alive(int(m["pid"]))]
            if others:  # another --force run is replacing the same report right now
                remove_ours(self.lock)
                raise InputError(f"report folder {_shown(path)} is being replaced by another "
                                 "run; try again when it has finished") from None
            return
        except OSError as err:
            raise _oserror(path, err) from None
        self._mark(path)

    # -- finishing --
    def commit(self, fill: Callable[[Path], None],
               before: Callable[[], None] | None = None) -> Path:
        """``fill(tmp)``, then ``before()`` (e.g. write stdout), then rename into place, with
        SIGINT and SIGTERM held until the names have changed (one arriving then ends the run
        after it, with the new report in place).

        Whatever raises, nothing is left behind (see `abandon`), and nothing is deleted that
        this run did not write: a file added to the destination during the run stops the
        swap (`OutputError`, the folder as it was).
        """
        fill(self.tmp)
        if before is not None:
            before()
        with _signals_held():
            try:
                added = [n for n in foreign(self.path) if n != WORK_MARK]
                if added:
                    raise OutputError(
                        f"report folder {_shown(self.path)} gained {_shown(added[0], 60)} during "
                        f"the run, which {TOOL} did not write; left it as it was, without the "
                        "new report; choose another --out")
                if self.replacing:
                    self._swap()
                else:
                    _unmark(self.path)
                    os.rename(self.tmp, self.path)  # over the empty reserved folder: atomic
                    os.unlink(self.path / WORK_MARK)
            except OSError as err:
                raise _oserror(self.path, err) from None
            self.committed = True
            self._release()
        return self.path

    def _swap(self) -> None:
        """The earlier report aside (marked ours: a killed run's next run puts it back), the
        new one in, then the earlier one's files deleted; anything else found in it by then
        stays, in a visible folder beside the report."""
        token = secrets.token_hex(4)
        old = self.path.parent / f".{self.path.name}.old-{os.getpid()}-{token}"
        (self.path / WORK_MARK).touch()
        os.rename(self.path, old)
        try:
            os.rename(self.tmp, self.path)
        except OSError:
            os.rename(old, self.path)
            os.unlink(self.path / WORK_MARK)
            raise
        os.unlink(self.path / WORK_MARK)  # the temporary folder's mark
        left = remove_ours(old)
        if left:  # added in the instant between the check and the rename
            kept = self.path.parent / f"{self.path.name}.kept-{token}"
            os.rename(old, kept)
            print(f"note: kept {_shown(left[0], 60)}, added to {_shown(self.path)} during the run, "
                  f"in {_shown(kept)}", file=sys.stderr)

    def abandon(self) -> None:
        """Remove the temporary folder and the reservation (not an existing report)."""
        if os.path.isdir(self.tmp):
            with contextlib.suppress(OSError):
                remove_ours(self.tmp)
        if not self.replacing and not self.committed:
            with contextlib.suppress(OSError):
                _remove_reservation(self.path)
            with contextlib.suppress(OSError):  # stops at the first parent not empty
                for parent in reversed(self.made):
                    os.rmdir(parent)  # only if still empty: nothing of anyone else's
        self._release()

    def _release(self) -> None:
        if self.lock is not None:
            with contextlib.suppress(OSError):
                remove_ours(self.lock)
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
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        raise OutputError(f"cannot write to standard output: {err.strerror or err}") from None
