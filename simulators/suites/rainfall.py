"""Labelled scenario suite of the rainfall family: rainstorms, soaking multi-day rain, waterlogging.

Incidents are labelled by the rain or water injected, in the terms of each rule's criterion:

* **rainstorm** - a burst's total against the CMA windows: 110-150 mm within 1-2.5 h (≥ 100 mm in 3 h:
  red), 55-90 mm within 1-2.5 h (≥ 50 mm in 3 h: orange), 55-70 mm spread evenly over 5 h (≥ 50 mm in
  6 h, at most 60 % of it in any 3 h: yellow) and over 10 h (≥ 50 mm in 12 h, at most 60 % in 6 h: blue);
* **antecedent rainfall** - steady rain of r mm/d for d days on a gauge serving a landslide-prone slope
  gives R_e = r·(1 - Kᵈ)/(1 - K) with K = 0.85 at its end; r and d put R_e inside one level's band
  (at least 10 mm from its edges; bands 50 / 100 / 150 / 200 mm), while no 12 h holds 50 mm;
* **waterlogging** - a road hydrograph peaking inside a depth band (15 / 27 / 40 / 50 cm), and an
  underpass filling at 13-25 cm per 10 min to 20-30 cm (red by its rise).

Clean runs hold the hard negatives: light rain for 12 h, gauges not serving a slope under soaking
rain, a dry underpass with vehicle echoes (single-reading spikes), an underpass filling slowly to
12 cm, a road puddle of 10 cm. Gauges report their increments every 5 min (0.1 mm tipping bucket),
depth sensors every minute (σ 0.5 cm).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from simulators.suites.geohazard import DAY_S, HOUR_S, RunBuilder
from simulators.suites.harness import LabelledRun, evaluate, table

RAIN_REPORT_S = 300.0
DEPTH_REPORT_S = 60.0
BUCKET_MM = 0.1
DEPTH_SIGMA_CM = 0.5
ANTECEDENT_K = 0.85
ANTECEDENT_GRACE_MS = int(DAY_S * 1000)
RS, AR, WL = "rainstorm", "antecedent_rainfall", "waterlogging"
RULES = (RS, AR, WL)

#: the levels the incident runs are labelled with: every rule at every level (tests/quality/test_suites.py)
EXPECTED_LEVELS: dict[str, frozenset[str]] = dict.fromkeys(
    RULES, frozenset({"blue", "yellow", "orange", "red"})
)

Cumulative = Callable[[NDArray[np.float64]], NDArray[np.float64]]  # t in s -> mm since the start


def steady_rain(total_mm: float, t0_s: float, length_s: float) -> Cumulative:
    """``total_mm`` at a constant intensity over ``[t0, t0 + length]``."""
    return lambda t: total_mm * np.clip((t - t0_s) / length_s, 0.0, 1.0)


def daily_rain(mm_per_day: float, t0_s: float, days: float) -> Cumulative:
    return steady_rain(mm_per_day * days, t0_s, days * DAY_S)


def gauge_increments(cumulative: Cumulative, t_s: NDArray[np.float64]) -> NDArray[np.float64]:
    """Tipping-bucket increments: whole tips of ``BUCKET_MM`` since the previous report."""
    tips = np.floor(cumulative(t_s) / BUCKET_MM + 1e-9)
    return np.round(np.diff(np.r_[0.0, tips]) * BUCKET_MM, 1)


def hydrograph(peak_cm: float, t0_s: float, rise_s: float, hold_s: float, fall_s: float) -> Cumulative:
    """Water depth rising linearly to ``peak_cm``, holding, receding linearly."""
    knots = (t0_s, t0_s + rise_s, t0_s + rise_s + hold_s, t0_s + rise_s + hold_s + fall_s)
    return lambda t: np.interp(t, knots, (0.0, peak_cm, peak_cm, 0.0))


def depth_track(depth: Cumulative, t_s: NDArray[np.float64], rng: np.random.Generator) -> NDArray[np.float64]:
    """Ultrasonic depth: the water plus noise, never below 0, to 0.1 cm."""
    return np.round(np.maximum(depth(t_s) + DEPTH_SIGMA_CM * rng.standard_normal(t_s.size), 0.0), 1)


def times(hours: float, every_s: float, offset_s: float) -> NDArray[np.float64]:
    return offset_s + np.arange(0.0, hours * HOUR_S - offset_s, every_s)


def antecedent_after(mm_per_day: float, days: int, k: float = ANTECEDENT_K) -> float:
    """R_e at the end of ``days`` of steady daily rain (each trailing day holds ``mm_per_day``)."""
    return mm_per_day * (1.0 - k**days) / (1.0 - k)


def antecedent_level(r_e: float, set_points: Sequence[float] = (50.0, 100.0, 150.0, 200.0)) -> str:
    names = ("normal", "blue", "yellow", "orange", "red")
    return names[sum(r_e >= s for s in set_points)]


def rainstorms(seed: int) -> LabelledRun:
    """Four gauges under bursts that reach red, orange, yellow and blue CMA signals."""
    rng = np.random.default_rng([seed, 0x5A1F])
    b = RunBuilder(f"rainfall/rainstorms/seed-{seed}", "rainstation-04", "lijia", 900_000)
    hours = 14.0
    u = rng.uniform
    bursts = (  # (total mm, start h, length h, level): each total's windows sit inside one band
        (u(110.0, 150.0), u(1.0, 3.0), u(1.0, 2.5), "red"),  # ≥ 100 mm within 3 h
        (u(55.0, 90.0), u(1.0, 3.0), u(1.0, 2.5), "orange"),  # 50-100 mm within 3 h
        (u(55.0, 70.0), u(1.0, 2.0), 5.0, "yellow"),  # all within 6 h; any 3 h ≤ 0.6·total < 50
        (u(55.0, 70.0), u(0.5, 1.5), 10.0, "blue"),  # all within 12 h; any 6 h ≤ 0.6·total < 50
    )
    for i, (total, start_h, length_h, level) in enumerate(bursts):
        s = b.sensor(f"rf-rg-s{i + 1:02d}", "rain_gauge", {"bucket_mm": BUCKET_MM})
        t = times(hours, RAIN_REPORT_S, 2.0 + i)
        b.add(s, t, gauge_increments(steady_rain(total, start_h * HOUR_S, length_h * HOUR_S), t))
        what = f"{total:.0f} mm evenly over {length_h:.1f} h"
        b.expect(s.sensor_id, RS, level, start_h * HOUR_S, (start_h + length_h) * HOUR_S, what)
    return b.build()


def soaking_rain(seed: int) -> LabelledRun:
    """Gauges on landslide-prone slopes under days of steady rain: R_e climbs into each level's band."""
    rng = np.random.default_rng([seed, 0x50AC])
    b = RunBuilder(f"rainfall/soaking-rain/seed-{seed}", "slope-12-gauge", "shuitu", ANTECEDENT_GRACE_MS)
    days_total = 12.0
    # target R_e inside each band (at least 10 mm from its edges), reached after 4-10 days of rain
    for i, (lo, hi) in enumerate(((60.0, 90.0), (110.0, 140.0), (160.0, 190.0), (215.0, 250.0))):
        days = int(rng.integers(4 + i, 11))
        r_e = float(rng.uniform(lo, hi))
        rate = r_e / antecedent_after(1.0, days)
        s = b.sensor(f"rf-rg-a{i + 1:02d}", "rain_gauge", {"bucket_mm": BUCKET_MM, "landslide_warning": 1})
        t = times(days_total * 24, RAIN_REPORT_S, 4.0 + i)
        start = DAY_S * float(rng.uniform(0.3, 1.0))
        b.add(s, t, gauge_increments(daily_rain(rate, start, days), t))
        what = f"{rate:.1f} mm/d for {days} d: R_e {r_e:.0f} mm"
        b.expect(s.sensor_id, AR, antecedent_level(r_e), start, start + days * DAY_S, what)
    return b.build()


def waterlogging_events(seed: int) -> LabelledRun:
    """Road depth hydrographs peaking in each band, and an underpass filling fast."""
    rng = np.random.default_rng([seed, 0x3A7E])
    b = RunBuilder(f"rainfall/waterlogging/seed-{seed}", "underpass-3", "yuelai", 900_000)
    hours = 6.0
    bands = ((18.0, 24.0, "blue"), (30.0, 37.0, "yellow"), (43.0, 47.0, "orange"), (55.0, 70.0, "red"))
    for i, (lo, hi, level) in enumerate(bands):
        peak = float(rng.uniform(lo, hi))
        s = b.sensor(f"rf-wd-r{i + 1:02d}", "water_depth", {"location": "road"}, site=f"road-{i + 1}")
        t = times(hours, DEPTH_REPORT_S, 1.0 + i)
        t0, rise = float(rng.uniform(0.5, 2.0)) * HOUR_S, float(rng.uniform(0.5, 1.5)) * HOUR_S
        b.add(s, t, depth_track(hydrograph(peak, t0, rise, 0.5 * HOUR_S, HOUR_S), t, rng))
        b.expect(s.sensor_id, WL, level, t0, t0 + rise + 1.5 * HOUR_S, f"road water peaks at {peak:.1f} cm")
    # an underpass fills at 13-25 cm per 10 min to 20-30 cm, holds, is pumped out over 1 h
    s = b.sensor("rf-wd-u01", "water_depth", {"location": "underpass"})
    t = times(hours, DEPTH_REPORT_S, 9.0)
    t0 = float(rng.uniform(1.0, 3.0)) * HOUR_S
    peak, rate = float(rng.uniform(20.0, 30.0)), float(rng.uniform(13.0, 25.0))
    fill_s = peak / rate * 600.0
    b.add(s, t, depth_track(hydrograph(peak, t0, fill_s, HOUR_S, HOUR_S), t, rng))
    what = f"underpass fills {rate:.0f} cm per 10 min to {peak:.0f} cm"
    b.expect(s.sensor_id, WL, "red", t0, t0 + fill_s, what)
    return b.build()


def clean_rainfall(seed: int) -> LabelledRun:
    """Hard negatives: light rain for 12 h (on a slope gauge too), a gauge off the slopes under soaking
    rain, a dry underpass with vehicle echoes, an underpass filling slowly, a road puddle."""
    rng = np.random.default_rng([seed, 0xC1EB])
    b = RunBuilder(f"rainfall/clean/seed-{seed}", "rainstation-09", "konggang", ANTECEDENT_GRACE_MS)
    days = 12.0
    t = times(days * 24, RAIN_REPORT_S, 6.0)
    light = steady_rain(1.5 * 12, 10 * HOUR_S, 12 * HOUR_S)  # 1.5 mm/h for 12 h = 18 mm
    for sid, params in (
        ("rf-rg-c01", {"bucket_mm": BUCKET_MM}),
        ("rf-rg-c02", {"bucket_mm": BUCKET_MM, "landslide_warning": 1}),
    ):
        b.add(b.sensor(sid, "rain_gauge", params), t, gauge_increments(light, t))
    # a city rain station (no slope to warn for) under the red soaking rain: no landslide colour
    s = b.sensor("rf-rg-c03", "rain_gauge", {"bucket_mm": BUCKET_MM})
    b.add(s, t, gauge_increments(daily_rain(45.0, 0.5 * DAY_S, 10), t))
    hours = 8.0
    td = times(hours, DEPTH_REPORT_S, 3.0)
    dry = depth_track(lambda x: np.zeros_like(x), td, rng)
    echoes = rng.choice(np.arange(30, td.size - 30), size=4, replace=False)
    dry[echoes] = np.round(rng.uniform(25.0, 60.0, echoes.size), 1)  # a tall vehicle under the sensor
    b.add(b.sensor("rf-wd-c01", "water_depth", {"location": "underpass"}), td, dry)
    slow = hydrograph(12.0, 1.0 * HOUR_S, 2.0 * HOUR_S, HOUR_S, 2.0 * HOUR_S)  # 1 cm per 10 min
    b.add(b.sensor("rf-wd-c02", "water_depth", {"location": "underpass"}), td, depth_track(slow, td, rng))
    puddle = hydrograph(10.0, 2.0 * HOUR_S, 0.5 * HOUR_S, 2.0 * HOUR_S, HOUR_S)
    s = b.sensor("rf-wd-c03", "water_depth", {"location": "road"}, site="road-9")
    b.add(s, td, depth_track(puddle, td, rng))
    return b.build()


def incident_runs(seeds: tuple[int, ...] = (1, 2, 3)) -> list[LabelledRun]:
    """The incident runs of each seed (labelled; per seed the injected magnitudes and times vary)."""
    return [run for s in seeds for run in (rainstorms(s), soaking_rain(s), waterlogging_events(s))]


def clean_runs(seeds: tuple[int, ...] = (11, 12)) -> list[LabelledRun]:
    """The clean runs of each seed: hard negatives only, no incident."""
    return [clean_rainfall(s) for s in seeds]


def suite() -> list[LabelledRun]:
    return incident_runs() + clean_runs()


def main() -> None:
    scores = evaluate(suite())
    print(table({k: v for k, v in scores.items() if k in RULES}))


if __name__ == "__main__":
    main()
