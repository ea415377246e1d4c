"""Every ```python and ```bash block of README.md and docs/*.md runs, so the docs cannot drift.

The blocks are read from the files at test time. Per file, in a fresh temporary working folder:

* ``python`` (or ``py``) blocks are executed in order, each in a namespace of its own, so each
  runs when pasted alone (its imports and names are its own; files an earlier block or
  command wrote are there); a block that defines ``test_*`` functions has them called, as
  pytest would.
* ``bash`` (or ``sh``, ``shell``) blocks run line by line, one command per line:
  ``autograd-compare ARGS`` through the console script's ``main`` in this process (same code,
  no second import of the frameworks), ``python ARGS`` as a subprocess of this interpreter.
  ``> FILE`` sends stdout to a file. A line is expected to exit 0 unless it ends with a
  comment ``# exits N``.
* ``<!-- no-run: reason -->`` on the line right before a block skips it (kept rare: only where
  running is impossible, e.g. pip install). Other languages (``text``, none) are not run.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PYTHON_LANGUAGES = ("python", "py")
BASH_LANGUAGES = ("bash", "sh", "shell")  # console/text blocks are transcripts: not run
RUN_LANGUAGES = PYTHON_LANGUAGES + BASH_LANGUAGES
FENCE = re.compile(r"^```\s*([\w+-]*)\s*$")
NO_RUN = re.compile(r"^<!--\s*no-run:\s*(\S.*?)\s*-->$")
EXPECTED_EXIT = re.compile(r"#\s*exits\s+(\d+)\s*$")
# over README.md and docs/*.md together: skipping must stay the exception (installs, a GPU, a
# cluster, a flag read before JAX starts, the suite itself, long benchmarks)
MAX_NO_RUN = 11
PYTHON_TIMEOUT_S = 300


class Block(NamedTuple):
    path: Path
    line: int  # 1-based line of the opening fence
    language: str
    code: str
    no_run: str | None  # the reason given in <!-- no-run: ... -->, or None


def read_blocks(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown file, with the no-run marker right before each."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        start = i
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            i += 1
        if i == len(lines):
            raise AssertionError(f"{path.name}:{start + 1}: code block never closed")
        marker = NO_RUN.match(lines[start - 1].strip()) if start > 0 else None
        blocks.append(Block(path, start + 1, opening.group(1).lower(),
                            "\n".join(lines[start + 1:i]) + "\n",
                            marker.group(1) if marker else None))
        i += 1
    return blocks


def commands(block: Block) -> Iterator[tuple[int, str]]:
    """(line number, command) for each command of a bash block; backslash continues a line."""
    pending, first = "", 0
    for offset, raw in enumerate(block.code.splitlines(), start=1):
        line = raw.strip()
        if not pending:
            first = block.line + offset
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        if line and not line.startswith("#"):
            yield first, line


def run_command(line: str, where: str) -> None:
    """Run one documented command in the current folder; fail with ``where`` on a wrong exit."""
    expected = EXPECTED_EXIT.search(line)
    want = int(expected.group(1)) if expected else 0
    tokens = shlex.split(line, comments=True)
    unsupported = [t for t in tokens if t in ("|", "||", "&&", ";", "&", "<", "2>", ">>")]
    assert not unsupported, (f"{where}: one command per line, only '> FILE' redirection "
                             f"(found {unsupported[0]!r}); or mark the block no-run")
    out_file = None
    if ">" in tokens:
        at = tokens.index(">")
        assert at == len(tokens) - 2, f"{where}: '> FILE' must end the command"
        out_file, tokens = tokens[at + 1], tokens[:at]
    program, args = tokens[0], tokens[1:]
    if program == "autograd-compare":
        from autograd_compare.commands.cli import main

        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            code = main(args)
        text = stdout.getvalue()
    elif program == "python":
        done = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                              timeout=PYTHON_TIMEOUT_S)
        code, text = done.returncode, done.stdout
        assert "Traceback" not in done.stderr, f"{where}: {line}\n{done.stderr}"
    else:
        raise AssertionError(f"{where}: the docs tests run only autograd-compare and python "
                             f"commands, not {program!r}; mark the block no-run with a reason")
    if out_file is not None:
        Path(out_file).write_text(text, encoding="utf-8")
    assert code == want, f"{where}: {line!r} exited {code}, expected {want}"


def run_file(path: Path, root: Path = ROOT) -> int:
    """Run every runnable block of ``path`` in the current folder; return how many ran."""
    ran = 0
    for block in read_blocks(path):
        if block.language not in RUN_LANGUAGES or block.no_run:
            continue
        where = f"{path.relative_to(root)}:{block.line}"
        if block.language in PYTHON_LANGUAGES:
            namespace: dict[str, object] = {"__name__": f"docs_{path.stem}"}  # its own
            exec(compile(block.code, where, "exec"), namespace)  # noqa: S102 - the docs' code
            for name in sorted(namespace):
                if name.startswith("test_") and callable(namespace[name]):
                    namespace[name]()  # type: ignore[operator]
        else:
            for number, line in commands(block):
                run_command(line, f"{path.relative_to(root)}:{number}")
        ran += 1
    return ran


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_block_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # whatever the examples write lands in a temporary folder
    run_file(path)


# --- the mechanism itself ----------------------------------------------------------------------

def test_readme_has_runnable_blocks_and_few_skips() -> None:
    all_blocks = [b for path in DOC_FILES for b in read_blocks(path)]
    runnable = [b for b in all_blocks if b.language in RUN_LANGUAGES]
    skipped = [b for b in runnable if b.no_run]
    readme = [b for b in runnable if b.path.name == "README.md" and not b.no_run]
    assert {b.language for b in readme} == {"python", "bash"}  # both kinds really run
    assert len(skipped) <= MAX_NO_RUN, [f"{b.path.name}:{b.line}" for b in skipped]


def test_quickstart_commands_are_exact_and_ci_runs_the_second() -> None:
    first = 'python -m pip install -c constraints.txt ".[all]" && autograd-compare'
    second = 'python -m pip install -c constraints.txt ".[all,test]" && python -m pytest'
    readme_code = [b.code.strip() for b in read_blocks(ROOT / "README.md")]
    assert first in readme_code and second in readme_code
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert second in ci_lines


def test_the_parser_finds_blocks_markers_and_line_numbers(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# t\n\n```python\nx = 1\n```\n\n<!-- no-run: needs a GPU -->\n```bash\n"
                    "autograd-compare --steps 0\n```\n\n```text\nnot run\n```\n",
                    encoding="utf-8")
    got = read_blocks(page)
    assert [(b.line, b.language, b.no_run) for b in got] == [
        (3, "python", None), (8, "bash", "needs a GPU"), (12, "text", None)]
    assert got[0].code == "x = 1\n"


def test_a_failing_block_fails_with_its_location(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    bad_exit = tmp_path / "bad_exit.md"
    bad_exit.write_text("```bash\nautograd-compare --steps 0\n```\n", encoding="utf-8")
    with pytest.raises(AssertionError, match=r"bad_exit.md:2: .* exited 2, expected 0"):
        run_file(bad_exit, tmp_path)
    expected_2 = tmp_path / "expected_2.md"
    expected_2.write_text("```bash\nautograd-compare --steps 0  # exits 2\n```\n",
                          encoding="utf-8")
    assert run_file(expected_2, tmp_path) == 1
    leaning = tmp_path / "leaning.md"  # the second block uses the first one's import
    leaning.write_text("```python\nimport json\n```\n\n```python\njson.dumps(1)\n```\n",
                       encoding="utf-8")
    with pytest.raises(NameError, match="json"):
        run_file(leaning, tmp_path)
    failing_test = tmp_path / "failing_test.md"
    failing_test.write_text("```python\ndef test_x():\n    assert 1 == 2\n```\n",
                            encoding="utf-8")
    with pytest.raises(AssertionError):
        run_file(failing_test, tmp_path)
    other_program = tmp_path / "other.md"
    other_program.write_text("```bash\nrm -rf build\n```\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="mark the block no-run"):
        run_file(other_program, tmp_path)


def test_redirection_writes_the_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    page = tmp_path / "page.md"
    page.write_text("```bash\nautograd-compare mistakes > list.txt\n```\n", encoding="utf-8")
    assert run_file(page, tmp_path) == 1
    assert "mistake:missing-e2-path" in (tmp_path / "list.txt").read_text(encoding="utf-8")


def test_readme_links_point_to_files_in_the_repository() -> None:
    """MkDocs --strict checks the links inside docs/; README.md is outside the site."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [t for t in targets if "://" not in t]
    assert local, "README.md links to no page"
    missing = [t for t in local if not (ROOT / t).exists()]
    assert missing == []
