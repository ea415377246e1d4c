"""Progress on stderr (tqdm): percentage and time left, only on a terminal, only after a delay.

``with Progress(total) as p: p.step("training at lr 0.5")`` announces each of ``total`` pieces
of work before it starts; the bar counts the finished ones. tqdm itself stays off when the
stream is not a terminal (``disable=None``), so pipes, files and CI logs get no bar.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import TextIO

from tqdm import tqdm

from autograd_compare.validate import terminal_text

DELAY = 1.0  # seconds of silence before the bar appears (quick runs show none)
FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}]"


class Progress:
    """A tqdm bar over ``total`` steps of work, on ``stream`` (stderr by default)."""

    def __init__(self, total: int, stream: TextIO | None = None,
                 enabled: bool | None = None) -> None:
        stream = sys.stderr if stream is None else stream
        stream = getattr(stream, "unescaped", stream)  # the bar draws with \r: not `cli.Escaped`
        self.bar = tqdm(total=total, file=stream,
                        disable=None if enabled is None else not enabled, delay=DELAY,
                        bar_format=FORMAT, leave=False, mininterval=0.0, desc="starting")
        self.started = False

    def step(self, what: str) -> None:
        """Announce the next piece of work (call before doing it): the previous one is done."""
        # shown by the next update
        self.bar.set_description_str(terminal_text(what[:50]), refresh=False)
        if self.started:
            self.bar.update(1)
            if self.bar.total is not None and self.bar.n >= self.bar.total:
                self.bar.total = self.bar.n + 1  # work found on the way (re-checks)
        self.started = True

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.started and kind is None:
            self.bar.update(1)
        self.bar.close()
