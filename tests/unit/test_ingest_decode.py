"""ingest.decode: every dead-letter reason, salvage of good readings, and the one-call validation."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

import ingest.decode as decode_mod
from ingest.decode import DecodeResult, decode_payload, gateway_of_topic
from ingest.encode import dead_letter_json, reading_json
from riskstream.registry import Registry, Sensor
from riskstream.schemas import DeadLetter, DeadLetterReason, Family, Reading

R = DeadLetterReason
TS = 1_700_000_000_000
RECEIVED = 1_700_000_000_500
TOPIC = "riskstream/v1/gw-1/readings"
ELEVATOR = {"speed_mps": 1.0, "door_open": 0.0, "in_door_zone": 0.0, "occupied": 1.0}


def _sensor(sensor_id: str, kind: str, family: Family, gateway_id: str) -> Sensor:
    return Sensor(sensor_id, family, kind, "site-1", "area-1", 31.8, 117.2, gateway_id, "", {})


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry(
        [
            _sensor("p-1", "pipeline_pressure", Family.GAS_PIPELINE, "gw-1"),
            _sensor("p-2", "pipeline_pressure", Family.GAS_PIPELINE, "gw-1"),
            _sensor("p-any", "pipeline_pressure", Family.GAS_PIPELINE, ""),
            _sensor("e-1", "elevator_status", Family.ELEVATOR, "gw-1"),
            _sensor("v-2", "elevator_vibration", Family.ELEVATOR, "gw-2"),
        ]
    )


def reading(sensor_id: str = "p-1", ts: int = TS, **kw: Any) -> dict[str, Any]:
    r: dict[str, Any] = {"v": 1, "sensor_id": sensor_id, "ts_ms": ts}
    r.update(kw if kw else {"value": 1.5})
    return r


def batch(readings: list[Any], gateway_id: str = "gw-1", **kw: Any) -> bytes:
    return json.dumps({"v": 1, "gateway_id": gateway_id, "readings": readings, **kw}).encode()


def run(registry: Registry, raw: bytes, topic: str = TOPIC, **kw: Any) -> DecodeResult:
    return decode_payload(raw, topic, registry, RECEIVED, **kw)


def only_dead(res: DecodeResult, reason: DeadLetterReason) -> DeadLetter:
    assert res.readings == []
    assert [d.reason for d in res.dead] == [reason]
    return res.dead[0]


def raw_of(dead: DeadLetter) -> bytes:
    return base64.b64decode(dead.raw_b64)


# --- happy paths -------------------------------------------------------------------------------------


def test_single_reading_is_accepted(registry: Registry) -> None:
    res = run(registry, json.dumps(reading("p-1", value=12.5)).encode())
    assert res.dead == []
    assert res.readings == [Reading(sensor_id="p-1", ts_ms=TS, value=12.5)]
    assert res.gateway_id == "gw-1"


def test_batch_keeps_every_reading_in_order(registry: Registry) -> None:
    items = [
        reading("p-1", TS + 2),
        reading("e-1", TS, values=ELEVATOR),
        reading("p-any", TS + 1, value=-3.0, quality=1, unit="kPa"),
        reading("p-2", TS),
    ]
    res = run(registry, batch(items))
    assert res.dead == []
    assert [(r.sensor_id, r.ts_ms) for r in res.readings] == [
        ("p-1", TS + 2),
        ("e-1", TS),
        ("p-any", TS + 1),
        ("p-2", TS),
    ]
    assert res.readings[1].values == ELEVATOR
    assert res.readings[2].quality == 1


def test_empty_batch_yields_nothing(registry: Registry) -> None:
    res = run(registry, batch([]))
    assert res.readings == [] and res.dead == []


def test_missing_top_level_v_defaults_to_1_as_in_the_schema(registry: Registry) -> None:
    raw = json.dumps({"gateway_id": "gw-1", "readings": [reading()]}).encode()
    assert len(run(registry, raw).readings) == 1


def test_custom_topic_prefix(registry: Registry) -> None:
    raw = json.dumps(reading()).encode()
    res = run(registry, raw, topic="site/a/gw-1/readings", topic_prefix="site/a")
    assert len(res.readings) == 1
    assert only_dead(run(registry, raw, topic=TOPIC, topic_prefix="site/a"), R.TOPIC)


# --- payload-level dead letters ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "topic",
    [
        "riskstream/v2/gw-1/readings",
        "riskstream/v1/gw-1/alerts",
        "riskstream/v1/gw-1/x/readings",
        "riskstream/v1//readings",
        "riskstream/v1/gw 1!/readings",
        "other/gw-1/readings",
    ],
)
def test_bad_topic(registry: Registry, topic: str) -> None:
    raw = batch([reading()])
    dead = only_dead(run(registry, raw, topic=topic), R.TOPIC)
    assert dead.gateway_id is None
    assert dead.mqtt_topic == topic
    assert raw_of(dead) == raw
    assert topic in dead.detail


def test_gateway_of_topic() -> None:
    assert gateway_of_topic("riskstream/v1/gw-1/readings") == "gw-1"
    assert gateway_of_topic("riskstream/v1/gw-1/readings/") is None
    assert gateway_of_topic("a/b/c/gw_9.x/readings", "a/b/c/") == "gw_9.x"


def test_too_large(registry: Registry) -> None:
    raw = batch([reading()] * 10)
    res = run(registry, raw, max_bytes=len(raw) - 1)
    dead = only_dead(res, R.TOO_LARGE)
    assert str(len(raw)) in dead.detail
    assert raw_of(dead) == raw
    assert len(run(registry, raw, max_bytes=len(raw)).readings) == 10


def test_dead_letter_raw_is_capped_and_says_so(registry: Registry) -> None:
    raw = b"x" * 1000
    dead = only_dead(run(registry, raw, max_dead_raw_bytes=100), R.NOT_JSON)
    assert raw_of(dead) == raw[:100]
    assert "first 100 of 1000 bytes" in dead.detail


@pytest.mark.parametrize("raw", [b"", b"{not json", b'{"v":1,', b"\xff\xfe\x00{}", b"NaNx"])
def test_not_json(registry: Registry, raw: bytes) -> None:
    dead = only_dead(run(registry, raw), R.NOT_JSON)
    assert raw_of(dead) == raw
    assert dead.gateway_id == "gw-1"


@pytest.mark.parametrize("v", [2, 0, "1", 1.5, True, None])
def test_unsupported_version(registry: Registry, v: Any) -> None:
    single = json.dumps({**reading(), "v": v}).encode()
    dead = only_dead(run(registry, single), R.UNSUPPORTED_VERSION)
    assert "v=" in dead.detail
    many = json.dumps({"v": v, "gateway_id": "gw-1", "readings": [reading()]}).encode()
    only_dead(run(registry, many), R.UNSUPPORTED_VERSION)


@pytest.mark.parametrize(
    "obj, field",
    [
        ([reading()], "list"),
        (42, "int"),
        ("text", "str"),
        ({"v": 1, "hello": "world"}, "sensor_id"),
        ({"v": 1, "sensor_id": "p-1", "ts_ms": TS}, "value"),  # neither value nor values
        ({"v": 1, "sensor_id": "p-1", "ts_ms": "soon", "value": 1}, "ts_ms"),
        ({"v": 1, "readings": [reading()]}, "gateway_id"),
        ({"v": 1, "gateway_id": "gw-1", "readings": {"a": 1}}, "readings"),
        ({"v": 1, "gateway_id": "gw 1", "readings": []}, "gateway_id"),
    ],
)
def test_schema(registry: Registry, obj: Any, field: str) -> None:
    raw = json.dumps(obj).encode()
    dead = only_dead(run(registry, raw), R.SCHEMA)
    assert field in dead.detail
    assert raw_of(dead) == raw


def test_batch_gateway_differs_from_topic(registry: Registry) -> None:
    raw = batch([reading(), reading("p-2")], gateway_id="gw-2")
    dead = only_dead(run(registry, raw), R.GATEWAY_MISMATCH)
    assert "gw-2" in dead.detail and "gw-1" in dead.detail
    assert raw_of(dead) == raw


# --- per-reading dead letters ------------------------------------------------------------------------


def test_one_bad_reading_does_not_drop_the_good_ones(registry: Registry) -> None:
    bad = reading("p-2", TS + 1, value="high")
    items = [reading("p-1", TS), bad, reading("e-1", TS + 2, values=ELEVATOR), reading("p-any", TS + 3)]
    res = run(registry, batch(items))
    assert [(r.sensor_id, r.ts_ms) for r in res.readings] == [("p-1", TS), ("e-1", TS + 2), ("p-any", TS + 3)]
    assert [d.reason for d in res.dead] == [R.INVALID_READING]
    dead = res.dead[0]
    assert json.loads(raw_of(dead)) == bad
    assert "readings[1]" in dead.detail and "'p-2'" in dead.detail and "value" in dead.detail
    assert dead.gateway_id == "gw-1" and dead.mqtt_topic == TOPIC and dead.received_ts_ms == RECEIVED


def test_many_bad_readings_one_dead_letter_each_in_input_order(registry: Registry) -> None:
    items: list[Any] = [
        reading("p-1", TS),
        {"v": 1, "sensor_id": "bad id!", "ts_ms": -5, "value": float("inf")},  # three errors, one letter
        7,
        reading("p-2", TS + 1),
        reading("nobody", TS + 2),  # valid but unknown: sorted among the invalid ones by input position
        reading("p-1", TS + 3, value=1.0, values={"a": 1.0}),
        reading("p-2", TS + 4, value=2.0),
        reading("p-1", 10**15),  # year 33658: a unit mistake
    ]
    res = run(registry, batch(items))
    assert [(r.sensor_id, r.ts_ms) for r in res.readings] == [("p-1", TS), ("p-2", TS + 1), ("p-2", TS + 4)]
    assert [d.reason for d in res.dead] == [
        R.INVALID_READING,
        R.INVALID_READING,
        R.UNKNOWN_SENSOR,
        R.INVALID_READING,
        R.INVALID_READING,
    ]
    assert [json.loads(raw_of(d)) for d in res.dead] == [items[1], 7, items[4], items[5], items[7]]
    first = res.dead[0].detail
    assert "readings[1]" in first and "sensor_id" in first and "ts_ms" in first


def test_unknown_sensor(registry: Registry) -> None:
    res = run(registry, batch([reading("p-1"), reading("ghost")]))
    assert [r.sensor_id for r in res.readings] == ["p-1"]
    assert [d.reason for d in res.dead] == [R.UNKNOWN_SENSOR]
    assert "'ghost'" in res.dead[0].detail
    assert json.loads(raw_of(res.dead[0])) == reading("ghost")
    single = json.dumps(reading("ghost")).encode()
    assert raw_of(only_dead(run(registry, single), R.UNKNOWN_SENSOR)) == single


@pytest.mark.parametrize(
    "item",
    [
        reading("p-1", values={"x": 1.0}),  # single-channel kind sent values
        reading("e-1", value=1.0),  # multi-channel kind sent value
        reading("e-1", values={k: v for k, v in ELEVATOR.items() if k != "occupied"}),  # a channel missing
        reading("e-1", values={**ELEVATOR, "load_kg": 80.0}),  # an extra channel
        reading("e-1", values={"z_pkpk": 0.1, "xy_pkpk": 0.1}),  # another kind's channels
    ],
)
def test_channel_mismatch(registry: Registry, item: dict[str, Any]) -> None:
    res = run(registry, batch([item, reading("p-2")]))
    assert [r.sensor_id for r in res.readings] == ["p-2"]
    assert [d.reason for d in res.dead] == [R.CHANNEL_MISMATCH]
    assert f"'{item['sensor_id']}'" in res.dead[0].detail
    assert json.loads(raw_of(res.dead[0])) == item


def test_sensor_registered_to_another_gateway(registry: Registry) -> None:
    item = reading("v-2", values={"z_pkpk": 0.1, "xy_pkpk": 0.2})
    res = run(registry, batch([item, reading("p-any")]))
    assert [r.sensor_id for r in res.readings] == ["p-any"]
    assert [d.reason for d in res.dead] == [R.GATEWAY_MISMATCH]
    assert "'gw-2'" in res.dead[0].detail
    ok = run(registry, batch([item], gateway_id="gw-2"), topic="riskstream/v1/gw-2/readings")
    assert len(ok.readings) == 1 and ok.dead == []


def test_registry_gateway_empty_means_any(registry: Registry) -> None:
    for gw in ("gw-1", "gw-2", "gw-99"):
        raw = batch([reading("p-any")], gateway_id=gw)
        res = run(registry, raw, topic=f"riskstream/v1/{gw}/readings")
        assert len(res.readings) == 1 and res.dead == []


def test_single_reading_from_the_wrong_gateway(registry: Registry) -> None:
    raw = json.dumps(reading("p-1")).encode()
    only_dead(run(registry, raw, topic="riskstream/v1/gw-2/readings"), R.GATEWAY_MISMATCH)


def test_batch_is_validated_in_one_adapter_call_then_the_rest_in_one_more(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = decode_mod.READINGS_ADAPTER

    class Counting:
        def validate_python(self, items: list[Any]) -> list[Reading]:
            calls.append(len(items))
            return real.validate_python(items)

    monkeypatch.setattr(decode_mod, "READINGS_ADAPTER", Counting())
    good = [reading("p-1", TS + i) for i in range(50)]
    run(registry, batch(good))
    assert calls == [50]
    calls.clear()
    res = run(registry, batch([*good[:20], reading(ts=-1), *good[20:]]))
    assert calls == [51, 50]
    assert len(res.readings) == 50


# --- encoding ----------------------------------------------------------------------------------------


def test_record_values_round_trip() -> None:
    r = Reading(sensor_id="e-1", ts_ms=TS, values=ELEVATOR)
    raw = reading_json(r)
    assert json.loads(raw) == {"v": 1, "sensor_id": "e-1", "ts_ms": TS, "values": ELEVATOR}
    assert b" " not in raw
    d = DeadLetter(reason=R.TOPIC, detail="x", received_ts_ms=1, raw_b64="")
    assert DeadLetter.model_validate_json(dead_letter_json(d)) == d
    assert json.loads(dead_letter_json(d))["gateway_id"] is None


# One minimal example per reason code: a new code without an example fails here.
REASON_EXAMPLES: dict[DeadLetterReason, tuple[bytes, str, dict[str, Any]]] = {
    R.NOT_JSON: (b"{", TOPIC, {}),
    R.SCHEMA: (b"[]", TOPIC, {}),
    R.UNSUPPORTED_VERSION: (json.dumps({**reading(), "v": 2}).encode(), TOPIC, {}),
    R.INVALID_READING: (batch([reading(), {"sensor_id": "p-1"}]), TOPIC, {}),
    R.UNKNOWN_SENSOR: (batch([reading(), reading("ghost")]), TOPIC, {}),
    R.GATEWAY_MISMATCH: (batch([reading(), reading("v-2", values={"z_pkpk": 1, "xy_pkpk": 1})]), TOPIC, {}),
    R.CHANNEL_MISMATCH: (batch([reading(), reading("e-1")]), TOPIC, {}),
    R.TOO_LARGE: (batch([reading()]), TOPIC, {"max_bytes": 10}),
    R.TOPIC: (batch([reading()]), "riskstream/v1/gw-1/status", {}),
}


@pytest.mark.parametrize("reason", list(DeadLetterReason))
def test_every_reason_code_has_a_working_example(registry: Registry, reason: DeadLetterReason) -> None:
    raw, topic, kw = REASON_EXAMPLES[reason]
    res = run(registry, raw, topic, **kw)
    assert [d.reason for d in res.dead] == [reason]
    per_reading = {R.INVALID_READING, R.UNKNOWN_SENSOR, R.GATEWAY_MISMATCH, R.CHANNEL_MISMATCH}
    assert len(res.readings) == (1 if reason in per_reading else 0)


def test_agrees_with_the_simulators_malformed_catalogue(registry: Registry) -> None:
    """simulators.malformed states the reason the ingest must give each bad payload; check every one."""
    from simulators.malformed import malformed_examples

    examples = malformed_examples(registry, TS, max_bytes=4096)
    assert {ex.reason for ex in examples} == set(DeadLetterReason)
    for ex in examples:
        res = run(registry, ex.payload, ex.topic, max_bytes=4096)
        assert [d.reason for d in res.dead] == [ex.reason] * ex.dead_letters, ex.name
        assert len(res.readings) == ex.accepted_readings, ex.name
