"""InfluxDB sinks against an in-process HTTP server: batching, retries, back-pressure, errors, secrets."""

from __future__ import annotations

import base64
import email.utils
import logging
import socket
import time
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from riskstream.settings import InfluxApi, InfluxSettings
from sinks.errors import SinkBackpressureError, SinkError
from sinks.influx import InfluxV1Sink, InfluxV2Sink, make_influx_sink, parse_retry_after
from sinks.testing import FakeInfluxServer, Reply

PASSWORD = "pw-hunter2-do-not-leak"
TOKEN = "tok-s3cr3t-do-not-leak"


class Sleeps:
    """Records requested sleeps instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def server() -> Iterator[FakeInfluxServer]:
    with FakeInfluxServer() as srv:
        yield srv


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def lines(n: int, start: int = 0) -> list[str]:
    return [
        f"reading,sensor_id=s{i % 7} value={i}.0 {1_700_000_000_000 + i}" for i in range(start, start + n)
    ]


def v1(server: FakeInfluxServer, sleeps: Sleeps, **kw: object) -> InfluxV1Sink:
    args: dict[str, object] = {"batch_size": 10, "max_retries": 3, "retry_backoff_s": 0.5, "jitter": 0.0}
    args.update(kw)
    return InfluxV1Sink(server.url, "riskstream", sleep=sleeps, **args)  # type: ignore[arg-type]


def v2(server: FakeInfluxServer, sleeps: Sleeps, **kw: object) -> InfluxV2Sink:
    args: dict[str, object] = {"batch_size": 10, "max_retries": 3, "retry_backoff_s": 0.5, "jitter": 0.0}
    args.update(kw)
    return InfluxV2Sink(server.url, "riskstream", "district", TOKEN, sleep=sleeps, **args)  # type: ignore[arg-type]


# --- v1: the happy path ------------------------------------------------------------------------


def test_add_buffers_and_flush_writes_in_batches(server: FakeInfluxServer, sleeps: Sleeps) -> None:
    sink = v1(server, sleeps)
    sink.add(lines(25))
    assert server.requests == []  # add does no I/O
    assert sink.pending == 25
    assert sink.flush() == 25
    assert sink.pending == 0
    writes = [r for r in server.requests if r.path == "/write"]
    assert [len(r.lines) for r in writes] == [10, 10, 5]
    assert server.accepted_lines() == lines(25)
    assert writes[0].method == "POST"
    assert writes[0].query == {"db": "riskstream", "precision": "ms"}
    assert sink.lines_written == 25 and sink.batches_written == 3
    assert sink.flush() == 0  # nothing pending, nothing sent
    assert len(server.requests) == 3
    sink.close()


def test_connection_is_kept_alive(server: FakeInfluxServer, sleeps: Sleeps) -> None:
    sink = v1(server, sleeps)
    for k in range(4):
        sink.add(lines(15, start=100 * k))
        sink.flush()
    assert len(server.requests) == 8
    assert server.connections == 1
    sink.close()


def test_single_string_add_is_one_line(server: FakeInfluxServer, sleeps: Sleeps) -> None:
    sink = v1(server, sleeps)
    sink.add("m v=1.0 1")
    assert sink.pending == 1
    sink.flush()
    assert server.accepted_lines() == ["m v=1.0 1"]


def test_gzip_body(server: FakeInfluxServer, sleeps: Sleeps) -> None:
    sink = v1(server, sleeps, gzip=True)
    sink.add(lines(3))
    sink.flush()
    (req,) = server.requests
    assert req.headers["content-encoding"] == "gzip"
    assert req.lines == lines(3)  # the server decompressed it


def test_credentials_in_basic_auth_header_not_url(server: FakeInfluxServer, sleeps: Sleeps) -> None:
    sink = v1(server, sleeps, username="writer", password=SecretStr(PASSWORD), retention_policy="autogen")
    sink.add(lines(1))
    sink.flush()
    (req,) = server.requests
    assert req.headers["authorization"] == "Basic " + base64.b64encode(f"writer:{PASSWORD}".encode()).decode()
    assert "p" not in req.query and "u" not in req.query
    assert req.query["rp"] == "autogen"


def test_ensure_database_posts_create_database(server: FakeInfluxServer, sleeps: Sleeps) -> None:
    sink = InfluxV1Sink(server.url, 'odd "db"', sleep=sleeps)
    sink.ensure_database()
    (req,) = server.requests
    assert (req.method, req.path) == ("POST", "/query")
    assert req.query["q"] == 'CREATE DATABASE "odd \\"db\\""'


def test_query_statement_error_raises(server: FakeInfluxServer, sleeps: Sleeps) -> None:
    server.script(Reply(200, '{"results":[{"statement_id":0,"error":"database name required"}]}'))
    sink = v1(server, sleeps)
    with pytest.raises(SinkError, match="database name required"):
        sink.query("SHOW MEASUREMENTS")


def test_url_with_path_prefix(server: FakeInfluxServer, sleeps: Sleeps) -> None:
    sink = InfluxV1Sink(server.url + "/influx/", "riskstream", sleep=sleeps)
    sink.add(lines(1))
    sink.flush()
    assert server.requests[0].path == "/influx/write"


@pytest.mark.parametrize("url", ["ftp://host/x", "http://user:pw@host:8086", "nohost"])
def test_bad_urls_rejected(url: str) -> None:
    with pytest.raises(ValueError):
        InfluxV1Sink(url, "db")


# --- v1: retries and failures ------------------------------------------------------------------


def test_500_then_204_retries_with_backoff(server: FakeInfluxServer, sleeps: Sleeps) -> None:
    server.script(Reply(500, '{"error":"timeout"}'), Reply(503), Reply(204))
    sink = v1(server, sleeps)
    sink.add(lines(5))
    assert sink.flush() == 5
    assert [r.status for r in server.requests] == [500, 503, 204]
    assert sleeps.calls == [0.5, 1.0]  # exponential
    assert sink.retries == 2
    assert server.accepted_lines() == lines(5)


def test_400_fails_fast_with_the_server_message(server: FakeInfluxServer, sleeps: Sleeps) -> None:
    msg = "unable to parse 'bad line': missing fields"
    server.script(Reply(400, f'{{"error":"{msg}"}}'))
    sink = v1(server, sleeps)
    sink.add(["bad line"])
    with pytest.raises(SinkError) as info:
        sink.flush()
    assert not isinstance(info.value, SinkBackpressureError)
    assert info.value.status == 400
    assert msg in str(info.value)
    assert info.value.detail == msg
    assert len(server.requests) == 1 and sleeps.calls == []  # no retry
    assert sink.pending == 1  # nothing silently dropped
    assert sink.discard_pending() == ["bad line"]
    assert sink.pending == 0


@pytest.mark.parametrize("status", [401, 403, 404])
def test_other_4xx_fail_fast(server: FakeInfluxServer, sleeps: Sleeps, status: int) -> None:
    server.script(Reply(status, '{"error":"nope"}'))
    sink = v1(server, sleeps)
    sink.add(lines(1))
    with pytest.raises(SinkError, match=f"HTTP {status}.*nope"):
        sink.flush()
    assert len(server.requests) == 1


def test_429_respects_retry_after(server: FakeInfluxServer, sleeps: Sleeps) -> None:
    server.script(Reply(429, '{"error":"slow down"}', {"Retry-After": "3"}), Reply(204))
    sink = v1(server, sleeps, max_backoff_s=10.0)
    sink.add(lines(2))
    sink.flush()
    assert sleeps.calls == [3.0]  # Retry-After beats the 0.5 s backoff
    assert server.accepted_lines() == lines(2)


def test_retry_after_longer_than_max_backoff_is_backpressure_at_once(
    server: FakeInfluxServer, sleeps: Sleeps
) -> None:
    server.script(Reply(429, "", {"Retry-After": "120"}))
    sink = v1(server, sleeps, max_backoff_s=30.0)
    sink.add(lines(2))
    with pytest.raises(SinkBackpressureError) as info:
        sink.flush()
    assert info.value.retry_after_s == 120.0
    assert info.value.status == 429
    assert sleeps.calls == []  # the worker pauses, not the sink
    assert sink.pending == 2


def test_exhausted_retries_raise_backpressure_then_resume(server: FakeInfluxServer, sleeps: Sleeps) -> None:
    server.script(Reply(204), *[Reply(503)] * 4)  # first batch lands, the second fails 4 times
    sink = v1(server, sleeps, max_retries=3)
    sink.add(lines(25))
    with pytest.raises(SinkBackpressureError) as info:
        sink.flush()
    assert info.value.retry_after_s == pytest.approx(4.0)  # the backoff that would come next
    assert sleeps.calls == [0.5, 1.0, 2.0]
    assert sink.pending == 15  # the accepted batch left the buffer, the rest is kept in order
    # the server recovers: the next flush writes the rest, nothing twice, nothing lost
    assert sink.flush() == 15
    assert server.accepted_lines() == lines(25)


def test_unreachable_server_is_backpressure(sleeps: Sleeps) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before use: connection refused
    sink = InfluxV1Sink(
        f"http://127.0.0.1:{port}", "db", max_retries=2, retry_backoff_s=0.25, jitter=0.0, sleep=sleeps
    )
    sink.add(lines(1))
    with pytest.raises(SinkBackpressureError, match="connection error"):
        sink.flush()
    assert sleeps.calls == [0.25, 0.5]
    assert sink.pending == 1


def test_dropped_connection_is_retried(server: FakeInfluxServer, sleeps: Sleeps) -> None:
    server.script(Reply(drop=True), Reply(204))
    sink = v1(server, sleeps)
    sink.add(lines(4))
    assert sink.flush() == 4
    assert server.accepted_lines() == lines(4)


def test_413_splits_the_batch(server: FakeInfluxServer, sleeps: Sleeps) -> None:
    server.script(Reply(413, '{"error":"Request Entity Too Large"}'))
    sink = v1(server, sleeps)
    sink.add(lines(8))
    assert sink.flush() == 8
    assert [len(r.lines) for r in server.requests] == [8, 4, 4]
    assert server.accepted_lines() == lines(8)
    assert sink.batches_written == 2


def test_413_on_a_single_line_is_an_error(server: FakeInfluxServer, sleeps: Sleeps) -> None:
    server.script(Reply(413))
    sink = v1(server, sleeps)
    sink.add(lines(1))
    with pytest.raises(SinkError, match="too large"):
        sink.flush()


def test_context_manager_flushes_on_clean_exit(server: FakeInfluxServer, sleeps: Sleeps) -> None:
    with v1(server, sleeps) as sink:
        sink.add(lines(3))
    assert server.accepted_lines() == lines(3)


# --- retry helpers -----------------------------------------------------------------------------


def test_parse_retry_after() -> None:
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("soon") is None
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(30, abs=1.0)


def test_backoff_is_exponential_capped_and_jittered() -> None:
    sink = InfluxV1Sink("http://127.0.0.1:1", "db", retry_backoff_s=0.5, max_backoff_s=5.0, jitter=0.0)
    assert [sink.backoff_s(a) for a in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    jittery = InfluxV1Sink("http://127.0.0.1:1", "db", retry_backoff_s=1.0, jitter=0.1)
    delays = {jittery.backoff_s(0) for _ in range(50)}
    assert all(1.0 <= d <= 1.1 for d in delays) and len(delays) > 1


# --- v2 through influxdb-client ------------------------------------------------------------------


def test_v2_writes_to_api_v2_write(server: FakeInfluxServer, sleeps: Sleeps) -> None:
    sink = v2(server, sleeps)
    sink.add(lines(12))
    assert sink.flush() == 12
    first = server.requests[0]
    assert first.path == "/api/v2/write"
    assert first.query["bucket"] == "riskstream" and first.query["org"] == "district"
    assert first.query["precision"] == "ms"
    assert first.headers["authorization"] == f"Token {TOKEN}"
    assert server.accepted_lines() == lines(12)
    sink.close()


def test_v2_retries_5xx_and_429(server: FakeInfluxServer, sleeps: Sleeps) -> None:
    server.script(
        Reply(500, '{"code":"internal error","message":"boom"}'), Reply(429, "", {"Retry-After": "2"})
    )
    sink = v2(server, sleeps)
    sink.add(lines(3))
    assert sink.flush() == 3
    assert sleeps.calls == [0.5, 2.0]
    assert server.accepted_lines() == lines(3)
    sink.close()


def test_v2_400_message(server: FakeInfluxServer, sleeps: Sleeps) -> None:
    server.script(Reply(400, '{"code":"invalid","message":"unable to parse \'x\': missing fields"}'))
    sink = v2(server, sleeps)
    sink.add(["x"])
    with pytest.raises(SinkError, match="missing fields") as info:
        sink.flush()
    assert info.value.status == 400
    assert sink.pending == 1
    sink.close()


def test_v2_unreachable_is_backpressure(sleeps: Sleeps) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = InfluxV2Sink(
        f"http://127.0.0.1:{port}",
        "b",
        "o",
        TOKEN,
        max_retries=1,
        retry_backoff_s=0.1,
        jitter=0.0,
        sleep=sleeps,
    )
    sink.add(lines(1))
    with pytest.raises(SinkBackpressureError):
        sink.flush()
    assert sleeps.calls == [0.1]
    sink.close()


# --- factory and secrets -----------------------------------------------------------------------


def test_factory_picks_the_api() -> None:
    s1 = InfluxSettings(
        api=InfluxApi.V1, url="http://127.0.0.1:1", database="d1", batch_size=123, max_retries=2
    )
    sink1 = make_influx_sink(s1)
    assert isinstance(sink1, InfluxV1Sink)
    assert (sink1.database, sink1.batch_size, sink1.max_retries) == ("d1", 123, 2)
    s2 = InfluxSettings(
        api=InfluxApi.V2, url="http://127.0.0.1:1", database="b", org="o", token=SecretStr(TOKEN)
    )
    sink2 = make_influx_sink(s2, gzip=True)
    assert isinstance(sink2, InfluxV2Sink)
    assert (sink2.bucket, sink2.org, sink2.gzip) == ("b", "o", True)
    sink2.close()


def test_secrets_never_in_repr_str_or_errors(
    server: FakeInfluxServer, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    settings = InfluxSettings(
        api=InfluxApi.V1, url=server.url, username="writer", password=SecretStr(PASSWORD), max_retries=1
    )
    sink1 = make_influx_sink(settings, sleep=sleeps)
    sink2 = make_influx_sink(
        InfluxSettings(api=InfluxApi.V2, url=server.url, token=SecretStr(TOKEN), max_retries=1), sleep=sleeps
    )
    texts = [repr(sink1), str(sink1), repr(sink2), str(sink2), repr(settings)]
    server.script(Reply(503), Reply(503), Reply(400, '{"error":"bad"}'), *[Reply(503)] * 4)
    with caplog.at_level(logging.DEBUG):
        for sink in (sink1, sink2, sink1, sink2):
            sink.add(lines(1))
            with pytest.raises(SinkError) as info:
                sink.flush()
            texts += [str(info.value), repr(info.value), info.value.detail]
            sink.discard_pending()
    texts.append(caplog.text)
    assert "writer" in repr(sink1)
    for text in texts:
        assert PASSWORD not in text
        assert TOKEN not in text
    sink2.close()
