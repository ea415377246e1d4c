"""``python -m autograd_compare`` is the same as ``autograd-compare``."""

from autograd_compare.commands.cli import console

console()
