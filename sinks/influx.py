"""InfluxDB sinks: a small batching base class and the v1 (HTTP ``/write``) and v2 (influxdb-client) writers.

The shape follows quix-streams' ``BatchingSink``: :meth:`InfluxSink.add` only buffers line-protocol
lines, :meth:`InfluxSink.flush` writes them in batches of ``batch_size`` and returns only when the
server has accepted every one of them, or raises. A worker flushes its sinks before it commits Kafka
offsets, so a crash replays what was not flushed; writes are idempotent (same measurement, tags and
timestamp overwrite), so replaying is harmless.

Retries: connection errors, timeouts, HTTP 5xx and 429 are retried with exponential backoff
(``retry_backoff_s * 2**attempt``, capped at ``max_backoff_s``; a server's ``Retry-After`` is honoured).
After ``max_retries`` retries, or when the server asks to wait longer than ``max_backoff_s``, flush
raises :class:`SinkBackpressureError` carrying ``retry_after_s`` so the worker can pause its input.
Any other 4xx fails fast with :class:`SinkError` carrying the server's message (400 = bad line
protocol). 413 (body too large) splits the batch in halves. In every failure the unwritten lines stay
pending; :meth:`InfluxSink.discard_pending` hands them back if the caller decides to give up on them.

A sink is not thread-safe: use one per worker thread.
"""

from __future__ import annotations

import base64
import email.utils
import gzip as gzip_lib
import http.client
import json
import logging
import random
import time
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from pydantic import SecretStr

from riskstream.settings import InfluxApi, InfluxSettings
from sinks.errors import SinkBackpressureError, SinkError

log = logging.getLogger(__name__)

__all__ = [
    "InfluxSink",
    "InfluxV1Sink",
    "InfluxV2Sink",
    "SinkBackpressureError",
    "SinkError",
    "TransientWriteError",
    "make_influx_sink",
]


class TransientWriteError(Exception):
    """A write that may succeed if tried again (connection error, timeout, 5xx, 429)."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


class BodyTooLargeError(Exception):
    """HTTP 413: the server refuses a body this large; the batch is split and retried."""


def _as_secret(value: SecretStr | str | None) -> SecretStr:
    if isinstance(value, SecretStr):
        return value
    return SecretStr(value or "")


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _server_message(body: bytes | str | None) -> str:
    """The ``error``/``message`` of an InfluxDB JSON error body, else the body text (shortened)."""
    if not body:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        doc = json.loads(text)
    except ValueError:
        return text.strip()[:2000]
    if isinstance(doc, dict):
        for key in ("error", "message"):
            if isinstance(doc.get(key), str):
                return doc[key][:2000]
    return text.strip()[:2000]


class InfluxSink(ABC):
    """Buffers line-protocol lines and writes them in batches, with retries; see the module docstring."""

    def __init__(
        self,
        *,
        batch_size: int = 10_000,
        max_retries: int = 5,
        retry_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        jitter: float = 0.1,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if retry_backoff_s <= 0 or max_backoff_s <= 0:
            raise ValueError("retry_backoff_s and max_backoff_s must be > 0")
        self.batch_size = batch_size
        self.max_retries = max_retries
        self.retry_backoff_s = retry_backoff_s
        self.max_backoff_s = max_backoff_s
        self.jitter = jitter
        self._sleep = sleep
        self._buffer: list[str] = []
        # Plain counters; a metrics hook can read them (the sink never imports a metrics library).
        self.lines_written = 0
        self.batches_written = 0
        self.retries = 0

    # --- public API --------------------------------------------------------------------------------

    def add(self, lines: Iterable[str] | str) -> None:
        """Buffer line-protocol lines (no I/O); they are written by the next :meth:`flush`."""
        if isinstance(lines, str):
            self._buffer.append(lines)
        else:
            self._buffer.extend(lines)

    @property
    def pending(self) -> int:
        """Lines added but not yet accepted by the server."""
        return len(self._buffer)

    def flush(self) -> int:
        """Write every pending line; return how many were written.

        Returns only when the server accepted all of them. On failure raises :class:`SinkError` (or
        :class:`SinkBackpressureError`) and keeps every line not yet accepted pending, in order.
        """
        buf = self._buffer
        done = 0
        try:
            while done < len(buf):
                batch = buf[done : done + self.batch_size]
                self._write_with_retries(batch)
                done += len(batch)
                self.lines_written += len(batch)
        finally:
            if done:
                del buf[:done]
        return done

    def discard_pending(self) -> list[str]:
        """Remove and return the pending lines (e.g. to dead-letter them after a permanent SinkError)."""
        lines, self._buffer = self._buffer, []
        return lines

    def ensure_database(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Create the target database if the API supports it (v1); a no-op otherwise."""

    def close(self) -> None:
        """Release connections. Pending lines are not written (a worker only commits after a flush)."""
        if self._buffer:
            log.warning("%s closed with %d unflushed line(s)", type(self).__name__, len(self._buffer))
        self._close()

    def __enter__(self) -> InfluxSink:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is None:
                self.flush()
        finally:
            self.close()

    # --- for implementations -----------------------------------------------------------------------

    @abstractmethod
    def _write_batch(self, lines: list[str]) -> None:
        """Send one batch. Raise TransientWriteError, BodyTooLargeError or SinkError; return on success."""

    def _close(self) -> None:  # noqa: B027 - optional hook
        pass

    def _describe(self) -> str:
        return type(self).__name__

    # --- retries -----------------------------------------------------------------------------------

    def backoff_s(self, attempt: int) -> float:
        """Delay before retry ``attempt`` (0-based): exponential, capped, with a little jitter."""
        delay = min(self.max_backoff_s, self.retry_backoff_s * (2.0**attempt))
        if self.jitter:
            delay *= 1.0 + random.uniform(0.0, self.jitter)
        return delay

    def _write_with_retries(self, batch: list[str]) -> None:
        self._with_retries(
            lambda: self._write_batch(batch), what=f"write of {len(batch)} line(s)", batch=batch
        )
        self.batches_written += 1

    def _with_retries(self, call: Callable[[], None], *, what: str, batch: list[str] | None = None) -> None:
        attempt = 0
        while True:
            try:
                call()
                return
            except BodyTooLargeError as exc:
                if batch is None or len(batch) < 2:
                    raise SinkError(
                        f"{self._describe()}: {what} refused as too large (413)", status=413
                    ) from exc
                half = len(batch) // 2
                log.warning("%s: body too large for %d lines, splitting", self._describe(), len(batch))
                self._write_with_retries(batch[:half])
                self._write_with_retries(batch[half:])
                self.batches_written -= 1  # the halves were counted; the split batch is not one more
                return
            except TransientWriteError as exc:
                wait = self.backoff_s(attempt)
                if exc.retry_after_s is not None:
                    wait = max(wait, exc.retry_after_s)
                if attempt >= self.max_retries or wait > self.max_backoff_s * (1.0 + self.jitter):
                    raise SinkBackpressureError(
                        f"{self._describe()}: {what} failed after {attempt + 1} attempt(s): {exc}",
                        retry_after_s=wait,
                        status=exc.status,
                        detail=str(exc),
                    ) from exc
                self.retries += 1
                log.warning(
                    "%s: %s failed (%s); retry %d/%d in %.2f s",
                    self._describe(),
                    what,
                    exc,
                    attempt + 1,
                    self.max_retries,
                    wait,
                )
                self._sleep(wait)
                attempt += 1


def _classify_status(status: int, body: bytes | str | None, retry_after: str | None, where: str) -> None:
    """Raise the right error for a non-2xx answer; return for 2xx."""
    if 200 <= status < 300:
        return
    message = _server_message(body)
    if status == 429 or status >= 500:
        raise TransientWriteError(
            f"HTTP {status} {message}".strip(), status=status, retry_after_s=parse_retry_after(retry_after)
        )
    if status == 413:
        raise BodyTooLargeError(message)
    hint = ""
    if status == 400:
        hint = " (bad line protocol or field type conflict)"
    elif status in (401, 403):
        hint = " (check username/password or token)"
    elif status == 404:
        hint = " (database/bucket not found? call ensure_database())"
    raise SinkError(f"{where}: HTTP {status}{hint}: {message}", status=status, detail=message)


class InfluxV1Sink(InfluxSink):
    """InfluxDB 1.x ``/write?db=…&precision=ms`` over one kept-alive ``http.client`` connection.

    Credentials, when given, go in an HTTP Basic ``Authorization`` header (InfluxDB 1.x accepts it
    like ``u``/``p``), so they never appear in a URL, a server access log or this object's repr.
    """

    def __init__(
        self,
        url: str,
        database: str,
        *,
        username: str = "",
        password: SecretStr | str = "",
        retention_policy: str = "",
        batch_size: int = 10_000,
        timeout_s: float = 10.0,
        max_retries: int = 5,
        retry_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        gzip: bool = False,
        jitter: float = 0.1,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(
            batch_size=batch_size,
            max_retries=max_retries,
            retry_backoff_s=retry_backoff_s,
            max_backoff_s=max_backoff_s,
            jitter=jitter,
            sleep=sleep,
        )
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"InfluxDB url must be http(s)://host[:port][/path], got {parts.scheme}://…")
        if parts.username or parts.password:
            raise ValueError("put InfluxDB credentials in username/password, not in the url")
        if not database:
            raise ValueError("database must not be empty")
        self.url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        self.database = database
        self.username = username
        self._password = _as_secret(password)
        self.retention_policy = retention_policy
        self.timeout_s = timeout_s
        self.gzip = gzip
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._base_path = parts.path.rstrip("/")
        query = {"db": database, "precision": "ms"}
        if retention_policy:
            query["rp"] = retention_policy
        self._write_path = f"{self._base_path}/write?{urllib.parse.urlencode(query)}"
        self._conn: http.client.HTTPConnection | None = None
        self._fresh = False

    def __repr__(self) -> str:
        auth = f", username={self.username!r}, password=SecretStr('**********')" if self.username else ""
        return (
            f"InfluxV1Sink(url={self.url!r}, database={self.database!r}{auth}, batch_size={self.batch_size}, "
            f"gzip={self.gzip}, pending={self.pending})"
        )

    def _describe(self) -> str:
        return f"InfluxV1Sink({self.url}, db={self.database})"

    def _headers(self, content_type: str) -> dict[str, str]:
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        if self.username:
            token = f"{self.username}:{self._password.get_secret_value()}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(token).decode("ascii")
        return headers

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self.timeout_s)
            self._fresh = True
        return self._conn

    def _request(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes, Any]:
        """One HTTP exchange; a connection the server closed while idle is reopened once, at once."""
        for _ in range(2):
            conn = self._connection()
            reused = not self._fresh
            self._fresh = False
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                if resp.will_close:
                    self._drop_connection()
                return resp.status, data, resp.headers
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self._drop_connection()
                if reused:
                    continue  # stale kept-alive connection: try once more on a fresh one
                raise TransientWriteError(f"connection error: {exc!r}") from exc
            except (OSError, http.client.HTTPException) as exc:
                self._drop_connection()
                raise TransientWriteError(f"connection error: {exc!r}") from exc
        raise TransientWriteError("connection closed by the server twice")  # pragma: no cover

    def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _write_batch(self, lines: list[str]) -> None:
        body = "\n".join(lines).encode("utf-8")
        headers = self._headers("text/plain; charset=utf-8")
        if self.gzip:
            body = gzip_lib.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        status, data, resp_headers = self._request("POST", self._write_path, body, headers)
        _classify_status(status, data, resp_headers.get("Retry-After"), self._describe())

    def ensure_database(self) -> None:
        """``CREATE DATABASE`` (idempotent in InfluxDB 1.x), with the same retries as a write."""
        self.query(f"CREATE DATABASE {quote_ident(self.database)}")

    def query(self, influxql: str) -> dict[str, Any]:
        """POST an InfluxQL statement to ``/query`` on this sink's connection; return the parsed JSON."""
        form = urllib.parse.urlencode({"q": influxql, "db": self.database}).encode()
        out: dict[str, Any] = {}

        def call() -> None:
            status, data, resp_headers = self._request(
                "POST", f"{self._base_path}/query", form, self._headers("application/x-www-form-urlencoded")
            )
            _classify_status(status, data, resp_headers.get("Retry-After"), self._describe())
            doc = json.loads(data or b"{}")
            for result in doc.get("results", []):
                if "error" in result:
                    raise SinkError(
                        f"{self._describe()}: {influxql!r}: {result['error']}", detail=result["error"]
                    )
            out.update(doc)

        self._with_retries(call, what="query")
        return out

    def _close(self) -> None:
        self._drop_connection()


def quote_ident(name: str) -> str:
    """An InfluxQL identifier in double quotes (for database names with any characters)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class InfluxV2Sink(InfluxSink):
    """InfluxDB 2.x/3.x (or any ``/api/v2/write`` server) through influxdb-client's synchronous write API.

    influxdb-client's own retries are off (``retries=False``); the retry policy is the base class's,
    the same as for v1.
    """

    def __init__(
        self,
        url: str,
        bucket: str,
        org: str,
        token: SecretStr | str,
        *,
        batch_size: int = 10_000,
        timeout_s: float = 10.0,
        max_retries: int = 5,
        retry_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        gzip: bool = False,
        jitter: float = 0.1,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(
            batch_size=batch_size,
            max_retries=max_retries,
            retry_backoff_s=retry_backoff_s,
            max_backoff_s=max_backoff_s,
            jitter=jitter,
            sleep=sleep,
        )
        from influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        if not bucket:
            raise ValueError("bucket must not be empty")
        self.url = url.rstrip("/")
        self.bucket = bucket
        self.org = org
        self._token = _as_secret(token)
        self.timeout_s = timeout_s
        self.gzip = gzip
        self._client = InfluxDBClient(
            url=self.url,
            token=self._token.get_secret_value(),
            org=org,
            timeout=int(timeout_s * 1000),
            enable_gzip=gzip,
            retries=False,
        )
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)

    def __repr__(self) -> str:
        return (
            f"InfluxV2Sink(url={self.url!r}, bucket={self.bucket!r}, org={self.org!r}, "
            f"token=SecretStr('**********'), batch_size={self.batch_size}, gzip={self.gzip}, "
            f"pending={self.pending})"
        )

    def _describe(self) -> str:
        return f"InfluxV2Sink({self.url}, bucket={self.bucket})"

    def _write_batch(self, lines: list[str]) -> None:
        from influxdb_client import WritePrecision
        from influxdb_client.rest import ApiException
        from urllib3.exceptions import HTTPError as Urllib3Error

        try:
            self._write_api.write(
                bucket=self.bucket, org=self.org, record=lines, write_precision=WritePrecision.MS
            )
        except ApiException as exc:
            retry_after = exc.headers.get("Retry-After") if exc.headers else None
            _classify_status(int(exc.status or 0), exc.body, retry_after, self._describe())
            raise SinkError(
                f"{self._describe()}: unexpected answer {exc.status}"
            ) from exc  # pragma: no cover
        except (Urllib3Error, OSError) as exc:
            raise TransientWriteError(f"connection error: {exc!r}") from exc

    def _close(self) -> None:
        self._write_api.close()
        self._client.close()


def make_influx_sink(settings: InfluxSettings, **overrides: Any) -> InfluxSink:
    """Build the sink that ``settings.api`` names; ``overrides`` go to the constructor (e.g. ``gzip``)."""
    common: dict[str, Any] = {
        "batch_size": settings.batch_size,
        "timeout_s": settings.timeout_s,
        "max_retries": settings.max_retries,
        "retry_backoff_s": settings.retry_backoff_s,
    }
    common.update(overrides)
    if settings.api == InfluxApi.V1:
        return InfluxV1Sink(
            settings.url,
            settings.database,
            username=settings.username,
            password=settings.password,
            **common,
        )
    if settings.api == InfluxApi.V2:
        return InfluxV2Sink(settings.url, settings.database, settings.org, settings.token, **common)
    raise ValueError(f"unknown InfluxDB api {settings.api!r}")  # pragma: no cover
