"""Progress on stderr for work that takes more than a second; silent when not a terminal."""

from __future__ import annotations

import sys
import time

DELAY = 1.0  # seconds of silence before the first progress line


class Progress:
    """``with Progress(total) as p: p.step("training torch at lr=0.5")``.

    Prints ``[3/18] training torch at lr=0.5`` on one rewritten line, only when ``stream`` is a
    terminal and only once the work has run for `DELAY` seconds; the line is cleared at the end.
    """

    def __init__(self, total: int, stream=None, enabled: bool | None = None):
        self.stream = sys.stderr if stream is None else stream
        self.enabled = _isatty(self.stream) if enabled is None else enabled
        self.total, self.done, self.start, self.shown = total, 0, time.monotonic(), False

    def step(self, what: str) -> None:
        """Announce the next piece of work (call before doing it)."""
        self.done += 1
        if self.enabled and time.monotonic() - self.start >= DELAY:
            line = f"[{self.done}/{self.total}] {what}"[:79]
            self.stream.write(f"\r{line:<79}")
            self.stream.flush()
            self.shown = True

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        if self.shown:
            self.stream.write("\r" + " " * 79 + "\r")
            self.stream.flush()


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
