"""Labelled scenario suite of the geohazard family: landslide points and crack meters over days.

Each run is a set of sensors on a monitored slope, every sensor with its own injected displacement
history (:func:`geohazard_runs`). Incidents are labelled by the physical event injected, in the terms
of each rule's standard, never by running a detector:

* **tangent angle** - the stage the point is driven into: a velocity plateau at k·v̄ whose angle
  atan(k) lies inside a level's band (yellow 67.5°, orange 82.5°), creep resuming at v̄ after a still
  period (45°, blue with ``creep_blue``), or tertiary creep to failure following Fukuzono's
  1/v ∝ (t_f - t) (red: the angle passes 85° well before failure);
* **acceleration** - the injected acceleration of the velocity ramp (Δv/Δt against 0.9 / 4.5 / 9 /
  18 mm/d²; the hyperbolic failure stage exceeds any of them);
* **crack jump** - the size of an injected sudden opening against 0.5 / 1 / 3 / 10 mm. A jump also
  moves the smoothed tangent angle: a jump of D mm on a crack creeping at v̄ lifts the least-squares
  rate over a window W by at most 1.5·D/W, so a jump whose peak angle atan(1 + 1.5·D/(v̄·W)) reaches
  85° is labelled red on the tangent-angle rule as well.

Clean runs hold the hard negatives: a stable slope with GNSS noise (v̄ ≈ 0: the rule must stay
inactive), a slope creeping steadily, rain-induced step-like displacement (a few mm in hours, then
creep again), crack meters with noise, small jumps and a sensor reset to zero.

Sampling: GNSS solutions every 10 min (σ 1 mm) or every hour (σ 1.5 mm); crack meters every 10 min
(σ 0.01 mm). The smoothing windows and persistence suit that sampling and are set per sensor in the
registry params (docs/detectors/geohazard.md), as a deployment would.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from riskstream.kinds import KINDS
from riskstream.registry import Registry, Sensor
from simulators.suites.harness import Expected, LabelledRun, evaluate, table

#: 2026-07-01T00:00:00Z, the start of every run
START_TS_MS = 1_782_864_000_000
DAY_S = 86_400.0
HOUR_S = 3_600.0
#: grace after an incident's end: smoothing windows (1-3 d) and day-scale persistence
GEOHAZARD_GRACE_MS = int(2 * DAY_S * 1000)

Profile = Callable[[NDArray[np.float64]], NDArray[np.float64]]  # t in days -> displacement in mm

#: 10-min GNSS: 1-day tangent window, 2-day acceleration windows; early levels must hold 18 h
#: (tangent) and 2 d (acceleration), the critical acceleration levels 18 h: longer than a rain step lasts
GNSS_10MIN: dict[str, Any] = {
    "fit_window_s": DAY_S,
    "min_points": 48,
    "persist_s": 18 * HOUR_S,
    "accel_window_s": 2 * DAY_S,
    "accel_min_points": 96,
    "accel_persist_s": 2 * DAY_S,
    "accel_persist_critical_s": 18 * HOUR_S,
    "noise_mm": 1.0,
}
#: hourly GNSS: the same windows with fewer readings
GNSS_HOURLY: dict[str, Any] = {**GNSS_10MIN, "min_points": 16, "accel_min_points": 32}
#: crack meters every 10 min: precise, so a lower v̄ noise floor than GNSS; cracks open in jumps (the
#: crack_jump rule's business), which the smoothed acceleration sees for up to a day at its shorter
#: scales, so its critical levels must hold 30 h there
CRACK_10MIN: dict[str, Any] = {
    **GNSS_10MIN,
    "noise_floor_mm_per_h": 0.005,
    "accel_persist_critical_s": 30 * HOUR_S,
    "noise_mm": 0.01,
}


# --- displacement profiles (t in days, mm) ---------------------------------------------------------


def creep(v_mm_per_d: float) -> Profile:
    return lambda t: v_mm_per_d * t


def velocity_knots(knots_d: Sequence[float], v_mm_per_d: Sequence[float]) -> Profile:
    """Displacement of a velocity piecewise linear between knots, constant outside (exact integral)."""
    kt = np.asarray(knots_d, dtype=float)
    kv = np.asarray(v_mm_per_d, dtype=float)
    seg = np.r_[0.0, np.cumsum(0.5 * (kv[1:] + kv[:-1]) * np.diff(kt))]

    def f(t: NDArray[np.float64]) -> NDArray[np.float64]:
        before = kv[0] * (t - kt[0])
        after = seg[-1] + kv[-1] * (t - kt[-1])
        i = np.clip(np.searchsorted(kt, t, side="right") - 1, 0, kt.size - 2)
        dt = t - kt[i]
        slope = (kv[i + 1] - kv[i]) / (kt[i + 1] - kt[i])
        inside = seg[i] + kv[i] * dt + 0.5 * slope * dt * dt
        return np.where(t < kt[0], before, np.where(t > kt[-1], after, inside))

    return f


def tertiary_creep(v_mm_per_d: float, t_a_d: float, t_f_d: float) -> Profile:
    """Constant velocity until ``t_a``, then v = v̄·(t_f - t_a)/(t_f - t): 1/v falls linearly to 0 at t_f."""
    tau = t_f_d - t_a_d

    def f(t: NDArray[np.float64]) -> NDArray[np.float64]:
        late = np.minimum(t, t_f_d - 1e-9)
        accel = v_mm_per_d * t_a_d + v_mm_per_d * tau * np.log(tau / (t_f_d - np.maximum(late, t_a_d)))
        return np.where(t <= t_a_d, v_mm_per_d * t, accel)

    return f


def smooth_step(height_mm: float, t0_d: float, length_d: float) -> Profile:
    """A step of ``height_mm`` spread smoothly over ``length_d`` (peak rate 1.5·height/length)."""

    def f(t: NDArray[np.float64]) -> NDArray[np.float64]:
        u = np.clip((t - t0_d) / length_d, 0.0, 1.0)
        return height_mm * u * u * (3.0 - 2.0 * u)

    return f


def jump(height_mm: float, t0_d: float) -> Profile:
    return lambda t: np.where(t >= t0_d, height_mm, 0.0)


def reset_to_zero(at_d: float, base: Profile, offset_mm: float) -> Callable[[NDArray[np.float64]], NDArray]:
    """The meter is re-zeroed at ``at_d``: from then on it reads the movement since, not the total."""

    def f(t: NDArray[np.float64]) -> NDArray[np.float64]:
        total = offset_mm + base(t)
        since = base(t) - base(np.array([at_d]))[0]
        return np.where(t >= at_d, since, total)

    return f


# --- building runs ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Track:
    """One sensor of a run: registry row, reading times (s from the start) and values."""

    sensor: Sensor
    t_s: NDArray[np.float64]
    values: NDArray[np.float64]


@dataclass(slots=True)
class RunBuilder:
    """Collects tracks and labels, then builds the :class:`LabelledRun` in the engine's layout."""

    name: str
    site: str
    area: str
    grace_ms: int
    tracks: list[Track] = field(default_factory=list)
    expected: list[Expected] = field(default_factory=list)

    def sensor(self, sensor_id: str, kind: str, params: dict[str, Any], site: str | None = None) -> Sensor:
        spec = KINDS[kind]
        lat, lon = 29.78 + 0.001 * len(self.tracks), 106.55
        return Sensor(
            sensor_id,
            spec.family,
            kind,
            site or self.site,
            self.area,
            lat,
            lon,
            "gw-suite",
            spec.unit,
            params,
        )

    def add(self, sensor: Sensor, t_s: NDArray[np.float64], values: NDArray[np.float64]) -> None:
        self.tracks.append(Track(sensor, np.asarray(t_s, dtype=float), np.asarray(values, dtype=float)))

    def expect(self, sensor_id: str, rule: str, level: str, start_s: float, end_s: float, what: str) -> None:
        self.expected.append(Expected(sensor_id, rule, level, ts(start_s), ts(end_s), what))

    def build(self) -> LabelledRun:
        registry = Registry([t.sensor for t in self.tracks])
        rows = np.concatenate([np.full(t.t_s.size, i, dtype=np.int32) for i, t in enumerate(self.tracks)])
        ts_ms = np.concatenate([START_TS_MS + np.round(t.t_s * 1000).astype(np.int64) for t in self.tracks])
        values = np.full((rows.size, 4), np.nan)
        values[:, 0] = np.concatenate([t.values for t in self.tracks])
        order = np.argsort(ts_ms, kind="stable")
        return LabelledRun(
            self.name,
            registry,
            rows[order],
            ts_ms[order],
            values[order],
            list(self.expected),
            grace_ms=self.grace_ms,
        )


def ts(t_s: float) -> int:
    return START_TS_MS + round(t_s * 1000)


def sample_times(days: float, every_s: float, offset_s: float) -> NDArray[np.float64]:
    return offset_s + np.arange(0.0, days * DAY_S - offset_s, every_s)


def displacement_track(
    profile: Profile, t_s: NDArray[np.float64], sigma_mm: float, offset_mm: float, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Cumulative displacement at ``t_s``: offset + profile + white noise, reported to 0.001 mm."""
    x = offset_mm + profile(t_s / DAY_S) + sigma_mm * rng.standard_normal(t_s.size)
    return np.round(x, 3)


def angle_band(k: float) -> float:
    """Tangent angle (degrees) of a rate k·v̄."""
    return math.degrees(math.atan(k))


# --- the runs --------------------------------------------------------------------------------------

TA, ACC, JUMP = "landslide_tangent_angle", "landslide_acceleration", "crack_jump"
RULES = (TA, ACC, JUMP)
#: the levels the incident runs are labelled with: every rule at every level (tests/quality/test_suites.py)
EXPECTED_LEVELS: dict[str, frozenset[str]] = dict.fromkeys(
    RULES, frozenset({"blue", "yellow", "orange", "red"})
)

V_BAR = 6.0  # mm/d: an active slope in its constant-velocity stage (clean runs)


def slope_stages_10min(seed: int) -> LabelledRun:
    """Five GNSS points of one slope driven into blue, yellow, orange and red stages (10-min sampling).

    Per seed the constant-velocity rate (5-8 mm/d), the plateau angle (inside its band, 1.5° or more from
    the edges), the ramp's acceleration (inside its band) and the onset vary; the labels follow.
    """
    rng = np.random.default_rng([seed, 0x6E55])
    b = RunBuilder(f"geohazard/slope-stages-10min/seed-{seed}", "slope-12", "shuitu", GEOHAZARD_GRACE_MS)
    days = 18.0
    p = GNSS_10MIN
    u = rng.uniform

    # yellow: the rate ramps from v̄ to k·v̄ (63-72°) at a blue-band acceleration, holds 2 d, eases back
    # over 2 d; orange: to k·v̄ (81.5-83.5°) at a yellow-band acceleration, or faster at an orange-band one
    plateaus = (  # point, stage, plateau k, acceleration range, its level, ramp length range (d)
        ("gh-gn-s01", "yellow", (2.4, 3.2), (1.4, 3.0), "blue", (5.0, 9.0)),
        ("gh-gn-s02", "orange", (6.6, 8.8), (5.2, 8.0), "yellow", (5.0, 9.0)),
        ("gh-gn-s05", "orange", (6.6, 8.8), (10.5, 13.0), "orange", (3.0, 5.0)),
    )
    for j, (sid, stage, k_range, a_range, a_level, ramp_range) in enumerate(plateaus):
        while True:  # draw v̄, a and the ramp until the plateau angle falls inside the stage's band
            v, a, ramp, onset = u(5.0, 8.0), u(*a_range), u(*ramp_range), u(3.0, 4.0)
            k = 1.0 + a * ramp / v
            if k_range[0] <= k <= k_range[1]:
                break
        knots = (onset, onset + ramp, onset + ramp + 2, onset + ramp + 4)
        prof = velocity_knots(knots, (v, k * v, k * v, v))
        s = b.sensor(sid, "gnss_displacement", {**p})
        t = sample_times(days, 600.0, 7.0 + 12 * j)
        b.add(s, t, displacement_track(prof, t, p["noise_mm"], u(20.0, 150.0), rng))
        what = f"v̄ {v:.1f} mm/d, rate to {k:.2f}·v̄ ({angle_band(k):.1f}°)"
        b.expect(s.sensor_id, TA, stage, onset * DAY_S, knots[-1] * DAY_S, what)
        what = f"ramp {a:.2f} mm/d² for {ramp:.1f} d"
        b.expect(s.sensor_id, ACC, a_level, onset * DAY_S, (onset + ramp) * DAY_S, what)

    # red: tertiary creep (1/v linear in t, Fukuzono) for 10-14 d to failure; the point reports until
    # 1.2 h before failure
    v, t_a = u(5.0, 8.0), u(2.5, 3.5)
    t_f = t_a + u(10.0, 14.0)
    s = b.sensor("gh-gn-s03", "gnss_displacement", {**p})
    t = sample_times(t_f - 0.05, 600.0, 31.0)
    b.add(s, t, displacement_track(tertiary_creep(v, t_a, t_f), t, p["noise_mm"], u(20.0, 150.0), rng))
    what = f"v̄ {v:.1f} mm/d, tertiary creep to failure on day {t_f:.1f}"
    b.expect(s.sensor_id, TA, "red", t_a * DAY_S, t[-1], what)
    b.expect(s.sensor_id, ACC, "red", t_a * DAY_S, t[-1], what + ": a = v̄·τ/(t_f - t)² grows without bound")

    # blue: a still point (its v̄ known from its record) resumes creeping: 0 → v̄ over 5 d
    v, onset = u(8.0, 12.0), u(2.5, 3.5)
    s = b.sensor("gh-gn-s04", "gnss_displacement", {**p, "v_bar_mm_per_h": round(v / 24, 4), "creep_blue": 1})
    t = sample_times(days, 600.0, 43.0)
    prof = velocity_knots((onset, onset + 5), (0.0, v))
    b.add(s, t, displacement_track(prof, t, p["noise_mm"], u(20.0, 150.0), rng))
    b.expect(s.sensor_id, TA, "blue", onset * DAY_S, days * DAY_S, f"creep resumes at v̄ {v:.1f} mm/d (45°)")
    b.expect(s.sensor_id, ACC, "blue", onset * DAY_S, (onset + 5) * DAY_S, f"ramp {v / 5:.2f} mm/d² for 5 d")
    return b.build()


def slope_failure_hourly(seed: int) -> LabelledRun:
    """An hourly GNSS point of a faster slope (8-12 mm/d) in tertiary creep to failure, and a steady one."""
    rng = np.random.default_rng([seed, 0x40A1])
    b = RunBuilder(f"geohazard/slope-failure-hourly/seed-{seed}", "slope-07", "yuelai", GEOHAZARD_GRACE_MS)
    p = GNSS_HOURLY
    v, t_a = rng.uniform(8.0, 12.0), rng.uniform(5.0, 7.0)
    t_f = t_a + rng.uniform(10.0, 14.0)
    s = b.sensor("gh-gn-h01", "gnss_displacement", {**p})
    t = sample_times(t_f - 0.1, HOUR_S, 11.0)
    b.add(s, t, displacement_track(tertiary_creep(v, t_a, t_f), t, p["noise_mm"], 15.0, rng))
    what = f"v̄ {v:.1f} mm/d, tertiary creep to failure on day {t_f:.1f}"
    b.expect(s.sensor_id, TA, "red", t_a * DAY_S, t[-1], what)
    b.expect(s.sensor_id, ACC, "red", t_a * DAY_S, t[-1], what + ": a grows without bound")
    s = b.sensor("gh-gn-h02", "gnss_displacement", {**p})
    t = sample_times(t_f, HOUR_S, 23.0)
    b.add(s, t, displacement_track(creep(v), t, p["noise_mm"], 33.0, rng))
    return b.build()


#: crack jump sizes (mm) per level: inside each band, and clear of the tangent angle's 80° and 85°
#: (peak angle atan(1 + 1.5·D/(v̄·W)) with v̄ 0.6-0.8 mm/d: below 78° or above 86°)
CRACK_JUMPS = ((0.55, 0.9, "blue"), (1.05, 1.35, "yellow"), (8.0, 9.5, "orange"), (10.2, 14.0, "red"))


def crack_events_10min(seed: int) -> LabelledRun:
    """Crack meters: sudden openings of four sizes and one crack accelerating into the orange stage."""
    rng = np.random.default_rng([seed, 0xC4AC])
    b = RunBuilder(f"geohazard/crack-events-10min/seed-{seed}", "slope-12", "shuitu", GEOHAZARD_GRACE_MS)
    p = CRACK_10MIN
    days = 10.0
    window_d = p["fit_window_s"] / DAY_S
    for i, (lo, hi, level) in enumerate(CRACK_JUMPS):
        v, height = rng.uniform(0.6, 0.8), rng.uniform(lo, hi)
        s = b.sensor(f"gh-cm-j{i + 1}", "crack_meter", {**p})
        t = sample_times(days, 600.0, 5.0 + 3 * i)
        at = rng.uniform(4.0, 6.0)
        prof = _sum(creep(v), jump(height, at))
        b.add(s, t, displacement_track(prof, t, p["noise_mm"], rng.uniform(3.0, 30.0), rng))
        b.expect(
            s.sensor_id, JUMP, level, at * DAY_S, at * DAY_S + 600.0, f"crack opens {height:.2f} mm at once"
        )
        peak = angle_band(1.0 + 1.5 * height / (v * window_d))
        if peak >= 85.0:
            what = f"smoothed angle peaks at {peak:.1f}°"
            b.expect(s.sensor_id, TA, "red", at * DAY_S, (at + window_d) * DAY_S, what)
    # a crack accelerating over 6 d to k·v̄ (81.5-83.5°): orange; its acceleration (at most 0.78 mm/d²)
    # stays below blue
    v, k = rng.uniform(0.4, 0.6), rng.uniform(6.6, 8.8)
    s = b.sensor("gh-cm-s01", "crack_meter", {**p})
    t = sample_times(days, 600.0, 29.0)
    prof = velocity_knots((3, 9, 10), (v, k * v, k * v))
    b.add(s, t, displacement_track(prof, t, p["noise_mm"], 3.0, rng))
    what = f"rate to {k:.2f}·v̄ ({angle_band(k):.1f}°), {(k - 1) * v / 6:.2f} mm/d²"
    b.expect(s.sensor_id, TA, "orange", 3 * DAY_S, days * DAY_S, what)
    return b.build()


def clean_slopes(seed: int) -> LabelledRun:
    """Hard negatives: a stable point with GNSS noise, steady creep, rain-induced steps, crack noise,
    small crack steps and a crack meter re-zeroed."""
    rng = np.random.default_rng([seed, 0xC1EA])
    b = RunBuilder(f"geohazard/clean/seed-{seed}", "slope-03", "liangjiang-north", GEOHAZARD_GRACE_MS)
    days = 14.0
    g, c = GNSS_10MIN, CRACK_10MIN
    t = sample_times(days, 600.0, 3.0)
    s = b.sensor("gh-gn-c01", "gnss_displacement", {**g})  # stable: v̄ ≈ 0
    b.add(s, t, displacement_track(creep(0.0), t, g["noise_mm"], 2.0, rng))
    s = b.sensor("gh-gn-c02", "gnss_displacement", {**g})  # steady creep
    b.add(s, t, displacement_track(creep(V_BAR), t, g["noise_mm"], 50.0, rng))
    # rain-induced steps: 6 mm over 6 h on days 5 and 10 (raw rate 4·v̄, 76° point to point)
    s = b.sensor("gh-gn-c03", "gnss_displacement", {**g})
    prof = _sum(creep(V_BAR), smooth_step(6.0, 5.0, 0.25), smooth_step(6.0, 10.0, 0.25))
    b.add(s, t, displacement_track(prof, t, g["noise_mm"], 70.0, rng))
    s = b.sensor("gh-gn-c04", "gnss_displacement", {**GNSS_HOURLY})  # hourly, with one 6 mm step
    th = sample_times(days, HOUR_S, 17.0)
    prof = _sum(creep(10.0), smooth_step(6.0, 7.0, 0.25))
    b.add(s, th, displacement_track(prof, th, GNSS_HOURLY["noise_mm"], 12.0, rng))
    s = b.sensor("gh-cm-c01", "crack_meter", {**c})  # creeping crack with noise
    b.add(s, t, displacement_track(creep(0.5), t, c["noise_mm"], 4.0, rng))
    s = b.sensor("gh-cm-c02", "crack_meter", {**c})  # re-zeroed on day 6 (from 7 mm to 0)
    b.add(
        s,
        t,
        np.round(reset_to_zero(6.02, creep(0.5), 4.0)(t / DAY_S) + 0.01 * rng.standard_normal(t.size), 3),
    )
    s = b.sensor("gh-cm-c03", "crack_meter", {**c})  # a 0.1 mm settling step: below every jump level
    b.add(s, t, displacement_track(_sum(creep(0.5), jump(0.1, 7.004)), t, c["noise_mm"], 6.0, rng))
    return b.build()


def _sum(*profiles: Profile) -> Profile:
    return lambda t: np.sum([p(t) for p in profiles], axis=0)


def incident_runs(seeds: tuple[int, ...] = (1, 2, 3)) -> list[LabelledRun]:
    """The incident runs of each seed (labelled; per seed the injected magnitudes and times vary)."""
    return [
        run for s in seeds for run in (slope_stages_10min(s), slope_failure_hourly(s), crack_events_10min(s))
    ]


def clean_runs(seeds: tuple[int, ...] = (11, 12)) -> list[LabelledRun]:
    """The clean runs of each seed: hard negatives only, no incident."""
    return [clean_slopes(s) for s in seeds]


def suite() -> list[LabelledRun]:
    return incident_runs() + clean_runs()


def main() -> None:
    scores = evaluate(suite())
    print(table({k: v for k, v in scores.items() if k in RULES}))


if __name__ == "__main__":
    main()
