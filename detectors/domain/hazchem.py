"""Hazardous-chemical rules: combustible gas two-stage alarm (GB/T 50493-2019).

GB/T 50493-2019 sets the 1st alarm at ≤ 25 %LEL and the 2nd alarm at ≤ 50 %LEL ([S] per
domain-thresholds.md §1; clause number not verified). The mapping to China's colours is our proposal
([P], domain-thresholds.md §0): pre-alarm (½ of the 1st set point) → blue, 1st alarm → yellow,
2nd alarm → orange, 2nd alarm and rising → red. The facility's major-hazard level weights the colour
(:mod:`detectors.domain.hazchem_mhs`). The toxic-gas alarm (hazchem_toxic) shares the measure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, TypeVar

import numpy as np
from numpy.typing import NDArray

from detectors.base import Batch, State
from detectors.domain.hazchem_mhs import MHS_KEYS, MhsWeighted
from detectors.domain.policy import LevelThresholds
from detectors.domain.ring import EMPTY_TS
from detectors.domain.rule import (
    Measures,
    TransitionContext,
    change_reason,
    fmt,
    last_valid_per_row,
    previous_valid,
)


@dataclass(frozen=True, slots=True)
class GasTwoStageParams:
    """Defaults of the per-sensor keys (registry ``params``)."""

    first_alarm_lel: float = 25.0
    second_alarm_lel: float = 50.0
    prealarm_ratio: float = 0.5
    clear_margin_lel: float = 2.0
    mhs_level: float = 0.0
    r_value: float = math.nan


P = TypeVar("P")


class TwoStageGasMeasure(MhsWeighted[P]):
    """The measure of a two-stage gas alarm: the reading itself, and whether it rose.

    "Rising" compares with the sensor's previous valid reading (same batch or an earlier one); the first
    reading a sensor ever sends is not rising. A reading older than the sensor's newest, or non-finite,
    is invalid: it changes nothing and is not used as "previous".
    """

    def _init_measure_state(self, capacity: int) -> State:
        return {
            "prev_value": np.full(capacity, np.nan, dtype=np.float64),
            "newest_ts": np.full(capacity, EMPTY_TS, dtype=np.int64),
        }

    def _measure(self, state: State, batch: Batch, steps: list[NDArray[np.int64]]) -> Measures:
        rows, ts = batch.rows, batch.ts_ms
        x = self.input_values(batch)
        stale = ts < state["newest_ts"][rows]
        valid = np.isfinite(x) & ~stale
        prev = previous_valid(rows, valid, x, state["prev_value"][rows])
        with np.errstate(invalid="ignore"):
            rising = valid & (x > prev)
        last = last_valid_per_row(rows, valid)
        state["prev_value"][rows[last]] = x[last]
        state["newest_ts"][rows[last]] = ts[last]
        gate = np.ones((len(batch), 4), dtype=bool)
        gate[:, 3] = rising
        per_level = np.repeat(x[:, None], 4, axis=1)
        score = np.where(np.isfinite(x), x, np.nan)
        return Measures(
            score=score,
            per_level=per_level,
            valid=valid,
            gate=gate,
            extra={"rising": rising, "previous": prev},
        )


class GasTwoStage(TwoStageGasMeasure[GasTwoStageParams]):
    """Two-stage combustible gas alarm with a blue pre-alarm and a rising-trend red, with hysteresis.

    Score: the reading in %LEL. Levels (per sensor set points): red if v ≥ 2nd alarm and v > the
    sensor's previous reading; orange if v ≥ 2nd; yellow if v ≥ 1st; blue if v ≥ prealarm_ratio · 1st.
    A level is held until v < its set point − ``clear_margin_lel``; red is held like orange (it clears
    below the 2nd set point − margin). A reading older than the sensor's newest, or non-finite, changes
    nothing.
    """

    name = "gas_two_stage"
    kinds: ClassVar[tuple[str, ...]] = ("combustible_gas",)
    source = "GB/T 50493-2019"
    unit = "%LEL"
    sensor_keys: ClassVar[tuple[str, ...]] = (
        "first_alarm_lel",
        "second_alarm_lel",
        "prealarm_ratio",
        "clear_margin_lel",
        *MHS_KEYS,
    )

    def __init__(self, params: GasTwoStageParams | None = None) -> None:
        super().__init__(params or GasTwoStageParams())

    @classmethod
    def conformance_examples(cls) -> Sequence[GasTwoStage]:
        return (
            cls(),
            cls(GasTwoStageParams(first_alarm_lel=0.5, second_alarm_lel=4.0, clear_margin_lel=0.2)),
        )

    def _check_sensor_columns(self, state: State, labels: Sequence[str]) -> None:
        super()._check_sensor_columns(state, labels)
        first, second = state["sp_first_alarm_lel"], state["sp_second_alarm_lel"]
        ratio, margin = state["sp_prealarm_ratio"], state["sp_clear_margin_lel"]
        checks = (
            ((first <= 0) | (second < first), "needs 0 < first_alarm_lel ≤ second_alarm_lel"),
            ((ratio <= 0) | (ratio > 1), "needs 0 < prealarm_ratio ≤ 1"),
            (margin < 0, "needs clear_margin_lel ≥ 0"),
        )
        self._reject_first_bad(checks, labels)

    def _thresholds(self, state: State, rows: NDArray[np.int32]) -> LevelThresholds:
        first = state["sp_first_alarm_lel"][rows]
        second = state["sp_second_alarm_lel"][rows]
        pre = state["sp_prealarm_ratio"][rows] * first
        set_points = np.stack([pre, first, second, second], axis=1)
        clear = set_points - state["sp_clear_margin_lel"][rows][:, None]
        return LevelThresholds(set_points, clear, np.ones(rows.size, dtype=np.float64))

    def describe_levels(self, ctx: TransitionContext) -> str:
        detail = ""
        if ctx.rising and ctx.level == 4:
            detail = ", rising"
        elif ctx.rising and ctx.level == 1:
            detail = f", pre-alarm = {fmt(ctx.sp['prealarm_ratio'])} × 1st alarm (colour mapping [P])"
        return change_reason(
            ctx,
            self.name,
            what=("combustible gas",) * 4,
            set_names=("pre-alarm", "1st alarm", "2nd alarm", "2nd alarm"),
            unit=self.unit,
            source=self.source,
            detail=detail,
            digits=1,
        )
