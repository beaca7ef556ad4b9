"""Shared machinery of the elevator status rules: the car's channels, event-time runs and wording.

The ``elevator_status`` kind reports ``speed_mps, door_open, in_door_zone, occupied`` (riskstream.kinds).
The door, zone and occupancy channels are 0/1 flags; a value ≥ 0.5 counts as set. The status rules
(trapped passenger, stopped outside the door zone, door open while moving) are event-time state
machines: they measure *how long* a condition has held from the timestamps of the car's own readings,
one reading per car at a time (vectorised over cars), and keep that in their state.

:class:`ElevatorStatusRule` does the bookkeeping they share:

* a reading with a non-finite channel, or older than the car's newest reading, is dropped (NaN score,
  no state change, level unchanged);
* a reading that follows the car's previous one by more than ``stale_after_s`` (default 180 s, three
  60 s firmware heartbeats) starts every run afresh: nobody saw what the car did in between;
* subclasses implement :meth:`ElevatorStatusRule._advance` on one step of valid readings.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np
from numpy.typing import NDArray

from detectors.base import Batch, State
from detectors.domain.ring import EMPTY_TS
from detectors.domain.rule import DomainRule, Measures, fmt

P = TypeVar("P")

#: a 0/1 channel counts as set at or above this value
FLAG_AT = 0.5
#: firmware heartbeat of the sensor boxes (``HEART_BEAT_RATE 60000``, domain-thresholds.md §5.3 [S-code])
HEARTBEAT_S = 60.0
#: a gap longer than this (three heartbeats, QARTOD "fail" at 3× the interval [P]) breaks every run
STALE_AFTER_S = 3 * HEARTBEAT_S
#: speed below which the car counts as standing still [P] (a stopped car reads 0 ± sensor noise)
STOPPED_BELOW_MPS = 0.05


@dataclass(frozen=True, slots=True)
class CarStatus:
    """One step of valid status readings (one per car): the four channels decoded."""

    speed: NDArray[np.float64]
    door_open: NDArray[np.bool_]
    in_zone: NDArray[np.bool_]
    occupied: NDArray[np.bool_]

    @classmethod
    def of(cls, values: NDArray[np.float64]) -> CarStatus:
        return cls(
            speed=np.abs(values[:, 0]),
            door_open=values[:, 1] >= FLAG_AT,
            in_zone=values[:, 2] >= FLAG_AT,
            occupied=values[:, 3] >= FLAG_AT,
        )


@dataclass(frozen=True, slots=True)
class StepResult:
    """What :meth:`ElevatorStatusRule._advance` measured for one step: score, ``(m, 4)`` per-level
    measures and the rule's reason extras (name -> ``(m,)`` array)."""

    score: NDArray[np.float64]
    per_level: NDArray[np.float64]
    extra: dict[str, NDArray[Any]]


def run_start(
    since: NDArray[np.int64], holds: NDArray[np.bool_], ts: NDArray[np.int64], fresh: NDArray[np.bool_]
) -> NDArray[np.int64]:
    """New start time of a run: kept while ``holds`` (restarted at ``ts`` after a stale gap), else empty."""
    keep = (since != EMPTY_TS) & ~fresh
    return np.where(holds, np.where(keep, since, ts), EMPTY_TS).astype(np.int64)


def duration_text(seconds: float) -> str:
    """``47 s``, ``12 min 3 s``, ``1 h 5 min``: a duration for an operator."""
    if seconds is None or not math.isfinite(seconds):
        return "n/a"
    s = round(float(seconds))
    if abs(seconds - s) > 1e-9 and seconds < 60:
        return f"{fmt(seconds, 1)} s"
    if s < 60:
        return f"{s} s"
    if s < 3600:
        m, rest = divmod(s, 60)
        return f"{m} min" if rest == 0 else f"{m} min {rest} s"
    h, rest = divmod(s, 3600)
    m = rest // 60
    return f"{h} h" if m == 0 else f"{h} h {m} min"


def flag_text(x: Any, yes: str, no: str) -> str:
    return yes if bool(x) else no


class ElevatorStatusRule(DomainRule[P]):
    """Base of the event-time state machines on ``elevator_status`` (see module docstring)."""

    kinds: ClassVar[tuple[str, ...]] = ("elevator_status",)
    channels = 4
    #: names of the ``extra`` arrays :meth:`_advance` returns (NaN for readings it did not see)
    extra_names: ClassVar[tuple[str, ...]] = ()

    def _init_measure_state(self, capacity: int) -> State:
        state: State = {"newest_ts": np.full(capacity, EMPTY_TS, dtype=np.int64)}
        state.update(self._init_machine_state(capacity))
        return state

    @abstractmethod
    def _init_machine_state(self, capacity: int) -> State: ...

    @abstractmethod
    def _advance(
        self,
        state: State,
        rows: NDArray[np.int32],
        ts: NDArray[np.int64],
        car: CarStatus,
        fresh: NDArray[np.bool_],
    ) -> StepResult:
        """One valid reading per row (rows unique): update ``state`` in place, return the measures.

        ``fresh`` marks a car's first reading, or one after a gap longer than ``stale_after_s``.
        """

    def _measure(self, state: State, batch: Batch, steps: list[NDArray[np.int64]]) -> Measures:
        n = len(batch)
        values = batch.values if batch.values.ndim == 2 else batch.values[:, None]
        finite = _all_finite_rows(values)
        score = np.full(n, np.nan)
        per_level = np.full((n, 4), np.nan)
        valid = np.zeros(n, dtype=bool)
        extra = {k: np.full(n, np.nan) for k in self.extra_names}
        newest = state["newest_ts"]
        for idx in steps:
            ok = finite[idx] & (batch.ts_ms[idx] >= newest[batch.rows[idx]])
            sel = idx[ok]
            if sel.size == 0:
                continue
            whole = sel.size == n  # one valid reading per car: the step is the batch, in order
            rows, ts = (batch.rows, batch.ts_ms) if whole else (batch.rows[sel], batch.ts_ms[sel])
            prev = newest[rows]
            stale_ms = state["sp_stale_after_s"][rows] * 1000.0
            fresh = (prev == EMPTY_TS) | ((ts - prev) > stale_ms)
            out = self._advance(state, rows, ts, CarStatus.of(values if whole else values[sel]), fresh)
            newest[rows] = ts
            at = slice(None) if whole else sel
            score[at] = out.score
            per_level[at] = out.per_level
            valid[at] = True
            for k, v in out.extra.items():
                extra[k][at] = v
        return Measures(score=score, per_level=per_level, valid=valid, extra=extra)


def _all_finite_rows(values: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Whether every channel of each reading is finite; four channels are checked as one 32-bit word of
    their four flag bytes (a row-wise ``all`` over four columns is slow)."""
    ok = np.ascontiguousarray(np.isfinite(values))
    if ok.ndim == 2 and ok.shape[1] == 4:
        return ok.view("<u4").reshape(-1) == np.uint32(0x01010101)
    return ok.all(axis=1)
