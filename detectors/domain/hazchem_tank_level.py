"""Tank level H/HH/L/LL limit alarms with per-sensor set points and an overfill (HH and rising) red.

domain-thresholds.md §1: AQ 3036-2010 requires level monitoring with alarms but gives no number; the
set points come from the process design. Typical practice ([P]/[M]): H ≈ 85-90 %, HH ≈ 90-95 % of the
maximum safe fill, L/LL above the pump-suction minimum; HH trips the emergency shut-off of level-1/2
major hazard sources. Defaults here (all [P], per-sensor params): H 85 %, HH 90 %, L 10 %, LL 5 %.

Colours ([P], in the spirit of the two-stage gas mapping of §0, overfilling being the major hazard):
L → blue, H or LL → yellow, HH → orange, HH and still rising (the shut-off did not stop the inflow)
→ red. The facility's major-hazard level weights them (hazchem_mhs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from detectors.base import Batch, State
from detectors.domain.hazchem_mhs import MHS_KEYS, MhsWeighted
from detectors.domain.policy import SET_POINT_RTOL, LevelThresholds
from detectors.domain.ring import PointRing
from detectors.domain.rule import (
    Measures,
    TransitionContext,
    fmt,
    level_label,
    stack_levels,
)


@dataclass(frozen=True, slots=True)
class TankLevelLimitsParams:
    """``max_points`` is rule-wide (ring size); the rest are per-sensor defaults (registry ``params``)."""

    max_points: int = 32
    high_pct: float = 85.0
    high_high_pct: float = 90.0
    low_pct: float = 10.0
    low_low_pct: float = 5.0
    clear_margin_pct: float = 1.0
    trend_window_s: float = 300.0
    trend_min_points: float = 3
    rising_pct_per_min: float = 0.2
    mhs_level: float = 0.0
    r_value: float = math.nan


class TankLevelLimits(MhsWeighted[TankLevelLimitsParams]):
    """Tank level against H/HH/L/LL, with hysteresis and an overfill trend for red.

    Score: the level in % of the maximum safe fill. Levels: red if v ≥ HH and the least-squares slope
    over the trailing ``trend_window_s`` (at least ``trend_min_points`` readings) is ≥
    ``rising_pct_per_min``; orange if v ≥ HH; yellow if v ≥ H or v ≤ LL; blue if v ≤ L. A level is held
    until the level is back inside its limit by ``clear_margin_pct`` (red is held like orange). A reading
    older than the sensor's newest, or non-finite, changes nothing.
    """

    name = "tank_level_limits"
    kinds: ClassVar[tuple[str, ...]] = ("tank_level",)
    source = "H/HH/L/LL set points [P]; AQ 3036-2010 requires level alarms, gives no value"
    unit = "%"
    sensor_keys: ClassVar[tuple[str, ...]] = (
        "high_pct",
        "high_high_pct",
        "low_pct",
        "low_low_pct",
        "clear_margin_pct",
        "trend_window_s",
        "trend_min_points",
        "rising_pct_per_min",
        *MHS_KEYS,
    )
    count_keys: ClassVar[tuple[str, ...]] = ("trend_min_points",)

    def __init__(self, params: TankLevelLimitsParams | None = None) -> None:
        super().__init__(params or TankLevelLimitsParams())
        self.ring = PointRing("lvl", self.params.max_points)

    @classmethod
    def conformance_examples(cls) -> Sequence[TankLevelLimits]:
        return (
            cls(TankLevelLimitsParams(max_points=8)),
            cls(
                TankLevelLimitsParams(
                    max_points=4, high_pct=5.0, high_high_pct=6.0, low_pct=1.0, low_low_pct=0.0
                )
            ),
        )

    def _init_measure_state(self, capacity: int) -> State:
        return self.ring.init_state(capacity)

    def _check_sensor_columns(self, state: State, labels: Sequence[str]) -> None:
        super()._check_sensor_columns(state, labels)
        h, hh = state["sp_high_pct"], state["sp_high_high_pct"]
        lo, ll = state["sp_low_pct"], state["sp_low_low_pct"]
        checks = (
            (~((ll <= lo) & (lo < h) & (h <= hh)), "needs low_low_pct ≤ low_pct < high_pct ≤ high_high_pct"),
            (state["sp_clear_margin_pct"] < 0, "needs clear_margin_pct ≥ 0"),
            (state["sp_trend_window_s"] <= 0, "needs trend_window_s > 0"),
            (state["sp_trend_min_points"] < 2, "needs trend_min_points ≥ 2"),
            (state["sp_rising_pct_per_min"] <= 0, "needs rising_pct_per_min > 0"),
        )
        self._reject_first_bad(checks, labels)

    def _measure(self, state: State, batch: Batch, steps: list[NDArray[np.int64]]) -> Measures:
        n = len(batch)
        x = self.input_values(batch)
        valid = np.zeros(n, dtype=bool)
        slope = np.full(n, np.nan)
        points = np.zeros(n, dtype=np.int64)
        for idx in steps:
            rows = batch.rows[idx]
            ok = np.isfinite(x[idx]) & (batch.ts_ms[idx] >= state[self.ring.newest_key][rows])
            valid[idx] = ok
            if ok.any():
                self.ring.push(state, rows[ok], batch.ts_ms[idx][ok], x[idx][ok])
            window_ms = (state["sp_trend_window_s"][rows] * 1000.0).astype(np.int64)
            slope[idx], pts, span_ms = self.ring.window_slope(state, rows, window_ms)
            points[idx] = np.where(2 * span_ms >= window_ms, pts, 0)  # a fit over half the window at least
        rows = batch.rows
        per_min = np.where(points >= state["sp_trend_min_points"][rows], slope * 60.0, np.nan)
        with np.errstate(invalid="ignore"):
            rising = per_min >= state["sp_rising_pct_per_min"][rows] * (1.0 - SET_POINT_RTOL)
        h, hh = state["sp_high_pct"][rows], state["sp_high_high_pct"][rows]
        lo, ll = state["sp_low_pct"][rows], state["sp_low_low_pct"][rows]
        over_hh = x - hh
        per_level = stack_levels(lo - x, np.maximum(x - h, ll - x), over_hh, over_hh)
        gate = np.ones((n, 4), dtype=bool)
        gate[:, 3] = rising
        return Measures(
            score=np.where(np.isfinite(x), x, np.nan),
            per_level=per_level,
            valid=valid,
            gate=gate,
            extra={"value": x, "trend_pct_per_min": per_min, "trend_points": points},
        )

    def _thresholds(self, state: State, rows: NDArray[np.int32]) -> LevelThresholds:
        m = rows.size
        set_points = np.zeros((m, 4))
        clear = np.repeat(-state["sp_clear_margin_pct"][rows][:, None], 4, axis=1)
        return LevelThresholds(set_points, clear, np.ones(m, dtype=np.float64))

    def describe_levels(self, ctx: TransitionContext) -> str:
        sp, e = ctx.sp, ctx.extra
        v = float(e["value"])
        k = ctx.level if ctx.rising else ctx.previous
        high_side = v >= (sp["high_pct"] + sp["low_pct"]) / 2.0
        name, point = {
            1: ("L", sp["low_pct"]),
            2: ("H", sp["high_pct"]) if high_side else ("LL", sp["low_low_pct"]),
            3: ("HH", sp["high_high_pct"]),
            4: ("HH", sp["high_high_pct"]),
        }[k]
        below_side = name in ("L", "LL")
        margin = sp["clear_margin_pct"]
        trend = float(e["trend_pct_per_min"])
        if ctx.rising:
            rel, excess = ("≤", point - v) if below_side else ("≥", v - point)
            head = f"tank level {fmt(v)} % at {ctx.where} {rel} {name} {fmt(point)} % by {fmt(excess)} %"
        else:
            clear = point + margin if below_side else point - margin
            rel = ">" if below_side else "<"
            point_text = f"{name} clear point {fmt(clear)} %" if margin > 0 else f"{name} {fmt(point)} %"
            head = f"tank level {fmt(v)} % at {ctx.where} {rel} {point_text}"
        detail = ""
        if ctx.rising and k == 4:
            detail = (
                f", still rising {fmt(trend)} %/min over {fmt(sp['trend_window_s'], 0)} s "
                f"(≥ {fmt(sp['rising_pct_per_min'])} %/min): inflow not stopped, overfill"
            )
        elif ctx.rising and k == 3:
            detail = ": high-high, emergency shut-off should act"
        elif math.isfinite(trend) and ctx.rising:
            detail = f", trend {fmt(trend)} %/min"
        change = f"{level_label(ctx.previous)} → {level_label(ctx.level)}"
        return f"{head} ({self.source}){detail}; {change} [rule {self.name}, sensor {ctx.sensor_id}]"
