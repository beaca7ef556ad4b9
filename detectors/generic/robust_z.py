"""Rolling robust z-score: distance from the median of the sensor's last ``window`` readings, in MADs.

Per sensor a ring buffer of the last ``window`` finite values. Score =
``|x - median| / max(1.4826 * MAD, min_scale)`` over the buffer *before* the reading (1.4826 makes the
MAD a standard-deviation estimate for Gaussian noise), NaN until the buffer holds ``min_count`` values.
Median and MAD resist the outliers they are looking for, unlike a mean and standard deviation, so a
burst of spikes does not hide the next one. A flat buffer (MAD 0) scores any change by ``min_scale``,
i.e. very high: the first move of a stuck signal is news.

A batch is scored in one pass, not one pass per k-th reading: every reading's ring is built at once
(:func:`ring.windows_before`), sorted once, and the MAD read off the sorted ring
(:func:`ring.median_and_mad_sorted`); the scores equal the one-reading-at-a-time reference bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from detectors.base import Batch, State
from detectors.generic import ring
from detectors.generic.common import GenericDetector, Runs, finite_part, nan_scores, quiet_float_errors
from detectors.generic.scratch import scratch

#: MAD -> standard deviation for Gaussian noise (1 / Phi^-1(3/4))
MAD_TO_STD = 1.4826


@dataclass(frozen=True, slots=True)
class RobustZParams:
    window: int = 32
    min_count: int = 8
    min_scale: float = 1e-9

    def __post_init__(self) -> None:
        if not 1 <= self.min_count <= self.window:
            raise ValueError("need 1 <= min_count <= window")
        if not self.min_scale > 0:
            raise ValueError("min_scale must be > 0")


class RobustZ(GenericDetector[RobustZParams]):
    """Median/MAD z-score over a per-sensor ring buffer."""

    name: ClassVar[str] = "robust_z"

    def init_state(self, capacity: int) -> State:
        return ring.cold_ring(capacity, self.params.window)

    @quiet_float_errors
    def _advance(self, state: State, batch: Batch) -> NDArray[np.float64]:
        p = self.params
        scores = nan_scores(len(batch))
        sub = finite_part(batch)  # a non-finite reading scores NaN and is not pushed: drop it here
        if sub is None:
            return scores
        index, rows, x = sub
        runs = Runs.of(rows)
        pos, filled = np.take(state["pos"], runs.rows), np.take(state["filled"], runs.rows)
        sources = ring.windows_before(state, runs, x, pos, filled)
        found = scores[index] if isinstance(index, np.ndarray) else scores
        for source in sources:
            if source.readings is None:
                found[:] = _robust_z(source, x, p)
            else:
                found[source.readings] = _robust_z(source, x[source.readings], p)
        if isinstance(index, np.ndarray):
            scores[index] = found
        ring.push_runs(state, runs, x, pos, filled)
        return scores

    @classmethod
    def conformance_examples(cls) -> Sequence[RobustZ]:
        return (
            cls(RobustZParams()),
            cls(RobustZParams(window=5, min_count=3)),
            cls(RobustZParams(window=16, min_count=4)),
        )


#: windows are gathered, sorted and reduced per chunk of this many, so a chunk stays in cache
CHUNK_ROWS = 2048


def _robust_z(source: ring.WindowSource, x: NDArray[np.float64], p: RobustZParams) -> NDArray[np.float64]:
    """The robust z-score of each reading ``x[i]`` against the ring ``source.rows[source.at[i]]``."""
    n = x.size
    width = source.rows.shape[1]
    med, mad = np.empty(n), np.empty(n)
    counts = source.counts
    partial = int(counts.min()) < width
    redo: list[NDArray[np.intp]] = []  # rows the fast path cannot handle, and their sorted windows
    redo_windows: list[NDArray[np.float64]] = []
    for start in range(0, n, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, n)
        at = source.at[start:stop]
        if source.is_view:
            win = source.rows[at]  # np.take is slow on a sliding-window view
        else:
            win = np.take(source.rows, at, axis=0, mode="clip", out=scratch("robust_z_win", (at.size, width)))
        win.sort(axis=1)  # NaN (empty slots) last
        if width % 2 == 0:
            bad = ring.median_and_mad_sorted(win, med[start:stop], mad[start:stop])
        else:  # an odd window has no half-cleaner pairs: general path
            bad = np.ones(stop - start, dtype=bool)
        if partial:
            short = counts[start:stop] < width
            bad = short if bad is None else bad | short
        if bad is not None and bad.any():
            rows = np.flatnonzero(bad)
            redo.append(start + rows)
            redo_windows.append(win[rows])
    if redo:
        again = np.concatenate(redo)
        med[again], mad[again] = ring.median_and_mad_general(np.concatenate(redo_windows), counts[again])
    mad *= MAD_TO_STD
    np.maximum(mad, p.min_scale, out=mad)
    z = np.subtract(x, med, out=med)
    np.abs(z, out=z)
    z /= mad
    if int(counts.min()) < p.min_count:
        z[counts < p.min_count] = np.nan
    return z
