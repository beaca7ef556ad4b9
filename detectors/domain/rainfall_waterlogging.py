"""Rainfall rule: urban waterlogging depth tiers with a rapid-rise rule for underpasses.

Depth of standing water (cm) on a road or in an underpass (domain-thresholds.md §4.3). 15 cm is the
GB 51222-2017 design target (water on one traffic lane not above 15 cm, [M]); the tiers are practice
[P]: blue ≥ 15 cm, yellow ≥ 27 cm (about the exhaust / half-wheel height used for car passability),
orange ≥ 40 cm, red ≥ 50 cm. In an underpass (registry ``location: underpass``) any water rising faster
than 10 cm per 10 min is red whatever its depth ([P]): underpasses fill fast and drown cars.

The rise is the least-squares slope of depth over the trailing ``rise_window_s`` (time bins, exact at
any reporting rate, :mod:`detectors.domain.geohazard_fit`), in cm per 10 min; it needs ``min_points``
readings spanning at least half the window. "Any water" means at least ``underpass_wet_cm`` (sensor
noise of a dry floor stays below it). Depth levels are raised after ``persist_readings`` consecutive
readings (a car passing under an ultrasonic sensor is one reading) and fall below set point −
``clear_margin_cm``; the rapid-rise red falls back to the depth tiers once the rise stops.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from detectors.base import Batch, State
from detectors.domain.geohazard_fit import FitBins
from detectors.domain.policy import LevelThresholds
from detectors.domain.rule import (
    DomainRule,
    Measures,
    TransitionContext,
    change_reason,
    fmt,
    level_label,
)

LEVEL_KEYS = ("blue_cm", "yellow_cm", "orange_cm", "red_cm")
TEN_MIN_S = 600.0


@dataclass(frozen=True, slots=True)
class WaterloggingParams:
    """``slots_per_window`` is rule-wide (it shapes the state); the rest are per-sensor defaults."""

    slots_per_window: int = 10
    blue_cm: float = 15.0
    yellow_cm: float = 27.0
    orange_cm: float = 40.0
    red_cm: float = 50.0
    clear_margin_cm: float = 2.0
    underpass: float = 0.0
    underpass_wet_cm: float = 3.0
    rise_cm_per_10min: float = 10.0
    rise_window_s: float = 600.0
    min_points: float = 2
    persist_readings: float = 2

    def __post_init__(self) -> None:
        if self.slots_per_window < 1:
            raise ValueError(f"slots_per_window must be ≥ 1, got {self.slots_per_window}")


class Waterlogging(DomainRule[WaterloggingParams]):
    """Water depth tiers (cm), plus red for rapidly rising water in an underpass (module docstring)."""

    name = "waterlogging"
    kinds: ClassVar[tuple[str, ...]] = ("water_depth",)
    source = "waterlogging depth tiers (15 cm GB 51222-2017 [M]; 27/40/50 cm and underpass rise [P])"
    unit = "cm"
    sensor_keys: ClassVar[tuple[str, ...]] = (
        *LEVEL_KEYS,
        "clear_margin_cm",
        "underpass",
        "underpass_wet_cm",
        "rise_cm_per_10min",
        "rise_window_s",
        "min_points",
        "persist_readings",
    )
    count_keys: ClassVar[tuple[str, ...]] = ("min_points", "persist_readings")

    def __init__(self, params: WaterloggingParams | None = None) -> None:
        super().__init__(params or WaterloggingParams())
        k = self.params.slots_per_window
        self.bins = FitBins("wl_fit", k, windows=((0, k),))

    @classmethod
    def conformance_examples(cls) -> Sequence[Waterlogging]:
        small = WaterloggingParams(slots_per_window=2, rise_window_s=10.0, blue_cm=1.0, persist_readings=1)
        return (cls(small), cls(WaterloggingParams(slots_per_window=2, underpass=1.0, rise_window_s=10.0)))

    def configure(
        self, state: State, sensor_params: Sequence[Mapping[str, Any]], labels: Sequence[str]
    ) -> State:
        """As :meth:`DomainRule.configure`; ``location: underpass`` (a string) sets ``underpass`` to 1."""
        mapped = [
            {**p, "underpass": 1.0 if p.get("location") == "underpass" else 0.0}
            if "location" in p and "underpass" not in p
            else p
            for p in sensor_params
        ]
        return super().configure(state, mapped, labels)

    def _init_measure_state(self, capacity: int) -> State:
        return self.bins.init_state(capacity)

    def _check_sensor_columns(self, state: State, labels: Sequence[str]) -> None:
        sets = [state[f"sp_{k}"] for k in LEVEL_KEYS]
        ordered = (sets[0] > 0) & (sets[0] <= sets[1]) & (sets[1] <= sets[2]) & (sets[2] <= sets[3])
        window_ms = state["sp_rise_window_s"] * 1000.0
        checks = (
            (~ordered, "needs 0 < blue_cm ≤ yellow_cm ≤ orange_cm ≤ red_cm"),
            (state["sp_clear_margin_cm"] < 0, "needs clear_margin_cm ≥ 0"),
            (~np.isin(state["sp_underpass"], (0.0, 1.0)), "needs underpass 0 or 1"),
            (state["sp_underpass_wet_cm"] < 0, "needs underpass_wet_cm ≥ 0"),
            (state["sp_rise_cm_per_10min"] <= 0, "needs rise_cm_per_10min > 0"),
            (window_ms < self.params.slots_per_window, "needs a longer rise_window_s"),
            (state["sp_min_points"] < 2, "needs min_points ≥ 2"),
        )
        self._reject_first_bad(checks, labels)

    def _measure(self, state: State, batch: Batch, steps: list[NDArray[np.int64]]) -> Measures:
        n = len(batch)
        x = self.input_values(batch)
        finite = np.isfinite(x)
        valid = np.zeros(n, dtype=bool)
        rise = np.full(n, np.nan)
        k = self.params.slots_per_window
        for idx in steps:
            rows, ts = batch.rows[idx], batch.ts_ms[idx]
            ok = finite[idx] & (ts >= self.bins.newest(state, rows))  # a stale depth is not "now"
            valid[idx] = ok
            if ok.any():
                r = rows[ok]
                bin_ms = (state["sp_rise_window_s"][r] * 1000.0).astype(np.int64) // k
                self.bins.push(state, r, ts[ok], x[idx][ok], bin_ms)
            fit = self.bins.fit(state, rows, 0, k)
            window_ms = state["sp_rise_window_s"][rows] * 1000.0
            ready = (fit.points >= state["sp_min_points"][rows]) & (fit.span_ms * 2 >= window_ms)
            rise[idx] = np.where(ready, fit.slope * TEN_MIN_S, np.nan)
        rows = batch.rows
        depth = np.where(finite, x, np.nan)
        red = state["sp_red_cm"][rows]
        limit = state["sp_rise_cm_per_10min"][rows]
        with np.errstate(invalid="ignore"):
            fast = (
                (state["sp_underpass"][rows] == 1.0)
                & (depth >= state["sp_underpass_wet_cm"][rows])
                & (rise > limit * (1.0 + 1e-9))  # "faster than": strictly above
            )
        red_measure = np.where(fast, np.maximum(depth, red), depth)
        per_level = np.stack([depth, depth, depth, red_measure], axis=1)
        return Measures(
            score=np.where(valid, depth, np.nan),
            per_level=per_level,
            valid=valid,
            extra={"rise_cm_per_10min": rise, "rapid_rise": fast},
        )

    def _thresholds(self, state: State, rows: NDArray[np.int32]) -> LevelThresholds:
        set_points = np.stack([state[f"sp_{k}"][rows] for k in LEVEL_KEYS], axis=1)
        clear = set_points - state["sp_clear_margin_cm"][rows][:, None]
        return LevelThresholds(set_points, clear, state["sp_persist_readings"][rows])

    def describe(self, ctx: TransitionContext) -> str:
        e, sp = ctx.extra, ctx.sp
        rise = float(e["rise_cm_per_10min"])
        if not np.isfinite(rise):
            rise_text = "rise not yet known"
        else:
            rise_text = f"{'rising' if rise >= 0 else 'falling'} {fmt(abs(rise), 1)} cm per 10 min"
        place = "underpass" if sp["underpass"] == 1.0 else "road"
        if ctx.rising and ctx.level == 4 and e["rapid_rise"] and ctx.score < float(ctx.set_points[3]):
            limit = float(sp["rise_cm_per_10min"])
            change = f"{level_label(ctx.previous)} → {level_label(ctx.level)}"
            return (
                f"water in the underpass at {ctx.where} {rise_text} > underpass rapid-rise limit "
                f"{fmt(limit, 1)} cm per 10 min by {fmt(rise - limit, 1)} cm, depth {fmt(ctx.score, 1)} cm "
                f"({self.source}); close the underpass; {change} [rule {self.name}, sensor {ctx.sensor_id}]"
            )
        detail = f"; {place}, {rise_text}"
        if ctx.rising:
            detail += f", {int(ctx.sustain)} consecutive readings"
        return change_reason(
            ctx,
            self.name,
            what=("water depth",) * 4,
            set_names=("blue depth", "yellow depth", "orange depth", "red depth"),
            unit=self.unit,
            source=self.source,
            detail=detail,
            digits=1,
        )
