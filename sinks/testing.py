"""Test doubles that ship with the sinks, so workers (and users) can test their code without a database.

- :class:`MemoryInfluxSink`: an :class:`~sinks.influx.InfluxSink` that keeps written batches in memory
  and fails on demand (to test retries, back-pressure and "commit only after flush").
- :class:`FakeInfluxServer`: a tiny in-process HTTP server on ``127.0.0.1:0`` that speaks the write
  endpoints of InfluxDB 1.x (``/write``, ``/query``) and 2.x (``/api/v2/write``), answers from a script
  (e.g. 500 then 204, 429 with ``Retry-After``, 400 with a message, or a dropped connection) and
  records every request, so the real HTTP clients can be tested without a database.
"""

from __future__ import annotations

import gzip
import http.server
import json
import threading
import urllib.parse
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType

from sinks.influx import InfluxSink


class MemoryInfluxSink(InfluxSink):
    """Keeps every written batch in :attr:`batches`; ``fail_next(exc)`` makes the next batch write raise.

    Queue a :class:`~sinks.influx.TransientWriteError` to exercise retries and back-pressure, or a
    :class:`~sinks.errors.SinkError` for a permanent failure.
    """

    def __init__(
        self, *, batch_size: int = 10_000, max_retries: int = 0, retry_backoff_s: float = 0.01
    ) -> None:
        super().__init__(
            batch_size=batch_size,
            max_retries=max_retries,
            retry_backoff_s=retry_backoff_s,
            jitter=0.0,
            sleep=lambda _s: None,
        )
        self.batches: list[list[str]] = []
        self._failures: deque[Exception] = deque()

    @property
    def lines(self) -> list[str]:
        return [line for batch in self.batches for line in batch]

    def fail_next(self, exc: Exception) -> None:
        self._failures.append(exc)

    def _write_batch(self, lines: list[str]) -> None:
        if self._failures:
            raise self._failures.popleft()
        self.batches.append(list(lines))


@dataclass(frozen=True)
class Reply:
    """One scripted answer. ``drop=True`` closes the connection without answering."""

    status: int = 204
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes  # decompressed when the request was gzip-encoded
    status: int  # what the server answered (0 = connection dropped)

    @property
    def lines(self) -> list[str]:
        return [ln for ln in self.body.decode("utf-8").split("\n") if ln]


class FakeInfluxServer:
    """Scripted InfluxDB-like HTTP server; see the module docstring. Use as a context manager."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._script: deque[Reply] = deque()
        self.requests: list[RecordedRequest] = []
        self.connections = 0
        self._lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like InfluxDB

            def setup(self) -> None:
                super().setup()
                with server._lock:
                    server.connections += 1

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def _handle(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                query = dict(urllib.parse.parse_qsl(parts.query))
                if parts.path.endswith("/query") and body:
                    query.update(urllib.parse.parse_qsl(body.decode()))
                with server._lock:
                    reply = server._script.popleft() if server._script else server._default(parts.path)
                    server.requests.append(
                        RecordedRequest(
                            self.command,
                            parts.path,
                            query,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            0 if reply.drop else reply.status,
                        )
                    )
                if reply.drop:
                    self.close_connection = True
                    return
                payload = reply.body.encode()
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = _handle  # noqa: N815 - http.server's naming
            do_GET = _handle  # noqa: N815

        self._httpd = http.server.ThreadingHTTPServer((host, 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-influx", daemon=True
        )
        self._thread.start()

    @staticmethod
    def _default(path: str) -> Reply:
        if path.endswith("/query"):
            return Reply(200, json.dumps({"results": [{"statement_id": 0}]}))
        return Reply(204)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, *replies: Reply) -> None:
        """Queue answers for the next requests; after they run out, every write gets 204."""
        with self._lock:
            self._script.extend(replies)

    def accepted_lines(self) -> list[str]:
        """Lines of every write request answered with 2xx, in arrival order."""
        return [ln for r in self.requests if 200 <= r.status < 300 and "write" in r.path for ln in r.lines]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeInfluxServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
