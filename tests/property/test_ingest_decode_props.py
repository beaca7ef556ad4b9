"""Properties of ingest.decode: every input reading is either kept or dead-lettered, exactly once."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.decode import decode_payload
from riskstream.registry import Registry, Sensor
from riskstream.schemas import DeadLetterReason, Family

R = DeadLetterReason
TS = 1_700_000_000_000
TOPIC = "riskstream/v1/gw-1/readings"
ELEVATOR = ("speed_mps", "door_open", "in_door_zone", "occupied")

REGISTRY = Registry(
    [
        Sensor("p-1", Family.GAS_PIPELINE, "pipeline_pressure", "s", "a", 0.0, 0.0, "gw-1", "kPa", {}),
        Sensor("p-any", Family.GAS_PIPELINE, "pipeline_pressure", "s", "a", 0.0, 0.0, "", "kPa", {}),
        Sensor("e-1", Family.ELEVATOR, "elevator_status", "s", "a", 0.0, 0.0, "gw-1", "mixed", {}),
        Sensor("w-2", Family.RAINFALL, "water_depth", "s", "a", 0.0, 0.0, "gw-2", "cm", {}),
    ]
)

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


def _good(i: int, draw_value: float, multi: bool) -> dict[str, Any]:
    if multi:
        return {"v": 1, "sensor_id": "e-1", "ts_ms": TS + i, "values": dict.fromkeys(ELEVATOR, draw_value)}
    return {"v": 1, "sensor_id": "p-1" if i % 2 else "p-any", "ts_ms": TS + i, "value": draw_value}


# (category, expected reason or None for kept) -> builder of the JSON item for input position i
BAD_KINDS: dict[str, R] = {
    "nan": R.INVALID_READING,
    "ts_string": R.INVALID_READING,
    "negative_ts": R.INVALID_READING,
    "both_value_and_values": R.INVALID_READING,
    "not_an_object": R.INVALID_READING,
    "bad_sensor_id": R.INVALID_READING,
    "unknown": R.UNKNOWN_SENSOR,
    "wrong_gateway": R.GATEWAY_MISMATCH,
    "values_for_single": R.CHANNEL_MISMATCH,
    "value_for_multi": R.CHANNEL_MISMATCH,
    "missing_channel": R.CHANNEL_MISMATCH,
}


def _bad(kind: str, i: int, x: float) -> Any:
    base: dict[str, Any] = {"v": 1, "sensor_id": "p-1", "ts_ms": TS + i, "value": x}
    match kind:
        case "nan":
            return {**base, "value": float("nan")}
        case "ts_string":
            return {**base, "ts_ms": f"t{i}"}
        case "negative_ts":
            return {**base, "ts_ms": -i - 1}
        case "both_value_and_values":
            return {**base, "values": {"a": x}}
        case "not_an_object":
            return [i, x]
        case "bad_sensor_id":
            return {**base, "sensor_id": f"p 1/{i}"}
        case "unknown":
            return {**base, "sensor_id": f"ghost-{i}"}
        case "wrong_gateway":
            return {**base, "sensor_id": "w-2"}
        case "values_for_single":
            return {"v": 1, "sensor_id": "p-1", "ts_ms": TS + i, "values": {"p": x}}
        case "value_for_multi":
            return {**base, "sensor_id": "e-1"}
        case "missing_channel":
            return {"v": 1, "sensor_id": "e-1", "ts_ms": TS + i, "values": dict.fromkeys(ELEVATOR[:3], x)}
    raise AssertionError(kind)


slot = st.one_of(
    st.tuples(st.just("good"), finite, st.booleans()),
    st.tuples(st.sampled_from(sorted(BAD_KINDS)), finite, st.booleans()),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(slot, max_size=60))
def test_each_reading_is_kept_or_dead_lettered_exactly_once(slots: list[tuple[str, float, bool]]) -> None:
    items = [
        _good(i, x, multi) if kind == "good" else _bad(kind, i, x) for i, (kind, x, multi) in enumerate(slots)
    ]
    raw = json.dumps({"v": 1, "gateway_id": "gw-1", "readings": items}).encode()

    res = decode_payload(raw, TOPIC, REGISTRY, 1)

    assert len(res.readings) + len(res.dead) == len(items)
    kept_positions = [i for i, (kind, _, _) in enumerate(slots) if kind == "good"]
    # Kept readings: exactly the good ones, in input order (ts_ms encodes the input position).
    assert [r.ts_ms - TS for r in res.readings] == kept_positions
    for r in res.readings:
        src = items[r.ts_ms - TS]
        assert r.sensor_id == src["sensor_id"]
        assert (r.value, r.values) == (src.get("value"), src.get("values"))
    # Dead letters: exactly the bad ones, in input order, each carrying its own reading and reason.
    bad = [(i, kind) for i, (kind, _, _) in enumerate(slots) if kind != "good"]
    assert [d.reason for d in res.dead] == [BAD_KINDS[kind] for _, kind in bad]
    for d, (i, _) in zip(res.dead, bad, strict=True):
        got = json.loads(base64.b64decode(d.raw_b64))
        assert json.dumps(got, sort_keys=True) == json.dumps(items[i], sort_keys=True)
        assert f"readings[{i}]" in d.detail


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([TOPIC, "riskstream/v1/x y/readings", "a/b"]))
def test_arbitrary_bytes_never_raise_and_never_vanish(raw: bytes, topic: str) -> None:
    res = decode_payload(raw, topic, REGISTRY, 1)
    assert res.readings or res.dead
    for d in res.dead:
        assert d.mqtt_topic == topic
        assert base64.b64decode(d.raw_b64) == raw  # payload-level letters keep the exact bytes
