"""A small InfluxQL client for tests, the demo summary and board checks (InfluxDB 1.x ``/query``)."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from pydantic import SecretStr

from sinks.errors import SinkError


def query_v1(
    url: str,
    db: str,
    influxql: str,
    *,
    username: str = "",
    password: SecretStr | str = "",
    timeout_s: float = 10.0,
    epoch: str = "ms",
) -> list[dict[str, Any]]:
    """Run InfluxQL via POST ``/query`` and return one dict per result row.

    Each row holds the series' tags (from ``GROUP BY``), the columns (``time`` in ``epoch`` units) and
    ``_measurement``. Rows of every statement and series are concatenated in order. Raises
    :class:`SinkError` on an HTTP error or a statement error (the server's message included).
    """
    form = urllib.parse.urlencode({"q": influxql, "db": db, "epoch": epoch}).encode()
    req = urllib.request.Request(url.rstrip("/") + "/query", data=form, method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    req.add_header("Accept", "application/json")
    if username:
        secret = password.get_secret_value() if isinstance(password, SecretStr) else password
        req.add_header("Authorization", "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            doc = json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        body = exc.read().decode("utf-8", "replace")
        raise SinkError(
            f"InfluxQL {influxql!r} failed: HTTP {exc.code}: {body.strip()}", status=exc.code, detail=body
        ) from exc
    except (OSError, ValueError) as exc:
        raise SinkError(f"InfluxQL {influxql!r} failed: {exc}") from exc
    return rows_of(doc, influxql)


def rows_of(doc: dict[str, Any], influxql: str = "") -> list[dict[str, Any]]:
    """Flatten an InfluxDB 1.x ``/query`` JSON answer into rows (see :func:`query_v1`)."""
    if "error" in doc:
        raise SinkError(f"InfluxQL {influxql!r} failed: {doc['error']}", detail=str(doc["error"]))
    rows: list[dict[str, Any]] = []
    for result in doc.get("results", []):
        if "error" in result:
            raise SinkError(f"InfluxQL {influxql!r} failed: {result['error']}", detail=str(result["error"]))
        for series in result.get("series", []):
            tags = series.get("tags") or {}
            columns = series.get("columns", [])
            for values in series.get("values", []):
                row: dict[str, Any] = {"_measurement": series.get("name", "")}
                row.update(tags)
                row.update(zip(columns, values, strict=True))
                rows.append(row)
    return rows
