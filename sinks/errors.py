"""Errors raised by every sink: a failed flush is always loud, never a silent drop."""

from __future__ import annotations


class SinkError(RuntimeError):
    """A write the sink could not complete; the data is still pending (nothing was dropped).

    ``status`` is the HTTP status when a server answered, ``detail`` the server's own message.
    """

    def __init__(self, message: str, *, status: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


class SinkBackpressureError(SinkError):
    """The destination is overloaded or unreachable after every retry.

    The caller should pause its input (e.g. pause Kafka partitions) for ``retry_after_s`` seconds and
    flush again, instead of dropping data or committing offsets.
    """

    def __init__(
        self, message: str, *, retry_after_s: float, status: int | None = None, detail: str = ""
    ) -> None:
        super().__init__(message, status=status, detail=detail)
        self.retry_after_s = retry_after_s
