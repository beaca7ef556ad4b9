"""Labelled scenario suite of the hazardous-chemicals family, scored by :mod:`simulators.suites.harness`.

Three tank farms of one district, each a major hazard source of its own class: farm A is level 1
(``r_value`` 130, R ≥ 100), farm B level 2 (``mhs_level`` 2), farm C level 3 (``r_value`` 25, not
weighted). Every farm has combustible and toxic gas detectors (readings every 10 s), tank levels (30 s),
tank temperatures and pressures (10 s). Clean signals follow the physics of a working farm, with the
hard negatives every operator knows: tanks filled and drained within their limits at pump rates, steam
heating and warmer product raising a temperature slowly, the vapour space compressed while a tank
fills, the sun's daily swing, small gas puffs from sampling points and flanges below the pre-alarm.

Incidents are labelled by the physical event injected, with the level the rules' documented set points
(and the farm's MHS weighting) give for it, never by running a detector:

* combustible gas (``gas_two_stage``, GB/T 50493 25/50 %LEL): a leak's concentration ramps to a plateau
  in the middle of a band (18 %LEL blue, 37 yellow) or ramps through the 2nd alarm to 65 (red); at farm A
  the same 37 %LEL leak is orange (weighted), at farm B too (level 2 weights yellow and above) while its
  18 %LEL leak stays blue;
* toxic gas (``toxic_gas_two_stage``, per gas 100/200 %OEL): 0.75 × AL (blue), 1.5 × AL (yellow), a ramp
  to 2.6 × AL (red), weighted at farms A and B like the combustible gas;
* tank level (``tank_level_limits``, H 85/HH 90/L 10/LL 5 %): filled to 87.5 % then stopped (yellow), topped
  up at 0.1 %/min to 91.5 % (HH not rising: orange), filled at 0.5 %/min to 93 % (overfill: red), drained
  to 7.5 % (blue) and to 2.5 % (yellow); at farm A the H case is orange;
* tank temperature (``tank_temperature_rise``): a held rise of 0.35 / 0.75 / 1.5 °C/min (blue, yellow,
  orange) and a runaway accelerating to 4 °C/min (red); at farm A the 0.35 °C/min rise is yellow;
* tank pressure (``tank_pressure_rise``): a held rise of 0.75 / 1.5 / 3 / 6 % of the relief set pressure
  per minute (blue … red), at farm B the 1.5 %/min rise is orange.

``python -m simulators.suites.hazchem`` prints the per-rule precision/recall table (benchmarks/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from riskstream.kinds import KINDS
from riskstream.registry import Registry, Sensor
from riskstream.schemas import Family
from simulators.scenario import DEFAULT_START_TS_MS
from simulators.suites.harness import Expected, LabelledRun, evaluate, table

GAS = "gas_two_stage"
TOXIC = "toxic_gas_two_stage"
LEVEL = "tank_level_limits"
TEMP = "tank_temperature_rise"
PRES = "tank_pressure_rise"
RULES = (GAS, TOXIC, LEVEL, TEMP, PRES)

#: the levels the incident runs are labelled with: every rule at every level (tests/quality/test_suites.py)
EXPECTED_LEVELS: dict[str, frozenset[str]] = dict.fromkeys(
    RULES, frozenset({"blue", "yellow", "orange", "red"})
)

RUN_S = 4 * 3600.0
EVERY_S = {
    "combustible_gas": 10.0,
    "toxic_gas": 10.0,
    "tank_level": 30.0,
    "tank_temperature": 10.0,
    "tank_pressure": 10.0,
}
VALUE_COLUMNS = 4
F64 = NDArray[np.float64]

#: the farms: (site, area, registry params of the MHS class, weighting as a function of the base colour)
FARMS: dict[str, dict[str, Any]] = {
    "A": {"site": "tankfarm-a", "area": "longxing", "mhs": {"r_value": 130.0}, "up_from": 1},
    "B": {"site": "tankfarm-b", "area": "yufu", "mhs": {"mhs_level": 2}, "up_from": 2},
    "C": {"site": "tankfarm-c", "area": "konggang", "mhs": {"r_value": 25.0}, "up_from": 5},
}
LEVELS = ("normal", "blue", "yellow", "orange", "red")
TOXIC_GASES: tuple[tuple[str, float], ...] = (
    ("H2S", 10.0),
    ("NH3", 20.0),
    ("Cl2", 1.0),
    ("CO", 20.0),
    ("benzene", 6.0),
)


def weighted(farm: str, base: str) -> str:
    """The colour a base colour becomes at a farm (the documented MHS weighting)."""
    k = LEVELS.index(base)
    return LEVELS[min(k + 1, 4)] if k >= FARMS[farm]["up_from"] else base


# --- signal shapes -----------------------------------------------------------------------------------


def knots(t: F64, xs: tuple[float, ...], ys: tuple[float, ...]) -> F64:
    """Piecewise-linear shape through ``(xs, ys)``, constant outside."""
    return np.interp(t, xs, ys)


def integrate_rate(t: F64, rate_per_min: F64) -> F64:
    """∫ rate dt (rate per minute) on the reading grid, 0 at the first reading (trapezoids)."""
    dt_min = np.diff(t, prepend=t[0]) / 60.0
    mid = 0.5 * (rate_per_min + np.r_[rate_per_min[0], rate_per_min[:-1]])
    return np.cumsum(mid * dt_min)


@dataclass
class _Farm:
    """Readings and labels of one run: sensors are added with their signal and incidents."""

    name: str
    rng: np.random.Generator
    sensors: list[Sensor] = field(default_factory=list)
    parts: list[tuple[F64, F64]] = field(default_factory=list)  # (t_s, values) per sensor
    expected: list[Expected] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def sensor(self, farm: str, kind: str, params: dict[str, Any]) -> tuple[Sensor, F64]:
        prefix = {
            "combustible_gas": "cg",
            "toxic_gas": "tg",
            "tank_level": "tl",
            "tank_temperature": "tt",
            "tank_pressure": "tp",
        }
        self.counts[kind] = self.counts.get(kind, 0) + 1
        f = FARMS[farm]
        sid = f"hz{farm.lower()}-{prefix[kind]}-{self.counts[kind]:03d}"
        spec = KINDS[kind]
        s = Sensor(
            sid,
            Family.HAZCHEM,
            kind,
            f["site"],
            f["area"],
            29.7,
            106.7,
            f"gw-{farm.lower()}",
            spec.unit,
            {**params, **f["mhs"]},
        )
        every = EVERY_S[kind]
        offset = float(self.rng.uniform(0, every))
        t = np.arange(offset, RUN_S, every)
        return s, t

    def add(self, s: Sensor, t: F64, values: F64) -> None:
        self.sensors.append(s)
        self.parts.append((t, values))

    def label(self, s: Sensor, rule: str, level: str, t0: float, t1: float, what: str) -> None:
        self.expected.append(Expected(s.sensor_id, rule, level, _ts(t0), _ts(t1), what))

    def run(self) -> LabelledRun:
        rows, ts, vals = [], [], []
        for i, (t, v) in enumerate(self.parts):
            rows.append(np.full(t.size, i, dtype=np.int32))
            ts.append(_ts_array(t))
            vals.append(v)
        r, tt, v = np.concatenate(rows), np.concatenate(ts), np.concatenate(vals)
        values = np.full((v.size, VALUE_COLUMNS), np.nan)
        values[:, 0] = v
        order = np.argsort(tt, kind="stable")
        return LabelledRun(
            self.name, Registry(self.sensors), r[order], tt[order], values[order], self.expected
        )


def _ts(t_s: float) -> int:
    return DEFAULT_START_TS_MS + round(t_s * 1000)


def _ts_array(t_s: F64) -> NDArray[np.int64]:
    return DEFAULT_START_TS_MS + np.round(t_s * 1000).astype(np.int64)


# --- clean signals (with their hard negatives) ----------------------------------------------------------


def gas_clean(rng: np.random.Generator, t: F64, scale: float = 1.0, puffs: bool = True) -> F64:
    """Clean air at a detector: 0.5-2 %LEL drift, noise 0.25, and (``puffs``) a few puffs below the
    pre-alarm. ``scale`` makes the same shape in mg/m³ for a toxic detector (0.02 × its 1st alarm).
    """
    base = rng.uniform(0.5, 2.0) + 0.3 * np.sin(2 * np.pi * t / rng.uniform(1800, 5400) + rng.uniform(0, 6.3))
    extra = np.zeros_like(t)
    for t0 in rng.uniform(0, RUN_S - 300, int(rng.integers(1, 4)) if puffs else 0):
        peak = rng.uniform(3.0, 8.0)  # a sampling point, a weeping flange: below the 12.5 %LEL pre-alarm
        extra += knots(t, (t0, t0 + 30, t0 + 90, t0 + 150), (0, peak, peak, 0))
    return np.maximum((base + extra + 0.25 * rng.standard_normal(t.size)) * scale, 0.0)


def level_clean(rng: np.random.Generator, t: F64) -> F64:
    """A tank's level: idle, or filled / drained at pump rates within L..H (hard negatives)."""
    choice = rng.integers(3)
    start = rng.uniform(40, 60)
    if choice == 0:  # filled normally up to 82 % at 0.4 %/min, then held
        t0 = rng.uniform(600, 3600)
        x = knots(t, (t0, t0 + (82 - start) / 0.4 * 60), (start, 82.0))
    elif choice == 1:  # drained to 14 % at 0.5 %/min
        t0 = rng.uniform(600, 3600)
        x = knots(t, (t0, t0 + (start - 14) / 0.5 * 60), (start, 14.0))
    else:  # idle, breathing a little with temperature
        x = start + 0.3 * np.sin(2 * np.pi * t / 14400)
    return x + 0.05 * rng.standard_normal(t.size)


def temperature_clean(rng: np.random.Generator, t: F64) -> F64:
    """Tank temperature: daily swing, sometimes steam heating at 0.15 °C/min or warmer product."""
    x = rng.uniform(18, 32) + 1.5 * np.sin(2 * np.pi * t / 86400 + rng.uniform(0, 6.3))
    u = rng.random()
    if u < 0.35:  # steam coil heating a viscous product for an hour
        t0 = rng.uniform(0, RUN_S - 4000)
        x += knots(t, (t0, t0 + 3600), (0.0, 9.0))
    elif u < 0.6:  # warmer product pumped in
        t0 = rng.uniform(0, RUN_S - 1000)
        x += knots(t, (t0, t0 + 900), (0.0, 3.0))
    return x + 0.05 * rng.standard_normal(t.size)


def pressure_clean(rng: np.random.Generator, t: F64, relief: float) -> F64:
    """Vessel pressure at 55-70 % of relief: sun swing, and the vapour space compressed while filling."""
    frac = rng.uniform(0.55, 0.7) + 0.01 * np.sin(2 * np.pi * t / 86400 + rng.uniform(0, 6.3))
    if rng.random() < 0.4:  # filling: +0.25 %/min of relief for 30 min, breathing valve holds it
        t0 = rng.uniform(0, RUN_S - 2400)
        frac = frac + knots(t, (t0, t0 + 1800), (0.0, 0.075))
    return relief * (frac + 0.002 * rng.standard_normal(t.size))


# --- incidents ---------------------------------------------------------------------------------------

Incident = Callable[[_Farm, str, np.random.Generator], None]


def gas_leak(peak_lel: float, base: str) -> Incident:
    """A combustible leak ramping (2 min) to ``peak_lel``, holding 8 min, dispersing (6 min)."""

    def make(farm: _Farm, fid: str, rng: np.random.Generator) -> None:
        s, t = farm.sensor(
            fid, "combustible_gas", {"first_alarm_lel": 25.0, "second_alarm_lel": 50.0, "gas": "propane"}
        )
        t0 = float(rng.uniform(1800, RUN_S - 2400))
        shape = knots(t, (t0, t0 + 120, t0 + 600, t0 + 960), (0, peak_lel, peak_lel, 0))
        x = np.maximum(gas_clean(rng, t, puffs=False) + shape * (1 + 0.01 * rng.standard_normal(t.size)), 0)
        farm.add(s, t, x)
        what = f"leak: concentration ramps to {peak_lel:g} %LEL in 2 min, holds 8 min, disperses"
        farm.label(s, GAS, weighted(fid, base), t0, t0 + 960, what)

    return make


def toxic_leak(multiple: float, base: str) -> Incident:
    """A toxic release at ``multiple`` × the gas's 1st alarm (its OEL)."""

    def make(farm: _Farm, fid: str, rng: np.random.Generator) -> None:
        gas, al = TOXIC_GASES[farm.counts.get("toxic_gas", 0) % len(TOXIC_GASES)]
        s, t = farm.sensor(fid, "toxic_gas", {"gas": gas})
        t0 = float(rng.uniform(1800, RUN_S - 2400))
        peak = multiple * al
        shape = knots(t, (t0, t0 + 120, t0 + 600, t0 + 960), (0, peak, peak, 0))
        clean = gas_clean(rng, t, scale=0.02 * al, puffs=False)  # 1-4.6 % of the OEL
        x = np.maximum(clean + shape * (1 + 0.01 * rng.standard_normal(t.size)), 0)
        farm.add(s, t, x)
        farm.label(
            s,
            TOXIC,
            weighted(fid, base),
            t0,
            t0 + 960,
            f"{gas} release ramping to {peak:g} mg/m³ ({multiple * 100:g} %OEL)",
        )

    return make


def tank_level(target: float, rate_per_min: float, base: str) -> Incident:
    """The level moves at ``rate_per_min`` (signed) from its start to ``target`` and stays there."""

    def make(farm: _Farm, fid: str, rng: np.random.Generator) -> None:
        s, t = farm.sensor(
            fid, "tank_level", {"high_pct": 85.0, "high_high_pct": 90.0, "low_pct": 10.0, "low_low_pct": 5.0}
        )
        start = 84.0 if abs(rate_per_min) < 0.2 and target > 50 else (75.0 if target > 50 else 30.0)
        dur = abs(target - start) / abs(rate_per_min) * 60.0
        t0 = float(rng.uniform(900, RUN_S - dur - 900))
        x = knots(t, (t0, t0 + dur), (start, target)) + 0.05 * rng.standard_normal(t.size)
        farm.add(s, t, x)
        verb = "filled" if target > start else "drained"
        farm.label(
            s,
            LEVEL,
            weighted(fid, base),
            t0,
            t0 + dur,
            f"tank {verb} at {abs(rate_per_min):g} %/min from {start:g} % to {target:g} %, then stopped",
        )

    return make


def temperature_rise(rates: tuple[float, ...], holds_s: tuple[float, ...], base: str) -> Incident:
    """Temperature rising at ``rates[i]`` °C/min at the start of segment i (linear in between, ``holds_s``
    long each, ``rates`` one longer), then cooled at 1 °C/min for 10 min."""

    def make(farm: _Farm, fid: str, rng: np.random.Generator) -> None:
        s, t = farm.sensor(fid, "tank_temperature", {"design_temp_c": 80.0, "high_c": 72.0})
        total = sum(holds_s)
        t0 = float(rng.uniform(1800, RUN_S - total - 1800))
        xs = [t0]
        for h in holds_s:
            xs.append(xs[-1] + h)
        end = xs[-1]
        rate = knots(t, (t0 - 1.0, *xs, end + 60.0, end + 600.0, end + 601.0), (0.0, *rates, -1.0, -1.0, 0.0))
        swing = 1.5 * np.sin(2 * np.pi * t / 86400 + rng.uniform(0, 6.3))
        x = rng.uniform(20, 28) + swing + integrate_rate(t, rate) + 0.05 * rng.standard_normal(t.size)
        farm.add(s, t, x)
        steps = " → ".join(f"{r:g}" for r in rates)
        what = f"temperature rises at {steps} °C/min over {total / 60:g} min, then is cooled"
        farm.label(s, TEMP, weighted(fid, base), t0, end + 601.0, what)

    return make


def pressure_rise(pct_per_min: float, hold_s: float, base: str) -> Incident:
    """Vessel pressure rising at ``pct_per_min`` of relief for ``hold_s``, then vented back down."""

    def make(farm: _Farm, fid: str, rng: np.random.Generator) -> None:
        relief = float(rng.choice([0.6, 1.0, 1.6]))
        s, t = farm.sensor(
            fid, "tank_pressure", {"relief_set_mpa": relief, "high_mpa": round(0.9 * relief, 3)}
        )
        t0 = float(rng.uniform(1800, RUN_S - hold_s - 2400))
        start = 0.55
        rise = pct_per_min / 100.0 * hold_s / 60.0
        vent_s = rise / 0.02 * 60.0  # vented at 2 %/min
        frac = knots(
            t,
            (t0, t0 + hold_s, t0 + hold_s + 60, t0 + hold_s + 60 + vent_s),
            (start, start + rise, start + rise, start),
        )
        x = relief * (frac + 0.002 * rng.standard_normal(t.size))
        farm.add(s, t, x)
        what = (
            f"pressure rises {pct_per_min:g} % of relief {relief:g} MPa per min for {hold_s / 60:g} min "
            f"(to {100 * (start + rise):.0f} %), then vented"
        )
        farm.label(s, PRES, weighted(fid, base), t0, t0 + hold_s + 60 + vent_s, what)

    return make


#: (farm, incident) of an incident run
INCIDENTS: tuple[tuple[str, Incident], ...] = (
    ("C", gas_leak(18.0, "blue")),
    ("C", gas_leak(37.0, "yellow")),
    ("C", gas_leak(65.0, "red")),
    ("A", gas_leak(37.0, "yellow")),  # weighted orange
    ("B", gas_leak(37.0, "yellow")),  # weighted orange
    ("B", gas_leak(18.0, "blue")),  # level 2 keeps blue
    ("A", gas_leak(65.0, "red")),
    ("C", toxic_leak(0.75, "blue")),
    ("C", toxic_leak(1.5, "yellow")),
    ("C", toxic_leak(2.6, "red")),
    ("A", toxic_leak(1.5, "yellow")),  # weighted orange
    ("A", toxic_leak(0.75, "blue")),  # weighted yellow
    ("B", toxic_leak(1.5, "yellow")),  # weighted orange
    ("B", toxic_leak(0.75, "blue")),
    ("C", tank_level(87.5, 0.4, "yellow")),
    ("C", tank_level(91.5, 0.1, "orange")),
    ("C", tank_level(93.0, 0.5, "red")),
    ("C", tank_level(7.5, -0.5, "blue")),
    ("C", tank_level(2.5, -0.5, "yellow")),
    ("A", tank_level(87.5, 0.4, "yellow")),  # weighted orange
    ("B", tank_level(91.5, 0.1, "orange")),  # weighted red
    ("C", temperature_rise((0.35, 0.35), (600.0,), "blue")),
    ("C", temperature_rise((0.75, 0.75), (480.0,), "yellow")),
    ("C", temperature_rise((1.5, 1.5), (420.0,), "orange")),
    ("C", temperature_rise((0.2, 1.0, 4.0, 4.0), (600.0, 300.0, 360.0), "red")),  # runaway
    ("A", temperature_rise((0.35, 0.35), (600.0,), "blue")),  # weighted yellow
    ("C", pressure_rise(0.75, 600.0, "blue")),
    ("C", pressure_rise(1.5, 480.0, "yellow")),
    ("C", pressure_rise(3.0, 420.0, "orange")),
    ("C", pressure_rise(6.0, 360.0, "red")),
    ("B", pressure_rise(1.5, 480.0, "yellow")),  # weighted orange
)


def _clean_sensors(farm: _Farm, fid: str, rng: np.random.Generator, per_kind: int) -> None:
    for _ in range(per_kind):
        s, t = farm.sensor(
            fid, "combustible_gas", {"first_alarm_lel": 25.0, "second_alarm_lel": 50.0, "gas": "methane"}
        )
        farm.add(s, t, gas_clean(rng, t))
        gas, al = TOXIC_GASES[int(rng.integers(len(TOXIC_GASES)))]
        s, t = farm.sensor(fid, "toxic_gas", {"gas": gas})
        farm.add(s, t, gas_clean(rng, t, scale=0.02 * al))
        s, t = farm.sensor(
            fid, "tank_level", {"high_pct": 85.0, "high_high_pct": 90.0, "low_pct": 10.0, "low_low_pct": 5.0}
        )
        farm.add(s, t, level_clean(rng, t))
        s, t = farm.sensor(fid, "tank_temperature", {"design_temp_c": 60.0, "high_c": 54.0})
        farm.add(s, t, temperature_clean(rng, t))
        relief = float(rng.choice([0.25, 0.6, 1.0, 1.6]))
        s, t = farm.sensor(
            fid, "tank_pressure", {"relief_set_mpa": relief, "high_mpa": round(0.9 * relief, 3)}
        )
        farm.add(s, t, pressure_clean(rng, t, relief))


def incident_run(seed: int) -> LabelledRun:
    rng = np.random.default_rng([seed, 0x4A2C])
    farm = _Farm(f"hazchem-incidents-{seed}", rng)
    for fid, make in INCIDENTS:
        make(farm, fid, rng)
    for fid in FARMS:
        _clean_sensors(farm, fid, rng, per_kind=1)
    return farm.run()


def clean_run(seed: int) -> LabelledRun:
    rng = np.random.default_rng([seed, 0x4A2D])
    farm = _Farm(f"hazchem-clean-{seed}", rng)
    for fid in FARMS:
        _clean_sensors(farm, fid, rng, per_kind=4)
    return farm.run()


def incident_runs(seeds: tuple[int, ...] = (1, 2, 3)) -> list[LabelledRun]:
    return [incident_run(s) for s in seeds]


def clean_runs(seeds: tuple[int, ...] = (11, 12)) -> list[LabelledRun]:
    return [clean_run(s) for s in seeds]


def suite() -> list[LabelledRun]:
    return incident_runs() + clean_runs()


def main() -> None:
    scores = evaluate(suite())
    print(table({k: v for k, v in scores.items() if k in RULES}))


if __name__ == "__main__":
    main()
