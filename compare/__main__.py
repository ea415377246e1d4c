"""``python -m autograd_compare`` is the same as ``autograd-compare``."""

import sys

from autograd_compare.commands.cli import main

sys.exit(main())
