"""Command modules. Each has ``HELP`` (first line = summary), ``add_arguments(parser)`` and
``run(args) -> int`` (exit code); `compare.cli` dispatches to them."""
