"""Gas-pipeline rules: pressure-drop rate (dP/dt).

domain-thresholds.md §2 lists a pressure-drop rule for pipeline pressure (dP/dt below a threshold,
sustained for a window) with the alarm threshold as our proposal ([P]: no standard value was found).
This rule measures the drop as a percentage of the sensor's nominal pressure per minute, so one set of
defaults fits every pressure class; every threshold is a per-sensor parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from detectors.base import Batch, State
from detectors.domain.policy import LevelThresholds
from detectors.domain.ring import RECENT_POINTS, PointRing
from detectors.domain.rule import (
    DomainRule,
    Measures,
    TransitionContext,
    change_reason,
    fmt,
    readings_text,
)


@dataclass(frozen=True, slots=True)
class PipelinePressureDropParams:
    """``max_points`` is rule-wide (it shapes the ring); the rest are per-sensor defaults."""

    max_points: int = 64
    nominal_kpa: float = 300.0
    rate_window_s: float = 60.0
    min_points: float = 5
    blue_pct_per_min: float = 0.5
    yellow_pct_per_min: float = 1.0
    orange_pct_per_min: float = 2.0
    red_pct_per_min: float = 5.0
    sustain_readings: float = 3


class PipelinePressureDrop(DomainRule[PipelinePressureDropParams]):
    """Drop rate = −(least-squares slope over the trailing ``rate_window_s``) as % of nominal per minute.

    Score: the drop rate in %/min (positive while pressure falls); NaN with fewer than ``min_points``
    readings in the window. A level is raised after ``sustain_readings`` consecutive readings at or above
    its rate; the alarm holds until the rate falls below the blue threshold. Non-finite readings change
    nothing. With more than ``max_points`` readings per window only the newest ``max_points`` count.
    """

    name = "pipeline_pressure_drop"
    kinds: ClassVar[tuple[str, ...]] = ("pipeline_pressure",)
    source = "dP/dt pressure-drop rule [P], domain-thresholds §2"
    unit = "%/min"
    sensor_keys: ClassVar[tuple[str, ...]] = (
        "nominal_kpa",
        "rate_window_s",
        "min_points",
        "blue_pct_per_min",
        "yellow_pct_per_min",
        "orange_pct_per_min",
        "red_pct_per_min",
        "sustain_readings",
    )
    count_keys: ClassVar[tuple[str, ...]] = ("min_points", "sustain_readings")
    level_keys = ("blue_pct_per_min", "yellow_pct_per_min", "orange_pct_per_min", "red_pct_per_min")

    def __init__(self, params: PipelinePressureDropParams | None = None) -> None:
        super().__init__(params or PipelinePressureDropParams())
        self.ring = PointRing("pres", self.params.max_points, recent=RECENT_POINTS)

    @classmethod
    def conformance_examples(cls) -> Sequence[PipelinePressureDrop]:
        return (cls(PipelinePressureDropParams(max_points=8, min_points=3, sustain_readings=1)),)

    def _init_measure_state(self, capacity: int) -> State:
        return self.ring.init_state(capacity)

    def _check_sensor_columns(self, state: State, labels: Sequence[str]) -> None:
        b, y, o, r = (state[f"sp_{k}"] for k in self.level_keys)
        checks = (
            (state["sp_nominal_kpa"] <= 0, "needs nominal_kpa > 0"),
            (state["sp_rate_window_s"] <= 0, "needs rate_window_s > 0"),
            (state["sp_min_points"] < 2, "needs min_points ≥ 2"),
            ((b <= 0) | (y < b) | (o < y) | (r < o), "needs 0 < blue ≤ yellow ≤ orange ≤ red pct_per_min"),
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
            slope[idx], points[idx], _ = self.ring.window_slope(state, rows, window_ms)
        rows = batch.rows
        kpa_per_min = slope * 60.0
        enough = points >= state["sp_min_points"][rows]
        drop_pct = np.where(enough, -kpa_per_min / state["sp_nominal_kpa"][rows] * 100.0, np.nan)
        return Measures(
            score=np.where(valid, drop_pct, np.nan),
            per_level=np.repeat(drop_pct[:, None], 4, axis=1),
            valid=valid,
            extra={"kpa_per_min": kpa_per_min, "points": points},
        )

    def _thresholds(self, state: State, rows: NDArray[np.int32]) -> LevelThresholds:
        set_points = np.stack([state[f"sp_{k}"][rows] for k in self.level_keys], axis=1)
        clear = np.repeat(set_points[:, :1], 4, axis=1)
        return LevelThresholds(set_points, clear, state["sp_sustain_readings"][rows])

    def describe(self, ctx: TransitionContext) -> str:
        e, sp = ctx.extra, ctx.sp
        if not np.isfinite(ctx.score):
            detail = (
                f"; only {readings_text(e['points'])} in the {fmt(sp['rate_window_s'], 0)} s window "
                f"(needs {int(sp['min_points'])}), rate not computable"
            )
        else:
            detail = (
                f"; falling {fmt(-e['kpa_per_min'])} kPa/min of nominal {fmt(sp['nominal_kpa'])} kPa "
                f"over {readings_text(e['points'])} in {fmt(sp['rate_window_s'], 0)} s"
            )
            if ctx.rising:
                detail += f", {int(ctx.sustain)} consecutive readings"
        return change_reason(
            ctx,
            self.name,
            what=("pressure drop",) * 4,
            set_names=("blue rate", "yellow rate", "orange rate", "red rate"),
            unit=self.unit,
            source=self.source,
            detail=detail,
        )
