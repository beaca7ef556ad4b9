"""Kafka record values: compact JSON of Reading v1 and DeadLetter v1 (pure, no I/O).

Readings leave out absent optional fields (``value`` or ``values``, ``quality``, ``unit``) so a record
is the same shape a gateway sends; dead letters keep every field, ``null`` included.
"""

from __future__ import annotations

from riskstream.schemas import DeadLetter, Reading

_READING = Reading.__pydantic_serializer__
_DEAD = DeadLetter.__pydantic_serializer__


def reading_json(reading: Reading) -> bytes:
    """``{"v":1,"sensor_id":…,"ts_ms":…,"value":…}`` as bytes, without absent optional fields."""
    return _READING.to_json(reading, exclude_none=True)


def dead_letter_json(dead: DeadLetter) -> bytes:
    """Every DeadLetter v1 field as compact JSON bytes."""
    return _DEAD.to_json(dead)
