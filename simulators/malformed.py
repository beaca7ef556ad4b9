"""Malformed gateway payloads, each with the dead-letter reason the ingest must give it.

Used to exercise dead-letter handling (unit tests of the decoder, ``riskstream simulate --malformed``
against a live gateway). Every example names its MQTT topic, the raw bytes, the expected
:class:`riskstream.schemas.DeadLetterReason`, how many dead letters it yields and how many of its
readings must still get through (one bad reading must not cost its neighbours).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from riskstream.kinds import KINDS
from riskstream.registry import Registry, Sensor
from riskstream.schemas import DeadLetterReason

R = DeadLetterReason
DEFAULT_TOPIC_PREFIX = "riskstream/v1"


@dataclass(frozen=True, slots=True)
class MalformedExample:
    """One bad MQTT message and what the ingest must make of it."""

    name: str
    topic: str
    payload: bytes
    reason: DeadLetterReason
    description: str
    dead_letters: int = 1
    accepted_readings: int = 0


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), allow_nan=True).encode()


def _good(s: Sensor, ts_ms: int, i: int = 0) -> dict[str, Any]:
    spec = KINDS[s.kind]
    if spec.channels:
        return {
            "v": 1,
            "sensor_id": s.sensor_id,
            "ts_ms": ts_ms + i,
            "values": dict.fromkeys(spec.channels, 0.0),
        }
    return {"v": 1, "sensor_id": s.sensor_id, "ts_ms": ts_ms + i, "value": 1.0 + i}


def malformed_examples(
    registry: Registry,
    ts_ms: int,
    topic_prefix: str = DEFAULT_TOPIC_PREFIX,
    max_bytes: int | None = None,
) -> list[MalformedExample]:
    """Bad payloads built on real sensors of ``registry`` (it needs a single- and a multi-channel sensor).

    ``max_bytes``: the ingest's payload size limit; when given, a payload one byte over it is included.
    """
    single = next((s for s in registry if not KINDS[s.kind].channels and s.gateway_id), None)
    multi = next((s for s in registry if KINDS[s.kind].channels and s.gateway_id), None)
    if single is None or multi is None:
        raise ValueError("need a single-channel and a multi-channel sensor with a gateway in the registry")
    gw = single.gateway_id
    topic = f"{topic_prefix}/{gw}/readings"
    neighbours = [s for s in registry if s.gateway_id == gw][:5]
    other_gw = next((s.gateway_id for s in registry if s.gateway_id and s.gateway_id != gw), None)
    good = _good(single, ts_ms)

    def batch(readings: list[Any], gateway: str = gw) -> dict[str, Any]:
        return {"v": 1, "gateway_id": gateway, "readings": readings}

    def with_(**changes: Any) -> dict[str, Any]:
        return {**good, **changes}

    out = [
        MalformedExample(
            "not_json", topic, b"temperature=21.5;humidity=40", R.NOT_JSON, "a text payload, not JSON"
        ),
        MalformedExample(
            "truncated_json",
            topic,
            _dumps(batch([good]))[:-7],
            R.NOT_JSON,
            "a batch cut off in the middle (gateway buffer overflow)",
        ),
        MalformedExample(
            "not_utf8",
            topic,
            b"\xff\xfe" + _dumps(batch([good])),
            R.NOT_JSON,
            "JSON behind a UTF-16 byte order mark",
        ),
        MalformedExample(
            "json_array", topic, _dumps([good]), R.SCHEMA, "a bare JSON array of readings instead of a batch"
        ),
        MalformedExample(
            "missing_gateway_id",
            topic,
            _dumps({"v": 1, "readings": [good]}),
            R.SCHEMA,
            "a batch without gateway_id",
        ),
        MalformedExample(
            "readings_not_a_list",
            topic,
            _dumps({"v": 1, "gateway_id": gw, "readings": {"0": good}}),
            R.SCHEMA,
            "readings is an object, not a list",
        ),
        MalformedExample(
            "wrong_version",
            topic,
            _dumps({**batch([good]), "v": 2}),
            R.UNSUPPORTED_VERSION,
            "a batch with v=2",
        ),
        MalformedExample(
            "reading_missing_ts",
            topic,
            _dumps(batch([{k: v for k, v in good.items() if k != "ts_ms"}])),
            R.INVALID_READING,
            "a reading without ts_ms",
        ),
        MalformedExample(
            "value_wrong_type",
            topic,
            _dumps(batch([with_(value="high")])),
            R.INVALID_READING,
            'value is the string "high"',
        ),
        MalformedExample(
            "value_nan",
            topic,
            _dumps(batch([with_(value=float("nan"))])),
            R.INVALID_READING,
            "value is NaN (the JSON literal NaN)",
        ),
        MalformedExample(
            "value_infinite",
            topic,
            _dumps(batch([with_(value=float("inf"))])),
            R.INVALID_READING,
            "value is Infinity",
        ),
        MalformedExample(
            "ts_in_microseconds",
            topic,
            _dumps(batch([with_(ts_ms=ts_ms * 1000)])),
            R.INVALID_READING,
            "ts_ms given in microseconds (beyond year 2200)",
        ),
        MalformedExample(
            "value_and_values",
            topic,
            _dumps(batch([with_(values={"x": 1.0})])),
            R.INVALID_READING,
            "both value and values",
        ),
        MalformedExample(
            "one_bad_among_good",
            topic,
            _dumps(
                batch(
                    [_good(s, ts_ms, i) for i, s in enumerate(neighbours)]
                    + [{**_good(single, ts_ms, 99), "value": "n/a"}]
                )
            ),
            R.INVALID_READING,
            f"{len(neighbours)} good readings and one whose value is 'n/a'",
            dead_letters=1,
            accepted_readings=len(neighbours),
        ),
        MalformedExample(
            "unknown_sensor",
            topic,
            _dumps(batch([with_(sensor_id="zz-unknown-0001")])),
            R.UNKNOWN_SENSOR,
            "a sensor id that is not in the registry",
        ),
        MalformedExample(
            "channel_value_for_multi",
            f"{topic_prefix}/{multi.gateway_id}/readings",
            _dumps(
                batch(
                    [{"v": 1, "sensor_id": multi.sensor_id, "ts_ms": ts_ms, "value": 1.0}], multi.gateway_id
                )
            ),
            R.CHANNEL_MISMATCH,
            f"{multi.kind} sensor sends 'value' instead of 'values'",
        ),
        MalformedExample(
            "channel_values_for_single",
            topic,
            _dumps(
                batch([{"v": 1, "sensor_id": single.sensor_id, "ts_ms": ts_ms, "values": {"value": 1.0}}])
            ),
            R.CHANNEL_MISMATCH,
            f"{single.kind} sensor sends 'values'",
        ),
        MalformedExample(
            "wrong_topic_suffix",
            f"{topic_prefix}/{gw}/status",
            _dumps(batch([good])),
            R.TOPIC,
            "published on …/status instead of …/readings",
        ),
        MalformedExample(
            "wrong_topic_prefix",
            f"sensors/{gw}/readings",
            _dumps(batch([good])),
            R.TOPIC,
            "published outside the topic prefix",
        ),
    ]
    if other_gw is not None:
        out += [
            MalformedExample(
                "gateway_mismatch_topic",
                f"{topic_prefix}/{other_gw}/readings",
                _dumps(batch([good])),
                R.GATEWAY_MISMATCH,
                f"payload says {gw} but was published on {other_gw}'s topic",
            ),
            MalformedExample(
                "sensor_on_other_gateway",
                f"{topic_prefix}/{other_gw}/readings",
                _dumps(batch([good], other_gw)),
                R.GATEWAY_MISMATCH,
                f"{other_gw} publishes a reading of {single.sensor_id}, registered to {gw}",
            ),
        ]
    if max_bytes is not None:
        body = _dumps(batch([good]))
        pad = max_bytes + 1 - len(body) - len(',"pad":""')
        big = body[:-1] + b',"pad":"' + b"x" * max(0, pad) + b'"}'
        out.append(
            MalformedExample(
                "too_large", topic, big, R.TOO_LARGE, f"a payload of {len(big)} bytes > {max_bytes}"
            )
        )
    return out
