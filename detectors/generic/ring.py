"""Per-sensor ring buffers of recent values, and their median / MAD, vectorised over sensor rows.

A ring is three state columns: ``buf`` (rows, window) float64 with NaN in empty slots, ``pos`` (next slot
to write) and ``filled`` (values held, at most ``window``), both int32. Only finite values are pushed.
Medians follow :func:`statistics.median`: the middle value for an odd count, ``(a + b) / 2`` of the two
middle values for an even one, so a pure-Python reference can match them exactly.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from detectors.base import State


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


def median_and_mad_rows_inplace(
    window: NDArray[np.float64], counts: NDArray[np.integer]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Median and median absolute deviation of the finite values of each row; reuses ``window``."""
    med = median_rows_inplace(window, counts)
    window -= med[:, None]
    np.abs(window, out=window)
    return med, median_rows_inplace(window, counts)


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
