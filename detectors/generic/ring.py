"""Per-sensor ring buffers of recent values, and their median / MAD, vectorised over sensor rows.

A ring is three state columns: ``buf`` (rows, window) float64 with NaN in empty slots, ``pos`` (next slot
to write) and ``filled`` (values held, at most ``window``), both int32. Only finite values are pushed.
Medians follow :func:`statistics.median`: the middle value for an odd count, ``(a + b) / 2`` of the two
middle values for an even one, so a pure-Python reference can match them exactly.

Two ways to use them: per k-th reading (:func:`median_rows_inplace`, :func:`push`), or for a whole batch
at once (:func:`windows_before` gives every reading's ring, :func:`median_and_mad_sorted` their median
and MAD after one sort, :func:`push_runs` pushes the batch afterwards).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from detectors.base import State
from detectors.generic.common import Runs
from detectors.generic.scratch import scratch


def cold_ring(capacity: int, window: int) -> State:
    return {
        "buf": np.full((capacity, window), np.nan, dtype=np.float64),
        "pos": np.zeros(capacity, dtype=np.int32),
        "filled": np.zeros(capacity, dtype=np.int32),
    }


def median_of_sorted(sorted_rows: NDArray[np.float64], counts: NDArray[np.integer]) -> NDArray[np.float64]:
    """Median of the first ``counts[i]`` values of each row of an ascending, NaN-last array (NaN if 0)."""
    width = sorted_rows.shape[1]
    if counts.size and int(counts.min()) == width:  # steady state: every ring full, plain columns
        mid = width // 2
        if width % 2:
            return sorted_rows[:, mid].copy()
        return (sorted_rows[:, mid - 1] + sorted_rows[:, mid]) / 2.0
    c = counts.astype(np.int64)
    lo = np.maximum((c - 1) // 2, 0)
    hi = np.minimum(c // 2, width - 1)
    a = np.take_along_axis(sorted_rows, lo[:, None], axis=1)[:, 0]
    b = np.take_along_axis(sorted_rows, hi[:, None], axis=1)[:, 0]
    med = np.where(lo == hi, a, (a + b) / 2.0)
    med[c == 0] = np.nan
    return med


def median_rows_inplace(window: NDArray[np.float64], counts: NDArray[np.integer]) -> NDArray[np.float64]:
    """Median of the finite values of each row; sorts ``window`` (a gathered copy) in place."""
    window.sort(axis=1)
    return median_of_sorted(window, counts)


def push(state: State, rows: NDArray[np.int32], x: NDArray[np.float64]) -> None:
    """Write ``x`` into the rings of ``rows`` (unique rows, finite values), in place."""
    if rows.size == 0:
        return
    buf, pos, filled = state["buf"], state["pos"], state["filled"]
    width = buf.shape[1]
    p = pos[rows]
    buf[rows, p] = x
    pos[rows] = (p + 1) % width
    filled[rows] = np.minimum(filled[rows] + 1, width)


@dataclass(frozen=True, slots=True)
class WindowSource:
    """Where the rings of some readings of a batch can be gathered from: row ``at[i]`` of ``rows``."""

    rows: NDArray[np.float64]  # (m, window) array or a sliding-window view
    is_view: bool  # rows is a sliding-window view (gather with fancy indexing, not np.take)
    at: NDArray[np.integer]
    readings: NDArray[np.intp] | None  # batch index of each (None: reading i is row i)
    counts: NDArray[np.int32]  # values held by each ring (the rest of its slots are NaN)


def windows_before(
    state: State,
    runs: Runs,
    x: NDArray[np.float64],
    pos: NDArray[np.int32],
    filled: NDArray[np.int32],
    hop: int = 1,
) -> list[WindowSource]:
    """The rings the finite readings of a batch are judged against, for all its readings at once.

    ``x`` are a batch's finite values (sorted by row, in ``runs``). The ring before a sensor's ``k``-th
    reading of the batch is its ring after pushing the ``k`` earlier ones; this describes all of them
    as rows to gather (slot order does not matter to order statistics), so the median and MAD of every
    reading come from one vectorised pass instead of one pass per ``k``. ``pos`` and ``filled`` are
    those of each run's ring (run order). Call before pushing the batch (:func:`push_runs`).

    With ``hop > 1`` only the readings on a hop are described: those that arrive when their ring has
    received a multiple of ``hop`` values (``hop`` must divide the window, so ``pos`` tells).

    Sensors with one reading use their ring as stored. For a sensor with several, its ring is laid out
    twice, oldest slot first, then its batch values, in a temporary array ``ext``: the ring before
    reading ``k`` is the contiguous slice of ``window`` values starting ``k`` after its oldest slot.
    """
    buf = state["buf"]
    width = buf.shape[1]
    if runs.all_single:
        if hop == 1:
            return [WindowSource(buf, False, runs.rows, None, filled)]
        due = np.flatnonzero(_on_hop(pos, hop))
        return [WindowSource(buf, False, runs.rows[due], due, filled[due])]
    several = runs.lengths > 1
    sources = []
    if not several.all():
        single = np.flatnonzero(~several)
        if hop > 1:
            single = single[_on_hop(pos[single], hop)]
        sources.append(WindowSource(buf, False, runs.rows[single], runs.starts[single], filled[single]))
    multi = np.flatnonzero(several)  # runs with several readings, row order
    later_per_run = runs.lengths[multi] - 1
    rings = buf[runs.rows[multi]]
    longest = int(later_per_run.max())
    m = multi.size
    if m * (2 * width + longest) <= 2 * (2 * width * m + runs.later.size):
        seg = 2 * width + longest  # equal segments: two slice copies lay the rings out
        ext2 = scratch("ring_ext", (m, seg))  # a fresh array would be faulted in page by page
        ext2[:, :width] = rings
        ext2[:, width : 2 * width] = rings
        ext = ext2.reshape(-1)
        seg_start = np.arange(0, m * seg, seg, dtype=np.intp)
    else:  # one run much longer than the others: segments sized to their runs
        seg_len = later_per_run + 2 * width
        seg_start = np.cumsum(seg_len) - seg_len
        ext = scratch("ring_ext", int(seg_start[-1] + seg_len[-1]))
        ring_at = (seg_start[:, None] + np.arange(width)).reshape(-1)
        ext[ring_at] = rings.reshape(-1)
        ring_at += width
        ext[ring_at] = rings.reshape(-1)
    later, k, run_of_later = runs.later, runs.k, runs.run_of_later
    multi_pos = pos[multi]
    run_seg = np.empty(len(runs), dtype=np.intp)  # oldest slot of each multi run's ring in ext
    run_seg[multi] = seg_start + multi_pos
    oldest = run_seg[run_of_later]
    oldest += k  # now the start of each later reading's ring
    ext[oldest + (width - 1)] = x[later - 1]  # each later reading's predecessor, just after its ring
    firsts, first_at, first_counts = runs.starts[multi], run_seg[multi], filled[multi]
    if hop > 1:
        due = np.flatnonzero(_on_hop(multi_pos, hop))
        firsts, first_at, first_counts = firsts[due], first_at[due], first_counts[due]
        due = np.flatnonzero(_on_hop(pos[run_of_later] + k, hop))
        later, oldest, k, run_of_later = later[due], oldest[due], k[due], run_of_later[due]
    counts = filled[run_of_later] + k
    np.minimum(counts, width, out=counts)
    view = np.lib.stride_tricks.sliding_window_view(ext, width)
    at = np.concatenate([first_at, oldest])
    readings = np.concatenate([firsts, later])
    counts = np.concatenate([first_counts, counts]).astype(np.int32, copy=False)
    sources.append(WindowSource(view, True, at, readings, counts))
    return sources


def _on_hop(received: NDArray[np.integer], hop: int) -> NDArray[np.bool_]:
    """Which rings, having received ``received`` values (modulo a multiple of ``hop``), are on a hop."""
    if hop & (hop - 1) == 0:
        return (received & (hop - 1)) == 0
    return received % hop == 0


def push_runs(
    state: State, runs: Runs, x: NDArray[np.float64], pos: NDArray[np.int32], filled: NDArray[np.int32]
) -> None:
    """Push a batch's finite values ``x`` (sorted by row, in ``runs``) into the rings, in place.

    ``pos`` and ``filled`` are those of each run's ring (run order) before the batch. A value pushed
    out again within the batch (a sensor with more readings than its ring holds) is not written.
    """
    buf = state["buf"]
    width = buf.shape[1]
    lengths = runs.lengths
    base = runs.rows.astype(np.intp)
    base *= width
    cells = base + pos  # first readings
    values = x
    if not runs.all_single:
        slot = pos[runs.run_of_later] + runs.k
        if width & (width - 1) == 0:  # power of two: cheaper than %
            slot &= width - 1
        else:
            slot %= width
        slot += base[runs.run_of_later]
        if int(lengths.max()) > width:  # only the last `width` readings of a run stay in its ring
            keep_first = lengths <= width
            keep_later = runs.k >= lengths[runs.run_of_later] - width
            cells = np.concatenate([cells[keep_first], slot[keep_later]])
            values = np.concatenate([x[runs.starts[keep_first]], x[runs.later[keep_later]]])
        else:
            cells = np.concatenate([cells, slot])
            values = np.concatenate([x[runs.starts], x[runs.later]])
    if buf.flags.c_contiguous:
        buf.reshape(-1)[cells] = values
    else:
        buf[cells // width, cells % width] = values
    step = lengths.astype(np.int32)  # int32 like the columns: a scatter that casts is much slower
    new_pos = pos + step
    if width & (width - 1) == 0:
        new_pos &= width - 1
    else:
        new_pos %= width
    state["pos"][runs.rows] = new_pos
    step += filled
    np.minimum(step, width, out=step)
    state["filled"][runs.rows] = step


def median_and_mad_sorted(
    rows: NDArray[np.float64], med: NDArray[np.float64], mad: NDArray[np.float64]
) -> NDArray[np.bool_] | None:
    """Median and MAD of full, sorted rows of even width, written into ``med`` and ``mad``.

    Medians as :func:`statistics.median`. The MAD needs no second sort: with ``m`` the median of a
    sorted row ``s`` of width ``2h``, the absolute deviations ``m - s[i]`` (``i < h``, non-increasing)
    and ``s[h + i] - m`` (non-decreasing) form a V, and comparing each pair ``(i, h + i)`` splits them
    into the ``h`` smallest and the ``h`` largest (Batcher's half-cleaner on a bitonic sequence). The
    pairs where the right deviation is the smaller form a prefix of length ``c``, so the ``h``-th
    smallest deviation is ``max(right[c-1], left[c])`` and the next one ``min(left[c-1], right[c])``:
    exactly the values the reference sorts. Returns a mask of rows this cannot handle (the median
    overflowed to ±inf), or None; the caller computes those another way.
    """
    n, width = rows.shape
    h = width // 2
    np.add(rows[:, h - 1], rows[:, h], out=med)
    med /= 2.0
    m = med[:, None]
    right = np.subtract(rows[:, h:], m, out=scratch("ring_right", (n, h)))  # s[h + i] - m
    left = np.subtract(m, rows[:, :h], out=scratch("ring_left", (n, h)))  # m - s[i]
    le = np.less_equal(right, left, out=scratch("ring_le", (n, h), dtype=bool))
    if h % 8 == 0 and hasattr(np, "bitwise_count"):  # 8 flags per 64-bit word: popcount
        words = np.bitwise_count(le.view(np.uint64))
        c = words[:, 0].astype(np.intp)
        for j in range(1, h // 8):
            c += words[:, j]
    else:
        c = le.sum(axis=1, dtype=np.intp)
    left, right = left.reshape(-1), right.reshape(-1)
    base = np.arange(0, n * h, h, dtype=np.intp)
    at = base + np.minimum(c, h - 1)  # left[c], right[c]
    before = np.maximum(c, 1)
    before += base
    before -= 1  # left[c - 1], right[c - 1]
    left_c, left_b, right_c, right_b = left[at], left[before], right[at], right[before]
    lower = np.maximum(right_b, left_c)
    upper = np.minimum(left_b, right_c)
    if int(c.min()) == 0:  # no pair with the right deviation smaller: left[0] and right[0]
        e = c == 0
        lower[e], upper[e] = left_c[e], right_c[e]
    if int(c.max()) == h:  # all pairs: right[h - 1] and left[h - 1]
        e = c == h
        lower[e], upper[e] = right_b[e], left_b[e]
    np.add(lower, upper, out=mad)
    mad /= 2.0
    bad = ~np.isfinite(med)
    return bad if bad.any() else None


def median_and_mad_general(
    sorted_rows: NDArray[np.float64], counts: NDArray[np.integer]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Median and MAD of the first ``counts[i]`` values of sorted, NaN-last rows (any count, any value)."""
    med = median_of_sorted(sorted_rows, counts)
    dev = sorted_rows - med[:, None]
    np.abs(dev, out=dev)
    dev.sort(axis=1)
    return med, median_of_sorted(dev, counts)
