"""Today's outputs, bit for bit: every entry of tests/goldens/frozen.json recomputed.

Written by tools/freeze_goldens.py with the same functions (`tests.goldens`). A failure names
each entry that differs. The three command-line runs start in the first test and run, one after
another in subprocesses, while the in-process groups compute. Measured on the 2-core machine
while another full pytest run shared it: 122 s wall (in-process groups alone 57 s, mostly JAX
compiling each optimizer x dtype with the suite's empty cache; the three CLI jobs 46 s in a row);
over the ~90 s aimed for.
"""

from __future__ import annotations

from concurrent.futures import Future

import pytest

from tests import goldens

_runs: dict[str, Future[dict[str, str]]] = {}


def _assert_group(got: dict[str, str], prefix: str) -> None:
    machine, lines = goldens.closest(got, prefix)
    assert not lines, (f"{len(lines)} golden entries under {prefix!r} changed (closest "
                       f"machine: {machine or 'none'}):\n" + "\n".join(lines))


def test_a_changed_output_matches_no_machine() -> None:
    """Mutation: one entry's digest altered matches neither machine's file."""
    for name, frozen in goldens.load_frozen().items():
        key = next(iter(frozen))
        got = dict(frozen, **{key: "0" * 64})
        machine, lines = goldens.closest(got)
        assert lines, f"an altered copy of {name} still matches {machine}"
    assert len(goldens.load_frozen()) >= 2


@pytest.fixture(scope="module", autouse=True)
def _cli_runs() -> None:
    """Start the command-line jobs before the first test (they run beside the others)."""
    if not _runs:
        _runs.update(goldens.start_cli())


def test_presets_are_all_covered() -> None:
    from autograd_compare import network

    assert goldens.PRESET_NAMES == tuple(network.PRESETS)


PREFIXES = {"traj_tutorial": "traj/tutorial/", "traj_mazur": "traj/mazur/",
            "traj_xor": "traj/xor/", "traj_iris": "traj/iris/", "plain_gd": "gd/"}


@pytest.mark.parametrize("group", list(goldens.GROUPS))
def test_in_process(group: str) -> None:
    _assert_group(goldens.GROUPS[group](), PREFIXES[group])


CLI_PREFIXES = {group: job[1] + "/" for group, job in goldens.CLI_JOBS.items()}


@pytest.mark.parametrize("group", list(goldens.CLI_JOBS))
def test_cli(group: str) -> None:
    _assert_group(_runs.pop(group).result(), CLI_PREFIXES[group])
