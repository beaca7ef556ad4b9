"""Operator-facing reasons of lifecycle events (escalation, deadman, flapping, actions, …).

A level change caused by a reading keeps the rule's own reason (``DomainRule.describe``); these texts
cover what the lifecycle adds. Every reason ends like the rules' ones:
``; <previous> → <level> [rule <rule>, sensor <sensor_id>]``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from detectors.lifecycle.common import FOREVER


def duration(ms: float) -> str:
    """``45 s``, ``30 min``, ``2 h 5 min``, ``3 d 4 h`` (whole units, for people)."""
    if ms is None or not math.isfinite(ms):
        return "an unknown time"
    s = round(ms / 1000)
    if s < 120:
        return f"{s} s" if s >= 1 or ms <= 0 else f"{int(ms)} ms"
    m = s // 60
    if m < 120:
        return f"{m} min"
    h, m = divmod(m, 60)
    if h < 48:
        return f"{h} h {m} min" if m else f"{h} h"
    d, h = divmod(h, 24)
    return f"{d} d {h} h" if h else f"{d} d"


def timestamp(ts_ms: int) -> str:
    """UTC ISO 8601 to the second; ``until unshelved`` for an open-ended window."""
    if ts_ms >= FOREVER:
        return "until unshelved"
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def tail(previous: str, level: str, rule: str, sensor_id: str) -> str:
    return f"; {previous} → {level} [rule {rule}, sensor {sensor_id}]"


def escalation(previous: str, held_ms: float) -> str:
    return f"held at {previous} for {duration(held_ms)}: escalated one level"


def deescalation(step_ms: float) -> str:
    return f"condition below the alarm level for {duration(step_ms)}: stepped down one level"


def latch_released(condition: str) -> str:
    return f"latched alarm acknowledged; condition is {condition}"


def deadman_fault(where: str, silence_ms: float, factor: float, interval_ms: float) -> str:
    return (
        f"no reading at {where} for {duration(silence_ms)} (expected every {duration(interval_ms)}, "
        f"fault after {factor:g}×)"
    )


def deadman_resumed(where: str, silence_ms: float) -> str:
    return f"readings at {where} resumed after {duration(silence_ms)} of silence"


def agreement(note: str, raised: bool) -> str:
    return f"{note}: +1 level" if raised else f"rules of this sensor no longer agree ({note})"


def flapping(transitions: int, window_ms: float, settle_ms: float) -> str:
    return (
        f"{transitions} level changes within {duration(window_ms)}: flapping, notifications paused until "
        f"the level is stable for {duration(settle_ms)}"
    )


def flap_end(settle_ms: float) -> str:
    return f"stable for {duration(settle_ms)}: flapping ended"


def unsuppressed(note: str) -> str:
    return f"{note}: level changed while notifications were silenced"


def action(verb: str, by: str, until_ts_ms: int | None, note: str) -> str:
    """``shelved by alice until 2026-07-01T10:00:00Z: pump swap``."""
    text = f"{verb} by {by or 'an operator'}"
    if until_ts_ms is not None:
        text += f" until {timestamp(until_ts_ms)}" if until_ts_ms < FOREVER else " until unshelved"
    return f"{text}: {note}" if note else text
