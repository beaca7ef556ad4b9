"""Gas pipeline pressure out of band: deviation from the sensor's set point ``nominal_kpa``.

domain-thresholds.md §2: "Alarm: outside ±10 % of set point" ([P], no standard value found; the GB 50028
pressure classes are [M]). Regulators hold the outlet within their accuracy class (AC 5-10), so a
district station normally stays within ±5 %; the colours are our proposal ([P]): ±7.5 % blue,
±10 % yellow (the band alarm), ±20 % orange, ±30 % red, each after ``band_sustain_readings`` consecutive
readings, held until the deviation is back inside its band by ``band_clear_margin_pct``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from detectors.base import Batch, State
from detectors.domain.policy import LevelThresholds
from detectors.domain.ring import EMPTY_TS
from detectors.domain.rule import (
    DomainRule,
    Measures,
    TransitionContext,
    change_reason,
    fmt,
    last_valid_per_row,
)


@dataclass(frozen=True, slots=True)
class PipelinePressureBandParams:
    """Per-sensor defaults (registry ``params``)."""

    nominal_kpa: float = 300.0
    band_blue_pct: float = 7.5
    band_yellow_pct: float = 10.0
    band_orange_pct: float = 20.0
    band_red_pct: float = 30.0
    band_clear_margin_pct: float = 1.0
    band_sustain_readings: float = 3


class PipelinePressureBand(DomainRule[PipelinePressureBandParams]):
    """|p − nominal| in % of nominal against four bands, with persistence and hysteresis.

    Score: the signed deviation in % of ``nominal_kpa`` (negative below the set point); the levels
    compare its magnitude. A reading older than the sensor's newest, or non-finite, changes nothing.
    """

    name = "pipeline_pressure_band"
    kinds: ClassVar[tuple[str, ...]] = ("pipeline_pressure",)
    source = "±10 % of set point [P], domain-thresholds §2"
    unit = "%"
    level_keys = ("band_blue_pct", "band_yellow_pct", "band_orange_pct", "band_red_pct")
    sensor_keys: ClassVar[tuple[str, ...]] = (
        "nominal_kpa",
        *level_keys,
        "band_clear_margin_pct",
        "band_sustain_readings",
    )
    count_keys: ClassVar[tuple[str, ...]] = ("band_sustain_readings",)

    def __init__(self, params: PipelinePressureBandParams | None = None) -> None:
        super().__init__(params or PipelinePressureBandParams())

    @classmethod
    def conformance_examples(cls) -> Sequence[PipelinePressureBand]:
        return (cls(), cls(PipelinePressureBandParams(nominal_kpa=4.0, band_sustain_readings=1)))

    def _init_measure_state(self, capacity: int) -> State:
        return {"newest_ts": np.full(capacity, EMPTY_TS, dtype=np.int64)}

    def _check_sensor_columns(self, state: State, labels: Sequence[str]) -> None:
        b, y, o, r = (state[f"sp_{k}"] for k in self.level_keys)
        checks = (
            (state["sp_nominal_kpa"] <= 0, "needs nominal_kpa > 0"),
            (
                ~((b > 0) & (b <= y) & (y <= o) & (o <= r)),
                "needs 0 < band_blue ≤ band_yellow ≤ band_orange ≤ band_red pct",
            ),
            (state["sp_band_clear_margin_pct"] < 0, "needs band_clear_margin_pct ≥ 0"),
        )
        self._reject_first_bad(checks, labels)

    def _measure(self, state: State, batch: Batch, steps: list[NDArray[np.int64]]) -> Measures:
        rows, ts = batch.rows, batch.ts_ms
        x = self.input_values(batch)
        # batches are sorted by (row, ts): a reading can only be older than what earlier batches brought
        valid = np.isfinite(x) & (ts >= state["newest_ts"][rows])
        last = last_valid_per_row(rows, valid)
        state["newest_ts"][rows[last]] = ts[last]
        nominal = state["sp_nominal_kpa"][rows]
        dev = (x - nominal) / nominal * 100.0
        return Measures(
            score=np.where(np.isfinite(x), dev, np.nan),
            per_level=np.repeat(np.abs(dev)[:, None], 4, axis=1),
            valid=valid,
            extra={"value": x},
        )

    def _thresholds(self, state: State, rows: NDArray[np.int32]) -> LevelThresholds:
        set_points = np.stack([state[f"sp_{k}"][rows] for k in self.level_keys], axis=1)
        clear = set_points - state["sp_band_clear_margin_pct"][rows][:, None]
        return LevelThresholds(set_points, clear, state["sp_band_sustain_readings"][rows])

    def describe(self, ctx: TransitionContext) -> str:
        sp = ctx.sp
        v, nominal = float(ctx.extra["value"]), sp["nominal_kpa"]
        side = "below" if v < nominal else "above"
        detail = f"; {fmt(v, 1)} kPa, {side} set point {fmt(nominal, 1)} kPa"
        if ctx.rising:
            detail += f", {int(ctx.sustain)} consecutive readings"
            detail += (
                ": check the regulator and look for a leak or supply loss upstream"
                if side == "below"
                else ": regulator failing open, check the over-pressure protection"
            )
        return change_reason(
            ctx,
            self.name,
            what=("pressure deviation",) * 4,
            set_names=("blue band", "yellow band", "orange band", "red band"),
            unit=self.unit,
            source=self.source,
            detail=detail,
        )
