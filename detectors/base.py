"""The detector contract: immutable parameters, state as arrays by sensor row, pure scoring.

A detector never does I/O and never mutates the state it is given:

* ``init_state(capacity)`` builds cold state for ``capacity`` sensor rows;
* ``step(state, batch)`` returns the score of every reading of the batch (batch order) and the new
  state, applying each sensor's readings in timestamp order; a reading's score depends only on that
  sensor's earlier readings (no look-ahead);
* ``score`` and ``update`` are the two halves of ``step``; ``update`` learns only where ``learn_mask``;
* ``grow(state, capacity)`` keeps old rows and appends cold ones;
* ``snapshot``/``restore`` round-trip state, tagged with ``state_key()``, which changes whenever the
  parameters or the state layout change, so a stale snapshot is refused rather than misread.

Higher score means more anomalous (or more severe); NaN means not warmed up. Turning a score into a
warning level is the job of a separate policy (:class:`LevelPolicy`), never of the detector.

Per-sensor set points (from the registry's ``params``) are state columns named ``sp_*``: they grow,
snapshot and restore with the rest, and the defaults in the parameters fill cold rows.
"""

from __future__ import annotations

import hashlib
import io
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np
from numpy.typing import NDArray

State = dict[str, np.ndarray]
P = TypeVar("P")

_EMPTY_I32 = np.empty(0, dtype=np.int32)
_EMPTY_I64 = np.empty(0, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class Batch:
    """Columnar readings inside a worker, sorted by (row, ts_ms).

    ``values`` is ``(n,)`` for single-channel sensors and ``(n, channels)`` for multi-channel kinds.
    Build with :meth:`of`, which sorts once; the constructor trusts its caller.
    """

    rows: NDArray[np.int32]
    ts_ms: NDArray[np.int64]
    values: NDArray[np.float64]

    @classmethod
    def of(cls, rows: Any, ts_ms: Any, values: Any) -> Batch:
        r = np.asarray(rows, dtype=np.int32)
        t = np.asarray(ts_ms, dtype=np.int64)
        v = np.asarray(values, dtype=np.float64)
        if r.ndim != 1 or t.shape != r.shape or v.shape[:1] != r.shape:
            raise ValueError(f"batch columns disagree: rows {r.shape}, ts_ms {t.shape}, values {v.shape}")
        if r.size and int(r.min()) < 0:
            raise ValueError("batch rows must be non-negative")
        order = np.lexsort((t, r))
        if r.size and not np.array_equal(order, np.arange(r.size)):
            r, t, v = r[order], t[order], v[order]
        return cls(r, t, v)

    @classmethod
    def empty(cls, channels: int = 0) -> Batch:
        shape = (0, channels) if channels else (0,)
        return cls(_EMPTY_I32, _EMPTY_I64, np.empty(shape, dtype=np.float64))

    def __len__(self) -> int:
        return int(self.rows.size)

    def take(self, mask_or_index: NDArray[Any]) -> Batch:
        """A sub-batch (order preserved, so still sorted)."""
        return Batch(self.rows[mask_or_index], self.ts_ms[mask_or_index], self.values[mask_or_index])

    def occurrence(self) -> NDArray[np.int64]:
        """For each reading, how many readings of the same sensor precede it in this batch.

        Sequential detectors loop over occurrence ``k = 0, 1, …``: every step handles at most one
        reading per sensor, vectorised over all sensors.
        """
        n = len(self)
        if n == 0:
            return _EMPTY_I64
        starts = np.flatnonzero(np.r_[True, self.rows[1:] != self.rows[:-1]])
        run_start = np.repeat(starts, np.diff(np.r_[starts, n]))
        return np.arange(n, dtype=np.int64) - run_start

    def last_of_each_row(self) -> NDArray[np.int64]:
        """Index of each sensor's last (newest) reading in the batch."""
        n = len(self)
        if n == 0:
            return _EMPTY_I64
        return np.flatnonzero(np.r_[self.rows[1:] != self.rows[:-1], True])


def sequential_steps(batch: Batch) -> list[NDArray[np.int64]]:
    """Index arrays of the batch's k-th readings per sensor, for k = 0, 1, …, in order.

    When every sensor has one reading (the common case of a stream batch) that is the single step
    ``arange(n)``, found without sorting.
    """
    rows = batch.rows
    if rows.size == 0:
        return []
    if rows.size == 1 or bool(np.all(rows[1:] != rows[:-1])):
        return [np.arange(rows.size, dtype=np.int64)]
    occ = batch.occurrence()
    order = np.argsort(occ, kind="stable")
    counts = np.bincount(occ)
    return np.split(order, np.cumsum(counts)[:-1])


def grow_arrays(state: Mapping[str, np.ndarray], cold: Mapping[str, np.ndarray]) -> State:
    """Append the cold rows of ``cold`` under each key of ``state`` (a new dict, new arrays)."""
    return {k: np.concatenate([state[k], cold[k]], axis=0) for k in state}


def copy_state(state: Mapping[str, np.ndarray]) -> State:
    return {k: v.copy() for k, v in state.items()}


#: prefix of per-sensor set-point columns: configured at load time, never written by a step
SET_POINT_PREFIX = "sp_"


def copy_learned(state: Mapping[str, np.ndarray]) -> State:
    """A new state dict whose learned columns are copies and whose ``sp_*`` set points are shared.

    What a pure step needs before writing: set points are never written by a step (only replaced, on a
    copy, by ``configure``), so sharing them is safe and saves their copy.
    """
    return {k: v if k.startswith(SET_POINT_PREFIX) else v.copy() for k, v in state.items()}


class StateKeyMismatchError(ValueError):
    """A snapshot taken with other parameters or another state layout."""


class Detector(ABC, Generic[P]):
    """Base of every detector and domain rule (see module docstring for the contract)."""

    name: ClassVar[str]
    #: channels of ``values`` the detector expects (0 = single-channel ``(n,)`` values)
    channels: ClassVar[int] = 0

    def __init__(self, params: P) -> None:
        self.params = params

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params!r})"

    @abstractmethod
    def init_state(self, capacity: int) -> State:
        """Cold state for ``capacity`` sensor rows."""

    @abstractmethod
    def step(self, state: State, batch: Batch) -> tuple[NDArray[np.float64], State]:
        """Scores of every reading (batch order) and the new state. Must not mutate ``state``."""

    def score(self, state: State, batch: Batch) -> NDArray[np.float64]:
        return self.step(state, batch)[0]

    def update(self, state: State, batch: Batch, learn_mask: NDArray[np.bool_] | None = None) -> State:
        if learn_mask is not None:
            batch = batch.take(np.asarray(learn_mask, dtype=bool))
        return self.step(state, batch)[1]

    def grow(self, state: State, capacity: int) -> State:
        have = self.capacity(state)
        if capacity < have:
            raise ValueError(f"cannot shrink state from {have} to {capacity} rows")
        if capacity == have:
            return copy_state(state)
        return grow_arrays(state, self.init_state(capacity - have))

    @staticmethod
    def capacity(state: Mapping[str, np.ndarray]) -> int:
        return int(next(iter(state.values())).shape[0]) if state else 0

    def state_key(self) -> str:
        """Changes when the parameters or the state layout change (memo columns aside: ``MEMO_PREFIX``)."""
        layout = sorted(
            (k, v.dtype.str, v.shape[1:]) for k, v in self.init_state(1).items() if not is_memo(k)
        )
        text = f"{type(self).__module__}.{type(self).__qualname__}|{_params_text(self.params)}|{layout}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def snapshot(self, state: State) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, __state_key__=np.array(self.state_key()), **state)
        return buf.getvalue()

    def restore(self, blob: bytes) -> State:
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            key = str(data["__state_key__"])
            if key != self.state_key():
                raise StateKeyMismatchError(f"{self.name}: snapshot key {key} != {self.state_key()}")
            state = {k: data[k].copy() for k in data.files if k != "__state_key__"}
        return with_memos(state, self.init_state(self.capacity(state)))


#: prefix of memo columns: values a detector derives from its other columns and keeps to save work
#: (e.g. the sums of a fit window's older bins). A memo never changes a result: recomputed from the other
#: columns it gives exactly what it holds. So memos are left out of ``state_key`` (a snapshot taken
#: without them, by an older version, still restores) and a restored state missing them gets cold ones.
MEMO_PREFIX = "memo_"


def is_memo(key: str) -> bool:
    return key.startswith(MEMO_PREFIX)


def with_memos(state: State, cold: Mapping[str, np.ndarray]) -> State:
    """``state`` plus the memo columns of ``cold`` (same rows) it lacks."""
    missing = {k: v for k, v in cold.items() if is_memo(k) and k not in state}
    return {**state, **missing} if missing else state


def _params_text(params: Any) -> str:
    if is_dataclass(params) and not isinstance(params, type):
        return repr(tuple((f.name, getattr(params, f.name)) for f in fields(params)))
    return repr(params)


@dataclass(frozen=True, slots=True)
class LevelPolicy:
    """Turns scores into levels 0..k with per-sensor thresholds (``thresholds[row, k-1]``).

    A reading reaches level k when its score is at or above the k-th threshold; NaN thresholds never
    trigger, NaN scores give level 0. Kept apart from detectors (pyod's lesson in design.md §7).
    """

    thresholds: NDArray[np.float64]

    def levels(self, rows: NDArray[np.int32], scores: NDArray[np.float64]) -> NDArray[np.int8]:
        thr = self.thresholds[rows]
        with np.errstate(invalid="ignore"):
            hit = scores[:, None] >= thr
        return hit.sum(axis=1).astype(np.int8)
