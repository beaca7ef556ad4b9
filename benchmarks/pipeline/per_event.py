"""The per-event work of the faust baseline: decode one Reading v1 JSON record, check it against its
sensor's static limit, keep the sensor's state in a dict, count limit crossings.

This is deliberately less than the riskstream hot path does per reading (no windows, no five-colour
levels, no lifecycle, no InfluxDB point, no checkpoint), so the comparison flatters the baseline.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from riskstream.kinds import KINDS
from riskstream.registry import Registry

#: per kind: (channel to check, "" for single-channel kinds; params key of the limit; default limit)
_LIMITS: dict[str, tuple[str, str, float]] = {
    "combustible_gas": ("", "first_alarm_lel", 25.0),
    "pipeline_pressure": ("", "nominal_kpa", 300.0),
    "rain_gauge": ("", "red_3h_mm", 100.0),
    "gnss_displacement": ("", "alarm_mm", 1.0e6),
    "crack_meter": ("", "alarm_mm", 1.0e6),
}


@dataclass(frozen=True, slots=True)
class Limit:
    channel: str  # "" = the record's "value"
    high: float


def sensor_limits(registry: Registry) -> dict[str, Limit]:
    """One static high limit per sensor: a set point from its params (or a kind default), else +inf."""
    out: dict[str, Limit] = {}
    for s in registry:
        if s.kind == "elevator_status":
            rated = float(s.params.get("rated_speed_mps", 1.75))
            out[s.sensor_id] = Limit("speed_mps", rated * float(s.params.get("orange_ratio", 1.2)))
            continue
        channels = KINDS[s.kind].channels
        channel, key, default = _LIMITS.get(s.kind, ("", "", math.inf))
        high = float(s.params.get(key, default)) if key else default
        out[s.sensor_id] = Limit(channels[0] if channels else channel, high)
    return out


class PerEventChecker:
    """``check(raw)`` per record; ``state[sensor_id] = [last_ts_ms, last_value, above, readings]``."""

    def __init__(self, limits: dict[str, Limit]) -> None:
        self.limits = limits
        self.state: dict[str, list[float]] = {}
        self.crossings = 0
        self.rejected = 0

    def check(self, raw: bytes) -> None:
        try:
            rec = json.loads(raw)
            sid = rec["sensor_id"]
            limit = self.limits[sid]
            x = float(rec["values"][limit.channel]) if limit.channel else float(rec["value"])
            ts = int(rec["ts_ms"])
        except (ValueError, KeyError, TypeError):
            self.rejected += 1
            return
        above = x >= limit.high
        st = self.state.get(sid)
        if st is None:
            self.state[sid] = [ts, x, above, 1]
            if above:
                self.crossings += 1
            return
        if ts < st[0]:
            return  # older than the newest reading: ignored, like the engine
        if above != st[2]:
            self.crossings += 1
        st[0], st[1], st[2] = ts, x, above
        st[3] += 1
