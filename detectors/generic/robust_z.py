"""Rolling robust z-score: distance from the median of the sensor's last ``window`` readings, in MADs.

Per sensor a ring buffer of the last ``window`` finite values. Score =
``|x - median| / max(1.4826 * MAD, min_scale)`` (1.4826 makes the MAD a standard-deviation estimate for
Gaussian noise), NaN until the buffer holds ``min_count`` values. Median and MAD resist the outliers
they are looking for, unlike a mean and standard deviation, so a burst of spikes does not hide the
next one. A flat buffer (MAD 0) scores any change by ``min_scale``, i.e. very high: the first move of a
stuck signal is news.

The median and MAD (the *baseline*) are taken over the buffer as it is when it has received a multiple
of ``hop`` values, and the readings up to the next such point are scored against them: a hopping
window, which moves by ``hop`` values at a time. ``hop=1`` is the exactly sliding window (every reading
against the buffer just before it). The default, a quarter of the window, runs about twice as fast as
the exact version and changes few decisions: docs/adr/0006-robust-z-baseline-hops.md.

A batch is scored in one pass, not one pass per k-th reading: the rings of all readings that refresh
the baseline are built at once (:func:`ring.windows_before`), sorted once, and the MAD read off the
sorted ring (:func:`ring.median_and_mad_sorted`); the scores equal the one-reading-at-a-time reference
bit for bit.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from detectors.base import Batch, State
from detectors.generic import ring
from detectors.generic.common import GenericDetector, Runs, finite_part, nan_scores, quiet_float_errors
from detectors.generic.scratch import scratch
from detectors.rows import put_rows, take_rows

#: MAD -> standard deviation for Gaussian noise (1 / Phi^-1(3/4))
MAD_TO_STD = 1.4826


@dataclass(frozen=True, slots=True)
class RobustZParams:
    window: int = 32
    min_count: int = 8
    min_scale: float = 1e-9
    #: the median and MAD are recomputed at every ``hop``-th value a sensor's ring receives (1: at every
    #: reading, an exactly sliding window); the readings in between are scored against the last ones
    hop: int = 8

    def __post_init__(self) -> None:
        if not 1 <= self.min_count <= self.window:
            raise ValueError("need 1 <= min_count <= window")
        if not self.min_scale > 0:
            raise ValueError("min_scale must be > 0")
        if not (self.hop >= 1 and self.window % self.hop == 0):
            raise ValueError("hop must be >= 1 and divide window")


class RobustZ(GenericDetector[RobustZParams]):
    """Median/MAD z-score over a per-sensor ring buffer, the baseline refreshed every ``hop`` values."""

    name: ClassVar[str] = "robust_z"

    def init_state(self, capacity: int) -> State:
        state = ring.cold_ring(capacity, self.params.window)
        if self.params.hop > 1:  # the baseline in force between refreshes: median, scale
            state["baseline"] = np.full((capacity, 2), np.nan)
        return state

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
        sources = ring.windows_before(state, runs, x, pos, filled, p.hop)
        found = scores[index] if isinstance(index, np.ndarray) else scores
        if p.hop == 1:
            readings, base = _baselines(sources, p)
            if readings is None:
                found[:] = _z(x, base)
            else:
                found[readings] = _z(x[readings], base)
        else:
            found[:] = _hopping_z(state, runs, x, sources, p)
        if isinstance(index, np.ndarray):
            scores[index] = found
        ring.push_runs(state, runs, x, pos, filled)
        return scores

    @classmethod
    def conformance_examples(cls) -> Sequence[RobustZ]:
        return (
            cls(RobustZParams()),
            cls(RobustZParams(hop=1)),
            cls(RobustZParams(window=5, min_count=3, hop=1)),
            cls(RobustZParams(window=15, min_count=4, hop=3)),
        )


#: windows are gathered, sorted and reduced per chunk of this many, so a chunk stays in cache
CHUNK_ROWS = 4096


def _z(x: NDArray[np.float64], base: NDArray[np.float64]) -> NDArray[np.float64]:
    """``|x - median| / scale`` against each reading's baseline row ``(median, scale)``."""
    z = np.subtract(x, base[:, 0])
    np.abs(z, out=z)
    z /= base[:, 1]
    return z


def _hopping_z(
    state: State, runs: Runs, x: NDArray[np.float64], sources: list[ring.WindowSource], p: RobustZParams
) -> NDArray[np.float64]:
    """Scores of the readings ``x`` (sorted by row, in ``runs``) with a baseline refreshed every ``hop``.

    ``sources`` are the rings of the readings that refresh it (:func:`ring.windows_before` with the
    hop); every other reading uses the baseline of the last refresh before it: in the batch, or else
    the one kept in ``state``, which is then left holding the baseline in force after each sensor's
    last reading.
    """
    kept = state["baseline"]
    at, fresh = _baselines(sources, p)
    assert at is not None  # windows_before names the readings on a hop
    if runs.all_single:  # reading i is run i's: the stored baseline unless it refreshes
        base = take_rows(kept, runs.rows)
        put_rows(base, at, fresh)
        put_rows(kept, runs.rows[at], fresh)
        return _z(x, base)
    n = x.size
    base = np.empty((n, 2))
    defined = np.zeros(n, dtype=bool)  # readings whose baseline is set: refreshes, then run starts
    put_rows(base, at, fresh)
    defined[at] = True
    starts = runs.starts
    stored = np.flatnonzero(~defined[starts])  # runs whose first reading uses the stored baseline
    if stored.size:
        first = starts[stored]
        put_rows(base, first, take_rows(kept, runs.rows[stored]))
        defined[first] = True
    if not defined.all():  # carry each baseline forward to the readings up to the next refresh
        last = np.where(defined, np.arange(n), 0)
        np.maximum.accumulate(last, out=last)
        base = take_rows(base, last)
    put_rows(kept, runs.rows, take_rows(base, starts + runs.lengths - 1))
    return _z(x, base)


def _baselines(
    sources: list[ring.WindowSource], p: RobustZParams
) -> tuple[NDArray[np.intp] | None, NDArray[np.float64]]:
    """The readings of ``sources`` (None: every reading, in order) and their baseline rows ``(median,
    scale)``, ``scale = max(1.4826 * MAD, min_scale)``, over the rings ``source.rows[source.at[i]]``.

    Both are NaN where the ring holds fewer than ``min_count`` values, so its readings score NaN. The
    rings of all sources are sorted and reduced together, in chunks that stay in cache.
    """
    sources = [source for source in sources if source.at.size]
    if not sources:
        return np.empty(0, dtype=np.intp), np.empty((0, 2))
    width = sources[0].rows.shape[1]
    if len(sources) == 1:
        readings, counts = sources[0].readings, sources[0].counts
    else:
        readings = np.concatenate([source.readings for source in sources])  # type: ignore[misc]
        counts = np.concatenate([source.counts for source in sources])
    n = counts.size
    ends = np.cumsum([source.at.size for source in sources])
    med, mad = np.empty(n), np.empty(n)
    partial = int(counts.min()) < width
    redo: list[NDArray[np.intp]] = []  # rows the fast path cannot handle, and their sorted windows
    redo_windows: list[NDArray[np.float64]] = []
    chunks = -(-n // CHUNK_ROWS)
    bounds = [n * i // chunks for i in range(chunks + 1)]  # equal chunks: no small one at the end
    for start, stop in itertools.pairwise(bounds):
        win = _gather(sources, ends, start, stop, width)
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
    base = np.empty((n, 2))
    base[:, 0] = med
    base[:, 1] = mad
    if int(counts.min()) < p.min_count:
        base[counts < p.min_count] = np.nan
    return readings, base


def _gather(
    sources: list[ring.WindowSource], ends: NDArray[np.intp], start: int, stop: int, width: int
) -> NDArray[np.float64]:
    """Rings ``start:stop`` of the sources laid end to end, as a (stop - start, width) array."""
    first = int(np.searchsorted(ends, start, side="right"))
    source = sources[first]
    offset = int(ends[first]) - source.at.size
    if stop <= ends[first]:  # one source
        at = source.at[start - offset : stop - offset]
        if source.is_view:
            return source.rows[at]  # np.take is slow on a sliding-window view
        return np.take(source.rows, at, axis=0, mode="clip", out=scratch("robust_z_win", (at.size, width)))
    win = scratch("robust_z_win", (stop - start, width))
    filled = 0
    for j in range(first, len(sources)):
        source = sources[j]
        offset = int(ends[j]) - source.at.size
        lo, hi = max(start, offset) - offset, min(stop, int(ends[j])) - offset
        if lo >= hi:
            break
        part = win[filled : filled + hi - lo]
        if source.is_view:
            part[:] = source.rows[source.at[lo:hi]]
        else:
            np.take(source.rows, source.at[lo:hi], axis=0, mode="clip", out=part)
        filled += hi - lo
    return win
