"""Independent re-computation of the five specified rules on a scenario's raw signal, to check its labels.

This is not a detector: it is a plain, per-sensor, whole-series transcription of the rule texts in
:mod:`simulators.scenario`, used by tests and by ``riskstream simulate --verify`` to confirm that each
incident's signal reaches its labelled band and that every clean sensor stays normal.

Where the rule text leaves a convention open, the oracle computes every reading of it and reports a
(sensor, rule) as *ambiguous* when the variants disagree on the highest level:

* gas "rising vs the previous reading": (a) value > previous reading, (b) the same but only when the
  previous reading was itself at or above the second alarm (a step into the band does not count);
* trailing windows: (t - W, t] or [t - W, t] (rain sums, least-squares fits);
* persistence: a reading without a measure (window too short) either breaks the run of consecutive
  readings or is skipped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from riskstream.registry import Registry
from riskstream.schemas import Level
from simulators.registry_gen import (
    ELEVATOR_DEFAULTS,
    GAS_DEFAULTS,
    LANDSLIDE_DEFAULTS,
    PIPELINE_DEFAULTS,
    RAIN_DEFAULTS,
    setpoints,
)
from simulators.scenario import RULE_KINDS, Scenario
from simulators.signals import TickColumns

F64 = NDArray[np.float64]

RAIN_WINDOWS_H = {Level.RED: 3, Level.ORANGE: 3, Level.YELLOW: 6, Level.BLUE: 12}
RAIN_KEYS = {Level.RED: "red_3h_mm", Level.ORANGE: "orange_3h_mm", Level.YELLOW: "yellow_6h_mm",
             Level.BLUE: "blue_12h_mm"}  # fmt: skip
PIPE_KEYS = {Level.BLUE: "blue_pct_per_min", Level.YELLOW: "yellow_pct_per_min",
             Level.ORANGE: "orange_pct_per_min", Level.RED: "red_pct_per_min"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Series:
    """One sensor's readings in time order: seconds since the scenario start and its rule input."""

    t_s: F64
    x: F64


@dataclass(frozen=True, slots=True)
class OracleResult:
    """Highest level per (sensor_id, rule), the first time (ms) a level was reached, ambiguous pairs."""

    levels: dict[tuple[str, str], Level]
    first_ts_ms: dict[tuple[str, str], int]
    ambiguous: dict[tuple[str, str], tuple[Level, ...]]


def collect(scenario: Scenario, frames: Iterable[TickColumns] | None = None) -> dict[str, Series]:
    """Per-sensor series of every sensor a rule applies to (channel 0 = speed for elevators)."""
    reg = scenario.registry
    kinds = {k for ks in RULE_KINDS.values() for k in ks}
    rows = np.array([i for i, s in enumerate(reg) if s.kind in kinds], dtype=np.int64)
    ts: list[NDArray[np.int64]] = []
    xs: list[F64] = []
    for f in frames if frames is not None else scenario.frames():
        ts.append(f.ts_ms[rows])
        xs.append(f.values[rows, 0])
    t_all = (np.stack(ts, axis=1) - scenario.start_ts_ms) / 1000.0 if ts else np.empty((rows.size, 0))
    x_all = np.stack(xs, axis=1) if xs else np.empty((rows.size, 0))
    return {reg.sensors[r].sensor_id: Series(t_all[j], x_all[j]) for j, r in enumerate(rows)}


def _sustained(levels_per_reading: NDArray[np.int64], n: int, valid: NDArray[np.bool_], skip: bool) -> int:
    """Highest level held for ``n`` consecutive readings (invalid readings break or are skipped)."""
    best = 0
    for k in range(1, int(levels_per_reading.max(initial=0)) + 1):
        run = 0
        for lv, ok in zip(levels_per_reading.tolist(), valid.tolist(), strict=True):
            if not ok:
                if not skip:
                    run = 0
                continue
            run = run + 1 if lv >= k else 0
            if run >= n:
                best = k
                break
    return best


def _first_index(levels: NDArray[np.int64]) -> int | None:
    hit = np.flatnonzero(levels > 0)
    return int(hit[0]) if hit.size else None


def gas_levels(s: Series, params: dict[str, float]) -> tuple[int, int, int | None]:
    """Highest level under rising-variants (a) and (b), and the first index above normal."""
    p = setpoints(params, GAS_DEFAULTS)
    first, second = p["first_alarm_lel"], p["second_alarm_lel"]
    x = s.x
    prev = np.r_[np.nan, x[:-1]]
    base = np.select([x >= second, x >= first, x >= p["prealarm_ratio"] * first], [3, 2, 1], 0)
    with np.errstate(invalid="ignore"):
        rising_a = x > prev
        rising_b = rising_a & (prev >= second)
    lv_a = np.where((x >= second) & rising_a, 4, base)
    lv_b = np.where((x >= second) & rising_b, 4, base)
    return int(lv_a.max(initial=0)), int(lv_b.max(initial=0)), _first_index(base)


def _trailing_sum(t: F64, x: F64, window_s: float, closed_left: bool) -> F64:
    c = np.r_[0.0, np.cumsum(x)]
    lo = np.searchsorted(t, t - window_s, side="left" if closed_left else "right")
    return c[1:] - c[lo]


def rain_levels(s: Series, sp: dict[str, float], closed_left: bool) -> NDArray[np.int64]:
    lv = np.zeros(s.t_s.size, dtype=np.int64)
    for level in (Level.BLUE, Level.YELLOW, Level.ORANGE, Level.RED):
        total = _trailing_sum(s.t_s, s.x, RAIN_WINDOWS_H[level] * 3600.0, closed_left)
        lv = np.where(total >= sp[RAIN_KEYS[level]], int(level), lv)
    return lv


def trailing_slope(t: F64, y: F64, window_s: float, closed_left: bool) -> tuple[F64, NDArray[np.int64], F64]:
    """Least-squares slope (per second) over each reading's trailing window, point counts and spans."""
    tc = t - (t[0] if t.size else 0.0)
    yc = y - (y[0] if y.size else 0.0)
    ct = np.r_[0.0, np.cumsum(tc)]
    ctt = np.r_[0.0, np.cumsum(tc * tc)]
    cy = np.r_[0.0, np.cumsum(yc)]
    cty = np.r_[0.0, np.cumsum(tc * yc)]
    lo = np.searchsorted(tc, tc - window_s, side="left" if closed_left else "right")
    hi = np.arange(1, tc.size + 1)
    n = (hi - lo).astype(np.float64)
    st, stt = ct[hi] - ct[lo], ctt[hi] - ctt[lo]
    sy, sty = cy[hi] - cy[lo], cty[hi] - cty[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        sxx = stt - st * st / n
        sxy = sty - st * sy / n
        slope = np.where(sxx > 1e-9, sxy / sxx, np.nan)
    span = tc - tc[lo] if tc.size else tc
    return slope, (hi - lo).astype(np.int64), span


def landslide_levels(
    s: Series, sp: dict[str, float], closed_left: bool
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Per-reading level from the tangent angle, and where the angle is computable."""
    window = sp["fit_window_s"]
    slope, n, span = trailing_slope(s.t_s, s.x, window, closed_left)
    valid = (n >= sp["min_points"]) & (span >= window / 2) & np.isfinite(slope)
    v_bar = sp["v_bar_mm_per_h"]
    if v_bar < sp["noise_floor_mm_per_h"] or v_bar <= 0:
        return np.zeros(s.t_s.size, dtype=np.int64), np.zeros(s.t_s.size, dtype=bool)
    alpha = np.degrees(np.arctan(np.where(valid, slope * 3600.0, 0.0) / v_bar))
    lv = np.select([alpha >= sp["red_deg"], alpha >= sp["orange_deg"], alpha >= 45.0 + sp["margin_deg"]],
                   [4, 3, 2], 0)  # fmt: skip
    return np.where(valid, lv, 0), valid


def pipeline_levels(
    s: Series, sp: dict[str, float], closed_left: bool
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Per-reading level from the drop rate (% of nominal per minute), and where it is computable."""
    slope, n, _ = trailing_slope(s.t_s, s.x, sp["rate_window_s"], closed_left)
    valid = (n >= sp["min_points"]) & np.isfinite(slope)
    drop = np.where(valid, -slope * 60.0 / sp["nominal_kpa"] * 100.0, 0.0)
    lv = np.zeros(s.t_s.size, dtype=np.int64)
    for level in (Level.BLUE, Level.YELLOW, Level.ORANGE, Level.RED):
        lv = np.where(drop >= sp[PIPE_KEYS[level]], int(level), lv)
    return np.where(valid, lv, 0), valid


def lift_levels(s: Series, sp: dict[str, float]) -> NDArray[np.int64]:
    r = s.x / sp["rated_speed_mps"]
    return np.select([r >= sp["red_ratio"], r >= sp["orange_ratio"]], [4, 3], 0)


def evaluate(scenario: Scenario, series: dict[str, Series] | None = None) -> OracleResult:
    """Highest level of every (sensor, rule) pair the five rules cover, per the rule texts."""
    reg: Registry = scenario.registry
    series = collect(scenario) if series is None else series
    levels: dict[tuple[str, str], Level] = {}
    first: dict[tuple[str, str], int] = {}
    ambiguous: dict[tuple[str, str], tuple[Level, ...]] = {}
    kind_rule = {k: rule for rule, ks in RULE_KINDS.items() for k in ks}
    for sid, s in series.items():
        sensor = reg.get(sid)
        assert sensor is not None
        rule = kind_rule[sensor.kind]
        params = sensor.params
        variants: list[int]
        if rule == "gas_two_stage":
            a, b, fi = gas_levels(s, params)
            variants = [a, b]
            first_i = fi
        elif rule == "rainstorm":
            sp = setpoints(params, RAIN_DEFAULTS)
            lvs = [rain_levels(s, sp, cl) for cl in (False, True)]
            variants = [int(v.max(initial=0)) for v in lvs]
            first_i = _first_index(lvs[0])
        elif rule == "elevator_overspeed":
            sp = setpoints(params, ELEVATOR_DEFAULTS)
            per_reading = lift_levels(s, sp)
            ok = np.ones(per_reading.size, dtype=bool)
            variants = [_sustained(per_reading, int(sp["sustain_readings"]), ok, skip=False)]
            first_i = _first_index(per_reading)
        elif rule == "landslide_tangent_angle":
            sp = setpoints(params, LANDSLIDE_DEFAULTS)
            variants = []
            for cl in (False, True):
                lv, ok = landslide_levels(s, sp, cl)
                variants += [_sustained(lv, int(sp["persist_readings"]), ok, skip=sk) for sk in (False, True)]
            first_i = _first_index(landslide_levels(s, sp, False)[0])
        else:
            sp = setpoints(params, PIPELINE_DEFAULTS)
            variants = []
            for cl in (False, True):
                lv, ok = pipeline_levels(s, sp, cl)
                variants += [_sustained(lv, int(sp["sustain_readings"]), ok, skip=sk) for sk in (False, True)]
            first_i = _first_index(pipeline_levels(s, sp, False)[0])
        key = (sid, rule)
        levels[key] = Level(max(variants))
        if len(set(variants)) > 1:
            ambiguous[key] = tuple(Level(v) for v in variants)
        if first_i is not None and levels[key] > Level.NORMAL:
            first[key] = scenario.start_ts_ms + math.floor(s.t_s[first_i] * 1000 + 0.5)
    return OracleResult(levels, first, ambiguous)


def check(scenario: Scenario, result: OracleResult | None = None) -> list[str]:
    """Problems with the scenario's labels (empty when every label is confirmed and nothing else fires)."""
    res = evaluate(scenario) if result is None else result
    problems: list[str] = []
    labelled = {(i.sensor_id, i.rule): i for i in scenario.expected()}
    for key, amb in res.ambiguous.items():
        problems.append(f"{key[0]} {key[1]}: level depends on conventions: {[lv.label for lv in amb]}")
    for key, inc in labelled.items():
        got = res.levels.get(key, Level.NORMAL)
        if got != inc.level:
            problems.append(f"{key[0]} {key[1]}: labelled {inc.expected_level}, signal reaches {got.label}")
        ts = res.first_ts_ms.get(key)
        if ts is not None and not inc.start_ts_ms <= ts <= inc.end_ts_ms:
            problems.append(f"{key[0]} {key[1]}: first leaves normal at {ts}, outside the incident")
    for key, lv in res.levels.items():
        if key not in labelled and lv != Level.NORMAL:
            problems.append(f"{key[0]} {key[1]}: unlabelled, but the signal reaches {lv.label}")
    return problems
