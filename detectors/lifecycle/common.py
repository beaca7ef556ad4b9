"""Shared pieces of the alarm lifecycle: time sentinels, causes, phases, level events, copy-on-write state.

Ordering convention (what makes replay and live agree, design.md §5): event time is the highest
``ts_ms`` seen. Readings at time T are applied first, then operator actions stamped T, and a timer due
at T (deadman, escalation, shelve expiry, flapping settle) fires only once event time is past T, i.e.
when a reading later than T arrives (or :meth:`detectors.engine.Engine.tick` moves the clock past it).
So a sensor whose reading arrives exactly when its timeout is due is not faulted, and a stream cut into
batches anywhere gives the same alerts as the whole stream.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from numpy.typing import NDArray

from detectors.base import State
from detectors.domain.policy import highest_level as policy_highest_level

#: "no time": a run that has not started, a sensor never seen
NEVER = np.iinfo(np.int64).min
#: "no timer": never due
NO_DUE = np.iinfo(np.int64).max
#: a shelve or maintenance window without an end (until unshelved)
FOREVER = NO_DUE - 1

_EMPTY_I32 = np.empty(0, dtype=np.int32)
_EMPTY_I64 = np.empty(0, dtype=np.int64)
_EMPTY_I8 = np.empty(0, dtype=np.int8)


class Phase(IntEnum):
    """Order of things that happen at the same event time."""

    READING = 0
    ACTION = 1
    TIMER = 2


class Cause(IntEnum):
    """Why a level changed (drives the alert's reason)."""

    READING = 0  # the rule's level of a reading (debounce, hysteresis applied)
    ESCALATION = 1  # held at a level for its escalate_after_ms
    DEESCALATION = 2  # one step down after deescalate_step_ms
    ACK = 3  # a latched alarm released by an acknowledgement
    DEADMAN = 4  # no reading within the expected interval × factor
    RESUMED = 5  # a silent sensor reported again
    AGREEMENT = 6  # several rules of the sensor agree (+1), or no longer do
    FLAP_END = 7  # flapping settled: the current level is announced
    UNSUPPRESS = 8  # shelve or maintenance ended: the current level is announced


@dataclass(frozen=True, slots=True)
class LevelEvents:
    """Level changes of one group of pairs, in the order they happened per row.

    ``row`` is the pair's row in its group (a rule's kind-local row, or the registry row for the
    deadman); ``index`` the reading (in the batch given to the machine) that caused it, -1 for timers
    and actions; ``value`` a number for the reason (deadman: silence in ms), NaN when none.
    """

    row: NDArray[np.int32]
    ts_ms: NDArray[np.int64]
    previous: NDArray[np.int8]
    level: NDArray[np.int8]
    cause: NDArray[np.int8]
    phase: NDArray[np.int8]
    index: NDArray[np.int64]
    value: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.row.size)

    @classmethod
    def empty(cls) -> LevelEvents:
        return cls(
            _EMPTY_I32, _EMPTY_I64, _EMPTY_I8, _EMPTY_I8, _EMPTY_I8, _EMPTY_I8, _EMPTY_I64, np.empty(0)
        )


class EventBuffer:
    """Collects :class:`LevelEvents` pieces; order of appends is kept (per row it is time order)."""

    def __init__(self) -> None:
        self._parts: list[tuple[NDArray[np.int64], ...]] = []

    def add(
        self,
        row: NDArray[np.integer],
        ts_ms: NDArray[np.int64],
        previous: NDArray[np.integer],
        level: NDArray[np.integer],
        cause: int | NDArray[np.integer],
        phase: int | NDArray[np.integer],
        index: int | NDArray[np.integer] = -1,
        value: float | NDArray[np.floating] = np.nan,
    ) -> None:
        n = int(np.size(row))
        if n == 0:
            return
        self._parts.append(
            (
                np.asarray(row, dtype=np.int32),
                np.broadcast_to(np.asarray(ts_ms, dtype=np.int64), (n,)),
                np.broadcast_to(np.asarray(previous, dtype=np.int8), (n,)),
                np.broadcast_to(np.asarray(level, dtype=np.int8), (n,)),
                np.broadcast_to(np.asarray(cause, dtype=np.int8), (n,)),
                np.broadcast_to(np.asarray(phase, dtype=np.int8), (n,)),
                np.broadcast_to(np.asarray(index, dtype=np.int64), (n,)),
                np.broadcast_to(np.asarray(value, dtype=np.float64), (n,)),
            )
        )

    def freeze(self) -> LevelEvents:
        if not self._parts:
            return LevelEvents.empty()
        cols = [np.concatenate([p[i] for p in self._parts]) for i in range(8)]
        return LevelEvents(*cols)  # type: ignore[arg-type]


class Cow:
    """Copy-on-write view of a state dict: arrays are copied the first time they are written.

    The given state is never modified (engine purity), and columns a call does not touch are shared
    with the previous state instead of copied (most lifecycle columns change rarely). With
    ``owned=True`` the caller owns the state (the engine's in-place path) and writes go straight into
    its arrays: no copy at all.
    """

    __slots__ = ("_cols", "_copied", "hints", "owned")

    def __init__(self, state: State, owned: bool = False, hints: Mapping[str, int] | None = None) -> None:
        self._cols: State = dict(state)
        self._copied: set[str] = set()
        self.owned = owned
        #: lower bounds of timer columns (every row's value is ≥ its bound) from earlier calls, so a call
        #: need not scan a whole column to find that no timer is due (see :meth:`due_before`)
        self.hints: dict[str, int] = dict(hints or {})

    def __getitem__(self, key: str) -> np.ndarray:
        return self._cols[key]

    def _writable(self, key: str) -> np.ndarray:
        if not self.owned and key not in self._copied:
            self._cols[key] = self._cols[key].copy()
            self._copied.add(key)
        return self._cols[key]

    def w(self, key: str) -> np.ndarray:
        """The column, writable (a private copy, or the owner's array itself). Writes through it are not
        seen, so the column's bound is forgotten (the next :meth:`due_before` scans it)."""
        self.hints.pop(key, None)
        return self._writable(key)

    def put(self, key: str, rows: NDArray[np.integer], values: object) -> None:
        """``column[rows] = values``, keeping the column's bound a lower bound."""
        self._writable(key)[rows] = values
        bound = self.hints.get(key)
        if bound is not None and np.size(values):
            self.hints[key] = min(bound, int(np.min(values)))

    def due_before(self, key: str, now_ms: int) -> NDArray[np.int32]:
        """Rows whose ``key`` (a timer column: a time or ``NO_DUE``) is before ``now_ms``.

        A whole-column scan only when the column's bound does not already rule every row out; a scan
        that finds nothing due records the column's minimum as its new bound, one that finds rows forgets
        it (their timers fire and are set again).
        """
        bound = self.hints.get(key)
        if bound is not None and bound >= now_ms:
            return _EMPTY_I32
        col = self._cols[key]
        rows = np.flatnonzero(col < now_ms).astype(np.int32)
        if rows.size:
            self.hints.pop(key, None)
        else:
            self.hints[key] = int(col.min()) if col.size else int(NO_DUE)
        return rows

    def state(self) -> State:
        return dict(self._cols)


def highest_level(hit: NDArray[np.bool_]) -> NDArray[np.int8]:
    """Highest level k (1..4) whose column k-1 is True, 0 when none."""
    return policy_highest_level(hit)


def row_steps(rows: NDArray[np.integer]) -> list[NDArray[np.int64]]:
    """For rows sorted ascending: index arrays of the k-th entry of every row, k = 0, 1, …"""
    n = rows.size
    if n == 0:
        return []
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    occ = np.arange(n, dtype=np.int64) - np.repeat(starts, np.diff(np.r_[starts, n]))
    if int(occ.max()) == 0:
        return [np.arange(n, dtype=np.int64)]
    order = np.argsort(occ, kind="stable")
    counts = np.bincount(occ)
    return np.split(order, np.cumsum(counts)[:-1])


def alert_id_prefix(alert_id: str) -> int:
    """The first 64 bits of a hex alert id, as stored per pair to match acknowledgements."""
    return int(alert_id[:16], 16)
