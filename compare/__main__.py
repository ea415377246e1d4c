"""``python -m autograd_compare`` is the same as ``autograd-compare`` (`commands.cli.console`:
exits at once when done). Run from Python with ``runpy.run_module`` it raises SystemExit with
main's exit code instead, leaving the calling process alive."""

import sys

from autograd_compare.commands.cli import console, main

if sys.modules["__main__"].__dict__ is globals():  # python -m: this is the process's program
    console()
sys.exit(main())
