"""Geohazard rules: landslide warning by the improved tangent angle (Xu Qiang et al., 2009).

Velocity normalisation turns cumulative displacement S(t) into a time-like ordinate T = S / v̄, where v̄
is the rate of the constant-velocity (secondary creep) stage; the tangent angle of the T-t curve is
α = arctan(v / v̄), so α = 45° at constant velocity. Criteria ([S] per domain-thresholds.md §3.1, Table 1
of the EURASIP JWCN 2021 paper quoting Xu Qiang's criteria): initial acceleration 45° < α < 80° → yellow,
mid acceleration 80° ≤ α < 85° → orange, critical sliding α ≥ 85° → red. Constant velocity (α ≈ 45°)
stays normal in v1 (the "blue at most" stage is not used) and the yellow set point sits ``margin_deg``
above 45° so noise around constant velocity does not warn. Paper reference: 许强 等, 地质通报 2009,
28(4):501-505 ([M], bibliographic details from memory).

The velocity v is the least-squares slope of displacement against time over the sensor's readings in
the trailing ``fit_window_s`` (smoothing: raw GNSS noise makes point-to-point angles jump above 80°,
domain-thresholds.md §3.1 practical notes), from a ring of the last ``max_points`` readings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from detectors.base import Batch, State
from detectors.domain.policy import LevelThresholds
from detectors.domain.ring import PointRing
from detectors.domain.rule import (
    DomainRule,
    Measures,
    SensorParamError,
    TransitionContext,
    change_reason,
    fmt,
    level_label,
    readings_text,
)


@dataclass(frozen=True, slots=True)
class LandslideTangentAngleParams:
    """``max_points`` is rule-wide (it shapes the ring); the rest are per-sensor defaults.

    ``orange_deg``/``red_deg`` are optional keys beyond v1's spec (defaults are the published criteria).
    """

    max_points: int = 128
    v_bar_mm_per_h: float = 0.0
    fit_window_s: float = 600.0
    min_points: float = 10
    noise_floor_mm_per_h: float = 0.05
    margin_deg: float = 10.0
    persist_readings: float = 3
    orange_deg: float = 80.0
    red_deg: float = 85.0


class LandslideTangentAngle(DomainRule[LandslideTangentAngleParams]):
    """Improved tangent angle α = degrees(arctan(v / v̄)) of cumulative displacement, with persistence.

    Score: α in degrees; NaN (rule inactive, level normal) while v̄ < ``noise_floor_mm_per_h`` (v̄ absent
    or 0 included), or while the fit window holds fewer than ``min_points`` readings or spans less than
    half of ``fit_window_s``. A level is raised after ``persist_readings`` consecutive readings at or above
    its angle and falls as soon as α drops below its angle. Non-finite readings change nothing.
    """

    name = "landslide_tangent_angle"
    kinds: ClassVar[tuple[str, ...]] = ("gnss_displacement", "crack_meter")
    source = "improved tangent angle, Xu Qiang et al. 2009"
    unit = "°"
    sensor_keys: ClassVar[tuple[str, ...]] = (
        "v_bar_mm_per_h",
        "fit_window_s",
        "min_points",
        "noise_floor_mm_per_h",
        "margin_deg",
        "persist_readings",
        "orange_deg",
        "red_deg",
    )
    count_keys: ClassVar[tuple[str, ...]] = ("min_points", "persist_readings")

    def __init__(self, params: LandslideTangentAngleParams | None = None) -> None:
        super().__init__(params or LandslideTangentAngleParams())
        self.ring = PointRing("disp", self.params.max_points)

    @classmethod
    def conformance_examples(cls) -> Sequence[LandslideTangentAngle]:
        # short rings and windows: warm within a few readings, small enough for a million sensors
        return (
            cls(
                LandslideTangentAngleParams(max_points=8, v_bar_mm_per_h=1.0, fit_window_s=60.0, min_points=3)
            ),
        )

    def _init_measure_state(self, capacity: int) -> State:
        return self.ring.init_state(capacity)

    def _check_sensor_columns(self, state: State, labels: Sequence[str]) -> None:
        yellow = 45.0 + state["sp_margin_deg"]
        orange, red = state["sp_orange_deg"], state["sp_red_deg"]
        checks = (
            (state["sp_v_bar_mm_per_h"] < 0, "needs v_bar_mm_per_h ≥ 0"),
            (state["sp_fit_window_s"] <= 0, "needs fit_window_s > 0"),
            (state["sp_min_points"] < 2, "needs min_points ≥ 2"),
            (
                (yellow <= 45) | (yellow > orange) | (orange > red) | (red >= 90),
                "needs 45 < 45 + margin_deg ≤ orange_deg ≤ red_deg < 90",
            ),
        )
        for mask, message in checks:
            bad = self._first_bad(mask, labels)
            if bad is not None:
                raise SensorParamError(f"sensor {bad}: {self.name} {message}")

    def _measure(self, state: State, batch: Batch, steps: list[NDArray[np.int64]]) -> Measures:
        n = len(batch)
        x = self.input_values(batch)
        valid = np.isfinite(x)
        v_mm_per_h = np.full(n, np.nan)
        points = np.zeros(n, dtype=np.int64)
        span_ms = np.zeros(n, dtype=np.int64)
        for idx in steps:
            ok = idx[valid[idx]]
            if ok.size:
                self.ring.push(state, batch.rows[ok], batch.ts_ms[ok], x[ok])
            rows = batch.rows[idx]
            window_ms = (state["sp_fit_window_s"][rows] * 1000.0).astype(np.int64)
            slope, points[idx], span_ms[idx] = self.ring.window_slope(state, rows, window_ms)
            v_mm_per_h[idx] = slope * 3600.0
        rows = batch.rows
        v_bar = state["sp_v_bar_mm_per_h"][rows]
        active = (
            (v_bar >= state["sp_noise_floor_mm_per_h"][rows])
            & (v_bar > 0)
            & (points >= state["sp_min_points"][rows])
            & (span_ms * 2 >= state["sp_fit_window_s"][rows] * 1000.0)
            & np.isfinite(v_mm_per_h)
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            alpha = np.where(active, np.degrees(np.arctan(v_mm_per_h / v_bar)), np.nan)
        return Measures(
            score=np.where(valid, alpha, np.nan),
            per_level=np.repeat(alpha[:, None], 4, axis=1),
            valid=valid,
            extra={"v_mm_per_h": v_mm_per_h, "points": points, "span_ms": span_ms},
        )

    def _thresholds(self, state: State, rows: NDArray[np.int32]) -> LevelThresholds:
        yellow = 45.0 + state["sp_margin_deg"][rows]
        set_points = np.stack(
            [np.full(rows.size, np.nan), yellow, state["sp_orange_deg"][rows], state["sp_red_deg"][rows]],
            axis=1,
        )
        return LevelThresholds(set_points, set_points, state["sp_persist_readings"][rows])

    def describe(self, ctx: TransitionContext) -> str:
        e, sp = ctx.extra, ctx.sp
        if not np.isfinite(ctx.score):
            if sp["v_bar_mm_per_h"] < sp["noise_floor_mm_per_h"] or sp["v_bar_mm_per_h"] <= 0:
                why = (
                    f"v̄ {fmt(sp['v_bar_mm_per_h'])} mm/h is unset or below the noise floor "
                    f"{fmt(sp['noise_floor_mm_per_h'])} mm/h"
                )
            else:
                why = (
                    f"{readings_text(e['points'])} spanning {fmt(e['span_ms'] / 1000, 0)} s in the "
                    f"{fmt(sp['fit_window_s'], 0)} s fit window (needs ≥ {int(sp['min_points'])} "
                    f"readings over ≥ {fmt(sp['fit_window_s'] / 2, 0)} s)"
                )
            return (
                f"tangent angle not computable at {ctx.where}: {why}; level cleared "
                f"({self.source}); {level_label(ctx.previous)} → {level_label(ctx.level)} "
                f"[rule {self.name}, sensor {ctx.sensor_id}]"
            )
        ratio = e["v_mm_per_h"] / sp["v_bar_mm_per_h"]
        detail = (
            f"; v {fmt(e['v_mm_per_h'], 3)} mm/h = {fmt(ratio, 1)} × v̄ {fmt(sp['v_bar_mm_per_h'], 3)} mm/h "
            f"over {readings_text(e['points'])} in {fmt(sp['fit_window_s'], 0)} s"
        )
        if ctx.rising:
            detail += f", {int(ctx.sustain)} consecutive readings"
        return change_reason(
            ctx,
            self.name,
            what=("tangent angle",) * 4,
            set_names=("-", "initial-acceleration angle", "mid-acceleration angle", "critical-sliding angle"),
            unit=self.unit,
            source=self.source,
            detail=detail,
            digits=1,
        )
