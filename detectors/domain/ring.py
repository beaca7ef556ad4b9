"""Per-sensor ring buffers, vectorised over the sensors of one step (at most one reading per sensor).

Two kinds of rings serve the domain rules:

* :class:`PointRing` keeps the last ``points`` readings ``(ts_ms, x)`` of every sensor, for trailing
  least-squares slopes (landslide tangent angle, pipeline pressure drop). A reading that arrives late
  (older than the sensor's newest) is still stored; windows are anchored at the sensor's newest time,
  so a level always describes the sensor "as of now" and a late reading never rewinds it.
* :class:`BinRing` keeps event-time bins of ``bin_ms`` (sums of increments, e.g. rain in mm) covering
  the trailing ``bins · bin_ms``. Trailing sums are taken over whole bins, anchored at the bin of the
  sensor's newest reading.

The functions update arrays the caller owns (a copy made once per batch), never the caller's input.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from detectors.base import MEMO_PREFIX, State

#: ``ts_ms`` of an empty slot: older than any window
EMPTY_TS = np.iinfo(np.int64).min
#: bin index of a ring that never saw a reading
NO_BIN = np.iinfo(np.int64).min
#: newest-stored points a short-window fit looks at first (:class:`PointRing` ``recent``): a 60 s window
#: at one reading per few seconds holds about a dozen of them
RECENT_POINTS = 16


class PointRing:
    """Last ``points`` readings per sensor: ``<prefix>_ts``, ``_x``, ``_head`` (next slot), ``_newest_ts``."""

    def __init__(self, prefix: str, points: int, recent: int | None = None) -> None:
        if points < 2:
            raise ValueError(f"a point ring needs at least 2 points, got {points}")
        self.points = points
        #: fit over the ``recent`` most recently stored points when a row's window holds no other (None:
        #: always over the whole ring); for windows much shorter than the ring
        self.recent = recent if recent is not None and 2 <= recent < points else None
        self.ts_key = f"{prefix}_ts"
        self.x_key = f"{prefix}_x"
        self.head_key = f"{prefix}_head"
        self.newest_key = f"{prefix}_newest_ts"

    def init_state(self, capacity: int) -> State:
        return {
            self.ts_key: np.full((capacity, self.points), EMPTY_TS, dtype=np.int64),
            self.x_key: np.full((capacity, self.points), np.nan, dtype=np.float64),
            self.head_key: np.zeros(capacity, dtype=np.int32),
            self.newest_key: np.full(capacity, EMPTY_TS, dtype=np.int64),
        }

    def push(
        self, state: State, rows: NDArray[np.int32], ts_ms: NDArray[np.int64], x: NDArray[np.float64]
    ) -> None:
        """Store one reading per row (rows unique); returns nothing, updates ``state`` in place."""
        head = state[self.head_key][rows]
        state[self.ts_key][rows, head] = ts_ms
        state[self.x_key][rows, head] = x
        state[self.head_key][rows] = (head + 1) % self.points
        state[self.newest_key][rows] = np.maximum(state[self.newest_key][rows], ts_ms)

    def window_slope(
        self, state: State, rows: NDArray[np.int32], window_ms: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]:
        """Least-squares slope (x units per second) over each row's readings in its trailing window.

        The window is ``(newest - window_ms, newest]``. Returns ``(slope, points, span_ms)``; the slope is
        NaN with fewer than 2 distinct times.
        """
        if self.recent is not None and rows.size:
            return self._recent_slope(state, rows, window_ms)
        return self._whole_slope(state, rows, window_ms)

    def _whole_slope(
        self, state: State, rows: NDArray[np.int32], window_ms: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]:
        """:meth:`window_slope` over every stored point."""
        newest = state[self.newest_key][rows]
        ts = state[self.ts_key][rows]
        x = state[self.x_key][rows]
        seen = newest != EMPTY_TS
        lo = np.where(seen, newest - window_ms, np.iinfo(np.int64).max)
        inside = (ts > lo[:, None]) & (ts <= newest[:, None])
        n = np.count_nonzero(inside, axis=1)
        oldest = np.where(inside, ts, np.iinfo(np.int64).max).min(axis=1)
        span_ms = np.where(n > 0, newest - oldest, 0)
        # one pass of sums, with times in seconds relative to the newest reading (t = 0 is in the
        # window, which keeps Σt² - (Σt)²/n well conditioned) and values relative to the last one stored
        x_ref = x[np.arange(rows.size), (state[self.head_key][rows] - 1) % self.points]
        t = np.where(inside, (ts - newest[:, None]) * 1e-3, 0.0)
        xr = np.where(inside, x - x_ref[:, None], 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            nf = n.astype(np.float64)
            st, sx = t.sum(axis=1), xr.sum(axis=1)
            stt = np.einsum("ij,ij->i", t, t)
            sxx = stt - st * st / nf
            sxy = np.einsum("ij,ij->i", t, xr) - st * sx / nf
            slope = np.where(sxx > 1e-9 * stt, sxy / sxx, np.nan)
        return slope, n.astype(np.int64), span_ms.astype(np.int64)

    def _recent_slope(
        self, state: State, rows: NDArray[np.int32], window_ms: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]:
        """:meth:`window_slope` over the ``recent`` newest-stored points of the rows whose window holds
        no other stored point (the rest over the whole ring).

        The recent points are gathered slot-major (``(recent, m)``), so every per-row sum runs over whole
        rows of sensors. Which rows qualify is decided per row from its own points, so a sensor's slope
        never depends on the other sensors of the batch.
        """
        k, p = int(self.recent or 0), self.points
        newest = state[self.newest_key][rows]
        seen = newest != EMPTY_TS
        lo = np.where(seen, newest - window_ms, np.iinfo(np.int64).max)
        head = state[self.head_key][rows]
        # points of the window among all stored ones (every stored ts is ≤ newest)
        flags = state[self.ts_key][rows] > lo[:, None]
        if p % 8:
            in_window = np.count_nonzero(flags, axis=1).astype(np.uint64)
        else:  # eight flags per word, counted by one multiplication each (no row-wise reduction)
            words = flags.view(np.uint64)
            in_window = np.zeros(rows.size, dtype=np.uint64)
            for j in range(words.shape[1]):
                in_window += (words[:, j] * _BYTE_SUM) >> np.uint64(56)
        back = head[:, None] - 1 - np.arange(k)[None, :]  # (m, k), newest-stored first
        recent = back & (p - 1) if p & (p - 1) == 0 else back % p  # (a power of two: the same, cheaper)
        # gathered sensor by sensor (each sensor's slots are one row of the ring), used slot-major
        ts = np.ascontiguousarray(take_cells(state[self.ts_key], rows, recent).T)
        inside = (ts > lo) & (ts <= newest)
        n = np.count_nonzero(inside, axis=0)
        oldest = np.where(inside, ts, np.iinfo(np.int64).max).min(axis=0)
        span_ms = np.where(n > 0, newest - oldest, 0)
        x = np.ascontiguousarray(take_cells(state[self.x_key], rows, recent).T)
        t = np.where(inside, (ts - newest) * 1e-3, 0.0)  # seconds relative to the newest reading
        xr = np.where(inside, x - x[0], 0.0)  # values relative to the last one stored
        with np.errstate(invalid="ignore", divide="ignore"):
            nf = n.astype(np.float64)
            st, sx = _sum_rows(t), _sum_rows(xr)
            stt = _sum_rows(t * t)
            sxx = stt - st * st / nf
            sxy = _sum_rows(t * xr) - st * sx / nf
            slope = np.where(sxx > 1e-9 * stt, sxy / sxx, np.nan)
        n, span_ms = n.astype(np.int64), span_ms.astype(np.int64)
        whole = np.flatnonzero(in_window != n.astype(np.uint64))  # an older-stored point in the window
        if whole.size:
            slope[whole], n[whole], span_ms[whole] = self._whole_slope(state, rows[whole], window_ms[whole])
        return slope, n, span_ms


_BYTE_SUM = np.uint64(0x0101010101010101)  # × a word of 0/1 bytes: their count in the top byte


def take_cells(a: NDArray[Any], rows: NDArray[np.int32], slots: NDArray[np.integer]) -> NDArray[Any]:
    """``a[rows[:, None], slots]`` (``slots`` of shape ``(m, k)``) for a ``(capacity, points)`` column:
    one gather of flat indices ``row · points + slot`` instead of numpy's two-index fancy indexing."""
    if not a.flags.c_contiguous:
        return a[rows[:, None], slots]
    return np.take(a.reshape(-1), rows.astype(np.int64)[:, None] * a.shape[1] + slots)


def _sum_rows(a: NDArray[np.float64]) -> NDArray[np.float64]:
    """Sum over the leading axis, strictly in order (numpy may sum pairwise when there is one column,
    which would make a sensor's sums depend on how many others share its batch)."""
    out = a[0].copy()
    for row in a[1:]:
        out += row
    return out


class BinRing:
    """Event-time bins per sensor under ``<prefix>_bins`` (sums) and ``<prefix>_head`` (newest bin index)."""

    def __init__(self, prefix: str, bin_ms: int, bins: int, widths: tuple[int, ...] = ()) -> None:
        if bin_ms <= 0 or bins <= 0:
            raise ValueError("bin_ms and bins must be positive")
        self.bin_ms = bin_ms
        self.bins = bins
        self.bins_key = f"{prefix}_bins"
        self.head_key = f"{prefix}_head"
        self._positions = np.arange(bins, dtype=np.int64)
        #: the trailing widths the rule sums at every reading: their older bins' sums are memos
        self.widths = tuple(widths)
        self.memo_older_key = f"{MEMO_PREFIX}{prefix}_older_sums"
        self.memo_head_key = f"{MEMO_PREFIX}{prefix}_older_head"

    def init_state(self, capacity: int) -> State:
        state = {
            self.bins_key: np.zeros((capacity, self.bins), dtype=np.float64),
            self.head_key: np.full(capacity, NO_BIN, dtype=np.int64),
        }
        if self.widths:
            state[self.memo_older_key] = np.zeros((capacity, len(self.widths)), dtype=np.float64)
            state[self.memo_head_key] = np.full(capacity, NO_BIN, dtype=np.int64)  # NO_BIN: not held
        return state

    def add(
        self, state: State, rows: NDArray[np.int32], ts_ms: NDArray[np.int64], x: NDArray[np.float64]
    ) -> None:
        """Add one increment per row (rows unique) to the bin of its ``ts_ms``; in place.

        Moving the newest bin forward clears the bins that fall out of the ring. An increment older than
        the ring (late by more than ``bins · bin_ms``) is dropped.
        """
        b = ts_ms // self.bin_ms
        head = state[self.head_key][rows]
        empty = head == NO_BIN
        new_head = np.where(empty, b, np.maximum(head, b))
        moved = np.minimum(new_head - np.where(empty, new_head - self.bins, head), self.bins)
        # clear the bins the move passes over: all of them after a long silence, else head+1 .. new_head
        whole = moved >= self.bins
        if whole.any():
            state[self.bins_key][rows[whole]] = 0.0
        part = np.flatnonzero((moved > 0) & ~whole)
        if part.size:
            r = rows[part]
            offset = (self._positions[None, :] - (head[part] + 1)[:, None]) % self.bins
            block = state[self.bins_key][r]
            block[offset < moved[part][:, None]] = 0.0
            state[self.bins_key][r] = block
        fits = b > new_head - self.bins
        state[self.bins_key][rows[fits], b[fits] % self.bins] += x[fits]
        state[self.head_key][rows] = new_head
        if self.widths:  # a late increment changes an older bin: the memo of its row no longer holds
            late = fits & (b < new_head)
            if late.any():
                state[self.memo_head_key][rows[late]] = NO_BIN

    def trailing_sums(
        self, state: State, rows: NDArray[np.int32], widths: tuple[int, ...]
    ) -> NDArray[np.float64]:
        """``(m, len(widths))`` sums over the newest ``width`` bins of each row (the newest bin included).

        A sum is that of the ``width - 1`` older bins plus the newest bin. The older bins change only when
        the newest bin moves on (or a late increment lands in one), so for the ring's own :attr:`widths`
        their sums are kept as memos (``memo_*`` columns, refreshed here for the rows given); the memo
        holds exactly what a recomputation gives.
        """
        head = state[self.head_key][rows]
        seen = head != NO_BIN
        newest = (np.where(seen, head, 0) % self.bins).astype(np.int64)
        if self.widths and tuple(widths) == self.widths:
            fresh = np.flatnonzero(seen & (state[self.memo_head_key][rows] != head))
            if fresh.size:
                r = rows[fresh]
                state[self.memo_older_key][r] = self._older_sums(state, r, newest[fresh], widths)
                state[self.memo_head_key][r] = head[fresh]
            older = state[self.memo_older_key][rows]
            older[~seen] = 0.0  # never saw an increment: empty bins
        else:
            older = self._older_sums(state, rows, newest, widths)
        out = older + state[self.bins_key][rows, newest][:, None]
        # prefix differences leave rounding residue (1e-15 mm where no rain fell): keep 1e-9 mm resolution
        return np.maximum(np.round(out, 9), 0.0)

    def _older_sums(
        self, state: State, rows: NDArray[np.int32], newest: NDArray[np.int64], widths: tuple[int, ...]
    ) -> NDArray[np.float64]:
        """``(m, len(widths))`` sums over the ``width - 1`` bins before the newest of each row (per row:
        prefix differences of the row's own running sum)."""
        csum = np.cumsum(state[self.bins_key][rows], axis=1)
        at = np.arange(rows.size)
        total = csum[:, -1]
        hi = (newest - 1) % self.bins  # the bin before the newest
        upto_hi = csum[at, hi]
        out = np.zeros((rows.size, len(widths)), dtype=np.float64)
        for j, w in enumerate(widths):
            if w <= 1:
                continue
            # circular range (newest - w, newest - 1]: a prefix difference, wrapping past position 0
            lo = (newest - min(w, self.bins)) % self.bins
            wrapped = lo >= hi
            out[:, j] = upto_hi - csum[at, lo] + np.where(wrapped, total, 0.0)
        return out
