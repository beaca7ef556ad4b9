"""Alarm state per (sensor row, rule): turns per-reading levels into transitions (design.md §5).

A rule's level policy decides the level of every reading; the alarm keeps the level last announced for
each sensor and emits only the changes. Readings of one sensor in one batch apply in order, so
``normal → yellow → orange`` within a batch gives two transitions.

The engine now uses the full lifecycle in :mod:`detectors.lifecycle` (debounce, hysteresis, latch,
escalation, deadman, flapping, ack/shelve/maintenance; docs/alarms/); this module keeps the original
minimal machine for its callers: it announces every change of the decided level. Its state is a dict of
arrays whose first axis is the sensor row (the detector convention), so it grows, snapshots and restores
like detector state.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from detectors.base import State, StateKeyMismatchError, copy_state, grow_arrays

_EMPTY_I64 = np.empty(0, dtype=np.int64)
_EMPTY_I8 = np.empty(0, dtype=np.int8)
#: ``since_ts_ms`` of a row that never changed level
NEVER = np.iinfo(np.int64).min


@dataclass(frozen=True, slots=True)
class Transitions:
    """Level changes of one batch, in batch order: reading index, previous level, new level."""

    index: NDArray[np.int64]
    previous: NDArray[np.int8]
    level: NDArray[np.int8]

    def __len__(self) -> int:
        return int(self.index.size)

    @classmethod
    def empty(cls) -> Transitions:
        return cls(_EMPTY_I64, _EMPTY_I8, _EMPTY_I8)


class AlarmMachine:
    """Vectorised alarm state of one rule over all its sensor rows.

    State keys: ``level`` (int8, last announced level) and ``since_ts_ms`` (int64, event time of the
    reading that moved the row to that level, :data:`NEVER` if it never moved).
    """

    LAYOUT_VERSION = "alarm-v1"
    max_level: int

    def __init__(self, max_level: int = 4) -> None:
        self.max_level = max_level

    def init_state(self, capacity: int) -> State:
        return {
            "level": np.zeros(capacity, dtype=np.int8),
            "since_ts_ms": np.full(capacity, NEVER, dtype=np.int64),
        }

    def grow(self, state: State, capacity: int) -> State:
        have = int(state["level"].shape[0])
        if capacity < have:
            raise ValueError(f"cannot shrink alarm state from {have} to {capacity} rows")
        return grow_arrays(state, self.init_state(capacity - have)) if capacity > have else copy_state(state)

    def state_key(self) -> str:
        return f"{self.LAYOUT_VERSION}|max_level={self.max_level}"

    def apply(
        self,
        state: State,
        rows: NDArray[np.int32],
        levels: NDArray[np.int8],
        ts_ms: NDArray[np.int64] | None = None,
    ) -> tuple[Transitions, State]:
        """Transitions of a batch sorted by (row, ts_ms) and the new state; ``state`` is not touched."""
        rows = np.asarray(rows, dtype=np.int32)
        levels = np.asarray(levels, dtype=np.int8)
        n = rows.size
        if levels.shape != rows.shape:
            raise ValueError(f"levels {levels.shape} do not match rows {rows.shape}")
        if n and (int(levels.min()) < 0 or int(levels.max()) > self.max_level):
            raise ValueError(f"levels must be within 0..{self.max_level}")
        if n and np.any(rows[1:] < rows[:-1]):
            raise ValueError("alarm input must be sorted by row")
        if n == 0:
            return Transitions.empty(), copy_state(state)
        if ts_ms is None:
            ts_ms = np.zeros(n, dtype=np.int64)
        same_as_before = np.r_[False, rows[1:] == rows[:-1]]
        previous = np.where(same_as_before, np.r_[np.int8(0), levels[:-1]], state["level"][rows]).astype(
            np.int8
        )
        index = np.flatnonzero(levels != previous)
        new = copy_state(state)
        last = np.flatnonzero(np.r_[rows[1:] != rows[:-1], True])
        new["level"][rows[last]] = levels[last]
        if index.size:
            changed_rows = rows[index]
            last_change = index[np.r_[changed_rows[1:] != changed_rows[:-1], True]]
            new["since_ts_ms"][rows[last_change]] = np.asarray(ts_ms)[last_change]
        return Transitions(index.astype(np.int64), previous[index], levels[index]), new

    def snapshot(self, state: State) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, __state_key__=np.array(self.state_key()), **state)
        return buf.getvalue()

    def restore(self, blob: bytes) -> State:
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            key = str(data["__state_key__"])
            if key != self.state_key():
                raise StateKeyMismatchError(f"alarm snapshot key {key} != {self.state_key()}")
            return {k: data[k].copy() for k in data.files if k != "__state_key__"}
