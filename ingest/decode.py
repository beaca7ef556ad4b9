"""Turn one MQTT message into valid readings and dead letters. Pure: no I/O, no clock, no globals mutated.

A gateway publishes either one Reading v1 or a BatchPayload v1 (``riskstream.schemas``) on
``<prefix>/<gateway_id>/readings``. One bad reading must not cost its neighbours, so a batch is
validated in one :data:`~riskstream.schemas.READINGS_ADAPTER` call; on failure the error locations
name the bad readings, which become one dead letter each, and the rest is validated again in one call.
Valid readings are then checked against the sensor registry (known sensor, value vs. values fits the
kind's channels, gateway allowed to speak for the sensor). Every input reading ends up in exactly one
of ``DecodeResult.readings`` or ``DecodeResult.dead`` (a payload-level dead letter covers all of its
readings).
"""

from __future__ import annotations

import base64
import json
import re
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pydantic_core
from pydantic import ValidationError

from riskstream.kinds import KINDS
from riskstream.registry import Registry
from riskstream.schemas import (
    READINGS_ADAPTER,
    BatchPayload,
    DeadLetter,
    DeadLetterReason,
    Reading,
)

DEFAULT_TOPIC_PREFIX = "riskstream/v1"
# A full batch (100,000 multi-channel readings) is about 15 MB of JSON.
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
# Dead letters go to Kafka, whose default record limit is 1 MB: keep base64 of at most this many raw bytes.
DEFAULT_MAX_DEAD_RAW_BYTES = 512 * 1024

_GATEWAY_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")
_R = DeadLetterReason


@dataclass(slots=True)
class DecodeResult:
    """What one MQTT message yields: valid readings in input order, and dead letters in input order."""

    readings: list[Reading] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    gateway_id: str | None = None  # from the topic; None when the topic is malformed


@dataclass(frozen=True, slots=True)
class _SensorRule:
    gateway_id: str  # "" = any gateway may publish for this sensor
    channels: frozenset[str] | None  # None = single-channel kind, expects ``value``


def _rules_of(registry: Registry) -> dict[str, _SensorRule]:
    rules: dict[str, _SensorRule] = {}
    for s in registry:
        spec = KINDS.get(s.kind)
        chans = frozenset(spec.channels) if spec is not None and spec.channels else None
        rules[s.sensor_id] = _SensorRule(s.gateway_id, chans)
    return rules


# One rule table per registry object, built on first use (a district registry has ~100k sensors).
_RULES_CACHE: weakref.WeakKeyDictionary[Registry, dict[str, _SensorRule]] = weakref.WeakKeyDictionary()


def sensor_rules(registry: Registry) -> Mapping[str, _SensorRule]:
    """The per-sensor lookup table the decoder uses, cached per registry object."""
    rules = _RULES_CACHE.get(registry)
    if rules is None:
        rules = _rules_of(registry)
        _RULES_CACHE[registry] = rules
    return rules


def gateway_of_topic(topic: str, topic_prefix: str = DEFAULT_TOPIC_PREFIX) -> str | None:
    """``gw-1`` for ``<prefix>/gw-1/readings``; None when the topic does not have that shape."""
    head = topic_prefix.rstrip("/") + "/"
    tail = "/readings"
    if not (topic.startswith(head) and topic.endswith(tail)):
        return None
    gw = topic[len(head) : len(topic) - len(tail)]
    return gw if _GATEWAY_ID.match(gw) else None


def _b64(raw: bytes, max_raw: int) -> tuple[str, str]:
    """base64 of ``raw`` (cut to ``max_raw`` bytes) and a note for the detail when it was cut."""
    if len(raw) <= max_raw:
        return base64.b64encode(raw).decode("ascii"), ""
    note = f" (raw_b64 keeps the first {max_raw} of {len(raw)} bytes)"
    return base64.b64encode(raw[:max_raw]).decode("ascii"), note


def _item_json(item: Any) -> bytes:
    """Compact JSON of one reading as received, for its dead letter."""
    try:
        return json.dumps(item, separators=(",", ":"), ensure_ascii=False, allow_nan=True).encode()
    except (TypeError, ValueError):  # cannot happen for parsed JSON, but never fail on a dead letter
        return repr(item).encode()


def _errors_text(errors: list[Any]) -> str:
    parts = []
    for err in errors:
        where = ".".join(str(p) for p in err["loc"][1:]) or "reading"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def _sensor_of(item: Any) -> str:
    if isinstance(item, dict):
        sid = item.get("sensor_id")
        if isinstance(sid, str):
            return f" (sensor_id {sid!r})"
    return ""


class PayloadDecoder:
    """Decoder bound to one registry and topic prefix; :func:`decode_payload` is the functional form."""

    def __init__(
        self,
        registry: Registry,
        topic_prefix: str = DEFAULT_TOPIC_PREFIX,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_dead_raw_bytes: int = DEFAULT_MAX_DEAD_RAW_BYTES,
    ) -> None:
        self.registry = registry
        self.topic_prefix = topic_prefix
        self.max_bytes = max_bytes
        self.max_dead_raw_bytes = max_dead_raw_bytes
        self._rules = sensor_rules(registry)

    # --- public -----------------------------------------------------------------------------------

    def decode(self, raw: bytes, topic: str, received_ts_ms: int) -> DecodeResult:
        gateway_id = gateway_of_topic(topic, self.topic_prefix)
        out = DecodeResult(gateway_id=gateway_id)

        def whole(reason: DeadLetterReason, detail: str) -> DecodeResult:
            out.dead.append(self._dead(reason, detail, gateway_id, topic, received_ts_ms, raw))
            return out

        if gateway_id is None:
            return whole(_R.TOPIC, f"topic {topic!r} is not {self.topic_prefix}/<gateway_id>/readings")
        if len(raw) > self.max_bytes:
            return whole(_R.TOO_LARGE, f"payload of {len(raw)} bytes exceeds the limit of {self.max_bytes}")
        try:
            # pydantic-core's parser: ~2x json.loads; caching only keys (sensor ids rarely repeat in a batch).
            obj = pydantic_core.from_json(raw, allow_inf_nan=True, cache_strings="keys")
        except ValueError as exc:
            return whole(_R.NOT_JSON, f"payload is not UTF-8 JSON: {exc}")
        if not isinstance(obj, dict):
            return whole(_R.SCHEMA, f"payload is a JSON {type(obj).__name__}, expected an object")
        if "v" in obj:
            v = obj["v"]
            if type(v) is not int or v != 1:
                return whole(_R.UNSUPPORTED_VERSION, f"payload v={v!r}; only v=1 is supported")

        if "readings" in obj:
            try:
                batch = BatchPayload.model_validate(obj)
            except ValidationError as exc:
                return whole(_R.SCHEMA, "not a batch payload v1: " + _errors_text_top(exc))
            if batch.gateway_id != gateway_id:
                return whole(
                    _R.GATEWAY_MISMATCH,
                    f"payload gateway_id {batch.gateway_id!r} differs from topic gateway {gateway_id!r}",
                )
            self._decode_batch(batch.readings, out, topic, received_ts_ms)
            return out

        # A single Reading v1: validated through the same adapter; failure means the payload is no schema.
        try:
            readings = READINGS_ADAPTER.validate_python([obj])
        except ValidationError as exc:
            return whole(_R.SCHEMA, "not a reading v1 or batch payload v1: " + _errors_text(exc.errors()))
        reading = readings[0]
        problem = self._check(reading, gateway_id)
        if problem is None:
            out.readings.append(reading)
            return out
        return whole(*problem)

    # --- internals ----------------------------------------------------------------------------------

    def _decode_batch(self, items: list[Any], out: DecodeResult, topic: str, received_ts_ms: int) -> None:
        gateway_id = out.gateway_id
        dead: list[tuple[int, DeadLetter]] = []
        positions = range(len(items))  # input index of each item in ``todo``
        todo = items
        while True:
            try:
                valid = READINGS_ADAPTER.validate_python(todo)
                break
            except ValidationError as exc:
                by_pos: dict[int, list[Any]] = {}
                for err in exc.errors(include_url=False):
                    loc = err["loc"]
                    pos = loc[0] if loc and isinstance(loc[0], int) else -1
                    if pos < 0:  # not located at a reading: cannot happen for a list adapter
                        raise
                    by_pos.setdefault(pos, []).append(err)
                for pos, errs in by_pos.items():
                    i = positions[pos]
                    item = items[i]
                    detail = f"readings[{i}]{_sensor_of(item)}: {_errors_text(errs)}"
                    dead.append(
                        (i, self._dead(_R.INVALID_READING, detail, gateway_id, topic, received_ts_ms, item))
                    )
                keep = [p for p in range(len(todo)) if p not in by_pos]
                positions = [positions[p] for p in keep]
                todo = [todo[p] for p in keep]

        good = out.readings
        rules = self._rules
        for pos, reading in enumerate(valid):
            # Fast path inline (this loop is the per-reading cost); _check explains any failure.
            rule = rules.get(reading.sensor_id)
            if rule is not None and (not rule.gateway_id or rule.gateway_id == gateway_id):
                chans = rule.channels
                if chans is None:
                    if reading.value is not None:
                        good.append(reading)
                        continue
                elif reading.values is not None and reading.values.keys() == chans:
                    good.append(reading)
                    continue
            problem = self._check(reading, gateway_id)
            if problem is None:  # unreachable while the fast path above mirrors _check
                good.append(reading)
            else:
                i = positions[pos]
                reason, detail = problem
                dl = self._dead(
                    reason, f"readings[{i}]: {detail}", gateway_id, topic, received_ts_ms, items[i]
                )
                dead.append((i, dl))
        if dead:
            dead.sort(key=lambda t: t[0])
            out.dead.extend(dl for _, dl in dead)

    def _check(self, r: Reading, gateway_id: str | None) -> tuple[DeadLetterReason, str] | None:
        rule = self._rules.get(r.sensor_id)
        if rule is None:
            return _R.UNKNOWN_SENSOR, f"sensor_id {r.sensor_id!r} is not in the registry"
        if rule.gateway_id and rule.gateway_id != gateway_id:
            return (
                _R.GATEWAY_MISMATCH,
                f"sensor_id {r.sensor_id!r} is registered to gateway {rule.gateway_id!r}, not {gateway_id!r}",
            )
        chans = rule.channels
        if chans is None:
            if r.value is None:
                return (
                    _R.CHANNEL_MISMATCH,
                    f"sensor_id {r.sensor_id!r} is single-channel: send 'value', not 'values'",
                )
        elif r.values is None or r.values.keys() != chans:
            got = "'value'" if r.values is None else f"channels {sorted(r.values)}"
            return (
                _R.CHANNEL_MISMATCH,
                f"sensor_id {r.sensor_id!r} needs 'values' with channels {sorted(chans)}, got {got}",
            )
        return None

    def _dead(
        self,
        reason: DeadLetterReason,
        detail: str,
        gateway_id: str | None,
        topic: str,
        received_ts_ms: int,
        raw: bytes | Any,
    ) -> DeadLetter:
        data = raw if isinstance(raw, bytes | bytearray) else _item_json(raw)
        b64, note = _b64(bytes(data), self.max_dead_raw_bytes)
        return DeadLetter(
            reason=reason,
            detail=detail + note,
            gateway_id=gateway_id,
            mqtt_topic=topic,
            received_ts_ms=received_ts_ms,
            raw_b64=b64,
        )


def _errors_text_top(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "payload"
        parts.append(f"{where}: {err['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def decode_payload(
    raw: bytes,
    topic: str,
    registry: Registry,
    received_ts_ms: int,
    topic_prefix: str = DEFAULT_TOPIC_PREFIX,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_dead_raw_bytes: int = DEFAULT_MAX_DEAD_RAW_BYTES,
) -> DecodeResult:
    """Decode one MQTT message; see :class:`PayloadDecoder` (the registry lookup table is cached)."""
    return PayloadDecoder(registry, topic_prefix, max_bytes, max_dead_raw_bytes).decode(
        raw, topic, received_ts_ms
    )
