"""One conformance suite for every InfluxSink implementation (design.md §8).

Each sink, driven through the same fake server: add does no I/O, flush delivers every line exactly
once and in order, a failed flush drops nothing and a later flush finishes the job, back-pressure
carries a positive retry_after_s, and discard_pending hands the lines back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from sinks.errors import SinkBackpressureError, SinkError
from sinks.influx import InfluxSink, InfluxV1Sink, InfluxV2Sink, TransientWriteError
from sinks.testing import FakeInfluxServer, MemoryInfluxSink, Reply


@dataclass
class Harness:
    sink: InfluxSink
    delivered: Callable[[], list[str]]
    fail_transient: Callable[[int], None]  # the next n batch writes fail with a retryable error
    fail_permanent: Callable[[], None]  # the next batch write is refused for good


def _no_sleep(_s: float) -> None:
    return None


def _http_harness(make: Callable[[str], InfluxSink]) -> Callable[[], Iterator[Harness]]:
    def build() -> Iterator[Harness]:
        with FakeInfluxServer() as server:
            sink = make(server.url)
            yield Harness(
                sink,
                server.accepted_lines,
                lambda n: server.script(*[Reply(503, '{"error":"busy"}')] * n),
                lambda: server.script(Reply(400, '{"error":"unable to parse"}')),
            )
            sink.close()

    return build


def _memory_harness() -> Iterator[Harness]:
    sink = MemoryInfluxSink(batch_size=4, max_retries=2)

    def fail_transient(n: int) -> None:
        for _ in range(n):
            sink.fail_next(TransientWriteError("busy", status=503))

    yield Harness(
        sink, lambda: sink.lines, fail_transient, lambda: sink.fail_next(SinkError("refused", status=400))
    )


HARNESSES: dict[str, Callable[[], Iterator[Harness]]] = {
    "v1": _http_harness(
        lambda url: InfluxV1Sink(url, "riskstream", batch_size=4, max_retries=2, jitter=0.0, sleep=_no_sleep)
    ),
    "v2": _http_harness(
        lambda url: InfluxV2Sink(url, "riskstream", "org", "t", batch_size=4, max_retries=2, sleep=_no_sleep)
    ),
    "memory": _memory_harness,
}


@pytest.fixture(params=sorted(HARNESSES))
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    yield from HARNESSES[request.param]()


def lines(n: int, start: int = 0) -> list[str]:
    return [f"reading,sensor_id=s{i % 3} value={i}.5 {1000 + i}" for i in range(start, start + n)]


def test_add_does_no_io(harness: Harness) -> None:
    harness.sink.add(lines(10))
    assert harness.delivered() == []
    assert harness.sink.pending == 10


def test_flush_delivers_everything_once_in_order(harness: Harness) -> None:
    harness.sink.add(lines(10))
    harness.sink.add(lines(3, start=10))
    assert harness.sink.flush() == 13
    assert harness.sink.pending == 0
    assert harness.delivered() == lines(13)
    assert harness.sink.flush() == 0
    assert harness.delivered() == lines(13)


def test_transient_errors_within_retries_are_invisible(harness: Harness) -> None:
    harness.fail_transient(2)
    harness.sink.add(lines(6))
    assert harness.sink.flush() == 6
    assert harness.delivered() == lines(6)


def test_backpressure_keeps_lines_and_resumes(harness: Harness) -> None:
    harness.sink.add(lines(10))
    harness.sink.flush()  # warm: 10 delivered
    harness.sink.add(lines(10, start=10))
    harness.fail_transient(3)  # max_retries=2: three failures exhaust the first batch's attempts
    with pytest.raises(SinkBackpressureError) as info:
        harness.sink.flush()
    assert info.value.retry_after_s > 0
    assert harness.sink.pending == 10
    assert harness.sink.flush() == 10
    assert harness.delivered() == lines(20)


def test_permanent_error_keeps_lines_until_discarded(harness: Harness) -> None:
    harness.sink.add(lines(5))
    harness.fail_permanent()
    with pytest.raises(SinkError) as info:
        harness.sink.flush()
    assert not isinstance(info.value, SinkBackpressureError)
    assert harness.sink.pending == 5
    assert harness.sink.discard_pending() == lines(5)
    assert harness.sink.pending == 0
    assert harness.sink.flush() == 0
