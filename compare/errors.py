"""Errors with one-line messages that quote the bad value and what was expected."""


class CompareError(Exception):
    """Base class: the command line prints ``str(err)`` on one line and exits 2."""


class InputError(CompareError, ValueError):
    """A value given by the user is not acceptable."""


class OutputError(CompareError, OSError):
    """A result cannot be written where the user asked (the message says where and why)."""


class BackendUnavailable(CompareError, ImportError):
    """A backend's framework is not installed; the message names the extra to install."""


class DtypeError(CompareError, TypeError):
    """A backend returned numbers in another dtype than the one asked for."""
