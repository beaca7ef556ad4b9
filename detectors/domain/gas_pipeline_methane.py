"""Methane next to gas pipes: adjacent underground spaces (wells) and utility-tunnel gas compartments.

Both rules read %LEL (1 %vol CH4 = 20 %LEL) and share one measure: the reading, a trailing
least-squares trend, and (wells) the lowest of the last few readings for persistence.

* ``well_methane`` (manholes, valve wells, telecom/power wells): domain-thresholds.md §2 found no
  numeric tiers in any stored source; the proposed tiers ([P]) are blue ≥ 5 %LEL sustained ≥ 3
  readings, yellow ≥ 10, orange ≥ 25 (the GB/T 50493 1st-alarm bound), red ≥ 50, or ≥ 25 and rising.
  Hefei's lifeline practice judges alarms "by well type and the surrounding pipelines" ([S]): here a
  sewer (or stormwater) well with no gas main within ``gas_main_radius_m`` is treated as sewer biogas,
  not a gas leak, and its colour is capped (see :class:`WellMethane`).
* ``tunnel_methane``: GB 50838-2015 sets the gas-compartment alarm at ≤ 20 %LEL, which starts accident
  ventilation ([S]); the emergency cut-off at ≤ 25 %LEL is [M]. Colours ([P], as the two-stage gas
  mapping of §0): ½ alarm → blue, alarm → yellow, cut-off → orange, cut-off and rising (or ≥ 50 %LEL)
  → red.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, TypeVar

import numpy as np
from numpy.typing import NDArray

from detectors.base import Batch, State, copy_state
from detectors.domain.policy import SET_POINT_RTOL, LevelThresholds
from detectors.domain.ring import PointRing, take_cells
from detectors.domain.rule import (
    DomainRule,
    Measures,
    SensorParamError,
    TransitionContext,
    change_reason,
    fmt,
    level_label,
    stack_levels,
)

P = TypeVar("P")

#: well types a registry may name (``params.well_type``), coded by position; "unknown" when absent
WELL_TYPES: tuple[str, ...] = (
    "unknown",
    "gas_valve",
    "telecom",
    "power",
    "sewer",
    "stormwater",
    "water",
    "heating",
)
#: well types with a methane source of their own (sewage biogas)
BIOGAS_WELL_TYPES: frozenset[str] = frozenset({"sewer", "stormwater"})
_BIOGAS_CODES = np.array([t in BIOGAS_WELL_TYPES for t in WELL_TYPES])


def well_type_code(name: str) -> float:
    return float(WELL_TYPES.index(name))


class MethaneTrend(DomainRule[P]):
    """Shared measure: reading, trend (%LEL/min) over ``trend_window_s``, lowest of the last readings.

    A reading older than the sensor's newest, or non-finite, is invalid: it changes nothing.
    """

    ring: PointRing
    #: per-sensor key of the persistence count (None: no persistence column)
    sustain_key: ClassVar[str | None] = None

    def _init_measure_state(self, capacity: int) -> State:
        return self.ring.init_state(capacity)

    def _check_trend_columns(
        self, state: State, labels: Sequence[str]
    ) -> list[tuple[NDArray[np.bool_], str]]:
        checks = [
            (state["sp_trend_window_s"] <= 0, "needs trend_window_s > 0"),
            (state["sp_trend_min_points"] < 2, "needs trend_min_points ≥ 2"),
            (state["sp_rising_lel_per_min"] <= 0, "needs rising_lel_per_min > 0"),
            (state["sp_clear_margin_lel"] < 0, "needs clear_margin_lel ≥ 0"),
        ]
        if self.sustain_key is not None:
            checks.append(
                (
                    state[f"sp_{self.sustain_key}"] > self.ring.points,
                    f"needs {self.sustain_key} ≤ {self.ring.points}",
                )
            )
        return checks

    def _raise_first(self, checks: Sequence[tuple[NDArray[np.bool_], str]], labels: Sequence[str]) -> None:
        self._reject_first_bad(checks, labels)

    def _trend_measures(
        self, state: State, batch: Batch, steps: list[NDArray[np.int64]]
    ) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.float64], NDArray[np.float64]]:
        """``(x, valid, trend per minute, lowest of the last sustain readings)`` per reading."""
        n = len(batch)
        x = self.input_values(batch)
        valid = np.zeros(n, dtype=bool)
        slope = np.full(n, np.nan)
        points = np.zeros(n, dtype=np.int64)
        lowest = np.full(n, np.nan)
        ring = self.ring
        for idx in steps:
            rows = batch.rows[idx]
            ok = np.isfinite(x[idx]) & (batch.ts_ms[idx] >= state[ring.newest_key][rows])
            valid[idx] = ok
            if ok.any():
                ring.push(state, rows[ok], batch.ts_ms[idx][ok], x[idx][ok])
            window_ms = (state["sp_trend_window_s"][rows] * 1000.0).astype(np.int64)
            slope[idx], pts, span_ms = ring.window_slope(state, rows, window_ms)
            points[idx] = np.where(2 * span_ms >= window_ms, pts, 0)  # a fit over half the window at least
            if self.sustain_key is not None:
                lowest[idx] = self._lowest_recent(state, rows, state[f"sp_{self.sustain_key}"][rows])
        enough = points >= state["sp_trend_min_points"][batch.rows]
        trend = np.where(enough, slope * 60.0, np.nan)
        return x, valid, trend, lowest

    def _lowest_recent(
        self, state: State, rows: NDArray[np.int32], count: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Lowest of each row's last ``count`` stored readings (NaN until it has that many).

        Only the newest ``ceil(max(count))`` slots are read: a slot further back is used by no row.
        """
        ring = self.ring
        counted = count[np.isfinite(count)]
        widest = int(np.ceil(counted.max())) if counted.size else 1
        back = np.arange(min(max(widest, 1), ring.points))
        slots = (state[ring.head_key][rows][:, None] - 1 - back[None, :]) % ring.points
        recent = take_cells(state[ring.x_key], rows, slots)
        use = back[None, :] < count[:, None]
        vals = np.where(use, recent, np.inf)
        low = vals.min(axis=1)
        complete = ~np.isnan(np.where(use, recent, 0.0)).any(axis=1)
        return np.where(complete, low, np.nan)


@dataclass(frozen=True, slots=True)
class WellMethaneParams:
    """``max_points`` and ``well_type`` (of unconfigured rows) are rule-wide; the rest per sensor."""

    max_points: int = 16
    well_type: str = "unknown"
    blue_lel: float = 5.0
    yellow_lel: float = 10.0
    orange_lel: float = 25.0
    red_lel: float = 50.0
    blue_sustain_readings: float = 3
    clear_margin_lel: float = 2.0
    trend_window_s: float = 300.0
    trend_min_points: float = 3
    rising_lel_per_min: float = 1.0
    gas_main_within_m: float = math.nan
    gas_main_radius_m: float = 30.0
    biogas_ceiling_lel: float = 25.0
    biogas_cap_level: float = 2


class WellMethane(MethaneTrend[WellMethaneParams]):
    """Methane tiers in an adjacent underground space, with persistence, trend and well context.

    Levels: blue when the last ``blue_sustain_readings`` readings are all ≥ ``blue_lel``; yellow
    ≥ ``yellow_lel``; orange ≥ ``orange_lel``; red ≥ ``orange_lel`` and (≥ ``red_lel`` or rising at
    ≥ ``rising_lel_per_min`` over ``trend_window_s``). Hysteresis: a level is held down to its set
    point − ``clear_margin_lel`` (red like orange).

    Context: a sewer or stormwater well (``well_type``) whose nearest gas main (``gas_main_within_m``)
    is farther than ``gas_main_radius_m`` is a *biogas* well: methane there is sewage gas, not a gas
    leak. Its levels above ``biogas_cap_level`` (yellow) are off and the levels up to the cap need
    ``biogas_ceiling_lel`` (25 %LEL): an explosive-range atmosphere is still reported (ventilate before
    entry, tell the drainage operator) but never as a gas-leak orange/red. A sewer well with no
    distance given, or with a gas main within the radius, is judged like any other well (a leak can
    hide behind biogas). [P], documented in docs/detectors/gas_pipeline.md.
    """

    name = "well_methane"
    kinds: ClassVar[tuple[str, ...]] = ("well_methane",)
    source = "[P] tiers of domain-thresholds §2, Hefei well-type practice [S]"
    unit = "%LEL"
    sustain_key = "blue_sustain_readings"
    sensor_keys: ClassVar[tuple[str, ...]] = (
        "blue_lel",
        "yellow_lel",
        "orange_lel",
        "red_lel",
        "blue_sustain_readings",
        "clear_margin_lel",
        "trend_window_s",
        "trend_min_points",
        "rising_lel_per_min",
        "gas_main_within_m",
        "gas_main_radius_m",
        "biogas_ceiling_lel",
        "biogas_cap_level",
    )
    count_keys: ClassVar[tuple[str, ...]] = ("blue_sustain_readings", "trend_min_points")

    def __init__(self, params: WellMethaneParams | None = None) -> None:
        super().__init__(params or WellMethaneParams())
        if self.params.well_type not in WELL_TYPES:
            raise ValueError(f"{self.name}: well_type must be one of {WELL_TYPES}")
        self.ring = PointRing("ch4", self.params.max_points)

    @classmethod
    def conformance_examples(cls) -> Sequence[WellMethane]:
        return (
            cls(WellMethaneParams(max_points=4, blue_sustain_readings=2)),
            cls(
                WellMethaneParams(
                    max_points=4, well_type="sewer", gas_main_within_m=200.0, biogas_ceiling_lel=4.0
                )
            ),
        )

    def init_state(self, capacity: int) -> State:
        state = super().init_state(capacity)
        state["sp_well_type"] = np.full(capacity, well_type_code(self.params.well_type), dtype=np.float64)
        return state

    def configure(
        self, state: State, sensor_params: Sequence[Mapping[str, Any]], labels: Sequence[str]
    ) -> State:
        """As :meth:`DomainRule.configure`, plus ``params.well_type`` (one of :data:`WELL_TYPES`)."""
        if len(sensor_params) != self.capacity(state) or len(labels) != len(sensor_params):
            raise ValueError("configure needs one params mapping and one label per state row")
        pre = copy_state(state)
        for i, params in enumerate(sensor_params):
            if "well_type" not in params:
                continue
            raw = params["well_type"]
            if not isinstance(raw, str) or raw not in WELL_TYPES:
                raise SensorParamError(
                    f"sensor {labels[i]}: params.well_type must be one of {', '.join(WELL_TYPES)}, "
                    f"got {raw!r}"
                )
            pre["sp_well_type"][i] = well_type_code(raw)
        return super().configure(pre, sensor_params, labels)

    def _check_sensor_columns(self, state: State, labels: Sequence[str]) -> None:
        b, y, o, r = (state[f"sp_{c}_lel"] for c in ("blue", "yellow", "orange", "red"))
        cap = state["sp_biogas_cap_level"]
        checks = [
            (
                ~((b > 0) & (b <= y) & (y <= o) & (o <= r)),
                "needs 0 < blue_lel ≤ yellow_lel ≤ orange_lel ≤ red_lel",
            ),
            (state["sp_gas_main_within_m"] < 0, "needs gas_main_within_m ≥ 0"),
            (state["sp_gas_main_radius_m"] < 0, "needs gas_main_radius_m ≥ 0"),
            (state["sp_biogas_ceiling_lel"] <= 0, "needs biogas_ceiling_lel > 0"),
            (~np.isin(cap, (0.0, 1.0, 2.0, 3.0, 4.0)), "needs biogas_cap_level in 0..4"),
            *self._check_trend_columns(state, labels),
        ]
        self._raise_first(checks, labels)

    def biogas(self, state: State, rows: NDArray[np.int32]) -> NDArray[np.bool_]:
        """Rows judged as sewer biogas: a biogas-prone well type with no gas main within the radius."""
        prone = _BIOGAS_CODES[state["sp_well_type"][rows].astype(np.int64)]
        dist = state["sp_gas_main_within_m"][rows]
        with np.errstate(invalid="ignore"):
            far = np.isfinite(dist) & (dist > state["sp_gas_main_radius_m"][rows])
        return prone & far

    def _measure(self, state: State, batch: Batch, steps: list[NDArray[np.int64]]) -> Measures:
        x, valid, trend, lowest = self._trend_measures(state, batch, steps)
        rows = batch.rows
        with np.errstate(invalid="ignore"):
            rising = trend >= state["sp_rising_lel_per_min"][rows] * (1.0 - SET_POINT_RTOL)
            high = x >= state["sp_red_lel"][rows] * (1.0 - SET_POINT_RTOL)
        gate = np.ones((len(batch), 4), dtype=bool)
        gate[:, 3] = rising | high
        return Measures(
            score=np.where(np.isfinite(x), x, np.nan),
            per_level=stack_levels(lowest, x, x, x),
            valid=valid,
            gate=gate,
            extra={"value": x, "trend_lel_per_min": trend, "lowest": lowest, "rising": rising},
        )

    def _thresholds(self, state: State, rows: NDArray[np.int32]) -> LevelThresholds:
        b, y, o = (state[f"sp_{c}_lel"][rows] for c in ("blue", "yellow", "orange"))
        set_points = np.stack([b, y, o, o], axis=1)
        bio = self.biogas(state, rows)
        if bio.any():
            ceiling = state["sp_biogas_ceiling_lel"][rows][:, None]
            above_cap = np.arange(1, 5)[None, :] > state["sp_biogas_cap_level"][rows][:, None]
            capped = np.where(above_cap, np.nan, np.maximum(set_points, ceiling))
            set_points = np.where(bio[:, None], capped, set_points)
        clear = set_points - state["sp_clear_margin_lel"][rows][:, None]
        return LevelThresholds(set_points, clear, np.ones(rows.size, dtype=np.float64))

    def context(self, state: State, row: int, *args: Any, **kwargs: Any) -> TransitionContext:
        ctx = super().context(state, row, *args, **kwargs)
        rows = np.array([row], dtype=np.int32)
        extra = {
            **ctx.extra,
            "well_type": WELL_TYPES[int(state["sp_well_type"][row])],
            "biogas": bool(self.biogas(state, rows)[0]),
        }
        return replace(ctx, extra=extra)

    def describe(self, ctx: TransitionContext) -> str:
        e, sp = ctx.extra, ctx.sp
        well = f"{e['well_type']} well" if e["well_type"] != "unknown" else "well of unknown type"
        k = ctx.level if ctx.rising else ctx.previous
        n_sustain = int(sp["blue_sustain_readings"])
        trend = float(e["trend_lel_per_min"])
        dist = sp["gas_main_within_m"]
        if e["biogas"]:
            names = ("biogas ceiling",) * 4
            detail = (
                ""
                if not ctx.rising
                else (
                    f"; {well} with no gas main within {fmt(sp['gas_main_radius_m'], 0)} m (nearest "
                    f"{fmt(dist, 0)} m): treated as sewer biogas, not a gas leak, capped at "
                    f"{level_label(int(sp['biogas_cap_level']))} [P]; ventilate before entry, "
                    "tell the drainage operator"
                )
            )
        else:
            names = ("blue tier", "yellow tier", "orange tier", "orange tier")
            detail = ""
            if ctx.rising and k == 4:
                if float(ctx.score) >= sp["red_lel"]:
                    detail = f", at or above the red tier {fmt(sp['red_lel'], 1)} %LEL"
                else:
                    detail = (
                        f", rising {fmt(trend, 1)} %LEL/min over {fmt(sp['trend_window_s'], 0)} s "
                        f"(≥ {fmt(sp['rising_lel_per_min'], 1)} %LEL/min)"
                    )
            if ctx.rising and e["well_type"] in BIOGAS_WELL_TYPES:
                near = f"{fmt(dist, 0)} m" if math.isfinite(dist) else "at an unknown distance"
                detail += f"; gas main {near}: not ruled out as a gas leak"
            if ctx.rising:
                detail += "; check the nearby gas pipes for a leak"
        what = (f"methane (lowest of the last {n_sustain} readings)", "methane", "methane", "methane")
        return change_reason(
            replace(ctx, where=f"{ctx.where} ({well})"),
            self.name,
            what=what,
            set_names=names,
            unit=self.unit,
            source=self.source,
            detail=detail,
            digits=1,
        )


@dataclass(frozen=True, slots=True)
class TunnelMethaneParams:
    """``max_points`` is rule-wide (ring size); the rest are per-sensor defaults."""

    max_points: int = 16
    alarm_lel: float = 20.0
    cutoff_lel: float = 25.0
    prealarm_ratio: float = 0.5
    red_lel: float = 50.0
    clear_margin_lel: float = 2.0
    trend_window_s: float = 120.0
    trend_min_points: float = 3
    rising_lel_per_min: float = 1.0


class TunnelMethane(MethaneTrend[TunnelMethaneParams]):
    """Utility-tunnel gas compartment (GB 50838-2015): alarm ≤ 20 %LEL starts accident ventilation.

    Levels: blue ≥ ``prealarm_ratio`` × ``alarm_lel``; yellow ≥ ``alarm_lel`` (ventilation of this and
    the adjacent zones); orange ≥ ``cutoff_lel`` (emergency cut-off); red ≥ cut-off and (≥ ``red_lel``
    or rising at ≥ ``rising_lel_per_min`` over ``trend_window_s``). Held down to set point −
    ``clear_margin_lel`` (red like orange). No persistence: tunnel detectors report every 1-10 s.
    """

    name = "tunnel_methane"
    kinds: ClassVar[tuple[str, ...]] = ("tunnel_methane",)
    source = "GB 50838-2015"
    unit = "%LEL"
    sensor_keys: ClassVar[tuple[str, ...]] = (
        "alarm_lel",
        "cutoff_lel",
        "prealarm_ratio",
        "red_lel",
        "clear_margin_lel",
        "trend_window_s",
        "trend_min_points",
        "rising_lel_per_min",
    )
    count_keys: ClassVar[tuple[str, ...]] = ("trend_min_points",)

    def __init__(self, params: TunnelMethaneParams | None = None) -> None:
        super().__init__(params or TunnelMethaneParams())
        self.ring = PointRing("ch4", self.params.max_points)

    @classmethod
    def conformance_examples(cls) -> Sequence[TunnelMethane]:
        return (
            cls(TunnelMethaneParams(max_points=4)),
            cls(TunnelMethaneParams(max_points=4, alarm_lel=4.0, cutoff_lel=6.0)),
        )

    def _check_sensor_columns(self, state: State, labels: Sequence[str]) -> None:
        a, c, r = state["sp_alarm_lel"], state["sp_cutoff_lel"], state["sp_red_lel"]
        ratio = state["sp_prealarm_ratio"]
        checks = [
            (~((a > 0) & (a <= c) & (c <= r)), "needs 0 < alarm_lel ≤ cutoff_lel ≤ red_lel"),
            ((ratio <= 0) | (ratio > 1), "needs 0 < prealarm_ratio ≤ 1"),
            *self._check_trend_columns(state, labels),
        ]
        self._raise_first(checks, labels)

    def _measure(self, state: State, batch: Batch, steps: list[NDArray[np.int64]]) -> Measures:
        x, valid, trend, _ = self._trend_measures(state, batch, steps)
        rows = batch.rows
        with np.errstate(invalid="ignore"):
            rising = trend >= state["sp_rising_lel_per_min"][rows] * (1.0 - SET_POINT_RTOL)
            high = x >= state["sp_red_lel"][rows] * (1.0 - SET_POINT_RTOL)
        gate = np.ones((len(batch), 4), dtype=bool)
        gate[:, 3] = rising | high
        return Measures(
            score=np.where(np.isfinite(x), x, np.nan),
            per_level=np.repeat(x[:, None], 4, axis=1),
            valid=valid,
            gate=gate,
            extra={"value": x, "trend_lel_per_min": trend, "rising": rising},
        )

    def _thresholds(self, state: State, rows: NDArray[np.int32]) -> LevelThresholds:
        a, c = state["sp_alarm_lel"][rows], state["sp_cutoff_lel"][rows]
        set_points = np.stack([state["sp_prealarm_ratio"][rows] * a, a, c, c], axis=1)
        clear = set_points - state["sp_clear_margin_lel"][rows][:, None]
        return LevelThresholds(set_points, clear, np.ones(rows.size, dtype=np.float64))

    def describe(self, ctx: TransitionContext) -> str:
        e, sp = ctx.extra, ctx.sp
        k = ctx.level if ctx.rising else ctx.previous
        detail = ""
        if ctx.rising:
            if k == 4:
                if float(ctx.score) >= sp["red_lel"]:
                    detail = f", at or above {fmt(sp['red_lel'], 1)} %LEL (red [P])"
                else:
                    trend = float(e["trend_lel_per_min"])
                    detail = (
                        f", rising {fmt(trend, 1)} %LEL/min over {fmt(sp['trend_window_s'], 0)} s despite "
                        "ventilation"
                    )
            action = {
                1: "; pre-alarm (½ of the alarm set point, [P]): check the compartment",
                2: "; accident ventilation of this and the adjacent zones should start",
                3: "; emergency cut-off of the gas pipe in the compartment ([M] 25 %LEL)",
                4: "; emergency cut-off, evacuate the tunnel and keep ignition sources off",
            }[k]
            detail += action
        return change_reason(
            ctx,
            self.name,
            what=("methane in the gas compartment",) * 4,
            set_names=("pre-alarm", "alarm", "cut-off", "cut-off"),
            unit=self.unit,
            source=self.source,
            detail=detail,
            digits=1,
        )
