"""Elevator monitor heartbeat loss: no status from the car's sensor box within k × the heartbeat.

Source: sensor-box firmware sends a heartbeat every **60 s** (``HEART_BEAT_RATE 60000``) and the
platform marks a device offline when no status came within k × the reporting interval
(domain-thresholds.md §5.3, **[S-code]**); k = 3 follows the QARTOD gap test's "fail" at 3× the
expected interval (§6, **[P]**). Levels **[P]**: blue (the lift is unmonitored: trap and door checks
are blind); yellow when the last status before the silence showed a passenger in a closed car (someone
may have been shut in while nobody watched, e.g. a power cut 停电 with the monitor down too).

**Evaluated when the next reading arrives.** A rule only runs on readings, so it measures the silence a
reading *ends*: the alert comes when the monitor reports again, and says how long it was silent. The
wall-clock part (raising while the silence lasts) is the alarm lifecycle's deadman on the
``sensor_fault`` channel. The level holds until the monitor has reported for one heartbeat interval
without such a gap (so a debounce of the alarm lifecycle shorter than ``heartbeat_s`` still sees it),
then clears. Every reading is a sign of life, whatever its values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from detectors.base import Batch, State
from detectors.domain.elevator_common import FLAG_AT, HEARTBEAT_S, duration_text
from detectors.domain.policy import SET_POINT_RTOL, LevelThresholds
from detectors.domain.ring import EMPTY_TS
from detectors.domain.rule import DomainRule, Measures, TransitionContext, fmt, level_label


@dataclass(frozen=True, slots=True)
class ElevatorHeartbeatLossParams:
    """Defaults of the per-sensor keys (registry ``params``)."""

    heartbeat_s: float = HEARTBEAT_S
    heartbeat_loss_factor: float = 3.0


class ElevatorHeartbeatLoss(DomainRule[ElevatorHeartbeatLossParams]):
    """Seconds since the car's previous status reading; blue at ``factor × heartbeat_s``, yellow if the
    last status before the silence showed the car occupied with the door closed."""

    name = "elevator_heartbeat_loss"
    kinds: ClassVar[tuple[str, ...]] = ("elevator_status",)
    channels = 4
    source = "heartbeat 60 s, offline after k × interval, sensor-box firmware [S-code]; k = 3 (QARTOD) [P]"
    unit = "s"
    sensor_keys: ClassVar[tuple[str, ...]] = ("heartbeat_s", "heartbeat_loss_factor")
    skips_non_finite: ClassVar[bool] = False  # any reading is a sign of life

    def __init__(self, params: ElevatorHeartbeatLossParams | None = None) -> None:
        super().__init__(params or ElevatorHeartbeatLossParams())

    @classmethod
    def conformance_examples(cls) -> Sequence[ElevatorHeartbeatLoss]:
        # conformance streams are ~1 s apart per reading, several seconds per sensor
        return (cls(), cls(ElevatorHeartbeatLossParams(heartbeat_s=2.0, heartbeat_loss_factor=2.0)))

    def _init_measure_state(self, capacity: int) -> State:
        return {
            "newest_ts": np.full(capacity, EMPTY_TS, dtype=np.int64),
            "shut_in": np.zeros(capacity, dtype=bool),
            "loss_end_ts": np.full(capacity, EMPTY_TS, dtype=np.int64),
            "loss_s": np.zeros(capacity, dtype=np.float64),
            "loss_shut": np.zeros(capacity, dtype=bool),
        }

    def _check_sensor_columns(self, state: State, labels: Sequence[str]) -> None:
        checks = (
            (state["sp_heartbeat_s"] <= 0, "needs heartbeat_s > 0"),
            (state["sp_heartbeat_loss_factor"] < 1, "needs heartbeat_loss_factor ≥ 1"),
        )
        self._reject_first_bad(checks, labels)

    def _measure(self, state: State, batch: Batch, steps: list[NDArray[np.int64]]) -> Measures:
        n = len(batch)
        values = batch.values if batch.values.ndim == 2 else batch.values[:, None]
        gap = np.full(n, np.nan)
        silence = np.full(n, np.nan)  # the silence the level stands for (the last loss while it holds)
        shut_before = np.zeros(n, dtype=bool)
        valid = np.zeros(n, dtype=bool)
        newest, shut_in = state["newest_ts"], state["shut_in"]
        loss_end, loss_s, loss_shut = state["loss_end_ts"], state["loss_s"], state["loss_shut"]
        for idx in steps:
            rows, ts = batch.rows[idx], batch.ts_ms[idx]
            prev = newest[rows]
            in_order = ts >= prev
            seen = in_order & (prev != EMPTY_TS)
            sel, r = idx[in_order], rows[in_order]
            g = (ts[seen] - prev[seen]) / 1000.0
            gap[idx[seen]] = g
            valid[idx[seen]] = True
            shut_before[idx] = shut_in[rows]
            newest[r] = ts[in_order]
            # a loss is remembered until the monitor has reported for one heartbeat interval again
            rs, ts_s = rows[seen], ts[seen]
            limit = state["sp_heartbeat_s"][rs] * state["sp_heartbeat_loss_factor"][rs]
            lost = g >= limit - SET_POINT_RTOL * np.maximum(limit, 1.0)
            loss_end[rs[lost]] = ts_s[lost]
            loss_s[rs[lost]] = g[lost]
            loss_shut[rs[lost]] = shut_in[rs[lost]]
            hold_ms = state["sp_heartbeat_s"][rs] * 1000.0
            recent = (loss_end[rs] != EMPTY_TS) & ((ts_s - loss_end[rs]) < hold_ms)
            silence[idx[seen]] = np.where(recent, loss_s[rs], g)
            shut_before[idx[seen]] = np.where(recent, loss_shut[rs], shut_before[idx[seen]])
            v = values[sel]
            if v.shape[1] >= 4:
                known = np.isfinite(v[:, 1]) & np.isfinite(v[:, 3])
                now_shut = (v[:, 3] >= FLAG_AT) & (v[:, 1] < FLAG_AT)
                shut_in[r[known]] = now_shut[known]
        yellow = np.where(shut_before, silence, np.nan)
        nan = np.full(n, np.nan)
        return Measures(
            score=gap,
            per_level=np.stack([silence, yellow, nan, nan], axis=1),
            valid=valid,
            extra={"gap_s": gap, "silence_s": silence, "shut_in_before": shut_before.astype(float)},
        )

    def _thresholds(self, state: State, rows: NDArray[np.int32]) -> LevelThresholds:
        nan = np.full(rows.size, np.nan)
        limit = state["sp_heartbeat_s"][rows] * state["sp_heartbeat_loss_factor"][rows]
        points = np.stack([limit, limit, nan, nan], axis=1)
        return LevelThresholds(points, points.copy(), np.ones(rows.size))

    def describe(self, ctx: TransitionContext) -> str:
        x, sp = ctx.extra, ctx.sp
        limit = sp["heartbeat_s"] * sp["heartbeat_loss_factor"]
        change = f"{level_label(ctx.previous)} → {level_label(ctx.level)}"
        tail = f" ({self.source}); {change} [rule {self.name}, sensor {ctx.sensor_id}]"
        gap = float(x["silence_s"] if ctx.rising else x["gap_s"])
        if ctx.rising:
            last = (
                "last status before it: passenger in a closed car, check nobody is still shut in"
                if ctx.level >= 2
                else "lift was unmonitored meanwhile, check the monitor's power and link"
            )
            return (
                f"no status from the lift monitor for {duration_text(gap)} at {ctx.where} ≥ "
                f"{fmt(sp['heartbeat_loss_factor'])} × {duration_text(sp['heartbeat_s'])} heartbeat = "
                f"{duration_text(limit)} by {duration_text(gap - limit)}, reporting again now; {last}{tail}"
            )
        return (
            f"lift monitor reporting regularly again at {ctx.where} for {duration_text(sp['heartbeat_s'])}: "
            f"{duration_text(gap)} since its previous status < {duration_text(limit)}{tail}"
        )
