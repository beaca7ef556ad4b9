"""Gap / no data (QARTOD gap test and a per-sensor deadman): time since the last reading vs expected.

Two views of the same state:

* ``step`` scores each reading by the gap it closes: ``(ts - previous ts) / expected_interval_ms``
  (QARTOD: suspect at 2, fail at 3 are usual). NaN for a sensor's first reading.
* :meth:`Gap.overdue` scores *every* row at a given ``now_ms`` without any reading: the deadman. The
  pipeline calls it on event time (the highest ``ts_ms`` seen on the partition) and on wall-clock time
  only for an idle partition (design.md §5). Rows never seen score NaN.

The expected interval is ``sp_interval_ms`` when set (from the registry), otherwise learned: an
exponentially weighted mean of the sensor's own intervals (weight ``alpha``, trusted after
``min_count`` intervals; intervals longer than ``learn_max_ratio`` times the current estimate are gaps,
not cadence, and are not learned). Every reading is a sign of life, whatever its value: a NaN value is
for the value checks to flag. A reading older than the newest one seen scores NaN and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from detectors.base import Batch, State
from detectors.generic.common import (
    NO_TS,
    GenericDetector,
    nan_scores,
    quiet_float_errors,
    reading_steps,
    require_fraction,
)


@dataclass(frozen=True, slots=True)
class GapParams:
    """``interval_ms``: default ``sp_interval_ms`` for cold rows (NaN = learn the cadence)."""

    interval_ms: float = float("nan")
    alpha: float = 0.1
    min_count: int = 3
    learn_max_ratio: float = 3.0

    def __post_init__(self) -> None:
        require_fraction("alpha", self.alpha)
        if self.min_count < 1:
            raise ValueError("min_count must be >= 1")
        if not self.learn_max_ratio >= 1:
            raise ValueError("learn_max_ratio must be >= 1")


class Gap(GenericDetector[GapParams]):
    """Interval since the previous reading, in expected intervals; plus a deadman over all rows."""

    name: ClassVar[str] = "gap"
    skips_non_finite: ClassVar[bool] = False  # any reading is a sign of life

    def init_state(self, capacity: int) -> State:
        return {
            "last_ts": np.full(capacity, NO_TS, dtype=np.int64),
            "ew_interval_ms": np.zeros(capacity, dtype=np.float64),
            "n_intervals": np.zeros(capacity, dtype=np.int64),
            "sp_interval_ms": np.full(capacity, self.params.interval_ms, dtype=np.float64),
        }

    def expected_interval_ms(
        self, state: State, rows: NDArray[np.integer] | slice = slice(None)
    ) -> NDArray[np.float64]:
        """The interval each row is held to: its set point, else the learned cadence, else NaN."""
        sp = state["sp_interval_ms"][rows]
        learned = np.where(
            state["n_intervals"][rows] >= self.params.min_count, state["ew_interval_ms"][rows], np.nan
        )
        return np.where(np.isfinite(sp) & (sp > 0), sp, learned)

    @quiet_float_errors
    def overdue(self, state: State, now_ms: int) -> NDArray[np.float64]:
        """Deadman score of every row at ``now_ms``: ``(now_ms - last_ts) / expected`` (>= 0, NaN unknown)."""
        last = state["last_ts"]
        seen = last != NO_TS
        age_ms = np.where(seen, np.maximum(np.int64(now_ms) - np.where(seen, last, 0), 0), 0)
        return np.where(seen, age_ms / self.expected_interval_ms(state), np.nan)

    @quiet_float_errors
    def _advance(self, state: State, batch: Batch) -> NDArray[np.float64]:
        p = self.params
        scores = nan_scores(len(batch))
        last_ts, ew, n_int = state["last_ts"], state["ew_interval_ms"], state["n_intervals"]
        for idx in reading_steps(batch):
            r = batch.rows[idx]
            ts = batch.ts_ms[idx]
            prev = last_ts[r]
            seen = prev != NO_TS
            dt = np.where(seen, ts - np.where(seen, prev, 0), 0).astype(np.float64)
            closes = seen & (dt > 0)
            scores[idx] = np.where(closes, dt / self.expected_interval_ms(state, r), np.nan)
            e, n = ew[r], n_int[r]
            learn = closes & ((n < p.min_count) | (dt <= p.learn_max_ratio * e))
            ew[r] = np.where(learn, np.where(n == 0, dt, (1.0 - p.alpha) * e + p.alpha * dt), e)
            n_int[r] = n + learn
            last_ts[r] = np.where(seen, np.maximum(prev, ts), ts)
        return scores

    @classmethod
    def conformance_examples(cls) -> Sequence[Gap]:
        return (cls(GapParams()), cls(GapParams(interval_ms=1000.0, min_count=1)))
