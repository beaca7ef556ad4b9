"""Gas pipeline pressure-drop rate against the sensor's own baseline: the drop in units of its rate noise.

domain-thresholds.md §2, detection rule (b): "dP/dt < −k·σ(baseline) sustained for a window" ([P], no
standard value). ``pipeline_pressure_drop`` compares the drop rate with fixed %/min set points; this rule
refines it per sensor: it learns the mean and the standard deviation σ of the sensor's own drop-rate
estimates in normal operation and scores each reading's drop rate as z = (rate − mean) / σ. A quiet
transmitter thus reveals a slow leak well below the fixed blue rate, and a noisy one does not alarm on
its own noise. A physical floor (``floor_pct_per_min``) keeps a sensor that is almost noise-free from
alarming on drops no operator would act on. The colours are 6 σ apart at least: a steady leak's z still
wanders by about ±3 over the readings of an incident (its rate estimate has unit variance in these units),
and a colour should not flicker on one steady leak.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from detectors.base import Batch, State
from detectors.domain.policy import SET_POINT_RTOL, LevelThresholds
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
class PipelinePressureDropSigmaParams:
    """``max_points`` is rule-wide (ring size); the rest are per-sensor defaults."""

    max_points: int = 64
    nominal_kpa: float = 300.0
    rate_window_s: float = 60.0
    min_points: float = 5
    warmup_readings: float = 240
    learn_readings: float = 2000
    learn_clip_sigma: float = 4.0
    min_sigma_pct_per_min: float = 0.005
    floor_pct_per_min: float = 0.1
    blue_sigma: float = 6.0
    yellow_sigma: float = 12.0
    orange_sigma: float = 20.0
    red_sigma: float = 30.0
    sigma_sustain_readings: float = 3


class PipelinePressureDropSigma(DomainRule[PipelinePressureDropSigmaParams]):
    """Drop rate (least-squares, % of nominal per minute, as pipeline_pressure_drop) in units of σ.

    Learning, per sensor and reading in time order: the drop rate r (NaN with fewer than ``min_points``
    readings in ``rate_window_s``) updates an exponentially weighted mean μ and variance σ² with weight
    max(1/n, 1/``learn_readings``) (a plain average over the first readings), unless the sensor is warm
    (``warmup_readings`` rates learned) and |r − μ| ≥ ``learn_clip_sigma`` · σ: a leak is never learned
    as normal. σ is at least ``min_sigma_pct_per_min`` (quantised readings).

    Score: z = (r − μ) / σ, computed before the reading is learned; NaN while not warm. A level is
    raised after ``sigma_sustain_readings`` consecutive readings at or above its z and with r ≥
    ``floor_pct_per_min``; every level clears when z falls below ``blue_sigma``. Non-finite readings
    change nothing; late readings join the ring (windows end at the sensor's newest reading).
    """

    name = "pipeline_pressure_drop_sigma"
    kinds: ClassVar[tuple[str, ...]] = ("pipeline_pressure",)
    source = "dP/dt < −k·σ(baseline) [P], domain-thresholds §2"
    unit = "σ"
    level_keys = ("blue_sigma", "yellow_sigma", "orange_sigma", "red_sigma")
    sensor_keys: ClassVar[tuple[str, ...]] = (
        "nominal_kpa",
        "rate_window_s",
        "min_points",
        "warmup_readings",
        "learn_readings",
        "learn_clip_sigma",
        "min_sigma_pct_per_min",
        "floor_pct_per_min",
        *level_keys,
        "sigma_sustain_readings",
    )
    count_keys: ClassVar[tuple[str, ...]] = (
        "min_points",
        "warmup_readings",
        "learn_readings",
        "sigma_sustain_readings",
    )

    def __init__(self, params: PipelinePressureDropSigmaParams | None = None) -> None:
        super().__init__(params or PipelinePressureDropSigmaParams())
        self.ring = PointRing("pres", self.params.max_points, recent=RECENT_POINTS)

    @classmethod
    def conformance_examples(cls) -> Sequence[PipelinePressureDropSigma]:
        return (
            cls(
                PipelinePressureDropSigmaParams(
                    max_points=8, min_points=3, warmup_readings=4, sigma_sustain_readings=1, nominal_kpa=5.0
                )
            ),
        )

    def _init_measure_state(self, capacity: int) -> State:
        return {
            **self.ring.init_state(capacity),
            "learn_n": np.zeros(capacity, dtype=np.int64),
            "learn_mean": np.zeros(capacity, dtype=np.float64),
            "learn_var": np.zeros(capacity, dtype=np.float64),
        }

    def _check_sensor_columns(self, state: State, labels: Sequence[str]) -> None:
        b, y, o, r = (state[f"sp_{k}"] for k in self.level_keys)
        checks = (
            (state["sp_nominal_kpa"] <= 0, "needs nominal_kpa > 0"),
            (state["sp_rate_window_s"] <= 0, "needs rate_window_s > 0"),
            (state["sp_min_points"] < 2, "needs min_points ≥ 2"),
            (state["sp_learn_clip_sigma"] <= 0, "needs learn_clip_sigma > 0"),
            (state["sp_min_sigma_pct_per_min"] <= 0, "needs min_sigma_pct_per_min > 0"),
            (state["sp_floor_pct_per_min"] < 0, "needs floor_pct_per_min ≥ 0"),
            (~((b > 0) & (b <= y) & (y <= o) & (o <= r)), "needs 0 < blue ≤ yellow ≤ orange ≤ red sigma"),
        )
        self._reject_first_bad(checks, labels)

    def _measure(self, state: State, batch: Batch, steps: list[NDArray[np.int64]]) -> Measures:
        n = len(batch)
        x = self.input_values(batch)
        valid = np.isfinite(x)
        rate = np.full(n, np.nan)
        z = np.full(n, np.nan)
        mean_at = np.full(n, np.nan)
        sigma_at = np.full(n, np.nan)
        learned_at = np.zeros(n, dtype=np.int64)
        points = np.zeros(n, dtype=np.int64)
        for idx in steps:
            ok = idx[valid[idx]]
            if ok.size:
                self.ring.push(state, batch.rows[ok], batch.ts_ms[ok], x[ok])
            rows = batch.rows[idx]
            window_ms = (state["sp_rate_window_s"][rows] * 1000.0).astype(np.int64)
            slope, pts, span_ms = self.ring.window_slope(state, rows, window_ms)
            pts = np.where(2 * span_ms >= window_ms, pts, 0)  # a fit over half the window at least
            points[idx] = pts
            r = np.where(
                pts >= state["sp_min_points"][rows],
                -slope * 60.0 / state["sp_nominal_kpa"][rows] * 100.0,
                np.nan,
            )
            r = np.where(valid[idx], r, np.nan)  # a dropped reading neither scores nor learns
            nl, mu, var = state["learn_n"][rows], state["learn_mean"][rows], state["learn_var"][rows]
            sigma = np.maximum(np.sqrt(var), state["sp_min_sigma_pct_per_min"][rows])
            warm = nl >= state["sp_warmup_readings"][rows]
            zi = (r - mu) / sigma
            rate[idx], mean_at[idx], sigma_at[idx], learned_at[idx] = r, mu, sigma, nl
            z[idx] = np.where(warm, zi, np.nan)
            with np.errstate(invalid="ignore"):
                learn = np.isfinite(r) & (~warm | (np.abs(zi) < state["sp_learn_clip_sigma"][rows]))
            if learn.any():
                lr = rows[learn]
                n_new = nl[learn] + 1
                alpha = np.maximum(1.0 / n_new, 1.0 / state["sp_learn_readings"][lr])
                d = r[learn] - mu[learn]
                state["learn_n"][lr] = n_new
                state["learn_mean"][lr] = mu[learn] + alpha * d
                state["learn_var"][lr] = (1.0 - alpha) * (var[learn] + alpha * d * d)
        rows = batch.rows
        with np.errstate(invalid="ignore"):
            floor_ok = rate >= state["sp_floor_pct_per_min"][rows] * (1.0 - SET_POINT_RTOL)
        gate = np.repeat(floor_ok[:, None], 4, axis=1)
        return Measures(
            score=z,
            per_level=np.repeat(z[:, None], 4, axis=1),
            valid=valid,
            gate=gate,
            extra={
                "rate_pct_per_min": rate,
                "mean": mean_at,
                "sigma": sigma_at,
                "learned": learned_at,
                "points": points,
            },
        )

    def _thresholds(self, state: State, rows: NDArray[np.int32]) -> LevelThresholds:
        set_points = np.stack([state[f"sp_{k}"][rows] for k in self.level_keys], axis=1)
        clear = np.repeat(set_points[:, :1], 4, axis=1)
        return LevelThresholds(set_points, clear, state["sp_sigma_sustain_readings"][rows])

    def describe(self, ctx: TransitionContext) -> str:
        e, sp = ctx.extra, ctx.sp
        rate = float(e["rate_pct_per_min"])
        if not math.isfinite(ctx.score):
            detail = (
                f"; rate not computable ({readings_text(e['points'])} in the {fmt(sp['rate_window_s'], 0)} s "
                "window) or baseline not learned"
            )
        else:
            kpa = rate * sp["nominal_kpa"] / 100.0
            detail = (
                f"; falling {fmt(rate, 3)} %/min ({fmt(kpa, 3)} kPa/min of nominal "
                f"{fmt(sp['nominal_kpa'])} kPa) "
                f"against its own baseline {fmt(float(e['mean']), 3)} ± {fmt(float(e['sigma']), 3)} %/min "
                f"learned over {readings_text(e['learned'])}"
            )
            if ctx.rising:
                detail += f", {int(ctx.sustain)} consecutive readings: look for a slow leak downstream"
        return change_reason(
            ctx,
            self.name,
            what=("pressure drop",) * 4,
            set_names=("blue", "yellow", "orange", "red"),
            unit=self.unit,
            source=self.source,
            detail=detail,
            digits=1,
        )
