"""Rainfall rule: rain-triggered landslide risk from the effective antecedent rainfall of a gauge.

R_e = Σ_{i=0..n} Kⁱ·R_i (domain-thresholds.md §4.2): R_i is the rain of the i-th trailing day (R_0 the
last 24 h up to the gauge's newest reading, R_1 the 24 h before, …), K the daily decay. The formula and
K = 0.8-0.9 are [M]; the 10-day window is [S] (Jiangxi study of 416 rain-induced landslides: mainly
triggered by rain within 10 days). The colour levels are our proposal [P] (blue ≥ 50 mm, yellow ≥ 100,
orange ≥ 150, red ≥ 200) and per-sensor set points: local thresholds (probabilistic E-D or I-D curves,
§4.2) go into the gauge's params.

The colour says "rain-triggered landslide risk", so it is issued only for gauges that serve a
landslide-prone area: ``landslide_warning: 1`` in the gauge's params (default 0: a gauge at an underpass
or a city rain station warns of rainstorms and waterlogging, not of landslides). Elsewhere the score is
NaN and the level normal.

Days are trailing 24 h blocks of event-time bins (``bin_ms``, default 1 h), anchored at the bin of the
gauge's newest reading, so R_e moves forward with every bin instead of jumping at midnight; a block
covers between 24 h − ``bin_ms`` and 24 h, like the rainstorm rule's windows. Levels fall below
``antecedent_clear_ratio`` × their set point.
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
    TransitionContext,
    change_reason,
    fmt,
)

DAY_MS = 86_400_000
LEVEL_KEYS = ("antecedent_blue_mm", "antecedent_yellow_mm", "antecedent_orange_mm", "antecedent_red_mm")


@dataclass(frozen=True, slots=True)
class AntecedentRainfallParams:
    """``bin_ms`` and ``days`` are rule-wide (they shape the ring); the rest are per-sensor defaults."""

    bin_ms: int = 3_600_000
    days: int = 10
    landslide_warning: float = 0.0
    antecedent_k: float = 0.85
    antecedent_blue_mm: float = 50.0
    antecedent_yellow_mm: float = 100.0
    antecedent_orange_mm: float = 150.0
    antecedent_red_mm: float = 200.0
    antecedent_clear_ratio: float = 0.9

    def __post_init__(self) -> None:
        if self.bin_ms <= 0 or DAY_MS % self.bin_ms:
            raise ValueError(f"bin_ms must divide a day (86,400,000 ms), got {self.bin_ms}")
        if self.days < 1:
            raise ValueError(f"days must be ≥ 1, got {self.days}")


class AntecedentRainfall(DomainRule[AntecedentRainfallParams]):
    """Effective antecedent rainfall R_e in mm (module docstring); no persistence, hysteresis by ratio."""

    name = "antecedent_rainfall"
    kinds: ClassVar[tuple[str, ...]] = ("rain_gauge",)
    source = "effective antecedent rainfall R_e = Σ Kⁱ·R_i ([M], 10-day window [S]; levels [P])"
    unit = "mm"
    sensor_keys: ClassVar[tuple[str, ...]] = (
        "landslide_warning",
        "antecedent_k",
        *LEVEL_KEYS,
        "antecedent_clear_ratio",
    )

    def __init__(self, params: AntecedentRainfallParams | None = None) -> None:
        super().__init__(params or AntecedentRainfallParams())
        p = self.params
        self.day_bins = DAY_MS // p.bin_ms
        self.widths = tuple(self.day_bins * (d + 1) for d in range(p.days + 1))
        self.ring = BinRing("ante", p.bin_ms, self.widths[-1], widths=self.widths)

    @classmethod
    def conformance_examples(cls) -> Sequence[AntecedentRainfall]:
        # 12 h bins, 2 days: 6 bins per gauge, small for a million sensors
        params = AntecedentRainfallParams(
            bin_ms=DAY_MS // 2, days=2, landslide_warning=1.0, antecedent_blue_mm=2.0
        )
        return (cls(params),)

    def _init_measure_state(self, capacity: int) -> State:
        return self.ring.init_state(capacity)

    def _check_sensor_columns(self, state: State, labels: Sequence[str]) -> None:
        sets = [state[f"sp_{k}"] for k in LEVEL_KEYS]
        ordered = (sets[0] > 0) & (sets[0] <= sets[1]) & (sets[1] <= sets[2]) & (sets[2] <= sets[3])
        checks = (
            (~np.isin(state["sp_landslide_warning"], (0.0, 1.0)), "needs landslide_warning 0 or 1"),
            ((state["sp_antecedent_k"] <= 0) | (state["sp_antecedent_k"] > 1), "needs 0 < antecedent_k ≤ 1"),
            (
                ~ordered,
                "needs 0 < antecedent_{blue ≤ yellow ≤ orange ≤ red}_mm",
            ),
            (
                (state["sp_antecedent_clear_ratio"] <= 0) | (state["sp_antecedent_clear_ratio"] > 1),
                "needs 0 < antecedent_clear_ratio ≤ 1",
            ),
        )
        self._reject_first_bad(checks, labels)

    def _measure(self, state: State, batch: Batch, steps: list[NDArray[np.int64]]) -> Measures:
        n = len(batch)
        x = self.input_values(batch)
        valid = np.isfinite(x) & (x >= 0)
        days = np.zeros((n, self.params.days + 1), dtype=np.float64)
        for idx in steps:
            ok = idx[valid[idx]]
            if ok.size:
                self.ring.add(state, batch.rows[ok], batch.ts_ms[ok], x[ok])
            sums = self.ring.trailing_sums(state, batch.rows[idx], self.widths)
            days[idx] = np.diff(np.concatenate([np.zeros((idx.size, 1)), sums], axis=1), axis=1)
        days = np.maximum(days, 0.0)
        rows = batch.rows
        k = state["sp_antecedent_k"][rows]
        weights = k[:, None] ** np.arange(self.params.days + 1)[None, :]
        r_e = (days * weights).sum(axis=1)
        r_e = np.where(state["sp_landslide_warning"][rows] == 1.0, np.round(r_e, 9), np.nan)
        return Measures(
            score=np.where(valid, r_e, np.nan),
            per_level=np.repeat(r_e[:, None], 4, axis=1),
            valid=valid,
            extra={"r0": days[:, 0], "r1": days[:, 1], "r_rest": days[:, 2:].sum(axis=1)},
        )

    def _thresholds(self, state: State, rows: NDArray[np.int32]) -> LevelThresholds:
        set_points = np.stack([state[f"sp_{k}"][rows] for k in LEVEL_KEYS], axis=1)
        clear = set_points * state["sp_antecedent_clear_ratio"][rows][:, None]
        return LevelThresholds(set_points, clear, np.ones(rows.size, dtype=np.float64))

    def describe(self, ctx: TransitionContext) -> str:
        e, sp = ctx.extra, ctx.sp
        detail = (
            f"; K {fmt(sp['antecedent_k'])}, last 24 h {fmt(e['r0'], 1)} mm, "
            f"the day before {fmt(e['r1'], 1)} mm, "
            f"days 2-{self.params.days} {fmt(e['r_rest'], 1)} mm (undecayed); rain-triggered landslide risk"
        )
        return change_reason(
            ctx,
            self.name,
            what=("effective rainfall R_e",) * 4,
            set_names=("blue R_e", "yellow R_e", "orange R_e", "red R_e"),
            unit=self.unit,
            source=self.source,
            detail=detail,
            digits=1,
        )
