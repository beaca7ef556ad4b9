"""Multi-level static limits (QARTOD gross range, plant alarm set points) with per-sensor set points.

Score = how many limits the value reaches on its worse side: ``k`` when ``value >= sp_high[k-1]`` (high
limits ascending) or ``value <= sp_low[k-1]`` (low limits descending). With four levels this maps
straight onto blue/yellow/orange/red through a :class:`detectors.base.LevelPolicy` with thresholds
1, 2, 3, 4. NaN limits are off; a sensor with every limit off scores NaN (nothing to evaluate).
Stateless apart from the set points, so the batch is scored in one vectorised pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from detectors.base import Batch, State
from detectors.generic.common import GenericDetector, quiet_float_errors


@dataclass(frozen=True, slots=True)
class StaticLimitsParams:
    """``high``/``low``: default limits for cold rows, at most ``levels`` each; missing ones are off."""

    levels: int = 4
    high: tuple[float, ...] = ()
    low: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.levels < 1:
            raise ValueError("levels must be >= 1")
        if len(self.high) > self.levels or len(self.low) > self.levels:
            raise ValueError(f"at most {self.levels} high and low limits")


class StaticLimits(GenericDetector[StaticLimitsParams]):
    """Gross-range / multi-level set-point check; set points ``sp_high`` and ``sp_low`` per sensor."""

    name: ClassVar[str] = "static_limits"

    def init_state(self, capacity: int) -> State:
        p = self.params
        return {
            "sp_high": np.tile(_padded(p.high, p.levels), (capacity, 1)),
            "sp_low": np.tile(_padded(p.low, p.levels), (capacity, 1)),
        }

    @quiet_float_errors
    def _advance(self, state: State, batch: Batch) -> NDArray[np.float64]:
        x = batch.values[:, None]
        high = state["sp_high"][batch.rows]
        low = state["sp_low"][batch.rows]
        above = (x >= high).sum(axis=1)
        below = (x <= low).sum(axis=1)
        scores = np.maximum(above, below).astype(np.float64)
        configured = np.isfinite(high).any(axis=1) | np.isfinite(low).any(axis=1)
        scores[~(configured & np.isfinite(batch.values))] = np.nan
        return scores

    @classmethod
    def conformance_examples(cls) -> Sequence[StaticLimits]:
        return (
            cls(StaticLimitsParams(levels=2, high=(1.0, 2.0), low=(-1.0, -2.0))),
            cls(StaticLimitsParams(levels=4, high=(0.5, 1.0, 1.5))),
        )


def _padded(limits: tuple[float, ...], levels: int) -> NDArray[np.float64]:
    out = np.full(levels, np.nan, dtype=np.float64)
    out[: len(limits)] = limits
    return out
