"""A general-purpose streaming anomaly score in [0, 1] for sensors with no domain rule.

Two views of each reading, each measured against the sensor's own recent extremes with a tail
envelope (:mod:`detectors.anomaly.envelope`):

* ``value``: the raw value. Catches spikes, drops, level shifts and drifts beyond what the sensor has
  been doing lately;
* ``daily``: the value minus the sensor's usual value at this hour of the day
  (:mod:`detectors.anomaly.daily_profile`). Catches readings that are ordinary for the sensor but not
  for this time of day: traffic at 3 a.m., a missing morning peak, a flat line where the daily swing
  should be.

The raw anomaly is the larger of the two (weighted) exceedances. A refractory gate then keeps only
news: a reading scores when its raw anomaly beats the recent peak (which decays by 1/e every
``refractory_tau`` readings), and 0 otherwise. A sustained condition therefore scores at its onset and
again whenever it gets worse, instead of on every reading. The score is ``1 - exp(-raw)``: 0 for an
ordinary reading, 0.63 for a reading one envelope half-width beyond the recent extremes, towards 1 for
far-out values. It is NaN until the sensor has ``warmup`` finite readings, and NaN for a non-finite
reading, which leaves the state untouched.

Time scales are in readings (the daily profile's memory is in days). State per sensor: one float64 row
of :data:`STAT_COLUMNS`, 24 float64 profile means and 24 float32 profile counts (see :func:`state_bytes`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from detectors.anomaly import daily_profile
from detectors.anomaly.envelope import COUNT, ENVELOPE_COLUMNS, EnvelopeSettings, exceedance, learn
from detectors.base import Batch, State, sequential_steps
from detectors.generic.common import GenericDetector, nan_scores, quiet_float_errors

#: columns of the ``stats`` state array: the two envelopes, then bookkeeping
STAT_COLUMNS: tuple[str, ...] = (
    *(f"value_{c}" for c in ENVELOPE_COLUMNS),
    *(f"daily_{c}" for c in ENVELOPE_COLUMNS),
    "last_ts",
    "interval_ms",
    "peak",
)
_W = len(ENVELOPE_COLUMNS)
VALUE = slice(0, _W)
DAILY = slice(_W, 2 * _W)
LAST_TS, INTERVAL, PEAK = 2 * _W, 2 * _W + 1, 2 * _W + 2


@dataclass(frozen=True, slots=True)
class AnomalyParams:
    """Parameters; the defaults are what ships (docs/detectors/anomaly.md gives the reasons)."""

    #: finite readings a sensor needs before it scores (the daily view needs as many residuals)
    warmup: int = 30
    #: weight of a new reading in the center/scale estimates (memory about 1/alpha readings)
    alpha: float = 0.02
    #: the envelope falls back to this tail quantile: events rarer than 1 - tail_p per reading are news
    tail_p: float = 0.999
    #: quantile tracker step, in units of the sensor's mean absolute deviation
    tail_step: float = 0.5
    #: readings for the envelope to fall back (by 1/e) from a past extreme towards the tail quantile
    envelope_tau: float = 50.0
    #: memory of the hour-of-day profile, in days
    profile_days: float = 16.0
    #: readings an hour bin needs before its residual is scored
    profile_min_visits: int = 3
    #: weights of the two views (0 turns the daily view off)
    value_weight: float = 1.0
    daily_weight: float = 1.0
    #: readings for the refractory peak to decay by 1/e
    refractory_tau: float = 30.0

    def __post_init__(self) -> None:
        if self.warmup < 1 or self.profile_min_visits < 1:
            raise ValueError("warmup and profile_min_visits must be >= 1")
        if not 0.0 < self.alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {self.alpha!r}")
        if not 0.5 < self.tail_p < 1.0:
            raise ValueError(f"tail_p must be in (0.5, 1), got {self.tail_p!r}")
        for name in ("tail_step", "envelope_tau", "profile_days", "refractory_tau"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if not (self.value_weight > 0 and self.daily_weight >= 0):
            raise ValueError("value_weight must be > 0 and daily_weight >= 0")


class AnomalyScore(GenericDetector[AnomalyParams]):
    """Streaming anomaly score in [0, 1] per reading (higher = more anomalous), vectorised over sensors."""

    name: ClassVar[str] = "anomaly"

    def __init__(self, params: AnomalyParams | None = None) -> None:
        super().__init__(params if params is not None else AnomalyParams())
        p = self.params
        self._envelope = EnvelopeSettings(
            alpha=p.alpha, tail_p=p.tail_p, step=p.tail_step, decay=math.exp(-1.0 / p.envelope_tau)
        )
        self._refractory_decay = math.exp(-1.0 / p.refractory_tau)

    def init_state(self, capacity: int) -> State:
        stats = np.zeros((capacity, len(STAT_COLUMNS)), dtype=np.float64)
        stats[:, LAST_TS] = -1.0  # no reading yet
        return {
            "stats": stats,
            "profile_mean": np.zeros((capacity, daily_profile.BINS), dtype=np.float64),
            "profile_count": np.zeros((capacity, daily_profile.BINS), dtype=np.float32),
        }

    @quiet_float_errors
    def _advance(self, state: State, batch: Batch) -> NDArray[np.float64]:
        scores = nan_scores(len(batch))
        for idx in sequential_steps(batch):
            scores[idx] = self._one_step(state, batch.rows[idx], batch.ts_ms[idx], batch.values[idx])
        return scores

    def _one_step(
        self, state: State, rows: NDArray[np.int32], ts: NDArray[np.int64], x: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """At most one reading per sensor: gather the sensors' rows, score, learn, scatter back."""
        p = self.params
        stats, prof_mean, prof_count = state["stats"], state["profile_mean"], state["profile_count"]
        block = stats[rows]
        ok = np.isfinite(x)

        warm = ok & (block[:, VALUE.start + COUNT] >= p.warmup)
        raw = np.where(warm, p.value_weight * exceedance(block[:, VALUE], x), np.nan)
        learn(block[:, VALUE], x, ok, self._envelope)  # a basic slice is a view: learn writes through

        hour = daily_profile.hour_bin(ts)
        mean_h, visits_h = prof_mean[rows, hour], prof_count[rows, hour]
        resid_ok = ok & (visits_h >= p.profile_min_visits)
        resid = np.where(resid_ok, x - mean_h, np.nan)
        if p.daily_weight > 0:
            daily_warm = resid_ok & (block[:, DAILY.start + COUNT] >= p.warmup)
            daily = np.where(daily_warm, p.daily_weight * exceedance(block[:, DAILY], resid), np.nan)
            raw = np.fmax(raw, daily)
        learn(block[:, DAILY], resid, resid_ok, self._envelope)
        interval = daily_profile.next_interval(
            block[:, INTERVAL], block[:, LAST_TS], ts.astype(np.float64), ok
        )
        weight = daily_profile.bin_weight(interval, visits_h, p.profile_days)
        prof_mean[rows, hour] = np.where(ok, mean_h + weight * (np.where(ok, x, 0.0) - mean_h), mean_h)
        prof_count[rows, hour] = visits_h + ok
        block[:, INTERVAL] = interval
        block[:, LAST_TS] = np.where(ok, ts, block[:, LAST_TS])

        # refractory gate: only a raw anomaly above the recent (decaying) peak is news
        floor = block[:, PEAK] * self._refractory_decay
        seen = np.where(np.isfinite(raw), raw, 0.0)
        news = np.where(seen > floor, seen, 0.0)
        block[:, PEAK] = np.where(ok, np.maximum(seen, floor), block[:, PEAK])

        stats[rows] = block
        return np.where(np.isfinite(raw), -np.expm1(-news), np.nan)

    @classmethod
    def conformance_examples(cls) -> Sequence[AnomalyScore]:
        return (cls(), cls(AnomalyParams(warmup=3, profile_min_visits=1, envelope_tau=5.0, alpha=0.2)))


def state_bytes(capacity: int = 1) -> int:
    """Bytes of state for ``capacity`` sensors."""
    return sum(v.nbytes for v in AnomalyScore().init_state(capacity).values())
