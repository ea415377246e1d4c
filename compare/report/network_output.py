"""The data's column names for the reports of any network (the --data CSV's header, the
shipped Iris file's, or the notation's), and `cell`: text from the user (the CSV header's
names) written so that a spreadsheet shows it as text and never runs it as a formula."""

from __future__ import annotations

from typing import NamedTuple

from autograd_compare.network import Network, csv_rows, is_tutorial_shape, read_text

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
    non-blank cell, a byte-order mark dropped: `network.csv_rows`); an empty name falls back
    to the default one."""
    rows = csv_rows(text)
    header = [c.strip() for c in (rows[0][1] if rows else [])]
    default = default_columns(net)
    names = [h or d for h, d in zip(header, default.inputs + default.targets, strict=False)]
    if len(names) != len(default.inputs) + len(default.targets):
        return default._replace(file=file)
    n = net.sizes[0]
    return DataColumns(tuple(names[:n]), tuple(names[n:]), file)


def read_columns(net: Network, path: str) -> DataColumns:
    """The column names of the --data file ``path`` (read by `network.read_text`, the one
    reader of data files)."""
    return header_columns(net, read_text(path), path)


def cell(text: str) -> str:
    """User text for a CSV cell: a leading ``'`` where a spreadsheet would start a formula
    (``=HYPERLINK(...)``, ``+``, ``-``, ``@``, a tab or a line break)."""
    return "'" + text if text.startswith(FORMULA_START) else text
