"""Labelled scenario suite of the gas-pipeline family, scored by :mod:`simulators.suites.harness`.

Three kinds of runs, each with the sampling a real deployment uses:

* ``methane-<seed>`` (6 h): battery methane sensors in wells next to gas mains (one reading a minute) and
  gas-compartment detectors in utility tunnels (every 10 s). Hard negatives: sewer biogas swinging
  between 3 and 22 %LEL in sewer wells with no gas main within 30 m, a little biogas in a sewer well
  beside a main, clean air in valve, telecom and power wells and in the tunnels.
* ``pressure-day-<seed>`` (04:00-09:00 local, one reading every 5 s): district regulator stations and
  line pressure points through the morning demand ramp (the hard negative: daytime sags of up to 5.5 % of
  the set point, deepest at the 08:00 peak), transmitters from quiet (0.012 % noise) to noisy (0.1 %).
* ``pressure-nights-<seed>`` (4.6 days, one reading a minute): the night minimum-pressure check, with
  evening and morning demand sags by day and a slightly different night level every night.

Incidents are labelled by the physical event injected, with the level each rule's documented set points
give for it, never by running a detector; a physical event that several rules see (a deep, fast
pressure drop is a fixed-rate drop, many σ of the sensor's own rate noise and out of band) is labelled
for every one of them. The σ-rule labels come from the injected noise: the least-squares rate over 12
readings 5 s apart has σ = noise × 100.35 (%/min per unit of noise as a fraction of nominal), and each
incident's rate sits mid-band in those units.

* ``well_methane`` ([P] tiers 5/10/25/50 %LEL): a seep held at 7.5 %LEL (blue), 16 (yellow), a slow climb
  through 25 at 0.3 %LEL/min to 32 (orange: at the orange tier but not rising fast), a fast rise at
  3 %LEL/min through 25 (red), gas migrating into a telecom well up to 55 %LEL (red), a sewer well 10 m
  from a main (red, full tiers), and a biogas surge to 32 %LEL in a sewer well 150 m from any main
  (yellow: capped, not a gas leak);
* ``tunnel_methane`` (GB 50838 alarm 20, cut-off 25): 14 %LEL (blue), 22.5 (yellow), settling at 28
  (orange), a leak rising at 4 %LEL/min (red);
* ``pipeline_pressure_drop`` (0.5/1/2/5 %/min), ``pipeline_pressure_drop_sigma`` (6/12/20/30 σ) and
  ``pipeline_pressure_band`` (±7.5/10/20/30 %): fast drops at 0.75, 1.5, 3.5 and 8 %/min; slow leaks on
  quiet transmitters at 0.18-0.42 %/min (σ rule only); regulator faults creeping to −8.75 % or failing
  open to +15, +25 and +35 % (band only);
* ``pipeline_night_minimum`` (1/2/5/10 % below the learned night minimum): night leaks of 1.6, 3.5, 6 and
  13 % of nominal between 02:30 and 04:30 local on the fourth night.

``python -m simulators.suites.gas_pipeline`` prints the per-rule precision/recall table.
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
from simulators.registry_gen import PIPELINE_DEFAULTS
from simulators.scenario import DEFAULT_START_TS_MS
from simulators.suites.harness import Expected, LabelledRun, evaluate, table

WELL = "well_methane"
TUNNEL = "tunnel_methane"
DROP = "pipeline_pressure_drop"
SIGMA = "pipeline_pressure_drop_sigma"
BAND = "pipeline_pressure_band"
NIGHT = "pipeline_night_minimum"
RULES = (WELL, TUNNEL, DROP, SIGMA, BAND, NIGHT)

#: the levels the incident runs are labelled with: every rule at every level (tests/quality/test_suites.py)
EXPECTED_LEVELS: dict[str, frozenset[str]] = dict.fromkeys(
    RULES, frozenset({"blue", "yellow", "orange", "red"})
)

F64 = NDArray[np.float64]
VALUE_COLUMNS = 4
HOUR_S = 3600.0
#: local time (UTC+8) at DEFAULT_START_TS_MS (2026-07-01T00:00Z)
START_LOCAL_H = 8.0
#: %/min of least-squares rate noise per unit of reading noise (fraction of nominal), 12 readings 5 s apart
RATE_SIGMA_PER_NOISE = 100.0 * 60.0 / float(np.sqrt(3575.0))


def knots(t: F64, xs: tuple[float, ...], ys: tuple[float, ...]) -> F64:
    return np.interp(t, xs, ys)


def demand(local_h: F64) -> F64:
    """Gas demand in [0, 1]: flat at night (0.15), peaks at 08:00 and 19:00 local."""

    def bump(centre: float, width: float) -> F64:
        d = np.abs((local_h - centre + 12.0) % 24.0 - 12.0)
        return np.exp(-0.5 * (d / width) ** 2)

    return np.clip(0.15 + 0.7 * bump(8.0, 1.0) + 0.85 * bump(19.0, 1.5), 0.0, 1.0)


@dataclass
class _Run:
    name: str
    rng: np.random.Generator
    start_ms: int
    run_s: float
    sensors: list[Sensor] = field(default_factory=list)
    parts: list[tuple[F64, F64]] = field(default_factory=list)
    expected: list[Expected] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def sensor(self, kind: str, site: str, params: dict[str, Any], every_s: float) -> tuple[Sensor, F64]:
        prefix = {"well_methane": "wm", "tunnel_methane": "tm", "pipeline_pressure": "pp"}[kind]
        self.counts[kind] = self.counts.get(kind, 0) + 1
        sid = f"gp-{prefix}-{self.counts[kind]:04d}"
        spec = KINDS[kind]
        s = Sensor(sid, Family.GAS_PIPELINE, kind, site, "yuelai", 29.73, 106.54, "gw-gp", spec.unit, params)
        t = np.arange(float(self.rng.uniform(0, every_s)), self.run_s, every_s)
        return s, t

    def local_h(self, t: F64) -> F64:
        return ((self.start_ms - DEFAULT_START_TS_MS) / 3.6e6 + START_LOCAL_H + t / HOUR_S) % 24.0

    def add(self, s: Sensor, t: F64, values: F64, decimals: int) -> None:
        self.sensors.append(s)
        self.parts.append((t, np.round(values, decimals)))

    def label(self, s: Sensor, rule: str, level: str, t0: float, t1: float, what: str) -> None:
        self.expected.append(Expected(s.sensor_id, rule, level, self.ts(t0), self.ts(t1), what))

    def ts(self, t_s: float) -> int:
        return self.start_ms + round(t_s * 1000)

    def run(self) -> LabelledRun:
        rows = np.concatenate([np.full(t.size, i, dtype=np.int32) for i, (t, _) in enumerate(self.parts)])
        ts = np.concatenate([self.start_ms + np.round(t * 1000).astype(np.int64) for t, _ in self.parts])
        v = np.concatenate([v for _, v in self.parts])
        values = np.full((v.size, VALUE_COLUMNS), np.nan)
        values[:, 0] = v
        order = np.argsort(ts, kind="stable")
        return LabelledRun(
            self.name, Registry(self.sensors), rows[order], ts[order], values[order], self.expected
        )


# --- methane in wells and tunnels ----------------------------------------------------------------------

METHANE_RUN_S = 6 * HOUR_S
WELL_EVERY_S = 60.0
TUNNEL_EVERY_S = 10.0


def methane_noise(rng: np.random.Generator, x: F64) -> F64:
    """Catalytic/IR methane sensor noise: 0.2 %LEL plus 0.5 % of the reading."""
    return x + (0.2 + 0.005 * x) * rng.standard_normal(x.size)


def clean_air(rng: np.random.Generator, t: F64, top: float = 1.0) -> F64:
    return rng.uniform(0.0, top) + 0.2 * np.sin(2 * np.pi * t / rng.uniform(1800, 5400) + rng.uniform(0, 6.3))


def sewer_biogas(rng: np.random.Generator, t: F64, low: float, high: float) -> F64:
    """Biogas following the sewage flow: a slow swing between ``low`` and ``high`` %LEL, and surges."""
    mid, amp = (low + high) / 2, (high - low) / 2
    x = mid + amp * 0.6 * np.sin(2 * np.pi * t / rng.uniform(5400, 9000) + rng.uniform(0, 6.3))
    for t0 in rng.uniform(0, METHANE_RUN_S - 3600, 2):
        x = np.maximum(x, knots(t, (t0, t0 + 600, t0 + 1800, t0 + 2400), (0.0, high, high, 0.0)))
    return x


WellIncident = Callable[[_Run, np.random.Generator], None]


def well(
    well_type: str,
    main_m: float | None,
    shape: tuple[tuple[float, ...], tuple[float, ...]],
    level: str,
    what: str,
) -> WellIncident:
    """An incident in a well: ``shape`` = (times after onset in s, %LEL) added to its clean air."""

    def make(run: _Run, rng: np.random.Generator) -> None:
        params: dict[str, Any] = {"well_type": well_type}
        if main_m is not None:
            params["gas_main_within_m"] = main_m
        s, t = run.sensor(
            "well_methane", f"dn300-main-{run.counts.get('well_methane', 0) + 1}", params, WELL_EVERY_S
        )
        dur = shape[0][-1]
        t0 = float(rng.uniform(1200, METHANE_RUN_S - dur - 1200))
        extra = knots(t, tuple(t0 + x for x in shape[0]), shape[1])
        base = clean_air(rng, t) if well_type != "sewer" else sewer_biogas(rng, t, 0.5, 2.5)
        run.add(s, t, np.maximum(methane_noise(rng, np.maximum(base, extra)), 0.0), 1)
        run.label(s, WELL, level, t0, t0 + dur, what)

    return make


def tunnel(shape_fn: Callable[[F64], F64], dur: float, level: str, what: str) -> WellIncident:
    def make(run: _Run, rng: np.random.Generator) -> None:
        s, t = run.sensor("tunnel_methane", "utiltunnel-2", {"alarm_lel": 20.0}, TUNNEL_EVERY_S)
        t0 = float(rng.uniform(1200, METHANE_RUN_S - dur - 1200))
        x = np.maximum(clean_air(rng, t, 0.5), shape_fn(t - t0))
        run.add(s, t, np.maximum(methane_noise(rng, x), 0.0), 1)
        run.label(s, TUNNEL, level, t0, t0 + dur, what)

    return make


def _settle(dt: F64) -> F64:
    """A tunnel leak ventilation holds: 20 %LEL in 2 min, then settling towards 28 (τ 10 min), cleared."""
    rise = np.clip(dt / 120.0, 0.0, 1.0) * 20.0
    settle = 8.0 * (1 - np.exp(-np.clip(dt - 120.0, 0.0, None) / 600.0))
    on = (dt >= 0) & (dt < 2520.0)
    fade = np.clip((2820.0 - dt) / 300.0, 0.0, 1.0)
    return np.where(on, rise + settle, np.where(dt >= 2520.0, 28.0 * fade, 0.0))


WELL_INCIDENTS: tuple[WellIncident, ...] = (
    well(
        "gas_valve", 5.0, ((0, 600, 3000, 3600), (0, 7.5, 7.5, 0)), "blue", "seep held at 7.5 %LEL for 40 min"
    ),
    well(
        "gas_valve", 5.0, ((0, 600, 2400, 3000), (0, 16, 16, 0)), "yellow", "leak held at 16 %LEL for 30 min"
    ),
    well(
        "gas_valve",
        5.0,
        ((0, 600, 3000, 4800, 5400), (0, 20, 32, 32, 0)),
        "orange",
        "leak reaching 20 %LEL, then climbing 0.3 %LEL/min through 25 to 32 and held "
        "(never rising 1 %LEL/min at or above 25)",
    ),
    well(
        "gas_valve",
        5.0,
        ((0, 900, 2100, 2700), (0, 45, 45, 0)),
        "red",
        "leak rising 3 %LEL/min through 25 to 45 %LEL",
    ),
    well(
        "telecom",
        40.0,
        ((0, 600, 3225, 4425, 5025), (0, 20, 55, 55, 0)),
        "red",
        "gas from a main migrating along the duct, 20 then 55 %LEL",
    ),
    well(
        "telecom", 40.0, ((0, 600, 2400, 3000), (0, 14, 14, 0)), "yellow", "gas migrating in, held at 14 %LEL"
    ),
    well(
        "sewer",
        10.0,
        ((0, 800, 2000, 2600), (0, 40, 40, 0)),
        "red",
        "main 10 m away leaking into the sewer, 3 %LEL/min to 40",
    ),
    well(
        "sewer",
        150.0,
        ((0, 900, 2100, 2700), (0, 32, 32, 0)),
        "yellow",
        "biogas surge to 32 %LEL in a sewer well 150 m from any gas main (capped: not a gas leak)",
    ),
    well(
        "power",
        25.0,
        ((0, 600, 3000, 4800, 5400), (0, 20, 32, 32, 0)),
        "orange",
        "slow climb to 32 %LEL in a power well",
    ),
)

TUNNEL_INCIDENTS: tuple[WellIncident, ...] = (
    tunnel(
        lambda dt: knots(dt, (0, 120, 720, 1020), (0, 14, 14, 0)), 1020, "blue", "leak diluted to 14 %LEL"
    ),
    tunnel(
        lambda dt: knots(dt, (0, 120, 720, 1020), (0, 22.5, 22.5, 0)), 1020, "yellow", "leak at 22.5 %LEL"
    ),
    tunnel(_settle, 2820, "orange", "leak that ventilation holds, settling at 28 %LEL"),
    tunnel(
        lambda dt: knots(dt, (0, 600, 900, 1200), (0, 40, 40, 0)), 1200, "red", "leak rising 4 %LEL/min to 40"
    ),
)


def methane_run(seed: int, incidents: bool = True) -> LabelledRun:
    rng = np.random.default_rng([seed, 0x6A5])
    run = _Run(
        f"methane-{'incidents' if incidents else 'clean'}-{seed}", rng, DEFAULT_START_TS_MS, METHANE_RUN_S
    )
    if incidents:
        for make in (*WELL_INCIDENTS, *TUNNEL_INCIDENTS):
            make(run, rng)
    n = 2 if incidents else 5
    for i in range(n):
        for wt, main in (("gas_valve", 3.0), ("telecom", 60.0), ("power", 20.0)):
            s, t = run.sensor(
                "well_methane",
                f"dn400-main-{i + 1}",
                {"well_type": wt, "gas_main_within_m": main},
                WELL_EVERY_S,
            )
            run.add(s, t, np.maximum(methane_noise(rng, clean_air(rng, t, 2.0)), 0.0), 1)
        # hard negatives: sewer biogas far from any main, a little biogas beside a main
        s, t = run.sensor(
            "well_methane",
            f"sewer-{i + 1}",
            {"well_type": "sewer", "gas_main_within_m": float(rng.uniform(60, 400))},
            WELL_EVERY_S,
        )
        run.add(s, t, np.maximum(methane_noise(rng, sewer_biogas(rng, t, 3.0, 22.0)), 0.0), 1)
        s, t = run.sensor(
            "well_methane",
            f"sewer-main-{i + 1}",
            {"well_type": "sewer", "gas_main_within_m": 8.0},
            WELL_EVERY_S,
        )
        run.add(s, t, np.maximum(methane_noise(rng, sewer_biogas(rng, t, 0.5, 2.5)), 0.0), 1)
        s, t = run.sensor("tunnel_methane", f"utiltunnel-{i + 3}", {"alarm_lel": 20.0}, TUNNEL_EVERY_S)
        run.add(s, t, np.maximum(methane_noise(rng, clean_air(rng, t, 0.5)), 0.0), 1)
    return run.run()


# --- pressure: daytime drops, slow leaks, regulator faults -----------------------------------------------

DAY_RUN_S = 5 * HOUR_S
DAY_START_MS = DEFAULT_START_TS_MS - 4 * 3_600_000  # 04:00 local
DAY_EVERY_S = 5.0


@dataclass(frozen=True, slots=True)
class _Pressure:
    """One pressure point: set point, regulator offset, demand sag and transmitter noise (fractions)."""

    nominal: float
    offset: float
    sag: float
    noise: float

    def clean(self, run: _Run, t: F64) -> F64:
        return self.nominal * (1.0 + self.offset - self.sag * demand(run.local_h(t)))

    def reading(self, run: _Run, t: F64, change: F64, rng: np.random.Generator) -> F64:
        """Readings with ``change`` (fraction of nominal, + up) added to the clean pressure."""
        return self.clean(run, t) + self.nominal * (change + self.noise * rng.standard_normal(t.size))


def _pressure_sensor(run: _Run, p: _Pressure, site: str, every_s: float) -> tuple[Sensor, F64]:
    params: dict[str, Any] = {**PIPELINE_DEFAULTS, "nominal_kpa": p.nominal, "pressure_class": "medium-A"}
    return run.sensor("pipeline_pressure", site, params, every_s)


def band_level(dev_pct: float) -> str:
    """The band colour of a held deviation (in % of nominal), per the documented bands."""
    a = abs(dev_pct)
    for edge in (7.5, 10.0, 20.0, 30.0):
        if abs(a - edge) < 0.4:
            raise ValueError(f"deviation {dev_pct:.2f} % is too close to the band edge {edge} % to label")
    return (
        "red"
        if a >= 30
        else "orange"
        if a >= 20
        else "yellow"
        if a >= 10
        else "blue"
        if a >= 7.5
        else "normal"
    )


def sigma_level(z: float) -> str:
    """The σ colour of a steady drop at ``z`` σ; refused within 2.5 σ (or 15 %) of an edge, because the
    rate estimate of a steady leak wanders by about ±3 σ over an incident's readings."""
    for edge in (6.0, 12.0, 20.0, 30.0):
        if abs(z - edge) < max(2.5, 0.15 * edge):
            raise ValueError(f"{z:.1f} σ is too close to the σ edge {edge} to label")
    return (
        "red" if z >= 30 else "orange" if z >= 20 else "yellow" if z >= 12 else "blue" if z >= 6 else "normal"
    )


def drop_level(rate: float) -> str:
    return (
        "red"
        if rate >= 5
        else "orange"
        if rate >= 2
        else "yellow"
        if rate >= 1
        else "blue"
        if rate >= 0.5
        else "normal"
    )


PressureIncident = Callable[[_Run, np.random.Generator], None]


def pressure_drop(rate: float, minutes: float, sigma_rate: float) -> PressureIncident:
    """A leak: pressure falls at ``rate`` %/min for ``minutes``, holds 2 min, recovers at 2 %/min.

    The transmitter's noise gives a least-squares rate noise of ``sigma_rate`` %/min.
    """

    def make(run: _Run, rng: np.random.Generator) -> None:
        p = _Pressure(
            float(rng.choice([250.0, 300.0, 400.0])),
            float(rng.uniform(-0.005, 0.005)),
            0.01,
            sigma_rate / RATE_SIGMA_PER_NOISE,
        )
        s, t = _pressure_sensor(run, p, f"station-{run.counts.get('pipeline_pressure', 0) + 1}", DAY_EVERY_S)
        depth = rate / 100.0 * minutes
        recover = depth * 100.0 / 2.0 * 60.0
        t0 = float(rng.uniform(2400, DAY_RUN_S - minutes * 60 - 120 - recover - 600))
        t1, t2, t3 = t0 + minutes * 60, t0 + minutes * 60 + 120, t0 + minutes * 60 + 120 + recover
        change = -knots(t, (t0, t1, t2, t3), (0.0, depth, depth, 0.0))
        run.add(s, t, p.reading(run, t, change, rng), 3)
        what = (
            f"leak: pressure falls {rate:g} %/min for {minutes:g} min ({100 * depth:.1f} %), "
            "holds 2 min, recovers"
        )
        if rate >= 0.5:
            run.label(s, DROP, drop_level(rate), t0, t3, what)
        z_level = sigma_level(rate / sigma_rate) if rate >= 0.1 else "normal"
        if z_level != "normal":
            run.label(
                s,
                SIGMA,
                z_level,
                t0,
                t3,
                f"{what}; rate noise σ {sigma_rate:g} %/min: {rate / sigma_rate:.0f} σ",
            )
        held = p.clean(run, np.linspace(t1, t2, 25)) / p.nominal - 1.0 - depth
        levels = {band_level(100 * float(d)) for d in held}
        if levels != {"normal"}:
            (lv,) = levels
            run.label(s, BAND, lv, t0, t3, f"{what}; held {100 * float(held.mean()):.1f} % off the set point")

    return make


def regulator_fault(target_pct: float, pct_per_min: float) -> PressureIncident:
    """A regulator fault moving the pressure to ``target_pct`` % off its set point and staying there."""

    def make(run: _Run, rng: np.random.Generator) -> None:
        p = _Pressure(
            float(rng.choice([200.0, 300.0, 350.0])), float(rng.uniform(-0.004, 0.004)), 0.0, 0.0005
        )
        s, t = _pressure_sensor(
            run, p, f"regulator-{run.counts.get('pipeline_pressure', 0) + 1}", DAY_EVERY_S
        )
        move = (abs(target_pct) - 100 * p.offset * np.sign(target_pct)) / pct_per_min * 60.0
        t0 = float(rng.uniform(1800, DAY_RUN_S - move - 1800))
        change = knots(t, (t0, t0 + move), (0.0, target_pct / 100.0 - p.offset))
        run.add(s, t, p.reading(run, t, change, rng), 3)
        side = "failing open" if target_pct > 0 else "creeping shut"
        what = f"regulator {side}: pressure moves {pct_per_min:g} %/min to {target_pct:+g} % of the set point"
        run.label(s, BAND, band_level(target_pct), t0, DAY_RUN_S, what)

    return make


DAY_INCIDENTS: tuple[PressureIncident, ...] = (
    pressure_drop(0.75, 4, 0.05),  # fixed blue, 15 σ yellow
    pressure_drop(1.5, 3, 0.06),  # fixed yellow, 25 σ orange
    pressure_drop(3.5, 4, 0.06),  # fixed orange, red in σ, 14 % deep: band yellow
    pressure_drop(8.0, 3, 0.06),  # fixed red, 24 % deep: band orange
    pressure_drop(0.18, 12, 0.02),  # slow leaks on quiet transmitters (σ rule only): 9 σ blue
    pressure_drop(0.32, 10, 0.02),  # 16 σ yellow
    pressure_drop(0.4, 10, 0.016),  # 25 σ orange
    pressure_drop(0.42, 10, 0.012),  # 35 σ red
    regulator_fault(-8.75, 0.06),
    regulator_fault(15.0, 1.0),
    regulator_fault(25.0, 1.0),
    regulator_fault(35.0, 1.0),
)


def pressure_day_run(seed: int, incidents: bool = True) -> LabelledRun:
    rng = np.random.default_rng([seed, 0x9D7])
    run = _Run(f"pressure-day-{'incidents' if incidents else 'clean'}-{seed}", rng, DAY_START_MS, DAY_RUN_S)
    if incidents:
        for make in DAY_INCIDENTS:
            make(run, rng)
    for i in range(3 if incidents else 8):
        # hard negatives: the morning ramp sagging up to 6.5 % × demand (5.5 % at the 08:00 peak; the first
        # station the deepest), quiet and noisy transmitters
        noise = float(rng.choice([0.00012, 0.0002, 0.0005, 0.001]))
        p = _Pressure(
            float(rng.choice([200.0, 300.0, 400.0])),
            float(rng.uniform(-0.005, 0.005)),
            0.065 if i == 0 else float(rng.uniform(0.02, 0.065)),
            noise,
        )
        s, t = _pressure_sensor(run, p, f"district-{i + 1}", DAY_EVERY_S)
        run.add(s, t, p.reading(run, t, np.zeros(t.size), rng), 3)
    return run.run()


# --- pressure: nights -------------------------------------------------------------------------------

NIGHTS_RUN_S = 4.6 * 24 * HOUR_S
NIGHT_EVERY_S = 60.0


def night_leak(depth_pct: float, level: str) -> PressureIncident:
    """A leak between 02:30 and 04:30 local on the fourth night (three nights learned before it)."""

    def make(run: _Run, rng: np.random.Generator) -> None:
        p = _Pressure(
            float(rng.choice([250.0, 300.0, 400.0])), float(rng.uniform(-0.004, 0.004)), 0.02, 0.0005
        )
        s, t = _pressure_sensor(run, p, f"main-{run.counts.get('pipeline_pressure', 0) + 1}", NIGHT_EVERY_S)
        t0 = (24.0 - START_LOCAL_H + 2.5 + 3 * 24.0) * HOUR_S  # fourth night, 02:30 local
        t1 = t0 + 2 * HOUR_S
        d = depth_pct / 100.0
        change = -knots(t, (t0, t0 + 180, t1, t1 + 180), (0.0, d, d, 0.0)) + _night_wobble(run, t, rng)
        run.add(s, t, p.reading(run, t, change, rng), 3)
        what = f"night leak: pressure {depth_pct:g} % of nominal lower from 02:30 to 04:30 local"
        run.label(s, NIGHT, level, t0, t1 + 180, what)
        held = p.clean(run, np.linspace(t0 + 180, t1, 25)) / p.nominal - 1.0 - d
        levels = {band_level(100 * float(x)) for x in held}
        if levels != {"normal"}:
            (lv,) = levels
            run.label(
                s, BAND, lv, t0, t1 + 180, f"{what}; {100 * float(held.mean()):.1f} % off the set point"
            )

    return make


def _night_wobble(run: _Run, t: F64, rng: np.random.Generator) -> F64:
    """Every day's demand differs a little: a per-day offset of up to ±0.1 % of nominal, changing at noon."""
    local_abs_h = (run.start_ms - DEFAULT_START_TS_MS) / 3.6e6 + START_LOCAL_H + t / HOUR_S
    day = np.floor((local_abs_h - 12.0) / 24.0).astype(np.int64)
    offsets = rng.uniform(-0.001, 0.001, int(day.max() - day.min()) + 1)
    return offsets[day - day.min()]


NIGHT_INCIDENTS: tuple[PressureIncident, ...] = (
    night_leak(1.6, "blue"),
    night_leak(3.5, "yellow"),
    night_leak(6.0, "orange"),
    night_leak(13.0, "red"),
)


def pressure_nights_run(seed: int, incidents: bool = True) -> LabelledRun:
    rng = np.random.default_rng([seed, 0x1A7])
    run = _Run(
        f"pressure-nights-{'incidents' if incidents else 'clean'}-{seed}",
        rng,
        DEFAULT_START_TS_MS,
        NIGHTS_RUN_S,
    )
    if incidents:
        for make in NIGHT_INCIDENTS:
            make(run, rng)
    for i in range(2 if incidents else 6):
        p = _Pressure(
            float(rng.choice([200.0, 300.0, 400.0])),
            float(rng.uniform(-0.005, 0.005)),
            float(rng.uniform(0.01, 0.06)),
            0.0005,
        )
        s, t = _pressure_sensor(run, p, f"line-{i + 1}", NIGHT_EVERY_S)
        run.add(s, t, p.reading(run, t, _night_wobble(run, t, rng), rng), 3)
    return run.run()


# --- the suite -------------------------------------------------------------------------------------


def incident_runs(seeds: tuple[int, ...] = (1, 2, 3)) -> list[LabelledRun]:
    return [r for s in seeds for r in (methane_run(s), pressure_day_run(s), pressure_nights_run(s))]


def clean_runs(seeds: tuple[int, ...] = (11, 12)) -> list[LabelledRun]:
    return [
        r
        for s in seeds
        for r in (
            methane_run(s, incidents=False),
            pressure_day_run(s, incidents=False),
            pressure_nights_run(s, incidents=False),
        )
    ]


def suite() -> list[LabelledRun]:
    return incident_runs() + clean_runs()


def main() -> None:
    scores = evaluate(suite())
    print(table({k: v for k, v in scores.items() if k in RULES}))


if __name__ == "__main__":
    main()
