"""The one exception the local stack raises: its message is meant for an operator to read."""

from __future__ import annotations


class StackError(RuntimeError):
    """A service of the local stack could not be installed, started, reached or stopped.

    The message names the service and says what to do; it never contains a password.
    """
