"""``python -m compare`` is the same as ``autograd-compare``."""

import sys

from compare.cli import main

sys.exit(main())
