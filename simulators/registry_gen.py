"""Synthetic sensor registries: every kind of every family, on realistic sites around Chongqing Liangjiang.

``make_registry(n_sensors, seed)`` is deterministic: the same arguments give the same registry, row for
row. Sensors are grouped on sites the way a district installs them (tank farms, gas mains with their
valve wells, utility tunnels, monitored slopes, underpasses and rain stations, buildings with lifts),
each site in one of the new area's districts, each site behind one field gateway (sites above
``MAX_SENSORS_PER_GATEWAY`` sensors are split over several). Per-sensor ``params`` carry the set points
of the detection rules with the defaults written out, plus the nominal values the signal models use,
so the registry alone says what is normal for each sensor.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from riskstream.kinds import KINDS
from riskstream.registry import Registry, Sensor
from riskstream.schemas import Family

#: share of each kind in a generated registry (sums to 1); roughly what a district installs
KIND_WEIGHTS: dict[str, float] = {
    "combustible_gas": 0.14,
    "toxic_gas": 0.04,
    "tank_level": 0.05,
    "tank_temperature": 0.04,
    "tank_pressure": 0.03,
    "well_methane": 0.10,
    "tunnel_methane": 0.04,
    "pipeline_pressure": 0.09,
    "pipeline_flow": 0.03,
    "gnss_displacement": 0.07,
    "crack_meter": 0.04,
    "groundwater_level": 0.02,
    "rain_gauge": 0.07,
    "water_depth": 0.04,
    "elevator_status": 0.13,
    "elevator_vibration": 0.07,
}

#: sensor id prefix per kind: ``<family code>-<kind code>-<number>``, e.g. ``hz-cg-0001``
ID_PREFIX: dict[str, str] = {
    "combustible_gas": "hz-cg",
    "toxic_gas": "hz-tg",
    "tank_level": "hz-tl",
    "tank_temperature": "hz-tt",
    "tank_pressure": "hz-tp",
    "well_methane": "gp-wm",
    "tunnel_methane": "gp-tm",
    "pipeline_pressure": "gp-pp",
    "pipeline_flow": "gp-pf",
    "gnss_displacement": "gh-gn",
    "crack_meter": "gh-cm",
    "groundwater_level": "gh-gw",
    "rain_gauge": "rf-rg",
    "water_depth": "rf-wd",
    "elevator_status": "el-es",
    "elevator_vibration": "el-ev",
}

#: Set points of the detection rules (the rules' documented defaults), written into every sensor's
#: params so nothing depends on a default that two sides could read differently. Key names are the
#: rules' per-sensor keys (detectors/domain).
GAS_DEFAULTS: dict[str, float] = {
    "first_alarm_lel": 25.0,
    "second_alarm_lel": 50.0,
    "prealarm_ratio": 0.5,
    "clear_margin_lel": 2.0,
}
RAIN_DEFAULTS: dict[str, float] = {
    "red_3h_mm": 100.0,
    "orange_3h_mm": 50.0,
    "yellow_6h_mm": 50.0,
    "blue_12h_mm": 50.0,
}
ELEVATOR_DEFAULTS: dict[str, float] = {
    "rated_speed_mps": 1.75,
    "sustain_readings": 2,
    "orange_ratio": 1.2,
    "red_ratio": 1.4,
    "clear_ratio": 1.1,
}
#: set points of the elevator status rules beyond overspeed (trapped passenger, stopped outside the door
#: zone, door open while moving, heartbeat loss; detectors/domain/elevator_*.py)
ELEVATOR_STATUS_DEFAULTS: dict[str, float] = {
    "trap_in_zone_s": 45.0,
    "trap_outside_zone_s": 30.0,
    "presence_debounce_s": 10.0,
    "rescue_orange_s": 1800.0,
    "rescue_red_s": 3600.0,
    "stopped_below_mps": 0.05,
    "stale_after_s": 180.0,
    "stopped_outside_s": 45.0,
    "door_confirm_s": 10.0,
    "door_confirm_readings": 3,
    "relevel_max_mps": 0.3,
    "heartbeat_s": 60.0,
    "heartbeat_loss_factor": 3.0,
}
#: set points of the ride-vibration rule (GB/T 10058 limits [M], levels [P])
ELEVATOR_VIBRATION_DEFAULTS: dict[str, float] = {
    "z_pkpk_limit": 0.30,
    "xy_pkpk_limit": 0.20,
    "z_a95_limit": 0.20,
    "xy_a95_limit": 0.15,
    "vib_orange_ratio": 2.0,
    "vib_clear_ratio": 0.9,
    "vib_sustain_readings": 2,
    "motion_floor_mps2": 0.04,
    "min_trip_readings": 2,
}
LANDSLIDE_DEFAULTS: dict[str, float] = {
    "v_bar_mm_per_h": 0.0,
    "fit_window_s": 600.0,
    "min_points": 10,
    "noise_floor_mm_per_h": 0.05,
    "margin_deg": 10.0,  # yellow at 45° + margin = 55°
    "orange_deg": 80.0,
    "red_deg": 85.0,
    "persist_readings": 3,
}
PIPELINE_DEFAULTS: dict[str, float] = {
    "nominal_kpa": 300.0,
    "rate_window_s": 60.0,
    "min_points": 5,
    "blue_pct_per_min": 0.5,
    "yellow_pct_per_min": 1.0,
    "orange_pct_per_min": 2.0,
    "red_pct_per_min": 5.0,
    "sustain_readings": 3,
}


def setpoints(params: dict[str, Any], defaults: dict[str, float]) -> dict[str, float]:
    """A sensor's set points: its params where given, the defaults elsewhere."""
    return {k: float(params.get(k, v)) for k, v in defaults.items()}


#: district areas of the Liangjiang New Area with an approximate centre (lat, lon)
AREAS: dict[str, tuple[float, float]] = {
    "liangjiang-north": (29.775, 106.640),
    "liangjiang-south": (29.625, 106.600),
    "lijia": (29.665, 106.545),
    "yuelai": (29.730, 106.535),
    "konggang": (29.720, 106.640),
    "longxing": (29.705, 106.770),
    "yufu": (29.650, 106.720),
    "shuitu": (29.785, 106.545),
}

#: where each family's sites usually are (industrial parks, hilly edges, dense built-up areas)
FAMILY_AREAS: dict[Family, tuple[str, ...]] = {
    Family.HAZCHEM: ("longxing", "yufu", "liangjiang-north", "konggang"),
    Family.GAS_PIPELINE: tuple(AREAS),
    Family.GEOHAZARD: ("shuitu", "yuelai", "liangjiang-north", "yufu", "longxing"),
    Family.RAINFALL: tuple(AREAS),
    Family.ELEVATOR: ("lijia", "yuelai", "konggang", "liangjiang-south", "liangjiang-north"),
}

MAX_SENSORS_PER_GATEWAY = 50
LAT_RANGE = (29.6, 29.8)
LON_RANGE = (106.5, 106.8)

TOXIC_GASES: tuple[tuple[str, float, float], ...] = (
    # gas, first alarm mg/m3, second alarm mg/m3 (GB/T 50493-2019 worked values, domain-thresholds.md §1)
    ("H2S", 10.0, 20.0),
    ("CO", 20.0, 40.0),
    ("NH3", 20.0, 40.0),
    ("Cl2", 1.0, 2.0),
    ("benzene", 6.0, 12.0),
)


@dataclass(frozen=True, slots=True)
class _SiteType:
    """A kind of installation: which sensor kinds it hosts and how many sensors one has."""

    key: str  # numbering series: sites of one series are numbered 1, 2, … (from a random start)
    name: Callable[[int, np.random.Generator], str]
    kinds: tuple[str, ...]
    size: tuple[int, int]
    family: Family


def _numbered(prefix: str, width: int = 2) -> Callable[[int, np.random.Generator], str]:
    return lambda n, _rng: f"{prefix}-{n:0{width}d}"


def _gas_main(n: int, rng: np.random.Generator) -> str:
    return f"dn{int(rng.choice([200, 300, 400, 500]))}-main-{n}"


SITE_TYPES: tuple[_SiteType, ...] = (
    _SiteType(
        "tankfarm",
        _numbered("tankfarm"),
        ("combustible_gas", "toxic_gas", "tank_level", "tank_temperature", "tank_pressure"),
        (6, 16),
        Family.HAZCHEM,
    ),
    _SiteType(
        "main",
        _gas_main,
        ("pipeline_pressure", "pipeline_flow", "well_methane"),
        (3, 10),
        Family.GAS_PIPELINE,
    ),
    _SiteType("utiltunnel", _numbered("utiltunnel", 1), ("tunnel_methane",), (2, 6), Family.GAS_PIPELINE),
    _SiteType(
        "slope",
        _numbered("slope"),
        ("gnss_displacement", "crack_meter", "groundwater_level"),
        (4, 10),
        Family.GEOHAZARD,
    ),
    _SiteType("underpass", _numbered("underpass", 1), ("water_depth", "rain_gauge"), (2, 3), Family.RAINFALL),
    _SiteType("rainstation", _numbered("rainstation"), ("rain_gauge",), (1, 1), Family.RAINFALL),
)


def kind_counts(n_sensors: int) -> dict[str, int]:
    """How many sensors of each kind a registry of ``n_sensors`` gets (largest remainder, ≥ 1 each)."""
    if n_sensors < len(KINDS):
        raise ValueError(f"need at least {len(KINDS)} sensors to cover every kind, got {n_sensors}")
    missing = set(KINDS) - set(KIND_WEIGHTS)
    if missing:  # a kind added to riskstream.kinds must get a weight here
        raise ValueError(f"no simulator weight for kind(s) {sorted(missing)}")
    rest = n_sensors - len(KINDS)
    exact = {k: w * rest for k, w in KIND_WEIGHTS.items()}
    counts = {k: 1 + math.floor(x) for k, x in exact.items()}
    left = n_sensors - sum(counts.values())
    for k in sorted(exact, key=lambda k: (exact[k] - math.floor(exact[k]), k), reverse=True)[:left]:
        counts[k] += 1
    return counts


def _params(kind: str, rng: np.random.Generator) -> dict[str, Any]:
    """Per-sensor params: rule set points made explicit, plus the nominal values of the signal model."""
    r = rng.random()
    if kind == "combustible_gas":
        p: dict[str, Any] = dict(GAS_DEFAULTS)
        if r < 0.15:
            p["first_alarm_lel"] = 20.0  # a plant that alarms below the GB/T 50493 upper bound
        elif r < 0.20:
            p["first_alarm_lel"], p["second_alarm_lel"] = 20.0, 40.0
        p["gas"] = str(rng.choice(["methane", "propane", "hydrogen", "ethylene"]))
        return p
    if kind == "toxic_gas":
        gas, first, second = TOXIC_GASES[int(rng.integers(len(TOXIC_GASES)))]
        return {"gas": gas, "first_alarm_mgm3": first, "second_alarm_mgm3": second}
    if kind == "tank_level":
        return {"high_pct": 85.0, "high_high_pct": 92.0, "low_pct": 10.0, "low_low_pct": 5.0}
    if kind == "tank_temperature":
        design = float(rng.choice([50.0, 60.0, 80.0]))
        return {"design_temp_c": design, "high_c": round(0.9 * design, 1)}
    if kind == "tank_pressure":
        relief = float(rng.choice([0.25, 0.6, 1.0, 1.6, 1.77]))
        return {"relief_set_mpa": relief, "high_mpa": round(0.9 * relief, 3)}
    if kind == "well_methane":
        return {"well_type": str(rng.choice(["gas_valve", "telecom", "power", "sewer"]))}
    if kind == "tunnel_methane":
        return {"alarm_lel": 20.0}
    if kind == "pipeline_pressure":
        return {
            **PIPELINE_DEFAULTS,
            "nominal_kpa": float(rng.choice([200.0, 250.0, 300.0, 350.0, 400.0])),
            "pressure_class": "medium-A",
        }
    if kind == "pipeline_flow":
        return {"nominal_nm3h": float(rng.choice([500.0, 1000.0, 2000.0, 3500.0, 5000.0]))}
    if kind == "gnss_displacement":
        # GNSS noise σ 0.02 mm; v̄ ≥ 1.5 mm/h keeps even the shortest (300 s) fit 6σ below 55°.
        v_bar = 0.0 if r < 0.15 else round(float(rng.uniform(1.5, 2.0)), 2)
        return {**LANDSLIDE_DEFAULTS, "v_bar_mm_per_h": v_bar, "noise_mm": 0.02}
    if kind == "crack_meter":
        v_bar = 0.0 if r < 0.15 else round(float(rng.uniform(0.5, 1.0)), 2)
        return {**LANDSLIDE_DEFAULTS, "v_bar_mm_per_h": v_bar, "noise_mm": 0.005}
    if kind == "groundwater_level":
        return {"mean_depth_m": round(float(rng.uniform(3.0, 15.0)), 2)}
    if kind == "rain_gauge":
        return {**RAIN_DEFAULTS, "bucket_mm": 0.1}
    if kind == "water_depth":
        return {"location": "underpass"}
    if kind == "elevator_status":
        return {
            **ELEVATOR_DEFAULTS,
            **ELEVATOR_STATUS_DEFAULTS,
            "rated_speed_mps": float(rng.choice([1.0, 1.0, 1.5, 1.75, 2.5])),
            "floors": int(rng.integers(6, 34)),
        }
    if kind == "elevator_vibration":
        return dict(ELEVATOR_VIBRATION_DEFAULTS)  # z/xy pk-pk limits first, as before
    raise ValueError(f"no simulator params for kind {kind!r}")


def _site_kinds_pools(counts: dict[str, int], rng: np.random.Generator) -> dict[int, list[str]]:
    """For every non-elevator site type, the shuffled list of the sensor kinds it will host."""
    pools: dict[int, list[str]] = {i: [] for i in range(len(SITE_TYPES))}
    left = dict(counts)
    # underpasses take all water-depth sensors and one rain gauge each (while gauges last)
    ui = next(i for i, st in enumerate(SITE_TYPES) if st.kinds[0] == "water_depth")
    ri = next(i for i, st in enumerate(SITE_TYPES) if st.kinds == ("rain_gauge",))
    for i, st in enumerate(SITE_TYPES):
        if i in (ui, ri):
            continue
        for k in st.kinds:
            pools[i] += [k] * left.pop(k, 0)
        rng.shuffle(pools[i])
    pools[ui] = ["water_depth"] * left.pop("water_depth", 0)
    pools[ri] = ["rain_gauge"] * left.pop("rain_gauge", 0)
    return pools


def make_registry(
    n_sensors: int = 200,
    seed: int = 7,
    gateways: int | None = None,
) -> Registry:
    """A deterministic registry of ``n_sensors`` sensors covering every kind in ``riskstream.kinds``.

    ``gateways=None`` gives one gateway per site (per ``MAX_SENSORS_PER_GATEWAY`` sensors on big sites);
    an integer groups the sites, in order, onto that many gateways ``gw-001`` … instead.
    """
    rng = np.random.default_rng([seed, 0x5EED])
    counts = kind_counts(n_sensors)
    sites: list[tuple[str, Family, list[str]]] = []  # (site name, family, kinds of its sensors)
    site_numbers: dict[str, int] = {}

    def next_number(key: str, start: int) -> int:
        site_numbers[key] = site_numbers.get(key, start - 1) + 1
        return site_numbers[key]

    pools = _site_kinds_pools(counts, rng)
    underpass_i = next(i for i, st in enumerate(SITE_TYPES) if st.kinds[0] == "water_depth")
    station_i = next(i for i, st in enumerate(SITE_TYPES) if st.kinds == ("rain_gauge",))
    for i, st in enumerate(SITE_TYPES):
        pool = pools[i]
        while pool:
            if i == underpass_i:
                take = min(len(pool), int(rng.integers(1, 3)))
                kinds = pool[:take]
                if pools[station_i]:
                    kinds = [*kinds, pools[station_i].pop()]
            else:
                take = min(len(pool), int(rng.integers(st.size[0], st.size[1] + 1)))
                kinds = pool[:take]
            del pool[:take]
            name = st.name(next_number(st.key, 1 + int(rng.integers(0, 3))), rng)
            sites.append((name, st.family, kinds))

    # buildings: every car has a status sensor; some cars also a vibration sensor
    n_status, n_vib = counts["elevator_status"], counts["elevator_vibration"]
    with_vib = set(rng.choice(n_status, size=min(n_vib, n_status), replace=False).tolist())
    extra_vib = max(0, n_vib - n_status)  # only when weights change: park them on the last building
    car = 0
    while car < n_status:
        cars = min(n_status - car, int(rng.integers(1, 5)))
        kinds: list[str] = []
        for c in range(car, car + cars):
            kinds.append("elevator_status")
            if c in with_vib:
                kinds.append("elevator_vibration")
        car += cars
        if car >= n_status:
            kinds += ["elevator_vibration"] * extra_vib
        sites.append((f"bldg-{next_number('bldg', 101 + int(rng.integers(0, 20)))}", Family.ELEVATOR, kinds))

    # gateways: split big sites, then optionally group onto a fixed number of gateways
    chunks: list[tuple[int, int, int]] = []  # (site index, first sensor, end)
    for si, (_, _, kinds) in enumerate(sites):
        for a in range(0, len(kinds), MAX_SENSORS_PER_GATEWAY):
            chunks.append((si, a, min(len(kinds), a + MAX_SENSORS_PER_GATEWAY)))
    n_gw = len(chunks) if gateways is None else gateways
    if n_gw < 1:
        raise ValueError("gateways must be ≥ 1")
    gw_of_chunk = [min(n_gw - 1, c * n_gw // len(chunks)) for c in range(len(chunks))]
    width = max(3, len(str(n_gw)))

    numbers = dict.fromkeys(KINDS, 0)
    sensors: list[Sensor] = []
    site_pos: dict[int, tuple[str, float, float]] = {}
    for ci, (si, a, b) in enumerate(chunks):
        name, family, kinds = sites[si]
        if si not in site_pos:
            area = str(rng.choice(FAMILY_AREAS[family]))
            clat, clon = AREAS[area]
            lat = float(np.clip(clat + rng.normal(0, 0.012), *LAT_RANGE))
            lon = float(np.clip(clon + rng.normal(0, 0.014), *LON_RANGE))
            site_pos[si] = (area, lat, lon)
        area, slat, slon = site_pos[si]
        gw = f"gw-{gw_of_chunk[ci] + 1:0{width}d}"
        last_status = ""
        for kind in kinds[a:b]:
            numbers[kind] += 1
            sid = f"{ID_PREFIX[kind]}-{numbers[kind]:04d}"
            params = _params(kind, rng)
            if kind == "elevator_status":
                last_status = sid
            elif kind == "elevator_vibration" and last_status:
                params["car_status_sensor"] = last_status
            spec = KINDS[kind]
            sensors.append(
                Sensor(
                    sensor_id=sid,
                    family=spec.family,
                    kind=kind,
                    site=name,
                    area=area,
                    lat=round(float(np.clip(slat + rng.normal(0, 0.0006), *LAT_RANGE)), 6),
                    lon=round(float(np.clip(slon + rng.normal(0, 0.0006), *LON_RANGE)), 6),
                    gateway_id=gw,
                    unit=spec.unit,
                    params=params,
                )
            )
    return Registry(sensors)
