"""The data's column names for the reports of any network (the --data CSV's header, the
shipped Iris file's, or the notation's), and `cell`: text from the user (the CSV header's
names) written so that a spreadsheet shows it as text and never runs it as a formula."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import NamedTuple

from autograd_compare.network import Network, is_tutorial_shape

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")  # a spreadsheet reads these as formulas


class DataColumns(NamedTuple):
    """The names of the data's columns: from the --data CSV's header, else the notation's."""

    inputs: tuple[str, ...]  # n_0 names
    targets: tuple[str, ...]  # n_L names
    file: str | None  # the --data file as given, None for a preset's own data


def default_columns(net: Network) -> DataColumns:
    """i1, i2 and t1, t2 for the 2-2-2 presets (the tutorial's notation); x[i], t[j] else
    (as the drawing names them)."""
    if is_tutorial_shape(net):
        return DataColumns(("i1", "i2"), ("t1", "t2"), None)
    return DataColumns(tuple(f"x[{i}]" for i in range(net.sizes[0])),
                       tuple(f"t[{j}]" for j in range(net.sizes[-1])), None)


def header_columns(net: Network, text: str, file: str | None) -> DataColumns:
    """The header row of a data CSV already read by `network.parse_csv` (its first row with a
    non-blank cell); an empty name falls back to the default one."""
    rows = (r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r))
    header = [c.strip() for c in next(rows, [])]
    default = default_columns(net)
    names = [h or d for h, d in zip(header, default.inputs + default.targets, strict=False)]
    if len(names) != len(default.inputs) + len(default.targets):
        return default._replace(file=file)
    n = net.sizes[0]
    return DataColumns(tuple(names[:n]), tuple(names[n:]), file)


def read_columns(net: Network, path: str) -> DataColumns:
    return header_columns(net, Path(path).read_text(encoding="utf-8"), path)


def cell(text: str) -> str:
    """User text for a CSV cell: a leading ``'`` where a spreadsheet would start a formula
    (``=HYPERLINK(...)``, ``+``, ``-``, ``@``, a tab or a line break)."""
    return "'" + text if text.startswith(FORMULA_START) else text
