"""Wording every subcommand shares: the --force help and the closing line."""

from __future__ import annotations

from pathlib import Path

FORCE_HELP = "replace --out if it already exists (without --force an existing --out is refused)"
JSON_HELP = ("print the full result as JSON to stdout (tables go to stderr); no report folder "
             "is written unless --out is given too")


def closing_line(ok: bool, report: Path | None) -> str:
    """``OK. Report: rep/`` or ``DISAGREE. Report: rep/``; no folder: say so."""
    verdict = "OK" if ok else "DISAGREE"
    if report is None:
        return f"{verdict}. No report folder (--json without --out)."
    return f"{verdict}. Report: {report}/"
