"""InfluxDB sinks against the real local stack: InfluxDB 1.6 (v1 sink) and VictoriaMetrics (v2 sink).

Counts are exact: every reading written is read back, a second write of the same points does not
add any, and escaped tag values come back as they were.
"""

from __future__ import annotations

import json
import math
import time
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING

import numpy as np
import pytest

from riskstream.registry import Registry, Sensor
from riskstream.schemas import Alert, AlertEvent, Channel, Family
from riskstream.settings import InfluxApi
from sinks.errors import SinkError
from sinks.influx import InfluxV1Sink, InfluxV2Sink, make_influx_sink
from sinks.influx_query import query_v1
from sinks.line_protocol import SensorTags, alert_line, reading_lines, sensor_lines

if TYPE_CHECKING:
    from riskstream.stack.testing import StackInfo

pytestmark = pytest.mark.integration

T0 = 1_700_000_000_000
ELEVATOR_CHANNELS = ("speed_mps", "door_open", "in_door_zone", "occupied")
# Site and area names that need escaping and survive it exactly (the documented lossy cases, a
# trailing backslash and control characters, are left to the unit tests).
AWKWARD_SITES = ["Plant A, tank=3", "合肥 化工园 #2", 'say "hi"', "back\\slash", "a\\,b", "=", "x y z"]


def make_registry(prefix: str, n: int) -> Registry:
    sensors = [
        Sensor(
            sensor_id=f"{prefix}-{i:03d}",
            family=Family.HAZCHEM,
            kind="tank_level",
            site=AWKWARD_SITES[i % len(AWKWARD_SITES)],
            area=f"area {i % 3}",
            lat=31.0 + i / 100,
            lon=117.0 if i % 4 else math.nan,
            gateway_id="gw-1",
            unit="%",
        )
        for i in range(n)
    ]
    sensors.append(
        Sensor(
            f"{prefix}-lift", Family.ELEVATOR, "elevator_status", "Tower 1", "area 0", 31.0, 117.0, "gw-1", ""
        )
    )
    return Registry(sensors)


def readings(n_sensors: int, t0: int = T0) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[int, int]]:
    """Sensor ``i`` gets ``i + 1`` readings one second apart: each count is different."""
    counts = {i: i + 1 for i in range(n_sensors)}
    rows = np.concatenate([np.full(c, i, dtype=np.int32) for i, c in counts.items()])
    ts = np.concatenate([t0 + 1000 * np.arange(c, dtype=np.int64) for c in counts.values()])
    values = np.random.default_rng(7).normal(50.0, 10.0, rows.size)
    values[::5] = np.round(values[::5])  # integral values must still be float fields
    return rows, ts, values, counts


def counts_by_sensor(url: str, db: str, measurement: str = "reading", field: str = "value") -> dict[str, int]:
    rows = query_v1(url, db, f'SELECT count("{field}") FROM "{measurement}" GROUP BY sensor_id')
    return {r["sensor_id"]: r["count"] for r in rows}


@pytest.fixture
def v1_sink(stack: StackInfo) -> InfluxV1Sink:
    db = stack.new_database("t_sinks")
    settings = stack.settings.influx.model_copy(
        update={"api": InfluxApi.V1, "database": db, "batch_size": 97}
    )
    sink = make_influx_sink(settings)  # batches of 97 lines: many batches, none aligned with a sensor
    assert isinstance(sink, InfluxV1Sink)
    sink.ensure_database()  # idempotent on an existing database
    return sink


def test_v1_exact_counts_and_idempotent_rewrite(stack: StackInfo, v1_sink: InfluxV1Sink) -> None:
    n = 40
    registry = make_registry("cnt", n)
    tags = SensorTags(registry)
    rows, ts, values, counts = readings(n)
    lines = reading_lines(tags, rows, ts, values)
    v1_sink.add(lines)
    assert v1_sink.flush() == rows.size
    expected = {registry.sensors[i].sensor_id: c for i, c in counts.items()}
    assert counts_by_sensor(stack.influx_url, v1_sink.database) == expected

    # replay after a crash: the same points again, in another batch split -> no new points
    v1_sink.batch_size = 1000
    v1_sink.add(reversed(lines))
    v1_sink.flush()
    assert counts_by_sensor(stack.influx_url, v1_sink.database) == expected

    # values came back exactly (floats round-trip through repr)
    got = query_v1(
        stack.influx_url,
        v1_sink.database,
        f"SELECT value FROM reading WHERE sensor_id = '{registry.sensors[5].sensor_id}'",
    )
    mask = rows == 5
    assert [r["time"] for r in got] == ts[mask].tolist()
    assert [r["value"] for r in got] == values[mask].tolist()
    v1_sink.close()


def test_v1_same_series_and_time_overwrites(stack: StackInfo, v1_sink: InfluxV1Sink) -> None:
    tags = SensorTags(make_registry("ovw", 1))
    one = np.array([0], dtype=np.int32)
    v1_sink.add(reading_lines(tags, one, np.array([T0]), np.array([1.0])))
    v1_sink.flush()
    v1_sink.add(reading_lines(tags, one, np.array([T0]), np.array([2.5])))
    v1_sink.flush()
    rows = query_v1(stack.influx_url, v1_sink.database, "SELECT value FROM reading")
    assert [(r["time"], r["value"]) for r in rows] == [(T0, 2.5)]
    v1_sink.close()


def test_v1_escaped_tags_round_trip(stack: StackInfo, v1_sink: InfluxV1Sink) -> None:
    registry = make_registry("esc", len(AWKWARD_SITES))
    tags = SensorTags(registry)
    n = len(AWKWARD_SITES)
    v1_sink.add(reading_lines(tags, np.arange(n, dtype=np.int32), np.full(n, T0), np.arange(n) * 1.5))
    v1_sink.add(sensor_lines(registry, T0))
    v1_sink.flush()
    rows = query_v1(
        stack.influx_url, v1_sink.database, "SELECT value FROM reading GROUP BY sensor_id, site, area"
    )
    got = {r["sensor_id"]: (r["site"], r["area"], r["value"]) for r in rows}
    assert got == {s.sensor_id: (s.site, s.area, i * 1.5) for i, s in enumerate(registry.sensors[:n])}

    rows = query_v1(stack.influx_url, v1_sink.database, "SELECT lat, lon FROM sensor GROUP BY sensor_id")
    sensors = {r["sensor_id"]: (r["lat"], r["lon"]) for r in rows}
    assert len(sensors) == len(registry)
    for s in registry:
        assert sensors[s.sensor_id] == (s.lat, None if math.isnan(s.lon) else s.lon)
    v1_sink.close()


def test_v1_field_types_channels_and_alerts(stack: StackInfo, v1_sink: InfluxV1Sink) -> None:
    registry = make_registry("typ", 2)
    tags = SensorTags(registry)
    lift = registry.index["typ-lift"]
    v1_sink.add(
        reading_lines(tags, np.array([0, 1], dtype=np.int32), np.array([T0, T0]), np.array([3.0, 4.0]))
    )
    states = np.array([[1.5, 0.0, 1.0, 1.0], [0.0, 1.0, 1.0, 0.0]])
    v1_sink.add(
        reading_lines(
            tags, np.array([lift, lift], dtype=np.int32), np.array([T0, T0 + 500]), states, ELEVATOR_CHANNELS
        )
    )
    alerts = [
        Alert.build(
            sensor_id="typ-000", rule="level_high", previous_level="normal", level="orange",
            ts_ms=T0, value=97.5, area="area 0", family="hazchem",
        ),
        Alert.build(
            sensor_id="typ-000", rule="stuck", channel=Channel.SENSOR_FAULT, previous_level="normal",
            level="fault", ts_ms=T0 + 1, value=None, area="area 0", family="hazchem",
        ),
        Alert.build(
            sensor_id="typ-lift", rule="trapped", previous_level="normal", level="red", ts_ms=T0 + 2,
            value=1.0, area="area 0", family="elevator", event=AlertEvent.TRANSITION,
        ),
    ]  # fmt: skip
    v1_sink.add(alert_line(a, a.level_num) for a in alerts)
    v1_sink.flush()

    db = v1_sink.database
    field_types = {
        (r["_measurement"], r["fieldKey"]): r["fieldType"]
        for r in query_v1(stack.influx_url, db, "SHOW FIELD KEYS")
    }
    assert field_types == {
        ("alert", "alert_id"): "string",
        ("alert", "level_num"): "integer",
        ("alert", "value"): "float",
        ("reading", "value"): "float",
        **{("reading", c): "float" for c in ELEVATOR_CHANNELS},
    }
    lift_rows = query_v1(stack.influx_url, db, "SELECT * FROM reading WHERE sensor_id = 'typ-lift'")
    assert [[r[c] for c in ELEVATOR_CHANNELS] for r in lift_rows] == states.tolist()

    got = query_v1(stack.influx_url, db, "SELECT alert_id, level_num, value, channel, level, rule FROM alert")
    assert [
        (r["alert_id"], r["level_num"], r["value"], r["channel"], r["level"], r["rule"]) for r in got
    ] == [(a.alert_id, a.level_num, a.value, a.channel.value, a.level, a.rule) for a in alerts]
    v1_sink.close()


def test_v1_bad_line_reports_the_server_message(stack: StackInfo, v1_sink: InfluxV1Sink) -> None:
    v1_sink.add(["reading,sensor_id=x value=1.0 1", "this is not line protocol"])
    with pytest.raises(SinkError) as info:
        v1_sink.flush()
    assert info.value.status == 400
    assert "unable to parse" in str(info.value)
    assert v1_sink.pending == 2
    v1_sink.close()


def test_v1_missing_database_is_a_clear_error(stack: StackInfo) -> None:
    sink = InfluxV1Sink(stack.influx_url, stack.unique_name("t_missing"), max_retries=0)
    sink.add(["reading,sensor_id=x value=1.0 1"])
    with pytest.raises(SinkError, match="database not found") as info:
        sink.flush()
    assert info.value.status == 404
    sink.close()


# --- v2 through influxdb-client, against VictoriaMetrics' /api/v2/write --------------------------


def vm_export(vm_url: str, selector: str, start_ms: int) -> list[dict[str, object]]:
    urllib.request.urlopen(f"{vm_url}/internal/force_flush", timeout=10).read()  # make new rows searchable
    query = urllib.parse.urlencode({"match[]": selector, "start": str(start_ms // 1000 - 60)})
    with urllib.request.urlopen(f"{vm_url}/api/v1/export?{query}", timeout=10) as resp:
        return [json.loads(line) for line in resp.read().decode().splitlines() if line.strip()]


def test_v2_sink_writes_to_victoria_metrics(stack: StackInfo) -> None:
    prefix = stack.unique_name("v2")  # VictoriaMetrics keeps data between runs: fresh sensor ids
    registry = make_registry(prefix, 4)
    tags = SensorTags(registry)
    # VictoriaMetrics silently drops samples older than its retention (1 month by default): recent times
    t0 = (int(time.time()) - 3600) * 1000
    rows, ts, values, counts = readings(4, t0)
    lift = registry.index[f"{prefix}-lift"]
    states = np.array([[1.5, 0.0, 1.0, 1.0], [0.25, 1.0, 0.0, 0.0]])
    settings = stack.settings.influx.model_copy(
        update={"api": InfluxApi.V2, "url": stack.vm_url, "database": "riskstream", "batch_size": 3}
    )
    sink = make_influx_sink(settings)
    assert isinstance(sink, InfluxV2Sink)
    sink.add(reading_lines(tags, rows, ts, values))
    sink.add(
        reading_lines(
            tags, np.array([lift, lift], dtype=np.int32), np.array([t0, t0 + 1000]), states, ELEVATOR_CHANNELS
        )
    )
    assert sink.flush() == rows.size + 2
    sink.close()

    series = vm_export(stack.vm_url, f'{{__name__="reading_value",sensor_id=~"{prefix}-.*"}}', t0)
    got = {s["metric"]["sensor_id"]: (s["timestamps"], s["values"]) for s in series}  # type: ignore[index]
    assert set(got) == {registry.sensors[i].sensor_id for i in counts}
    for i in counts:
        mask = rows == i
        got_ts, got_values = got[registry.sensors[i].sensor_id]
        assert got_ts == ts[mask].tolist()
        # VictoriaMetrics stores floats as 12 significant decimal digits
        assert got_values == pytest.approx(values[mask].tolist(), rel=1e-11)
    site_of = {s["metric"]["sensor_id"]: s["metric"].get("site") for s in series}  # type: ignore[index]
    assert site_of == {registry.sensors[i].sensor_id: registry.sensors[i].site for i in counts}

    speed = vm_export(stack.vm_url, f'reading_speed_mps{{sensor_id="{prefix}-lift"}}', t0)
    assert [(s["timestamps"], s["values"]) for s in speed] == [([t0, t0 + 1000], [1.5, 0.25])]
