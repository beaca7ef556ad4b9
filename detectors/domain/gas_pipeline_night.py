"""Night minimum-pressure check: during low-demand hours, pressure below its own learned night minimum.

domain-thresholds.md §2 lists the night minimum pressure-hold test (low-demand hours) among the
pipeline-pressure methods, without numbers ([P]). At night demand is lowest and steadiest, so the
network pressure sits at its most repeatable level; a leak shows as pressure lower than any normal night.
The rule learns, per sensor, the minimum pressure of each night window (default 02:00-05:00 local,
UTC+8) and averages those minima over the last nights; during a night window a reading that falls below
that learned minimum by a margin (in % of ``nominal_kpa``) raises a colour. Outside the window the rule
does not judge: a level raised at night holds until the next night's readings clear it (the alarm
lifecycle's ack/shelve handle the day in between).
"""

from __future__ import annotations

import math
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
)

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
#: ``night_id`` of a sensor that is not inside a night window it has started
NO_NIGHT = np.iinfo(np.int64).min


@dataclass(frozen=True, slots=True)
class PipelineNightMinimumParams:
    """Per-sensor defaults (registry ``params``)."""

    nominal_kpa: float = 300.0
    night_start_h: float = 2.0
    night_end_h: float = 5.0
    utc_offset_h: float = 8.0
    min_nights: float = 3
    learn_nights: float = 7
    min_night_readings: float = 10
    night_blue_pct: float = 1.0
    night_yellow_pct: float = 2.0
    night_orange_pct: float = 5.0
    night_red_pct: float = 10.0
    night_clear_margin_pct: float = 0.5
    night_sustain_readings: float = 3


def night_position(
    ts_ms: NDArray[np.int64],
    start_h: NDArray[np.float64],
    end_h: NDArray[np.float64],
    offset_h: NDArray[np.float64],
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """``(night id, inside the window)`` of each time: night id = local days since the window's start.

    A window may cross midnight (start 23 h, end 5 h). The id of a night is the same for every reading
    inside it; a reading after the window has the id of the night that just ended.
    """
    start_ms = np.round(start_h * HOUR_MS).astype(np.int64)
    length_ms = np.round(((end_h - start_h) % 24.0) * HOUR_MS).astype(np.int64)
    shifted = ts_ms + np.round(offset_h * HOUR_MS).astype(np.int64) - start_ms
    return shifted // DAY_MS, (shifted % DAY_MS) < length_ms


class PipelineNightMinimum(DomainRule[PipelineNightMinimumParams]):
    """Deficit below the learned night minimum, in % of nominal, during the night window.

    Learning, per sensor in time order: inside a night the running minimum of the readings is kept
    (readings that already fall short by the blue margin once the sensor is warm are left out, and
    mark the night as disturbed). When the night is over (the first reading after it) its minimum is
    folded into the learned night minimum, a weighted average with weight max(1/k, 1/``learn_nights``)
    over k nights, provided the night had ``min_night_readings`` readings and was not disturbed. The rule
    is warm after ``min_nights`` nights.

    Score: (learned minimum − reading) / ``nominal_kpa`` × 100 inside a night window once warm, NaN
    otherwise. Levels after ``night_sustain_readings`` consecutive readings at or above a margin, held
    down to the margin − ``night_clear_margin_pct``. Readings outside the window, non-finite or older
    than the sensor's newest change nothing (the level holds).
    """

    name = "pipeline_night_minimum"
    kinds: ClassVar[tuple[str, ...]] = ("pipeline_pressure",)
    source = "night minimum-pressure check [P], domain-thresholds §2"
    unit = "%"
    level_keys = ("night_blue_pct", "night_yellow_pct", "night_orange_pct", "night_red_pct")
    sensor_keys: ClassVar[tuple[str, ...]] = (
        "nominal_kpa",
        "night_start_h",
        "night_end_h",
        "utc_offset_h",
        "min_nights",
        "learn_nights",
        "min_night_readings",
        *level_keys,
        "night_clear_margin_pct",
        "night_sustain_readings",
    )
    count_keys: ClassVar[tuple[str, ...]] = (
        "min_nights",
        "learn_nights",
        "min_night_readings",
        "night_sustain_readings",
    )

    def __init__(self, params: PipelineNightMinimumParams | None = None) -> None:
        super().__init__(params or PipelineNightMinimumParams())

    @classmethod
    def conformance_examples(cls) -> Sequence[PipelineNightMinimum]:
        # conformance streams start at 06:13 local and span minutes: a 06:00-06:15 window ends inside them
        return (
            cls(),
            cls(
                PipelineNightMinimumParams(
                    nominal_kpa=5.0, night_start_h=6.0, night_end_h=6.25, min_nights=1, min_night_readings=1
                )
            ),
        )

    def _init_measure_state(self, capacity: int) -> State:
        return {
            "newest_ts": np.full(capacity, EMPTY_TS, dtype=np.int64),
            "night_id": np.full(capacity, NO_NIGHT, dtype=np.int64),
            "night_min": np.full(capacity, np.nan, dtype=np.float64),
            "night_count": np.zeros(capacity, dtype=np.int64),
            "night_disturbed": np.zeros(capacity, dtype=bool),
            "learned_min": np.full(capacity, np.nan, dtype=np.float64),
            "learned_nights": np.zeros(capacity, dtype=np.int64),
        }

    def _check_sensor_columns(self, state: State, labels: Sequence[str]) -> None:
        b, y, o, r = (state[f"sp_{k}"] for k in self.level_keys)
        start, end = state["sp_night_start_h"], state["sp_night_end_h"]
        checks = (
            (state["sp_nominal_kpa"] <= 0, "needs nominal_kpa > 0"),
            (
                (start < 0) | (start >= 24) | (end < 0) | (end >= 24),
                "needs night_start_h and night_end_h in [0, 24)",
            ),
            (start == end, "needs night_start_h ≠ night_end_h"),
            (np.abs(state["sp_utc_offset_h"]) > 14, "needs |utc_offset_h| ≤ 14"),
            (
                ~((b > 0) & (b <= y) & (y <= o) & (o <= r)),
                "needs 0 < night_blue ≤ night_yellow ≤ night_orange ≤ night_red pct",
            ),
            (
                (state["sp_night_clear_margin_pct"] < 0) | (state["sp_night_clear_margin_pct"] >= b),
                "needs 0 ≤ night_clear_margin_pct < night_blue_pct",
            ),
        )
        self._reject_first_bad(checks, labels)

    def _measure(self, state: State, batch: Batch, steps: list[NDArray[np.int64]]) -> Measures:
        n = len(batch)
        x = self.input_values(batch)
        score = np.full(n, np.nan)
        valid = np.zeros(n, dtype=bool)
        learned_at = np.full(n, np.nan)
        nights_at = np.zeros(n, dtype=np.int64)
        for idx in steps:
            rows, ts, xi = batch.rows[idx], batch.ts_ms[idx], x[idx]
            ok = np.isfinite(xi) & (ts >= state["newest_ts"][rows])
            nid, inside = night_position(
                ts,
                state["sp_night_start_h"][rows],
                state["sp_night_end_h"][rows],
                state["sp_utc_offset_h"][rows],
            )
            self._fold_finished_nights(state, rows, ok, nid, inside)
            learned, nights = state["learned_min"][rows], state["learned_nights"][rows]
            warm = nights >= state["sp_min_nights"][rows]
            deficit = np.where(warm, (learned - xi) / state["sp_nominal_kpa"][rows] * 100.0, np.nan)
            judged = ok & inside
            score[idx] = np.where(judged, deficit, np.nan)
            valid[idx] = judged
            learned_at[idx], nights_at[idx] = learned, nights
            with np.errstate(invalid="ignore"):
                short = warm & (deficit >= state["sp_night_blue_pct"][rows])
            r = rows[judged]
            state["night_id"][r] = nid[judged]
            state["night_disturbed"][r] |= short[judged]
            keep = judged & ~short
            rk = rows[keep]
            state["night_min"][rk] = np.fmin(state["night_min"][rk], xi[keep])
            state["night_count"][rk] += 1
            state["newest_ts"][rows[ok]] = ts[ok]
        return Measures(
            score=score,
            per_level=np.repeat(score[:, None], 4, axis=1),
            valid=valid,
            extra={"value": x, "learned_min": learned_at, "nights": nights_at},
        )

    @staticmethod
    def _fold_finished_nights(
        state: State,
        rows: NDArray[np.int32],
        ok: NDArray[np.bool_],
        nid: NDArray[np.int64],
        inside: NDArray[np.bool_],
    ) -> None:
        """Fold the night a row was in into its learned minimum once a reading shows that night is over."""
        cur = state["night_id"][rows]
        over = ok & (cur != NO_NIGHT) & ((nid > cur) | ((nid == cur) & ~inside))
        if not over.any():
            return
        r = rows[over]
        good = (state["night_count"][r] >= state["sp_min_night_readings"][r]) & ~state["night_disturbed"][r]
        g = r[good]
        k = state["learned_nights"][g] + 1
        alpha = np.maximum(1.0 / k, 1.0 / state["sp_learn_nights"][g])
        old = np.where(k == 1, 0.0, state["learned_min"][g])
        state["learned_min"][g] = old + alpha * (state["night_min"][g] - old)
        state["learned_nights"][g] = k
        state["night_id"][r] = NO_NIGHT
        state["night_min"][r] = np.nan
        state["night_count"][r] = 0
        state["night_disturbed"][r] = False

    def _thresholds(self, state: State, rows: NDArray[np.int32]) -> LevelThresholds:
        set_points = np.stack([state[f"sp_{k}"][rows] for k in self.level_keys], axis=1)
        clear = set_points - state["sp_night_clear_margin_pct"][rows][:, None]
        return LevelThresholds(set_points, clear, state["sp_night_sustain_readings"][rows])

    def describe(self, ctx: TransitionContext) -> str:
        e, sp = ctx.extra, ctx.sp
        sign = "+" if sp["utc_offset_h"] >= 0 else "-"
        zone = f"UTC{sign}{fmt(abs(sp['utc_offset_h']))}"
        window = f"{_clock(sp['night_start_h'])}-{_clock(sp['night_end_h'])} {zone}"
        v, learned = float(e["value"]), float(e["learned_min"])
        detail = (
            f"; {fmt(v, 1)} kPa in the night window {window}, learned night minimum {fmt(learned, 1)} kPa "
            f"({int(e['nights'])} nights), nominal {fmt(sp['nominal_kpa'])} kPa"
        )
        if ctx.rising:
            detail += (
                f", {int(ctx.sustain)} consecutive readings: pressure lower than on any normal night while "
                "demand is lowest, look for a leak"
            )
        return change_reason(
            ctx,
            self.name,
            what=("shortfall below the night minimum",) * 4,
            set_names=("blue margin", "yellow margin", "orange margin", "red margin"),
            unit=self.unit,
            source=self.source,
            detail=detail,
        )


def _clock(hours: float) -> str:
    h = math.floor(hours)
    return f"{h:02d}:{round((hours - h) * 60):02d}"
