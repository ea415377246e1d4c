"""One reader for data files (`compare.network.read_text`/`parse_csv`): bad files are one line,
reads are capped, a BOM is not part of the first column name, the header rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autograd_compare import InputError, network
from autograd_compare.commands.cli import main
from tests.cli_helpers import NET, XOR, one_line

# --- one reader for data files ---------------------------------------------------------------
DATA_FILES = [  # (file bytes, fragment of the one-line error)
    (b"x\xe9,y,t\n1,2,3\n", "is not UTF-8 text (byte 0xe9 at offset 1, line 1)"),
    (bytes(range(256)) * 4, "is not a text file (a NUL byte at offset 0"),
    (b"a,b,t\n" + b"1" * 140_000 + b",1,1\n", "line 2 is not valid CSV: field larger than"),
    (b"a,b,t\n\n\n0,0,0\n\n0,x,1\n", "line 6, column 2 is not a number: 'x'"),
    (b"a,b,t\n\n0,0,inf\n", "line 3, column 3 is not finite: 'inf'"),
    (b"a,b,t\n0,0\n", "line 2 has 2 columns"),
    (XOR.split("\n", 1)[1].encode(), "line 1 holds only numbers (0,0,0): the first row must "
     "be a header"),
    (b"\n\n" + XOR.split("\n", 1)[1].encode(), "line 3 holds only numbers"),
    (b"", "the file is empty"),
    (b"a,b,t\n", "got only the header"),
]


@pytest.mark.parametrize("content,fragment", DATA_FILES, ids=lambda x: str(x)[:30])
def test_bad_data_files_are_one_line(content, fragment, cwd, capsys):
    (cwd / "d.csv").write_bytes(content)
    one_line([*NET, "--data", "d.csv"], capsys, fragment)


@pytest.mark.parametrize("argv", [NET, ["restarts", "--n", "2", "--steps", "2", "--layers",
                                        "2,2,1", "--activations", "sigmoid", "--backends",
                                        "manual", "--json"]], ids=["check", "restarts"])
def test_data_read_is_capped_like_config_files(argv, cwd, capsys):
    one_line([*argv, "--data", "/dev/zero"], capsys,
             "is larger than 256 MiB; that is the limit for --data files")


def test_a_bom_is_not_part_of_the_first_column_name(cwd, capsys):
    (cwd / "d.csv").write_bytes(b"\xef\xbb\xbf" + XOR.encode())
    assert main([*NET, "--data", "d.csv"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["data"]["inputs"] == ["a", "b"], report["data"]
    assert network.read_text(cwd / "d.csv") == XOR


def test_the_header_rule_is_the_documented_one():
    net = network.preset("xor").network
    with pytest.raises(InputError, match="the first row must be a header"):
        network.parse_csv(net, "1,2,3\n4,5,6\n")
    # a header with one numeric name is still a header
    data = network.parse_csv(net, "x,2,t\n0,1,1\n")
    assert data.inputs.tolist() == [[0.0, 1.0]]
    cli_doc = (Path(__file__).resolve().parent.parent / "docs" / "cli.md").read_text()
    assert "a header row is needed" in cli_doc or "header row" in cli_doc
