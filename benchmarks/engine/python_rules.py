"""The engine benchmark's baseline: the five original rules, one reading at a time in plain Python.

Per sensor a small state object; per reading the rule text of :mod:`simulators.scenario` (set points
from the sensor's registry params, defaults from :mod:`simulators.registry_gen`), with the same level
policy as the engine's latch (a level is raised after ``sustain`` consecutive readings at or above its
set point, and held while the measure stays at or above its clear point):

* ``gas_two_stage``: blue ≥ prealarm_ratio·first, yellow ≥ first, orange ≥ second, red ≥ second and
  rising; each level clears ``clear_margin_lel`` below its set point;
* ``rainstorm``: exact trailing 3/6/12 h sums (running sums over deques), red/orange on 3 h, yellow on
  6 h, blue on 12 h; no hysteresis;
* ``elevator_overspeed``: |speed| / rated ≥ orange_ratio / red_ratio for ``sustain_readings`` readings,
  held while ≥ clear_ratio;
* ``landslide_tangent_angle``: α = atan(v / v̄) with v the least-squares slope over the trailing
  ``fit_window_s`` (running sums), v̄ from params; yellow ≥ 45° + margin, orange, red; each after
  ``persist_readings``; 2° hysteresis;
* ``pipeline_pressure_drop``: least-squares drop over ``rate_window_s`` in % of nominal per minute,
  four levels after ``sustain_readings``, held while ≥ the blue rate.

It is a fair but light reading of the rules: no alarm lifecycle, no alerts or reasons, no event-time
timers, no v̄ estimation, no out-of-order handling beyond dropping readings older than the newest. So
the engine does more per reading than this loop, and the ratio flatters the loop.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from riskstream.kinds import KINDS
from riskstream.registry import Registry
from simulators.registry_gen import (
    ELEVATOR_DEFAULTS,
    GAS_DEFAULTS,
    LANDSLIDE_DEFAULTS,
    PIPELINE_DEFAULTS,
    RAIN_DEFAULTS,
    setpoints,
)

HOUR_MS = 3_600_000
NAN = math.nan


def _latch(level: int, run: list[int], measures: Sequence[float], sp: Sequence[float],
           clear: Sequence[float], sustain: float) -> int:  # fmt: skip
    """Persistence + hysteresis over levels 1..4 (NaN set points are unused levels); updates ``run``."""
    raised = held = 0
    for k in range(4):
        m = measures[k]
        if m >= sp[k]:  # False for NaN
            run[k] += 1
            if run[k] >= sustain:
                raised = k + 1
        else:
            run[k] = 0
        if k < level and m >= clear[k]:
            held = k + 1
    return raised if raised > held else held


class _Rule:
    __slots__ = ("clear", "level", "newest", "run", "sp", "sustain")

    def __init__(self, sp: Sequence[float], clear: Sequence[float], sustain: float) -> None:
        self.sp, self.clear, self.sustain = tuple(sp), tuple(clear), sustain
        self.level = 0
        self.run = [0, 0, 0, 0]
        self.newest = -(2**62)


class Gas(_Rule):
    __slots__ = ("prev", "sp_flat")

    def __init__(self, params: dict[str, Any]) -> None:
        p = setpoints(params, GAS_DEFAULTS)
        first, second = p["first_alarm_lel"], p["second_alarm_lel"]
        sp = (p["prealarm_ratio"] * first, first, second, second)
        super().__init__(sp, [s - p["clear_margin_lel"] for s in sp], 1)
        self.sp_flat = (*sp[:3], math.inf)  # red is raised only while rising (held like orange)
        self.prev = NAN

    def step(self, t: int, x: float) -> int:
        if t < self.newest or not math.isfinite(x):
            return self.level
        sp = self.sp if x > self.prev else self.sp_flat
        self.prev, self.newest = x, t
        self.level = _latch(self.level, self.run, (x, x, x, x), sp, self.clear, 1)
        return self.level


class _Window:
    """Running sum of increments over a trailing window of ``width_ms``."""

    __slots__ = ("items", "total", "width_ms")

    def __init__(self, width_ms: int) -> None:
        self.width_ms = width_ms
        self.items: deque[tuple[int, float]] = deque()
        self.total = 0.0

    def add(self, t: int, x: float) -> float:
        self.items.append((t, x))
        self.total += x
        items, edge = self.items, t - self.width_ms
        while items[0][0] <= edge:
            self.total -= items.popleft()[1]
        return self.total


class Rain(_Rule):
    __slots__ = ("w3", "w6", "w12")

    def __init__(self, params: dict[str, Any]) -> None:
        p = setpoints(params, RAIN_DEFAULTS)
        sp = (p["blue_12h_mm"], p["yellow_6h_mm"], p["orange_3h_mm"], p["red_3h_mm"])
        super().__init__(sp, sp, 1)
        self.w3, self.w6, self.w12 = _Window(3 * HOUR_MS), _Window(6 * HOUR_MS), _Window(12 * HOUR_MS)

    def step(self, t: int, x: float) -> int:
        if t < self.newest or not (x >= 0 and math.isfinite(x)):
            return self.level
        self.newest = t
        s3, s6, s12 = self.w3.add(t, x), self.w6.add(t, x), self.w12.add(t, x)
        self.level = _latch(self.level, self.run, (s12, s6, s3, s3), self.sp, self.clear, 1)
        return self.level


class Lift(_Rule):
    __slots__ = ("rated",)

    def __init__(self, params: dict[str, Any]) -> None:
        p = setpoints(params, ELEVATOR_DEFAULTS)
        self.rated = p["rated_speed_mps"]
        sp = (NAN, NAN, p["orange_ratio"], p["red_ratio"])
        clear = (NAN, NAN, p["clear_ratio"], p["clear_ratio"])
        super().__init__(sp, clear, p["sustain_readings"])

    def step(self, t: int, speed: float) -> int:
        ratio = abs(speed) / self.rated
        if t < self.newest or not math.isfinite(ratio):
            return self.level
        self.newest = t
        self.level = _latch(self.level, self.run, (NAN, NAN, ratio, ratio), self.sp, self.clear, self.sustain)
        return self.level


class _Slope:
    """Least-squares slope (per second) over a trailing window, from running sums."""

    __slots__ = ("items", "n", "st", "stt", "sty", "sy", "t0", "width_ms", "y0")

    def __init__(self, width_ms: int) -> None:
        self.width_ms = width_ms
        self.items: deque[tuple[int, float, float]] = deque()
        self.t0: int | None = None
        self.y0 = 0.0
        self.n = 0
        self.st = self.stt = self.sy = self.sty = 0.0

    def add(self, t_ms: int, y: float) -> tuple[float, int, float]:
        """(slope, points, span in s) after adding the reading."""
        if self.t0 is None:
            self.t0, self.y0 = t_ms, y
        t, yc = (t_ms - self.t0) * 1e-3, y - self.y0
        self.items.append((t_ms, t, yc))
        self.n += 1
        self.st += t
        self.stt += t * t
        self.sy += yc
        self.sty += t * yc
        items, edge = self.items, t_ms - self.width_ms
        while items[0][0] <= edge:
            _, ot, oy = items.popleft()
            self.n -= 1
            self.st -= ot
            self.stt -= ot * ot
            self.sy -= oy
            self.sty -= ot * oy
        n = self.n
        sxx = self.stt - self.st * self.st / n
        slope = (self.sty - self.st * self.sy / n) / sxx if sxx > 1e-9 else NAN
        return slope, n, t - items[0][1]


class Landslide(_Rule):
    __slots__ = ("fit", "min_points", "v_bar", "window_s")

    def __init__(self, params: dict[str, Any]) -> None:
        p = setpoints(params, LANDSLIDE_DEFAULTS)
        self.window_s = p["fit_window_s"]
        self.fit = _Slope(int(self.window_s * 1000))
        self.min_points = p["min_points"]
        v_bar = p["v_bar_mm_per_h"]
        self.v_bar = v_bar if v_bar > 0 and v_bar >= p["noise_floor_mm_per_h"] else NAN
        sp = (NAN, 45.0 + p["margin_deg"], p["orange_deg"], p["red_deg"])
        super().__init__(sp, [s - 2.0 for s in sp], p["persist_readings"])

    def step(self, t: int, x: float) -> int:
        if t < self.newest or not math.isfinite(x):
            return self.level
        self.newest = t
        slope, n, span = self.fit.add(t, x)
        if n < self.min_points or span < self.window_s / 2 or not math.isfinite(slope * self.v_bar):
            return self.level
        a = math.degrees(math.atan(slope * 3600.0 / self.v_bar))
        self.level = _latch(self.level, self.run, (a, a, a, a), self.sp, self.clear, self.sustain)
        return self.level


class Pipeline(_Rule):
    __slots__ = ("fit", "min_points", "nominal")

    def __init__(self, params: dict[str, Any]) -> None:
        p = setpoints(params, PIPELINE_DEFAULTS)
        self.fit = _Slope(int(p["rate_window_s"] * 1000))
        self.min_points, self.nominal = p["min_points"], p["nominal_kpa"]
        sp = tuple(p[f"{c}_pct_per_min"] for c in ("blue", "yellow", "orange", "red"))
        super().__init__(sp, [sp[0]] * 4, p["sustain_readings"])

    def step(self, t: int, x: float) -> int:
        if t < self.newest or not math.isfinite(x):
            return self.level
        self.newest = t
        slope, n, _ = self.fit.add(t, x)
        if n < self.min_points or not math.isfinite(slope):
            return self.level
        d = -slope * 60.0 / self.nominal * 100.0
        self.level = _latch(self.level, self.run, (d, d, d, d), self.sp, self.clear, self.sustain)
        return self.level


RULE_OF_KIND: dict[str, tuple[str, Callable[[dict[str, Any]], Any]]] = {
    "combustible_gas": ("gas_two_stage", Gas),
    "rain_gauge": ("rainstorm", Rain),
    "elevator_status": ("elevator_overspeed", Lift),
    "gnss_displacement": ("landslide_tangent_angle", Landslide),
    "crack_meter": ("landslide_tangent_angle", Landslide),
    "pipeline_pressure": ("pipeline_pressure_drop", Pipeline),
}
SPEED_COLUMN = KINDS["elevator_status"].channels.index("speed_mps")


class PythonFiveRules:
    """Per registry row: the rule's state object (None for kinds the five rules do not cover)."""

    def __init__(self, registry: Registry) -> None:
        self.rules: list[Any] = []
        self.rule_names: list[str] = []
        self.column: list[int] = []
        for s in registry:
            entry = RULE_OF_KIND.get(s.kind)
            self.rules.append(entry[1](s.params) if entry else None)
            self.rule_names.append(entry[0] if entry else "")
            self.column.append(SPEED_COLUMN if s.kind == "elevator_status" else 0)
        self.highest: dict[int, int] = {}
        self.transitions = 0

    def process(self, rows: list[int], ts_ms: list[int], values: list[list[float]]) -> None:
        """One reading at a time; counts level changes (the alerts an engine would announce)."""
        rules, column, highest = self.rules, self.column, self.highest
        changes = 0
        for r, t, vals in zip(rows, ts_ms, values, strict=True):
            rule = rules[r]
            if rule is None:
                continue
            before = rule.level
            after = rule.step(t, vals[column[r]])
            if after != before:
                changes += 1
                if after > highest.get(r, 0):
                    highest[r] = after
        self.transitions += changes
