"""query_v1: InfluxQL over HTTP, flattened into rows; errors are loud."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from sinks.errors import SinkError
from sinks.influx_query import query_v1, rows_of
from sinks.testing import FakeInfluxServer, Reply


@pytest.fixture
def server() -> Iterator[FakeInfluxServer]:
    with FakeInfluxServer() as srv:
        yield srv


ANSWER = {
    "results": [
        {
            "statement_id": 0,
            "series": [
                {
                    "name": "reading",
                    "tags": {"sensor_id": "a"},
                    "columns": ["time", "count"],
                    "values": [[0, 3]],
                },
                {
                    "name": "reading",
                    "tags": {"sensor_id": "b"},
                    "columns": ["time", "count"],
                    "values": [[0, 5]],
                },
            ],
        },
        {"statement_id": 1},
    ]
}


def test_rows_of_flattens_series_with_tags() -> None:
    assert rows_of(ANSWER) == [
        {"_measurement": "reading", "sensor_id": "a", "time": 0, "count": 3},
        {"_measurement": "reading", "sensor_id": "b", "time": 0, "count": 5},
    ]


@pytest.mark.parametrize(
    "doc", [{"error": "boom"}, {"results": [{"statement_id": 0, "error": "boom"}]}], ids=["top", "statement"]
)
def test_rows_of_raises_on_errors(doc: dict[str, object]) -> None:
    with pytest.raises(SinkError, match="boom"):
        rows_of(doc, "SELECT 1")


def test_query_v1_posts_form_and_parses(server: FakeInfluxServer) -> None:
    server.script(Reply(200, json.dumps(ANSWER)))
    rows = query_v1(server.url, "riskstream", "SELECT count(value) FROM reading GROUP BY sensor_id")
    assert [r["count"] for r in rows] == [3, 5]
    (req,) = server.requests
    assert (req.method, req.path) == ("POST", "/query")
    assert req.query == {
        "q": "SELECT count(value) FROM reading GROUP BY sensor_id",
        "db": "riskstream",
        "epoch": "ms",
    }
    assert "authorization" not in req.headers


def test_query_v1_http_error_carries_the_message(server: FakeInfluxServer) -> None:
    server.script(Reply(401, '{"error":"authorization failed"}'))
    with pytest.raises(SinkError, match="authorization failed") as info:
        query_v1(server.url, "db", "SHOW DATABASES", username="u", password="secret-pw")
    assert info.value.status == 401
    assert "secret-pw" not in str(info.value)
    assert server.requests[0].headers["authorization"].startswith("Basic ")


def test_query_v1_unreachable() -> None:
    with pytest.raises(SinkError):
        query_v1("http://127.0.0.1:1", "db", "SHOW DATABASES", timeout_s=2)
