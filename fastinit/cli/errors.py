"""The errors of the command line and the exit status each one gives.

``main`` (in :mod:`fastinit.cli`) prints a :class:`CLIError` as one line,
``fastinit: error: <message>``, and returns its ``exit_status``.
"""

from __future__ import annotations

import errno


class CLIError(Exception):
    """An error reported as one line, ``fastinit: error: <message>``."""

    exit_status = 1


class UsageError(CLIError):
    """The command line (or spec) is invalid: exit status 2."""

    exit_status = 2


class RuntimeFailure(CLIError):
    """The command could not be carried out (files, disk, ...): exit status 1."""

    exit_status = 1


class Interrupted(BaseException):
    """SIGINT, SIGTERM or SIGHUP arrived; carries the conventional exit status."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


def os_error_text(exc: OSError) -> str:
    """The OS's message for ``exc``, saying so when the disk is full."""
    text = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        text += " (the disk is full)"
    return text
