"""Hour-of-day profile: the sensor's usual value at this hour, so a daily rhythm is not an anomaly.

City sensors follow the day: traffic, load, water use, temperature. The profile keeps, per sensor and
per hour of the day (UTC hours of ``ts_ms``; any fixed offset works the same, since each hour is
learnt on its own), an exponentially weighted mean of the readings that fell in that hour. Its memory
is set in days, not readings: with a sampling interval ``dt`` an hour bin sees ``3600 s / dt`` readings
per day, so each gets weight ``1 / (memory_days * readings_per_bin_per_day)`` (and a plain running mean
while the bin is young). ``dt`` is an exponentially weighted mean of the gaps between readings.

The residual ``value - profile[hour]`` is defined once the bin has seen ``min_visits`` readings.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

HOUR_MS = 3_600_000
BINS = 24
#: weight of a new gap in the sampling-interval estimate
GAP_WEIGHT = 0.05
#: the most a single reading may move its hour's mean
MAX_WEIGHT = 0.5


def hour_bin(ts_ms: NDArray[np.int64]) -> NDArray[np.int64]:
    return (ts_ms // HOUR_MS) % BINS


def next_interval(
    dt_ms: NDArray[np.float64], last_ts: NDArray[np.float64], ts: NDArray[np.float64], ok: NDArray[np.bool_]
) -> NDArray[np.float64]:
    """Updated mean sampling interval (ms): only positive gaps from a known previous reading count."""
    gap = ts - last_ts
    use = ok & np.isfinite(gap) & (gap > 0)
    return np.where(use, np.where(dt_ms > 0, dt_ms + GAP_WEIGHT * (gap - dt_ms), gap), dt_ms)


def bin_weight(
    dt_ms: NDArray[np.float64], visits: NDArray[np.float32], memory_days: float
) -> NDArray[np.float64]:
    """Weight of a new reading in its hour bin's mean."""
    per_bin_per_day = np.maximum(HOUR_MS / np.maximum(dt_ms, 1.0), 1.0)
    w = np.minimum(1.0 / (memory_days * per_bin_per_day), MAX_WEIGHT)
    return np.maximum(w, 1.0 / (visits.astype(np.float64) + 1.0))
