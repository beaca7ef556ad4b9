"""Elevator motion faults: stopped outside the door zone (门区外停梯) and door open while moving (开门走车).

Sources (domain-thresholds.md §5.2, §5.3):

* **stopped outside the door zone**: ``stopped AND NOT in door zone`` for ≥ **45 s**; field feedback on
  sensor-box firmware says 30 s is too short, firmware defaults are 45–60 s **[S-code]**. Yellow (the
  lift is out of service between floors; a passenger inside is the trapped-passenger rule's orange) is
  our proposal **[P]**.
* **door open while moving**: ``door_open AND speed > v_min`` **[S-code]**, confirmed over a delay and
  several readings because badly installed door switches read "open" for a moment while the car
  travels (field note; firmware timers 10–50 s) **[S-code]**. Levelling and re-levelling with the doors
  open are allowed inside the unlocking zone up to 0.3 m/s (re-levelling, GB 7588-2003 §14.2.1.2 /
  GB/T 7588.1-2020 **[M]**), so inside the door zone only a speed of at least ``relevel_max_mps``
  counts; outside it any movement does. Orange for an empty car and red with a passenger inside
  (shearing / falling hazard to the person) are **[P]**.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from detectors.base import State
from detectors.domain.elevator_common import (
    STALE_AFTER_S,
    STOPPED_BELOW_MPS,
    CarStatus,
    ElevatorStatusRule,
    StepResult,
    duration_text,
    run_start,
)
from detectors.domain.policy import LevelThresholds
from detectors.domain.ring import EMPTY_TS
from detectors.domain.rule import TransitionContext, fmt, level_label, readings_text


def _check(
    rule: ElevatorStatusRule, checks: tuple[tuple[NDArray[np.bool_], str], ...], labels: Sequence[str]
) -> None:
    rule._reject_first_bad(checks, labels)


# --- stopped outside the door zone ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ElevatorStoppedOutsideZoneParams:
    """Defaults of the per-sensor keys (registry ``params``)."""

    stopped_outside_s: float = 45.0
    stopped_below_mps: float = STOPPED_BELOW_MPS
    stale_after_s: float = STALE_AFTER_S


class ElevatorStoppedOutsideZone(ElevatorStatusRule[ElevatorStoppedOutsideZoneParams]):
    """Seconds the car has stood still outside the door zone; yellow at ``stopped_outside_s``.

    The run counts from the first reading stopped outside the zone; it ends (and the alarm clears) at
    the first reading in the door zone or moving. A gap longer than ``stale_after_s`` restarts it.
    """

    name = "elevator_stopped_outside_zone"
    source = "门区外停梯 ≥ 45 s (30 s too short in the field), sensor-box firmware [S-code]; yellow [P]"
    unit = "s"
    sensor_keys: ClassVar[tuple[str, ...]] = ("stopped_outside_s", "stopped_below_mps", "stale_after_s")
    extra_names: ClassVar[tuple[str, ...]] = ("stopped_s", "speed_mps", "door_open", "in_zone")

    def __init__(self, params: ElevatorStoppedOutsideZoneParams | None = None) -> None:
        super().__init__(params or ElevatorStoppedOutsideZoneParams())

    @classmethod
    def conformance_examples(cls) -> Sequence[ElevatorStoppedOutsideZone]:
        return (cls(), cls(ElevatorStoppedOutsideZoneParams(stopped_outside_s=2.0, stopped_below_mps=0.5)))

    def _init_machine_state(self, capacity: int) -> State:
        return {"stop_since": np.full(capacity, EMPTY_TS, dtype=np.int64)}

    def _check_sensor_columns(self, state: State, labels: Sequence[str]) -> None:
        _check(
            self,
            (
                (state["sp_stopped_outside_s"] <= 0, "needs stopped_outside_s > 0"),
                (state["sp_stopped_below_mps"] <= 0, "needs stopped_below_mps > 0"),
                (state["sp_stale_after_s"] <= 0, "needs stale_after_s > 0"),
            ),
            labels,
        )

    def _advance(
        self,
        state: State,
        rows: NDArray[np.int32],
        ts: NDArray[np.int64],
        car: CarStatus,
        fresh: NDArray[np.bool_],
    ) -> StepResult:
        stuck = ~car.in_zone & (car.speed < state["sp_stopped_below_mps"][rows])
        since = run_start(state["stop_since"][rows], stuck, ts, fresh)
        state["stop_since"][rows] = since
        stopped_s = np.where(stuck, (ts - since) / 1000.0, 0.0)
        nan = np.full(rows.size, np.nan)
        yellow = np.where(stuck, stopped_s, nan)
        return StepResult(
            score=stopped_s,
            per_level=np.stack([nan, yellow, nan, nan], axis=1),
            extra={
                "stopped_s": stopped_s,
                "speed_mps": car.speed,
                "door_open": car.door_open.astype(float),
                "in_zone": car.in_zone.astype(float),
            },
        )

    def _thresholds(self, state: State, rows: NDArray[np.int32]) -> LevelThresholds:
        nan = np.full(rows.size, np.nan)
        t = state["sp_stopped_outside_s"][rows]
        points = np.stack([nan, t, nan, nan], axis=1)
        return LevelThresholds(points, points.copy(), np.ones(rows.size))

    def describe(self, ctx: TransitionContext) -> str:
        x, limit = ctx.extra, ctx.sp["stopped_outside_s"]
        change = f"{level_label(ctx.previous)} → {level_label(ctx.level)}"
        tail = f" ({self.source}); {change} [rule {self.name}, sensor {ctx.sensor_id}]"
        door = "open" if x["door_open"] >= 0.5 else "closed"
        if ctx.rising:
            s = float(x["stopped_s"])
            return (
                f"car stopped outside the door zone for {duration_text(s)} at {ctx.where} ≥ "
                f"{duration_text(limit)} by {duration_text(s - limit)}, door {door}: lift out of service "
                f"between floors, send maintenance (a passenger inside is a trap){tail}"
            )
        now = "back in the door zone" if x["in_zone"] >= 0.5 else f"moving at {fmt(x['speed_mps'])} m/s"
        return f"car no longer stopped outside the door zone at {ctx.where}: {now}, door {door}{tail}"


# --- door open while moving --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ElevatorDoorOpenMovingParams:
    """Defaults of the per-sensor keys (registry ``params``)."""

    door_confirm_s: float = 10.0
    door_confirm_readings: float = 3
    relevel_max_mps: float = 0.3
    stopped_below_mps: float = STOPPED_BELOW_MPS
    stale_after_s: float = STALE_AFTER_S


class ElevatorDoorOpenMoving(ElevatorStatusRule[ElevatorDoorOpenMovingParams]):
    """Seconds the car has moved with the door open; orange once confirmed, red with a passenger inside.

    Moving with the door open means ``door_open`` and a speed of at least ``stopped_below_mps`` outside
    the door zone, or at least ``relevel_max_mps`` inside it. Confirmed once it held on
    ``door_confirm_readings`` consecutive readings spanning at least ``door_confirm_s``. Red while the
    car also reports ``occupied``. Clears at the first reading with the door closed or the car stopped.
    """

    name = "elevator_door_open_moving"
    source = (
        "开门走车: door open while moving, confirmed over a delay and several readings against bad door "
        "switches, sensor-box firmware [S-code]; re-levelling ≤ 0.3 m/s with doors open, GB 7588 [M]; "
        "orange/red [P]"
    )
    unit = "s"
    sensor_keys: ClassVar[tuple[str, ...]] = (
        "door_confirm_s",
        "door_confirm_readings",
        "relevel_max_mps",
        "stopped_below_mps",
        "stale_after_s",
    )
    count_keys: ClassVar[tuple[str, ...]] = ("door_confirm_readings",)
    extra_names: ClassVar[tuple[str, ...]] = (
        "open_s",
        "readings",
        "speed_mps",
        "door_open",
        "in_zone",
        "occupied",
    )

    def __init__(self, params: ElevatorDoorOpenMovingParams | None = None) -> None:
        super().__init__(params or ElevatorDoorOpenMovingParams())

    @classmethod
    def conformance_examples(cls) -> Sequence[ElevatorDoorOpenMoving]:
        return (cls(), cls(ElevatorDoorOpenMovingParams(door_confirm_s=1.0, door_confirm_readings=2)))

    def _init_machine_state(self, capacity: int) -> State:
        return {
            "open_since": np.full(capacity, EMPTY_TS, dtype=np.int64),
            "open_count": np.zeros(capacity, dtype=np.int32),
        }

    def _check_sensor_columns(self, state: State, labels: Sequence[str]) -> None:
        stop, relevel = state["sp_stopped_below_mps"], state["sp_relevel_max_mps"]
        _check(
            self,
            (
                (state["sp_door_confirm_s"] < 0, "needs door_confirm_s ≥ 0"),
                ((stop <= 0) | (relevel < stop), "needs 0 < stopped_below_mps ≤ relevel_max_mps"),
                (state["sp_stale_after_s"] <= 0, "needs stale_after_s > 0"),
            ),
            labels,
        )

    def _advance(
        self,
        state: State,
        rows: NDArray[np.int32],
        ts: NDArray[np.int64],
        car: CarStatus,
        fresh: NDArray[np.bool_],
    ) -> StepResult:
        stop, relevel = state["sp_stopped_below_mps"][rows], state["sp_relevel_max_mps"][rows]
        moving = np.where(car.in_zone, car.speed >= relevel, car.speed >= stop)
        bad = car.door_open & moving
        since = run_start(state["open_since"][rows], bad, ts, fresh)
        count = np.where(bad, np.where(fresh, 1, state["open_count"][rows] + 1), 0).astype(np.int32)
        count = np.minimum(count, np.int32(1 << 30))
        state["open_since"][rows] = since
        state["open_count"][rows] = count
        open_s = np.where(bad, (ts - since) / 1000.0, 0.0)
        nan = np.full(rows.size, np.nan)
        confirmed = bad & (count >= state["sp_door_confirm_readings"][rows])
        orange = np.where(confirmed, open_s, nan)
        red = np.where(confirmed & car.occupied, open_s, nan)
        return StepResult(
            score=open_s,
            per_level=np.stack([nan, nan, orange, red], axis=1),
            extra={
                "open_s": open_s,
                "readings": count.astype(float),
                "speed_mps": car.speed,
                "door_open": car.door_open.astype(float),
                "in_zone": car.in_zone.astype(float),
                "occupied": car.occupied.astype(float),
            },
        )

    def _thresholds(self, state: State, rows: NDArray[np.int32]) -> LevelThresholds:
        nan = np.full(rows.size, np.nan)
        t = state["sp_door_confirm_s"][rows]
        points = np.stack([nan, nan, t, t], axis=1)
        return LevelThresholds(points, points.copy(), np.ones(rows.size))

    def describe(self, ctx: TransitionContext) -> str:
        x, limit = ctx.extra, ctx.sp["door_confirm_s"]
        change = f"{level_label(ctx.previous)} → {level_label(ctx.level)}"
        tail = f" ({self.source}); {change} [rule {self.name}, sensor {ctx.sensor_id}]"
        zone = "in the door zone" if x["in_zone"] >= 0.5 else "outside the door zone"
        if ctx.rising or ctx.level > 0:
            s = float(x["open_s"])
            who = "passenger inside" if x["occupied"] >= 0.5 else "car reported empty"
            return (
                f"door open while moving {duration_text(s)} at {ctx.where} ≥ confirmation delay "
                f"{duration_text(limit)} by {duration_text(s - limit)} "
                f"over {readings_text(int(x['readings']))}: "
                f"car at {fmt(x['speed_mps'])} m/s {zone}, {who}; stop the lift and check the door lock "
                f"circuit (possible unintended car movement){tail}"
            )
        now = "door closed" if x["door_open"] < 0.5 else "car stopped, door open"
        speed = fmt(x["speed_mps"])
        return f"door open while moving ended at {ctx.where}: {now}, car at {speed} m/s {zone}{tail}"
