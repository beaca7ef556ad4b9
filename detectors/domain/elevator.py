"""Elevator rules: overspeed against the rated speed.

IoT sensor boxes alarm at 1.2× and 1.4× rated speed ([S-code] per domain-thresholds.md §5.2/§5.3, vendor
firmware); the overspeed governor must trip at ≥ 115 % of rated speed (GB 7588-2003 §9.9.1 /
GB/T 7588.1-2020, [M]), which is why the alarm clears only below ``clear_ratio`` = 1.1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from detectors.base import Batch, State
from detectors.domain.policy import LevelThresholds
from detectors.domain.ring import EMPTY_TS
from detectors.domain.rule import (
    DomainRule,
    Measures,
    TransitionContext,
    change_reason,
    fmt,
    last_valid_per_row,
)


@dataclass(frozen=True, slots=True)
class ElevatorOverspeedParams:
    """Defaults of the per-sensor keys; ``orange_ratio``/``red_ratio`` are optional keys beyond v1's spec."""

    rated_speed_mps: float = 1.75
    sustain_readings: float = 2
    clear_ratio: float = 1.1
    orange_ratio: float = 1.2
    red_ratio: float = 1.4


class ElevatorOverspeed(DomainRule[ElevatorOverspeedParams]):
    """Car speed as a multiple of the rated speed; orange at 1.2×, red at 1.4×, each sustained.

    Score: ``|speed_mps| / rated_speed_mps``. A level is raised after ``sustain_readings`` consecutive
    readings at or above its ratio; once raised, the alarm holds until the ratio falls below
    ``clear_ratio``. A reading older than the car's newest, or non-finite, changes nothing.
    """

    name = "elevator_overspeed"
    kinds: ClassVar[tuple[str, ...]] = ("elevator_status",)
    channel = "speed_mps"
    channels = 4
    source = "overspeed 1.2×/1.4× rated, IoT practice [S-code]; governor trip ≥ 1.15× rated, GB/T 7588.1-2020"
    unit = "× rated"
    sensor_keys: ClassVar[tuple[str, ...]] = (
        "rated_speed_mps",
        "sustain_readings",
        "clear_ratio",
        "orange_ratio",
        "red_ratio",
    )
    count_keys: ClassVar[tuple[str, ...]] = ("sustain_readings",)

    def __init__(self, params: ElevatorOverspeedParams | None = None) -> None:
        super().__init__(params or ElevatorOverspeedParams())

    @classmethod
    def conformance_examples(cls) -> Sequence[ElevatorOverspeed]:
        return (cls(), cls(ElevatorOverspeedParams(rated_speed_mps=2.0, sustain_readings=1)))

    def _init_measure_state(self, capacity: int) -> State:
        return {"newest_ts": np.full(capacity, EMPTY_TS, dtype=np.int64)}

    def _check_sensor_columns(self, state: State, labels: Sequence[str]) -> None:
        rated, clear = state["sp_rated_speed_mps"], state["sp_clear_ratio"]
        orange, red = state["sp_orange_ratio"], state["sp_red_ratio"]
        checks = (
            (rated <= 0, "needs rated_speed_mps > 0"),
            (
                (clear <= 0) | (clear > orange) | (orange > red),
                "needs 0 < clear_ratio ≤ orange_ratio ≤ red_ratio",
            ),
        )
        self._reject_first_bad(checks, labels)

    def _measure(self, state: State, batch: Batch, steps: list[NDArray[np.int64]]) -> Measures:
        rows, ts = batch.rows, batch.ts_ms
        speed = self.input_values(batch)
        ratio = np.abs(speed) / state["sp_rated_speed_mps"][rows]
        valid = np.isfinite(ratio) & (ts >= state["newest_ts"][rows])
        last = last_valid_per_row(rows, valid)
        state["newest_ts"][rows[last]] = ts[last]
        return Measures(
            score=np.where(np.isfinite(ratio), ratio, np.nan),
            per_level=np.repeat(ratio[:, None], 4, axis=1),
            valid=valid,
            extra={"speed_mps": speed.copy()},
        )

    def _thresholds(self, state: State, rows: NDArray[np.int32]) -> LevelThresholds:
        nan = np.full(rows.size, np.nan)
        orange, red = state["sp_orange_ratio"][rows], state["sp_red_ratio"][rows]
        clear = state["sp_clear_ratio"][rows]
        return LevelThresholds(
            np.stack([nan, nan, orange, red], axis=1),
            np.stack([nan, nan, clear, clear], axis=1),
            state["sp_sustain_readings"][rows],
        )

    def describe(self, ctx: TransitionContext) -> str:
        speed, rated = ctx.extra["speed_mps"], ctx.sp["rated_speed_mps"]
        detail = f"; car speed {fmt(abs(speed))} m/s, rated {fmt(rated)} m/s"
        if ctx.rising:
            detail += f", {int(ctx.sustain)} consecutive readings"
        return change_reason(
            ctx,
            self.name,
            what=("speed",) * 4,
            set_names=("-", "-", "orange overspeed", "red overspeed"),
            unit=self.unit,
            source=self.source,
            detail=detail,
        )
