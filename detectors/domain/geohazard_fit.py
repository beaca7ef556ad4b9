"""Time-binned least-squares fits per sensor, vectorised over the sensors of one step.

The landslide rules smooth cumulative displacement with a least-squares slope over a trailing window
(domain-thresholds.md §3.1: raw GNSS noise makes point-to-point angles jump). A ring of the last N
*readings* cannot serve every reporting interval: 128 readings cover 600 s only down to one reading
every ~4.7 s, and a point that reports every second would never fill its window. :class:`FitBins`
therefore sizes the ring by *time*: each sensor's readings fall into event-time bins of ``bin_ms``
(its window divided by a fixed number of slots), and every bin keeps the least-squares sufficient
statistics of its readings (count, Σt, Σx, Σt², Σtx, Σx², relative to the bin's start and to the bin's
first value). A fit over any run of whole bins is then exact - the same slope as fitting every reading
in those bins - at any reporting rate, in constant memory.

Windows are whole bins anchored at the bin of the sensor's newest reading: a window of ``k`` bins
covers between ``(k - 1)·bin_ms`` and ``k·bin_ms`` before the newest reading. A late reading is added
to its own bin while the ring still holds it (older: dropped); the fit stays anchored at the newest
reading, so a late reading never rewinds a level. When a sensor's bin width changes (its window was
reconfigured), its ring starts empty.

The functions update arrays the caller owns (a copy made once per batch), never the caller's input.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from detectors.base import MEMO_PREFIX, State
from detectors.domain.ring import EMPTY_TS, NO_BIN
from detectors.rows import put_rows, take_rows

_SUMS = ("n", "st", "sx", "stt", "stx", "sxx")
_I64_MAX = np.iinfo(np.int64).max


@dataclass(frozen=True, slots=True)
class LineFit:
    """A least-squares line ``x = a + slope·t`` per row (NaN where it cannot be fitted).

    ``slope`` in x units per second; ``sigma_slope`` its standard error from the residuals (NaN with
    fewer than 3 readings); ``points`` readings used; ``span_ms`` newest minus oldest reading time in the
    window; ``t_mean_s`` mean reading time relative to the sensor's newest reading (≤ 0).
    """

    slope: NDArray[np.float64]
    sigma_slope: NDArray[np.float64]
    points: NDArray[np.int64]
    span_ms: NDArray[np.int64]
    t_mean_s: NDArray[np.float64]


class FitBins:
    """``slots`` event-time bins per sensor under ``<prefix>_*`` keys (see module docstring)."""

    def __init__(self, prefix: str, slots: int, windows: tuple[tuple[int, int], ...] = ()) -> None:
        if slots < 1:
            raise ValueError(f"a fit ring needs at least one slot, got {slots}")
        self.slots = slots
        self.prefix = prefix
        self.bin_key = f"{prefix}_bin"
        self.tmin_key = f"{prefix}_tmin"
        self.xr_key = f"{prefix}_xr"
        self.width_key = f"{prefix}_width_ms"
        self.newest_key = f"{prefix}_newest_ts"
        self.sum_keys = {name: f"{prefix}_{name}" for name in _SUMS}
        #: the windows the rule fits at every reading: their older bins' sums are memos
        self.windows = tuple(windows)
        self.memo_sums_key = f"{MEMO_PREFIX}{prefix}_older_sums"
        self.memo_tmin_key = f"{MEMO_PREFIX}{prefix}_older_tmin"
        self.memo_top_key = f"{MEMO_PREFIX}{prefix}_older_top"

    def init_state(self, capacity: int) -> State:
        shape = (capacity, self.slots)
        state: State = {
            self.bin_key: np.full(shape, NO_BIN, dtype=np.int64),
            self.tmin_key: np.full(shape, EMPTY_TS, dtype=np.int64),
            self.xr_key: np.zeros(shape, dtype=np.float64),
            self.width_key: np.zeros(capacity, dtype=np.int64),
            self.newest_key: np.full(capacity, EMPTY_TS, dtype=np.int64),
        }
        state.update({key: np.zeros(shape, dtype=np.float64) for key in self.sum_keys.values()})
        if self.windows:
            w = len(self.windows)
            state[self.memo_sums_key] = np.zeros((capacity, w, len(_SUMS)), dtype=np.float64)
            state[self.memo_tmin_key] = np.full((capacity, w), _I64_MAX, dtype=np.int64)
            state[self.memo_top_key] = np.full(capacity, NO_BIN, dtype=np.int64)  # NO_BIN: not held
        return state

    def push(
        self,
        state: State,
        rows: NDArray[np.int32],
        ts_ms: NDArray[np.int64],
        x: NDArray[np.float64],
        bin_ms: NDArray[np.int64],
    ) -> None:
        """Add one reading per row (rows unique) with each row's bin width; in place."""
        if rows.size == 0:
            return
        changed = state[self.width_key][rows] != bin_ms
        if changed.any():
            r = rows[changed]
            state[self.bin_key][r] = NO_BIN
            state[self.newest_key][r] = EMPTY_TS
            state[self.width_key][r] = bin_ms[changed]
            if self.windows:
                state[self.memo_top_key][r] = NO_BIN
        b = ts_ms // bin_ms
        slot = b % self.slots
        held = state[self.bin_key][rows, slot]
        keep = held <= b  # a slot holding a newer bin means this reading is older than the ring: dropped
        rows, ts_ms, x, b, slot = rows[keep], ts_ms[keep], x[keep], b[keep], slot[keep]
        if self.windows:  # a late reading changes an older bin: its windows' memo no longer holds
            newest = state[self.newest_key][rows]
            older = (newest != EMPTY_TS) & (b < newest // bin_ms[keep])
            if older.any():
                state[self.memo_top_key][rows[older]] = NO_BIN
        fresh = held[keep] < b
        if fresh.any():
            fr, fs = rows[fresh], slot[fresh]
            state[self.bin_key][fr, fs] = b[fresh]
            state[self.tmin_key][fr, fs] = ts_ms[fresh]
            state[self.xr_key][fr, fs] = x[fresh]
            for key in self.sum_keys.values():
                state[key][fr, fs] = 0.0
        tau = (ts_ms - b * bin_ms[keep]) * 1e-3
        at = rows.astype(np.int64) * self.slots + slot  # (row, slot) as one index of the flat arrays
        xi = x - _flat(state[self.xr_key])[at]
        s = self.sum_keys
        for key, add in (
            ("n", 1.0),
            ("st", tau),
            ("sx", xi),
            ("stt", tau * tau),
            ("stx", tau * xi),
            ("sxx", xi * xi),
        ):
            col = _flat(state[s[key]])
            col[at] += add
        tmin = _flat(state[self.tmin_key])
        tmin[at] = np.minimum(tmin[at], ts_ms)
        state[self.newest_key][rows] = np.maximum(state[self.newest_key][rows], ts_ms)

    def fit(self, state: State, rows: NDArray[np.int32], skip_bins: int, n_bins: int) -> LineFit:
        """Least-squares line over each row's bins ``(newest - skip - n, newest - skip]``.

        ``skip_bins = 0`` is the trailing window ending at the newest reading; ``skip_bins = n_bins``
        the window before it.
        """
        many = self.fits(state, rows, ((skip_bins, n_bins),))
        return LineFit(*(getattr(many, f)[:, 0] for f in LineFit.__dataclass_fields__))

    def fits(self, state: State, rows: NDArray[np.int32], windows: tuple[tuple[int, int], ...]) -> LineFit:
        """:meth:`fit` for several ``(skip_bins, n_bins)`` windows at once: arrays of shape ``(m, w)``.

        A window's sums are those of its older bins (age ≥ 1) plus those of the newest bin, all relative
        to the start of the newest bin and to its reference value. The older bins change only when the
        newest bin moves on (or a late reading lands in one), so for the ring's own :attr:`windows` their
        sums are kept as memos (``memo_*`` columns, refreshed here, for the rows given) and the newest bin
        is added at every reading. The memo holds exactly what a recomputation gives.
        """
        slots = self.slots
        newest = state[self.newest_key][rows]
        width = np.maximum(state[self.width_key][rows], 1)
        seen = newest != EMPTY_TS
        top = np.where(seen, newest // width, NO_BIN)
        slot0 = np.where(seen, top % slots, 0)  # the newest bin (a push always stores the newest reading)
        memo = bool(self.windows) and tuple(windows) == self.windows
        if memo:
            fresh = np.flatnonzero(seen & (state[self.memo_top_key][rows] != top))
            if fresh.size:
                r = rows[fresh]
                older, older_tmin = self._older_sums(state, r, top[fresh], width[fresh], windows)
                put_rows(state[self.memo_sums_key], r, older)
                put_rows(state[self.memo_tmin_key], r, older_tmin)
                state[self.memo_top_key][r] = top[fresh]
            sums = take_rows(state[self.memo_sums_key], rows)  # (m, w, 6)
            tmin = take_rows(state[self.memo_tmin_key], rows)
            sums[~seen] = 0.0  # never saw a reading: no bins
            tmin[~seen] = _I64_MAX
        else:
            sums, tmin = self._older_sums(state, rows, top, width, windows)
        at0 = rows.astype(np.int64) * slots + slot0
        newest_bin = np.empty((rows.size, len(_SUMS)), dtype=np.float64)
        for i, key in enumerate(self.sum_keys.values()):
            newest_bin[:, i] = _flat(state[key])[at0]
        newest_bin[~seen] = 0.0
        newest_tmin = np.where(seen, _flat(state[self.tmin_key])[at0], _I64_MAX)
        for j, (skip, _) in enumerate(windows):
            if skip == 0:  # the window holds the newest bin
                sums[:, j] += newest_bin
                np.minimum(tmin[:, j], newest_tmin, out=tmin[:, j])
        big_n, t1, x1, t2, tx, x2 = (sums[..., i] for i in range(6))
        points = big_n.astype(np.int64)
        span_ms = np.where(points > 0, newest[:, None] - tmin, 0).astype(np.int64)
        # times are relative to the newest bin's start; the mean is reported relative to the newest reading
        to_newest = np.where(seen, newest - np.where(seen, top, 0) * width, 0) * 1e-3
        with np.errstate(invalid="ignore", divide="ignore"):
            s_tt = t2 - t1 * t1 / big_n
            s_tx = tx - t1 * x1 / big_n
            s_xx = x2 - x1 * x1 / big_n
            ok = (big_n >= 2) & (s_tt > 1e-9 * np.maximum(t2, 1e-300))
            slope = np.where(ok, s_tx / s_tt, np.nan)
            ssr = np.maximum(s_xx - slope * s_tx, 0.0)
            sigma = np.where(ok & (big_n >= 3), np.sqrt(ssr / (big_n - 2.0) / s_tt), np.nan)
            t_mean = np.where(big_n > 0, t1 / big_n - to_newest[:, None], np.nan)
        return LineFit(slope, sigma, points, span_ms, t_mean)

    def _older_sums(
        self,
        state: State,
        rows: NDArray[np.int32],
        top: NDArray[np.int64],
        width: NDArray[np.int64],
        windows: tuple[tuple[int, int], ...],
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """``(m, w, 6)`` sums and ``(m, w)`` earliest reading of each window's bins of age ≥ 1, relative to
        the start of bin ``top`` and to its reference value (rows that saw a reading). Per row only: a
        row's sums never depend on the other rows given."""
        m, slots = rows.size, self.slots
        bins = take_rows(state[self.bin_key], rows)
        filled = (bins != NO_BIN) & (bins < top[:, None])  # older than the newest bin
        age = top[:, None] - bins  # meaningless (may wrap) where not filled
        xr = take_rows(state[self.xr_key], rows)
        s = self.sum_keys
        n, st, sx = (take_rows(state[s[k]], rows) for k in ("n", "st", "sx"))
        with np.errstate(over="ignore", invalid="ignore"):
            start = (bins - top[:, None]) * width[:, None]
            start = start * 1e-3  # bin start, s before the newest bin's start
            d = xr - xr[np.arange(m), top % slots][:, None]
            parts = np.empty((m, 6, slots), dtype=np.float64)
            parts[:, 0] = n
            ns = n * start
            np.add(ns, st, out=parts[:, 1])
            nd = n * d
            np.add(nd, sx, out=parts[:, 2])
            two_s = 2.0 * start
            acc = ns * start
            acc += two_s * st
            np.add(acc, take_rows(state[s["stt"]], rows), out=parts[:, 3])
            np.multiply(ns, d, out=acc)
            acc += start * sx
            acc += d * st
            np.add(acc, take_rows(state[s["stx"]], rows), out=parts[:, 4])
            np.multiply(nd, d, out=acc)
            np.multiply(d, 2.0, out=two_s)
            two_s *= sx
            acc += two_s
            np.add(acc, take_rows(state[s["sxx"]], rows), out=parts[:, 5])
        lo = np.array([skip for skip, _ in windows])
        hi = np.array([skip + width_bins for skip, width_bins in windows])
        sel = (age[:, None, :] >= lo[None, :, None]) & (age[:, None, :] < hi[None, :, None])  # (m, w, slots)
        sel &= filled[:, None, :]
        # per window and sum, the slots' parts added along the contiguous last axis: the same order for
        # every row, however many rows there are (a bin outside the window adds an exact 0)
        sums = (parts[:, None, :, :] * sel[:, :, None, :]).sum(axis=-1)
        tmin = _window_minima(state[self.tmin_key][rows], age, filled, windows)
        return sums, tmin

    def newest(self, state: State, rows: NDArray[np.int32]) -> NDArray[np.int64]:
        return state[self.newest_key][rows]


def _window_minima(
    tmin: NDArray[np.int64],
    age: NDArray[np.int64],
    filled: NDArray[np.bool_],
    windows: tuple[tuple[int, int], ...],
) -> NDArray[np.int64]:
    """``(m, w)``: the smallest ``tmin`` over each window's filled bins (``_I64_MAX`` for none).

    The ages are cut into the blocks between all window edges; each block's minimum is taken once, with
    the slots as the leading axis (a minimum over whole rows of sensors, not many short row-wise ones),
    and a window's minimum is the minimum of its blocks.
    """
    edges = sorted({e for skip, width_bins in windows for e in (skip, skip + width_bins)})
    tmin_t = np.where(filled, tmin, _I64_MAX).T.copy()
    age_t = np.where(filled, age, -1).T.copy()
    block_min = [
        np.where((age_t >= lo) & (age_t < hi), tmin_t, _I64_MAX).min(axis=0)
        for lo, hi in itertools.pairwise(edges)
    ]
    out = np.empty((tmin.shape[0], len(windows)), dtype=np.int64)
    for j, (skip, width_bins) in enumerate(windows):
        first, last = edges.index(skip), edges.index(skip + width_bins)
        out[:, j] = block_min[first] if last == first + 1 else np.minimum.reduce(block_min[first:last])
    return out


def _flat(a: NDArray[Any]) -> NDArray[Any]:
    """A contiguous ``(rows, slots)`` column as one flat view (indexed by ``row · slots + slot``), so a
    scattered element costs one index, not two (a non-contiguous column, whose flat form would be a copy
    that loses the writes, is refused)."""
    if not a.flags.c_contiguous:
        raise ValueError("fit ring columns must be C-contiguous")
    return a.reshape(-1)
