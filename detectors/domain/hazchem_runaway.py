"""Rate of rise of tank/vessel temperature and pressure: early warning of a runaway.

domain-thresholds.md §1 lists "rate-of-rise for runaway" for tank temperature and H/HH plus pressure
drop for tank pressure, with no stored source for any number ([P]). These rules measure the rise as a
least-squares slope over a trailing window (like pipeline_pressure_drop, which it mirrors): temperature
in °C/min, pressure in % of the vessel's relief set pressure per minute, so one set of defaults fits
every vessel. Every threshold is a per-sensor parameter. The facility's major-hazard level weights the
colours (hazchem_mhs).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, TypeVar

import numpy as np
from numpy.typing import NDArray

from detectors.base import Batch, State
from detectors.domain.hazchem_mhs import MHS_KEYS, MhsWeighted
from detectors.domain.policy import LevelThresholds
from detectors.domain.ring import PointRing
from detectors.domain.rule import (
    Measures,
    SensorParamError,
    TransitionContext,
    change_reason,
    fmt,
    readings_text,
)

P = TypeVar("P")
_COMMON_KEYS: tuple[str, ...] = ("rate_window_s", "min_points", "sustain_readings")


class RateOfRise(MhsWeighted[P]):
    """Rise rate = least-squares slope over the trailing ``rate_window_s``, scaled per minute.

    Score: the rise rate in the rule's unit (positive while rising); NaN with fewer than ``min_points``
    readings in the window. A level is raised after ``sustain_readings`` consecutive readings at or
    above its rate and held while the rate stays at or above the blue rate (as pipeline_pressure_drop).
    Non-finite readings change nothing; late readings join the ring (windows end at the newest).
    """

    level_keys: ClassVar[tuple[str, str, str, str]]
    count_keys: ClassVar[tuple[str, ...]] = ("min_points", "sustain_readings")
    ring: PointRing

    @abstractmethod
    def rate_scale(self, state: State, rows: NDArray[np.int32]) -> NDArray[np.float64]:
        """Multiplier from (value units per minute) to the score's unit."""

    def _init_measure_state(self, capacity: int) -> State:
        return self.ring.init_state(capacity)

    def _check_sensor_columns(self, state: State, labels: Sequence[str]) -> None:
        super()._check_sensor_columns(state, labels)
        b, y, o, r = (state[f"sp_{k}"] for k in self.level_keys)
        checks = (
            (state["sp_rate_window_s"] <= 0, "needs rate_window_s > 0"),
            (state["sp_min_points"] < 2, "needs min_points ≥ 2"),
            ((b <= 0) | (y < b) | (o < y) | (r < o), f"needs 0 < {' ≤ '.join(self.level_keys)}"),
        )
        self._reject_first_bad(checks, labels)

    def _measure(self, state: State, batch: Batch, steps: list[NDArray[np.int64]]) -> Measures:
        n = len(batch)
        x = self.input_values(batch)
        valid = np.isfinite(x)
        slope = np.full(n, np.nan)
        points = np.zeros(n, dtype=np.int64)
        for idx in steps:
            ok = idx[valid[idx]]
            if ok.size:
                self.ring.push(state, batch.rows[ok], batch.ts_ms[ok], x[ok])
            rows = batch.rows[idx]
            window_ms = (state["sp_rate_window_s"][rows] * 1000.0).astype(np.int64)
            slope[idx], pts, span_ms = self.ring.window_slope(state, rows, window_ms)
            points[idx] = np.where(2 * span_ms >= window_ms, pts, 0)  # a fit over half the window at least
        rows = batch.rows
        per_min = slope * 60.0
        enough = points >= state["sp_min_points"][rows]
        rate = np.where(enough, per_min * self.rate_scale(state, rows), np.nan)
        return Measures(
            score=np.where(valid, rate, np.nan),
            per_level=np.repeat(rate[:, None], 4, axis=1),
            valid=valid,
            extra={"value": x, "units_per_min": per_min, "points": points},
        )

    def _thresholds(self, state: State, rows: NDArray[np.int32]) -> LevelThresholds:
        set_points = np.stack([state[f"sp_{k}"][rows] for k in self.level_keys], axis=1)
        clear = np.repeat(set_points[:, :1], 4, axis=1)
        return LevelThresholds(set_points, clear, state["sp_sustain_readings"][rows])

    def window_text(self, ctx: TransitionContext) -> str:
        e, sp = ctx.extra, ctx.sp
        if not math.isfinite(ctx.score):
            return (
                f"; only {readings_text(e['points'])} in the {fmt(sp['rate_window_s'], 0)} s window "
                f"(needs {int(sp['min_points'])}), rate not computable"
            )
        text = f", fit over {readings_text(e['points'])} in {fmt(sp['rate_window_s'], 0)} s"
        if ctx.rising:
            text += f", {int(ctx.sustain)} consecutive readings"
        return text


@dataclass(frozen=True, slots=True)
class TankTemperatureRiseParams:
    """``max_points`` is rule-wide (ring size); the rest are per-sensor defaults."""

    max_points: int = 64
    rate_window_s: float = 300.0
    min_points: float = 5
    blue_c_per_min: float = 0.25
    yellow_c_per_min: float = 0.5
    orange_c_per_min: float = 1.0
    red_c_per_min: float = 2.0
    sustain_readings: float = 3
    high_c: float = math.nan
    mhs_level: float = 0.0
    r_value: float = math.nan


class TankTemperatureRise(RateOfRise[TankTemperatureRiseParams]):
    """Temperature rise rate in °C/min (runaway early warning); ``high_c`` (H) only informs the reason."""

    name = "tank_temperature_rise"
    kinds: ClassVar[tuple[str, ...]] = ("tank_temperature",)
    source = "rate-of-rise for runaway [P], domain-thresholds §1"
    unit = "°C/min"
    level_keys = ("blue_c_per_min", "yellow_c_per_min", "orange_c_per_min", "red_c_per_min")
    sensor_keys: ClassVar[tuple[str, ...]] = (*_COMMON_KEYS, *level_keys, "high_c", *MHS_KEYS)

    def __init__(self, params: TankTemperatureRiseParams | None = None) -> None:
        super().__init__(params or TankTemperatureRiseParams())
        self.ring = PointRing("temp", self.params.max_points)

    @classmethod
    def conformance_examples(cls) -> Sequence[TankTemperatureRise]:
        return (cls(TankTemperatureRiseParams(max_points=8, min_points=3, sustain_readings=1)),)

    def rate_scale(self, state: State, rows: NDArray[np.int32]) -> NDArray[np.float64]:
        return np.ones(rows.size)

    def describe_levels(self, ctx: TransitionContext) -> str:
        e, sp = ctx.extra, ctx.sp
        detail = self.window_text(ctx)
        v, per_min, high = float(e["value"]), float(e["units_per_min"]), sp["high_c"]
        if math.isfinite(ctx.score):
            detail = f"; now {fmt(v, 1)} °C{detail}"
            if ctx.rising and math.isfinite(high) and v < high and per_min > 0:
                detail += f"; reaches H {fmt(high, 1)} °C in {fmt((high - v) / per_min, 0)} min at this rate"
            elif ctx.rising and math.isfinite(high) and v >= high:
                detail += f"; already above H {fmt(high, 1)} °C"
        return change_reason(
            ctx,
            self.name,
            what=("temperature rise",) * 4,
            set_names=("blue rate", "yellow rate", "orange rate", "red rate"),
            unit=self.unit,
            source=self.source,
            detail=detail,
        )


@dataclass(frozen=True, slots=True)
class TankPressureRiseParams:
    """``max_points`` is rule-wide (ring size); the rest are per-sensor defaults."""

    max_points: int = 64
    relief_set_mpa: float = 1.0
    rate_window_s: float = 300.0
    min_points: float = 5
    blue_pct_per_min: float = 0.5
    yellow_pct_per_min: float = 1.0
    orange_pct_per_min: float = 2.0
    red_pct_per_min: float = 5.0
    sustain_readings: float = 3
    mhs_level: float = 0.0
    r_value: float = math.nan


class TankPressureRise(RateOfRise[TankPressureRiseParams]):
    """Pressure rise rate in % of the relief set pressure per minute (runaway, blocked vent, fire)."""

    name = "tank_pressure_rise"
    kinds: ClassVar[tuple[str, ...]] = ("tank_pressure",)
    source = "rate-of-rise for runaway [P], domain-thresholds §1"
    unit = "%/min"
    level_keys = ("blue_pct_per_min", "yellow_pct_per_min", "orange_pct_per_min", "red_pct_per_min")
    sensor_keys: ClassVar[tuple[str, ...]] = ("relief_set_mpa", *_COMMON_KEYS, *level_keys, *MHS_KEYS)

    def __init__(self, params: TankPressureRiseParams | None = None) -> None:
        super().__init__(params or TankPressureRiseParams())
        self.ring = PointRing("pres", self.params.max_points)

    @classmethod
    def conformance_examples(cls) -> Sequence[TankPressureRise]:
        return (cls(TankPressureRiseParams(max_points=8, min_points=3, sustain_readings=1)),)

    def _check_sensor_columns(self, state: State, labels: Sequence[str]) -> None:
        super()._check_sensor_columns(state, labels)
        bad = self._first_bad(state["sp_relief_set_mpa"] <= 0, labels)
        if bad is not None:
            raise SensorParamError(f"sensor {bad}: {self.name} needs relief_set_mpa > 0")

    def rate_scale(self, state: State, rows: NDArray[np.int32]) -> NDArray[np.float64]:
        return 100.0 / state["sp_relief_set_mpa"][rows]

    def describe_levels(self, ctx: TransitionContext) -> str:
        e, sp = ctx.extra, ctx.sp
        detail = self.window_text(ctx)
        v, per_min, relief = float(e["value"]), float(e["units_per_min"]), sp["relief_set_mpa"]
        if math.isfinite(ctx.score):
            detail = (
                f"; rising {fmt(per_min, 4)} MPa/min of relief set {fmt(relief, 3)} MPa, now {fmt(v, 3)} MPa"
                f"{detail}"
            )
            if ctx.rising and v < relief and per_min > 0:
                detail += (
                    f"; reaches the relief set pressure in {fmt((relief - v) / per_min, 0)} min at this rate"
                )
        return change_reason(
            ctx,
            self.name,
            what=("pressure rise",) * 4,
            set_names=("blue rate", "yellow rate", "orange rate", "red rate"),
            unit=self.unit,
            source=self.source,
            detail=detail,
        )
