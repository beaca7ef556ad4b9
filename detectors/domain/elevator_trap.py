"""Trapped passenger (困人: 平层关人 in the door zone, 非平层关人 outside it) with rescue-overdue escalation.

Sources (domain-thresholds.md §5.3, §5.4):

* detection ``occupied AND door closed AND stopped`` for ≥ T, T = **45 s** in the door zone and **30 s**
  outside it (sensor-box firmware timers ``Tb``/``Te``, defaults 20–45 s and 20–30 s) **[S-code]**;
  human-presence debounce **10 s** and the consistency rule "people cannot appear or disappear inside a
  closed car" **[S-code]**; the trap **clears only when the door opens in the door zone**;
* escalation: maintenance units must **arrive within 30 min** of a trapped-passenger report (TSG T5002
  art. 5 / local elevator regulation, **[S]**); orange at 30 min and red at 60 min without release is our
  proposal on the 96333 KPIs **[P]**. Yellow for a trap at a floor and orange outside the door zone
  (passengers must not climb out between floors) are **[P]**.

The occupancy estimate is the car's own state: the PIR ``occupied`` flag confirms a passenger once it
has been set for ``presence_debounce_s`` on consecutive readings, starting with the door open (or right
after it was open: someone who stepped in). While the door is closed the estimate may only go from
empty to occupied through such a run, and never back: a still passenger whom the PIR no longer sees is
still inside, and a PIR flicker in a car that was empty when the door closed is nobody.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from detectors.base import State
from detectors.domain.elevator_common import (
    HEARTBEAT_S,
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
from detectors.domain.rule import TransitionContext, fmt, level_label

_UNKNOWN = np.int8(-1)


@dataclass(frozen=True, slots=True)
class ElevatorTrappedPassengerParams:
    """Defaults of the per-sensor keys (registry ``params``), in seconds and m/s."""

    trap_in_zone_s: float = 45.0
    trap_outside_zone_s: float = 30.0
    presence_debounce_s: float = 10.0
    rescue_orange_s: float = 1800.0
    rescue_red_s: float = 3600.0
    stopped_below_mps: float = STOPPED_BELOW_MPS
    stale_after_s: float = STALE_AFTER_S


class ElevatorTrappedPassenger(ElevatorStatusRule[ElevatorTrappedPassengerParams]):
    """A passenger shut in a stopped car: yellow at a floor, orange between floors, escalating with time.

    Score: seconds the confirmed passenger has been shut in (door closed since the car stopped, or since
    the trap began while it lasts), 0 otherwise. Levels (a pass-through of the rule's own state machine):

    * yellow: trapped in the door zone for ≥ ``trap_in_zone_s``;
    * orange: trapped outside the door zone for ≥ ``trap_outside_zone_s`` (the trap stays orange if
      the car is later moved to a floor with the door still closed), or any trap ≥ ``rescue_orange_s``;
    * red: any trap ≥ ``rescue_red_s``.

    The trap clears (to normal) at the first reading with the door open in the door zone.
    """

    name = "elevator_trapped_passenger"
    source = (
        "trap timers 45 s in / 30 s outside the door zone, sensor-box firmware [S-code]; "
        "rescue arrival ≤ 30 min, TSG T5002 / 96333 [S]; overdue orange 30 min, red 60 min [P]"
    )
    unit = "s"
    sensor_keys: ClassVar[tuple[str, ...]] = (
        "trap_in_zone_s",
        "trap_outside_zone_s",
        "presence_debounce_s",
        "rescue_orange_s",
        "rescue_red_s",
        "stopped_below_mps",
        "stale_after_s",
    )
    extra_names: ClassVar[tuple[str, ...]] = (
        "trapped_s",
        "in_zone",
        "trap_out",
        "released_after_s",
        "speed_mps",
    )

    def __init__(self, params: ElevatorTrappedPassengerParams | None = None) -> None:
        super().__init__(params or ElevatorTrappedPassengerParams())

    @classmethod
    def conformance_examples(cls) -> Sequence[ElevatorTrappedPassenger]:
        # short timers (conformance streams are ~1 s apart) so traps, escalation and release all happen
        return (
            cls(),
            cls(
                ElevatorTrappedPassengerParams(
                    trap_in_zone_s=3.0,
                    trap_outside_zone_s=2.0,
                    presence_debounce_s=1.0,
                    rescue_orange_s=8.0,
                    rescue_red_s=15.0,
                    stopped_below_mps=0.5,
                    stale_after_s=HEARTBEAT_S,
                )
            ),
        )

    def _init_machine_state(self, capacity: int) -> State:
        return {
            "door_prev": np.full(capacity, _UNKNOWN, dtype=np.int8),
            "pres_since": np.full(capacity, EMPTY_TS, dtype=np.int64),
            "pres_entry": np.zeros(capacity, dtype=bool),
            "occupied": np.zeros(capacity, dtype=bool),
            "still_since": np.full(capacity, EMPTY_TS, dtype=np.int64),
            "trap_since": np.full(capacity, EMPTY_TS, dtype=np.int64),
            "trap_out": np.zeros(capacity, dtype=bool),
        }

    def _check_sensor_columns(self, state: State, labels: Sequence[str]) -> None:
        tin, tout = state["sp_trap_in_zone_s"], state["sp_trap_outside_zone_s"]
        orange, red = state["sp_rescue_orange_s"], state["sp_rescue_red_s"]
        checks = (
            ((tin <= 0) | (tout <= 0), "needs trap_in_zone_s > 0 and trap_outside_zone_s > 0"),
            (state["sp_presence_debounce_s"] < 0, "needs presence_debounce_s ≥ 0"),
            ((orange <= 0) | (orange > red), "needs 0 < rescue_orange_s ≤ rescue_red_s"),
            (state["sp_stopped_below_mps"] <= 0, "needs stopped_below_mps > 0"),
            (state["sp_stale_after_s"] <= 0, "needs stale_after_s > 0"),
        )
        self._reject_first_bad(checks, labels)

    def _advance(
        self,
        state: State,
        rows: NDArray[np.int32],
        ts: NDArray[np.int64],
        car: CarStatus,
        fresh: NDArray[np.bool_],
    ) -> StepResult:
        sp = {k: state[f"sp_{k}"][rows] for k in self.sensor_keys}
        door, zone, occ_raw = car.door_open, car.in_zone, car.occupied
        # after a stale gap nobody knows what happened: the door may have opened, people may have left
        door_prev = np.where(fresh, _UNKNOWN, state["door_prev"][rows])
        occupied = state["occupied"][rows] & ~fresh
        pres_since = np.where(fresh, EMPTY_TS, state["pres_since"][rows])
        pres_entry = state["pres_entry"][rows] & ~fresh

        # occupancy: a presence run counts once it lasted the debounce and began when someone could enter
        new_run = occ_raw & (pres_since == EMPTY_TS)
        could_enter = door | (door_prev != 0)
        pres_since = np.where(occ_raw, np.where(new_run, ts, pres_since), EMPTY_TS)
        pres_entry = np.where(occ_raw, np.where(new_run, could_enter, pres_entry), False)
        debounce_ms = sp["presence_debounce_s"] * 1000.0
        confirmed = occ_raw & pres_entry & ((ts - pres_since) >= debounce_ms)
        occupied = np.where(door, confirmed, occupied | confirmed)

        # shut in: door closed and the car standing still, without a break
        closed_still = ~door & (car.speed < sp["stopped_below_mps"])
        still_since = run_start(state["still_since"][rows], closed_still, ts, fresh)

        trap_since = state["trap_since"][rows]
        trapped = trap_since != EMPTY_TS
        release = trapped & zone & door
        released_after_s = np.where(release, (ts - trap_since) / 1000.0, np.nan)
        limit_ms = np.where(zone, sp["trap_in_zone_s"], sp["trap_outside_zone_s"]) * 1000.0
        shut_ms = np.where(closed_still & occupied, ts - still_since, 0)
        detect = ~trapped & closed_still & occupied & (shut_ms >= limit_ms)
        trap_since = np.where(detect, still_since, np.where(release, EMPTY_TS, trap_since))
        now_trapped = trap_since != EMPTY_TS
        trap_out = np.where(detect, ~zone, now_trapped & ~release & (state["trap_out"][rows] | ~zone))

        trapped_ms = np.where(now_trapped, ts - trap_since, shut_ms)
        trapped_s = trapped_ms / 1000.0
        yellow = now_trapped
        orange = now_trapped & (trap_out | (trapped_s >= sp["rescue_orange_s"]))
        red = now_trapped & (trapped_s >= sp["rescue_red_s"])

        state["door_prev"][rows] = door.astype(np.int8)
        state["pres_since"][rows] = pres_since
        state["pres_entry"][rows] = pres_entry
        state["occupied"][rows] = occupied
        state["still_since"][rows] = still_since
        state["trap_since"][rows] = trap_since
        state["trap_out"][rows] = trap_out
        per_level = np.stack(
            [np.zeros(rows.size), yellow.astype(float), orange.astype(float), red.astype(float)], axis=1
        )
        return StepResult(
            score=trapped_s,
            per_level=per_level,
            extra={
                "trapped_s": trapped_s,
                "in_zone": zone.astype(float),
                "trap_out": trap_out.astype(float),
                "released_after_s": released_after_s,
                "speed_mps": car.speed,
            },
        )

    def _thresholds(self, state: State, rows: NDArray[np.int32]) -> LevelThresholds:
        one = np.ones(rows.size)
        points = np.stack([np.full(rows.size, np.nan), one, one, one], axis=1)
        return LevelThresholds(points, points.copy(), one)

    def alert_value(self, ctx: TransitionContext) -> float | None:
        """Seconds trapped: so far on a raise, in all on the release."""
        v = ctx.extra["released_after_s"] if not ctx.rising else ctx.extra["trapped_s"]
        return float(v) if np.isfinite(v) else None

    def describe(self, ctx: TransitionContext) -> str:
        x, sp = ctx.extra, ctx.sp
        change = f"{level_label(ctx.previous)} → {level_label(ctx.level)}"
        tail = f" ({self.source}); {change} [rule {self.name}, sensor {ctx.sensor_id}]"
        if not ctx.rising:
            after = duration_text(x["released_after_s"])
            return (
                f"passenger released at {ctx.where} after {after} trapped: door open in the door zone{tail}"
            )
        t = float(x["trapped_s"])
        inside = x["in_zone"] >= 0.5
        where_car = "in the door zone (平层关人)" if inside else "outside the door zone (非平层关人)"
        if ctx.level == 4:
            name, limit, advice = "rescue-overdue red", sp["rescue_red_s"], "escalate to public rescue (119)"
        elif ctx.level == 3 and t >= sp["rescue_orange_s"]:
            name, limit = "rescue-overdue orange", sp["rescue_orange_s"]
            advice = "no release yet: dispatch the next nearest maintenance unit (96333)"
        elif ctx.level == 3:
            name, limit = "outside-door-zone timer", sp["trap_outside_zone_s"]
            advice = "rescue by trained staff only, passengers must not climb out"
        else:
            name, limit = "in-door-zone timer", sp["trap_in_zone_s"]
            advice = "dispatch the maintenance unit, arrival due within 30 min"
        return (
            f"passenger trapped {duration_text(t)} at {ctx.where}: car stopped {where_car}, door closed, "
            f"occupied ≥ {name} {duration_text(limit)} by {duration_text(t - limit)}; {advice}; "
            f"car speed {fmt(x['speed_mps'])} m/s{tail}"
        )
