"""Per-kind defaults of the QARTOD data-quality checks (domain-thresholds.md §6), overridable per sensor.

Every number is a default for the sensor's ``sp_*`` column; a registry row overrides it with the param
of the same name (``span_min``, ``span_max``, ``spike_suspect``, ``spike_fail``, ``roc_limit_per_s``,
``flat_tolerance``, ``flat_exempt``, ``flat_suspect_n``, ``flat_fail_n``, ``flat_suspect_s``,
``flat_fail_s``). NaN turns a limit off.

The defaults are chosen so that a healthy sensor never trips them and a real hazard is never mistaken
for a sensor fault: gross-range spans are the sensor's physical/datasheet span (what it cannot report
when working), rate-of-change limits are rates no real process of that kind reaches between two
readings, and the spike check is off by default (its thresholds are site specific per QARTOD, and a
sudden gas release looks exactly like a spike to a streaming test without look-ahead). The flat line
counts exact repeats (tolerance 0: a stuck converter repeats its last word) and needs both a number of
readings (QARTOD's example 4 / 6) and a duration (1 h / 6 h, the gas-sensor example), so fast and slow
samplers are judged alike. Legitimately constant signals are exempt through ``flat_exempt`` (0 mm of
rain, 0 %LEL in clean air, 0 cm of standing water, an idle elevator at 0 m/s).
"""

from __future__ import annotations

from dataclasses import dataclass

NAN = float("nan")
INF = float("inf")


@dataclass(frozen=True, slots=True)
class KindQuality:
    """QARTOD defaults of one sensor kind (units of the kind, see riskstream.kinds)."""

    span_min: float = NAN
    span_max: float = NAN
    spike_suspect: float = NAN
    spike_fail: float = NAN
    roc_limit_per_s: float = NAN
    flat_tolerance: float = 0.0
    flat_exempt: float = NAN
    flat_suspect_n: float = 4.0
    flat_fail_n: float = 6.0
    flat_suspect_s: float = 3600.0
    flat_fail_s: float = 21600.0


#: parameter names, in state-column order (``sp_<name>``)
PARAM_NAMES: tuple[str, ...] = tuple(KindQuality.__dataclass_fields__)

_OFF = KindQuality(flat_tolerance=NAN)

#: defaults per kind; a kind missing here gets every check off
KIND_QUALITY: dict[str, KindQuality] = {
    # catalytic / IR detectors span 0-100 %LEL; clean air reads a constant 0
    "combustible_gas": KindQuality(span_min=0.0, span_max=100.0, roc_limit_per_s=20.0, flat_exempt=0.0),
    "well_methane": KindQuality(span_min=0.0, span_max=100.0, roc_limit_per_s=20.0, flat_exempt=0.0),
    "tunnel_methane": KindQuality(span_min=0.0, span_max=100.0, roc_limit_per_s=20.0, flat_exempt=0.0),
    # the span of a toxic cell depends on the gas: only negatives are impossible (span_max per sensor)
    "toxic_gas": KindQuality(span_min=0.0, flat_exempt=0.0),
    # percent of the maximum safe fill: the transmitter spans the whole tank (> 100 %); empty reads 0
    "tank_level": KindQuality(span_min=0.0, span_max=125.0, roc_limit_per_s=5.0, flat_exempt=0.0),
    "tank_temperature": KindQuality(span_min=-60.0, span_max=600.0, roc_limit_per_s=50.0),
    "tank_pressure": KindQuality(span_min=-0.1, span_max=40.0, roc_limit_per_s=5.0),
    "pipeline_pressure": KindQuality(span_min=-101.325, span_max=10_000.0, roc_limit_per_s=1000.0),
    "pipeline_flow": KindQuality(flat_exempt=0.0),
    # cumulative displacement: ±10 m is beyond any GNSS monitoring point that still stands
    "gnss_displacement": KindQuality(span_min=-10_000.0, span_max=10_000.0),
    "crack_meter": KindQuality(span_min=-500.0, span_max=2000.0),
    "groundwater_level": KindQuality(span_min=-50.0, span_max=500.0),
    # rain since the previous reading: never negative; 0 mm is the usual dry reading
    "rain_gauge": KindQuality(span_min=0.0, span_max=500.0, flat_exempt=0.0),
    "water_depth": KindQuality(span_min=0.0, span_max=1000.0, roc_limit_per_s=10.0, flat_exempt=0.0),
    # channel 0 = car speed (m/s, signed); an idle car reads 0
    "elevator_status": KindQuality(span_min=-20.0, span_max=20.0, flat_exempt=0.0),
    # channel 0 = z peak-to-peak (m/s2); an idle car sits at the noise floor, so no flat line
    "elevator_vibration": KindQuality(span_min=0.0, span_max=50.0, flat_tolerance=NAN),
}


def defaults_of(kind: str) -> KindQuality:
    return KIND_QUALITY.get(kind, _OFF)
