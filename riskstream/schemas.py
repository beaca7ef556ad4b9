"""Wire contracts, version 1: readings, batch payloads, alerts, dead letters, operator actions.

These names and fields are fixed (design.md §5): other teams, tests and external checks depend on them.
Add optional fields freely; rename nothing. Every record carries ``v: 1``.
"""

from __future__ import annotations

import hashlib
import math
from enum import IntEnum, StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

SCHEMA_VERSION = 1

SensorId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$")]
GatewayId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$")]
# 1970-01-01 .. 2200-01-01 in epoch milliseconds: anything outside is a unit mistake (seconds, µs).
TsMs = Annotated[int, Field(ge=0, le=7_258_118_400_000)]


class Family(StrEnum):
    """The five sensor families a district monitors."""

    HAZCHEM = "hazchem"
    GAS_PIPELINE = "gas_pipeline"
    GEOHAZARD = "geohazard"
    RAINFALL = "rainfall"
    ELEVATOR = "elevator"


class Level(IntEnum):
    """China's four-colour warning levels, ordered: red (I) is the highest."""

    NORMAL = 0
    BLUE = 1  # IV, attention
    YELLOW = 2  # III, caution
    ORANGE = 3  # II, warning
    RED = 4  # I, danger

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, name: str) -> Level:
        return cls[name.upper()]


class FaultLevel(IntEnum):
    """Levels of the ``sensor_fault`` channel; a fault never raises a hazard colour by itself."""

    NORMAL = 0
    FAULT = 1

    @property
    def label(self) -> str:
        return self.name.lower()


class Channel(StrEnum):
    HAZARD = "hazard"
    SENSOR_FAULT = "sensor_fault"


class AlertEvent(StrEnum):
    TRANSITION = "transition"
    ACK = "ack"
    SHELVE = "shelve"
    UNSHELVE = "unshelve"
    MAINTENANCE = "maintenance"
    FLAPPING = "flapping"
    COMPOUND = "compound"


def _finite(x: float) -> float:
    if not math.isfinite(x):
        raise ValueError("value must be a finite number")
    return x


class Reading(BaseModel):
    """One sensor reading: ``value`` for single-channel sensors, ``values`` for multi-channel ones."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    v: Literal[1] = 1
    sensor_id: SensorId
    ts_ms: TsMs
    value: float | None = None
    values: dict[str, float] | None = None
    quality: int | None = Field(default=None, ge=0, le=9, description="QARTOD-style flag, 1 = pass")
    unit: str | None = Field(default=None, max_length=32)

    @field_validator("value")
    @classmethod
    def _value_finite(cls, v: float | None) -> float | None:
        return None if v is None else _finite(v)

    @field_validator("values")
    @classmethod
    def _values_finite(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        if v is None:
            return None
        if not v:
            raise ValueError("values must name at least one channel")
        for x in v.values():
            _finite(x)
        return v

    @model_validator(mode="after")
    def _one_of_value_values(self) -> Reading:
        if (self.value is None) == (self.values is None):
            raise ValueError("exactly one of 'value' or 'values' is required")
        return self


class BatchPayload(BaseModel):
    """What a gateway publishes: many readings per MQTT message (design.md §3).

    ``readings`` are kept raw here so one bad reading does not reject its neighbours; validate them
    with :data:`READINGS_ADAPTER` and salvage the good ones.
    """

    model_config = ConfigDict(extra="ignore")

    v: Literal[1] = 1
    gateway_id: GatewayId
    readings: list[Any] = Field(min_length=0, max_length=100_000)


READINGS_ADAPTER: TypeAdapter[list[Reading]] = TypeAdapter(list[Reading])
READING_ADAPTER: TypeAdapter[Reading] = TypeAdapter(Reading)


def alert_id_for(
    sensor_id: str, rule: str, channel: str, ts_ms: int, previous_level: str, level: str, event: str
) -> str:
    """Deterministic alert id: replaying the same readings gives the same ids (design.md §5)."""
    key = f"{sensor_id}|{rule}|{channel}|{ts_ms}|{previous_level}|{level}|{event}"
    return hashlib.sha256(key.encode()).hexdigest()


class Alert(BaseModel):
    """Alert v1: one alarm state transition (or operator/lifecycle event) of one (sensor, rule)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    v: Literal[1] = 1
    alert_id: str = Field(min_length=64, max_length=64)
    event: AlertEvent = AlertEvent.TRANSITION
    channel: Channel = Channel.HAZARD
    sensor_id: str
    site: str = ""
    area: str = ""
    family: str = ""
    kind: str = ""
    rule: str
    level: str = Field(description="normal|blue|yellow|orange|red (hazard) or normal|fault (sensor_fault)")
    previous_level: str
    ts_ms: TsMs
    value: float | None = None
    reason: str = ""
    config_version: str = ""
    caused_by: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _level_fits_channel(self) -> Alert:
        allowed = (
            {lv.label for lv in Level} if self.channel == Channel.HAZARD else {lv.label for lv in FaultLevel}
        )
        for lv in (self.level, self.previous_level):
            if lv not in allowed:
                raise ValueError(f"level {lv!r} is not valid on channel {self.channel.value}")
        return self

    @property
    def level_num(self) -> int:
        if self.channel == Channel.HAZARD:
            return int(Level.parse(self.level))
        return int(FaultLevel[self.level.upper()])

    @classmethod
    def build(cls, **fields: Any) -> Alert:
        """Create an alert whose ``alert_id`` is derived from its identifying fields."""
        event = AlertEvent(fields.get("event", AlertEvent.TRANSITION))
        channel = Channel(fields.get("channel", Channel.HAZARD))
        fields["alert_id"] = alert_id_for(
            fields["sensor_id"],
            fields["rule"],
            channel.value,
            int(fields["ts_ms"]),
            fields["previous_level"],
            fields["level"],
            event.value,
        )
        return cls(**fields)


class DeadLetterReason(StrEnum):
    """Fixed list of dead-letter reason codes (documented in docs/wire-formats.md)."""

    NOT_JSON = "not_json"  # payload is not UTF-8 JSON
    SCHEMA = "schema"  # JSON, but not a Reading v1 or a batch payload v1
    UNSUPPORTED_VERSION = "unsupported_version"  # v is not 1
    INVALID_READING = "invalid_reading"  # one reading in a batch failed validation
    UNKNOWN_SENSOR = "unknown_sensor"  # sensor_id not in the registry
    GATEWAY_MISMATCH = "gateway_mismatch"  # topic gateway differs from the payload's / registry's gateway
    CHANNEL_MISMATCH = "channel_mismatch"  # value/values or channel names do not fit the sensor's kind
    TOO_LARGE = "too_large"  # payload above the configured size limit
    TOPIC = "topic"  # MQTT topic does not match riskstream/v1/<gateway_id>/readings


class DeadLetter(BaseModel):
    """A payload or reading the pipeline could not accept, with the raw bytes to replay it later."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    v: Literal[1] = 1
    reason: DeadLetterReason
    detail: str
    gateway_id: str | None = None
    mqtt_topic: str | None = None
    received_ts_ms: int
    raw_b64: str


class ActionKind(StrEnum):
    ACK = "ack"
    SHELVE = "shelve"
    UNSHELVE = "unshelve"
    MAINTENANCE = "maintenance"


class OperatorAction(BaseModel):
    """An operator action on the control topic or in an ``--actions`` file."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    v: Literal[1] = 1
    action: ActionKind
    target: str = Field(min_length=1, description="alert_id, sensor_id or site")
    until_ts_ms: int | None = None
    by: str = ""
    note: str = ""
    ts_ms: TsMs
