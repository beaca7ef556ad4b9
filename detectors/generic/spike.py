"""Spike (QARTOD spike test, streaming variant): distance of a reading from the rolling median.

QARTOD's spike test compares ``x_t`` with the mean of its two neighbours, which needs the next reading
(one sample of lag). Streaming, we compare with the median of the sensor's previous ``window`` finite
readings instead, so no look-ahead is needed and a single earlier spike does not move the reference.
Score = ``|x - median|`` in the sensor's own units: the QARTOD suspect / fail thresholds (site specific,
e.g. 0.15 / 0.25) are per-sensor level-policy thresholds. NaN until ``min_count`` readings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from detectors.base import Batch, State
from detectors.generic import ring
from detectors.generic.common import GenericDetector, nan_scores, quiet_float_errors, reading_steps


@dataclass(frozen=True, slots=True)
class SpikeParams:
    window: int = 5
    min_count: int = 3

    def __post_init__(self) -> None:
        if not 1 <= self.min_count <= self.window:
            raise ValueError("need 1 <= min_count <= window")


class Spike(GenericDetector[SpikeParams]):
    """Absolute deviation from the rolling median of the previous readings."""

    name: ClassVar[str] = "spike"

    def init_state(self, capacity: int) -> State:
        return ring.cold_ring(capacity, self.params.window)

    @quiet_float_errors
    def _advance(self, state: State, batch: Batch) -> NDArray[np.float64]:
        p = self.params
        scores = nan_scores(len(batch))
        finite = np.isfinite(batch.values)
        all_finite = bool(finite.all())
        for idx in reading_steps(batch):
            r = batch.rows[idx]
            x = batch.values[idx]
            filled = state["filled"][r]
            dev = x - ring.median_rows_inplace(state["buf"][r], filled)
            np.abs(dev, out=dev)
            dev[filled < p.min_count] = np.nan
            if all_finite:
                ring.push(state, r, x)
            else:
                ok = finite[idx]
                dev[~ok] = np.nan
                ring.push(state, r[ok], x[ok])
            scores[idx] = dev
        return scores

    @classmethod
    def conformance_examples(cls) -> Sequence[Spike]:
        return (cls(SpikeParams()), cls(SpikeParams(window=3, min_count=1)))
