"""One parser for every source (`commands.options`): --config values go through the flags'
checks; a config file's own edge cases (BOM, an option taken as the file)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from autograd_compare.commands.cli import main
from tests.cli_helpers import entries, one_line, one_line_exit_2

# --- family 3: one parser for every source ----------------------------------------------------
CONFIG_BAD = [
    ("", 'dtype = "foo"\n', "invalid choice: 'foo'"),
    ("", "dtype = 64\n", "invalid choice: '64'"),
    *[("", f"{key} = true\n", f"config key '{key}'")
      for key in ("lrs", "backends", "dtype", "out", "steps", "targets")],
    *[("restarts", f"{key} = true\n", f"config key '{key}'")
      for key in ("n", "range", "checkpoints", "chunk", "seed", "threshold")],
    ("bench", "dtypes = true\n", "config key 'dtypes'"),
    ("explain", 'weight = "w9"\n', "unknown --weight 'w9'"),
    ("explain", 'format = "html"\n', "invalid choice: 'html'"),
    ("explain", "lr = true\n", "config key 'lr'"),
    ("", "steps = 0\n", "steps must be >= 1"),
    ("", "lrs = [0.5, -1]\n", "learning rate must be finite and > 0"),
    ("", "lrs = []\n", "empty list"),
    ("", "force = 1\n", "must be true or false"),
    ("", "weights = [{a = 1}]\n", "must be a number or text"),
    ("", "bogus = 1\nalso = 2\n", "unknown config keys 'bogus', 'also'"),
    ("mistakes", "x = 1\n", "unknown config key 'x' in 'c.toml'; expected one of json"),
]


@pytest.mark.parametrize("command,text,fragment", CONFIG_BAD, ids=lambda x: str(x)[:30])
def test_config_values_go_through_the_flags_checks(command, text, fragment, cwd, capsys,
                                                    no_work):
    (cwd / "c.toml").write_text(text)
    argv = ([command] if command else []) + ["--config", "c.toml"]
    if command == "bench":
        argv += ["--n", "1"]
    one_line_exit_2(argv, capsys, fragment)
    assert entries(cwd) == ["c.toml"]


@pytest.mark.parametrize("argv,fragment", [
    (["--config", ""], "--config needs a file name"),
    (["--config", "c.toml", "--config", "c.toml"], "--config is given 2 times"),
    (["--conf", "c.toml", "--config=c.toml"], "--config is given 2 times"),
    (["--config", "/dev/zero"], "larger than 1 MiB"),
    (["--config", "bad.toml"], "is not UTF-8 text"),
    (["--config", "nowhere.toml"], "cannot read config"),
])
def test_config_file_itself_is_checked(argv, fragment, cwd, capsys, no_work):
    (cwd / "c.toml").write_text("steps = 2\n")
    (cwd / "bad.toml").write_bytes(b'out = "\xff\xfe"\n')
    one_line_exit_2(argv, capsys, fragment)


def test_config_values_equal_the_same_flags(cwd, capsys):
    (cwd / "c.toml").write_text('lrs = [0.1]\nsteps = 2\nbackends = ["manual"]\n'
                                'dtype = "float32"\njson = true\nout = "a"\n')
    assert main(["--config", "c.toml"]) == 0
    from_file = json.loads(capsys.readouterr().out)
    assert main(["--lrs", "0.1", "--steps", "2", "--backends", "manual", "--dtype", "float32",
                 "--json", "--out", "b"]) == 0
    from_flags = json.loads(capsys.readouterr().out)
    for report in (from_file, from_flags):  # only where each report went differs
        report.pop("report_dir")
    assert from_file == from_flags
    assert from_file["lrs"] == [float(np.float32(0.1))]  # rounded to the dtype


# --- --config ----------------------------------------------------------------------------
def test_config_with_a_bom_is_read(cwd, capsys):
    (cwd / "c.toml").write_bytes(b"\xef\xbb\xbfsteps = 2\nlrs = [1]\nbackends = ['manual']\n")
    assert main(["--config", "c.toml", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["steps"] == 2


@pytest.mark.parametrize("argv", [["--out", "--config", "--backends", "manual"],
                                  ["--config", "--backends", "manual"],
                                  ["check", "--config", "--preset", "xor"],
                                  ["restarts", "--config", "-h"]])
def test_an_option_is_never_taken_as_the_config_file(argv, cwd, capsys):
    (cwd / "--backends").write_text("steps = 2\n")  # would be read if taken as the file name
    one_line(argv, capsys, "needs a file name; got the option")
