"""Rate of change (QARTOD): how fast the value moved since the sensor's previous reading.

``rate = (x - last_value) / dt_s`` with ``dt_s`` from the timestamps, so irregular sampling is handled.
Score = ``|rate| / sp_limit_per_s`` when the sensor has a limit (score >= 1 means over it), otherwise
``|rate| / rms_rate``, where ``rms_rate`` is the root of an exponentially weighted mean of the sensor's
own squared rates (weight ``alpha``): QARTOD's "n standard deviations" form, n = 3 being usual, NaN
until ``min_count`` rates were seen. A reading not newer than the previous one (duplicate or late
timestamp) and a non-finite value score NaN and change nothing.
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
class RateOfChangeParams:
    """``limit_per_s``: default ``sp_limit_per_s`` (units per second; NaN = learn the scale)."""

    limit_per_s: float = float("nan")
    alpha: float = 0.02
    min_count: int = 10
    min_rate_scale: float = 1e-12

    def __post_init__(self) -> None:
        require_fraction("alpha", self.alpha)
        if self.min_count < 1:
            raise ValueError("min_count must be >= 1")
        if not self.min_rate_scale > 0:
            raise ValueError("min_rate_scale must be > 0")


class RateOfChange(GenericDetector[RateOfChangeParams]):
    """|dx/dt| against a per-sensor limit or the sensor's own typical rate."""

    name: ClassVar[str] = "rate_of_change"

    def init_state(self, capacity: int) -> State:
        return {
            "last_value": np.zeros(capacity, dtype=np.float64),
            "last_ts": np.full(capacity, NO_TS, dtype=np.int64),
            "ms_rate": np.zeros(capacity, dtype=np.float64),
            "n_rates": np.zeros(capacity, dtype=np.int64),
            "sp_limit_per_s": np.full(capacity, self.params.limit_per_s, dtype=np.float64),
        }

    @quiet_float_errors
    def _advance(self, state: State, batch: Batch) -> NDArray[np.float64]:
        p = self.params
        scores = nan_scores(len(batch))
        last_value, last_ts, ms_rate, n_rates = (
            state[k] for k in ("last_value", "last_ts", "ms_rate", "n_rates")
        )
        limit = state["sp_limit_per_s"]
        finite = np.isfinite(batch.values)
        all_finite = bool(finite.all())
        for idx in reading_steps(batch):
            r = batch.rows[idx]
            x, ts = batch.values[idx], batch.ts_ms[idx]
            prev_ts = last_ts[r]
            seen = prev_ts != NO_TS
            dt_ms = ts - prev_ts  # wraps for unseen rows: masked by ``seen``
            newer = dt_ms > 0
            move = ~seen | newer
            has_rate = seen & newer
            if not all_finite:
                ok = finite[idx]
                move &= ok
                has_rate &= ok
            rate = (x - last_value[r]) / (dt_ms / 1000.0)
            ms, n, lim = ms_rate[r], n_rates[r], limit[r]
            scale = np.sqrt(ms)
            np.maximum(scale, p.min_rate_scale, out=scale)
            scale[n < p.min_count] = np.nan
            np.copyto(scale, lim, where=np.isfinite(lim))
            score = np.abs(rate)
            score /= scale
            score[~has_rate] = np.nan
            scores[idx] = score
            sq = rate * rate
            new_ms = np.where(n == 0, sq, (1.0 - p.alpha) * ms + p.alpha * sq)
            learn = has_rate & np.isfinite(new_ms)
            ms_rate[r[learn]] = new_ms[learn]
            n_rates[r[learn]] = n[learn] + 1
            last_value[r[move]] = x[move]
            last_ts[r[move]] = ts[move]
        return scores

    @classmethod
    def conformance_examples(cls) -> Sequence[RateOfChange]:
        return (
            cls(RateOfChangeParams()),
            cls(RateOfChangeParams(alpha=0.5, min_count=2)),
            cls(RateOfChangeParams(limit_per_s=0.5)),
        )
