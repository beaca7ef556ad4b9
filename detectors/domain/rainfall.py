"""Rainfall rules: CMA rainstorm warning signals from rain-gauge increments.

CMA rainstorm signals ([S] per domain-thresholds.md §4.1; legal instrument CMA Order No. 16 (2007),
annex [M]): blue ≥ 50 mm in 12 h, yellow ≥ 50 mm in 6 h, orange ≥ 50 mm in 3 h, red ≥ 100 mm in 3 h.
Gauges can only observe, so the rule implements the "already fallen" half of each criterion; the
forecast half needs nowcast input.

Bin-resolution approximation: increments are summed into event-time bins of ``bin_ms`` (default 5 min,
aligned to the epoch) and a trailing sum covers whole bins, anchored at the bin of the gauge's newest
reading. The "3 h" sum is therefore the newest bin plus the 35 before it: it covers between
3 h − ``bin_ms`` and 3 h before the newest reading, so it can miss rain that fell in the oldest
``bin_ms`` of the true 3 h window (and likewise for 6 h and 12 h). It never counts rain older than 3 h.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from detectors.base import Batch, State
from detectors.domain.policy import LevelThresholds
from detectors.domain.ring import BinRing
from detectors.domain.rule import (
    DomainRule,
    Measures,
    SensorParamError,
    TransitionContext,
    change_reason,
    fmt,
    measure_at,
)

HOUR_MS = 3_600_000
WINDOWS_H = (3, 6, 12)


@dataclass(frozen=True, slots=True)
class RainstormParams:
    """``bin_ms`` is rule-wide (it shapes the ring); the rest are per-sensor defaults."""

    bin_ms: int = 300_000
    red_3h_mm: float = 100.0
    orange_3h_mm: float = 50.0
    yellow_6h_mm: float = 50.0
    blue_12h_mm: float = 50.0

    def __post_init__(self) -> None:
        if self.bin_ms <= 0 or (3 * HOUR_MS) % self.bin_ms:
            raise ValueError(f"bin_ms must divide 3 h (10,800,000 ms), got {self.bin_ms}")


class Rainstorm(DomainRule[RainstormParams]):
    """Trailing 3/6/12 h rain sums per gauge against the CMA rainstorm signals (no hysteresis).

    Score: the 3 h sum in mm (the 6 h and 12 h sums are in ``Measures.per_level``). Levels fall as the
    sums fall. Negative or non-finite increments are ignored.
    """

    name = "rainstorm"
    kinds: ClassVar[tuple[str, ...]] = ("rain_gauge",)
    source = "CMA rainstorm warning signal"
    unit = "mm"
    sensor_keys: ClassVar[tuple[str, ...]] = ("red_3h_mm", "orange_3h_mm", "yellow_6h_mm", "blue_12h_mm")

    def __init__(self, params: RainstormParams | None = None) -> None:
        super().__init__(params or RainstormParams())
        p = self.params
        self.widths = tuple(h * HOUR_MS // p.bin_ms for h in WINDOWS_H)
        self.ring = BinRing("rain", p.bin_ms, self.widths[-1], widths=self.widths)

    @classmethod
    def conformance_examples(cls) -> Sequence[Rainstorm]:
        # hourly bins keep the million-sensor case small; the default ring is 144 bins per gauge
        return (cls(RainstormParams(bin_ms=3_600_000, orange_3h_mm=5.0, yellow_6h_mm=5.0, blue_12h_mm=5.0)),)

    def _init_measure_state(self, capacity: int) -> State:
        return self.ring.init_state(capacity)

    def _check_sensor_columns(self, state: State, labels: Sequence[str]) -> None:
        for key in self.sensor_keys:
            bad = self._first_bad(state[f"sp_{key}"] <= 0, labels)
            if bad is not None:
                raise SensorParamError(f"sensor {bad}: {self.name} needs {key} > 0")
        bad = self._first_bad(state["sp_red_3h_mm"] < state["sp_orange_3h_mm"], labels)
        if bad is not None:
            raise SensorParamError(f"sensor {bad}: {self.name} needs red_3h_mm ≥ orange_3h_mm")

    def _measure(self, state: State, batch: Batch, steps: list[NDArray[np.int64]]) -> Measures:
        n = len(batch)
        x = self.input_values(batch)
        valid = np.isfinite(x) & (x >= 0)
        sums = np.zeros((n, 3), dtype=np.float64)
        for idx in steps:
            ok = idx[valid[idx]]
            if ok.size:
                self.ring.add(state, batch.rows[ok], batch.ts_ms[ok], x[ok])
            sums[idx] = self.ring.trailing_sums(state, batch.rows[idx], self.widths)
        s3, s6, s12 = sums[:, 0], sums[:, 1], sums[:, 2]
        per_level = np.stack([s12, s6, s3, s3], axis=1)
        score = np.where(valid, s3, np.nan)
        return Measures(score=score, per_level=per_level, valid=valid, extra={"s3": s3, "s6": s6, "s12": s12})

    def _thresholds(self, state: State, rows: NDArray[np.int32]) -> LevelThresholds:
        set_points = np.stack(
            [state[f"sp_{k}"][rows] for k in ("blue_12h_mm", "yellow_6h_mm", "orange_3h_mm", "red_3h_mm")],
            axis=1,
        )
        return LevelThresholds(set_points, set_points, np.ones(rows.size, dtype=np.float64))

    def alert_value(self, ctx: TransitionContext) -> float | None:
        """The sum that decided: the new level's window when rising, the left level's when falling."""
        return measure_at(ctx, ctx.level if ctx.rising else ctx.previous)

    def describe(self, ctx: TransitionContext) -> str:
        e = ctx.extra
        detail = f"; 3 h {fmt(e['s3'], 1)} mm, 6 h {fmt(e['s6'], 1)} mm, 12 h {fmt(e['s12'], 1)} mm"
        return change_reason(
            ctx,
            self.name,
            what=("rain in 12 h", "rain in 6 h", "rain in 3 h", "rain in 3 h"),
            set_names=("blue signal", "yellow signal", "orange signal", "red signal"),
            unit=self.unit,
            source=self.source,
            detail=detail,
            digits=1,
        )
